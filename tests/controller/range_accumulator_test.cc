#include "controller/range_accumulator.h"

#include <algorithm>
#include <primesieve.hpp>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testutil/reference_partial.h"

namespace quark {
namespace {

constexpr auto Direct = testutil::ReferencePartial;

TEST(RangeAccumulatorTest, AnyOrderGivesTheWhole) {
  const uint64_t lo = 1000, hi = 200000;
  std::vector<std::pair<uint64_t, uint64_t>> pieces;
  std::mt19937_64 rng(42);
  for (uint64_t a = lo; a <= hi;) {
    const uint64_t b = std::min(hi, a + rng() % 5000);
    pieces.push_back({a, b});
    a = b + 1;
  }
  std::shuffle(pieces.begin(), pieces.end(), rng);
  RangeAccumulator acc(lo, hi);
  for (size_t i = 0; i < pieces.size(); ++i) {
    EXPECT_FALSE(acc.Complete());
    ASSERT_TRUE(acc.Add(pieces[i].first, pieces[i].second,
                        Direct(pieces[i].first, pieces[i].second))
                    .ok());
  }
  ASSERT_TRUE(acc.Complete());
  EXPECT_DOUBLE_EQ(acc.Progress(), 1.0);
  const proto::Partial want = Direct(lo, hi);
  EXPECT_EQ(acc.Whole().count(), want.count());
  EXPECT_EQ(acc.Whole().twins(), want.twins());
  EXPECT_EQ(acc.Whole().max_gap(), want.max_gap());
  EXPECT_EQ(acc.Whole().max_gap_start(), want.max_gap_start());
  EXPECT_EQ(PartialSum(acc.Whole()), PartialSum(want));
}

TEST(RangeAccumulatorTest, RejectsOverlapsAndOutsiders) {
  RangeAccumulator acc(100, 199);
  ASSERT_TRUE(acc.Add(150, 159, Direct(150, 159)).ok());
  EXPECT_FALSE(acc.Add(150, 159, Direct(150, 159)).ok());  // again
  EXPECT_FALSE(acc.Add(140, 150, Direct(140, 150)).ok());  // overlaps left
  EXPECT_FALSE(acc.Add(159, 170, Direct(159, 170)).ok());  // overlaps right
  EXPECT_FALSE(acc.Add(90, 99, Direct(90, 99)).ok());      // outside
  EXPECT_FALSE(acc.Add(190, 200, Direct(190, 200)).ok());  // sticks out
  EXPECT_FALSE(acc.Add(120, 110, proto::Partial()).ok());  // empty
  ASSERT_TRUE(acc.Add(100, 149, Direct(100, 149)).ok());
  EXPECT_FALSE(acc.Add(100, 100, Direct(100, 100)).ok());  // folded already
  ASSERT_TRUE(acc.Add(160, 199, Direct(160, 199)).ok());
  EXPECT_TRUE(acc.Complete());
  EXPECT_EQ(acc.Whole().count(), Direct(100, 199).count());
}

TEST(RangeAccumulatorTest, EndOfTheSixtyFourBitRange) {
  const uint64_t max = ~uint64_t{0};
  RangeAccumulator acc(max - 9, max);
  ASSERT_TRUE(acc.Add(max - 4, max, proto::Partial()).ok());
  ASSERT_TRUE(acc.Add(max - 9, max - 5, proto::Partial()).ok());
  EXPECT_TRUE(acc.Complete());
}

}  // namespace
}  // namespace quark
