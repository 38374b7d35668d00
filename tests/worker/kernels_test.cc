#include "worker/kernels.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <primesieve.hpp>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/kinds.h"
#include "common/partial.h"
#include "gtest/gtest.h"
#include "tests/testutil/reference_partial.h"

namespace quark {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

struct Expected {
  uint64_t count = 0;
  uint64_t twins = 0;
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t max_gap = 0;
  uint64_t max_gap_start = 0;
  uint128 sum = 0;
  uint64_t tuplets[7] = {};                 // by k, 3 to 6
  std::map<uint64_t, uint64_t> first_gaps;  // size -> its first start
  std::vector<uint64_t> primes;             // every prime of the range
};

// The answers for [lo, hi] computed here from libprimesieve: its counters
// for count, twins and tuplets, and a plain loop over its primes for the
// rest.
Expected Reference(uint64_t lo, uint64_t hi) {
  Expected e;
  e.count = primesieve::count_primes(lo, hi);
  e.twins = primesieve::count_twins(lo, hi);
  for (int k = kMinTuplet; k <= kMaxTuplet; ++k) {
    e.tuplets[k] = testutil::PrimesieveTuplets(k, lo, hi);
  }
  std::vector<uint64_t>& primes = e.primes;
  primesieve::generate_primes(lo, hi, &primes);
  for (size_t i = 0; i < primes.size(); ++i) {
    e.sum += primes[i];
    if (i == 0) continue;
    const uint64_t gap = primes[i] - primes[i - 1];
    if (gap > e.max_gap) {
      e.max_gap = gap;
      e.max_gap_start = primes[i - 1];
    }
    e.first_gaps.emplace(gap, primes[i - 1]);  // keeps the first
  }
  if (!primes.empty()) {
    e.first = primes.front();
    e.last = primes.back();
  }
  return e;
}

// Checks one partial of `kind` against `e`: the fields the kind answers,
// the first and last prime where its merge needs them, nothing else.
void CheckPartial(proto::Kind kind, const proto::Partial& got,
                  const Expected& e) {
  const bool ends = kind == proto::TWINS || kind == proto::GAPS;
  EXPECT_EQ(got.first_prime(), ends ? e.first : 0);
  EXPECT_EQ(got.last_prime(), ends ? e.last : 0);
  const int k = FindKind(kind)->tuplet_size;
  EXPECT_EQ(got.tuplet_size(), static_cast<uint32_t>(k));
  EXPECT_EQ(got.tuplets(), e.tuplets[k]);  // 0 at 0
  const size_t edge = std::min<size_t>(k == 0 ? 0 : k - 1, e.primes.size());
  EXPECT_EQ(std::vector<uint64_t>(got.head().begin(), got.head().end()),
            std::vector<uint64_t>(e.primes.begin(), e.primes.begin() + edge));
  EXPECT_EQ(std::vector<uint64_t>(got.tail().begin(), got.tail().end()),
            std::vector<uint64_t>(e.primes.end() - edge, e.primes.end()));
  EXPECT_EQ(got.gap_table(), kind == proto::GAPS);
  std::map<uint64_t, uint64_t> table;
  for (const proto::Gap& gap : got.first_gaps()) {
    EXPECT_TRUE(table.emplace(gap.size(), gap.start()).second) << gap.size();
  }
  const std::map<uint64_t, uint64_t> none;
  EXPECT_EQ(table, kind == proto::GAPS ? e.first_gaps : none);
  switch (kind) {
    case proto::COUNT:
      EXPECT_EQ(got.count(), e.count);
      EXPECT_EQ(got.twins(), 0u);
      break;
    case proto::TWINS:
      EXPECT_EQ(got.twins(), e.twins);
      EXPECT_EQ(got.count(), 0u);
      break;
    case proto::GAPS:
      EXPECT_EQ(got.count(), e.count);
      EXPECT_EQ(got.max_gap(), e.max_gap);
      EXPECT_EQ(got.max_gap_start(), e.max_gap_start);
      EXPECT_EQ(got.twins(), 0u);
      break;
    case proto::SUM:
      EXPECT_EQ(got.count(), e.count);
      EXPECT_TRUE(PartialSum(got) == e.sum) << Uint128ToString(PartialSum(got))
                                            << " != " << Uint128ToString(e.sum);
      EXPECT_EQ(got.twins(), 0u);
      break;
    default:
      break;
  }
}

constexpr proto::Kind kKinds[] = {
    proto::COUNT,    proto::TWINS,       proto::GAPS,        proto::SUM,
    proto::TRIPLETS, proto::QUADRUPLETS, proto::QUINTUPLETS, proto::SEXTUPLETS};

// Runs every kind on [lo, hi] with `threads` as the worker plans it, and
// checks each against `e`.
void CheckAllKinds(uint64_t lo, uint64_t hi, int threads, const Expected& e) {
  for (proto::Kind kind : kKinds) {
    SCOPED_TRACE(absl::StrCat("[", lo, ", ", hi, "] threads=", threads,
                              " kind=", proto::Kind_Name(kind)));
    auto got = ComputePartial(kind, lo, hi, threads);
    ASSERT_TRUE(got.ok()) << got.status();
    CheckPartial(kind, *got, e);
  }
}

// Runs every kind on [lo, hi] cut every way the kernel cuts: pieces on
// several threads, slices within them, counted sub-slices or iterated
// ones; every cut gives the same answer. Near 2^64 a sieve costs a second
// or more: `few` tries only the cut that covers most there (two pieces,
// iterated).
void CheckEveryCut(uint64_t lo, uint64_t hi, const Expected& e,
                   bool few = false) {
  const uint64_t width = hi - lo + 1;
  const double root = std::sqrt(static_cast<double>(hi));
  const uint64_t counted_floor = static_cast<uint64_t>(100 * root) + 1;
  struct Cut {
    int threads;
    uint64_t slice;
    uint64_t sub;  // control.slice_numbers
  };
  const Cut cuts[] = {
      {1, width, 2'000'000'000},          // one counter, one iterator
      {3, width, 2'000'000'000},          // pieces
      {2, width / 5 + 1, 2'000'000'000},  // slices in pieces
      {2, width, std::max(counted_floor, width / 7 + 1)},  // counted subs
      {3, width / 4 + 1, 1},  // iterated COUNT and TWINS
  };
  const Cut few_cuts[] = {{2, width / 2 + 1, 1}};
  for (const Cut& cut :
       few ? absl::MakeConstSpan(few_cuts) : absl::MakeConstSpan(cuts)) {
    SievePlan plan;
    plan.threads = cut.threads;
    plan.slice = cut.slice;
    SieveControl control;
    control.slice_numbers = cut.sub;
    for (proto::Kind kind : kKinds) {
      SCOPED_TRACE(absl::StrCat("[", lo, ", ", hi, "] threads=", cut.threads,
                                " slice=", cut.slice, " sub=", cut.sub,
                                " kind=", proto::Kind_Name(kind)));
      auto got = ComputePartial(kind, lo, hi, plan, control);
      ASSERT_TRUE(got.ok()) << got.status();
      CheckPartial(kind, *got, e);
    }
  }
}

struct RangeCase {
  uint64_t lo;
  uint64_t hi;
};

TEST(KernelsTest, SmallAndEdgeRanges) {
  const RangeCase cases[] = {
      {0, 0},   {0, 1},   {0, 2},    {1, 1},    {2, 2},     {2, 3},
      {3, 5},   {3, 4},   {4, 4},    {0, 100},  {24, 28},   {89, 97},
      {90, 96}, {97, 97}, {98, 100}, {0, 1000}, {114, 126}, {1, 1000003},
  };
  for (const RangeCase& c : cases) {
    const Expected e = Reference(c.lo, c.hi);
    for (int threads : {1, 2, 3}) CheckAllKinds(c.lo, c.hi, threads, e);
  }
}

TEST(KernelsTest, EveryCutGivesTheSameAnswer) {
  // Twins and gaps straddle the cuts; [24, 28] and [90, 96] hold no prime.
  const RangeCase cases[] = {{0, 10000000},
                             {1000000000000, 1000010000000},
                             {0, 100},
                             {24, 28},
                             {90, 96}};
  for (const RangeCase& c : cases)
    CheckEveryCut(c.lo, c.hi, Reference(c.lo, c.hi));
  const uint64_t lo = 1000000000000000000, hi = lo + 300000;
  CheckEveryCut(lo, hi, Reference(lo, hi), /*few=*/true);
}

TEST(KernelsTest, WidePlansOnManyThreads) {
  // PlanSieve gives several threads only past 1e7 numbers a piece.
  const uint64_t lo = 1000000000, hi = 1030000000;
  const Expected e = Reference(lo, hi);
  ASSERT_EQ(PlanSieve(hi, hi - lo + 1, 3, 0).threads, 3);
  CheckAllKinds(lo, hi, 3, e);
}

TEST(KernelsTest, StopsWhenTold) {
  std::atomic<bool> stop{true};
  std::atomic<uint64_t> done{0};
  SieveControl control;
  control.stop = &stop;
  control.done = &done;
  for (proto::Kind kind : kKinds) {
    SievePlan plan;
    plan.threads = 2;
    plan.slice = 100000000;
    auto got = ComputePartial(kind, 0, 10000000000, plan, control);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kCancelled)
        << proto::Kind_Name(kind);
  }
  // Not stopped, it counts every number as done.
  stop = false;
  done = 0;
  SievePlan plan;
  plan.threads = 2;
  plan.slice = 3000000;
  for (proto::Kind kind : kKinds) {
    done = 0;
    ASSERT_TRUE(ComputePartial(kind, 1000, 10001000, plan, control).ok());
    EXPECT_EQ(done.load(), 10000001u) << proto::Kind_Name(kind);
  }
}

TEST(KernelsTest, RandomRanges) {
  std::mt19937_64 random(20240601);
  for (int i = 0; i < 24; ++i) {
    const uint64_t magnitude = uint64_t{1} << (random() % 50);
    const uint64_t lo = random() % magnitude;
    const uint64_t hi = lo + random() % 3000000;
    CheckAllKinds(lo, hi, 1 + static_cast<int>(random() % 4),
                  Reference(lo, hi));
  }
}

// Near 2^64 every primesieve call costs about a second: one range only.
TEST(KernelsTest, RangeEndingAtTheLargestNumber) {
  const uint64_t lo = kMax - 1000000;
  CheckEveryCut(lo, kMax, Reference(lo, kMax), /*few=*/true);
}

TEST(KernelsTest, NoPrimeAboveTheLargest64BitPrime) {
  for (proto::Kind kind : kKinds) {
    auto got = ComputePartial(kind, kLargestPrime64 + 1, kMax, 2);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->first_prime(), 0u);
    EXPECT_EQ(got->count(), 0u);
    EXPECT_EQ(got->twins(), 0u);
  }
}

TEST(KernelsTest, RejectsBadInput) {
  EXPECT_EQ(ComputePartial(proto::COUNT, 10, 9, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputePartial(proto::KIND_UNSPECIFIED, 1, 9, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quark
