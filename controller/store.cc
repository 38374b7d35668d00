#include "controller/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/states.h"
#include "common/status.h"

namespace quark {
namespace {

// PRAGMA application_id of a Quark state database: "QRK1".
constexpr int kApplicationId = 0x51524B31;
// 2 added tokens and enrolled; 3 added tasks.node, tasks.confirmed and
// suspects. An older file gains them on open.
constexpr int kSchemaVersion = 3;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  id    INTEGER PRIMARY KEY,
  body  BLOB NOT NULL            -- quark.proto.StoredJob
);
CREATE TABLE IF NOT EXISTS tasks (
  id      INTEGER PRIMARY KEY,
  job     INTEGER NOT NULL,
  lo      INTEGER NOT NULL,      -- uint64 stored bit for bit
  hi      INTEGER NOT NULL,
  done    INTEGER NOT NULL,
  partial BLOB,                  -- quark.proto.Partial, when done
  node    TEXT NOT NULL DEFAULT '',        -- whose result, when done
  confirmed INTEGER NOT NULL DEFAULT 0     -- another node agreed
);
CREATE INDEX IF NOT EXISTS tasks_by_job ON tasks (job);
CREATE TABLE IF NOT EXISTS drained (
  node  TEXT PRIMARY KEY         -- drained by the operator
);
CREATE TABLE IF NOT EXISTS suspects (
  node  TEXT PRIMARY KEY,        -- found wrong, until quark trust
  body  BLOB NOT NULL            -- quark.proto.StoredSuspect
);
CREATE TABLE IF NOT EXISTS counters (
  key   TEXT PRIMARY KEY,        -- next_job, next_task
  value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
  id    TEXT PRIMARY KEY,        -- the token's public id
  body  BLOB NOT NULL            -- quark.proto.StoredToken (no secret)
);
CREATE TABLE IF NOT EXISTS enrolled (
  key   TEXT PRIMARY KEY,        -- the node's CURVE public key, Z85
  body  BLOB NOT NULL            -- quark.proto.EnrolledNode
);
)sql";

// SQLite integers are signed 64-bit: uint64 values are stored bit for bit.
int64_t ToSql(uint64_t v) { return static_cast<int64_t>(v); }
uint64_t FromSql(int64_t v) { return static_cast<uint64_t>(v); }

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void Int(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Blob(int i, const std::string& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
  }
  std::string ColumnBlob(int i) {
    const void* data = sqlite3_column_blob(stmt_, i);
    const int size = sqlite3_column_bytes(stmt_, i);
    return data == nullptr ? std::string()
                           : std::string(static_cast<const char*>(data), size);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create state directory ", dir, ": ", error.message()));
  }
  // Two controllers on one state would overwrite each other's jobs.
  const std::string lock = (std::filesystem::path(dir) / "quark.lock").string();
  const int lock_fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", lock, ": ", std::strerror(errno)));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int lock_error = errno;
    ::close(lock_fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "state directory ", dir,
        lock_error == EWOULDBLOCK ? " is in use by another quark-controller"
                                  : absl::StrCat(": cannot lock ", lock, ": ",
                                                 std::strerror(lock_error))));
  }
  const std::string path = (std::filesystem::path(dir) / "quark.db").string();
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    ::close(lock_fd);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open state database ", path, ": ", message));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, path, lock_fd));
  RETURN_IF_ERROR(store->PrepareSchema());
  return store;
}

SqliteStore::~SqliteStore() {
  sqlite3_close(db_);
  ::close(lock_fd_);  // releases the flock
}

absl::Status SqliteStore::Error(const std::string& what) const {
  return absl::DataLossError(absl::StrCat(what, " in state database ", path_,
                                          ": ", sqlite3_errmsg(db_)));
}

absl::Status SqliteStore::Exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    return absl::DataLossError(
        absl::StrCat("state database ", path_, ": ", text));
  }
  return absl::OkStatus();
}

// Reads one integer PRAGMA.
static absl::StatusOr<int64_t> Pragma(sqlite3* db, const char* sql) {
  Statement s(db, sql);
  if (!s.ok() || sqlite3_step(s.get()) != SQLITE_ROW) {
    return absl::DataLossError(sqlite3_errmsg(db));
  }
  return sqlite3_column_int64(s.get(), 0);
}

static bool HasColumn(sqlite3* db, const char* table, const char* column) {
  Statement s(db, absl::StrCat("SELECT count(*) FROM pragma_table_info('",
                               table, "') WHERE name = '", column, "'")
                      .c_str());
  return s.ok() && sqlite3_step(s.get()) == SQLITE_ROW &&
         sqlite3_column_int64(s.get(), 0) > 0;
}

