#include "controller/scheduler.h"

#include <cmath>
#include <map>
#include <primesieve.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/health.h"
#include "common/kinds.h"
#include "common/partial.h"
#include "common/sieve_cost.h"
#include "common/transport.h"
#include "gtest/gtest.h"
#include "tests/testutil/memory_store.h"
#include "tests/testutil/messages.h"
#include "tests/testutil/reference_partial.h"

namespace quark {
namespace {

constexpr auto Sieve = testutil::ReferencePartial;

using testutil::Goodbye;
using testutil::Ready;

proto::ControlMsg Hello(const std::string& name,
                        uint32_t version = kProtocolVersion) {
  return testutil::Hello(name, /*incarnation=*/7, version);
}

proto::ControlMsg Beat(uint64_t session) {
  return testutil::Heartbeat(session);
}

std::vector<proto::Assign> Assigns(const std::vector<Outbound>& out,
                                   const std::string& route) {
  std::vector<proto::Assign> a;
  for (const auto& o : out) {
    if (o.node == route && o.msg.has_assign()) a.push_back(o.msg.assign());
  }
  return a;
}

std::vector<uint64_t> Cancels(const std::vector<Outbound>& out,
                              const std::string& route) {
  std::vector<uint64_t> leases;
  for (const auto& o : out) {
    if (o.node != route || !o.msg.has_cancel()) continue;
    for (uint64_t l : o.msg.cancel().leases()) leases.push_back(l);
  }
  return leases;
}

class SchedulerTest : public testing::Test {
 protected:
  SchedulerTest() : scheduler_(Options()) {}

  static SchedulerOptions Options() {
    SchedulerOptions o;
    o.heartbeat_interval = absl::Seconds(1);
    o.liveness = 3;
    o.chunk.min_numbers = 1000;  // small tasks keep the sieving quick
    o.chunk.sqrt_factor = 1;
    // One result merges at once; the verification tests ask for more.
    o.verify_fraction = 0;
    o.verify_first_tasks = 0;
    return o;
  }

  // Registers `name` and returns its session.
  uint64_t Join(const std::string& name) {
    auto out = scheduler_.OnControl(name, Hello(name), now_);
    EXPECT_GE(out.size(), 1u);
    EXPECT_TRUE(out[0].msg.has_welcome());
    return out[0].msg.welcome().session();
  }

  uint64_t Submit(proto::Kind kind, uint64_t lo, uint64_t hi,
                  int priority = 0) {
    proto::Submit s;
    s.set_kind(kind);
    s.mutable_range()->set_lo(lo);
    s.mutable_range()->set_hi(hi);
    s.set_priority(priority);
    std::vector<Outbound> out;
    auto job = scheduler_.Submit(s, now_, &out);
    EXPECT_TRUE(job.ok()) << job.status();
    pending_.insert(pending_.end(), out.begin(), out.end());
    return job->job_id();
  }

  std::vector<Outbound> Control(const std::string& route,
                                const proto::ControlMsg& m) {
    return scheduler_.OnControl(route, m, now_);
  }

  // The result a worker sends for `a` under `session`, without its partial.
  static proto::ResultMsg ResultOf(const proto::Assign& a, uint64_t session) {
    proto::ResultMsg r;
    r.set_protocol_version(kProtocolVersion);
    r.set_session(session);
    r.set_lease(a.lease());
    r.set_job(a.job());
    r.set_task(a.task());
    *r.mutable_range() = a.range();
    return r;
  }

  // Delivers a correct result for `a`, as sent by `session`.
  std::vector<Outbound> Complete(const proto::Assign& a, uint64_t session,
                                 absl::Status* status = nullptr,
                                 uint64_t compute_us = 1000) {
    proto::ResultMsg r = ResultOf(a, session);
    *r.mutable_partial() =
        testutil::ReferenceFor(a.kind(), a.range().lo(), a.range().hi());
    r.set_compute_us(compute_us);
    std::vector<Outbound> out;
    absl::Status s = scheduler_.OnResult(r, now_, &out);
    if (status) *status = s;
    EXPECT_TRUE(status != nullptr || s.ok()) << s;
    return out;
  }

  proto::Job Job(uint64_t id) { return *scheduler_.GetJob(id); }

  // Runs `name` as an honest worker with `credits` slots until no work is
  // left for it; returns how many tasks it did.
  int RunWorker(const std::string& name, uint64_t session,
                std::vector<proto::Assign> queue) {
    int done = 0;
    while (!queue.empty()) {
      proto::Assign a = queue.front();
      queue.erase(queue.begin());
      Complete(a, session);
      ++done;
      auto more = Assigns(Control(name, Ready(session, 1)), name);
      queue.insert(queue.end(), more.begin(), more.end());
    }
    return done;
  }

  Scheduler scheduler_;
  absl::Time now_ = absl::FromUnixSeconds(1'000'000);
  std::vector<Outbound> pending_;
};

TEST_F(SchedulerTest, WelcomeCarriesSessionAndTimings) {
  auto out = Control("pi1", Hello("pi1"));
  ASSERT_EQ(out.size(), 1u);
  const auto& w = out[0].msg.welcome();
  EXPECT_NE(w.session(), 0u);
  EXPECT_EQ(w.heartbeat_ms(), 1000u);
  EXPECT_EQ(w.liveness(), 3u);
  EXPECT_EQ(w.protocol_version(), kProtocolVersion);
  EXPECT_EQ(scheduler_.ListNodes(now_).size(), 1u);
}

TEST_F(SchedulerTest, RefusesOtherProtocolVersion) {
  auto out = Control("pi1", Hello("pi1", kProtocolVersion + 1));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].msg.has_reject());
  EXPECT_FALSE(out[0].msg.reject().reregister());
  EXPECT_EQ(out[0].msg.reject().protocol_version(), kProtocolVersion);
  EXPECT_NE(out[0].msg.reject().reason().find("protocol version"),
            std::string::npos);
  EXPECT_TRUE(scheduler_.ListNodes(now_).empty());
}

TEST_F(SchedulerTest, RefusesBadNames) {
  for (const std::string& name :
       std::vector<std::string>{"", "has space", std::string(65, 'a')}) {
    auto out = Control(name.empty() ? "x" : name, Hello(name));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].msg.has_reject()) << name;
  }
  // The name must be the routing id: no speaking for another node.
  auto out = Control("pi1", Hello("pi2"));
  EXPECT_TRUE(out[0].msg.has_reject());
  EXPECT_TRUE(scheduler_.ListNodes(now_).empty());
}

TEST_F(SchedulerTest, UnknownSessionIsAskedToReregister) {
  auto out = Control("pi1", Ready(12345, 2));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].msg.reject().reregister());
  EXPECT_EQ(out[0].msg.reject().session(), 12345u);
  // A known session spoken from another route is as unknown.
  const uint64_t s = Join("pi1");
  out = Control("pi2", Beat(s));
  EXPECT_TRUE(out[0].msg.reject().reregister());
}

TEST_F(SchedulerTest, NeverAssignsMoreThanCredits) {
  Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t s = Join("pi1");
  EXPECT_TRUE(Assigns(scheduler_.OnTick(now_), "pi1").empty());
  auto out = Control("pi1", Ready(s, 2));
  EXPECT_EQ(Assigns(out, "pi1").size(), 2u);
  EXPECT_TRUE(Assigns(scheduler_.OnTick(now_), "pi1").empty());
  out = Control("pi1", Ready(s, 1));
  EXPECT_EQ(Assigns(out, "pi1").size(), 1u);
}

