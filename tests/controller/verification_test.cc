// Verification (docs/security.md) on a fake clock: the choice of the
// verifier, the vote, the suspect and the redo of its unconfirmed
// results, the cross-check by primecount. Each test runs simulated
// workers, honest or lying, against the scheduler until no work is left.
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <primesieve.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/health.h"
#include "common/transport.h"
#include "controller/cross_check.h"
#include "controller/scheduler.h"
#include "gtest/gtest.h"
#include "tests/testutil/memory_store.h"
#include "tests/testutil/messages.h"
#include "tests/testutil/reference_partial.h"

namespace quark {
namespace {

// Whether a worker lies about the task it was assigned.
using Lie = std::function<bool(const proto::Assign&)>;

bool Always(const proto::Assign&) { return true; }

class VerificationTest : public testing::Test {
 protected:
  static SchedulerOptions Options() {
    SchedulerOptions o;
    o.chunk.min_numbers = 1000;  // small tasks keep the sieving quick
    o.chunk.sqrt_factor = 1;
    o.verify_fraction = 0;
    o.verify_first_tasks = 0;
    return o;
  }

  void Start(SchedulerOptions options = Options()) {
    scheduler_ = std::make_unique<Scheduler>(options);
  }

  struct Worker {
    uint64_t session = 0;
    std::deque<proto::Assign> queue;
    Lie lies;
    uint64_t lie_by = 1;          // what it adds to the count when it lies
    uint32_t throttled_bits = 0;  // sent with every result
    std::vector<proto::Assign> done;
  };

  // Registers `name` with `credits`; it lies about the tasks `lies` picks.
  void Join(const std::string& name, Lie lies = nullptr, uint32_t credits = 1) {
    auto out = scheduler_->OnControl(
        name, testutil::Hello(name, ++incarnation_), now_);
    ASSERT_TRUE(out[0].msg.has_welcome());
    Worker& w = workers_[name];
    w = Worker{};
    w.session = out[0].msg.welcome().session();
    w.lies = std::move(lies);
    Route(
        scheduler_->OnControl(name, testutil::Ready(w.session, credits), now_));
  }

  uint64_t Submit(proto::Kind kind, uint64_t lo, uint64_t hi,
                  proto::Verify verify, int priority = 0) {
    proto::Submit s;
    s.set_priority(priority);
    s.set_kind(kind);
    s.mutable_range()->set_lo(lo);
    s.mutable_range()->set_hi(hi);
    s.set_verify(verify);
    std::vector<Outbound> out;
    auto job = scheduler_->Submit(s, now_, &out);
    EXPECT_TRUE(job.ok()) << job.status();
    Route(out);
    return job->job_id();
  }

  void Route(const std::vector<Outbound>& out) {
    for (const Outbound& o : out) {
      auto w = workers_.find(o.node);
      if (w == workers_.end()) continue;
      if (o.msg.has_assign()) {
        ++assigned_[o.node];
        w->second.queue.push_back(o.msg.assign());
      }
      if (o.msg.has_cancel()) {
        for (uint64_t lease : o.msg.cancel().leases()) {
          // A cancelled task's credit comes back.
          if (std::erase_if(w->second.queue, [&](const proto::Assign& a) {
                return a.lease() == lease;
              }) > 0) {
            pending_ready_.push_back(o.node);
          }
        }
      }
    }
  }

  // The worker `name` finishes the first task it holds.
  void Step(const std::string& name) {
    Worker& w = workers_.at(name);
    const proto::Assign a = w.queue.front();
    w.queue.pop_front();
    Deliver(name, w.session, a);
    Route(scheduler_->OnControl(name, testutil::Ready(w.session, 1), now_));
  }

