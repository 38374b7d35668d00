// Operator controls over running work: drain/undrain, cancel, priorities.
#include <cstdint>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/cluster_test.h"
#include "tests/integration/reference.h"

namespace quark::integration {
namespace {

bool IsRunning(const proto::Job& j) { return j.state() == proto::RUNNING; }

TEST_F(ClusterTest, DrainStopsWorkUndrainResumes) {
  ASSERT_OK(cluster().Start(1, DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().Submit(proto::COUNT, 0, kBigHi));
  ASSERT_OK(cluster().WaitForNode(
      "w1", [](const proto::Node& n) { return n.tasks_done() > 0; },
      DeadlineIn(60s)));

  const CliResult drained = cluster().RunCli({"drain", "w1"});
  ASSERT_EQ(drained.exit_code, 0) << drained.ToString();
  // Its leases finish (a task takes ~task_seconds) and no new ones come.
  ASSERT_OK_AND_ASSIGN(proto::Node idle, cluster().WaitForNode(
                                             "w1",
                                             [](const proto::Node& n) {
                                               return n.state() ==
                                                          proto::DRAINING &&
                                                      n.leases() == 0;
                                             },
                                             DeadlineIn(30s)));
  ASSERT_OK_AND_ASSIGN(proto::Job paused, cluster().GetJob(job.job_id()));
  ASSERT_NE(paused.state(), proto::DONE)
      << "the job ended before the drain took effect; raise kBigHi";

  // The claim is about a stretch of time: for longer than a task lasts
  // (2 s by default), the job must not move while its only worker is drained.
  const Deadline window_end = DeadlineIn(3s);
  while (Clock::now() < window_end) {
    ASSERT_OK_AND_ASSIGN(proto::Job now, cluster().GetJob(job.job_id()));
    ASSERT_EQ(now.tasks_done(), paused.tasks_done()) << now.ShortDebugString();
    ASSERT_EQ(now.progress(), paused.progress()) << now.ShortDebugString();
    ASSERT_NE(now.state(), proto::DONE);
    ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
    const proto::Node* w1 = FindNode(nodes, "w1");
    ASSERT_NE(w1, nullptr);
    ASSERT_EQ(w1->leases(), 0u) << w1->ShortDebugString();
    ASSERT_EQ(w1->tasks_done(), idle.tasks_done()) << w1->ShortDebugString();
    std::this_thread::sleep_for(200ms);
  }

  const CliResult undrained = cluster().RunCli({"undrain", "w1"});
  ASSERT_EQ(undrained.exit_code, 0) << undrained.ToString();
  ASSERT_OK(cluster().WaitForNode(
      "w1", [](const proto::Node& n) { return n.state() == proto::ACTIVE; },
      DeadlineIn(5s)));
  ASSERT_OK_AND_ASSIGN(proto::Job done, cluster().WaitJob(job.job_id(), 150s));
  EXPECT_TRUE(MatchesReference(done, proto::COUNT, 0, kBigHi));
  EXPECT_GT(done.tasks_done(), paused.tasks_done());
}

TEST_F(ClusterTest, CancelRunningJob) {
  ASSERT_OK(cluster().Start(2, DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().Submit(proto::COUNT, 0, kBigHi));
  // Five tasks merged: the first is among them, as each worker sieves its
  // leases in order (and a lagging first task gets a backup copy).
  ASSERT_OK(cluster().WaitForJob(
      job.job_id(),
      [](const proto::Job& j) { return IsRunning(j) && j.tasks_done() >= 5; },
      DeadlineIn(60s)));

  const CliResult cancelled =
      cluster().RunCli({"cancel", std::to_string(job.job_id())});
  EXPECT_EQ(cancelled.exit_code, 0) << cancelled.ToString();
  EXPECT_NE(cancelled.out.find(" (partial: the first "), std::string::npos)
      << cancelled.ToString();
  const CliResult waited =
      cluster().RunCli({"job", std::to_string(job.job_id()), "--wait"}, 30s);
  EXPECT_EQ(waited.exit_code, 1) << waited.ToString();
  ASSERT_OK_AND_ASSIGN(proto::Job after, cluster().GetJob(job.job_id()));
  EXPECT_EQ(after.state(), proto::CANCELLED) << after.ShortDebugString();
  // What it finished from its start, exact, and marked as partial.
  EXPECT_FALSE(after.has_result()) << after.ShortDebugString();
  ASSERT_TRUE(after.has_partial_range()) << after.ShortDebugString();
  EXPECT_EQ(after.partial_range().lo(), 0u);
  EXPECT_GT(after.partial_range().hi(), 0u);
  EXPECT_LT(after.partial_range().hi(), kBigHi);
  EXPECT_EQ(after.partial().count(),
            ReferenceCount(0, after.partial_range().hi()));
  EXPECT_GT(after.progress(), 0);
  EXPECT_LT(after.progress(), 1);
  EXPECT_NE(
      waited.err.find(absl::StrCat("; ", after.partial().count(), " for 0..",
                                   after.partial_range().hi(), " (partial")),
      std::string::npos)
      << waited.ToString();

  // The workers drop the job's leases and serve the next job.
  for (const char* name : {"w1", "w2"}) {
    EXPECT_TRUE(cluster()
                    .WaitForNode(
                        name,
                        [](const proto::Node& n) { return n.leases() == 0; },
                        DeadlineIn(15s))
                    .ok())
        << name << " still holds leases of a cancelled job";
  }
  ASSERT_OK_AND_ASSIGN(proto::Job next, cluster().SubmitAndWait(
                                            proto::TWINS, 0, 10'000'000, 30s));
  EXPECT_TRUE(MatchesReference(next, proto::TWINS, 0, 10'000'000));
  ASSERT_OK_AND_ASSIGN(proto::Job still, cluster().GetJob(job.job_id()));
  EXPECT_EQ(still.state(), proto::CANCELLED) << still.ShortDebugString();
}

TEST_F(ClusterTest, HigherPriorityJobFinishesFirst) {
  ASSERT_OK(cluster().Start(1, DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Job low,
                       cluster().Submit(proto::COUNT, 0, kBigHi));
  ASSERT_OK(cluster().WaitForJob(
      low.job_id(), [](const proto::Job& j) { return j.tasks_done() > 0; },
      DeadlineIn(60s)));

  constexpr uint64_t kHi = 2'000'000'000;
  ASSERT_OK_AND_ASSIGN(proto::Job high,
                       cluster().Submit(proto::COUNT, 0, kHi, /*priority=*/10));
  EXPECT_EQ(high.priority(), 10);
  ASSERT_OK_AND_ASSIGN(proto::Job high_done,
                       cluster().WaitJob(high.job_id(), 60s));
  EXPECT_TRUE(MatchesReference(high_done, proto::COUNT, 0, kHi));
  ASSERT_OK_AND_ASSIGN(proto::Job low_now, cluster().GetJob(low.job_id()));
  EXPECT_NE(low_now.state(), proto::DONE)
      << "the low-priority job finished first: " << low_now.ShortDebugString();

  ASSERT_OK_AND_ASSIGN(proto::Job low_done,
                       cluster().WaitJob(low.job_id(), 150s));
  EXPECT_TRUE(MatchesReference(low_done, proto::COUNT, 0, kBigHi));
  EXPECT_LE(high_done.finished_ms(), low_done.finished_ms());
}

}  // namespace
}  // namespace quark::integration
