#include "controller/chunk_policy.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace quark {
namespace {

// Converts a non-negative double to uint64_t, saturating.
uint64_t Saturate(double x) {
  if (!(x > 0)) return 0;
  if (x >= 18446744073709551615.0) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(x);
}

// max(floor, factor x sqrt(hi)), at least 1.
uint64_t RootRule(uint64_t floor, double factor, uint64_t hi) {
  const double root = std::sqrt(static_cast<double>(hi));
  return std::max<uint64_t>({floor, Saturate(factor * root), 1});
}

// The m with m = RootRule(floor, factor, next + m - 1). m -> f sqrt(next + m)
// is a contraction for m >= f^2 / 4 (its slope f / (2 sqrt(next + m)) < 1
// there), so a few steps from below settle it to within a number; each step
// only grows m.
uint64_t RootRuleFrom(uint64_t floor, double factor, uint64_t next) {
  uint64_t m = RootRule(floor, factor, next);
  for (int i = 0; i < 8; ++i) {
    const uint64_t top =
        m - 1 > UINT64_MAX - next ? UINT64_MAX : next + (m - 1);
    const uint64_t grown = RootRule(floor, factor, top);
    if (grown <= m) break;
    m = grown;
  }
  return m;
}

}  // namespace

uint64_t MinTaskNumbers(const ChunkOptions& options, uint64_t hi) {
  return RootRule(options.min_numbers, options.sqrt_factor, hi);
}

uint64_t MinTaskNumbersFrom(const ChunkOptions& options, uint64_t next) {
  return RootRuleFrom(options.min_numbers, options.sqrt_factor, next);
}

uint64_t TailMinTaskNumbersFrom(const ChunkOptions& options, uint64_t next) {
  return RootRuleFrom(options.min_numbers,
                      std::min(options.tail_sqrt_factor, options.sqrt_factor),
                      next);
}

uint64_t ChooseTaskNumbers(const ChunkOptions& options,
                           const ChunkRequest& request) {
  // remaining - 1 never overflows; hi - next + 1 does for [0, 2^64 - 1].
  const uint64_t last_offset = request.hi - request.next;
  const uint64_t remaining = last_offset == std::numeric_limits<uint64_t>::max()
                                 ? last_offset
                                 : last_offset + 1;
  const uint64_t minimum =
      std::min(MinTaskNumbersFrom(options, request.next), remaining);
  const int nodes = std::max(request.nodes, 1);
  // Below the minimum only for other nodes to share the tail: a node alone
  // would pay the extra set-ups for nothing.
  const uint64_t tail_minimum =
      nodes == 1
          ? minimum
          : std::min(TailMinTaskNumbersFrom(options, request.next), minimum);
  uint64_t target = request.rate > 0
                        ? Saturate(request.rate * options.task_seconds)
                        : minimum;
  if (request.last > 0) {
    target = std::min(target, Saturate(static_cast<double>(request.last) *
                                       options.max_growth));
  }
  target = std::max(target, minimum);
  const uint64_t tail =
      Saturate(static_cast<double>(remaining) / (options.tail_split * nodes));
  const uint64_t size = std::max(std::min(target, tail), tail_minimum);
  if (size >= remaining || remaining - size < tail_minimum) return remaining;
  return size;
}

}  // namespace quark
