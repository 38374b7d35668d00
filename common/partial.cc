#include "common/partial.h"

#include <algorithm>

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

void AppendPrime(uint64_t p, proto::Partial* acc) {
  if (acc->first_prime() == 0) {
    acc->set_first_prime(p);
  } else {
    const uint64_t gap = p - acc->last_prime();
    if (gap == 2) acc->set_twins(acc->twins() + 1);
    if (gap > acc->max_gap()) {
      acc->set_max_gap(gap);
      acc->set_max_gap_start(acc->last_prime());
    }
  }
  acc->set_last_prime(p);
  acc->set_count(acc->count() + 1);
  SetPartialSum(PartialSum(*acc) + p, acc);
}

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
  if (left.last_prime() != 0 && right.first_prime() != 0) {
    const uint64_t cross = right.first_prime() - left.last_prime();
    if (cross == 2) out.set_twins(out.twins() + 1);
    if (cross > out.max_gap()) {
      out.set_max_gap(cross);
      out.set_max_gap_start(left.last_prime());
    }
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