  // `name`'s result for `a`, under `session` (its present one, or one the
  // controller forgot).
  void Deliver(const std::string& name, uint64_t session,
               const proto::Assign& a) {
    Worker& w = workers_.at(name);
    proto::ResultMsg r;
    r.set_protocol_version(kProtocolVersion);
    r.set_session(session);
    r.set_node(name);
    r.set_lease(a.lease());
    r.set_job(a.job());
    r.set_task(a.task());
    *r.mutable_range() = a.range();
    *r.mutable_partial() =
        testutil::ReferencePartial(a.range().lo(), a.range().hi());
    if (w.lies && w.lies(a)) {
      r.mutable_partial()->set_count(r.partial().count() + w.lie_by);
    }
    r.set_compute_us(1000);
    r.set_throttled_bits(w.throttled_bits);
    std::vector<Outbound> out;
    ASSERT_TRUE(scheduler_->OnResult(r, now_, &out).ok());
    w.done.push_back(a);
    Route(out);
  }

  // Every worker finishes what it holds, in turns, until none holds any.
  void Run() {
    for (int round = 0; round < 100000; ++round) {
      for (const std::string& name : std::exchange(pending_ready_, {})) {
        if (auto w = workers_.find(name); w != workers_.end()) {
          Route(scheduler_->OnControl(
              name, testutil::Ready(w->second.session, 1), now_));
        }
      }
      bool any = false;
      for (auto& [name, w] : workers_) {
        if (w.queue.empty()) continue;
        any = true;
        Step(name);
      }
      if (!any) {
        now_ += absl::Milliseconds(100);
        Route(scheduler_->OnTick(now_));
        bool queued = false;
        for (auto& [name, w] : workers_) queued |= !w.queue.empty();
        if (!queued) return;
      }
    }
    FAIL() << "the workers never ran out of work";
  }

  proto::Job Job(uint64_t id) { return *scheduler_->GetJob(id); }
  proto::Node Node(const std::string& name) {
    for (const proto::Node& n : scheduler_->ListNodes(now_)) {
      if (n.name() == name) return n;
    }
    ADD_FAILURE() << "no node " << name;
    return {};
  }

  static uint64_t Pi(uint64_t lo, uint64_t hi) {
    return primesieve::count_primes(lo, hi);
  }

  std::unique_ptr<Scheduler> scheduler_;
  absl::Time now_ = absl::FromUnixSeconds(1'000'000);
  std::map<std::string, Worker> workers_;
  std::map<std::string, int> assigned_;
  std::vector<std::string> pending_ready_;
  uint64_t incarnation_ = 0;
};

TEST_F(VerificationTest, AllRunsEveryTaskOnTwoDifferentNodes) {
  Start();
  Join("a", nullptr, 2);
  Join("b", nullptr, 2);
  const uint64_t id = Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_ALL);
  Run();
  const proto::Job job = Job(id);
  ASSERT_EQ(job.state(), proto::DONE) << job.DebugString();
  EXPECT_EQ(job.result().count(), Pi(0, 1'000'000));
  EXPECT_GT(job.tasks_done(), 1u);
  EXPECT_EQ(job.verification().tasks_verified(), job.tasks_done());
  EXPECT_EQ(job.verification().disagreements(), 0u);
  // Each task on both: never twice on one node.
  EXPECT_EQ(workers_["a"].done.size(), job.tasks_done());
  EXPECT_EQ(workers_["b"].done.size(), job.tasks_done());
  EXPECT_EQ(scheduler_->tasks_verified(), job.tasks_done());
}

TEST_F(VerificationTest, AThirdNodeDecidesAndTheOutvotedNodeIsSuspect) {
  Start();
  Join("honest1");
  Join("liar", Always);
  Join("honest2");
  const uint64_t id = Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_ALL);
  Run();
  const proto::Job job = Job(id);
  ASSERT_EQ(job.state(), proto::DONE) << job.DebugString();
  EXPECT_EQ(job.result().count(), Pi(0, 1'000'000));
  EXPECT_GE(job.verification().disagreements(), 1u);
  ASSERT_EQ(job.verification().suspects_size(), 1);
  EXPECT_EQ(job.verification().suspects(0), "liar");
  EXPECT_TRUE(Node("liar").suspect());
  EXPECT_NE(Node("liar").suspect_reason().find("differs from that of honest"),
            std::string::npos)
      << Node("liar").suspect_reason();
  EXPECT_FALSE(Node("honest1").suspect());
  EXPECT_FALSE(Node("honest2").suspect());
  EXPECT_EQ(scheduler_->suspects(), 1u);
  // Found out on its first tasks: it got no work after them.
  EXPECT_LT(workers_["liar"].done.size(), workers_["honest1"].done.size());
  EXPECT_LT(workers_["liar"].done.size(), workers_["honest2"].done.size());
  EXPECT_EQ(job.verification().tasks_verified(), job.tasks_done());
}

