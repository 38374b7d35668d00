// quark-kernel-bench: the worker's kernel (worker/kernels.h) against
// primesieve's own multi-threaded counter on the same range, in one
// process, alternating which goes first. Not a test: it prints figures.
//
//   quark-kernel-bench [--kind=count|twins|triplets|..|sextuplets]
//                      [--threads=2] [--runs=3]
//                      [--slice_numbers=N] LO HI
//
// Each run prints both wall times and the answers (which must agree); the
// last line gives the medians and their ratio.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <primesieve.hpp>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/kinds.h"
#include "common/numbers.h"
#include "common/sieve_cost.h"
#include "worker/kernels.h"

ABSL_FLAG(std::string, kind, "count",
          "count, twins, triplets, quadruplets, quintuplets or sextuplets: "
          "the kinds primesieve has a counter for");
ABSL_FLAG(int, threads, 2, "threads for both sides");
ABSL_FLAG(int, runs, 3, "measurements of each side");
ABSL_FLAG(uint64_t, slice_numbers, 2'000'000'000,
          "numbers one thread sieves in about a second (the worker measures "
          "it; 2e9 is its guess before the first task)");

namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// primesieve's own counter for `kind` (on its threads), and the number
// the kernel's partial gives for it.
uint64_t PrimesieveCount(quark::proto::Kind kind, uint64_t lo, uint64_t hi) {
  switch (kind) {
    case quark::proto::TWINS:
      return primesieve::count_twins(lo, hi);
    case quark::proto::TRIPLETS:
      return primesieve::count_triplets(lo, hi);
    case quark::proto::QUADRUPLETS:
      return primesieve::count_quadruplets(lo, hi);
    case quark::proto::QUINTUPLETS:
      return primesieve::count_quintuplets(lo, hi);
    case quark::proto::SEXTUPLETS:
      return primesieve::count_sextuplets(lo, hi);
    default:
      return primesieve::count_primes(lo, hi);
  }
}

uint64_t KernelCount(quark::proto::Kind kind, const quark::proto::Partial& p) {
  switch (kind) {
    case quark::proto::COUNT:
      return p.count();
    case quark::proto::TWINS:
      return p.twins();
    default:
      return p.tuplets();
  }
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the worker's kernel against primesieve on one range.\n"
      "Usage: quark-kernel-bench [--kind=count|twins|triplets|...] "
      "[--threads=2] [--runs=3] LO HI");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 3) {
    std::fprintf(stderr, "quark-kernel-bench: want LO and HI (see --help)\n");
    return 2;
  }
  absl::StatusOr<uint64_t> lo = quark::ParseNumber(args[1]);
  absl::StatusOr<uint64_t> hi = quark::ParseNumber(args[2]);
  const std::string kind_name = absl::GetFlag(FLAGS_kind);
  const int threads = std::max(1, absl::GetFlag(FLAGS_threads));
  const quark::KindSpec* spec = quark::FindKind(kind_name);
  if (!lo.ok() || !hi.ok() || *lo > *hi || spec == nullptr || !spec->counted) {
    std::fprintf(stderr, "quark-kernel-bench: bad LO, HI or --kind\n");
    return 2;
  }
  const quark::proto::Kind kind = spec->kind;
  const quark::SievePlan plan =
      quark::PlanSieve(*hi, quark::RangeWidth(*lo, *hi), threads, 0);
  std::printf("kind=%s lo=%llu hi=%llu plan: threads=%d slice=%llu\n",
              kind_name.c_str(), static_cast<unsigned long long>(*lo),
              static_cast<unsigned long long>(*hi), plan.threads,
              static_cast<unsigned long long>(plan.slice));
  std::vector<double> ours, theirs;
  for (int run = 0; run < std::max(1, absl::GetFlag(FLAGS_runs)); ++run) {
    double kernel_s = 0, primesieve_s = 0;
    uint64_t kernel_n = 0, primesieve_n = 0;
    for (int side = 0; side < 2; ++side) {
      const bool kernel_side = (side == 0) == (run % 2 == 0);
      const auto start = std::chrono::steady_clock::now();
      if (kernel_side) {
        quark::SieveControl control;
        control.slice_numbers = absl::GetFlag(FLAGS_slice_numbers);
        auto p = quark::ComputePartial(kind, *lo, *hi, plan, control);
        if (!p.ok()) {
          std::fprintf(stderr, "kernel: %s\n",
                       std::string(p.status().message()).c_str());
          return 1;
        }
        kernel_n = KernelCount(kind, *p);
        kernel_s = Seconds(start);
      } else {
        primesieve::set_num_threads(threads);
        primesieve_n = PrimesieveCount(kind, *lo, *hi);
        primesieve_s = Seconds(start);
      }
    }
    std::printf(
        "run %d: kernel %.3f s, primesieve %.3f s, answers %llu %llu%s\n",
        run + 1, kernel_s, primesieve_s,
        static_cast<unsigned long long>(kernel_n),
        static_cast<unsigned long long>(primesieve_n),
        kernel_n == primesieve_n ? "" : "  MISMATCH");
    if (kernel_n != primesieve_n) return 1;
    ours.push_back(kernel_s);
    theirs.push_back(primesieve_s);
  }
  std::printf("median: kernel %.3f s, primesieve %.3f s, ratio %.3f\n",
              Median(ours), Median(theirs), Median(ours) / Median(theirs));
  return 0;
}
