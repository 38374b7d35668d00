#include "controller/chunk_policy.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace quark {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(ChunkPolicyTest, MinimumIsTenMillionOrThousandRootHi) {
  ChunkOptions o;
  EXPECT_EQ(MinTaskNumbers(o, 1000), 10'000'000u);
  EXPECT_EQ(MinTaskNumbers(o, 100'000'000'000'000ull), 10'000'000'000u);
  // sqrt(2^64) = 2^32.
  EXPECT_NEAR(static_cast<double>(MinTaskNumbers(o, kMax)),
              1000.0 * 4294967296.0, 1e6);
}

struct Case {
  const char* name;
  ChunkRequest request;
  uint64_t want;
};

class ChooseTest : public testing::TestWithParam<Case> {};

TEST_P(ChooseTest, Size) {
  EXPECT_EQ(ChooseTaskNumbers(ChunkOptions(), GetParam().request),
            GetParam().want)
      << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ChooseTest,
    testing::Values(
        // Unknown rate: the minimum task.
        Case{"unknown", {0, 100'000'000, 0, 1}, 10'000'000},
        // Known rate: about task_seconds worth.
        Case{"rate", {0, 100'000'000'000, 1e9, 1}, 2'000'000'000},
        // Never below the minimum however slow the node.
        Case{"slow", {0, 100'000'000, 10, 1}, 10'000'000},
        // The minimum follows the task's own top, not the job's: from 0
        // it is 1e7 however high the job ends.
        Case{"own_top", {0, 99'999'999'999, 10, 1}, 10'000'000},
        Case{"own_top_2_64", {0, kMax, 0, 1}, 10'000'000},
        // The tail: remaining / (2 x nodes), here 1e12 / 4.
        Case{"tail", {0, 999'999'999'999, 1e12, 2}, 250'000'000'000},
        // ...but never below the minimum, 1000 x sqrt(its own top).
        Case{"tailmin", {99'000'000'000'000, 99'999'999'999'999, 1e9, 2},
             9'950'374'383},
        // A remainder below the minimum joins this task.
        Case{"fold", {0, 15'000'000, 0, 1}, 15'000'001},
        // Less than the minimum left: all of it.
        Case{"last", {100, 200, 1e9, 4}, 101},
        // Slow start: at most 4x the node's previous task.
        Case{"growth", {0, 100'000'000'000, 1e9, 1, 100'000'000}, 400'000'000},
        // A single number.
        Case{"one", {7, 7, 0, 1}, 1},
        // The whole 64-bit range: half of it (the tail rule), no overflow.
        Case{"everything", {0, kMax, 1e30, 1}, uint64_t{1} << 63}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ChunkPolicyTest, MinimumFromIsTheFixedPointOfTheRootRule) {
  ChunkOptions o;
  for (uint64_t next : {uint64_t{0}, uint64_t{1'000'000'000'000},
                        uint64_t{99'000'000'000'000}, uint64_t{1'000'000'000'000'000'000},
                        kMax - 5'000'000'000'000}) {
    const uint64_t m = MinTaskNumbersFrom(o, next);
    const double top = static_cast<double>(next) + static_cast<double>(m - 1);
    const double rule = std::max(1e7, 1000.0 * std::sqrt(top));
    // At least the rule for its own top, and not more than a number above.
    EXPECT_GE(static_cast<double>(m) + 1, rule) << next;
    EXPECT_LE(static_cast<double>(m), rule + 2) << next;
  }
  // Near 2^64 a task's top may be 2^64 - 1 itself: no overflow.
  EXPECT_GT(MinTaskNumbersFrom(o, kMax), 4'000'000'000'000u);
}

TEST(ChunkPolicyTest, TasksTileTheRangeExactly) {
  // Cutting [lo, hi] repeatedly covers it with no gap and no overlap.
  for (uint64_t hi : {uint64_t{1'000'000'000}, kMax}) {
    const uint64_t lo = hi == kMax ? kMax - 123'456'789'012'345 : 0;
    uint64_t next = lo;
    int tasks = 0;
    while (true) {
      const uint64_t n = ChooseTaskNumbers(ChunkOptions(), {next, hi, 1e12, 3});
      ASSERT_GE(n, 1u);
      ASSERT_LE(n - 1, hi - next);
      ++tasks;
      if (n - 1 == hi - next) break;
      next += n;
    }
    EXPECT_GT(tasks, 1);
  }
}

}  // namespace
}  // namespace quark
