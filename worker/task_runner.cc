#include "worker/task_runner.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/numbers.h"
#include "common/sieve_cost.h"

namespace quark {
namespace {

// Tasks shorter than this say little about the rate (set-up, caches).
constexpr double kMinMeasuredSeconds = 0.2;

}  // namespace

TaskRunner::TaskRunner(TaskRunnerOptions options)
    : options_(std::move(options)) {}

MemoryBudget TaskRunner::Budget() const {
  return SieveBudget(ReadMemory(options_.proc_root, options_.cgroup_root),
                     options_.memory_limit);
}

absl::StatusOr<proto::Partial> TaskRunner::Run(const proto::Assign& task,
                                               const SieveControl& control) {
  const uint64_t lo = task.range().lo(), hi = task.range().hi();
  if (lo > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty range [", lo, ", ", hi, "]"));
  }
  const uint64_t width = RangeWidth(lo, hi);
  const MemoryBudget budget = Budget();
  const SievePlan plan = PlanSieve(hi, width, options_.threads, budget.bytes);
  if (!plan.fits) {
    return absl::ResourceExhaustedError(
        absl::StrCat("sieving up to ", hi, " needs at least ",
                     FormatSize(MinTaskBytes(hi)), "; this node may use ",
                     FormatSize(budget.bytes), " (", budget.source, ")"));
  }
  // Said only when the budget changed the plan, not when the width did.
  const SievePlan unlimited = PlanSieve(hi, width, options_.threads, 0);
  if (plan.threads != unlimited.threads || plan.slice != unlimited.slice) {
    QLOG(kInfo) << "task planned within memory node=" << options_.node
                << " lease=" << task.lease() << " threads=" << plan.threads
                << " slice=" << plan.slice << " estimate=\""
                << FormatSize(plan.bytes) << "\" budget=\""
                << FormatSize(budget.bytes) << "\"";
  }
  SieveControl tuned = control;
  if (per_thread_rate_.known()) {
    tuned.slice_numbers =
        static_cast<uint64_t>(std::clamp(per_thread_rate_.value(), 1e6, 1e18));
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<proto::Partial> partial =
      ComputePartial(task.kind(), lo, hi, plan, tuned);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (partial.ok() && seconds >= kMinMeasuredSeconds) {
    per_thread_rate_.Add(static_cast<double>(width) / plan.threads, seconds);
  }
  return partial;
}

}  // namespace quark
