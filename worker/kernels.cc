#include "worker/kernels.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <primesieve.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/kinds.h"
#include "common/partial.h"
#include "common/primality.h"

namespace quark {
namespace {

// A counted sub-slice at least this many times sqrt(hi) wide spends under
// 0.5% of its time on its set-up (about 0.5 x sqrt(hi) numbers' worth).
constexpr double kCountedSliceRoots = 100;

bool Stopped(const SieveControl& control) {
  return control.stop != nullptr &&
         control.stop->load(std::memory_order_relaxed);
}

void Advance(const SieveControl& control, uint64_t numbers) {
  if (control.done != nullptr) {
    control.done->fetch_add(numbers, std::memory_order_relaxed);
  }
}

absl::Status StoppedError() {
  return absl::CancelledError("stopped before the range was sieved");
}

// What an iterated slice found, in plain integers: the hot loop must not
// touch protobuf.
struct Found {
  uint64_t count = 0;
  uint64_t twins = 0;
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t max_gap = 0;
  uint64_t max_gap_start = 0;
  uint128 sum = 0;
  uint64_t tuplets = 0;
  // The gap table: the start of the first gap of size 2i at i (of size 1
  // at 0), 0 for none. No gap below 2^64 exceeds 1550 (common/primality.h),
  // but it grows if one does.
  std::vector<uint64_t> first_gap;
};

proto::Partial ToPartial(const Found& found) {
  proto::Partial out;
  out.set_count(found.count);
  out.set_twins(found.twins);
  out.set_first_prime(found.first);
  out.set_last_prime(found.last);
  out.set_max_gap(found.max_gap);
  out.set_max_gap_start(found.max_gap_start);
  SetPartialSum(found.sum, &out);
  out.set_tuplets(found.tuplets);
  for (size_t i = 0; i < found.first_gap.size(); ++i) {
    if (found.first_gap[i] == 0) continue;
    proto::Gap* gap = out.add_first_gaps();
    gap->set_size(i == 0 ? 1 : 2 * i);
    gap->set_start(found.first_gap[i]);
  }
  out.set_gap_table(!found.first_gap.empty());  // GAPS only
  return out;
}

// The first (or last) up to `n` primes of [a, b], in increasing order,
// by the primality test: the head and tail of a k-tuplet partial.
std::vector<uint64_t> FirstPrimes(uint64_t a, uint64_t b, size_t n) {
  std::vector<uint64_t> primes;
  for (uint64_t x = a; primes.size() < n && x <= b;) {
    const uint64_t p = FirstPrimeIn(x, b);
    if (p == 0) break;
    primes.push_back(p);
    x = p + 1;  // p < 2^64 - 1: the largest prime is below it
  }
  return primes;
}

std::vector<uint64_t> LastPrimes(uint64_t a, uint64_t b, size_t n) {
  std::vector<uint64_t> primes;
  for (uint64_t y = b; primes.size() < n && y >= a;) {
    const uint64_t p = LastPrimeIn(a, y);
    if (p == 0) break;
    primes.push_back(p);
    if (p == a) break;
    y = p - 1;
  }
  std::reverse(primes.begin(), primes.end());
  return primes;
}

// Gives `part`, the partial of [a, b] with its tuplets counted, its
// tuplet size, head and tail.
void SetTupletEdges(int k, uint64_t a, uint64_t b, proto::Partial* part) {
  const size_t edge = static_cast<size_t>(k - 1);
  part->set_tuplet_size(static_cast<uint32_t>(k));
  const std::vector<uint64_t> head = FirstPrimes(a, b, edge);
  const std::vector<uint64_t> tail =
      head.size() < edge ? head : LastPrimes(a, b, edge);
  part->mutable_head()->Add(head.begin(), head.end());
  part->mutable_tail()->Add(tail.begin(), tail.end());
}

// primesieve's counter of k-tuplets in [a, b], 3 <= k <= 6.
uint64_t CountTuplets(int k, uint64_t a, uint64_t b) {
  switch (k) {
    case 3:
      return primesieve::count_triplets(a, b);
    case 4:
      return primesieve::count_quadruplets(a, b);
    case 5:
      return primesieve::count_quintuplets(a, b);
    default:
      return primesieve::count_sextuplets(a, b);
  }
}

// The primes of [a, b] from one primesieve::iterator, a batch at a time,
// computing only what is asked for. generate_next_primes() throws past
// the largest 64-bit prime, so it is called only while a prime below
// 2^64 is still to come.
// For k-tuplets (kTuplets) it counts those whose k - 1 gaps `pattern`
// matches; for gaps it fills the gap table.
template <bool kTwins, bool kGaps, bool kSum, bool kTuplets>
absl::StatusOr<Found> Iterate(uint64_t a, uint64_t b,
                              const SieveControl& control,
                              TupletPattern pattern = {}) {
  Found out;
  if constexpr (kGaps) out.first_gap.assign(1024, 0);
  if (a > kLargestPrime64) return out;
  uint64_t gaps = 0;  // for kTuplets: PushGap's register
  // primesieve reads a stop hint of 2^64 - 1 as "none" and then sieves in
  // growing chunks, each paying the set-up again (27% slower for 1e10
  // numbers at the top); one below it covers the same primes.
  primesieve::iterator it(a, std::min<uint64_t>(b, UINT64_MAX - 1));
  it.generate_next_primes();
  uint64_t reported = a;
  uint64_t prev = 0;
  while (true) {
    const uint64_t* primes = it.primes_;
    size_t n = it.size_;
    const uint64_t top = primes[n - 1];
    const bool last_batch = top >= b || top == kLargestPrime64;
    if (last_batch) n = std::upper_bound(primes, primes + n, b) - primes;
    size_t i = 0;
    if (out.first == 0 && n > 0) {
      out.first = prev = primes[0];
      if constexpr (kSum) out.sum += prev;
      i = 1;
    }
    for (; i < n; ++i) {
      const uint64_t p = primes[i];
      if constexpr (kTwins) out.twins += p - prev == 2;
      if constexpr (kGaps) {
        const uint64_t gap = p - prev;
        // Strict > keeps the smallest start on ties.
        if (gap > out.max_gap) {
          out.max_gap = gap;
          out.max_gap_start = prev;
        }
        const size_t slot = gap >> 1;  // 1 and 2, 4, 6, ... apart
        if (slot >= out.first_gap.size()) out.first_gap.resize(slot + 1, 0);
        if (out.first_gap[slot] == 0) out.first_gap[slot] = prev;
      }
      if constexpr (kTuplets) {
        gaps = PushGap(gaps, p - prev);
        out.tuplets += pattern.Ends(gaps);
      }
      if constexpr (kSum) out.sum += p;
      prev = p;
    }
    out.count += n;
    out.last = prev;
    const uint64_t reached = std::min(top, b);
    Advance(control, reached - reported);
    reported = reached;
    if (last_batch) break;
    if (Stopped(control)) return StoppedError();
    it.generate_next_primes();
  }
  Advance(control, b - reported + 1);
  return out;
}

absl::StatusOr<proto::Partial> Iterated(const KindSpec& kind, uint64_t a,
                                        uint64_t b,
                                        const SieveControl& control) {
  absl::StatusOr<Found> found;
  if (kind.tuplet_size != 0) {
    found = Iterate<false, false, false, true>(
        a, b, control, TupletPatternOf(kind.tuplet_size));
  } else {
    switch (kind.kind) {
      case proto::TWINS:
        found = Iterate<true, false, false, false>(a, b, control);
        break;
      case proto::GAPS:
        found = Iterate<false, true, false, false>(a, b, control);
        break;
      case proto::SUM:
        found = Iterate<false, false, true, false>(a, b, control);
        break;
      default:
        found = Iterate<false, false, false, false>(a, b, control);
        break;
    }
  }
  if (!found.ok()) return found.status();
  proto::Partial part = ToPartial(*found);
  if (kind.tuplet_size != 0) SetTupletEdges(kind.tuplet_size, a, b, &part);
  return part;
}

// [a, b] with primesieve's single-threaded counters, `sub` numbers at a
// time; for TWINS and the tuplets each sub-slice's first and last primes
// come from the primality test, so that those across sub-slices are
// merged in.
absl::StatusOr<proto::Partial> Counted(const KindSpec& kind, uint64_t a,
                                       uint64_t b, uint64_t sub,
                                       const SieveControl& control) {
  proto::Partial out;
  for (uint64_t x = a;;) {
    if (Stopped(control)) return StoppedError();
    const uint64_t y = b - x < sub ? b : x + (sub - 1);
    proto::Partial part;
    if (kind.tuplet_size != 0) {
      part.set_tuplets(CountTuplets(kind.tuplet_size, x, y));
      SetTupletEdges(kind.tuplet_size, x, y, &part);
    } else if (kind.kind == proto::COUNT) {
      part.set_count(primesieve::count_primes(x, y));
    } else {
      part.set_twins(primesieve::count_twins(x, y));
      part.set_first_prime(FirstPrimeIn(x, y));
      part.set_last_prime(LastPrimeIn(x, y));
    }
    out = MergeAdjacent(out, part);
    Advance(control, y - x + 1);
    if (y == b) return out;
    x = y + 1;
  }
}

// One thread's piece [a, b], in slices of at most `slice` numbers.
absl::StatusOr<proto::Partial> SievePiece(const KindSpec& kind, uint64_t a,
                                          uint64_t b, uint64_t slice,
                                          uint64_t counted_sub,
                                          const SieveControl& control) {
  proto::Partial out;
  for (uint64_t x = a;;) {
    const uint64_t y = b - x < slice ? b : x + (slice - 1);
    absl::StatusOr<proto::Partial> part =
        counted_sub != 0
            ? Counted(kind, x, y, std::min(counted_sub, slice), control)
            : Iterated(kind, x, y, control);
    if (!part.ok()) return part.status();
    out = MergeAdjacent(out, *part);
    if (y == b) return out;
    x = y + 1;
  }
}

// Runs every job on its own thread (the first on the caller's) and waits
// for all. An exception escaping a job becomes an Internal error.
absl::Status RunConcurrently(
    const std::vector<std::function<absl::Status()>>& jobs) {
  std::vector<absl::Status> results(jobs.size());
  auto guarded = [&](size_t i) {
    try {
      results[i] = jobs[i]();
    } catch (const std::exception& e) {
      results[i] =
          absl::InternalError(*e.what() != '\0' ? e.what() : "unknown error");
    }
  };
  std::vector<std::thread> threads;
  try {
    for (size_t i = 1; i < jobs.size(); ++i) threads.emplace_back(guarded, i);
  } catch (const std::exception& e) {
    results[0] =
        absl::InternalError(absl::StrCat("cannot start thread: ", e.what()));
  }
  if (results[0].ok() && !jobs.empty()) guarded(0);
  for (std::thread& t : threads) t.join();
  // A real failure says more than the Cancelled of the pieces it stopped.
  for (const absl::Status& s : results) {
    if (!s.ok() && !absl::IsCancelled(s)) return s;
  }
  for (const absl::Status& s : results) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<proto::Partial> ComputePartial(proto::Kind kind, uint64_t lo,
                                              uint64_t hi,
                                              const SievePlan& plan,
                                              const SieveControl& control) {
  if (lo > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty range [", lo, ", ", hi, "]"));
  }
  const KindSpec* spec = FindKind(kind);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown kind ", static_cast<int>(kind)));
  }
  primesieve::set_num_threads(1);  // the pieces are the threads
  const uint128 width = static_cast<uint128>(hi - lo) + 1;  // up to 2^64
  const size_t n = static_cast<size_t>(std::min<uint128>(
      width, static_cast<uint128>(std::max(plan.threads, 1))));
  const uint64_t slice = std::max<uint64_t>(plan.slice, 1);
  const double root = std::sqrt(static_cast<double>(hi));
  const bool counted =
      spec->counted &&
      kCountedSliceRoots * root <= static_cast<double>(control.slice_numbers);
  const uint64_t counted_sub =
      counted ? std::max<uint64_t>(control.slice_numbers, 1) : 0;
  std::vector<proto::Partial> pieces(n);
  std::vector<std::function<absl::Status()>> jobs;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t a = lo + static_cast<uint64_t>(width * i / n);
    const uint64_t b = lo + static_cast<uint64_t>(width * (i + 1) / n - 1);
    jobs.push_back([&, i, a, b]() -> absl::Status {
      absl::StatusOr<proto::Partial> piece =
          SievePiece(*spec, a, b, slice, counted_sub, control);
      if (!piece.ok()) return piece.status();
      pieces[i] = *std::move(piece);
      return absl::OkStatus();
    });
  }
  if (absl::Status s = RunConcurrently(jobs); !s.ok()) return s;
  proto::Partial merged;
  for (const proto::Partial& piece : pieces)
    merged = MergeAdjacent(merged, piece);
  return KeepKindFields(*spec, merged);
}

absl::StatusOr<proto::Partial> ComputePartial(proto::Kind kind, uint64_t lo,
                                              uint64_t hi, int threads) {
  if (lo > hi) return ComputePartial(kind, lo, hi, SievePlan{});
  return ComputePartial(kind, lo, hi,
                        PlanSieve(hi, RangeWidth(lo, hi), threads, 0));
}

}  // namespace quark
