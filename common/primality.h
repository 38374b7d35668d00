// A deterministic primality test for 64-bit numbers, and the first and
// last prime of a range found with it.
//
// IsPrime is the strong probable-prime (Miller-Rabin) test to the twelve
// bases 2, 3, 5, ..., 37, which no composite below 3.3e24 passes
// (Sorenson and Webster, "Strong pseudoprimes to twelve prime bases",
// 2015), so it is exact for every uint64_t. Arithmetic is Montgomery
// multiplication in 64 bits: no division in the loop, which matters on a
// Pi's Cortex-A cores (no 128-by-64 divide instruction).
//
// FirstPrimeIn and LastPrimeIn scan inward from one end of [lo, hi]. No
// gap between consecutive primes below 2^64 exceeds 1550 (the maximal gap
// found by the 2018 search, at 18361375334787046697), so a scan tests at
// most about 775 odd numbers, a few hundred microseconds on a Pi core,
// instead of building sieving primes up to sqrt(hi): 1.5 GB and a second
// near 2^64.
//
// Pure and thread-safe.
#ifndef QUARK_COMMON_PRIMALITY_H_
#define QUARK_COMMON_PRIMALITY_H_

#include <cstdint>

namespace quark {

// Whether n is prime. Exact for every n.
bool IsPrime(uint64_t n);

// The smallest prime in [lo, hi], or 0 when there is none (or lo > hi).
uint64_t FirstPrimeIn(uint64_t lo, uint64_t hi);

// The largest prime in [lo, hi], or 0 when there is none (or lo > hi).
uint64_t LastPrimeIn(uint64_t lo, uint64_t hi);

}  // namespace quark

#endif  // QUARK_COMMON_PRIMALITY_H_
