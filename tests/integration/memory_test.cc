// Sieving high: a worker whose --memory_limit is below what two sieving
// threads need near 2^64 answers exactly on one, within the limit; a job
// no node can hold fails with the reason; a cancelled task of many minutes
// stops within seconds.
#include <cstdint>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/sieve_cost.h"
#include "gtest/gtest.h"
#include "tests/integration/cluster_test.h"

namespace quark::integration {
namespace {

// The peak resident set of `pid` (VmHWM), in bytes; 0 when unreadable.
uint64_t PeakResidentBytes(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    uint64_t kb = 0;
    std::string digits;
    for (char c : line) {
      if (c >= '0' && c <= '9') digits.push_back(c);
    }
    return absl::SimpleAtoi(digits, &kb) ? kb * 1024 : 0;
  }
  return 0;
}

TEST_F(ClusterTest, MemoryLimitBelowTwoThreadsRunsOnOneExactly) {
  // Two pieces' worth near the top: unlimited, PlanSieve gives 2 threads.
  const uint64_t width = 2 * MinSieveNumbers(kMax64);
  const uint64_t lo = kMax64 - (width - 1);
  const SievePlan two = PlanSieve(kMax64, width, 2, 0);
  ASSERT_EQ(two.threads, 2);
  const uint64_t one = SieveBytes(kMax64, width);
  // Room for one thread over the whole range, not for two.
  const uint64_t limit = one + (two.bytes - one) / 2;
  ASSERT_LT(one + (64 << 20), limit);
  ASSERT_LT(limit, two.bytes);

  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(
      Process * worker,
      cluster().StartWorker(
          "small", {"--threads=2", absl::StrCat("--memory_limit=", limit)}));
  ASSERT_OK(cluster().WaitRegistered("small", DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  ASSERT_EQ(nodes.nodes_size(), 1);
  EXPECT_GT(nodes.nodes(0).memory_budget(), 0u);
  EXPECT_LE(nodes.nodes(0).memory_budget(), limit);

  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().SubmitAndWait(proto::COUNT, lo, kMax64, 120s));
  EXPECT_TRUE(MatchesReference(job, proto::COUNT, lo, kMax64));
  EXPECT_TRUE(
      WaitForLog(*worker, "task planned within memory", DeadlineIn(5s)));
  EXPECT_TRUE(WaitForLog(*worker, " threads=1 ", DeadlineIn(5s)));
  const uint64_t peak = PeakResidentBytes(worker->pid());
  EXPECT_GT(peak, 0u);
  EXPECT_LT(peak, limit) << "peak " << (peak >> 20) << " MiB, limit "
                         << (limit >> 20) << " MiB";
}

// A worker told a limit below what any task near 2^64 needs gets no such
// task, and the job fails saying why instead of crashing the worker.
TEST_F(ClusterTest, JobNoNodeCanHoldFailsWithTheReason) {
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK(cluster().StartWorker("tiny", {"--memory_limit=96M"}).status());
  ASSERT_OK(cluster().WaitRegistered("tiny", DeadlineIn(20s)));
  const uint64_t lo = kMax64 - 100'000'000;
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().SubmitAndWait(proto::COUNT, lo, kMax64, 60s));
  EXPECT_EQ(job.state(), proto::FAILED);
  EXPECT_NE(job.error().find("no node can hold a task"), std::string::npos)
      << job.error();
  // The worker is still there, and answers what it can hold.
  ASSERT_OK_AND_ASSIGN(proto::Job small, cluster().SubmitAndWait(
                                             proto::COUNT, 0, 1'000'000, 30s));
  EXPECT_TRUE(MatchesReference(small, proto::COUNT, 0, 1'000'000));
}

// A task near 1e18 is 1e12 numbers (many minutes of one thread): cancelled,
// the worker stops sieving it within a couple of seconds, says so in
// `quark nodes`, and takes the next job at once.
TEST_F(ClusterTest, CancelledTaskAtHeightStopsWithinSeconds) {
  ASSERT_OK(cluster().Start(1, DeadlineIn(20s)));
  const uint64_t lo = 1'000'000'000'000'000'000;
  ASSERT_OK_AND_ASSIGN(
      proto::Job big,
      cluster().Submit(proto::COUNT, lo, lo + 4'000'000'000'000));
  ASSERT_OK(cluster()
                .WaitForNode(
                    "w1",
                    [](const proto::Node& n) {
                      return n.sieving() && n.leases() > 0;
                    },
                    DeadlineIn(20s))
                .status());
  const auto cancelled_at = Clock::now();
  const CliResult cancelled =
      cluster().RunCli({"cancel", std::to_string(big.job_id())});
  ASSERT_EQ(cancelled.exit_code, 0) << cancelled.ToString();
  ASSERT_OK(cluster()
                .WaitForNode(
                    "w1",
                    [](const proto::Node& n) {
                      return !n.sieving() && n.leases() == 0;
                    },
                    DeadlineIn(10s))
                .status());
  EXPECT_LT(Clock::now() - cancelled_at, 5s);
  ASSERT_OK_AND_ASSIGN(proto::Job next, cluster().SubmitAndWait(
                                            proto::COUNT, 0, 1'000'000, 10s));
  EXPECT_TRUE(MatchesReference(next, proto::COUNT, 0, 1'000'000));
}

}  // namespace
}  // namespace quark::integration