absl::Status SqliteStore::PrepareSchema() {
  sqlite3_busy_timeout(db_, 5000);
  // The first read of a file that is not SQLite fails here, clearly.
  auto app = Pragma(db_, "PRAGMA application_id");
  auto version = Pragma(db_, "PRAGMA user_version");
  auto tables = Pragma(db_, "SELECT count(*) FROM sqlite_master");
  if (!app.ok() || !version.ok() || !tables.ok()) {
    return absl::DataLossError(absl::StrCat(
        "state database ", path_, " is unreadable: ", sqlite3_errmsg(db_),
        " (move it away to start afresh; its jobs would be forgotten)"));
  }
  if (*tables > 0 && *app != kApplicationId) {
    return absl::FailedPreconditionError(absl::StrCat(
        path_, " is not a Quark state database (application_id ", *app, ")"));
  }
  if (*version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("state database ", path_, " has schema version ", *version,
                     ", newer than this controller's ", kSchemaVersion));
  }
  auto check = [&]() -> absl::Status {
    Statement s(db_, "PRAGMA quick_check");
    if (!s.ok() || sqlite3_step(s.get()) != SQLITE_ROW)
      return Error("quick_check failed");
    const char* verdict =
        reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0));
    if (verdict == nullptr || std::string(verdict) != "ok") {
      return absl::DataLossError(absl::StrCat(
          "state database ", path_, " is corrupt: ", verdict ? verdict : "?"));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(check());
  // WAL: readers never block the writer and a commit is one append and
  // one fsync of the log. synchronous=FULL makes each commit durable
  // before Commit() returns, which is what an acknowledgement promises.
  RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(Exec("PRAGMA synchronous=FULL"));
  RETURN_IF_ERROR(Exec("BEGIN"));
  absl::Status s = absl::OkStatus();
  if (*tables > 0 && !HasColumn(db_, "tasks", "node")) {
    // CREATE TABLE IF NOT EXISTS leaves an older tasks table as it was.
    s = Exec(
        "ALTER TABLE tasks ADD COLUMN node TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE tasks ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0");
  }
  if (s.ok()) s = Exec(kSchema);
  if (s.ok()) {
    s = Exec(absl::StrCat("PRAGMA application_id=", kApplicationId, ";",
                          "PRAGMA user_version=", kSchemaVersion)
                 .c_str());
  }
  if (!s.ok()) {
    Exec("ROLLBACK").IgnoreError();
    return s;
  }
  return Exec("COMMIT");
}

absl::StatusOr<StoredState> SqliteStore::Load() {
  StoredState state;
  Statement jobs(db_, "SELECT id, body FROM jobs ORDER BY id");
  if (!jobs.ok()) return Error("cannot read jobs");
  int rc;
  while ((rc = sqlite3_step(jobs.get())) == SQLITE_ROW) {
    proto::StoredJob job;
    const uint64_t id = FromSql(sqlite3_column_int64(jobs.get(), 0));
    if (!job.ParseFromString(jobs.ColumnBlob(1)) || job.id() != id ||
        job.range().lo() > job.range().hi()) {
      return absl::DataLossError(
          absl::StrCat("state database ", path_, ": job ", id, " is corrupt"));
    }
    state.jobs.push_back(std::move(job));
  }
  if (rc != SQLITE_DONE) return Error("cannot read jobs");

  Statement tasks(
      db_,
      "SELECT id, job, lo, hi, done, partial, node, confirmed FROM tasks "
      "ORDER BY id");
  if (!tasks.ok()) return Error("cannot read tasks");
  while ((rc = sqlite3_step(tasks.get())) == SQLITE_ROW) {
    StoredTask task;
    task.id = FromSql(sqlite3_column_int64(tasks.get(), 0));
    task.job = FromSql(sqlite3_column_int64(tasks.get(), 1));
    task.lo = FromSql(sqlite3_column_int64(tasks.get(), 2));
    task.hi = FromSql(sqlite3_column_int64(tasks.get(), 3));
    task.done = sqlite3_column_int64(tasks.get(), 4) != 0;
    if (const unsigned char* node = sqlite3_column_text(tasks.get(), 6)) {
      task.node = reinterpret_cast<const char*>(node);
    }
    task.confirmed = sqlite3_column_int64(tasks.get(), 7) != 0;
    if (task.lo > task.hi ||
        (task.done && !task.partial.ParseFromString(tasks.ColumnBlob(5)))) {
      return absl::DataLossError(absl::StrCat(
          "state database ", path_, ": task ", task.id, " is corrupt"));
    }
    state.tasks.push_back(std::move(task));
  }
  if (rc != SQLITE_DONE) return Error("cannot read tasks");

  Statement drained(db_, "SELECT node FROM drained ORDER BY node");
  if (!drained.ok()) return Error("cannot read drained nodes");
  while ((rc = sqlite3_step(drained.get())) == SQLITE_ROW) {
    const unsigned char* name = sqlite3_column_text(drained.get(), 0);
    state.drained.emplace_back(name ? reinterpret_cast<const char*>(name) : "");
  }
  if (rc != SQLITE_DONE) return Error("cannot read drained nodes");
  Statement suspects(db_, "SELECT node, body FROM suspects ORDER BY node");
  if (!suspects.ok()) return Error("cannot read suspect nodes");
  while ((rc = sqlite3_step(suspects.get())) == SQLITE_ROW) {
    proto::StoredSuspect suspect;
    const unsigned char* name = sqlite3_column_text(suspects.get(), 0);
    if (name == nullptr || !suspect.ParseFromString(suspects.ColumnBlob(1)) ||
        suspect.node() != reinterpret_cast<const char*>(name)) {
      return absl::DataLossError(absl::StrCat(
          "state database ", path_, ": a suspect node's record is corrupt"));
    }
    state.suspects.push_back(std::move(suspect));
  }
  if (rc != SQLITE_DONE) return Error("cannot read suspect nodes");
  ASSIGN_OR_RETURN(state.next_job, ReadCounter("next_job"));
  ASSIGN_OR_RETURN(state.next_task, ReadCounter("next_task"));
  RETURN_IF_ERROR(LoadEnrollment(&state));
  return state;
}

