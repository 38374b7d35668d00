#include "worker/memory_budget.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "common/sieve_cost.h"
#include "gtest/gtest.h"
#include "tests/testutil/fake_tree.h"

namespace quark {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

// A fake /proc and /sys/fs/cgroup under a fresh directory.
class FakeTree : public testutil::FakeTree {
 public:
  FakeTree() {
    Dir("proc/self");
    Dir("cgroup");
  }
  std::string proc() const { return Dir("proc"); }
  std::string cgroup() const { return Dir("cgroup"); }
};

TEST(MemoryBudgetTest, ReadsMemAvailableAndACgroupV2LimitUpItsPath) {
  FakeTree t;
  t.Write("proc/meminfo",
          "MemTotal:  8000000 kB\nMemAvailable:    4000000 kB\n");
  t.Write("proc/self/status", "Name: quark-worker\nVmRSS:\t   10240 kB\n");
  t.Write("proc/self/cgroup", "0::/system.slice/quark-worker.service\n");
  t.Write("cgroup/system.slice/quark-worker.service/memory.max", "max\n");
  t.Write("cgroup/system.slice/memory.max", "2147483648\n");
  const MemoryReading r = ReadMemory(t.proc(), t.cgroup());
  EXPECT_EQ(r.available, 4000000ull * 1024);
  EXPECT_EQ(r.cgroup_limit, 2 * kGiB);
  EXPECT_EQ(r.resident, 10240ull * 1024);
}

TEST(MemoryBudgetTest, ReadsACgroupV1Limit) {
  FakeTree t;
  t.Write("proc/meminfo", "MemAvailable:    4000000 kB\n");
  t.Write("proc/self/cgroup", "5:memory:/quark\n4:cpu,cpuacct:/\n");
  t.Write("cgroup/memory/quark/memory.limit_in_bytes", "1073741824\n");
  t.Write("cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  EXPECT_EQ(ReadMemory(t.proc(), t.cgroup()).cgroup_limit, kGiB);
}

TEST(MemoryBudgetTest, NothingReadableIsNoError) {
  FakeTree t;
  const MemoryReading r = ReadMemory(t.proc(), t.cgroup());
  EXPECT_FALSE(r.available.has_value());
  EXPECT_FALSE(r.cgroup_limit.has_value());
  EXPECT_EQ(SieveBudget(r, std::nullopt).bytes, 0u);  // unknown: no limit
}

TEST(MemoryBudgetTest, BudgetIsTheSmallerReadingLessAMargin) {
  MemoryReading r;
  r.available = 4 * kGiB;
  r.cgroup_limit = 2 * kGiB;
  r.resident = 20 * kMiB;
  MemoryBudget b = SieveBudget(r, std::nullopt);
  EXPECT_LT(b.bytes, 2 * kGiB * 9 / 10);
  EXPECT_GT(b.bytes, 2 * kGiB * 9 / 10 - 100 * kMiB);
  EXPECT_NE(b.source.find("cgroup"), std::string::npos) << b.source;
  r.cgroup_limit.reset();
  b = SieveBudget(r, std::nullopt);
  EXPECT_NE(b.source.find("MemAvailable"), std::string::npos) << b.source;
  EXPECT_GT(b.bytes, 3 * kGiB);
}

TEST(MemoryBudgetTest, LimitWinsButNotOverTheCgroup) {
  MemoryReading r;
  r.available = 1 * kGiB;  // an explicit limit is the operator's word
  r.resident = 10 * kMiB;
  EXPECT_EQ(SieveBudget(r, 1536 * kMiB).bytes, 1536 * kMiB - 26 * kMiB);
  r.cgroup_limit = kGiB;
  const MemoryBudget b = SieveBudget(r, 1536 * kMiB);
  EXPECT_EQ(b.bytes, kGiB - 26 * kMiB);
  EXPECT_NE(b.source.find("below memory_limit"), std::string::npos) << b.source;
}

// The thread budget: as many threads as fit, one at the least, in slices
// when even one thread's whole piece does not fit; never more than the
// budget.
TEST(SievePlanTest, ThreadsFollowTheBudget) {
  const uint64_t top = ~uint64_t{0};
  const uint64_t width = 10'000'000'000;  // 1e10 numbers ending at 2^64 - 1
  const SievePlan free = PlanSieve(top, width, 2, 0);
  EXPECT_EQ(free.threads, 2);
  EXPECT_EQ(free.slice, width / 2);
  // 1.5 GiB: not two halves (about 1.1 GiB each) at once.
  const SievePlan pi = PlanSieve(top, width, 2, 1536 * kMiB);
  EXPECT_TRUE(pi.fits);
  EXPECT_LE(pi.bytes, 1536 * kMiB);
  EXPECT_GE(pi.threads, 1);
  // Little memory: one thread, narrow slices, still within it.
  const SievePlan small = PlanSieve(top, width, 4, 600 * kMiB);
  EXPECT_TRUE(small.fits);
  EXPECT_EQ(small.threads, 1);
  EXPECT_LT(small.slice, width);
  EXPECT_GE(small.slice, MinSieveNumbers(top));
  EXPECT_LE(small.bytes, 600 * kMiB);
  // Too little for any sieve that high.
  const SievePlan none = PlanSieve(top, width, 4, 64 * kMiB);
  EXPECT_FALSE(none.fits);
  EXPECT_GT(MinTaskBytes(top), 64 * kMiB);
  // Near 0 the memory never limits, and small ranges stay on one thread.
  EXPECT_EQ(PlanSieve(1'000'000'000'000, 4'000'000'000, 4, 64 * kMiB).threads,
            4);
  EXPECT_EQ(PlanSieve(1000, 1000, 4, 0).threads, 1);
}

TEST(SievePlanTest, WorkGrowsWithHeight) {
  // 1e10 numbers near 0 take one reference core about 1.7 s.
  EXPECT_NEAR(SieveWork(0, 10'000'000'000), 1.7, 0.2);
  EXPECT_LT(SieveNanosPerNumber(1'000'000'000'000),
            SieveNanosPerNumber(1'000'000'000'000'000));
  EXPECT_LT(SieveNanosPerNumber(1'000'000'000'000'000),
            SieveNanosPerNumber(~uint64_t{0}));
  EXPECT_NEAR(SieveNanosPerNumber(~uint64_t{0}), 1.2, 0.01);
  EXPECT_EQ(SieveWork(5, 4), 0);
  const uint64_t top = ~uint64_t{0};
  EXPECT_NEAR(SieveWork(top - 9'999'999'999, top), 12.0, 0.1);
  // At the very top no midpoint may round to 2^64 (UBSan caught one).
  EXPECT_NEAR(SieveWork(top - 100, top), 101 * 1.2e-9, 1e-9);
  EXPECT_NEAR(SieveWork(top, top), 1.2e-9, 1e-11);
}

// The memory model is an upper bound of what primesieve holds (measured
// peaks, docs/benchmarks.md), within about 20%.
TEST(SievePlanTest, ModelBoundsMeasuredPeaks) {
  struct Measured {
    uint64_t hi, width;
    double mib;
  };
  constexpr uint64_t kTop = ~uint64_t{0};
  for (const Measured& m :
       {Measured{10'000'000'000'000'000, 1'000'000'000, 51.4},
        Measured{1'000'000'000'000'000'000, 1'000'000'000, 232},
        Measured{1'000'000'000'000'000'000, 5'000'000'000, 394},
        Measured{10'000'000'000'000'000'000u, 5'000'000'000, 843},
        Measured{kTop, 1'000'000'000, 372},
        Measured{kTop, 10'000'000'000, 1306}}) {
    const double model = static_cast<double>(SieveBytes(m.hi, m.width)) / kMiB;
    EXPECT_GE(model, m.mib) << m.hi << " " << m.width;
    EXPECT_LE(model, m.mib * 1.3) << m.hi << " " << m.width;
  }
}

}  // namespace
}  // namespace quark
