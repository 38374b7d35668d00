#include "tests/testutil/memory_store.h"

#include "common/states.h"

namespace quark::testutil {

void MemoryStore::DeleteTasksOf(uint64_t job) {
  std::erase_if(tasks_,
                [job](const auto& entry) { return entry.second.job == job; });
}

absl::Status MemoryStore::Commit(const StoreBatch& batch) {
  if (!failure_.ok()) return failure_;
  ++commits_;
  for (const StoredTask& task : batch.tasks) tasks_[task.id] = task;
  for (const proto::StoredJob& job : batch.jobs) {
    jobs_[job.id()] = job;
    if (IsFinished(job.state())) DeleteTasksOf(job.id());
  }
  for (uint64_t id : batch.deleted_jobs) {
    DeleteTasksOf(id);
    jobs_.erase(id);
  }
  for (const auto& [node, drained] : batch.drains) {
    if (drained) {
      drained_.insert(node);
    } else {
      drained_.erase(node);
    }
  }
  for (const proto::StoredSuspect& suspect : batch.suspects) {
    suspects_[suspect.node()] = suspect;
  }
  for (const std::string& node : batch.trusted) suspects_.erase(node);
  if (batch.next_job != 0) next_job_ = batch.next_job;
  if (batch.next_task != 0) next_task_ = batch.next_task;
  for (const proto::StoredToken& token : batch.tokens) {
    tokens_[token.id()] = token;
  }
  for (const std::string& id : batch.deleted_tokens) tokens_.erase(id);
  for (const proto::EnrolledNode& node : batch.enrolled) {
    enrolled_[node.key()] = node;
  }
  for (const std::string& key : batch.deleted_enrolled) enrolled_.erase(key);
  return absl::OkStatus();
}

StoredState MemoryStore::State() const {
  StoredState state;
  for (const auto& [id, job] : jobs_) state.jobs.push_back(job);
  for (const auto& [id, task] : tasks_) state.tasks.push_back(task);
  state.drained.assign(drained_.begin(), drained_.end());
  for (const auto& [node, suspect] : suspects_)
    state.suspects.push_back(suspect);
  state.next_job = next_job_;
  state.next_task = next_task_;
  for (const auto& [id, token] : tokens_) state.tokens.push_back(token);
  for (const auto& [key, node] : enrolled_) state.enrolled.push_back(node);
  return state;
}

const proto::EnrolledNode* MemoryStore::Enrolled(const std::string& key) const {
  auto it = enrolled_.find(key);
  return it == enrolled_.end() ? nullptr : &it->second;
}

}  // namespace quark::testutil
