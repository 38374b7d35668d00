// The sieving kernels: one per proto::Kind, each computing the Partial of
// an inclusive range [lo, hi] with libprimesieve, on the threads and in the
// memory a SievePlan (common/sieve_cost.h) gives it, and stopping when
// told.
//
// What each kind fills: count (COUNT; GAPS and SUM too), twins (TWINS),
// max_gap and max_gap_start and the gap table, first_gaps (GAPS), sum_lo
// and sum_hi (SUM), the first and last prime (0 when there is none) for
// the kinds whose merge needs them, TWINS and GAPS, and for a k-tuplet
// kind (TRIPLETS .. SEXTUPLETS) tuplet_size, tuplets and the first and
// last k - 1 primes of the range (head, tail), from which MergeAdjacent
// counts the tuplets that straddle two ranges. The result depends on
// neither the plan nor the way the range was cut.
//
// How. The range is cut into plan.threads contiguous pieces sieved in
// parallel, each in slices of at most plan.slice numbers (the memory
// bound), merged in order with MergeAdjacent. A slice is sieved one of two
// ways:
//   - counted, with primesieve's counters, in sub-slices of about
//     `control.slice_numbers` (a second of one thread's work), when such a
//     sub-slice is still 100 x sqrt(hi) wide or more, so that its set-up
//     stays below 0.5%; the first and last prime of each, for TWINS (the
//     first and last k - 1 for the tuplets), come from the 64-bit
//     primality test (common/primality.h), not from more sieves;
//   - iterated, with one primesieve::iterator over the whole slice, for
//     GAPS and SUM always, and for the counted kinds above that height
//     (about 1e15 on x86, 1e14 on a Pi), where the set-up would make
//     second-long sub-slices dear: one set-up, and the primes come in
//     batches of 1024; a tuplet is k consecutive primes whose k - 1 gaps,
//     kept one byte each in a register (PushGap), match its pattern.
// Either way the kernel looks at `control.stop` between two sub-slices or
// batches, so it returns within about a second of being told (primesieve
// cannot be interrupted inside a call).
//
// Any lo <= hi up to 2^64 - 1 is valid.
//
// Thread safety: sets primesieve's global thread count (to 1: the kernel
// runs its own threads), so run one kernel at a time per process (the
// worker's executor does).
#ifndef QUARK_WORKER_KERNELS_H_
#define QUARK_WORKER_KERNELS_H_

#include <atomic>
#include <cstdint>

#include "absl/status/statusor.h"
#include "common/sieve_cost.h"
#include "proto/quark.pb.h"

namespace quark {

struct SieveControl {
  // Set from another thread to stop: the kernel then returns Cancelled
  // within about a sub-slice or a batch. May be null.
  const std::atomic<bool>* stop = nullptr;
  // Numbers sieved so far, added to as the kernel goes. May be null.
  std::atomic<uint64_t>* done = nullptr;
  // Numbers one thread sieves in about a second here (from the worker's
  // measured rate): the sub-slice of the counted way.
  uint64_t slice_numbers = 2'000'000'000;
};

// Returns the partial of [lo, hi] for `kind`, computed as `plan` says.
// InvalidArgument for lo > hi or an unknown kind; Cancelled when stopped;
// Internal when primesieve or a thread fails (nothing is thrown).
absl::StatusOr<proto::Partial> ComputePartial(proto::Kind kind, uint64_t lo,
                                              uint64_t hi,
                                              const SievePlan& plan,
                                              const SieveControl& control = {});

// The same with PlanSieve(hi, width, threads, no memory limit).
absl::StatusOr<proto::Partial> ComputePartial(proto::Kind kind, uint64_t lo,
                                              uint64_t hi, int threads);

}  // namespace quark

#endif  // QUARK_WORKER_KERNELS_H_
