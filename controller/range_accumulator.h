// Folds the partial results of a job's tasks into the partial of the whole
// range, in any order of arrival, each task exactly once.
//
// Partials only merge with their neighbours (common/partial.h), so results
// that arrive ahead of the frontier wait in `pending_` until the gap before
// them is filled; everything behind the frontier is already folded into one
// Partial. Memory is bounded by the number of results out of order, which
// the scheduler bounds by the number of leases.
#ifndef QUARK_CONTROLLER_RANGE_ACCUMULATOR_H_
#define QUARK_CONTROLLER_RANGE_ACCUMULATOR_H_

#include <cstdint>
#include <map>

#include "absl/status/status.h"
#include "common/partial.h"
#include "proto/quark.pb.h"

namespace quark {

class RangeAccumulator {
 public:
  // Accumulates over [lo, hi], lo <= hi.
  RangeAccumulator(uint64_t lo, uint64_t hi);

  // Adds the partial of [lo, hi]. Fails, changing nothing, when the range
  // is empty, outside the job, or overlaps a range already added.
  absl::Status Add(uint64_t lo, uint64_t hi, const proto::Partial& partial);

  bool Complete() const { return complete_; }

  // The partial of the whole range once Complete(); before, the partial
  // of [lo, Frontier() - 1], the part with no gap from the start.
  const proto::Partial& Whole() const { return prefix_; }

  // The first number Whole() does not cover yet: lo while the first piece
  // is missing. Meaningless once Complete().
  uint64_t Frontier() const { return frontier_; }

  // Numbers covered so far, as a fraction of the range (0 to 1).
  double Progress() const;

 private:
  struct Piece {
    uint64_t hi;
    proto::Partial partial;
  };
  bool Overlaps(uint64_t lo, uint64_t hi) const;
  void Fold();

  uint64_t lo_, hi_;       // not const: a job rebuilds its accumulator (a redo)
  uint64_t frontier_;      // first number not folded into prefix_
  bool complete_ = false;  // frontier_ passed hi_
  proto::Partial prefix_;  // the partial of [lo_, frontier_ - 1]
  std::map<uint64_t, Piece> pending_;  // by lo, all beyond frontier_
  uint128 covered_ = 0;                // numbers in prefix_ and pending_
};

}  // namespace quark

#endif  // QUARK_CONTROLLER_RANGE_ACCUMULATOR_H_