TEST_F(VerificationTest, ASuspectsUnconfirmedResultsAreComputedAgain) {
  Start();  // sample, with nothing drawn: every result merged as it comes
  Join("liar", Always);
  Join("honest1");
  Join("honest2");
  const uint64_t trusting =
      Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_SAMPLE);
  Run();
  // Nothing checked it: the liar's results went in.
  ASSERT_EQ(Job(trusting).state(), proto::DONE);
  EXPECT_NE(Job(trusting).result().count(), Pi(0, 1'000'000));
  // Now a job that runs every task twice finds it out, while a third job,
  // trusting and unfinished, holds results of it.
  const uint64_t third =
      Submit(proto::COUNT, 2'000'000, 3'000'000, proto::VERIFY_SAMPLE);
  // The liar computes one of the third job's tasks first.
  ASSERT_FALSE(workers_["liar"].queue.empty());
  Step("liar");
  ASSERT_EQ(Job(third).tasks_done(), 1u);
  // First (the third job waits behind it, unfinished).
  const uint64_t checking =
      Submit(proto::COUNT, 5'000'000, 6'000'000, proto::VERIFY_ALL, 9);
  Run();
  EXPECT_TRUE(Node("liar").suspect());
  const proto::Job done = Job(third);
  ASSERT_EQ(done.state(), proto::DONE) << done.DebugString();
  EXPECT_EQ(done.result().count(), Pi(2'000'000, 3'000'000));
  EXPECT_GE(done.verification().tasks_redone(), 1u);
  EXPECT_EQ(Job(checking).result().count(), Pi(5'000'000, 6'000'000));
}

TEST_F(VerificationTest,
       TheVerifierIsNotTheNodeThatComputedItNorAThrottledOne) {
  Start();
  Join("a");
  Join("b");
  Join("c");
  // b is under-voltage now.
  proto::ControlMsg beat = testutil::Heartbeat(workers_["b"].session);
  beat.mutable_heartbeat()->mutable_health()->set_throttled_bits(kUnderVoltage);
  Route(scheduler_->OnControl("b", beat, now_));
  // One task only, on two nodes.
  const uint64_t id = Submit(proto::COUNT, 0, 1000, proto::VERIFY_ALL);
  Run();
  ASSERT_EQ(Job(id).state(), proto::DONE);
  EXPECT_EQ(Job(id).tasks_done(), 1u);
  EXPECT_EQ(workers_["a"].done.size(), 1u);
  EXPECT_EQ(workers_["b"].done.size(), 0u);
  EXPECT_EQ(workers_["c"].done.size(), 1u);
}

TEST_F(VerificationTest, OneNodeAloneSkipsVerificationAndTheJobSaysSo) {
  Start();
  Join("alone", nullptr, 2);
  const uint64_t id = Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_ALL);
  Run();
  const proto::Job job = Job(id);
  ASSERT_EQ(job.state(), proto::DONE) << job.DebugString();
  EXPECT_EQ(job.result().count(), Pi(0, 1'000'000));
  EXPECT_EQ(job.verification().tasks_verified(), 0u);
  EXPECT_EQ(job.verification().tasks_unverified(), job.tasks_done());
}

