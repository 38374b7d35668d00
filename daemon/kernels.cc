#include "daemon/kernels.h"

#include <algorithm>
#include <exception>
#include <functional>
#include <primesieve.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/partial.h"

namespace quark {
namespace {

// Below this many numbers per thread, starting a thread costs more than
// it saves.
constexpr uint64_t kMinNumbersPerPiece = uint64_t{1} << 20;

// The smallest prime in [lo, hi], or 0.
uint64_t FirstPrimeIn(uint64_t lo, uint64_t hi) {
  if (lo > hi || lo > kLargestPrime64) return 0;
  primesieve::iterator it(lo, hi);
  const uint64_t p = it.next_prime();  // the smallest prime >= lo
  return p <= hi ? p : 0;
}

// The largest prime in [lo, hi], or 0.
uint64_t LastPrimeIn(uint64_t lo, uint64_t hi) {
  if (lo > hi || hi < 2) return 0;
  // prev_prime() first returns the largest prime <= hi (so hi + 1, which
  // overflows at 2^64 - 1, is never needed), and 0 below 2.
  primesieve::iterator it(hi, lo);
  const uint64_t p = it.prev_prime();
  return p >= lo ? p : 0;
}

// What one iterated piece found, in plain integers: the hot loop must not
// touch protobuf.
struct Piece {
  uint64_t count = 0;
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t max_gap = 0;
  uint64_t max_gap_start = 0;
  uint128 sum = 0;
};

// Runs every job on its own thread (the first on the caller's) and waits
// for all. An exception escaping a job becomes the returned error.
absl::Status RunConcurrently(const std::vector<std::function<void()>>& jobs) {
  std::vector<std::string> errors(jobs.size());
  auto guarded = [&](size_t i) {
    try {
      jobs[i]();
    } catch (const std::exception& e) {
      errors[i] = e.what();
      if (errors[i].empty()) errors[i] = "unknown error";
    }
  };
  std::vector<std::thread> threads;
  try {
    for (size_t i = 1; i < jobs.size(); ++i) threads.emplace_back(guarded, i);
  } catch (const std::exception& e) {
    errors[0] = absl::StrCat("cannot start thread: ", e.what());
  }
  if (errors[0].empty() && !jobs.empty()) guarded(0);
  for (std::thread& t : threads) t.join();
  for (const std::string& error : errors) {
    if (!error.empty()) return absl::InternalError(error);
  }
  return absl::OkStatus();
}

// Iterates over the primes of [lo, hi] computing only what is asked for.
// next_prime() throws past kLargestPrime64, so it is never called once
// the range or the 64-bit primes are exhausted.
template <bool kGaps, bool kSum>
Piece IteratePrimes(uint64_t lo, uint64_t hi) {
  Piece out;
  if (lo > kLargestPrime64) return out;
  primesieve::iterator it(lo, hi);
  uint64_t p = it.next_prime();
  if (p > hi) return out;
  uint64_t count = 1;
  uint64_t prev = p;
  uint64_t max_gap = 0;
  uint64_t max_gap_start = 0;
  uint128 sum = p;
  out.first = p;
  while (prev < hi && prev != kLargestPrime64) {
    p = it.next_prime();
    if (p > hi) break;
    ++count;
    if constexpr (kGaps) {
      // Strict > keeps the smallest start on ties.
      if (p - prev > max_gap) {
        max_gap = p - prev;
        max_gap_start = prev;
      }
    }
    if constexpr (kSum) sum += p;
    prev = p;
  }
  out.count = count;
  out.last = prev;
  out.max_gap = max_gap;
  out.max_gap_start = max_gap_start;
  out.sum = sum;
  return out;
}

proto::Partial ToPartial(const Piece& piece, bool gaps, bool sum) {
  proto::Partial out;
  out.set_count(piece.count);
  out.set_first_prime(piece.first);
  out.set_last_prime(piece.last);
  if (gaps) {
    out.set_max_gap(piece.max_gap);
    out.set_max_gap_start(piece.max_gap_start);
  }
  if (sum) SetPartialSum(piece.sum, &out);
  return out;
}

// GAPS and SUM: contiguous pieces iterated in parallel, merged in order.
absl::StatusOr<proto::Partial> IterateInPieces(proto::Kind kind, uint64_t lo,
                                               uint64_t hi, int threads) {
  const bool gaps = kind == proto::GAPS;
  const uint128 width = static_cast<uint128>(hi - lo) + 1;  // up to 2^64
  const uint128 wanted = std::max<uint128>(width / kMinNumbersPerPiece, 1);
  const size_t n = static_cast<size_t>(
      std::min<uint128>(wanted, static_cast<uint128>(threads)));
  std::vector<Piece> pieces(n);
  std::vector<std::function<void()>> jobs;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t start = lo + static_cast<uint64_t>(width * i / n);
    const uint64_t stop = lo + static_cast<uint64_t>(width * (i + 1) / n - 1);
    jobs.push_back([&pieces, i, start, stop, gaps] {
      pieces[i] = gaps ? IteratePrimes<true, false>(start, stop)
                       : IteratePrimes<false, true>(start, stop);
    });
  }
  if (absl::Status s = RunConcurrently(jobs); !s.ok()) return s;
  proto::Partial merged = ToPartial(pieces[0], gaps, !gaps);
  for (size_t i = 1; i < n; ++i) {
    merged = MergeAdjacent(merged, ToPartial(pieces[i], gaps, !gaps));
  }
  // MergeAdjacent also counts twins across piece boundaries; they are not
  // this kind's answer and must not depend on the number of pieces.
  merged.clear_twins();
  return merged;
}

// COUNT and TWINS: one multi-threaded primesieve counter, with the first
// and last prime found alongside (each costs one sieve setup).
absl::StatusOr<proto::Partial> Count(proto::Kind kind, uint64_t lo, uint64_t hi,
                                     int threads) {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t counted = 0;
  absl::Status s = RunConcurrently({
      [&] {
        primesieve::set_num_threads(threads);
        counted = kind == proto::COUNT ? primesieve::count_primes(lo, hi)
                                       : primesieve::count_twins(lo, hi);
      },
      [&] { first = FirstPrimeIn(lo, hi); },
      [&] { last = LastPrimeIn(lo, hi); },
  });
  if (!s.ok()) return s;
  proto::Partial out;
  out.set_first_prime(first);
  out.set_last_prime(last);
  if (kind == proto::COUNT) {
    out.set_count(counted);
  } else {
    out.set_twins(counted);
  }
  return out;
}

}  // namespace

absl::StatusOr<proto::Partial> ComputePartial(proto::Kind kind, uint64_t lo,
                                              uint64_t hi, int threads) {
  if (lo > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty range [", lo, ", ", hi, "]"));
  }
  threads = std::max(threads, 1);
  switch (kind) {
    case proto::COUNT:
    case proto::TWINS:
      return Count(kind, lo, hi, threads);
    case proto::GAPS:
    case proto::SUM:
      return IterateInPieces(kind, lo, hi, threads);
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown kind ", static_cast<int>(kind)));
  }
}

}  // namespace quark
