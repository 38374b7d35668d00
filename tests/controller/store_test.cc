#include "controller/store.h"

#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

namespace fs = std::filesystem;

StoreBatch Batch(std::vector<proto::StoredJob> jobs,
                 std::vector<StoredTask> tasks,
                 std::vector<uint64_t> deleted = {}) {
  StoreBatch batch;
  batch.jobs = std::move(jobs);
  batch.tasks = std::move(tasks);
  batch.deleted_jobs = std::move(deleted);
  return batch;
}

class StoreTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) /
           ("store-" +
            std::string(
                testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static proto::StoredJob Job(uint64_t id, proto::JobState state) {
    proto::StoredJob j;
    j.set_id(id);
    j.set_kind(proto::SUM);
    j.mutable_range()->set_lo(5);
    j.mutable_range()->set_hi(~uint64_t{0});  // needs all 64 bits
    j.set_state(state);
    j.set_next(1000);
    j.set_seq(id);
    return j;
  }

  static StoredTask Task(uint64_t id, uint64_t job, bool done) {
    StoredTask t;
    t.id = id;
    t.job = job;
    t.lo = ~uint64_t{0} - 10;
    t.hi = ~uint64_t{0};
    t.done = done;
    if (done) t.partial.set_sum_hi(42);
    return t;
  }

  fs::path dir_;
};

TEST_F(StoreTest, WhatIsCommittedIsLoadedBack) {
  {
    auto store = SqliteStore::Open(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    StoreBatch batch;
    batch.jobs = {Job(1, proto::RUNNING)};
    batch.tasks = {Task(7, 1, false), Task(8, 1, true)};
    ASSERT_TRUE((*store)->Commit(batch).ok());
  }
  auto store = SqliteStore::Open(dir_.string());
  ASSERT_TRUE(store.ok()) << store.status();
  auto state = (*store)->Load();
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->jobs.size(), 1u);
  EXPECT_EQ(state->jobs[0].range().hi(), ~uint64_t{0});
  EXPECT_EQ(state->jobs[0].next(), 1000u);
  ASSERT_EQ(state->tasks.size(), 2u);
  EXPECT_FALSE(state->tasks[0].done);
  EXPECT_TRUE(state->tasks[1].done);
  EXPECT_EQ(state->tasks[1].hi, ~uint64_t{0});
  EXPECT_EQ(state->tasks[1].partial.sum_hi(), 42u);
}

TEST_F(StoreTest, LaterVersionsReplaceEarlierOnes) {
  auto store = SqliteStore::Open(dir_.string());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(
      (*store)
          ->Commit(Batch({Job(1, proto::QUEUED)}, {Task(7, 1, false)}, {}))
          .ok());
  ASSERT_TRUE(
      (*store)
          ->Commit(Batch({Job(1, proto::RUNNING)}, {Task(7, 1, true)}, {}))
          .ok());
  auto state = (*store)->Load();
  ASSERT_EQ(state->jobs.size(), 1u);
  EXPECT_EQ(state->jobs[0].state(), proto::RUNNING);
  ASSERT_EQ(state->tasks.size(), 1u);
  EXPECT_TRUE(state->tasks[0].done);
}

TEST_F(StoreTest, AFinishedJobKeepsItsResultAndDropsItsTasks) {
  auto store = SqliteStore::Open(dir_.string());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(
      (*store)
          ->Commit(Batch({Job(1, proto::RUNNING), Job(2, proto::RUNNING)},
                         {Task(7, 1, true), Task(8, 2, true)}, {}))
          .ok());
  proto::StoredJob done = Job(1, proto::DONE);
  done.mutable_result()->set_sum("123456789012345678901234567890");
  ASSERT_TRUE((*store)->Commit(Batch({done}, {}, {})).ok());
  auto state = (*store)->Load();
  ASSERT_EQ(state->jobs.size(), 2u);
  EXPECT_EQ(state->jobs[0].result().sum(), "123456789012345678901234567890");
  ASSERT_EQ(state->tasks.size(), 1u);
  EXPECT_EQ(state->tasks[0].job, 2u);
}

TEST_F(StoreTest, ForgottenJobsLeaveWithTheirTasks) {
  auto store = SqliteStore::Open(dir_.string());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(
      (*store)
          ->Commit(Batch({Job(1, proto::RUNNING), Job(2, proto::RUNNING)},
                         {Task(7, 1, true), Task(8, 2, false)}, {}))
          .ok());
  ASSERT_TRUE((*store)->Commit(Batch({}, {}, {1})).ok());
  auto state = (*store)->Load();
  ASSERT_EQ(state->jobs.size(), 1u);
  EXPECT_EQ(state->jobs[0].id(), 2u);
  ASSERT_EQ(state->tasks.size(), 1u);
  EXPECT_EQ(state->tasks[0].job, 2u);
}

TEST_F(StoreTest, DrainedNodesAndIdCountersSurviveAReopen) {
  {
    auto store = SqliteStore::Open(dir_.string());
    ASSERT_TRUE(store.ok());
    StoreBatch batch;
    batch.drains = {{"pi1", true}, {"pi2", true}};
    batch.next_job = 42;
    batch.next_task = 4242;
    ASSERT_TRUE((*store)->Commit(batch).ok());
    StoreBatch undrain;
    undrain.drains = {{"pi2", false}};
    ASSERT_TRUE((*store)->Commit(undrain).ok());
  }
  auto store = SqliteStore::Open(dir_.string());
  ASSERT_TRUE(store.ok());
  auto state = (*store)->Load();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->drained, std::vector<std::string>{"pi1"});
  EXPECT_EQ(state->next_job, 42u);
  EXPECT_EQ(state->next_task, 4242u);
}

