// The partial a correct worker computes for [lo, hi], the reference the
// unit tests compare against. Computed here from libprimesieve alone: the
// count and twins by primesieve's own counters, the rest by walking
// primesieve's iterator, and no code of Quark's (MergeAdjacent,
// SetPartialSum, the tuplet patterns) in it, so that a test of those checks
// them against something else than themselves.
#ifndef QUARK_TESTS_TESTUTIL_REFERENCE_PARTIAL_H_
#define QUARK_TESTS_TESTUTIL_REFERENCE_PARTIAL_H_

#include <cstdint>
#include <map>
#include <primesieve.hpp>
#include <vector>

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

// primesieve's count of prime k-tuplets (3 <= k <= 6) with every member
// in [lo, hi]: primesieve -c3 .. -c6.
inline uint64_t PrimesieveTuplets(int k, uint64_t lo, uint64_t hi) {
  switch (k) {
    case 3:
      return primesieve::count_triplets(lo, hi);
    case 4:
      return primesieve::count_quadruplets(lo, hi);
    case 5:
      return primesieve::count_quintuplets(lo, hi);
    default:
      return primesieve::count_sextuplets(lo, hi);
  }
}

// The partial of a k-tuplet kind (3 <= k <= 6) for [lo, hi]: primesieve's
// count of k-tuplets, and the first and last k - 1 primes.
inline proto::Partial ReferenceTuplets(int k, uint64_t lo, uint64_t hi) {
  proto::Partial ref;
  ref.set_tuplet_size(static_cast<uint32_t>(k));
  if (lo > hi) return ref;
  ref.set_tuplets(PrimesieveTuplets(k, lo, hi));
  std::vector<uint64_t> primes;
  primesieve::generate_primes(lo, hi, &primes);
  const size_t edge = primes.size() < static_cast<size_t>(k - 1)
                          ? primes.size()
                          : static_cast<size_t>(k - 1);
  ref.mutable_head()->Add(primes.begin(), primes.begin() + edge);
  ref.mutable_tail()->Add(primes.end() - edge, primes.end());
  return ref;
}

// The same partial from a list of primes that holds every prime of
// [lo, hi] (and maybe more): k consecutive primes of the range whose
// offsets from the first are one of the k-tuplet's patterns, as the
// textbook lists them (Forbes; primesieve's documentation). Near 2^64 a
// primesieve call sieves with every prime below 2^32 and takes a second,
// so the tests that cut a range many ways check this against
// ReferenceTuplets once and then use it for the pieces.
inline proto::Partial ReferenceTupletsOf(int k, uint64_t lo, uint64_t hi,
                                         const std::vector<uint64_t>& all) {
  static const std::vector<std::vector<uint64_t>> kPatterns[7] = {
      {},
      {},
      {},
      {{0, 2, 6}, {0, 4, 6}},
      {{0, 2, 6, 8}},
      {{0, 2, 6, 8, 12}, {0, 4, 6, 10, 12}},
      {{0, 4, 6, 10, 12, 16}}};
  std::vector<uint64_t> primes;
  for (const uint64_t p : all) {
    if (p >= lo && p <= hi) primes.push_back(p);
  }
  proto::Partial ref;
  ref.set_tuplet_size(static_cast<uint32_t>(k));
  const size_t n = static_cast<size_t>(k);
  uint64_t count = 0;
  for (size_t i = 0; i + n <= primes.size(); ++i) {
    for (const std::vector<uint64_t>& pattern : kPatterns[k]) {
      bool match = true;
      for (size_t j = 0; j < n; ++j) {
        match = match && primes[i + j] - primes[i] == pattern[j];
      }
      count += match ? 1 : 0;
    }
  }
  ref.set_tuplets(count);
  const size_t edge = primes.size() < n - 1 ? primes.size() : n - 1;
  ref.mutable_head()->Add(primes.begin(), primes.begin() + edge);
  ref.mutable_tail()->Add(primes.end() - edge, primes.end());
  return ref;
}

// The partial of a gaps task for [lo, hi]: the count, the first and last
// prime, the largest gap and the gap table, from primesieve's primes.
inline proto::Partial ReferenceGaps(uint64_t lo, uint64_t hi) {
  const proto::Partial all = ReferencePartial(lo, hi);
  proto::Partial ref;
  ref.set_count(all.count());
  ref.set_first_prime(all.first_prime());
  ref.set_last_prime(all.last_prime());
  ref.set_max_gap(all.max_gap());
  ref.set_max_gap_start(all.max_gap_start());
  ref.set_gap_table(true);
  std::vector<uint64_t> primes;
  if (lo <= hi) primesieve::generate_primes(lo, hi, &primes);
  std::map<uint64_t, uint64_t> first;  // size -> start
  for (size_t i = 1; i < primes.size(); ++i) {
    first.emplace(primes[i] - primes[i - 1], primes[i - 1]);
  }
  for (const auto& [size, start] : first) {
    proto::Gap* gap = ref.add_first_gaps();
    gap->set_size(size);
    gap->set_start(start);
  }
  return ref;
}

// The partial a correct worker sends for a task of `kind`: what
// ReferencePartial has for count, twins, gaps' largest and sum (the
// scheduler keeps the kind's fields only), with the gap table for gaps,
// and for a tuplet kind only what that kind carries.
inline proto::Partial ReferenceFor(proto::Kind kind, uint64_t lo, uint64_t hi) {
  switch (kind) {
    case proto::GAPS:
      return ReferenceGaps(lo, hi);
    case proto::TRIPLETS:
      return ReferenceTuplets(3, lo, hi);
    case proto::QUADRUPLETS:
      return ReferenceTuplets(4, lo, hi);
    case proto::QUINTUPLETS:
      return ReferenceTuplets(5, lo, hi);
    case proto::SEXTUPLETS:
      return ReferenceTuplets(6, lo, hi);
    default:
      return ReferencePartial(lo, hi);
  }
}

}  // namespace quark::testutil

#endif  // QUARK_TESTS_TESTUTIL_REFERENCE_PARTIAL_H_