TEST_F(SchedulerTest, AbsurdCreditsAreIgnored) {
  Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t s = Join("pi1");
  EXPECT_TRUE(Assigns(Control("pi1", Ready(s, 1'000'000)), "pi1").empty());
  EXPECT_TRUE(Assigns(Control("pi1", Ready(s, 0)), "pi1").empty());
  EXPECT_EQ(scheduler_.refused(), 2u);
}

TEST_F(SchedulerTest, CountsExactlyWithOneWorker) {
  const uint64_t job = Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t s = Join("pi1");
  int tasks = RunWorker("pi1", s, Assigns(Control("pi1", Ready(s, 2)), "pi1"));
  EXPECT_GT(tasks, 1);
  const proto::Job j = Job(job);
  EXPECT_EQ(j.state(), proto::DONE);
  EXPECT_EQ(j.result().count(), primesieve::count_primes(0, 1'000'000));
  EXPECT_EQ(j.tasks_done(), static_cast<uint64_t>(tasks));
  EXPECT_EQ(j.duplicates(), 0u);
}

TEST_F(SchedulerTest, AResultThatCannotBeOfItsTaskMakesItsNodeSuspect) {
  // A triplets result whose edges are not primes of its task (a gaps one
  // without a table, a count over the range's width: CheckPartial's test
  // has them all) is refused whole: nothing of it merges, the task goes
  // to another node, and the sender gets no more work.
  const uint64_t lo = 1'000'000, hi = 1'100'000;
  const uint64_t job = Submit(proto::TRIPLETS, lo, hi);
  const uint64_t bad = Join("bad");
  const std::vector<proto::Assign> got =
      Assigns(Control("bad", Ready(bad, 1)), "bad");
  ASSERT_EQ(got.size(), 1u);
  testutil::MemoryStore disk;
  ASSERT_TRUE(disk.Commit(scheduler_.TakeChanges()).ok());
  proto::ResultMsg r = ResultOf(got[0], bad);
  *r.mutable_partial() =
      testutil::ReferenceTuplets(3, got[0].range().lo(), got[0].range().hi());
  r.mutable_partial()->set_head(0, got[0].range().hi() + 1);
  std::vector<Outbound> out;
  const absl::Status s = scheduler_.OnResult(r, now_, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(scheduler_.refused(), 1u);
  const std::vector<proto::Node> nodes = scheduler_.ListNodes(now_);
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_TRUE(nodes[0].suspect());
  EXPECT_NE(nodes[0].suspect_reason().find("triplets result for ["),
            std::string::npos)
      << nodes[0].suspect_reason();
  EXPECT_TRUE(Assigns(Control("bad", Ready(bad, 2)), "bad").empty());
  // The job names its suspect after a restart too (the fuzzer found it
  // lost: the job was not written for it).
  ASSERT_TRUE(disk.Commit(scheduler_.TakeChanges()).ok());
  Scheduler restarted(Options());
  ASSERT_TRUE(restarted.Restore(disk.State()).ok());
  ASSERT_EQ(restarted.GetJob(job)->verification().suspects_size(), 1);
  EXPECT_EQ(restarted.GetJob(job)->verification().suspects(0), "bad");
  const uint64_t good = Join("good");
  RunWorker("good", good, Assigns(Control("good", Ready(good, 2)), "good"));
  EXPECT_EQ(Job(job).state(), proto::DONE);
  EXPECT_EQ(Job(job).result().triplets(), primesieve::count_triplets(lo, hi));
}

TEST_F(SchedulerTest, EveryKindIsExact) {
  const uint64_t lo = 1'000'000, hi = 1'300'000;
  const proto::Partial want = Sieve(lo, hi);
  for (const KindSpec& kind : Kinds()) {
    SCOPED_TRACE(kind.name);
    const uint64_t job = Submit(kind.kind, lo, hi);
    const uint64_t s = Join("pi1");
    RunWorker("pi1", s, Assigns(Control("pi1", Ready(s, 2)), "pi1"));
    const proto::JobResult r = Job(job).result();
    EXPECT_EQ(Job(job).state(), proto::DONE);
    switch (kind.kind) {
      case proto::COUNT:
        EXPECT_EQ(r.count(), want.count());
        break;
      case proto::TWINS:
        EXPECT_EQ(r.twins(), want.twins());
        break;
      case proto::GAPS: {
        EXPECT_EQ(r.max_gap(), want.max_gap());
        EXPECT_EQ(r.max_gap_start(), want.max_gap_start());
        const proto::Partial table = testutil::ReferenceGaps(lo, hi);
        ASSERT_EQ(r.first_gaps_size(), table.first_gaps_size());
        for (int i = 0; i < r.first_gaps_size(); ++i) {
          EXPECT_EQ(r.first_gaps(i).size(), table.first_gaps(i).size());
          EXPECT_EQ(r.first_gaps(i).start(), table.first_gaps(i).start());
        }
        ASSERT_GT(r.maximal_gaps_size(), 0);
        EXPECT_EQ(r.maximal_gaps().rbegin()->size(), want.max_gap());
        break;
      }
      case proto::SUM:
        EXPECT_EQ(r.sum(), Uint128ToString(PartialSum(want)));
        break;
      case proto::TRIPLETS:
        EXPECT_EQ(r.triplets(), primesieve::count_triplets(lo, hi));
        break;
      case proto::QUADRUPLETS:
        EXPECT_EQ(r.quadruplets(), primesieve::count_quadruplets(lo, hi));
        break;
      case proto::QUINTUPLETS:
        EXPECT_EQ(r.quintuplets(), primesieve::count_quintuplets(lo, hi));
        break;
      case proto::SEXTUPLETS:
        EXPECT_EQ(r.sextuplets(), primesieve::count_sextuplets(lo, hi));
        break;
      default:
        ADD_FAILURE() << "a kind this test does not know";
        break;
    }
  }
}

TEST_F(SchedulerTest, WorkSpreadsOverNodes) {
  Submit(proto::COUNT, 0, 100'000'000);
  const uint64_t a = Join("a"), b = Join("b");
  auto out = Control("a", Ready(a, 2));
  auto out2 = Control("b", Ready(b, 2));
  EXPECT_EQ(Assigns(out, "a").size(), 2u);
  EXPECT_EQ(Assigns(out2, "b").size(), 2u);
}

TEST_F(SchedulerTest, NodeJoiningMidJobGetsWorkOnFirstReady) {
  const uint64_t job = Submit(proto::COUNT, 0, 10'000'000);
  const uint64_t a = Join("a");
  auto first = Assigns(Control("a", Ready(a, 2)), "a");
  Complete(first[0], a);
  const uint64_t b = Join("b");
  auto late = Assigns(Control("b", Ready(b, 2)), "b");
  ASSERT_FALSE(late.empty());
  RunWorker("b", b, late);
  RunWorker("a", a, {first[1]});
  RunWorker("a", a, Assigns(Control("a", Ready(a, 1)), "a"));
  EXPECT_EQ(Job(job).state(), proto::DONE);
  EXPECT_EQ(Job(job).result().count(), primesieve::count_primes(0, 10'000'000));
}

TEST_F(SchedulerTest, SilentNodeExpiresAndItsLeasesAreRequeued) {
  const uint64_t job = Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t a = Join("a");
  auto held = Assigns(Control("a", Ready(a, 2)), "a");
  ASSERT_EQ(held.size(), 2u);
  const uint64_t b = Join("b");
  // Heard from within the window: alive.
  now_ += absl::Seconds(2);
  Control("b", Beat(b));
  EXPECT_EQ(scheduler_.OnTick(now_).size(), 2u);  // heartbeats only
  EXPECT_EQ(scheduler_.ListNodes(now_).size(), 2u);
  // Silent for more than 3 intervals: lost, and b gets a's tasks first.
  now_ += absl::Seconds(1.5);
  Control("b", Beat(b));
  scheduler_.OnTick(now_);
  ASSERT_EQ(scheduler_.ListNodes(now_).size(), 1u);
  auto redo = Assigns(Control("b", Ready(b, 2)), "b");
  ASSERT_EQ(redo.size(), 2u);
  EXPECT_EQ(redo[0].task(),
            held[0].task() == redo[0].task() ? held[0].task() : held[1].task());
  EXPECT_EQ(redo[0].attempt(), 2u);
  RunWorker("b", b, redo);
  EXPECT_EQ(Job(job).state(), proto::DONE);
  EXPECT_EQ(Job(job).result().count(), primesieve::count_primes(0, 1'000'000));
  // a comes back with its old session: told to register again.
  auto out = Control("a", Beat(a));
  EXPECT_TRUE(out[0].msg.reject().reregister());
}

TEST_F(SchedulerTest, HeartbeatsGoOutOncePerInterval) {
  Join("a");
  Join("b");
  EXPECT_EQ(scheduler_.OnTick(now_).size(), 2u);
  now_ += absl::Milliseconds(500);
  EXPECT_EQ(scheduler_.OnTick(now_).size(), 0u);
  now_ += absl::Milliseconds(500);
  auto out = scheduler_.OnTick(now_);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].msg.has_heartbeat());
}

