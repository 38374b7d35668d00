#include "tests/integration/reference.h"

#include <algorithm>
#include <map>
#include <primecount.hpp>
#include <primesieve.hpp>

#include "tests/testutil/reference_partial.h"

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

void ReferenceGapTable(uint64_t lo, uint64_t hi, proto::JobResult* r) {
  std::map<uint64_t, uint64_t> first;  // size -> start of its first gap
  uint64_t prev = 0, record = 0;
  ForEachPrime(lo, hi, [&](uint64_t p) {
    if (prev != 0) {
      first.emplace(p - prev, prev);
      if (p - prev > record) {
        record = p - prev;
        proto::Gap* gap = r->add_maximal_gaps();
        gap->set_size(record);
        gap->set_start(prev);
      }
    }
    prev = p;
  });
  for (const auto& [size, start] : first) {
    proto::Gap* gap = r->add_first_gaps();
    gap->set_size(size);
    gap->set_start(start);
  }
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
      ReferenceGapTable(lo, hi, &r);
      break;
    }
    case proto::SUM:
      r.set_sum(ToDecimal(ReferenceSum(lo, hi)));
      break;
    case proto::TRIPLETS:
      r.set_triplets(testutil::PrimesieveTuplets(3, lo, hi));
      break;
    case proto::QUADRUPLETS:
      r.set_quadruplets(testutil::PrimesieveTuplets(4, lo, hi));
      break;
    case proto::QUINTUPLETS:
      r.set_quintuplets(testutil::PrimesieveTuplets(5, lo, hi));
      break;
    case proto::SEXTUPLETS:
      r.set_sextuplets(testutil::PrimesieveTuplets(6, lo, hi));
      break;
    default:
      break;
  }
  return r;
}

}  // namespace quark::integration