absl::Status SqliteStore::LoadEnrollment(StoredState* state) {
  Statement tokens(db_, "SELECT id, body FROM tokens ORDER BY id");
  if (!tokens.ok()) return Error("cannot read tokens");
  int rc;
  while ((rc = sqlite3_step(tokens.get())) == SQLITE_ROW) {
    const unsigned char* id = sqlite3_column_text(tokens.get(), 0);
    proto::StoredToken token;
    if (id == nullptr || !token.ParseFromString(tokens.ColumnBlob(1)) ||
        token.id() != reinterpret_cast<const char*>(id)) {
      return absl::DataLossError(
          absl::StrCat("state database ", path_, ": a token is corrupt"));
    }
    state->tokens.push_back(std::move(token));
  }
  if (rc != SQLITE_DONE) return Error("cannot read tokens");
  Statement nodes(db_, "SELECT key, body FROM enrolled ORDER BY key");
  if (!nodes.ok()) return Error("cannot read enrolled nodes");
  while ((rc = sqlite3_step(nodes.get())) == SQLITE_ROW) {
    const unsigned char* key = sqlite3_column_text(nodes.get(), 0);
    proto::EnrolledNode node;
    if (key == nullptr || !node.ParseFromString(nodes.ColumnBlob(1)) ||
        node.key() != reinterpret_cast<const char*>(key)) {
      return absl::DataLossError(absl::StrCat("state database ", path_,
                                              ": an enrolled node is corrupt"));
    }
    state->enrolled.push_back(std::move(node));
  }
  if (rc != SQLITE_DONE) return Error("cannot read enrolled nodes");
  return absl::OkStatus();
}

