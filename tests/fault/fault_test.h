// The GoogleTest fixture of the fault tests: a TestNetwork (bridge, one
// network namespace per worker) and an unstarted Cluster whose controller
// binds to the bridge address and whose workers run under
// `ip netns exec qf-<name>`. Skips with a message when not root or when this
// machine cannot make namespaces. On failure the tails of every process's
// log are printed and the test dir is kept; on success it is removed
// (unless QUARK_IT_KEEP is set). Include only from sources compiled with
// QUARK_CONTROLLER_BIN, QUARK_WORKER_BIN and QUARK_CLI_BIN.
#ifndef QUARK_TESTS_FAULT_FAULT_TEST_H_
#define QUARK_TESTS_FAULT_FAULT_TEST_H_

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/fault/network.h"
#include "tests/integration/cluster.h"
#include "tests/integration/cluster_test.h"  // ASSERT_OK, ASSERT_OK_AND_ASSIGN

namespace quark::fault {

using integration::Cluster;
using integration::ClusterOptions;
using integration::DeadlineIn;
using integration::Process;
using namespace std::chrono_literals;

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = integration::MakeTestDir();
    absl::StatusOr<std::unique_ptr<TestNetwork>> net =
        TestNetwork::Open(dir_, DeadlineIn(120s));
    if (absl::IsFailedPrecondition(net.status())) {
      GTEST_SKIP() << "fault tests skipped: " << net.status().message();
    }
    ASSERT_TRUE(net.ok()) << net.status();
    net_ = std::move(*net);
    ClusterOptions options;
    options.host = TestNetwork::HostAddress();
    // As a cluster on a LAN runs: CURVE keys and allowlists, every worker
    // on its own address.
    options.curve = true;
    options.worker_prefix = [net = net_.get()](const std::string& name) {
      return net->ExecPrefix(name);
    };
    cluster_ = std::make_unique<Cluster>(
        integration::Binaries{QUARK_CONTROLLER_BIN, QUARK_WORKER_BIN,
                              QUARK_CLI_BIN},
        dir_, options);
    ASSERT_OK(cluster_->init_status());
  }

  void TearDown() override {
    // A controller that died by itself (not killed by the test, which then
    // restarts it) is a failure whatever the test checked.
    if (cluster_ && cluster_->controller() != nullptr &&
        !cluster_->controller()->Running()) {
      ADD_FAILURE() << "the controller died during the test: "
                    << *cluster_->controller()->Wait(DeadlineIn(0s)) << "\n"
                    << integration::Tail(cluster_->controller()->ReadStderr(),
                                         5);
    }
    const bool failed = HasFailure();
    if (failed && cluster_) std::cerr << cluster_->Diagnostics() << std::flush;
    cluster_.reset();  // every process, by its pid, before the network
    net_.reset();
    if (!failed && std::getenv("QUARK_IT_KEEP") == nullptr) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

 public:
  // Public for helpers such as the chaos schedule.
  Cluster& cluster() { return *cluster_; }
  TestNetwork& net() { return *net_; }

  // Skips the test when iptables is missing (the cut scenarios need it).
  bool HaveIptables() { return net_->CheckIptables().ok(); }

  // Worker `name` in its own namespace (made on first use).
  absl::StatusOr<Process*> StartWorker(const std::string& name) {
    if (absl::Status s = net_->AddNode(name); !s.ok()) return s;
    return cluster_->StartWorker(name);
  }

  // Controller plus workers w1..wN, all registered by `deadline`.
  absl::Status Start(int workers, integration::Deadline deadline) {
    if (absl::Status s = cluster_->StartController(deadline); !s.ok()) return s;
    for (int i = 1; i <= workers; ++i) {
      if (auto w = StartWorker(absl::StrCat("w", i)); !w.ok())
        return w.status();
    }
    for (int i = 1; i <= workers; ++i) {
      if (absl::Status s =
              cluster_->WaitRegistered(absl::StrCat("w", i), deadline);
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

 protected:
  std::filesystem::path dir_;
  std::unique_ptr<TestNetwork> net_;
  std::unique_ptr<Cluster> cluster_;
};

// The number after `key=` in the first line of `log` that contains `line`,
// e.g. LogField(log, "node lost node=w1 ", "requeued").
inline std::optional<uint64_t> LogField(const std::string& log,
                                        const std::string& line,
                                        const std::string& key) {
  const size_t at = log.find(line);
  if (at == std::string::npos) return std::nullopt;
  const size_t end = log.find('\n', at);
  const std::string text =
      log.substr(at, end == std::string::npos ? end : end - at);
  const size_t k = text.find(" " + key + "=");
  if (k == std::string::npos) return std::nullopt;
  const size_t v = k + key.size() + 2;
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text.substr(v, text.find(' ', v) - v), &value)) {
    return std::nullopt;
  }
  return value;
}

}  // namespace quark::fault

#endif  // QUARK_TESTS_FAULT_FAULT_TEST_H_
