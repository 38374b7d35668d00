// How fast something goes, from the tasks it finished: the one estimate
// the scheduler (per node and kind, and the node's sieve speed), the
// worker's session (what it logs) and its task runner (the slices it
// sieves in) all keep.
#ifndef QUARK_COMMON_RATE_H_
#define QUARK_COMMON_RATE_H_

#include <algorithm>

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

}  // namespace quark

#endif  // QUARK_COMMON_RATE_H_
