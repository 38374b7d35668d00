// The controller's durable state: jobs and their tasks, in SQLite (WAL
// mode) in the state directory.
//
// What is stored is exactly what a restarted controller needs to carry on
// without recomputing anything it has acknowledged: every job (spec,
// priority, state, how far its range has been cut into tasks, its result),
// every task of an unfinished job (its range, and once merged, its
// partial), and the join tokens and enrolled nodes. A finished job keeps only
// its result; its tasks are deleted in the same transaction.
//
// Writes are batched: the server loop collects the records an event loop
// iteration changed and commits them in one transaction (one fsync), and
// only then sends the messages those changes produced (assignments, acks,
// API replies). So nothing a worker or an operator was told is ever
// missing from disk after a crash.
//
// The controller reaches its state only through the Store interface, as
// leveldb reaches the disk only through Env: SqliteStore in the daemon,
// MemoryStore (tests/testutil/memory_store.h) in the tests and the fuzzer,
// which can also fail a commit on purpose.
//
// Not thread-safe: one thread (the server loop) uses it.
#ifndef QUARK_CONTROLLER_STORE_H_
#define QUARK_CONTROLLER_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/quark.pb.h"
#include "proto/store.pb.h"

struct sqlite3;

namespace quark {

struct StoredTask {
  uint64_t id = 0;
  uint64_t job = 0;
  uint64_t lo = 0, hi = 0;
  bool done = false;
  proto::Partial partial;  // when done
  // When done: the node whose result it is, and whether another node
  // computed the same (docs/security.md): a suspect's unconfirmed results
  // in unfinished jobs are computed again, after a restart too.
  std::string node;
  bool confirmed = false;
};

// Everything one batch changes: the latest version of each record, and
// the jobs forgotten (with their tasks).
struct StoreBatch {
  std::vector<proto::StoredJob> jobs;
  std::vector<StoredTask> tasks;
  std::vector<uint64_t> deleted_jobs;
  // Node names drained (true) or undrained (false).
  std::vector<std::pair<std::string, bool>> drains;
  // Nodes made suspect, and nodes trusted again (by name).
  std::vector<proto::StoredSuspect> suspects;
  std::vector<std::string> trusted;
  // The next ids to hand out, when they moved (0: unchanged). Stored so
  // that ids are never reused, even those of forgotten jobs.
  uint64_t next_job = 0;
  uint64_t next_task = 0;
  // Join tokens and enrolled nodes (controller/enrollment.h), by id and
  // by key.
  std::vector<proto::StoredToken> tokens;
  std::vector<std::string> deleted_tokens;
  std::vector<proto::EnrolledNode> enrolled;
  std::vector<std::string> deleted_enrolled;
  bool empty() const {
    return jobs.empty() && tasks.empty() && deleted_jobs.empty() &&
           drains.empty() && suspects.empty() && trusted.empty() &&
           next_job == 0 && next_task == 0 && tokens.empty() &&
           deleted_tokens.empty() && enrolled.empty() &&
           deleted_enrolled.empty();
  }
};

struct StoredState {
  std::vector<proto::StoredJob> jobs;
  std::vector<StoredTask> tasks;  // of unfinished jobs only
  std::vector<std::string> drained;
  std::vector<proto::StoredSuspect> suspects;
  uint64_t next_job = 0;  // 0 when never stored
  uint64_t next_task = 0;
  std::vector<proto::StoredToken> tokens;
  std::vector<proto::EnrolledNode> enrolled;
};

class Store {
 public:
  virtual ~Store() = default;

  // Reads everything back, checking every record.
  virtual absl::StatusOr<StoredState> Load() = 0;

  // Writes the batch in one durable transaction, in this order: tasks,
  // jobs (a finished job's tasks are deleted), forgotten jobs (with their
  // tasks), drains, suspects and trusted, counters, tokens written and deleted,
  // enrolled nodes written and deleted. On failure nothing of it is written.
  virtual absl::Status Commit(const StoreBatch& batch) = 0;
};

// The Store of the daemon: SQLite in WAL mode, one fsync a commit.
class SqliteStore final : public Store {
 public:
  // Opens, or creates, `dir`/quark.db. Fails with a message naming the file
  // when the directory cannot be made or written, when another controller
  // uses it (an exclusive flock on `dir`/quark.lock), when the file is not
  // a Quark database, is corrupt, or was written by a newer Quark: never
  // starts afresh over state it cannot read.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(
      const std::string& dir);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  absl::StatusOr<StoredState> Load() override;
  absl::Status Commit(const StoreBatch& batch) override;

  const std::string& path() const { return path_; }

 private:
  SqliteStore(sqlite3* db, std::string path, int lock_fd)
      : db_(db), path_(std::move(path)), lock_fd_(lock_fd) {}
  absl::Status Exec(const char* sql);
  absl::Status Error(const std::string& what) const;
  absl::Status PrepareSchema();
  absl::Status WriteJob(const proto::StoredJob& job);
  absl::Status WriteTask(const StoredTask& task);
  absl::Status DeleteJob(uint64_t id);
  absl::Status WriteDrain(const std::string& node, bool drained);
  absl::Status WriteCounter(const char* key, uint64_t value);
  // INSERT OR REPLACE of a protobuf record under a text key, or DELETE.
  absl::Status WriteRecord(const char* table, const char* column,
                           const std::string& key, const std::string& body);
  absl::Status DeleteRecord(const char* table, const char* column,
                            const std::string& key);
  absl::Status LoadEnrollment(StoredState* state);
  absl::StatusOr<uint64_t> ReadCounter(const char* key);

  sqlite3* const db_;
  const std::string path_;
  const int lock_fd_;  // flock'ed: one controller per state directory
};

}  // namespace quark

#endif  // QUARK_CONTROLLER_STORE_H_
