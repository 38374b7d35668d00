// Partial results of prime searches and how they combine.
//
// A Partial summarizes the primes of one inclusive range [lo, hi]: how many,
// how many twin pairs lie wholly inside, the first and last prime, the
// largest gap between consecutive primes inside, and their 128-bit sum.
// Partials of adjacent ranges merge exactly: a twin pair or a gap that
// straddles the boundary is recovered from the last prime of the left
// range and the first prime of the right one.
#ifndef QUARK_COMMON_PARTIAL_H_
#define QUARK_COMMON_PARTIAL_H_

#include <cstdint>
#include <string>

#include "proto/quark.pb.h"

namespace quark {

using uint128 = unsigned __int128;

// The largest prime below 2^64. primesieve::iterator throws past it.
inline constexpr uint64_t kLargestPrime64 = 18446744073709551557ull;

uint128 PartialSum(const proto::Partial& p);
void SetPartialSum(uint128 sum, proto::Partial* p);

// Decimal digits of a 128-bit unsigned number.
std::string Uint128ToString(uint128 value);

// Adds prime `p` to `acc`, where every prime already in `acc` is < p.
// Used by the iterating kernels; O(1).
void AppendPrime(uint64_t p, proto::Partial* acc);

// Returns the partial of the concatenation left ++ right, where every
// number covered by `left` is below every number covered by `right` and
// the two ranges are adjacent (no number between them). A range with no
// prime has first_prime == 0 (0 is not prime); either side may be such.
// Fields a kernel did not compute (count for TWINS, say) stay zero and
// merge to zero; so do the first and last prime, which only the kinds
// whose answer crosses a boundary (twins, gaps) carry: without them the
// other fields simply add. On a tie of gaps the leftmost start wins.
proto::Partial MergeAdjacent(const proto::Partial& left,
                             const proto::Partial& right);

// Whether two nodes computed the same partial: every field equal (the
// verification vote, controller/scheduler.h).
bool SamePartial(const proto::Partial& a, const proto::Partial& b);

}  // namespace quark

#endif  // QUARK_COMMON_PARTIAL_H_
