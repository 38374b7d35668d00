// The controller's Store (controller/store.h) in memory, with the same
// Commit semantics and the same Load order, so that the fuzz driver can
// check that what the scheduler and the enrollment asked to store restores
// to the same jobs, tokens and enrolled nodes, without SQLite's fsyncs in
// every fuzz iteration.
#ifndef QUARK_FUZZ_MEMORY_STORE_H_
#define QUARK_FUZZ_MEMORY_STORE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "controller/store.h"
#include "proto/store.pb.h"

namespace quark::fuzz {

class MemoryStore {
 public:
  // As Store::Commit: tasks, then jobs (a finished job loses its tasks),
  // then forgotten jobs, drains and counters, then tokens written and
  // deleted, then enrolled nodes written and deleted.
  void Commit(const StoreBatch& batch);

  // As Store::Load: jobs and tasks by id, drained nodes by name, tokens by
  // id, enrolled nodes by key.
  StoredState Load() const;

  // The enrolled node stored under `key`, or nullptr.
  const proto::EnrolledNode* Enrolled(const std::string& key) const;

 private:
  void DeleteTasksOf(uint64_t job);

  std::map<uint64_t, proto::StoredJob> jobs_;
  std::map<uint64_t, StoredTask> tasks_;
  std::set<std::string> drained_;
  uint64_t next_job_ = 0, next_task_ = 0;
  std::map<std::string, proto::StoredToken> tokens_;     // by id
  std::map<std::string, proto::EnrolledNode> enrolled_;  // by key
};

}  // namespace quark::fuzz

#endif  // QUARK_FUZZ_MEMORY_STORE_H_
