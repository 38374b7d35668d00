#include "common/partial.h"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "google/protobuf/util/message_differencer.h"

namespace quark {

uint128 PartialSum(const proto::Partial& p) {
  return (static_cast<uint128>(p.sum_hi()) << 64) | p.sum_lo();
}

void SetPartialSum(uint128 sum, proto::Partial* p) {
  p->set_sum_lo(static_cast<uint64_t>(sum));
  p->set_sum_hi(static_cast<uint64_t>(sum >> 64));
}

std::string Uint128ToString(uint128 value) {
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  } while (value != 0);
  std::reverse(digits.begin(), digits.end());
  return digits;
}

namespace {

using Gaps = google::protobuf::RepeatedPtrField<proto::Gap>;

// The gap tables of two ranges, or of a range and a gap, in one: by size,
// `first`'s entry where both have one (it lies to the left).
Gaps MergeGapTables(const Gaps& first, const Gaps& second) {
  Gaps out;
  out.Reserve(first.size() + second.size());
  auto a = first.begin(), b = second.begin();
  while (a != first.end() || b != second.end()) {
    if (b == second.end() || (a != first.end() && a->size() <= b->size())) {
      if (b != second.end() && a->size() == b->size()) ++b;
      *out.Add() = *a++;
    } else {
      *out.Add() = *b++;
    }
  }
  return out;
}

// The tuplets across the boundary of left and right, and their head and
// tail, into `out`; k = out->tuplet_size() > 0.
void MergeTuplets(const proto::Partial& left, const proto::Partial& right,
                  proto::Partial* out) {
  const int k = static_cast<int>(out->tuplet_size());
  const size_t edge = static_cast<size_t>(k - 1);
  // The primes next to the boundary, in order: a tuplet across it is k
  // consecutive ones of them, ending on the right side.
  std::vector<uint64_t> near(left.tail().begin(), left.tail().end());
  const size_t boundary = near.size();
  near.insert(near.end(), right.head().begin(), right.head().end());
  const TupletPattern pattern = TupletPatternOf(k);
  uint64_t gaps = 0, across = 0;
  for (size_t i = 1; i < near.size(); ++i) {
    gaps = PushGap(gaps, near[i] - near[i - 1]);
    const bool spans = i >= boundary && i + 1 >= static_cast<size_t>(k) &&
                       i + 1 - static_cast<size_t>(k) < boundary;
    if (spans && pattern.Ends(gaps)) ++across;
  }
  out->set_tuplets(left.tuplets() + right.tuplets() + across);
  // A side with fewer than k - 1 primes has them all in its head (and
  // tail), so the heads in a row begin the merged range's primes.
  std::vector<uint64_t> head(left.head().begin(), left.head().end());
  head.insert(head.end(), right.head().begin(), right.head().end());
  head.resize(std::min(head.size(), edge));
  std::vector<uint64_t> tail(left.tail().begin(), left.tail().end());
  tail.insert(tail.end(), right.tail().begin(), right.tail().end());
  if (tail.size() > edge) {
    tail.erase(tail.begin(),
               tail.begin() + static_cast<std::ptrdiff_t>(tail.size() - edge));
  }
  out->mutable_head()->Add(head.begin(), head.end());
  out->mutable_tail()->Add(tail.begin(), tail.end());
}

}  // namespace

proto::Partial MergeAdjacent(const proto::Partial& left,
                             const proto::Partial& right) {
  proto::Partial out;
  out.set_count(left.count() + right.count());
  out.set_twins(left.twins() + right.twins());
  out.set_first_prime(left.first_prime() != 0 ? left.first_prime()
                                              : right.first_prime());
  out.set_last_prime(right.last_prime() != 0 ? right.last_prime()
                                             : left.last_prime());
  // Candidates in ascending order of start; strict > keeps the leftmost.
  out.set_max_gap(left.max_gap());
  out.set_max_gap_start(left.max_gap_start());
  Gaps cross_gap;
  if (left.last_prime() != 0 && right.first_prime() != 0) {
    const uint64_t cross = right.first_prime() - left.last_prime();
    if (cross == 2) out.set_twins(out.twins() + 1);
    if (cross > out.max_gap()) {
      out.set_max_gap(cross);
      out.set_max_gap_start(left.last_prime());
    }
    if (left.gap_table() || right.gap_table()) {
      proto::Gap* gap = cross_gap.Add();
      gap->set_size(cross);
      gap->set_start(left.last_prime());
    }
  }
  if (left.gap_table() || right.gap_table()) {
    out.set_gap_table(true);
    *out.mutable_first_gaps() = MergeGapTables(
        MergeGapTables(left.first_gaps(), cross_gap), right.first_gaps());
  }
  out.set_tuplet_size(left.tuplet_size() != 0 ? left.tuplet_size()
                                              : right.tuplet_size());
  if (out.tuplet_size() >= kMinTuplet && out.tuplet_size() <= kMaxTuplet) {
    MergeTuplets(left, right, &out);
  }
  if (right.max_gap() > out.max_gap()) {
    out.set_max_gap(right.max_gap());
    out.set_max_gap_start(right.max_gap_start());
  }
  SetPartialSum(PartialSum(left) + PartialSum(right), &out);
  return out;
}

bool SamePartial(const proto::Partial& a, const proto::Partial& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

}  // namespace quark
