// The GoogleTest fixture of the integration tests: a fresh temp dir and an
// unstarted Cluster of the binaries this build made. On failure the tails of
// every process's log are printed and the dir is kept; on success it is
// removed (unless QUARK_IT_KEEP is set). Include only from test sources
// compiled with QUARK_CONTROLLER_BIN, QUARK_WORKER_BIN and QUARK_CLI_BIN (see
// CMakeLists.txt).
#ifndef QUARK_TESTS_INTEGRATION_CLUSTER_TEST_H_
#define QUARK_TESTS_INTEGRATION_CLUSTER_TEST_H_

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "tests/integration/cluster.h"
#include "tests/integration/reference.h"

#define QUARK_IT_CONCAT_INNER_(a, b) a##b
#define QUARK_IT_CONCAT_(a, b) QUARK_IT_CONCAT_INNER_(a, b)

// ASSERT_OK(status_or_statusor): fails the test with the status message.
#define ASSERT_OK(expr)                                                  \
  do {                                                                   \
    const auto& quark_it_s_ = (expr);                                    \
    ASSERT_TRUE(::quark::integration::StatusOf(quark_it_s_).ok())        \
        << #expr << ": " << ::quark::integration::StatusOf(quark_it_s_); \
  } while (0)

// ASSERT_OK_AND_ASSIGN(lhs, statusor): assigns the value or fails the test.
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                     \
  ASSERT_OK_AND_ASSIGN_IMPL_(QUARK_IT_CONCAT_(quark_it_so_, __LINE__), lhs, \
                             expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(so, lhs, expr)       \
  auto so = (expr);                                     \
  ASSERT_TRUE(so.ok()) << #expr << ": " << so.status(); \
  lhs = std::move(*so)

namespace quark::integration {

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// A job big enough to still be running when a test acts on it mid-way:
// count over [0, kBigHi]. Measured on the 2-core test machine: ~10 s on one
// single-threaded worker, ~5-7 s on three, while the events the tests
// wait for (a worker's first task done) come within the first second. Its
// reference value comes from primecount::pi in milliseconds.
inline constexpr uint64_t kBigHi = 100'000'000'000ull;

inline bool HasLeases(const proto::Node& n) { return n.leases() > 0; }
inline bool HasDoneTasks(const proto::Node& n) { return n.tasks_done() > 0; }

// Fails the test if the big job finished before the test could act on it
// mid-way: kBigHi is then too small for this machine.
inline void ExpectStillRunning(Cluster& cluster, uint64_t id) {
  absl::StatusOr<proto::Job> job = cluster.GetJob(id);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_NE(job->state(), proto::DONE)
      << "the job ended before the event; raise kBigHi: "
      << job->ShortDebugString();
}

// Waits (20 s at most) for `process` to exit with `code`, having said
// `text` on stderr; fails the test otherwise.
inline void ExpectExit(Process& process, int code, const std::string& text) {
  std::optional<ExitStatus> exit = process.Wait(DeadlineIn(20s));
  ASSERT_TRUE(exit.has_value())
      << process.name() << " still running: " << process.ReadStderr();
  EXPECT_EQ(exit->code(), code) << process.name() << ": " << *exit;
  EXPECT_NE(process.ReadStderr().find(text), std::string::npos)
      << process.name() << " did not say '" << text
      << "'; stderr: " << process.ReadStderr();
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTestDir();
    cluster_ = std::make_unique<Cluster>(
        Binaries{QUARK_CONTROLLER_BIN, QUARK_WORKER_BIN, QUARK_CLI_BIN}, dir_);
    ASSERT_OK(cluster_->init_status());
  }

  void TearDown() override {
    const bool failed = HasFailure();
    if (failed) std::cerr << cluster_->Diagnostics() << std::flush;
    cluster_.reset();  // stops every process by its pid
    // QUARK_IT_KEEP=1 keeps the logs of passing tests too.
    if (!failed && std::getenv("QUARK_IT_KEEP") == nullptr) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  Cluster& cluster() { return *cluster_; }

  std::filesystem::path dir_;
  std::unique_ptr<Cluster> cluster_;
};

}  // namespace quark::integration

#endif  // QUARK_TESTS_INTEGRATION_CLUSTER_TEST_H_
