// What one libprimesieve sieve (a counter or an iterator, on one thread)
// costs: its memory and its set-up, as a function of the range. The worker
// uses it to choose how many threads a task runs on and how wide each
// thread's slices are; the controller, to give a task only to a node
// whose memory can hold it.
//
// Memory. A sieve over [lo, hi] keeps one 8-byte entry for each sieving
// prime p <= sqrt(hi) that has a multiple in the range coprime to 210
// (primesieve's wheel; the others are never stored), plus its buckets and
// segment. With a = width x 48/210, that is about
//
//   pi(a) + a x ln(ln sqrt(hi) / ln a)      entries, when a < sqrt(hi)
//   pi(sqrt(hi))                            entries, otherwise
//
// (every p <= a has a multiple; a larger one with probability a / p, and
// Mertens' theorem sums the 1/p). Measured peak RSS of primesieve 11 on
// x86-64 lies within 5% of 8 bytes per entry plus 5 MB plus 0.01 byte per
// unit of sqrt(hi) (its bucket lists) for 1e9 numbers or more, and below
// it for fewer: 243 MB for 1e9 numbers at 1e18, 1.37 GB for 1e10 numbers
// ending at 2^64 - 1 (docs/benchmarks.md). The estimate adds 10% on top,
// so that it is an upper bound.
//
// Set-up. Every sieve first builds its sieving primes: about 0.5 x
// sqrt(hi) numbers' worth of work (0.3 s near 1e18, 2.4 s near 2^64 on
// x86). PlanSieve weighs it against the slice; no sieve is planned below
// sqrt(hi) / 5 numbers, as primesieve gives no thread less
// (ParallelSieve::idealNumThreads).
//
// Pure and thread-safe.
#ifndef QUARK_COMMON_SIEVE_COST_H_
#define QUARK_COMMON_SIEVE_COST_H_

#include <cstdint>

namespace quark {

// The fewest numbers one sieve should cover when ending at hi:
// max(1e7, sqrt(hi) / 5), as primesieve's threads.
uint64_t MinSieveNumbers(uint64_t hi);

// An upper bound of the bytes one sieve of `width` numbers ending at `hi`
// holds at its peak (width >= 1).
uint64_t SieveBytes(uint64_t hi, uint64_t width);

// The numbers in [lo, hi] (lo <= hi), 2^64 - 1 for the whole 64-bit range.
inline uint64_t RangeWidth(uint64_t lo, uint64_t hi) {
  return hi - lo == UINT64_MAX ? UINT64_MAX : hi - lo + 1;
}

// The least memory a task ending at hi can be sieved in: one thread whose
// sieves are MinSieveNumbers(hi) wide. A node with less cannot take it.
uint64_t MinTaskBytes(uint64_t hi);

// Time. One x86 core (the reference) counts the primes of one number near
// h in about SieveNanosPerNumber(h) ns: 0.18 near 1e12, 0.31 at 1e15,
// 0.6 at 1e18, 1.2 near 2^64 (measured, docs/benchmarks.md; interpolated
// in log h). SieveWork(lo, hi) is the whole range's, in reference-core
// seconds; a node's speed in those units (controller/scheduler.cc) turns
// it into an estimate for any height. Good to a factor of about 1.5.
double SieveNanosPerNumber(uint64_t h);
double SieveWork(uint64_t lo, uint64_t hi);

// The speed (SieveWork per second) assumed per thread of a node not
// measured yet: a Pi 4 core, the slowest node one expects, so that what is
// estimated from it errs on the long side.
inline constexpr double kUnmeasuredSpeedPerThread = 0.3;

// How to sieve `width` numbers ending at `hi` within `budget` bytes on at
// most `max_threads` threads.
struct SievePlan {
  int threads = 1;     // >= 1; each sieves a contiguous piece
  uint64_t slice = 0;  // numbers per sieve within a piece (>= 1)
  uint64_t bytes = 0;  // SieveBytes(hi, slice) x threads
  bool fits = true;    // false: even MinTaskBytes(hi) exceeds budget
};

// As many threads as the width and the budget allow (each piece at least
// MinSieveNumbers(hi) wide), each sieving its piece in one go when it
// fits, else in the widest slices that do. budget 0 means unlimited.
SievePlan PlanSieve(uint64_t hi, uint64_t width, int max_threads,
                    uint64_t budget);

}  // namespace quark

#endif  // QUARK_COMMON_SIEVE_COST_H_