TEST_F(SchedulerTest, LateDuplicateIsIgnoredAndCounted) {
  const uint64_t job = Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t a = Join("a");
  auto held = Assigns(Control("a", Ready(a, 1)), "a");
  // a is lost, b redoes the task, then a's late result arrives.
  now_ += absl::Seconds(4);
  scheduler_.OnTick(now_);
  const uint64_t b = Join("b");
  auto redo = Assigns(Control("b", Ready(b, 1)), "b");
  ASSERT_EQ(redo[0].task(), held[0].task());
  Complete(redo[0], b);
  Complete(held[0], a);
  EXPECT_EQ(Job(job).duplicates(), 1u);
  RunWorker("b", b, Assigns(Control("b", Ready(b, 1)), "b"));
  EXPECT_EQ(Job(job).result().count(), primesieve::count_primes(0, 1'000'000));
}

TEST_F(SchedulerTest, FirstResultWinsAndOtherHoldersAreCancelled) {
  const uint64_t job = Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t a = Join("a");
  auto held = Assigns(Control("a", Ready(a, 1)), "a");
  now_ += absl::Seconds(4);
  scheduler_.OnTick(now_);  // a lost
  const uint64_t b = Join("b");
  auto redo = Assigns(Control("b", Ready(b, 1)), "b");
  // a's result, from a dead session, arrives first: merged, b cancelled.
  auto out = Complete(held[0], a);
  EXPECT_EQ(Cancels(out, "b"), std::vector<uint64_t>{redo[0].lease()});
  EXPECT_EQ(Job(job).duplicates(), 0u);
  Complete(redo[0], b);
  EXPECT_EQ(Job(job).duplicates(), 1u);
}

TEST_F(SchedulerTest, ResultsThatDoNotMatchAreRejected) {
  const uint64_t job = Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t a = Join("a");
  auto held = Assigns(Control("a", Ready(a, 1)), "a");
  absl::Status status;
  proto::Assign wrong = held[0];
  wrong.mutable_range()->set_hi(wrong.range().hi() + 1);
  Complete(wrong, a, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  // Refused for good (and acked): the lease does not hold the task hostage.
  EXPECT_EQ(scheduler_.ListNodes(now_)[0].leases(), 0u);
  wrong = held[0];
  wrong.set_job(job + 100);
  Complete(wrong, a, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  wrong = held[0];
  wrong.set_task(999999);
  Complete(wrong, a, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Job(job).tasks_done(), 0u);
  EXPECT_EQ(scheduler_.refused(), 3u);
}

TEST_F(SchedulerTest, NodesGoneStayListedAWhileWithHowTheyWent) {
  Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t a = Join("a");
  const uint64_t b = Join("b");
  Join("c");
  auto held = Assigns(Control("b", Ready(b, 1)), "b");
  ASSERT_EQ(held.size(), 1u);
  Complete(held[0], b);
  Control("a", Goodbye(a));
  now_ += absl::Seconds(4);  // b is silent past its liveness
  Control("c", Beat(scheduler_.ListNodes(now_).back().session()));
  scheduler_.OnTick(now_);
  now_ += absl::Seconds(1);
  scheduler_.Evict("c", now_);
  now_ += absl::Seconds(2);
  EXPECT_TRUE(scheduler_.ListNodes(now_).empty());
  std::vector<proto::Node> gone = scheduler_.ListDeparted(now_);
  ASSERT_EQ(gone.size(), 3u);
  EXPECT_EQ(gone[0].name(), "c");
  EXPECT_EQ(gone[0].state(), proto::EVICTED);
  EXPECT_EQ(gone[0].departed_ms_ago(), 2000u);
  EXPECT_EQ(gone[1].name(), "b");
  EXPECT_EQ(gone[1].state(), proto::LOST);
  EXPECT_EQ(gone[1].departed_ms_ago(), 3000u);
  EXPECT_EQ(gone[1].last_heard_ms_ago(), 7000u);
  EXPECT_EQ(gone[1].tasks_done(), 1u);
  EXPECT_EQ(gone[1].leases(), 0u);
  EXPECT_EQ(gone[1].rate(), 0);
  EXPECT_EQ(gone[2].name(), "a");
  EXPECT_EQ(gone[2].state(), proto::LEFT);

  Join("a");  // back: listed as connected, no longer as gone
  EXPECT_EQ(scheduler_.ListNodes(now_).size(), 1u);
  gone = scheduler_.ListDeparted(now_);
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_EQ(gone[1].name(), "b");

  now_ += absl::Minutes(10);  // forgotten after forget_departed_after
  EXPECT_TRUE(scheduler_.ListDeparted(now_).empty());
  scheduler_.OnTick(now_);  // a, silent all this time, is lost now
  gone = scheduler_.ListDeparted(now_);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].name(), "a");
  EXPECT_EQ(gone[0].state(), proto::LOST);
}

TEST_F(SchedulerTest, AnIdleNodesRateDecaysToZero) {
  Submit(proto::COUNT, 0, 1999);  // two tasks of 1000 numbers
  const uint64_t a = Join("a");
  auto held = Assigns(Control("a", Ready(a, 2)), "a");
  ASSERT_EQ(held.size(), 2u);
  Complete(held[0], a, nullptr, /*compute_us=*/1000);  // 1e6 numbers a second
  EXPECT_DOUBLE_EQ(scheduler_.ListNodes(now_)[0].rate(), 1e6);
  now_ += absl::Seconds(30);  // still holds a task: its rate stands
  EXPECT_DOUBLE_EQ(scheduler_.ListNodes(now_)[0].rate(), 1e6);
  Complete(held[1], a, nullptr, /*compute_us=*/1000);
  EXPECT_DOUBLE_EQ(scheduler_.ListNodes(now_)[0].rate(), 1e6);
  now_ += absl::Seconds(10);
  EXPECT_NEAR(scheduler_.ListNodes(now_)[0].rate(), 1e6 / std::exp(1.0), 1);
  now_ += absl::Seconds(60);
  EXPECT_EQ(scheduler_.ListNodes(now_)[0].rate(), 0);
}

