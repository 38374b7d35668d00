#include "tests/integration/reference.h"

#include <algorithm>
#include <primecount.hpp>
#include <primesieve.hpp>

namespace quark::integration {
namespace {

// Calls `f(p)` for each prime p in [lo, hi] in increasing order, without
// ever asking primesieve::iterator for a prime past kLargestPrime64.
template <typename F>
void ForEachPrime(uint64_t lo, uint64_t hi, F f) {
  hi = std::min(hi, kLargestPrime64);
  if (lo > hi) return;
  primesieve::iterator it(lo, hi);
  for (uint64_t p = it.next_prime(); p <= hi; p = it.next_prime()) {
    f(p);
    if (p == kLargestPrime64) return;
  }
}

// Beyond this length primecount's pi is much faster than sieving.
constexpr uint64_t kSieveLimit = 10'000'000'000ull;
constexpr uint64_t kPiLimit = uint64_t{1} << 62;

}  // namespace

uint64_t ReferenceCount(uint64_t lo, uint64_t hi) {
  if (hi - lo > kSieveLimit && hi < kPiLimit) {
    const int64_t below = lo == 0 ? 0 : primecount::pi(int64_t(lo - 1));
    return uint64_t(primecount::pi(int64_t(hi)) - below);
  }
  return primesieve::count_primes(lo, hi);
}

uint64_t ReferenceTwins(uint64_t lo, uint64_t hi) {
  return primesieve::count_twins(lo, hi);
}

Gap ReferenceGap(uint64_t lo, uint64_t hi) {
  Gap gap;
  uint64_t prev = 0;
  ForEachPrime(lo, hi, [&](uint64_t p) {
    // Strictly larger: on ties the first (smallest) start stays.
    if (prev != 0 && p - prev > gap.size) gap = {p - prev, prev};
    prev = p;
  });
  return gap;
}

uint128 ReferenceSum(uint64_t lo, uint64_t hi) {
  uint128 sum = 0;
  ForEachPrime(lo, hi, [&](uint64_t p) { sum += p; });
  return sum;
}

std::string ToDecimal(uint128 value) {
  std::string digits;
  do {
    digits.push_back(char('0' + int(value % 10)));
    value /= 10;
  } while (value != 0);
  std::reverse(digits.begin(), digits.end());
  return digits;
}

proto::JobResult ReferenceResult(proto::Kind kind, uint64_t lo, uint64_t hi) {
  proto::JobResult r;
  switch (kind) {
    case proto::COUNT:
      r.set_count(ReferenceCount(lo, hi));
      break;
    case proto::TWINS:
      r.set_twins(ReferenceTwins(lo, hi));
      break;
    case proto::GAPS: {
      const Gap gap = ReferenceGap(lo, hi);
      r.set_max_gap(gap.size);
      r.set_max_gap_start(gap.start);
      break;
    }
    case proto::SUM:
      r.set_sum(ToDecimal(ReferenceSum(lo, hi)));
      break;
    default:
      break;
  }
  return r;
}

}  // namespace quark::integration
