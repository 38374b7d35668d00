// The partial a correct worker computes for [lo, hi], the reference the
// unit tests compare against. Computed here from libprimesieve alone: the
// count and twins by primesieve's own counters, the rest by walking
// primesieve's iterator, and no code of Quark's (AppendPrime, MergeAdjacent,
// SetPartialSum) in it, so that a test of those checks them against
// something else than themselves.
#ifndef QUARK_TESTS_TESTUTIL_REFERENCE_PARTIAL_H_
#define QUARK_TESTS_TESTUTIL_REFERENCE_PARTIAL_H_

#include <cstdint>
#include <primesieve.hpp>

#include "proto/quark.pb.h"

namespace quark::testutil {

// 2^64 - 59, the largest prime below 2^64: primesieve's iterator throws
// when asked for the prime after it.
inline constexpr uint64_t kReferenceLargestPrime = 18446744073709551557ull;

inline proto::Partial ReferencePartial(uint64_t lo, uint64_t hi) {
  proto::Partial ref;
  if (lo > hi) return ref;
  ref.set_count(primesieve::count_primes(lo, hi));
  ref.set_twins(primesieve::count_twins(lo, hi));
  unsigned __int128 sum = 0;
  uint64_t previous = 0;
  const uint64_t last =
      hi < kReferenceLargestPrime ? hi : kReferenceLargestPrime;
  if (lo <= last) {
    primesieve::iterator it(lo, last);
    for (uint64_t p = it.next_prime(); p <= last; p = it.next_prime()) {
      if (previous == 0) {
        ref.set_first_prime(p);
      } else if (p - previous >
                 ref.max_gap()) {  // strictly: the first gap of a size wins
        ref.set_max_gap(p - previous);
        ref.set_max_gap_start(previous);
      }
      previous = p;
      sum += p;
      if (p == kReferenceLargestPrime) break;
    }
  }
  ref.set_last_prime(previous);
  ref.set_sum_lo(static_cast<uint64_t>(sum));
  ref.set_sum_hi(static_cast<uint64_t>(sum >> 64));
  return ref;
}

}  // namespace quark::testutil

#endif  // QUARK_TESTS_TESTUTIL_REFERENCE_PARTIAL_H_