TEST_F(VerificationTest, ANodesFirstTasksAndThrottledResultsAreVerified) {
  SchedulerOptions o = Options();
  o.verify_first_tasks = 2;
  Start(o);
  Join("new");
  Join("checker");
  const uint64_t id = Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_SAMPLE);
  Run();
  proto::Job job = Job(id);
  ASSERT_EQ(job.state(), proto::DONE);
  // The first two of each node's results (a check counts as one) were
  // checked by the other; the rest were not (nothing drawn at random).
  EXPECT_GE(job.verification().tasks_verified(), 2u) << job.DebugString();
  EXPECT_LE(job.verification().tasks_verified(), 4u) << job.DebugString();
  EXPECT_GT(job.tasks_done(), 4u);
  EXPECT_EQ(job.result().count(), Pi(0, 1'000'000));
  // Every result computed under-voltage is checked.
  workers_["new"].throttled_bits = kUnderVoltage;
  workers_["new"].done.clear();
  workers_["checker"].done.clear();
  const uint64_t next =
      Submit(proto::COUNT, 2'000'000, 3'000'000, proto::VERIFY_SAMPLE);
  Run();
  job = Job(next);
  ASSERT_EQ(job.state(), proto::DONE);
  ASSERT_FALSE(workers_["new"].done.empty());
  std::set<uint64_t> checked;
  for (const proto::Assign& a : workers_["checker"].done)
    checked.insert(a.task());
  for (const proto::Assign& a : workers_["new"].done) {
    EXPECT_EQ(checked.count(a.task()), 1u) << "task " << a.task();
  }
  EXPECT_EQ(job.verification().tasks_verified(), workers_["new"].done.size());
}

TEST_F(VerificationTest, SampleDrawsAboutTheFraction) {
  SchedulerOptions o = Options();
  o.verify_fraction = 0.25;
  o.chunk.task_seconds = 1e-9;  // every task of min_numbers
  Start(o);
  Join("a");
  Join("b");
  const uint64_t id = Submit(proto::COUNT, 0, 399'999, proto::VERIFY_SAMPLE);
  Run();
  const proto::Job job = Job(id);
  ASSERT_EQ(job.state(), proto::DONE);
  ASSERT_GE(job.tasks_done(), 400u);
  // A quarter expected; 4 standard deviations are about 9% of the tasks.
  const double share =
      static_cast<double>(job.verification().tasks_verified()) /
      static_cast<double>(job.tasks_done());
  EXPECT_GT(share, 0.16) << job.DebugString();
  EXPECT_LT(share, 0.34) << job.DebugString();
  EXPECT_EQ(job.result().count(), Pi(0, 399'999));
}

TEST_F(VerificationTest, NoneTrustsEveryResult) {
  SchedulerOptions o = Options();
  o.verify_fraction = 1;
  o.verify_first_tasks = 100;
  Start(o);
  Join("a");
  Join("b");
  const uint64_t id = Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_NONE);
  Run();
  EXPECT_EQ(Job(id).verification().tasks_verified(), 0u);
  EXPECT_EQ(Job(id).verification().mode(), proto::VERIFY_NONE);
}

TEST_F(VerificationTest, TrustBringsASuspectBackAndItsFirstTasksAreChecked) {
  SchedulerOptions o = Options();
  o.verify_first_tasks = 1;
  Start(o);
  int lies_left = 1;
  Join("flaky", [&](const proto::Assign&) { return lies_left-- > 0; });
  Join("h1");
  Join("h2");
  const uint64_t first = Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_ALL);
  Run();
  ASSERT_TRUE(Node("flaky").suspect());
  EXPECT_EQ(Job(first).result().count(), Pi(0, 1'000'000));
  std::vector<Outbound> out;
  // Errors: not suspect, unknown.
  EXPECT_EQ(scheduler_->Trust("h1", now_, &out).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(scheduler_->Trust("nobody", now_, &out).status().code(),
            absl::StatusCode::kNotFound);
  auto trusted = scheduler_->Trust("flaky", now_, &out);
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  EXPECT_FALSE(trusted->suspect());
  Route(out);
  const size_t before = workers_["flaky"].done.size();
  const uint64_t second =
      Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_SAMPLE);
  Run();
  EXPECT_GT(workers_["flaky"].done.size(), before);
  EXPECT_FALSE(Node("flaky").suspect());
  // Its first result after the trust was checked.
  EXPECT_GE(Job(second).verification().tasks_verified(), 1u);
  EXPECT_EQ(Job(second).result().count(), Pi(0, 1'000'000));
}

TEST_F(VerificationTest, ASuspectStaysSuspectAcrossARestart) {
  Start();
  Join("liar", Always);
  Join("h1");
  Join("h2");
  Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_ALL);
  Run();
  ASSERT_TRUE(Node("liar").suspect());
  testutil::MemoryStore disk;
  ASSERT_TRUE(disk.Commit(scheduler_->TakeChanges()).ok());
  Scheduler restarted(Options());
  ASSERT_TRUE(restarted.Restore(disk.State()).ok());
  auto out = restarted.OnControl("liar", testutil::Hello("liar", 99), now_);
  const uint64_t session = out[0].msg.welcome().session();
  restarted.OnControl("liar", testutil::Ready(session, 1), now_);
  proto::Submit s;
  s.set_kind(proto::COUNT);
  s.mutable_range()->set_hi(1'000'000);
  std::vector<Outbound> sent;
  ASSERT_TRUE(restarted.Submit(s, now_, &sent).ok());
  for (const Outbound& o : sent) EXPECT_FALSE(o.msg.has_assign());
  const auto nodes = restarted.ListNodes(now_);
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_TRUE(nodes[0].suspect());
  EXPECT_EQ(restarted.suspects(), 1u);
}

