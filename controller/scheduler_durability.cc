// What the scheduler stores and how it is restored (controller/store.h):
// the records an event changed, and the rebuilding of jobs from them.
#include <algorithm>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "controller/scheduler.h"
#include "controller/scheduler_internal.h"

namespace quark {

using scheduler_internal::UnixMillis;
using scheduler_internal::ValidKind;

void Scheduler::MarkTask(const Task& task, const proto::Partial* partial,
                         const std::string& node, bool confirmed) {
  StoredTask& record = dirty_tasks_[task.id];
  record.id = task.id;
  record.job = task.job;
  record.lo = task.lo;
  record.hi = task.hi;
  record.done = partial != nullptr;
  record.partial = partial != nullptr ? *partial : proto::Partial();
  record.node = partial != nullptr ? node : std::string();
  record.confirmed = partial != nullptr && confirmed;
}

StoreBatch Scheduler::TakeChanges() {
  StoreBatch batch;
  for (uint64_t id : dirty_jobs_) {
    auto it = jobs_.find(id);
    if (it != jobs_.end()) batch.jobs.push_back(Record(*it->second));
  }
  for (auto& [id, task] : dirty_tasks_) batch.tasks.push_back(std::move(task));
  batch.deleted_jobs = std::move(deleted_jobs_);
  batch.drains = std::move(dirty_drains_);
  dirty_drains_.clear();
  batch.suspects = std::exchange(dirty_suspects_, {});
  batch.trusted = std::exchange(dirty_trusted_, {});
  if (next_job_ != stored_next_job_)
    batch.next_job = stored_next_job_ = next_job_;
  if (next_task_ != stored_next_task_)
    batch.next_task = stored_next_task_ = next_task_;
  dirty_jobs_.clear();
  dirty_tasks_.clear();
  deleted_jobs_.clear();
  return batch;
}

// What is kept of `job` on disk (FromRecord reads it back).
proto::StoredJob Scheduler::Record(const Job& job) const {
  proto::StoredJob r;
  r.set_id(job.id);
  r.set_kind(job.kind);
  r.mutable_range()->set_lo(job.lo);
  r.mutable_range()->set_hi(job.hi);
  r.set_priority(job.priority);
  r.set_seq(job.seq);
  r.set_state(job.state);
  r.set_submitted_ms(UnixMillis(job.submitted));
  r.set_finished_ms(UnixMillis(job.finished));
  r.set_next(job.next);
  r.set_cut_all(job.cut_all);
  if (job.state == proto::DONE) *r.mutable_result() = job.result;
  r.set_error(job.error);
  r.set_tasks_done(job.tasks_done);
  r.set_duplicates(job.duplicates);
  if (job.started != absl::InfinitePast()) {
    r.set_started_ms(UnixMillis(job.started));
  }
  r.set_task_seconds(job.task_seconds);
  r.set_cpu_seconds(job.cpu_seconds);
  *r.mutable_verification() = job.verification;
  if (!job.Active() && job.state != proto::DONE) {
    r.set_progress(job.final_progress);
    if (job.partial) {
      *r.mutable_partial() = *job.partial;
      r.mutable_partial_range()->set_lo(job.lo);
      r.mutable_partial_range()->set_hi(job.partial_hi);
    }
  }
  return r;
}

// The inverse of Record: the job `r` describes, without its tasks; a
// job that was running is queued again.
absl::StatusOr<std::unique_ptr<Scheduler::Job>> Scheduler::FromRecord(
    const proto::StoredJob& r) {
  if (!ValidKind(r.kind()) || r.range().lo() > r.range().hi() ||
      r.next() < r.range().lo() || r.next() > r.range().hi()) {
    return absl::DataLossError(
        absl::StrCat("stored job ", r.id(), " is inconsistent"));
  }
  auto job = std::make_unique<Job>(r.range().lo(), r.range().hi());
  job->id = r.id();
  job->kind = r.kind();
  job->priority = r.priority();
  job->seq = r.seq();
  job->state = r.state() == proto::RUNNING ? proto::QUEUED : r.state();
  job->submitted = absl::FromUnixMillis(static_cast<int64_t>(r.submitted_ms()));
  if (r.finished_ms() != 0) {
    job->finished = absl::FromUnixMillis(static_cast<int64_t>(r.finished_ms()));
  }
  job->next = r.next();
  job->cut_all = r.cut_all();
  job->result = r.result();
  job->error = r.error();
  job->tasks_done = r.tasks_done();
  job->duplicates = r.duplicates();
  job->final_progress = r.progress();
  if (r.started_ms() != 0) {
    job->started = absl::FromUnixMillis(static_cast<int64_t>(r.started_ms()));
  }
  job->task_seconds = r.task_seconds();
  job->cpu_seconds = r.cpu_seconds();
  job->verification = r.verification();
  // Jobs stored before verification existed have mode 0: as they ran.
  job->verify = r.verification().mode() == proto::VERIFY_UNSPECIFIED
                    ? proto::VERIFY_NONE
                    : r.verification().mode();
  if (r.has_partial_range()) {
    if (r.partial_range().lo() != job->lo || r.partial_range().hi() < job->lo ||
        r.partial_range().hi() >= job->hi) {
      return absl::DataLossError(absl::StrCat(
          "stored job ", r.id(), " has an inconsistent partial range"));
    }
    job->partial = r.partial();
    job->partial_hi = r.partial_range().hi();
  }
  return job;
}

absl::Status Scheduler::Restore(const StoredState& state) {
  std::map<uint64_t, std::unique_ptr<Job>> jobs;
  for (const proto::StoredJob& r : state.jobs) {
    absl::StatusOr<std::unique_ptr<Job>> job = FromRecord(r);
    if (!job.ok()) return job.status();
    jobs.emplace(r.id(), *std::move(job));
  }
  uint64_t max_task = 0;
  for (const StoredTask& t : state.tasks) {
    auto it = jobs.find(t.job);
    if (it == jobs.end() || !it->second->Active()) continue;  // finished since
    max_task = std::max(max_task, t.id);
    if (absl::Status s = RestoreTask(*it->second, t); !s.ok()) return s;
  }
  std::vector<const Job*> finished;
  for (auto& [id, job] : jobs) {
    next_job_ = std::max(next_job_, id + 1);
    next_submit_seq_ = std::max(next_submit_seq_, job->seq + 1);
    if (job->Active()) {
      queue_.insert(job->QueueKey());
      if (job->cross_checked() && !job->verification.has_cross_check_count()) {
        cross_checks_.push_back({job->id, job->lo, job->hi});
      }
    } else {
      finished.push_back(job.get());
    }
  }
  std::sort(finished.begin(), finished.end(), [](const Job* a, const Job* b) {
    return std::tie(a->finished, a->id) < std::tie(b->finished, b->id);
  });
  for (const Job* job : finished) finished_.push_back(job->id);
  next_task_ = std::max({next_task_, max_task + 1, state.next_task});
  next_job_ = std::max(next_job_, state.next_job);
  stored_next_job_ = state.next_job;
  stored_next_task_ = state.next_task;
  drained_.insert(state.drained.begin(), state.drained.end());
  for (const proto::StoredSuspect& suspect : state.suspects) {
    suspects_[suspect.node()] = suspect;
  }
  jobs_ = std::move(jobs);
  ForgetOldJobs();  // the limit may have been lowered
  QLOG(kNotice) << "state restored jobs=" << jobs_.size()
                << " active=" << queue_.size()
                << " tasks=" << state.tasks.size();
  return absl::OkStatus();
}

// A stored task of an active job: merged into its accumulator when done,
// open and first in its queue when not.
absl::Status Scheduler::RestoreTask(Job& job, const StoredTask& t) {
  if (t.done) {
    if (absl::Status s = job.acc.Add(t.lo, t.hi, t.partial); !s.ok()) {
      return absl::DataLossError(
          absl::StrCat("stored task ", t.id, ": ", s.message()));
    }
    job.merged[t.id] = {t.lo, t.hi, t.partial, t.node, t.confirmed};
    return absl::OkStatus();
  }
  Task task;
  task.id = t.id;
  task.job = t.job;
  task.lo = t.lo;
  task.hi = t.hi;
  task.quorum = FirstQuorum(job);
  task.queued = true;
  job.open.emplace(task.id, task);
  job.requeued.push_back(task.id);
  return absl::OkStatus();
}

}  // namespace quark
