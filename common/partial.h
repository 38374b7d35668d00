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

// Prime k-tuplets (proto::Kind TRIPLETS .. SEXTUPLETS), as primesieve
// counts them: k primes with every member in the range that fit one of
// the admissible patterns (p, p+2, p+6) or (p, p+4, p+6) for k = 3, (p,
// p+2, p+6, p+8) for 4, (p, p+2, p+6, p+8, p+12) or (p, p+4, p+6, p+10,
// p+12) for 5, and (p, p+4, p+6, p+10, p+12, p+16) for 6. Their members
// are consecutive primes (any number between two of them is a multiple of
// 3), so a tuplet is a run of k consecutive primes whose k - 1 gaps fit a
// pattern, and one across a boundary is found from the k - 1 primes on
// either side of it (Partial.head and Partial.tail).
inline constexpr int kMinTuplet = 3, kMaxTuplet = 6;

// The last gaps between consecutive primes, a byte each (gaps above 255
// as 255: no pattern has one), the newest in the low byte: push a gap with
// PushGap, and a TupletPattern says whether the last k primes are a
// k-tuplet.
inline uint64_t PushGap(uint64_t gaps, uint64_t gap) {
  return (gaps << 8) | (gap < 255 ? gap : 255);
}

struct TupletPattern {
  uint64_t mask = 0, one = 0, other = 0;  // k - 1 gaps, oldest high
  bool Ends(uint64_t gaps) const {
    const uint64_t last = gaps & mask;
    return last == one || last == other;
  }
};

// The patterns of k-tuplets, kMinTuplet <= k <= kMaxTuplet.
constexpr TupletPattern TupletPatternOf(int k) {
  switch (k) {
    case 3:
      return {0xffff, 0x0204, 0x0402};
    case 4:
      return {0xffffff, 0x020402, 0x020402};
    case 5:
      return {0xffffffff, 0x02040204, 0x04020402};
    case 6:
      return {0xffffffffff, 0x0402040204, 0x0402040204};
    default:
      return {};
  }
}

// Returns the partial of the concatenation left ++ right, where every
// number covered by `left` is below every number covered by `right` and
// the two ranges are adjacent (no number between them). A range with no
// prime has first_prime == 0 (0 is not prime); either side may be such.
// Fields a kernel did not compute (count for TWINS, say) stay zero and
// merge to zero; so do the first and last prime, which only the kinds
// whose answer crosses a boundary (twins, gaps) carry: without them the
// other fields simply add. On a tie of gaps the leftmost start wins, and
// the gap table keeps the leftmost occurrence of each size. Tuplets are
// merged for the tuplet_size of either side (a side with none, as the
// default Partial, takes the other's).
proto::Partial MergeAdjacent(const proto::Partial& left,
                             const proto::Partial& right);

// Whether two nodes computed the same partial: every field equal (the
// verification vote, controller/scheduler.h).
bool SamePartial(const proto::Partial& a, const proto::Partial& b);

}  // namespace quark

#endif  // QUARK_COMMON_PARTIAL_H_
