#include "daemon/kernels.h"

#include <cstdint>
#include <limits>
#include <primesieve.hpp>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/partial.h"
#include "gtest/gtest.h"

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
};

// The answers for [lo, hi] computed here from libprimesieve: its counters
// for count and twins, and a plain loop over its primes for the rest.
Expected Reference(uint64_t lo, uint64_t hi) {
  Expected e;
  e.count = primesieve::count_primes(lo, hi);
  e.twins = primesieve::count_twins(lo, hi);
  std::vector<uint64_t> primes;
  primesieve::generate_primes(lo, hi, &primes);
  for (size_t i = 0; i < primes.size(); ++i) {
    e.sum += primes[i];
    if (i > 0 && primes[i] - primes[i - 1] > e.max_gap) {
      e.max_gap = primes[i] - primes[i - 1];
      e.max_gap_start = primes[i - 1];
    }
  }
  if (!primes.empty()) {
    e.first = primes.front();
    e.last = primes.back();
  }
  return e;
}

// Runs every kind on [lo, hi] with `threads` and checks each against `e`.
void CheckAllKinds(uint64_t lo, uint64_t hi, int threads, const Expected& e) {
  const std::string where =
      absl::StrCat("[", lo, ", ", hi, "] threads=", threads);
  for (proto::Kind kind :
       {proto::COUNT, proto::TWINS, proto::GAPS, proto::SUM}) {
    SCOPED_TRACE(absl::StrCat(where, " kind=", proto::Kind_Name(kind)));
    auto got = ComputePartial(kind, lo, hi, threads);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->first_prime(), e.first);
    EXPECT_EQ(got->last_prime(), e.last);
    switch (kind) {
      case proto::COUNT:
        EXPECT_EQ(got->count(), e.count);
        break;
      case proto::TWINS:
        EXPECT_EQ(got->twins(), e.twins);
        break;
      case proto::GAPS:
        EXPECT_EQ(got->count(), e.count);
        EXPECT_EQ(got->max_gap(), e.max_gap);
        EXPECT_EQ(got->max_gap_start(), e.max_gap_start);
        EXPECT_EQ(got->twins(), 0u);
        break;
      case proto::SUM:
        EXPECT_EQ(got->count(), e.count);
        EXPECT_TRUE(PartialSum(*got) == e.sum)
            << Uint128ToString(PartialSum(*got))
            << " != " << Uint128ToString(e.sum);
        EXPECT_EQ(got->twins(), 0u);
        break;
      default:
        break;
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

TEST(KernelsTest, RangesSplitIntoManyPieces) {
  // Wide enough that GAPS and SUM are cut into one piece per thread, with
  // twins and gaps straddling the cuts.
  const RangeCase cases[] = {{0, 10000000}, {1000000000000, 1000010000000}};
  for (const RangeCase& c : cases) {
    const Expected e = Reference(c.lo, c.hi);
    for (int threads : {1, 2, 5}) CheckAllKinds(c.lo, c.hi, threads, e);
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
  CheckAllKinds(lo, kMax, 2, Reference(lo, kMax));
}

TEST(KernelsTest, NoPrimeAboveTheLargest64BitPrime) {
  for (proto::Kind kind : {proto::GAPS, proto::SUM}) {
    auto got = ComputePartial(kind, kLargestPrime64 + 1, kMax, 2);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->first_prime(), 0u);
    EXPECT_EQ(got->count(), 0u);
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