TEST_F(SchedulerTest, GoodbyeRequeuesAtOnce) {
  Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t a = Join("a");
  auto held = Assigns(Control("a", Ready(a, 2)), "a");
  Control("a", Goodbye(a));
  EXPECT_TRUE(scheduler_.ListNodes(now_).empty());
  const uint64_t b = Join("b");
  auto redo = Assigns(Control("b", Ready(b, 2)), "b");
  ASSERT_EQ(redo.size(), 2u);
  EXPECT_EQ(redo[0].attempt(), 2u);
}

TEST_F(SchedulerTest, WorkHandedBackByGoodbyeGoesToAnIdleNodeAtOnce) {
  Submit(proto::COUNT, 0, 2999);  // three tasks, all leased to a
  const uint64_t a = Join("a");
  auto held = Assigns(Control("a", Ready(a, 64)), "a");
  const uint64_t b = Join("b");
  EXPECT_TRUE(Assigns(Control("b", Ready(b, 2)), "b").empty());
  auto out = Control("a", Goodbye(a));
  EXPECT_EQ(Assigns(out, "b").size(), 2u);
}

TEST_F(SchedulerTest, RestartedWorkerReplacesItsOldSelf) {
  Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t old = Join("a");
  Assigns(Control("a", Ready(old, 2)), "a");
  const uint64_t fresh = Join("a");
  EXPECT_NE(old, fresh);
  ASSERT_EQ(scheduler_.ListNodes(now_).size(), 1u);
  auto redo = Assigns(Control("a", Ready(fresh, 2)), "a");
  EXPECT_EQ(redo[0].attempt(), 2u);
}

TEST_F(SchedulerTest, CancelStopsLeasesAndTheJob) {
  const uint64_t job = Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t a = Join("a");
  auto held = Assigns(Control("a", Ready(a, 2)), "a");
  std::vector<Outbound> out;
  auto cancelled = scheduler_.CancelJob(job, now_, &out);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state(), proto::CANCELLED);
  EXPECT_EQ(Cancels(out, "a").size(), 2u);
  EXPECT_EQ(scheduler_.ListNodes(now_)[0].leases(), 0u);
  // Nothing more is handed out, a late result is a duplicate.
  EXPECT_TRUE(Assigns(Control("a", Ready(a, 2)), "a").empty());
  Complete(held[0], a);
  EXPECT_EQ(Job(job).state(), proto::CANCELLED);
  // Cancelling again, or an unknown job, is an error that changes nothing.
  EXPECT_EQ(scheduler_.CancelJob(job, now_, &out).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(scheduler_.CancelJob(job + 1, now_, &out).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, DrainedNodeGetsNoNewWorkUntilUndrained) {
  const uint64_t job = Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t a = Join("a");
  auto held = Assigns(Control("a", Ready(a, 1)), "a");
  std::vector<Outbound> out;
  auto node = scheduler_.Drain("a", true, now_, &out);
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node->state(), proto::DRAINING);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].msg.drain().drain());
  // Its current lease finishes; no new one follows.
  Complete(held[0], a);
  EXPECT_TRUE(Assigns(Control("a", Ready(a, 1)), "a").empty());
  EXPECT_EQ(Job(job).tasks_done(), 1u);
  // Draining survives a re-registration.
  const uint64_t again = Join("a");
  EXPECT_TRUE(Assigns(Control("a", Ready(again, 2)), "a").empty());
  out.clear();
  ASSERT_TRUE(scheduler_.Drain("a", false, now_, &out).ok());
  EXPECT_EQ(Assigns(out, "a").size(), 2u);
  EXPECT_EQ(scheduler_.Drain("nobody", true, now_, &out).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, HigherPriorityFirstThenSubmissionOrder) {
  const uint64_t low = Submit(proto::COUNT, 0, 1'000'000, 0);
  const uint64_t low2 = Submit(proto::COUNT, 0, 1'000'000, 0);
  const uint64_t high = Submit(proto::COUNT, 0, 1'000'000, 5);
  const uint64_t a = Join("a");
  auto out = Assigns(Control("a", Ready(a, 1)), "a");
  EXPECT_EQ(out[0].job(), high);
  RunWorker("a", a, out);
  EXPECT_EQ(Job(high).state(), proto::DONE);
  EXPECT_EQ(Job(low).state(), proto::DONE);
  EXPECT_EQ(Job(low2).state(), proto::DONE);
  EXPECT_LT(Job(low).finished_ms(), Job(low2).finished_ms() + 1);
}

TEST_F(SchedulerTest, AQueuedJobSaysWhyItWaits) {
  const uint64_t low = Submit(proto::COUNT, 0, 1'000'000, 0);
  EXPECT_EQ(Job(low).waiting(), "no node is connected");
  const uint64_t high = Submit(proto::COUNT, 0, 1'000'000, 9);
  const uint64_t a = Join("a");
  EXPECT_EQ(Job(low).waiting(), "behind job 2 (priority 9)");
  Control("a", Ready(a, 1));  // its one credit goes to the high job
  EXPECT_EQ(Job(high).state(), proto::RUNNING);
  EXPECT_EQ(Job(high).waiting(), "");
  EXPECT_EQ(Job(low).waiting(), "behind job 2 (priority 9)");
  ASSERT_TRUE(scheduler_.Drain("a", true, now_, &pending_).ok());
  EXPECT_EQ(Job(low).waiting(), "every node is drained");
}

TEST_F(SchedulerTest, SeveralJobsRunAtOnceWhenTheFirstIsFullyLeased) {
  const uint64_t small = Submit(proto::COUNT, 0, 100);  // one task
  const uint64_t next = Submit(proto::SUM, 0, 100'000);
  const uint64_t a = Join("a");
  auto out = Assigns(Control("a", Ready(a, 2)), "a");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].job(), small);
  EXPECT_EQ(out[1].job(), next);
}

