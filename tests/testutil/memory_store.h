// The controller's Store (controller/store.h) in memory, with the same
// Commit semantics and the same Load order, for the tests and the fuzzer:
// what the scheduler and the enrollment asked to store restores to the same
// jobs, tokens and enrolled nodes, without SQLite's fsyncs. It can be told
// to fail its commits, as a full or failing disk would (leveldb's
// fault_injection_test), to test that the controller then stops and sends
// nothing.
#ifndef QUARK_TESTS_TESTUTIL_MEMORY_STORE_H_
#define QUARK_TESTS_TESTUTIL_MEMORY_STORE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "controller/store.h"
#include "proto/store.pb.h"

namespace quark::testutil {

class MemoryStore final : public Store {
 public:
  // As SqliteStore::Load: jobs and tasks by id, drained nodes by name,
  // tokens by id, enrolled nodes by key.
  absl::StatusOr<StoredState> Load() override { return State(); }
  StoredState State() const;

  // As SqliteStore::Commit, in its order (Store::Commit). While failing,
  // returns that error and changes nothing.
  absl::Status Commit(const StoreBatch& batch) override;

  // Every commit from now on fails with `error`; OkStatus() heals it.
  void FailCommits(absl::Status error) { failure_ = std::move(error); }
  int commits() const { return commits_; }  // the successful ones

  // The enrolled node stored under `key`, or nullptr.
  const proto::EnrolledNode* Enrolled(const std::string& key) const;

 private:
  void DeleteTasksOf(uint64_t job);

  absl::Status failure_;
  int commits_ = 0;
  std::map<uint64_t, proto::StoredJob> jobs_;
  std::map<uint64_t, StoredTask> tasks_;
  std::set<std::string> drained_;
  std::map<std::string, proto::StoredSuspect> suspects_;  // by node
  uint64_t next_job_ = 0, next_task_ = 0;
  std::map<std::string, proto::StoredToken> tokens_;     // by id
  std::map<std::string, proto::EnrolledNode> enrolled_;  // by key
};

}  // namespace quark::testutil

#endif  // QUARK_TESTS_TESTUTIL_MEMORY_STORE_H_
