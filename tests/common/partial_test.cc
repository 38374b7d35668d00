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

// Every way of cutting [lo, hi] in two, and in three with a one-number
// piece, merges to the whole: tuplets that straddle a cut are counted
// once, and the head and tail are those of the whole. The whole is
// primesieve's where `by_primesieve` (a second a call near 2^64), and
// the pieces come from the primes of the range, matched against the
// patterns, which is first checked to agree with the whole.
void ExpectTupletMergesExact(int k, uint64_t lo, uint64_t hi,
                             bool by_primesieve = true) {
  std::vector<uint64_t> primes;
  primesieve::generate_primes(lo, hi, &primes);
  auto piece = [&](uint64_t a, uint64_t b) {
    return testutil::ReferenceTupletsOf(k, a, b, primes);
  };
  const proto::Partial whole = piece(lo, hi);
  if (by_primesieve) {
    ASSERT_TRUE(SamePartial(whole, testutil::ReferenceTuplets(k, lo, hi)))
        << whole.DebugString();
  }
  // Two cuts between the same two primes give the same pieces, so the
  // cuts just before and after each prime are every case there is.
  std::vector<uint64_t> cuts = {lo};
  for (const uint64_t p : primes) {
    if (p > lo) cuts.push_back(p - 1);
    if (p < hi) cuts.push_back(p);
  }
  for (const uint64_t mid : cuts) {
    SCOPED_TRACE(testing::Message() << "k=" << k << " [" << lo << ", " << mid
                                    << "] + [" << mid + 1 << ", " << hi << "]");
    const proto::Partial merged =
        MergeAdjacent(piece(lo, mid), piece(mid + 1, hi));
    EXPECT_TRUE(SamePartial(merged, whole))
        << merged.DebugString() << " vs " << whole.DebugString();
    // From the left, as the accumulator folds: one number at a time.
    if (mid + 1 < hi) {
      const proto::Partial three =
          MergeAdjacent(MergeAdjacent(piece(lo, mid), piece(mid + 1, mid + 1)),
                        piece(mid + 2, hi));
      EXPECT_TRUE(SamePartial(three, whole)) << three.DebugString();
    }
  }
}

TEST(PartialTest, TupletsAcrossEveryCut) {
  // From 0: the small tuplets (5, 7, 11), (5, 7, 11, 13, 17), (7, 11, 13,
  // 17, 19, 23); (97 .. 113) is a sextuplet; near 1e12 and the top some
  // with no prime at a cut's side. The top is checked against primesieve
  // by the kernels' test; here its primes only.
  for (int k = kMinTuplet; k <= kMaxTuplet; ++k) {
    ExpectTupletMergesExact(k, 0, 130);
    ExpectTupletMergesExact(k, 1000000000000 - 2000, 1000000000000 + 2000);
    ExpectTupletMergesExact(k, 18446744073709551615u - 300,
                            18446744073709551615u, /*by_primesieve=*/false);
  }
  // A quadruplet (1006301, 1006303, 1006307, 1006309) cut everywhere.
  ExpectTupletMergesExact(4, 1006290, 1006320);
}

TEST(PartialTest, TupletsMergeOnlyForTheirSize) {
  // A partial with no tuplet size (the merge's empty start) takes the
  // other's; COUNT partials grow no head.
  const proto::Partial t = testutil::ReferenceTuplets(6, 90, 120);
  EXPECT_TRUE(SamePartial(MergeAdjacent(proto::Partial(), t), t));
  EXPECT_TRUE(SamePartial(MergeAdjacent(t, proto::Partial()), t));
  proto::Partial count;
  count.set_count(5);
  const proto::Partial two = MergeAdjacent(count, count);
  EXPECT_EQ(two.count(), 10u);
  EXPECT_EQ(two.tuplet_size(), 0u);
  EXPECT_TRUE(two.head().empty());
}

TEST(PartialTest, GapTablesMergeAcrossEveryCut) {
  for (const SplitCase c :
       {SplitCase{0, 0, 400}, SplitCase{492000, 0, 492300},
        SplitCase{1000000000000 - 1000, 0, 1000000000000 + 1000}}) {
    const proto::Partial whole = testutil::ReferenceGaps(c.lo, c.hi);
    for (uint64_t mid = c.lo; mid < c.hi; mid += 7) {
      const proto::Partial merged =
          MergeAdjacent(testutil::ReferenceGaps(c.lo, mid),
                        testutil::ReferenceGaps(mid + 1, c.hi));
      // The merge counts twins across the cut whatever the kind; a gaps
      // job keeps only its fields.
      EXPECT_TRUE(
          SamePartial(KeepKindFields(*FindKind(proto::GAPS), merged), whole))
          << "cut after " << mid << ": " << merged.DebugString();
    }
  }
  // A side with one prime has an empty table, and still its gap across.
  const proto::Partial one = testutil::ReferenceGaps(20, 23);  // 23
  ASSERT_TRUE(one.first_gaps().empty());
  const proto::Partial merged =
      MergeAdjacent(one, testutil::ReferenceGaps(24, 29));  // 29
  ASSERT_EQ(merged.first_gaps_size(), 1);
  EXPECT_EQ(merged.first_gaps(0).size(), 6u);
  EXPECT_EQ(merged.first_gaps(0).start(), 23u);
}

TEST(PartialTest, GapTableGivesTheMaximalGaps) {
  // OEIS A002386 (primes p where a gap larger than every earlier one
  // begins) and A005250 (those gaps), the first 20 terms, both below 1e7.
  const uint64_t starts[] = {2,      3,      7,      23,      89,
                             113,    523,    887,    1129,    1327,
                             9551,   15683,  19609,  31397,   155921,
                             360653, 370261, 492113, 1349533, 1357201};
  const uint64_t gaps[] = {1,  2,  4,  6,  8,  14, 18,  20,  22,  34,
                           36, 44, 52, 72, 86, 96, 112, 114, 118, 132};
  const proto::JobResult r =
      ToJobResult(proto::GAPS, testutil::ReferenceGaps(0, 2000000));
  ASSERT_EQ(r.maximal_gaps_size(), 20);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(r.maximal_gaps(i).start(), starts[i]) << i;
    EXPECT_EQ(r.maximal_gaps(i).size(), gaps[i]) << i;
  }
  EXPECT_EQ(r.max_gap(), 132u);
  EXPECT_EQ(r.max_gap_start(), 1357201u);
  // OEIS A000230: the first prime starting a gap of 2n, n = 1 .. 10.
  const uint64_t first_of[] = {3, 7, 23, 89, 139, 199, 113, 1831, 523, 887};
  for (int n = 1; n <= 10; ++n) {
    const proto::Gap& gap = r.first_gaps(n);  // size 1 (2 -> 3) is first
    EXPECT_EQ(gap.size(), 2u * n);
    EXPECT_EQ(gap.start(), first_of[n - 1]) << 2 * n;
  }
}

}  // namespace
}  // namespace quark
