#include "controller/range_accumulator.h"

#include "absl/strings/str_cat.h"

namespace quark {

RangeAccumulator::RangeAccumulator(uint64_t lo, uint64_t hi)
    : lo_(lo), hi_(hi), frontier_(lo) {}

absl::Status RangeAccumulator::Add(uint64_t lo, uint64_t hi,
                                   const proto::Partial& partial) {
  if (lo > hi || lo < lo_ || hi > hi_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "range [", lo, ", ", hi, "] is not inside [", lo_, ", ", hi_, "]"));
  }
  if (Overlaps(lo, hi)) {
    return absl::AlreadyExistsError(
        absl::StrCat("range [", lo, ", ", hi, "] was already added"));
  }
  pending_.emplace(lo, Piece{hi, partial});
  covered_ += static_cast<uint128>(hi - lo) + 1;
  Fold();
  return absl::OkStatus();
}

bool RangeAccumulator::Overlaps(uint64_t lo, uint64_t hi) const {
  if (complete_ || lo < frontier_) return true;
  auto next = pending_.lower_bound(lo);
  if (next != pending_.end() && next->first <= hi) return true;
  if (next != pending_.begin() && std::prev(next)->second.hi >= lo) return true;
  return false;
}

void RangeAccumulator::Fold() {
  while (!complete_ && !pending_.empty() &&
         pending_.begin()->first == frontier_) {
    auto piece = pending_.extract(pending_.begin());
    prefix_ = MergeAdjacent(prefix_, piece.mapped().partial);
    if (piece.mapped().hi == hi_) {
      complete_ = true;
    } else {
      frontier_ = piece.mapped().hi + 1;
    }
  }
}

double RangeAccumulator::Progress() const {
  const double total = static_cast<double>(hi_ - lo_) + 1.0;
  return static_cast<double>(covered_) / total;
}

}  // namespace quark
