// A KeyDirectory (controller/key_directory.h) from plain maps, for the
// tests and the fuzzer: which CURVE key is authorized as which name, keys
// revoked by a "reload", and, as Authenticator::SetEnrolled, the nodes an
// Enrollment let in, whose names lose to the static list's.
#ifndef QUARK_TESTS_TESTUTIL_FAKE_KEYS_H_
#define QUARK_TESTS_TESTUTIL_FAKE_KEYS_H_

#include <map>
#include <set>
#include <string>

#include "controller/enrollment.h"
#include "controller/key_directory.h"

namespace quark::testutil {

class FakeKeys : public KeyDirectory {
 public:
  FakeKeys(std::map<std::string, std::string> workers,
           std::map<std::string, std::string> operators)
      : workers_(std::move(workers)), operators_(std::move(operators)) {}

  const std::string* NameOf(const std::string& domain,
                            const std::string& key) const override {
    const auto& names = domain == kWorkerDomain ? workers_ : operators_;
    if (!revoked_.count(key)) {
      if (auto it = names.find(key); it != names.end()) return &it->second;
    }
    if (enrolled_ != nullptr && domain == kWorkerDomain) {
      const std::string* name = enrolled_->NameOf(key);
      return name != nullptr && !ListsWorker(*name) ? name : nullptr;
    }
    return nullptr;
  }

  // Whether an unrevoked worker key is listed as `name`.
  bool ListsWorker(const std::string& name) const override {
    for (const auto& [key, listed] : workers_) {
      if (listed == name && !revoked_.count(key)) return true;
    }
    return false;
  }

  // The worker key listed as `name`, or "".
  std::string KeyOf(const std::string& name) const {
    for (const auto& [key, listed] : workers_) {
      if (listed == name) return key;
    }
    return "";
  }

  // Revokes `key`, or lets it in again.
  void Toggle(const std::string& key) {
    if (!revoked_.erase(key)) revoked_.insert(key);
  }

  // Lets in the keys `enrolled` approved too (nullptr: none); it must
  // outlive this.
  void SetEnrolled(const Enrollment* enrolled) { enrolled_ = enrolled; }

 private:
  const std::map<std::string, std::string> workers_;    // key -> name
  const std::map<std::string, std::string> operators_;  // key -> name
  std::set<std::string> revoked_;
  const Enrollment* enrolled_ = nullptr;
};

}  // namespace quark::testutil

#endif  // QUARK_TESTS_TESTUTIL_FAKE_KEYS_H_
