// Tests of the integration harness itself: Process, port picking and the
// reference values. They need none of the Quark binaries.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/cluster.h"
#include "tests/integration/process.h"
#include "tests/integration/reference.h"

namespace quark::integration {
namespace {

class HarnessTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTestDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Process> Sh(const std::string& script) {
    auto p = Process::Start("sh" + std::to_string(++runs_),
                            {"/bin/sh", "-c", script}, dir_);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }

  std::filesystem::path dir_;
  int runs_ = 0;
};

TEST_F(HarnessTest, CapturesOutputAndExitCode) {
  auto p = Sh("echo out; echo err >&2; exit 3");
  ASSERT_NE(p, nullptr);
  std::optional<ExitStatus> s = p->Wait(DeadlineIn(10s));
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->exited());
  EXPECT_EQ(s->code(), 3);
  EXPECT_EQ(p->ReadStdout(), "out\n");
  EXPECT_EQ(p->ReadStderr(), "err\n");
  EXPECT_FALSE(p->Signal(SIGTERM)) << "reaped: no signal to a recycled pid";
}

TEST_F(HarnessTest, SignalAndWaitDeadline) {
  auto p = Sh("exec sleep 30");
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(p->Wait(DeadlineIn(50ms)).has_value());
  EXPECT_TRUE(p->Running());
  EXPECT_TRUE(p->Signal(SIGTERM));
  std::optional<ExitStatus> s = p->Wait(DeadlineIn(10s));
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->signaled());
  EXPECT_EQ(s->signal(), SIGTERM);
  EXPECT_EQ(s->ToString().rfind("signal 15", 0), 0u) << s->ToString();
}

TEST_F(HarnessTest, DestructorKillsAndReaps) {
  pid_t pid;
  {
    auto p = Sh("exec sleep 30");
    ASSERT_NE(p, nullptr);
    pid = p->pid();
    ASSERT_EQ(kill(pid, 0), 0);
  }
  // Killed and reaped: no child of ours has that pid any more.
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(HarnessTest, StartFailsForMissingBinary) {
  auto p = Process::Start("nope", {"/nonexistent/quark-nothing"}, dir_);
  EXPECT_FALSE(p.ok());
}

TEST_F(HarnessTest, WaitForLog) {
  auto p = Sh("sleep 0.2; echo 'x controller ready y' >&2; exec sleep 30");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(WaitForLog(*p, "controller ready", DeadlineIn(10s)));
  auto q = Sh("echo something else >&2");
  ASSERT_NE(q, nullptr);
  const auto start = Clock::now();
  EXPECT_FALSE(WaitForLog(*q, "controller ready", DeadlineIn(20s)));
  EXPECT_LT(Clock::now() - start, 5s) << "gives up once the process exits";
}

TEST(PortTest, PicksBindablePort) {
  absl::StatusOr<int> port = PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_GT(*port, 0);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(uint16_t(*port));
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  close(fd);
}

TEST(TailTest, LastLines) {
  EXPECT_EQ(Tail("a\nb\nc\n", 2), "b\nc\n");
  EXPECT_EQ(Tail("a\nb\nc", 5), "a\nb\nc");
  EXPECT_EQ(Tail("", 3), "");
}

// The reference functions against a trial-division oracle on small ranges.
std::vector<uint64_t> NaivePrimes(uint64_t lo, uint64_t hi) {
  std::vector<uint64_t> primes;
  for (uint64_t n = std::max<uint64_t>(lo, 2); n <= hi; ++n) {
    bool prime = true;
    for (uint64_t d = 2; d * d <= n && prime; ++d) prime = n % d != 0;
    if (prime) primes.push_back(n);
  }
  return primes;
}

TEST(ReferenceTest, MatchesTrialDivision) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 300; ++i) {
    uint64_t lo = rng() % 3000, hi = lo + rng() % (i < 100 ? 10 : 2000);
    SCOPED_TRACE(::testing::Message() << "[" << lo << ", " << hi << "]");
    const std::vector<uint64_t> p = NaivePrimes(lo, hi);
    uint64_t twins = 0, gap = 0, start = 0;
    uint128 sum = 0;
    for (size_t k = 0; k < p.size(); ++k) {
      sum += p[k];
      if (k > 0 && p[k] - p[k - 1] == 2) ++twins;
      if (k > 0 && p[k] - p[k - 1] > gap)
        gap = p[k] - p[k - 1], start = p[k - 1];
    }
    EXPECT_EQ(ReferenceCount(lo, hi), p.size());
    EXPECT_EQ(ReferenceTwins(lo, hi), twins);
    EXPECT_EQ(ReferenceGap(lo, hi).size, gap);
    EXPECT_EQ(ReferenceGap(lo, hi).start, start);
    EXPECT_EQ(ReferenceSum(lo, hi), sum);
  }
}

TEST(ReferenceTest, KnownValues) {
  EXPECT_EQ(ReferenceCount(0, 1000), 168u);
  EXPECT_EQ(ReferenceCount(0, 100000), 9592u);
  EXPECT_EQ(ReferenceCount(0, 1000000000), 50847534u);
  EXPECT_EQ(ReferenceCount(0, 100'000'000'000ull), 4118054813u);  // primecount
  EXPECT_EQ(ReferenceCount(1, 100'000'000'000ull), 4118054813u);
  EXPECT_EQ(ReferenceCount(3, 100'000'000'000ull), 4118054812u);
  EXPECT_EQ(ReferenceGap(3, 7).size, 2u);
  EXPECT_EQ(ReferenceGap(3, 7).start, 3u) << "ties keep the smallest start";
  EXPECT_EQ(ToDecimal(ReferenceSum(0, 10)), "17");
  EXPECT_EQ(ToDecimal(0), "0");
  EXPECT_EQ(ToDecimal(uint128(1) << 64), "18446744073709551616");
  EXPECT_EQ(ToDecimal(~uint128(0)), "340282366920938463463374607431768211455");
}

TEST(ReferenceTest, TopOf64Bits) {
  EXPECT_EQ(ReferenceCount(kLargestPrime64, kMax64), 1u);
  EXPECT_EQ(ReferenceCount(kLargestPrime64 + 1, kMax64), 0u);
  EXPECT_EQ(ReferenceSum(kLargestPrime64, kMax64), uint128(kLargestPrime64));
  // The iterating references return before asking primesieve past
  // kLargestPrime64 (which would throw) and skip it for an empty range.
  EXPECT_EQ(ReferenceSum(kLargestPrime64 + 1, kMax64), 0u);
  EXPECT_EQ(ReferenceGap(kMax64, kMax64).start, 0u);
}

}  // namespace
}  // namespace quark::integration
