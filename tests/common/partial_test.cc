#include "common/partial.h"

#include <cstdint>
#include <primesieve.hpp>
#include <vector>

#include "common/kinds.h"
#include "gtest/gtest.h"
#include "tests/testutil/reference_partial.h"

namespace quark {
namespace {

constexpr auto Direct = testutil::ReferencePartial;

void ExpectSame(const proto::Partial& want, const proto::Partial& got) {
  EXPECT_EQ(want.count(), got.count());
  EXPECT_EQ(want.twins(), got.twins());
  EXPECT_EQ(want.first_prime(), got.first_prime());
  EXPECT_EQ(want.last_prime(), got.last_prime());
  EXPECT_EQ(want.max_gap(), got.max_gap());
  EXPECT_EQ(want.max_gap_start(), got.max_gap_start());
  EXPECT_EQ(PartialSum(want), PartialSum(got));
}

TEST(PartialTest, AppendMatchesPrimesieveCounts) {
  const proto::Partial p = Direct(0, 1000000);
  EXPECT_EQ(p.count(), primesieve::count_primes(0, 1000000));
  EXPECT_EQ(p.twins(), primesieve::count_twins(0, 1000000));
  EXPECT_EQ(p.first_prime(), 2u);
  EXPECT_EQ(p.last_prime(), primesieve::iterator(1000000).prev_prime());
}

struct SplitCase {
  uint64_t lo, mid, hi;  // left is [lo, mid], right is [mid + 1, hi]
};

class MergeTest : public testing::TestWithParam<SplitCase> {};

TEST_P(MergeTest, MergeOfSplitEqualsWhole) {
  const SplitCase c = GetParam();
  ExpectSame(Direct(c.lo, c.hi),
             MergeAdjacent(Direct(c.lo, c.mid), Direct(c.mid + 1, c.hi)));
}

INSTANTIATE_TEST_SUITE_P(
    Boundaries, MergeTest,
    testing::Values(SplitCase{0, 4, 100},  // twin (3, 5) straddles
                    SplitCase{0, 5, 100},  // twin (5, 7) straddles
                    SplitCase{0, 100, 1000},
                    SplitCase{0, 1, 2},      // left has no prime
                    SplitCase{24, 28, 29},   // left has no prime, right one
                    SplitCase{90, 96, 100},  // both sides without prime
                    SplitCase{492100, 492150,
                              492300},  // the gap of 114 straddles
                    SplitCase{1000000, 1234567, 2000000}));

TEST(PartialTest, TieOfGapsKeepsLeftmost) {
  // Gaps of 4 after 7 (7 -> 11) and after 13 (13 -> 17): keep 7.
  proto::Partial left = Direct(7, 12), right = Direct(13, 17);
  proto::Partial m = MergeAdjacent(left, right);
  EXPECT_EQ(m.max_gap(), 4u);
  EXPECT_EQ(m.max_gap_start(), 7u);
}

TEST(PartialTest, SumPassesTwoToThe64) {
  proto::Partial p;
  SetPartialSum(~uint128{0} >> 64, &p);
  SetPartialSum(PartialSum(p) + 1, &p);
  EXPECT_EQ(p.sum_hi(), 1u);
  EXPECT_EQ(p.sum_lo(), 0u);
  EXPECT_EQ(Uint128ToString(PartialSum(p)), "18446744073709551616");
  EXPECT_EQ(Uint128ToString(0), "0");
}

TEST(PartialTest, ToJobResultPicksTheKindsField) {
  const proto::Partial p = Direct(0, 100000);
  EXPECT_EQ(ToJobResult(proto::COUNT, p).count(), 9592u);
  EXPECT_EQ(ToJobResult(proto::SUM, p).sum(), "454396537");
  EXPECT_EQ(ToJobResult(proto::GAPS, p).max_gap(), p.max_gap());
}

}  // namespace
}  // namespace quark