TEST_F(SchedulerTest, SubmitValidatesAndChangesNothingOnError) {
  std::vector<Outbound> out;
  proto::Submit s;
  s.set_kind(proto::COUNT);
  s.mutable_range()->set_lo(10);
  s.mutable_range()->set_hi(9);
  EXPECT_EQ(scheduler_.Submit(s, now_, &out).status().code(),
            absl::StatusCode::kInvalidArgument);
  s.mutable_range()->set_hi(10);
  s.set_kind(static_cast<proto::Kind>(42));
  EXPECT_EQ(scheduler_.Submit(s, now_, &out).status().code(),
            absl::StatusCode::kInvalidArgument);
  s.set_kind(proto::COUNT);
  s.clear_range();
  EXPECT_EQ(scheduler_.Submit(s, now_, &out).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(scheduler_.ListJobs().empty());
}

TEST_F(SchedulerTest, RangeAtTheTopOfSixtyFourBits) {
  const uint64_t max = ~uint64_t{0};
  const uint64_t job = Submit(proto::COUNT, max - 100, max);
  const uint64_t a = Join("a");
  RunWorker("a", a, Assigns(Control("a", Ready(a, 2)), "a"));
  EXPECT_EQ(Job(job).state(), proto::DONE);
  EXPECT_EQ(Job(job).result().count(),
            primesieve::count_primes(max - 100, max));
}

proto::ControlMsg HelloWithBudget(const std::string& name, uint64_t budget) {
  proto::ControlMsg m = Hello(name);
  m.mutable_hello()->set_memory_budget(budget);
  return m;
}

// Near 2^64 a task needs hundreds of MiB even on one thread in the
// narrowest slices; near 0 a few.
constexpr uint64_t kTinyBudget = 64ull << 20;

TEST_F(SchedulerTest, NodeSpeedIsWorkPerSecondWhateverTheHeight) {
  const uint64_t job = Submit(proto::COUNT, 0, 1000000);
  const uint64_t a = Join("a");
  EXPECT_EQ(scheduler_.ListNodes(now_)[0].speed(), 0);  // not measured yet
  RunWorker("a", a, Assigns(Control("a", Ready(a, 2)), "a"));
  ASSERT_EQ(Job(job).state(), proto::DONE);
  // Every result says 1 ms of compute: the speed is the work of its range
  // (common/sieve_cost.h) per that millisecond.
  const double speed = scheduler_.ListNodes(now_)[0].speed();
  EXPECT_GT(speed, 0);
  EXPECT_LT(speed, SieveWork(0, 1000000) / 1e-3);
}

TEST_F(SchedulerTest, NodeViewShowsItsHealthFromTheLastHeartbeat) {
  const uint64_t a = Join("a");
  proto::Node view = scheduler_.ListNodes(now_)[0];
  EXPECT_FALSE(view.has_temperature_celsius());  // not reported (yet)
  EXPECT_FALSE(view.has_throttled_bits());
  EXPECT_FALSE(view.under_voltage());
  proto::ControlMsg beat = testutil::Heartbeat(a);
  proto::Health* health = beat.mutable_heartbeat()->mutable_health();
  health->set_temperature_celsius(71.5);
  health->set_throttled_bits(0x50005);  // under-voltage, throttled
  health->set_memory_available_bytes(2ull << 30);
  health->set_load1(1.25);
  Control("a", beat);
  view = scheduler_.ListNodes(now_)[0];
  EXPECT_EQ(view.temperature_celsius(), 71.5);
  EXPECT_TRUE(view.under_voltage());
  EXPECT_TRUE(view.throttled());
  EXPECT_EQ(view.throttled_bits(), 0x50005u);
  EXPECT_EQ(view.memory_available_bytes(), 2ull << 30);
  EXPECT_EQ(view.load1(), 1.25);
  // Well again: only the since-boot bits stay.
  health->set_throttled_bits(0x50000);
  Control("a", beat);
  view = scheduler_.ListNodes(now_)[0];
  EXPECT_FALSE(view.under_voltage());
  EXPECT_FALSE(view.throttled());
}

TEST_F(SchedulerTest, ResultsComputedThrottledAreCountedForTheirNode) {
  Submit(proto::COUNT, 0, 1000000);
  const uint64_t a = Join("a");
  std::vector<proto::Assign> assigns = Assigns(Control("a", Ready(a, 2)), "a");
  ASSERT_EQ(assigns.size(), 2u);
  Complete(assigns[0], a);
  proto::ResultMsg r = ResultOf(assigns[1], a);
  *r.mutable_partial() = Sieve(r.range().lo(), r.range().hi());
  r.set_compute_us(1000);
  r.set_throttled_bits(kUnderVoltage);
  std::vector<Outbound> out;
  ASSERT_TRUE(scheduler_.OnResult(r, now_, &out).ok());
  const proto::Node view = scheduler_.ListNodes(now_)[0];
  EXPECT_EQ(view.tasks_done(), 2u);
  EXPECT_EQ(view.tasks_throttled(), 1u);
}

TEST_F(SchedulerTest, NodeViewSaysWhetherItsSieveIsBusy) {
  const uint64_t a = Join("a");
  EXPECT_FALSE(scheduler_.ListNodes(now_)[0].sieving());
  proto::ControlMsg beat;
  beat.mutable_heartbeat()->set_session(a);
  beat.mutable_heartbeat()->set_sieving(true);
  Control("a", beat);
  EXPECT_TRUE(scheduler_.ListNodes(now_)[0].sieving());
  beat.mutable_heartbeat()->set_sieving(false);
  Control("a", beat);
  EXPECT_FALSE(scheduler_.ListNodes(now_)[0].sieving());
}

TEST_F(SchedulerTest, NodeGetsNoTaskItsMemoryCannotHold) {
  const uint64_t max = ~uint64_t{0};
  ASSERT_GT(MinTaskBytes(max), kTinyBudget);
  ASSERT_LT(MinTaskBytes(100000), kTinyBudget);
  const uint64_t high = Submit(proto::COUNT, max - 100000, max);
  const uint64_t low = Submit(proto::COUNT, 0, 100000);
  const uint64_t tiny = Control("tiny", HelloWithBudget("tiny", kTinyBudget))[0]
                            .msg.welcome()
                            .session();
  const uint64_t big = Control("big", HelloWithBudget("big", 8ull << 30))[0]
                           .msg.welcome()
                           .session();
  // The tiny node passes over the job it cannot hold and takes the other.
  std::vector<proto::Assign> tiny_tasks =
      Assigns(Control("tiny", Ready(tiny, 8)), "tiny");
  ASSERT_FALSE(tiny_tasks.empty());
  for (const proto::Assign& a : tiny_tasks) EXPECT_EQ(a.job(), low);
  std::vector<proto::Assign> big_tasks =
      Assigns(Control("big", Ready(big, 8)), "big");
  RunWorker("tiny", tiny, tiny_tasks);
  RunWorker("big", big, big_tasks);
  EXPECT_EQ(Job(high).state(), proto::DONE);
  EXPECT_EQ(Job(high).result().count(),
            primesieve::count_primes(max - 100000, max));
  EXPECT_EQ(Job(low).state(), proto::DONE);
  EXPECT_EQ(Job(low).result().count(), primesieve::count_primes(0, 100000));
}

TEST_F(SchedulerTest, JobNoNodeCanHoldFailsWithTheFigures) {
  const uint64_t max = ~uint64_t{0};
  const uint64_t high = Submit(proto::COUNT, max - 100000, max);
  // No node yet: nothing is decided.
  now_ += absl::Minutes(1);
  scheduler_.OnTick(now_);
  EXPECT_EQ(Job(high).state(), proto::QUEUED);
  const uint64_t tiny = Control("tiny", HelloWithBudget("tiny", kTinyBudget))[0]
                            .msg.welcome()
                            .session();
  EXPECT_TRUE(Assigns(Control("tiny", Ready(tiny, 2)), "tiny").empty());
  // Nodes may still be joining: it waits a while, then fails. The node
  // stays alive meanwhile.
  proto::ControlMsg beat;
  beat.mutable_heartbeat()->set_session(tiny);
  for (int i = 0; i < 5; ++i) {
    now_ += absl::Seconds(1);
    Control("tiny", beat);
    scheduler_.OnTick(now_);
  }
  EXPECT_EQ(Job(high).state(), proto::QUEUED);
  for (int i = 0; i < 6; ++i) {
    now_ += absl::Seconds(1);
    Control("tiny", beat);
    scheduler_.OnTick(now_);
  }
  ASSERT_EQ(Job(high).state(), proto::FAILED);
  const std::string error = Job(high).error();
  EXPECT_NE(error.find("no node can hold a task ending at"), std::string::npos)
      << error;
  EXPECT_NE(error.find("tiny"), std::string::npos) << error;
  EXPECT_NE(error.find("64 MiB"), std::string::npos) << error;
}

// The disk of the restart tests: what the server commits of TakeChanges(),
// in the order SqliteStore writes it (tests/testutil/memory_store.h).
using testutil::MemoryStore;

TEST_F(SchedulerTest, RestartResumesWithoutRecomputingMergedWork) {
  MemoryStore disk;
  const uint64_t job = Submit(proto::SUM, 0, 1'000'000);
  const uint64_t a = Join("a");
  auto held = Assigns(Control("a", Ready(a, 2)), "a");
  Complete(held[0], a);  // merged before the crash
  auto more = Assigns(Control("a", Ready(a, 1)), "a");
  EXPECT_TRUE(disk.Commit(scheduler_.TakeChanges()).ok());  // the last commit
  const uint64_t done_lo = held[0].range().lo(), done_hi = held[0].range().hi();

  // The controller dies; a new one starts on the same state.
  Scheduler restarted(Options());
  ASSERT_TRUE(restarted.Restore(disk.State()).ok());
  auto view = restarted.GetJob(job);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->state(), proto::QUEUED);
  EXPECT_EQ(view->tasks_done(), 1u);
  EXPECT_GT(view->progress(), 0);

  // The worker's old session is unknown: it registers again.
  auto out = restarted.OnControl("a", Ready(a, 1), now_);
  ASSERT_TRUE(out[0].msg.reject().reregister());
  out = restarted.OnControl("a", Hello("a"), now_);
  const uint64_t a2 = out[0].msg.welcome().session();
  std::vector<proto::Assign> queue =
      Assigns(restarted.OnControl("a", Ready(a2, 2), now_), "a");
  // The leased-but-unfinished tasks come back first, with their old ids,
  // so that a result the worker still holds for them would match.
  ASSERT_GE(queue.size(), 2u);
  std::set<uint64_t> old_ids = {held[1].task(), more[0].task()};
  EXPECT_TRUE(old_ids.count(queue[0].task()));
  EXPECT_TRUE(old_ids.count(queue[1].task()));
  while (!queue.empty()) {
    proto::Assign t = queue.front();
    queue.erase(queue.begin());
    // Nothing merged before the crash is handed out again.
    EXPECT_TRUE(t.range().hi() < done_lo || t.range().lo() > done_hi);
    proto::ResultMsg r = ResultOf(t, a2);
    *r.mutable_partial() = Sieve(t.range().lo(), t.range().hi());
    std::vector<Outbound> ignored;
    ASSERT_TRUE(restarted.OnResult(r, now_, &ignored).ok());
    auto next = Assigns(restarted.OnControl("a", Ready(a2, 1), now_), "a");
    queue.insert(queue.end(), next.begin(), next.end());
  }
  view = restarted.GetJob(job);
  EXPECT_EQ(view->state(), proto::DONE);
  EXPECT_EQ(view->result().sum(),
            Uint128ToString(PartialSum(Sieve(0, 1'000'000))));
  // New jobs do not reuse the old ids.
  std::vector<Outbound> ignored;
  proto::Submit s;
  s.set_kind(proto::COUNT);
  s.mutable_range()->set_hi(10);
  EXPECT_GT(restarted.Submit(s, now_, &ignored)->job_id(), job);
}

