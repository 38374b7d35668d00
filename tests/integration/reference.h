// Reference answers for integration tests, computed in the test process
// with libprimesieve and primecount, never taken from the code under test.
// Ranges are inclusive, [lo, hi], any 0 <= lo <= hi <= 2^64 - 1.
#ifndef QUARK_TESTS_INTEGRATION_REFERENCE_H_
#define QUARK_TESTS_INTEGRATION_REFERENCE_H_

#include <cstdint>
#include <string>

#include "proto/quark.pb.h"

namespace quark::integration {

using uint128 = unsigned __int128;

// The largest prime below 2^64; primesieve::iterator throws past it.
inline constexpr uint64_t kLargestPrime64 = 18446744073709551557ull;
inline constexpr uint64_t kMax64 = UINT64_MAX;

// Number of primes in [lo, hi]: primecount::pi for long ranges below 2^63,
// primesieve::count_primes otherwise.
uint64_t ReferenceCount(uint64_t lo, uint64_t hi);

// Twin pairs (p, p + 2) with both members in [lo, hi].
uint64_t ReferenceTwins(uint64_t lo, uint64_t hi);

struct Gap {
  uint64_t size = 0;   // largest q - p for consecutive primes in range
  uint64_t start = 0;  // smallest p with that gap; 0 when < 2 primes
};
Gap ReferenceGap(uint64_t lo, uint64_t hi);

uint128 ReferenceSum(uint64_t lo, uint64_t hi);

// The gap table of [lo, hi] from a walk over primesieve's primes: the
// first gap of each size that occurs (by size), and the maximal gaps
// (each larger than every gap before it, by start).
void ReferenceGapTable(uint64_t lo, uint64_t hi, proto::JobResult* r);

std::string ToDecimal(uint128 value);

// The fields of JobResult that `kind` answers (others stay at 0 / "").
proto::JobResult ReferenceResult(proto::Kind kind, uint64_t lo, uint64_t hi);

}  // namespace quark::integration

#endif  // QUARK_TESTS_INTEGRATION_REFERENCE_H_