TEST_F(VerificationTest, TrustAndSuspicionInOneStepKeepTheLatestOnDisk) {
  Start();
  Join("liar", Always);
  Join("h1");
  Join("h2");
  Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_ALL);
  Run();
  ASSERT_TRUE(Node("liar").suspect());
  testutil::MemoryStore disk;
  ASSERT_TRUE(disk.Commit(scheduler_->TakeChanges()).ok());
  // Trusted, and found out again before the step's changes are committed.
  std::vector<Outbound> out;
  ASSERT_TRUE(scheduler_->Trust("liar", now_, &out).ok());
  Route(out);
  Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_ALL);
  Run();
  ASSERT_TRUE(Node("liar").suspect());
  ASSERT_TRUE(disk.Commit(scheduler_->TakeChanges()).ok());
  ASSERT_EQ(disk.State().suspects.size(), 1u);
  // And trusted last: no suspect on disk.
  ASSERT_TRUE(scheduler_->Trust("liar", now_, &out).ok());
  ASSERT_TRUE(disk.Commit(scheduler_->TakeChanges()).ok());
  EXPECT_TRUE(disk.State().suspects.empty());
}

TEST_F(VerificationTest, AVerifierThatNeverAnswersHoldsTheJobNoLonger) {
  SchedulerOptions o = Options();
  o.liveness = 1000;  // never lost: it heartbeats, and computes nothing
  Start(o);
  Join("a");
  Join("stuck");
  const uint64_t id = Submit(proto::COUNT, 0, 1000, proto::VERIFY_ALL);
  workers_["stuck"].queue.clear();
  Step("a");
  EXPECT_EQ(Job(id).state(), proto::RUNNING);
  now_ += o.verify_wait - absl::Seconds(1);
  Route(scheduler_->OnTick(now_));
  EXPECT_EQ(Job(id).state(), proto::RUNNING);
  now_ += absl::Seconds(1);
  Route(scheduler_->OnTick(now_));
  const proto::Job job = Job(id);
  ASSERT_EQ(job.state(), proto::DONE) << job.DebugString();
  EXPECT_EQ(job.result().count(), Pi(0, 1000));
  EXPECT_EQ(job.verification().tasks_unverified(), 1u);
  EXPECT_FALSE(Node("stuck").suspect());
}

