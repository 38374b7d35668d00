#include "controller/status.h"

#include <algorithm>
#include <set>
#include <string>

#include "common/health.h"
#include "common/kinds.h"
#include "common/states.h"

namespace quark {
namespace {

double Width(const proto::Range& range) {
  return static_cast<double>(range.hi() - range.lo()) + 1;
}

proto::NodeStatus NodeView(const proto::Node& node) {
  proto::NodeStatus view;
  *view.mutable_node() = node;
  view.set_state(NodeWord(node));
  if (node.has_throttled_bits()) {
    view.set_health(HealthText(node.throttled_bits()));
  }
  return view;
}

proto::JobStatus JobView(const proto::Job& job) {
  proto::JobStatus view;
  *view.mutable_job() = job;
  const KindSpec* spec = FindKind(job.kind());
  view.set_kind(spec == nullptr ? "?" : spec->name);
  if (job.state() == proto::DONE && spec != nullptr) {
    view.set_result(spec->text(job.result()));
  }
  return view;
}

}  // namespace

proto::ClusterStatus StatusTracker::Update(
    absl::Time now, const proto::NodeList& nodes,
    const std::vector<proto::Job>& unfinished,
    const std::vector<proto::Job>& ended, uint64_t tasks_merged,
    uint64_t numbers_merged) {
  proto::ClusterStatus status;
  status.set_now_ms(static_cast<uint64_t>(absl::ToUnixMillis(now)));
  for (const proto::Node& node : nodes.nodes()) {
    *status.add_nodes() = NodeView(node);
  }
  for (const proto::Node& node : nodes.departed()) {
    *status.add_departed() = NodeView(node);
  }

  std::set<uint64_t> ids;
  for (const proto::Job& job : unfinished) {
    if (job.state() == proto::RUNNING) {
      status.set_jobs_running(status.jobs_running() + 1);
    } else {
      status.set_jobs_queued(status.jobs_queued() + 1);
    }
  }
  for (size_t i = 0; i < std::min(unfinished.size(), kUnfinishedShown); ++i) {
    const proto::Job& job = unfinished[i];
    ids.insert(job.job_id());
    proto::JobStatus& view = *status.add_jobs() = JobView(job);
    WindowRate& rate = job_rates_[job.job_id()];
    const double merged = job.progress() * Width(job.range());
    rate.Add(now, merged);
    if (const std::optional<double> r = rate.rate()) {
      view.set_rate(*r);
      if (*r > 0) view.set_eta_seconds((Width(job.range()) - merged) / *r);
    }
  }
  std::erase_if(job_rates_, [&ids](const auto& entry) {
    return !ids.contains(entry.first);
  });
  for (size_t i = 0; i < std::min(ended.size(), kEndedShown); ++i) {
    *status.add_jobs() = JobView(ended[i]);
  }

  AddThroughput(now, numbers_merged);
  for (const double value : steps_) status.add_throughput(value);
  status.set_throughput_step_seconds(
      static_cast<uint32_t>(absl::ToInt64Seconds(kStep)));
  status.set_throughput_end_ms(
      static_cast<uint64_t>(absl::ToUnixMillis(step_start_)));
  status.set_tasks_merged(tasks_merged);
  status.set_numbers_merged(numbers_merged);
  return status;
}

// What was merged since the step began counts in the step, at the step's
// end; when calls skipped steps (the loop was busy), it is spread evenly
// over them.
void StatusTracker::AddThroughput(absl::Time now, uint64_t numbers_merged) {
  if (step_start_ == absl::InfinitePast()) {
    step_start_ = now;
    step_base_ = numbers_merged;
    return;
  }
  if (now < step_start_ + kStep) return;
  const int64_t elapsed = (now - step_start_) / kStep;  // whole steps, >= 1
  const uint64_t merged =
      numbers_merged > step_base_ ? numbers_merged - step_base_ : 0;
  const double per_second =
      static_cast<double>(merged) /
      (static_cast<double>(elapsed) * absl::ToDoubleSeconds(kStep));
  for (int64_t i = 0; i < std::min<int64_t>(elapsed, kSteps); ++i) {
    steps_.push_back(per_second);
  }
  while (steps_.size() > kSteps) steps_.pop_front();
  step_start_ += elapsed * kStep;
  step_base_ = numbers_merged;
}

}  // namespace quark