TEST_F(StoreTest, OneControllerPerStateDirectory) {
  auto first = SqliteStore::Open(dir_.string());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = SqliteStore::Open(dir_.string());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(
      second.status().message().find("in use by another quark-controller"),
      std::string::npos)
      << second.status();
  first->reset();  // closing releases it
  EXPECT_TRUE(SqliteStore::Open(dir_.string()).ok());
}

TEST_F(StoreTest, GarbageIsAnErrorAndIsLeftAlone) {
  fs::create_directories(dir_);
  const std::string garbage(4096, 'x');
  std::ofstream(dir_ / "quark.db") << garbage;
  auto store = SqliteStore::Open(dir_.string());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("quark.db"), std::string::npos)
      << store.status();
  std::ifstream in(dir_ / "quark.db");
  std::string after((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(after, garbage);
}

TEST_F(StoreTest, AnotherApplicationsDatabaseIsRefused) {
  fs::create_directories(dir_);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "quark.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteStore::Open(dir_.string());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("not a Quark state database"),
            std::string::npos)
      << store.status();
}

TEST_F(StoreTest, CorruptRecordIsAnErrorNotAFreshStart) {
  {
    auto store = SqliteStore::Open(dir_.string());
    ASSERT_TRUE((*store)->Commit(Batch({Job(1, proto::RUNNING)}, {}, {})).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "quark.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE jobs SET body = x'ffffffff'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteStore::Open(dir_.string());
  ASSERT_TRUE(store.ok());
  auto state = (*store)->Load();
  ASSERT_FALSE(state.ok());
  EXPECT_NE(state.status().message().find("job 1 is corrupt"),
            std::string::npos)
      << state.status();
}

TEST_F(StoreTest, TokensAndEnrolledNodesSurviveAReopen) {
  proto::StoredToken token;
  token.set_id("abcdefgh");
  token.set_verifier(std::string(32, 'v'));
  token.set_uses(3);
  token.set_used(1);
  proto::EnrolledNode node;
  node.set_key("rq:rm>R4&#Ho%yHRSIl>Yi+9gRdvm1Oo1/ko3V]n");  // '#', '/'...
  node.set_name("pi-1");
  node.set_state(proto::ENROLL_PENDING);
  proto::EnrolledNode gone = node;
  gone.set_key("0000000000000000000000000000000000000000");
  {
    auto store = SqliteStore::Open(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    StoreBatch batch;
    batch.tokens = {token};
    batch.enrolled = {node, gone};
    ASSERT_TRUE((*store)->Commit(batch).ok());
    StoreBatch deletion;
    deletion.deleted_enrolled = {gone.key()};
    token.set_used(2);
    deletion.tokens = {token};
    ASSERT_TRUE((*store)->Commit(deletion).ok());
  }
  auto store = SqliteStore::Open(dir_.string());
  ASSERT_TRUE(store.ok()) << store.status();
  auto state = (*store)->Load();
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->tokens.size(), 1u);
  EXPECT_EQ(state->tokens[0].used(), 2u);
  EXPECT_EQ(state->tokens[0].verifier(), token.verifier());
  ASSERT_EQ(state->enrolled.size(), 1u);
  EXPECT_EQ(state->enrolled[0].key(), node.key());
  EXPECT_EQ(state->enrolled[0].state(), proto::ENROLL_PENDING);
  StoreBatch forget;
  forget.deleted_tokens = {"abcdefgh"};
  ASSERT_TRUE((*store)->Commit(forget).ok());
  EXPECT_TRUE((*store)->Load()->tokens.empty());
}

// A state file of schema 1 (before tokens) gains the new tables and keeps
// its jobs.
TEST_F(StoreTest, ASchemaOneFileIsUpgraded) {
  {
    auto store = SqliteStore::Open(dir_.string());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Commit(Batch({Job(7, proto::DONE)}, {})).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "quark.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TABLE tokens; DROP TABLE enrolled; "
                         "PRAGMA user_version=1;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteStore::Open(dir_.string());
  ASSERT_TRUE(store.ok()) << store.status();
  auto state = (*store)->Load();
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->jobs.size(), 1u);
  EXPECT_EQ(state->jobs[0].id(), 7u);
  proto::StoredToken token;
  token.set_id("abcdefgh");
  StoreBatch batch;
  batch.tokens = {token};
  EXPECT_TRUE((*store)->Commit(batch).ok());
}

TEST_F(StoreTest, ASchemaTwoFileGainsWhoComputedEachTaskAndTheSuspects) {
  {
    auto store = SqliteStore::Open(dir_.string());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Commit(Batch({Job(7, proto::RUNNING)}, {})).ok());
  }
  // The tables as version 2 made them, with a merged task in it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "quark.db").c_str(), &db), SQLITE_OK);
  proto::Partial partial;
  partial.set_count(25);
  const std::string sql = absl::StrCat(
      "DROP TABLE tasks; DROP TABLE suspects; "
      "CREATE TABLE tasks (id INTEGER PRIMARY KEY, job INTEGER NOT NULL, "
      "lo INTEGER NOT NULL, hi INTEGER NOT NULL, done INTEGER NOT NULL, "
      "partial BLOB); "
      "INSERT INTO tasks VALUES (3, 7, 0, 100, 1, x'",
      absl::BytesToHexString(partial.SerializeAsString()),
      "'); PRAGMA user_version=2;");
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  {
    auto store = SqliteStore::Open(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    auto state = (*store)->Load();
    ASSERT_TRUE(state.ok()) << state.status();
    ASSERT_EQ(state->tasks.size(), 1u);
    EXPECT_EQ(state->tasks[0].partial.count(), 25u);
    EXPECT_EQ(state->tasks[0].node, "");
    EXPECT_FALSE(state->tasks[0].confirmed);
    StoredTask task = state->tasks[0];
    task.node = "w1";
    task.confirmed = true;
    StoreBatch batch;
    batch.tasks = {task};
    proto::StoredSuspect suspect;
    suspect.set_node("w2");
    suspect.set_reason("outvoted");
    batch.suspects = {suspect};
    ASSERT_TRUE((*store)->Commit(batch).ok());
  }
  auto store = SqliteStore::Open(dir_.string());
  ASSERT_TRUE(store.ok()) << store.status();
  auto state = (*store)->Load();
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->tasks.size(), 1u);
  EXPECT_EQ(state->tasks[0].node, "w1");
  EXPECT_TRUE(state->tasks[0].confirmed);
  ASSERT_EQ(state->suspects.size(), 1u);
  EXPECT_EQ(state->suspects[0].reason(), "outvoted");
  StoreBatch trust;
  trust.trusted = {"w2"};
  ASSERT_TRUE((*store)->Commit(trust).ok());
  EXPECT_TRUE((*store)->Load()->suspects.empty());
}

TEST_F(StoreTest, StateDirThatIsAFileIsAnError) {
  fs::create_directories(dir_.parent_path());
  std::ofstream(dir_) << "not a directory";
  auto store = SqliteStore::Open(dir_.string());
  EXPECT_FALSE(store.ok());
  fs::remove(dir_);
}

}  // namespace
}  // namespace quark
