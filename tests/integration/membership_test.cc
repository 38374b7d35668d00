// Workers joining and leaving while a job runs: the answer stays exact.
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/cluster_test.h"

namespace quark::integration {
namespace {

// Three workers on the big job, and w2 "after it has taken work": it has
// finished a task and holds more, the state the events below act on.
absl::StatusOr<proto::Job> BigJobWithW2Busy(Cluster& cluster) {
  if (absl::Status s = cluster.Start(3, DeadlineIn(20s)); !s.ok()) return s;
  absl::StatusOr<proto::Job> job = cluster.Submit(proto::COUNT, 0, kBigHi);
  if (!job.ok()) return job.status();
  absl::StatusOr<proto::Node> busy = cluster.WaitForNode(
      "w2",
      [](const proto::Node& n) { return HasDoneTasks(n) && HasLeases(n); },
      DeadlineIn(60s));
  if (!busy.ok()) return busy.status();
  return job;
}

TEST_F(ClusterTest, WorkerStartedMidJobGetsWork) {
  ASSERT_OK(cluster().Start(1, DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().Submit(proto::COUNT, 0, kBigHi));
  ASSERT_OK(cluster().WaitForNode("w1", HasDoneTasks, DeadlineIn(60s)));
  ExpectStillRunning(cluster(), job.job_id());

  ASSERT_OK(cluster().StartWorker("late"));
  ASSERT_OK(cluster().WaitRegistered("late", DeadlineIn(20s)));
  ASSERT_OK(cluster().WaitForNode("late", HasDoneTasks, DeadlineIn(60s)));

  ASSERT_OK_AND_ASSIGN(proto::Job done, cluster().WaitJob(job.job_id(), 150s));
  EXPECT_TRUE(MatchesReference(done, proto::COUNT, 0, kBigHi));
}

// A node gone is still listed a while, with how it went, in `quark nodes`
// and under "departed" in its --json.
void ExpectListedAsGone(Cluster& cluster, const std::string& name,
                        proto::NodeState state, const std::string& word) {
  absl::StatusOr<proto::NodeList> nodes = cluster.Nodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  const auto gone =
      std::find_if(nodes->departed().begin(), nodes->departed().end(),
                   [&](const proto::Node& n) { return n.name() == name; });
  ASSERT_NE(gone, nodes->departed().end()) << nodes->ShortDebugString();
  EXPECT_EQ(gone->state(), state) << gone->ShortDebugString();
  const CliResult table = cluster.RunCli({"nodes"});
  EXPECT_EQ(table.exit_code, 0) << table.ToString();
  EXPECT_NE(table.out.find(name + "  "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(word), std::string::npos) << table.out;
  EXPECT_NE(
      table.out.find("; gone lately: 1 " + word.substr(0, word.size() - 1)),
      std::string::npos)
      << table.out;
}

TEST_F(ClusterTest, KilledWorkerTasksAreRedone) {
  ASSERT_OK_AND_ASSIGN(proto::Job job, BigJobWithW2Busy(cluster()));

  ExpectStillRunning(cluster(), job.job_id());

  Process* victim = cluster().worker("w2");
  ASSERT_TRUE(victim->Signal(SIGKILL));
  std::optional<ExitStatus> status = victim->Wait(DeadlineIn(10s));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->signal(), SIGKILL) << *status;

  // Silent for liveness * heartbeat = 0.6 s: forgotten, leases requeued.
  EXPECT_TRUE(cluster().WaitForNodeGone("w2", DeadlineIn(10s)).ok())
      << "controller still lists the killed worker";
  ExpectListedAsGone(cluster(), "w2", proto::LOST, "lost ");

  ASSERT_OK_AND_ASSIGN(proto::Job done, cluster().WaitJob(job.job_id(), 150s));
  EXPECT_TRUE(MatchesReference(done, proto::COUNT, 0, kBigHi));
}

TEST_F(ClusterTest, SigtermWorkerFinishesTaskAndLeaves) {
  cluster().options().drain_timeout = "20s";
  ASSERT_OK_AND_ASSIGN(proto::Job job, BigJobWithW2Busy(cluster()));

  ExpectStillRunning(cluster(), job.job_id());

  Process* leaver = cluster().worker("w2");
  ASSERT_TRUE(leaver->Signal(SIGTERM));
  // Within its drain timeout, plus a margin for exiting.
  std::optional<ExitStatus> status = leaver->Wait(DeadlineIn(25s));
  ASSERT_TRUE(status.has_value()) << "worker still running 25 s after SIGTERM";
  EXPECT_TRUE(status->exited()) << *status;
  EXPECT_EQ(status->code(), 0) << *status;
  EXPECT_NE(leaver->ReadStderr().find("left node=w2"), std::string::npos)
      << leaver->ReadStderr();
  // Goodbye: forgotten at once, not after the liveness timeout.
  EXPECT_TRUE(cluster().WaitForNodeGone("w2", DeadlineIn(5s)).ok());
  ExpectListedAsGone(cluster(), "w2", proto::LEFT, "left ");

  ASSERT_OK_AND_ASSIGN(proto::Job done, cluster().WaitJob(job.job_id(), 150s));
  EXPECT_TRUE(MatchesReference(done, proto::COUNT, 0, kBigHi));
}

// A worker killed and started again under the same name (a new
// incarnation) replaces its old self: one node, exact answer.
TEST_F(ClusterTest, RestartedWorkerReplacesItself) {
  ASSERT_OK(cluster().Start(2, DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().Submit(proto::COUNT, 0, kBigHi));
  ASSERT_OK_AND_ASSIGN(
      proto::Node before,
      cluster().WaitForNode(
          "w1",
          [](const proto::Node& n) { return HasDoneTasks(n) && HasLeases(n); },
          DeadlineIn(60s)));
  ExpectStillRunning(cluster(), job.job_id());

  Process* old = cluster().worker("w1");
  ASSERT_TRUE(old->Signal(SIGKILL));
  ASSERT_TRUE(old->Wait(DeadlineIn(10s)).has_value());
  ASSERT_OK(cluster().StartWorker("w1"));
  ASSERT_OK(cluster().WaitRegistered("w1", DeadlineIn(20s)));
  ASSERT_OK(cluster().WaitForNode(
      "w1",
      [&](const proto::Node& n) { return n.session() != before.session(); },
      DeadlineIn(10s)));

  ASSERT_OK_AND_ASSIGN(proto::Job done, cluster().WaitJob(job.job_id(), 150s));
  EXPECT_TRUE(MatchesReference(done, proto::COUNT, 0, kBigHi));
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_EQ(nodes.nodes_size(), 2) << nodes.ShortDebugString();
}

// The controller restarts on the same ports: its workers find it again
// (it does not know their sessions, so they say Hello anew) and serve.
TEST_F(ClusterTest, WorkersRejoinRestartedController) {
  ASSERT_OK(cluster().Start(2, DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(
      proto::Job first,
      cluster().SubmitAndWait(proto::TWINS, 0, 100'000'000, 60s));
  EXPECT_TRUE(MatchesReference(first, proto::TWINS, 0, 100'000'000));

  Process* old = cluster().controller();
  ASSERT_TRUE(old->Signal(SIGTERM));
  std::optional<ExitStatus> status = old->Wait(DeadlineIn(10s));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code(), 0) << *status;

  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  for (const char* name : {"w1", "w2"}) {
    ASSERT_OK(cluster().WaitForNode(
        name, [](const proto::Node&) { return true; }, DeadlineIn(30s)));
  }
  ASSERT_OK_AND_ASSIGN(
      proto::Job job, cluster().SubmitAndWait(proto::SUM, 0, 100'000'000, 60s));
  EXPECT_TRUE(MatchesReference(job, proto::SUM, 0, 100'000'000));
}

TEST_F(ClusterTest, IdleWorkerLeavesOnSigint) {
  ASSERT_OK(cluster().Start(1, DeadlineIn(20s)));
  Process* w = cluster().worker("w1");
  ASSERT_TRUE(w->Signal(SIGINT));
  std::optional<ExitStatus> status = w->Wait(DeadlineIn(10s));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code(), 0) << *status;
  EXPECT_TRUE(WaitForLog(*w, "left node=w1", DeadlineIn(1s)));
  EXPECT_TRUE(cluster().WaitForNodeGone("w1", DeadlineIn(5s)).ok());
}

TEST_F(ClusterTest, WorkersStartedBeforeControllerJoin) {
  ASSERT_OK(cluster().StartWorker("early1"));
  ASSERT_OK(cluster().StartWorker("early2"));
  // The scenario itself, not a wait for something to settle: the
  // controller comes up after its workers have tried to reach it and are
  // backing off (the first retry is after 1 s).
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(cluster().worker("early1")->Running());
  EXPECT_TRUE(cluster().worker("early2")->Running());

  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  // Backoff 1 s, 2 s, 4 s...: both must be in well within this.
  ASSERT_OK(cluster().WaitRegistered("early1", DeadlineIn(30s)));
  ASSERT_OK(cluster().WaitRegistered("early2", DeadlineIn(30s)));
  ASSERT_OK(cluster().WaitForNode(
      "early1", [](const proto::Node&) { return true; }, DeadlineIn(10s)));
  ASSERT_OK(cluster().WaitForNode(
      "early2", [](const proto::Node&) { return true; }, DeadlineIn(10s)));

  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_EQ(nodes.nodes_size(), 2) << nodes.ShortDebugString();

  ASSERT_OK_AND_ASSIGN(
      proto::Job job, cluster().SubmitAndWait(proto::SUM, 0, 100'000'000, 60s));
  EXPECT_TRUE(MatchesReference(job, proto::SUM, 0, 100'000'000));
}

// The controller comes up only after the worker gave up on its first Hello
// and went into backoff: at debug level it logs each "hello node=NAME".
TEST_F(ClusterTest, WorkerInBackoffJoinsLateController) {
  ASSERT_OK(cluster().StartWorker("early", {"--log_level=debug"}));
  ASSERT_TRUE(WaitForLogCount(*cluster().worker("early"), "hello node=early ",
                              2, DeadlineIn(20s)))
      << "the worker never retried its Hello: "
      << cluster().worker("early")->ReadStderr();

  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  // The next Hello comes after at most the current backoff step (2-4 s).
  ASSERT_OK(cluster().WaitRegistered("early", DeadlineIn(30s)));
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  ASSERT_EQ(nodes.nodes_size(), 1)
      << "stale Hellos must not make extra nodes: " << nodes.ShortDebugString();
  EXPECT_EQ(nodes.nodes(0).name(), "early");
  ASSERT_OK_AND_ASSIGN(proto::Job job, cluster().SubmitAndWait(
                                           proto::GAPS, 0, 100'000'000, 60s));
  EXPECT_TRUE(MatchesReference(job, proto::GAPS, 0, 100'000'000));
}

TEST_F(ClusterTest, ControllerExitsZeroOnSigterm) {
  ASSERT_OK(cluster().Start(1, DeadlineIn(20s)));
  ASSERT_TRUE(cluster().controller()->Signal(SIGTERM));
  std::optional<ExitStatus> status =
      cluster().controller()->Wait(DeadlineIn(10s));
  ASSERT_TRUE(status.has_value())
      << "controller still running 10 s after SIGTERM";
  EXPECT_TRUE(status->exited()) << *status;
  EXPECT_EQ(status->code(), 0) << *status;
}

TEST_F(ClusterTest, ControllerExitsZeroOnSigint) {
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_TRUE(cluster().controller()->Signal(SIGINT));
  std::optional<ExitStatus> status =
      cluster().controller()->Wait(DeadlineIn(10s));
  ASSERT_TRUE(status.has_value())
      << "controller still running 10 s after SIGINT";
  EXPECT_EQ(status->code(), 0) << *status;
}

}  // namespace
}  // namespace quark::integration
