#include "bench/load/latency.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace quark {

size_t LatencyHistogram::Index(uint64_t us) {
  if (us < kLinear) return static_cast<size_t>(us);
  int octave = static_cast<int>(std::bit_width(us)) - 1;  // >= 6
  const int last = 6 + kOctaves - 1;
  if (octave > last) return kBuckets - 1;
  const uint64_t sub = (us >> (octave - 5)) & (kSub - 1);
  return kLinear + static_cast<size_t>(octave - 6) * kSub + sub;
}

uint64_t LatencyHistogram::Value(size_t i) {
  if (i < kLinear) return i;
  const int octave = static_cast<int>((i - kLinear) / kSub) + 6;
  const uint64_t sub = (i - kLinear) % kSub;
  const uint64_t width = uint64_t{1} << (octave - 5);
  return (kSub + sub) * width + width / 2;
}

void LatencyHistogram::Record(absl::Duration latency) {
  const int64_t us = std::max<int64_t>(absl::ToInt64Microseconds(latency), 0);
  const auto u = static_cast<uint64_t>(us);
  ++buckets_[Index(u)];
  ++count_;
  max_us_ = std::max(max_us_, u);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_us_ = std::max(max_us_, other.max_us_);
}

absl::Duration LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return absl::ZeroDuration();
  q = std::clamp(q, 0.0, 1.0);
  // The smallest value with at least ceil(q * count) samples at or below.
  const auto rank = std::max<uint64_t>(
      static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))), 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      return absl::Microseconds(std::min(Value(i), max_us_));
    }
  }
  return max();
}

}  // namespace quark
