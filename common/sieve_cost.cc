#include "common/sieve_cost.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace quark {
namespace {

constexpr double kWheelShare = 48.0 / 210.0;  // numbers coprime to 210
constexpr double kBytesPerEntry = 8.0;
constexpr double kFixedBytes = 5e6;
constexpr double kBucketBytesPerRoot = 0.01;
constexpr double kMargin = 1.10;
// Set-up of one sieve, in numbers sieved in the same time: measured 0.3
// to 0.55 x sqrt(hi) between 1e18 and 2^64 (docs/benchmarks.md).
constexpr double kSetupNumbersPerRoot = 0.5;
// Dusart's bound pi(x) < x / (ln x - 1.1) holds from here on; below it
// pi(x) < 6100.
constexpr double kDusartFrom = 60184;

double PrimePiUpperBound(double x) {
  if (x < kDusartFrom) return 6100;
  return x / (std::log(x) - 1.1);
}

double Entries(uint64_t hi, uint64_t width) {
  const double root = std::sqrt(static_cast<double>(hi));
  const double a = static_cast<double>(width) * kWheelShare;
  if (a >= root) return PrimePiUpperBound(root);
  // Past Dusart's start the sum is over a range it overestimates, which
  // keeps the bound an upper one.
  const double from = std::max(a, kDusartFrom);
  if (from >= root) return PrimePiUpperBound(root);
  return PrimePiUpperBound(from) +
         a * std::log(std::log(root) / std::log(from));
}

uint64_t ToBytes(double x) {
  if (x >= 1.8e19) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(x);
}

// Widest sieve of at most `cap` numbers within `budget` bytes, or 0 when
// not even `floor` numbers fit.
uint64_t WidestFitting(uint64_t hi, uint64_t floor, uint64_t cap,
                       uint64_t budget) {
  if (SieveBytes(hi, floor) > budget) return 0;
  uint64_t lo = floor;  // fits
  uint64_t top = cap;
  while (lo < top) {
    const uint64_t mid = lo + (top - lo + 1) / 2;
    if (SieveBytes(hi, mid) <= budget) {
      lo = mid;
    } else {
      top = mid - 1;
    }
  }
  return lo;
}

}  // namespace

uint64_t MinSieveNumbers(uint64_t hi) {
  const uint64_t root =
      static_cast<uint64_t>(std::sqrt(static_cast<double>(hi)));
  return std::max<uint64_t>(10'000'000, root / 5);
}

uint64_t SieveBytes(uint64_t hi, uint64_t width) {
  const double root = std::sqrt(static_cast<double>(hi));
  return ToBytes(kMargin *
                 (kBytesPerEntry * Entries(hi, std::max<uint64_t>(width, 1)) +
                  kFixedBytes + kBucketBytesPerRoot * root));
}

uint64_t MinTaskBytes(uint64_t hi) {
  return SieveBytes(hi, MinSieveNumbers(hi));
}

// (log10 h, ns per number on one reference core), from counting 1e10
// numbers from each height with primesieve on one thread.
constexpr struct {
  double log10;
  double ns;
} kCostPoints[] = {{0, 0.16},  {12, 0.18}, {13, 0.22}, {14, 0.26},
                   {15, 0.31}, {16, 0.38}, {18, 0.60}, {19.27, 1.20}};

double SieveNanosPerNumber(uint64_t h) {
  const double x = std::log10(std::max<double>(static_cast<double>(h), 1));
  const auto* p = kCostPoints;
  const size_t n = sizeof kCostPoints / sizeof kCostPoints[0];
  if (x <= p[0].log10) return p[0].ns;
  for (size_t i = 1; i < n; ++i) {
    if (x <= p[i].log10) {
      const double t = (x - p[i - 1].log10) / (p[i].log10 - p[i - 1].log10);
      return p[i - 1].ns + t * (p[i].ns - p[i - 1].ns);
    }
  }
  return p[n - 1].ns;
}

double SieveWork(uint64_t lo, uint64_t hi) {
  if (lo > hi) return 0;
  // Sixteen geometric steps per decade are plenty for a cost that changes
  // by a few percent per step.
  double seconds = 0;
  uint64_t a = lo;
  while (true) {
    const double next =
        std::max(static_cast<double>(a) * 1.155, static_cast<double>(a) + 1e6);
    const uint64_t b =
        next >= static_cast<double>(hi) ? hi : static_cast<uint64_t>(next);
    // In integers: a double midpoint near 2^64 may round to 2^64 itself.
    const uint64_t mid = a + (b - a) / 2;
    seconds +=
        (static_cast<double>(b - a) + 1) * SieveNanosPerNumber(mid) * 1e-9;
    if (b == hi) return seconds;
    a = b + 1;
  }
}

SievePlan PlanSieve(uint64_t hi, uint64_t width, int max_threads,
                    uint64_t budget) {
  width = std::max<uint64_t>(width, 1);
  const uint64_t min_sieve = std::min(MinSieveNumbers(hi), width);
  const int by_width = static_cast<int>(
      std::min<uint64_t>(width / min_sieve, std::numeric_limits<int>::max()));
  const int most = std::max(1, std::min(max_threads, by_width));
  const double setup =
      kSetupNumbersPerRoot * std::sqrt(static_cast<double>(hi));
  SievePlan best;
  best.fits = false;
  double best_speed = 0;
  for (int threads = 1; threads <= most; ++threads) {
    const uint64_t piece = width / threads + (width % threads != 0);
    uint64_t slice = piece;
    if (budget != 0) {
      slice = WidestFitting(hi, std::min(min_sieve, piece), piece,
                            budget / threads);
      if (slice == 0) break;  // more threads need more memory still
    }
    // Numbers per unit time, each sieve paying its set-up.
    const double speed = threads * static_cast<double>(slice) /
                         (static_cast<double>(slice) + setup);
    if (speed > best_speed) {
      best_speed = speed;
      best = SievePlan{threads, slice, SieveBytes(hi, slice) * threads, true};
    }
  }
  if (!best.fits) {
    best = SievePlan{1, min_sieve, SieveBytes(hi, min_sieve), false};
  }
  return best;
}

}  // namespace quark
