// How fast something goes. From the tasks it finished: the one estimate
// the scheduler (per node and kind, and the node's sieve speed), the
// worker's session (what it logs) and its task runner (the slices it
// sieves in) all keep (RateEstimate). From a total that grows: a job's
// progress as `quark --wait`, `quark top` and the status page show it
// (WindowRate).
#ifndef QUARK_COMMON_RATE_H_
#define QUARK_COMMON_RATE_H_

#include <algorithm>
#include <deque>
#include <optional>
#include <utility>

#include "absl/time/time.h"

namespace quark {

// Work per second, as an average of the measurements so far in which each
// new one weighs half: a node that slows down (another program, a hot Pi
// throttling) is seen within two or three tasks, and one odd task moves
// the figure only halfway. The first measurement is taken as it is.
class RateEstimate {
 public:
  // Shorter than this, a measurement says more about the clock than the
  // work; it is counted as this long.
  static constexpr double kMinSeconds = 1e-6;

  // Adds a measurement: `work` units done in `seconds`.
  void Add(double work, double seconds) {
    const double rate = work / std::max(seconds, kMinSeconds);
    value_ = value_ == 0 ? rate : 0.5 * value_ + 0.5 * rate;
  }

  // Units per second; 0 before the first measurement.
  double value() const { return value_; }
  bool known() const { return value_ > 0; }

 private:
  double value_ = 0;
};

// Units per second of a total seen now and then: the slope over the
// samples of the last `window`, so that a stall shows within it and the
// first seconds' noise does not. Unknown until the samples span
// `min_span`.
class WindowRate {
 public:
  explicit WindowRate(absl::Duration window = absl::Minutes(1),
                      absl::Duration min_span = absl::Seconds(2))
      : window_(window), min_span_(min_span) {}

  // The total was `total` at `when` (samples in time order).
  void Add(absl::Time when, double total) {
    seen_.emplace_back(when, total);
    while (seen_.size() > 2 && when - seen_.front().first > window_) {
      seen_.pop_front();
    }
  }

  // The slope, never below 0; nullopt while the samples span too little.
  std::optional<double> rate() const {
    if (seen_.empty()) return std::nullopt;
    const absl::Duration span = seen_.back().first - seen_.front().first;
    if (span < min_span_) return std::nullopt;
    return std::max(0.0, (seen_.back().second - seen_.front().second) /
                             absl::ToDoubleSeconds(span));
  }

 private:
  absl::Duration window_, min_span_;
  std::deque<std::pair<absl::Time, double>> seen_;  // (when, total)
};

}  // namespace quark

#endif  // QUARK_COMMON_RATE_H_