// `table` and `column` are the code's own, never input.
absl::Status SqliteStore::WriteRecord(const char* table, const char* column,
                                      const std::string& key,
                                      const std::string& body) {
  Statement s(db_, absl::StrCat("INSERT OR REPLACE INTO ", table, " (", column,
                                ", body) VALUES (?, ?)")
                       .c_str());
  if (!s.ok()) return Error(absl::StrCat("cannot write ", table));
  sqlite3_bind_text(s.get(), 1, key.data(), static_cast<int>(key.size()),
                    SQLITE_TRANSIENT);
  s.Blob(2, body);
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    return Error(absl::StrCat("cannot write ", table));
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::DeleteRecord(const char* table, const char* column,
                                       const std::string& key) {
  Statement s(
      db_,
      absl::StrCat("DELETE FROM ", table, " WHERE ", column, " = ?").c_str());
  if (!s.ok()) return Error(absl::StrCat("cannot delete from ", table));
  sqlite3_bind_text(s.get(), 1, key.data(), static_cast<int>(key.size()),
                    SQLITE_TRANSIENT);
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    return Error(absl::StrCat("cannot delete from ", table));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SqliteStore::ReadCounter(const char* key) {
  Statement s(db_, "SELECT value FROM counters WHERE key = ?");
  if (!s.ok()) return Error("cannot read counters");
  sqlite3_bind_text(s.get(), 1, key, -1, SQLITE_STATIC);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) return Error("cannot read counters");
  return FromSql(sqlite3_column_int64(s.get(), 0));
}

absl::Status SqliteStore::WriteCounter(const char* key, uint64_t value) {
  Statement s(db_,
              "INSERT OR REPLACE INTO counters (key, value) VALUES (?, ?)");
  if (!s.ok()) return Error("cannot write counters");
  sqlite3_bind_text(s.get(), 1, key, -1, SQLITE_STATIC);
  s.Int(2, ToSql(value));
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    return Error("cannot write counters");
  return absl::OkStatus();
}

absl::Status SqliteStore::WriteDrain(const std::string& node, bool drained) {
  Statement s(db_, drained ? "INSERT OR REPLACE INTO drained (node) VALUES (?)"
                           : "DELETE FROM drained WHERE node = ?");
  if (!s.ok()) return Error("cannot write drained nodes");
  sqlite3_bind_text(s.get(), 1, node.data(), static_cast<int>(node.size()),
                    SQLITE_TRANSIENT);
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    return Error("cannot write drained nodes");
  return absl::OkStatus();
}

absl::Status SqliteStore::WriteJob(const proto::StoredJob& job) {
  Statement s(db_, "INSERT OR REPLACE INTO jobs (id, body) VALUES (?, ?)");
  if (!s.ok()) return Error("cannot write job");
  s.Int(1, ToSql(job.id()));
  s.Blob(2, job.SerializeAsString());
  if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("cannot write job");
  if (!IsFinished(job.state())) return absl::OkStatus();
  // The result says all that is left to say about a finished job.
  Statement d(db_, "DELETE FROM tasks WHERE job = ?");
  if (!d.ok()) return Error("cannot delete tasks");
  d.Int(1, ToSql(job.id()));
  if (sqlite3_step(d.get()) != SQLITE_DONE) return Error("cannot delete tasks");
  return absl::OkStatus();
}

absl::Status SqliteStore::WriteTask(const StoredTask& task) {
  Statement s(db_,
              "INSERT OR REPLACE INTO tasks (id, job, lo, hi, done, partial, "
              "node, confirmed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return Error("cannot write task");
  s.Int(1, ToSql(task.id));
  s.Int(2, ToSql(task.job));
  s.Int(3, ToSql(task.lo));
  s.Int(4, ToSql(task.hi));
  s.Int(5, task.done ? 1 : 0);
  if (task.done) s.Blob(6, task.partial.SerializeAsString());
  sqlite3_bind_text(s.get(), 7, task.node.data(),
                    static_cast<int>(task.node.size()), SQLITE_TRANSIENT);
  s.Int(8, task.confirmed ? 1 : 0);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("cannot write task");
  return absl::OkStatus();
}

absl::Status SqliteStore::DeleteJob(uint64_t id) {
  for (const char* sql :
       {"DELETE FROM tasks WHERE job = ?", "DELETE FROM jobs WHERE id = ?"}) {
    Statement s(db_, sql);
    if (!s.ok()) return Error("cannot delete job");
    s.Int(1, ToSql(id));
    if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("cannot delete job");
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::Commit(const StoreBatch& batch) {
  if (batch.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  absl::Status s;
  // Tasks first: a job finishing in this batch deletes its tasks after.
  for (const StoredTask& task : batch.tasks) {
    if (s.ok()) s = WriteTask(task);
  }
  for (const proto::StoredJob& job : batch.jobs) {
    if (s.ok()) s = WriteJob(job);
  }
  for (uint64_t id : batch.deleted_jobs) {
    if (s.ok()) s = DeleteJob(id);
  }
  for (const auto& [node, drained] : batch.drains) {
    if (s.ok()) s = WriteDrain(node, drained);
  }
  for (const proto::StoredSuspect& suspect : batch.suspects) {
    if (s.ok()) {
      s = WriteRecord("suspects", "node", suspect.node(),
                      suspect.SerializeAsString());
    }
  }
  for (const std::string& node : batch.trusted) {
    if (s.ok()) s = DeleteRecord("suspects", "node", node);
  }
  if (s.ok() && batch.next_job != 0)
    s = WriteCounter("next_job", batch.next_job);
  if (s.ok() && batch.next_task != 0)
    s = WriteCounter("next_task", batch.next_task);
  for (const proto::StoredToken& token : batch.tokens) {
    if (s.ok()) {
      s = WriteRecord("tokens", "id", token.id(), token.SerializeAsString());
    }
  }
  for (const std::string& id : batch.deleted_tokens) {
    if (s.ok()) s = DeleteRecord("tokens", "id", id);
  }
  for (const proto::EnrolledNode& node : batch.enrolled) {
    if (s.ok()) {
      s = WriteRecord("enrolled", "key", node.key(), node.SerializeAsString());
    }
  }
  for (const std::string& key : batch.deleted_enrolled) {
    if (s.ok()) s = DeleteRecord("enrolled", "key", key);
  }
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) Exec("ROLLBACK").IgnoreError();
  return s;
}

}  // namespace quark