TEST_F(SchedulerTest, FinishedJobsSurviveARestart) {
  MemoryStore disk;
  const uint64_t job = Submit(proto::COUNT, 0, 100'000);
  const uint64_t a = Join("a");
  RunWorker("a", a, Assigns(Control("a", Ready(a, 2)), "a"));
  EXPECT_TRUE(disk.Commit(scheduler_.TakeChanges()).ok());
  Scheduler restarted(Options());
  ASSERT_TRUE(restarted.Restore(disk.State()).ok());
  auto view = restarted.GetJob(job);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->state(), proto::DONE);
  EXPECT_EQ(view->result().count(), primesieve::count_primes(0, 100'000));
  EXPECT_EQ(restarted.ListJobs().size(), 1u);
}

TEST_F(SchedulerTest, AJobKnowsItsWallTimeTaskTimeAndSpeedup) {
  MemoryStore disk;
  const uint64_t job = Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t a = Join("a");  // 4 threads (testutil::Hello)
  const uint64_t b = Join("b");
  now_ += absl::Seconds(5);  // queued a while: not part of its wall time
  std::vector<proto::Assign> for_a = Assigns(Control("a", Ready(a, 1)), "a");
  std::vector<proto::Assign> for_b = Assigns(Control("b", Ready(b, 1)), "b");
  ASSERT_EQ(for_a.size(), 1u);
  ASSERT_EQ(for_b.size(), 1u);
  EXPECT_EQ(Job(job).started_ms(),
            static_cast<uint64_t>(absl::ToUnixMillis(now_)));
  // Both ran at once, 2 s each; then a does the rest in 1 s tasks.
  now_ += absl::Seconds(2);
  Complete(for_a[0], a, nullptr, 2'000'000);
  Complete(for_b[0], b, nullptr, 2'000'000);
  EXPECT_EQ(Job(job).speedup(), 0);  // not before it ends
  std::vector<proto::Assign> rest = Assigns(Control("a", Ready(a, 1)), "a");
  int more = 0;
  while (!rest.empty()) {
    now_ += absl::Seconds(1);
    Complete(rest[0], a, nullptr, 1'000'000);
    ++more;
    rest = Assigns(Control("a", Ready(a, 1)), "a");
  }
  const proto::Job done = Job(job);
  ASSERT_EQ(done.state(), proto::DONE);
  EXPECT_DOUBLE_EQ(done.task_seconds(), 4 + more);
  EXPECT_DOUBLE_EQ(done.cpu_seconds(), 4 * (4 + more));
  EXPECT_DOUBLE_EQ(done.speedup(), (4.0 + more) / (2 + more));
  // Kept across a restart.
  EXPECT_TRUE(disk.Commit(scheduler_.TakeChanges()).ok());
  Scheduler restarted(Options());
  ASSERT_TRUE(restarted.Restore(disk.State()).ok());
  const proto::Job again = *restarted.GetJob(job);
  EXPECT_EQ(again.started_ms(), done.started_ms());
  EXPECT_DOUBLE_EQ(again.task_seconds(), done.task_seconds());
  EXPECT_DOUBLE_EQ(again.cpu_seconds(), done.cpu_seconds());
  EXPECT_DOUBLE_EQ(again.speedup(), done.speedup());
}

TEST_F(SchedulerTest, ChangesAreReportedOnce) {
  Submit(proto::COUNT, 0, 1'000'000);
  StoreBatch first = scheduler_.TakeChanges();
  EXPECT_EQ(first.jobs.size(), 1u);
  EXPECT_TRUE(scheduler_.TakeChanges().empty());
  const uint64_t a = Join("a");
  EXPECT_TRUE(scheduler_.TakeChanges().empty());  // membership is not stored
  auto held = Assigns(Control("a", Ready(a, 1)), "a");
  StoreBatch cut = scheduler_.TakeChanges();
  ASSERT_EQ(cut.tasks.size(), 1u);  // the task is on disk before the Assign
  EXPECT_FALSE(cut.tasks[0].done);
  Complete(held[0], a);
  StoreBatch merged = scheduler_.TakeChanges();
  ASSERT_EQ(merged.tasks.size(), 1u);
  EXPECT_TRUE(merged.tasks[0].done);
}

TEST_F(SchedulerTest, StaleLeaseOfADuplicateDoesNotReleaseAnotherTask) {
  const uint64_t job = Submit(proto::COUNT, 0, 1'000'000);
  const uint64_t a = Join("a");
  auto held = Assigns(Control("a", Ready(a, 2)), "a");
  Complete(held[0], a);
  // A copy of the first result arrives claiming the second task's lease.
  proto::Assign forged = held[0];
  forged.set_lease(held[1].lease());
  Complete(forged, a);
  EXPECT_EQ(Job(job).duplicates(), 1u);
  EXPECT_EQ(scheduler_.ListNodes(now_)[0].leases(), 1u);  // still held
}

TEST_F(SchedulerTest, IdleNodeGetsABackupOfAStragglerAndTheFirstResultWins) {
  const uint64_t job = Submit(proto::COUNT, 0, 1000);  // a single task
  const uint64_t slow = Join("slow");
  auto held = Assigns(Control("slow", Ready(slow, 1)), "slow");
  ASSERT_EQ(held.size(), 1u);
  const uint64_t fast = Join("fast");
  // Young lease: no backup yet.
  EXPECT_TRUE(Assigns(Control("fast", Ready(fast, 1)), "fast").empty());
  now_ += absl::Seconds(3);
  Control("slow", Beat(slow));
  Control("fast", Beat(fast));
  EXPECT_TRUE(Assigns(scheduler_.OnTick(now_), "fast").empty());
  // Older than backup_after (4 s): the idle node gets a copy.
  now_ += absl::Seconds(2);
  Control("slow", Beat(slow));
  Control("fast", Beat(fast));
  auto backup = Assigns(scheduler_.OnTick(now_), "fast");
  ASSERT_EQ(backup.size(), 1u);
  EXPECT_EQ(backup[0].task(), held[0].task());
  EXPECT_EQ(backup[0].attempt(), 2u);
  // Only one backup per task, even with more idle credit.
  EXPECT_TRUE(Assigns(Control("fast", Ready(fast, 1)), "fast").empty());
  // The backup finishes first: merged, the straggler is cancelled.
  auto out = Complete(backup[0], fast);
  EXPECT_EQ(Cancels(out, "slow"), std::vector<uint64_t>{held[0].lease()});
  EXPECT_EQ(Job(job).state(), proto::DONE);
  EXPECT_EQ(Job(job).result().count(), primesieve::count_primes(0, 1000));
  Complete(held[0], slow);  // too late
  EXPECT_EQ(Job(job).duplicates(), 1u);
}

TEST_F(SchedulerTest, ALongTaskIsBackedUpOnlyWhenOverdueForItsNode) {
  // Two tasks of 1e6 numbers at 1e12 (the fixture's minimum, sqrt(hi)).
  const uint64_t lo = 1'000'000'000'000;
  Submit(proto::COUNT, lo, lo + 1'999'999);
  const uint64_t slow = Join("slow");
  auto first = Assigns(Control("slow", Ready(slow, 1)), "slow");
  ASSERT_EQ(first.size(), 1u);
  // It took 10 s: its second task should take as long.
  Complete(first[0], slow, nullptr, 10'000'000);
  auto second = Assigns(Control("slow", Ready(slow, 1)), "slow");
  ASSERT_EQ(second.size(), 1u);
  const uint64_t fast = Join("fast");
  EXPECT_TRUE(Assigns(Control("fast", Ready(fast, 1)), "fast").empty());
  // Past backup_after (4 s) but not twice its expected 10 s: no copy.
  std::vector<proto::Assign> backup;
  for (int second_ = 1; second_ <= 19; ++second_) {
    now_ += absl::Seconds(1);
    Control("slow", Beat(slow));
    Control("fast", Beat(fast));
    backup = Assigns(scheduler_.OnTick(now_), "fast");
    ASSERT_TRUE(backup.empty()) << "a copy after " << second_ << " s";
  }
  // Overdue: the idle node gets a copy.
  now_ += absl::Seconds(1.5);
  Control("slow", Beat(slow));
  Control("fast", Beat(fast));
  backup = Assigns(scheduler_.OnTick(now_), "fast");
  ASSERT_EQ(backup.size(), 1u);
  EXPECT_EQ(backup[0].task(), second[0].task());
}

TEST_F(SchedulerTest, NoBackupWhileThereIsFreshWork) {
  Submit(proto::COUNT, 0, 100'000'000);
  const uint64_t a = Join("a");
  auto held = Assigns(Control("a", Ready(a, 1)), "a");
  now_ += absl::Seconds(2.5);
  Control("a", Beat(a));
  now_ += absl::Seconds(2.5);
  Control("a", Beat(a));
  const uint64_t b = Join("b");
  auto got = Assigns(Control("b", Ready(b, 1)), "b");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].task(), held[0].task());  // new work, not a copy
}