TEST_F(VerificationTest, PrimecountsCountIsAwaitedAndAgrees) {
  SchedulerOptions o = Options();
  o.cross_check_max = 1'000'000'000;
  Start(o);
  Join("a");
  Join("b");
  const uint64_t id = Submit(proto::COUNT, 10, 1'000'000, proto::VERIFY_SAMPLE);
  const auto checks = scheduler_->TakeCrossChecks();
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].job, id);
  EXPECT_TRUE(scheduler_->TakeCrossChecks().empty());
  Run();
  // Every task merged: it waits for primecount.
  EXPECT_EQ(Job(id).state(), proto::RUNNING);
  EXPECT_EQ(Job(id).waiting(), "primecount's cross-check of the count");
  std::vector<Outbound> out;
  scheduler_->OnCrossCheck(id, PrimecountCount(checks[0].lo, checks[0].hi),
                           now_, &out);
  EXPECT_EQ(Job(id).state(), proto::DONE);
  EXPECT_EQ(Job(id).verification().cross_check(), proto::CROSS_CHECK_AGREED);
  EXPECT_EQ(Job(id).verification().cross_check_count(), Pi(10, 1'000'000));
  // Not for other kinds, nor above the limit, nor with --verify=none.
  Submit(proto::TWINS, 0, 1000, proto::VERIFY_SAMPLE);
  Submit(proto::COUNT, 0, 2'000'000'000, proto::VERIFY_SAMPLE);
  Submit(proto::COUNT, 0, 1000, proto::VERIFY_NONE);
  EXPECT_TRUE(scheduler_->TakeCrossChecks().empty());
}

TEST_F(VerificationTest,
       APrimecountDisagreementVerifiesEveryTaskAndFindsTheLiar) {
  SchedulerOptions o = Options();
  o.cross_check_max = 1'000'000'000;
  Start(o);
  int lies_left = 1;
  Join("h1");
  Join("liar", [&](const proto::Assign&) { return lies_left-- > 0; });
  Join("h2");
  const uint64_t id = Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_SAMPLE);
  Run();
  ASSERT_EQ(Job(id).state(), proto::RUNNING);
  std::vector<Outbound> out;
  lies_left = 1;  // it lies again about the first task it checks
  scheduler_->OnCrossCheck(id, Pi(0, 1'000'000), now_, &out);
  Route(out);
  Run();
  const proto::Job job = Job(id);
  ASSERT_EQ(job.state(), proto::DONE) << job.DebugString();
  EXPECT_EQ(job.result().count(), Pi(0, 1'000'000));
  EXPECT_EQ(job.verification().cross_check(), proto::CROSS_CHECK_AGREED);
  EXPECT_TRUE(Node("liar").suspect());
  EXPECT_FALSE(Node("h1").suspect());
  EXPECT_FALSE(Node("h2").suspect());
  EXPECT_GE(job.verification().disagreements(), 1u);
}

TEST_F(VerificationTest, ACountThatStillDiffersFromPrimecountFailsTheJob) {
  SchedulerOptions o = Options();
  o.cross_check_max = 1'000'000'000;
  Start(o);
  Join("a");
  Join("b");
  const uint64_t id = Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_ALL);
  Run();
  std::vector<Outbound> out;
  scheduler_->OnCrossCheck(id, Pi(0, 1'000'000) + 1, now_, &out);
  const proto::Job job = Job(id);
  EXPECT_EQ(job.state(), proto::FAILED);
  EXPECT_EQ(job.verification().cross_check(), proto::CROSS_CHECK_DISAGREED);
  EXPECT_NE(job.error().find("differs from primecount's"), std::string::npos)
      << job.error();
}

TEST_F(VerificationTest, NodesThatNeverAgreeFailTheJob) {
  SchedulerOptions o = Options();
  o.max_votes = 3;
  Start(o);
  // Each lies in its own way.
  for (int i = 1; i <= 3; ++i) {
    Join(absl::StrCat("w", i), Always);
    workers_[absl::StrCat("w", i)].lie_by = i;
  }
  const uint64_t id = Submit(proto::COUNT, 0, 1000, proto::VERIFY_ALL);
  Run();
  EXPECT_EQ(Job(id).state(), proto::FAILED);
  EXPECT_NE(Job(id).error().find("3 different results and no two agree"),
            std::string::npos)
      << Job(id).error();
}

