// A latency histogram for the load generator: log-linear buckets (exact
// below 64 us, then 32 per power of two, so within ~3%), fixed size
// (~10 KB) however many samples it takes, mergeable. Quantiles are the
// midpoint of their bucket; the maximum is exact.
//
// Pure: no clock. Not thread-safe.
#ifndef QUARK_BENCH_LOAD_LATENCY_H_
#define QUARK_BENCH_LOAD_LATENCY_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"

namespace quark {

class LatencyHistogram {
 public:
  void Record(absl::Duration latency);
  void Merge(const LatencyHistogram& other);
  void Clear() { *this = LatencyHistogram(); }

  uint64_t count() const { return count_; }
  // q in [0, 1]; zero when empty.
  absl::Duration Quantile(double q) const;
  absl::Duration max() const { return absl::Microseconds(max_us_); }

 private:
  static constexpr int kSub = 32;      // buckets per power of two
  static constexpr int kLinear = 64;   // exact buckets, 1 us each
  static constexpr int kOctaves = 40;  // up to 2^46 us: days
  static constexpr size_t kBuckets = kLinear + kOctaves * kSub;

  static size_t Index(uint64_t us);
  // Midpoint of bucket `i`, in us.
  static uint64_t Value(size_t i);

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t max_us_ = 0;
};

}  // namespace quark

#endif  // QUARK_BENCH_LOAD_LATENCY_H_