TEST_F(SchedulerTest, TaskThatKillsThreeWorkersFailsItsJob) {
  const uint64_t job = Submit(proto::COUNT, 0, 1000);
  for (int crash = 1; crash <= 3; ++crash) {
    const std::string name =
        absl::StrCat("n", crash);  // not "n" + to_string: GCC 12 -O3 -Wrestrict
    const uint64_t s = Join(name);
    auto held = Assigns(Control(name, Ready(s, 1)), name);
    ASSERT_EQ(held.size(), 1u) << crash;
    EXPECT_EQ(held[0].attempt(), static_cast<uint32_t>(crash));
    now_ += absl::Seconds(4);  // silent past liveness: it died
    scheduler_.OnTick(now_);
  }
  const proto::Job failed = Job(job);
  EXPECT_EQ(failed.state(), proto::FAILED);
  EXPECT_NE(failed.error().find("3 workers that died"), std::string::npos)
      << failed.error();
  // Nothing more of it is handed out.
  const uint64_t s = Join("n4");
  EXPECT_TRUE(Assigns(Control("n4", Ready(s, 1)), "n4").empty());
}

TEST_F(SchedulerTest, ATaskThatFailsOnAWorkerIsRequeuedThenFailsTheJob) {
  const uint64_t job = Submit(proto::COUNT, 0, 1000);
  const uint64_t a = Join("a");
  for (int failure = 1; failure <= 3; ++failure) {
    auto held = Assigns(Control("a", Ready(a, 1)), "a");
    ASSERT_EQ(held.size(), 1u)
        << "the task came back after failure " << failure - 1;
    EXPECT_EQ(held[0].attempt(), static_cast<uint32_t>(failure));
    proto::ResultMsg r = ResultOf(held[0], a);
    r.set_error("std::bad_alloc");
    std::vector<Outbound> out;
    ASSERT_TRUE(scheduler_.OnResult(r, now_, &out).ok());
    EXPECT_EQ(scheduler_.ListNodes(now_)[0].leases(), 0u);  // no lease leaks
  }
  const proto::Job failed = Job(job);
  EXPECT_EQ(failed.state(), proto::FAILED);
  EXPECT_NE(failed.error().find("std::bad_alloc"), std::string::npos)
      << failed.error();
}

TEST_F(SchedulerTest, ReRegisteringSameProcessIsNoCrash) {
  const uint64_t job = Submit(proto::COUNT, 0, 1000);
  for (int i = 0; i < 4; ++i) {
    // Same incarnation: the worker lost touch and said Hello again.
    const uint64_t s = Join("a");
    ASSERT_EQ(Assigns(Control("a", Ready(s, 1)), "a").size(), 1u);
  }
  EXPECT_EQ(Job(job).state(), proto::RUNNING);
}