TEST_F(VerificationTest, TwoNodesThatDisagreeWaitForAThirdAndSaySo) {
  Start();
  Join("honest");
  Join("liar", Always);
  const uint64_t id = Submit(proto::COUNT, 0, 1000, proto::VERIFY_ALL);
  Run();
  proto::Job job = Job(id);
  EXPECT_EQ(job.state(), proto::RUNNING);
  EXPECT_NE(job.waiting().find("a node other than "), std::string::npos)
      << job.waiting();
  EXPECT_NE(job.waiting().find("their results differ"), std::string::npos);
  Join("referee");
  Run();
  job = Job(id);
  ASSERT_EQ(job.state(), proto::DONE) << job.DebugString();
  EXPECT_EQ(job.result().count(), Pi(0, 1000));
  EXPECT_TRUE(Node("liar").suspect());
  EXPECT_EQ(job.waiting(), "");
}

// A node frozen past its expiry holds a task; the task goes back to the
// queue, and the node, back under a new session, may get it again. Its
// result from before the freeze and the one from after are one node's
// vote, whichever comes first, and the task still gets its second vote
// from another node.
TEST_F(VerificationTest, AFrozenNodesTwoResultsForATaskAreOneVote) {
  for (const int variant : {0, 1, 2, 3}) {
    const bool late_first = variant & 1;
    // A worker sends the results it kept under its new session.
    const bool resent = variant & 2;
    SCOPED_TRACE(absl::StrCat(
        late_first ? "the late result first" : "the new one first",
        resent ? ", resent under the new session" : ", under the old session"));
    SchedulerOptions o = Options();
    o.verify_first_tasks = 3;
    Start(o);
    workers_.clear();
    Join("a");
    Join("b");
    const uint64_t id =
        Submit(proto::COUNT, 0, 1'000'000, proto::VERIFY_SAMPLE);
    ASSERT_FALSE(workers_["a"].queue.empty());
    const proto::Assign held = workers_["a"].queue.front();
    const uint64_t old_session = workers_["a"].session;
    // a freezes; b stays in touch; a is lost, its task requeued.
    now_ += absl::Seconds(4);
    Route(scheduler_->OnControl("b", testutil::Heartbeat(workers_["b"].session),
                                now_));
    Route(scheduler_->OnTick(now_));
    ASSERT_EQ(scheduler_->ListNodes(now_).size(), 1u);
    // a comes back: a new session, which may be given the same task.
    Join("a");
    auto& queue = workers_["a"].queue;
    auto late = [&] {
      Deliver("a", resent ? workers_["a"].session : old_session, held);
    };
    if (late_first) late();
    // Given the same task again (and not cancelled by the late result).
    auto it = std::find_if(queue.begin(), queue.end(),
                           [&](auto& x) { return x.task() == held.task(); });
    if (it != queue.end()) {
      const proto::Assign copy = *it;
      queue.erase(it);
      Deliver("a", workers_["a"].session, copy);
      Route(scheduler_->OnControl(
          "a", testutil::Ready(workers_["a"].session, 1), now_));
    }
    if (!late_first) late();
    Run();
    const proto::Job job = Job(id);
    ASSERT_EQ(job.state(), proto::DONE) << job.DebugString();
    EXPECT_EQ(job.result().count(), Pi(0, 1'000'000));
  }
}

TEST_F(VerificationTest, TwoNodesTellingTheSameLieOutvoteTheTruth) {
  // What votes cannot catch (docs/security.md): a majority that colludes.
  Start();
  Join("honest");
  Join("liar1", Always);
  Join("liar2", Always);
  const uint64_t id = Submit(proto::COUNT, 0, 1000, proto::VERIFY_ALL);
  Run();
  EXPECT_EQ(Job(id).state(), proto::DONE);
  if (Job(id).verification().disagreements() > 0) {
    EXPECT_TRUE(Node("honest").suspect());
  }
  EXPECT_EQ(Job(id).result().count(), Pi(0, 1000) + 1);
}

}  // namespace
}  // namespace quark
