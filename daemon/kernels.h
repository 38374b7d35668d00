// The sieving kernels: one per proto::Kind, each computing the Partial of
// an inclusive range [lo, hi] with libprimesieve.
//
// Every kernel fills first_prime and last_prime (0 when the range holds no
// prime) and the fields its kind answers: count (COUNT, and GAPS and SUM
// for free), twins (TWINS), max_gap and max_gap_start (GAPS), sum_lo and
// sum_hi (SUM). The result does not depend on `threads`.
//
// COUNT and TWINS use primesieve's multi-threaded counters. GAPS and SUM
// iterate over the primes, which primesieve does on one thread only, so
// the range is cut into `threads` contiguous pieces iterated in parallel
// and merged in order with MergeAdjacent.
//
// Any lo <= hi up to 2^64 - 1 is valid. Cost: every primesieve call pays
// about 0.7 ns x sqrt(hi) of setup (about 1 s near 2^64).
//
// Thread safety: sets primesieve's global thread count, so run one kernel
// at a time per process (the worker's executor does).
#ifndef QUARK_DAEMON_KERNELS_H_
#define QUARK_DAEMON_KERNELS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "proto/quark.pb.h"

namespace quark {

// Returns the partial of [lo, hi] for `kind` computed on `threads` threads
// (values below 1 mean 1). InvalidArgument for lo > hi or an unknown kind;
// Internal when primesieve or a thread fails (nothing is thrown).
absl::StatusOr<proto::Partial> ComputePartial(proto::Kind kind, uint64_t lo,
                                              uint64_t hi, int threads);

}  // namespace quark

#endif  // QUARK_DAEMON_KERNELS_H_