TEST_F(SchedulerTest, ACancelledJobKeepsWhatItFinishedFromItsStart) {
  MemoryStore disk;
  const uint64_t job = Submit(proto::COUNT, 0, 9999);  // ten tasks of 1000
  const uint64_t a = Join("a");
  auto held = Assigns(Control("a", Ready(a, 3)), "a");
  ASSERT_EQ(held.size(), 3u);
  Complete(held[0], a);
  Complete(held[2],
           a);  // beyond a gap: counted in progress, not in the partial
  std::vector<Outbound> out;
  ASSERT_TRUE(scheduler_.CancelJob(job, now_, &out).ok());
  const uint64_t end = held[0].range().hi();
  for (const proto::Job& view :
       {Job(job), [&] {
          EXPECT_TRUE(disk.Commit(scheduler_.TakeChanges()).ok());
          Scheduler restarted(Options());
          EXPECT_TRUE(restarted.Restore(disk.State()).ok());
          return *restarted.GetJob(job);
        }()}) {
    EXPECT_EQ(view.state(), proto::CANCELLED);
    EXPECT_FALSE(view.has_result());
    EXPECT_DOUBLE_EQ(view.progress(),
                     static_cast<double>(end + 1 + held[2].range().hi() -
                                         held[2].range().lo() + 1) /
                         10000);
    ASSERT_TRUE(view.has_partial_range()) << view.ShortDebugString();
    EXPECT_EQ(view.partial_range().lo(), 0u);
    EXPECT_EQ(view.partial_range().hi(), end);
    EXPECT_EQ(view.partial().count(), primesieve::count_primes(0, end));
  }

  // Nothing from the start finished: no partial.
  const uint64_t other = Submit(proto::COUNT, 0, 9999);
  held = Assigns(Control("a", Ready(a, 2)), "a");
  ASSERT_EQ(held.size(), 2u);
  Complete(held[1], a);
  ASSERT_TRUE(scheduler_.CancelJob(other, now_, &out).ok());
  EXPECT_FALSE(Job(other).has_partial_range());
  EXPECT_GT(Job(other).progress(), 0);
}

TEST_F(SchedulerTest, FailedJobKeepsItsErrorAcrossARestart) {
  MemoryStore disk;
  const uint64_t job = Submit(proto::COUNT, 0, 1000);
  for (int crash = 1; crash <= 3; ++crash) {
    const std::string name =
        absl::StrCat("n", crash);  // not "n" + to_string: GCC 12 -O3 -Wrestrict
    const uint64_t s = Join(name);
    Assigns(Control(name, Ready(s, 1)), name);
    now_ += absl::Seconds(4);
    scheduler_.OnTick(now_);
  }
  EXPECT_TRUE(disk.Commit(scheduler_.TakeChanges()).ok());
  Scheduler restarted(Options());
  ASSERT_TRUE(restarted.Restore(disk.State()).ok());
  EXPECT_EQ(restarted.GetJob(job)->state(), proto::FAILED);
  EXPECT_FALSE(restarted.GetJob(job)->error().empty());
}

TEST_F(SchedulerTest, DrainAndIdsSurviveARestart) {
  MemoryStore disk;
  SchedulerOptions o = Options();
  o.keep_finished = 1;
  Scheduler first(o);
  std::vector<Outbound> out;
  first.OnControl("a", Hello("a"), now_);
  ASSERT_TRUE(first.Drain("a", true, now_, &out).ok());
  proto::Submit s;
  s.set_kind(proto::COUNT);
  s.mutable_range()->set_hi(10);
  const uint64_t j1 = first.Submit(s, now_, &out)->job_id();
  const uint64_t j2 = first.Submit(s, now_, &out)->job_id();
  ASSERT_TRUE(first.CancelJob(j2, now_, &out).ok());
  ASSERT_TRUE(
      first.CancelJob(j1, now_, &out).ok());  // j2, the newest id, is forgotten
  EXPECT_TRUE(disk.Commit(first.TakeChanges()).ok());

  Scheduler restarted(o);
  ASSERT_TRUE(restarted.Restore(disk.State()).ok());
  EXPECT_GT(restarted.Submit(s, now_, &out)->job_id(), j2);  // never reused
  auto welcome = restarted.OnControl("a", Hello("a"), now_);
  const uint64_t a = welcome[0].msg.welcome().session();
  EXPECT_EQ(restarted.ListNodes(now_)[0].state(), proto::DRAINING);
  EXPECT_TRUE(
      Assigns(restarted.OnControl("a", Ready(a, 2), now_), "a").empty());
}

TEST_F(SchedulerTest, OnlyTheNewestFinishedJobsAreKept) {
  SchedulerOptions o = Options();
  o.keep_finished = 2;
  Scheduler small(o);
  std::vector<Outbound> out;
  proto::Submit s;
  s.set_kind(proto::COUNT);
  s.mutable_range()->set_hi(10);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(small.Submit(s, now_, &out)->job_id());
  MemoryStore disk;
  ASSERT_TRUE(small.CancelJob(ids[3], now_, &out).ok());
  ASSERT_TRUE(small.CancelJob(ids[0], now_, &out).ok());
  EXPECT_EQ(small.ListJobs().size(), 4u);  // 2 finished, 2 queued
  EXPECT_TRUE(disk.Commit(small.TakeChanges()).ok());
  // A third finished job: the oldest finished one (ids[3]) is forgotten,
  // however old the unfinished ones are.
  ASSERT_TRUE(small.CancelJob(ids[1], now_, &out).ok());
  EXPECT_EQ(small.GetJob(ids[3]).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(small.GetJob(ids[0]).ok());
  EXPECT_TRUE(small.GetJob(ids[1]).ok());
  EXPECT_TRUE(small.GetJob(ids[2]).ok());
  StoreBatch batch = small.TakeChanges();
  EXPECT_EQ(batch.deleted_jobs, std::vector<uint64_t>{ids[3]});
  EXPECT_TRUE(disk.Commit(std::move(batch)).ok());
  Scheduler restarted(o);
  ASSERT_TRUE(restarted.Restore(disk.State()).ok());
  EXPECT_EQ(restarted.ListJobs().size(), 3u);
  EXPECT_FALSE(restarted.GetJob(ids[3]).ok());
}

// The once-a-second summary: counts by state, the unfinished jobs by id,
// and the newest that ended first, by when they ended (not by id), also
// after a restart.
TEST_F(SchedulerTest, SummarizeJobsCountsAllAndListsTheUnfinishedAndNewest) {
  std::vector<Outbound> out;
  proto::Submit s;
  s.set_kind(proto::COUNT);
  s.mutable_range()->set_hi(10);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(scheduler_.Submit(s, now_, &out)->job_id());
  }
  ASSERT_TRUE(scheduler_.CancelJob(ids[3], now_, &out).ok());
  now_ += absl::Seconds(1);
  ASSERT_TRUE(scheduler_.CancelJob(ids[0], now_, &out).ok());
  now_ += absl::Seconds(1);
  ASSERT_TRUE(scheduler_.CancelJob(ids[4], now_, &out).ok());
  auto check = [&](const Scheduler& scheduler) {
    const Scheduler::JobSummary summary = scheduler.SummarizeJobs(2);
    EXPECT_EQ(summary.by_state.at(proto::CANCELLED), 3u);
    EXPECT_EQ(summary.by_state.at(proto::QUEUED), 2u);
    ASSERT_EQ(summary.unfinished.size(), 2u);
    EXPECT_EQ(summary.unfinished[0].job_id(), ids[1]);
    EXPECT_EQ(summary.unfinished[1].job_id(), ids[2]);
    ASSERT_EQ(summary.ended.size(), 2u);
    EXPECT_EQ(summary.ended[0].job_id(), ids[4]);
    EXPECT_EQ(summary.ended[1].job_id(), ids[0]);
    EXPECT_TRUE(scheduler.SummarizeJobs(0).ended.empty());
  };
  check(scheduler_);
  MemoryStore disk;
  ASSERT_TRUE(disk.Commit(scheduler_.TakeChanges()).ok());
  Scheduler restarted(Options());
  ASSERT_TRUE(restarted.Restore(disk.State()).ok());
  check(restarted);
}

}  // namespace
}  // namespace quark
