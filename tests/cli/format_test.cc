#include "controller/cli/format.h"

#include <string>

#include "gtest/gtest.h"

namespace quark {
namespace {

proto::Job DoneJob(proto::Kind kind) {
  proto::Job job;
  job.set_job_id(7);
  job.set_kind(kind);
  job.mutable_range()->set_lo(0);
  job.mutable_range()->set_hi(100000);
  job.set_state(proto::DONE);
  job.set_progress(1.0);
  job.set_tasks_done(4);
  job.set_submitted_ms(1700000000000);
  job.set_finished_ms(1700000012345);
  job.set_version(9);
  proto::JobResult* r = job.mutable_result();
  r->set_count(9592);
  r->set_twins(1224);
  r->set_max_gap(72);
  r->set_max_gap_start(31397);
  r->set_sum("454396537");
  return job;
}

TEST(FormatResultTest, OneLinePerKind) {
  EXPECT_EQ(FormatResult(DoneJob(proto::COUNT)), "9592");
  EXPECT_EQ(FormatResult(DoneJob(proto::TWINS)), "1224");
  EXPECT_EQ(FormatResult(DoneJob(proto::SUM)), "454396537");
  EXPECT_EQ(FormatResult(DoneJob(proto::GAPS)), "max_gap=72 start=31397");
}

TEST(FormatJobTest, KeyValueLines) {
  EXPECT_EQ(FormatJob(DoneJob(proto::COUNT), absl::UTCTimeZone()),
            "id: 7\n"
            "kind: count\n"
            "range: 0..100000\n"
            "priority: 0\n"
            "state: done\n"
            "progress: 100.0%\n"
            "tasks: 4 done, 0 running\n"
            "duplicates: 0\n"
            "result: 9592\n"
            "submitted: 2023-11-14 22:13:20 UTC\n"
            "finished: 2023-11-14 22:13:32 UTC (took 12.3s)\n");
}

TEST(FormatJobTest, FailedShowsTheErrorAndRunningHasNoEnd) {
  proto::Job job = DoneJob(proto::COUNT);
  job.set_state(proto::FAILED);
  job.set_error("task 3 failed 5 times");
  const std::string failed = FormatJob(job, absl::UTCTimeZone());
  EXPECT_NE(failed.find("\nerror: task 3 failed 5 times\n"), std::string::npos)
      << failed;
  EXPECT_EQ(failed.find("result:"), std::string::npos) << failed;

  job.set_finished_ms(job.submitted_ms() + 80);
  EXPECT_NE(FormatJob(job, absl::UTCTimeZone()).find("(took 80ms)"),
            std::string::npos);
  job.set_finished_ms(job.submitted_ms());
  EXPECT_NE(FormatJob(job, absl::UTCTimeZone()).find("(took 0ms)"),
            std::string::npos);

  job.set_state(proto::RUNNING);
  job.set_progress(0.4567);
  job.set_finished_ms(0);
  const std::string running = FormatJob(job, absl::UTCTimeZone());
  EXPECT_NE(running.find("\nprogress: 45.6%\n"), std::string::npos) << running;
  EXPECT_NE(running.find("\nresult: -\n"), std::string::npos) << running;
  EXPECT_NE(running.find("\nfinished: -\n"), std::string::npos) << running;
}

TEST(FormatJobListTest, AlignedTable) {
  proto::JobList list;
  *list.add_jobs() = DoneJob(proto::GAPS);
  proto::Job* queued = list.add_jobs();
  queued->set_job_id(12);
  queued->set_kind(proto::COUNT);
  queued->mutable_range()->set_lo(1000000000000);
  queued->mutable_range()->set_hi(2000000000000);
  queued->set_priority(-1);
  queued->set_state(proto::QUEUED);
  EXPECT_EQ(FormatJobList(list),
            "ID  KIND   RANGE                         PRIO  STATE   PROGRESS  "
            "RESULT\n"
            "7   gaps   0..100000                     0     done    100.0%    "
            "max_gap=72 start=31397\n"
            "12  count  1000000000000..2000000000000  -1    queued  0.0%      "
            "-\n");
}

TEST(FormatJobListTest, Empty) {
  EXPECT_EQ(FormatJobList(proto::JobList()),
            "ID  KIND  RANGE  PRIO  STATE  PROGRESS  RESULT\n(no jobs)\n");
}

TEST(FormatNodeListTest, AlignedTableAndEmptyCluster) {
  proto::NodeList list;
  proto::Node* node = list.add_nodes();
  node->set_name("pi1");
  node->set_state(proto::ACTIVE);
  node->set_cores(4);
  node->set_threads(4);
  node->set_leases(2);
  node->set_tasks_done(130);
  node->set_rate(3.14e9);
  node->set_last_heard_ms_ago(400);
  node->set_key("Cs?(=SbPRcT:PkqSTg1sbjD9jo48USO}:nx8PB1j");
  node = list.add_nodes();
  node->set_name("pi-garage");
  node->set_state(proto::DRAINING);
  node->set_cores(4);
  node->set_threads(3);
  node->set_last_heard_ms_ago(125000);
  EXPECT_EQ(FormatNodeList(list),
            "NAME       STATE     CORES  THREADS  LEASES  TASKS  RATE     "
            "LAST_HEARD  KEY\n"
            "pi1        active    4      4        2       130    3.1e9/s  "
            "0.4s ago    Cs?(=SbPRcT:...\n"
            "pi-garage  draining  4      3        0       0      0/s      "
            "2m5s ago    -\n");
  EXPECT_EQ(FormatNodeList(proto::NodeList()),
            "NAME  STATE  CORES  THREADS  LEASES  TASKS  RATE  LAST_HEARD  KEY\n"
            "(no nodes)\n");
}

TEST(FormatTest, Rates) {
  EXPECT_EQ(FormatRate(0), "0/s");
  EXPECT_EQ(FormatRate(950.4), "950/s");
  EXPECT_EQ(FormatRate(1000), "1.0e3/s");
  EXPECT_EQ(FormatRate(3.14e9), "3.1e9/s");
  EXPECT_EQ(FormatRate(9.96e9), "1.0e10/s");
  EXPECT_EQ(FormatRate(-1), "-");
}

TEST(FormatTest, ShortReplies) {
  proto::Job job = DoneJob(proto::COUNT);
  EXPECT_EQ(FormatSubmitted(job), "job 7\n");
  job.set_state(proto::CANCELLED);
  EXPECT_EQ(FormatCancelled(job), "job 7 cancelled\n");
  proto::Node node;
  node.set_name("pi1");
  node.set_state(proto::DRAINING);
  EXPECT_EQ(FormatNodeState(node), "node pi1 draining\n");
  node.set_state(proto::ACTIVE);
  EXPECT_EQ(FormatNodeState(node), "node pi1 active\n");
  job.set_state(proto::RUNNING);
  job.set_progress(0.5);
  job.set_tasks_running(3);
  EXPECT_EQ(FormatProgress(job), "job 7: running 50.0%, 3 tasks running");
}

TEST(ToJsonTest, ProtoNamesAndDefaults) {
  const auto json = ToJson(DoneJob(proto::COUNT));
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->back(), '\n');
  EXPECT_EQ(json->find('\n'), json->size() - 1) << "one line";
  for (const char* part :
       {"\"job_id\":\"7\"", "\"state\":\"DONE\"", "\"kind\":\"COUNT\"",
        "\"result\":{\"count\":\"9592\"", "\"priority\":0", "\"error\":\"\"",
        "\"duplicates\":\"0\""}) {
    EXPECT_NE(json->find(part), std::string::npos) << part << " in " << *json;
  }
  const auto empty = ToJson(proto::NodeList());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "{\"nodes\":[]}\n");
}

}  // namespace
}  // namespace quark
