// The load generator's simulated worker speaks the protocol through the
// real worker session: these check the parts it adds (the fake executor,
// the counters, the ack latencies), and that what goes out is what a
// session sends.
#include "bench/load/sim_worker.h"

#include "gtest/gtest.h"
#include "tests/testutil/messages.h"

namespace quark {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

SimWorkerOptions Options() {
  SimWorkerOptions o;
  o.name = "sim-0001";
  o.credits = 2;
  o.fake_task = absl::Seconds(1);
  o.reported_compute = absl::Seconds(2);
  return o;
}

// A registered worker and what it sent on the way.
SimWorker Registered(SimWorker::Actions* out) {
  SimWorker w(Options());
  w.Start(kT0, out);
  w.OnControl(testutil::Welcome(41), kT0, out);
  return w;
}

TEST(SimWorkerTest, RegistersAsTheRealSessionDoes) {
  SimWorker::Actions out;
  SimWorker w = Registered(&out);
  ASSERT_EQ(out.send.size(), 2u);
  EXPECT_EQ(out.send[0].hello().node(), "sim-0001");
  EXPECT_EQ(out.send[1].ready().session(), 41u);
  EXPECT_EQ(out.send[1].ready().credits(), 2u);
  EXPECT_EQ(out.collector, "tcp://*:7701");
  EXPECT_TRUE(w.registered());
  EXPECT_EQ(w.counters().welcomes, 1u);
}

TEST(SimWorkerTest, ATaskTakesItsFakeTimeAndItsResultIsKeptUntilAcked) {
  SimWorker::Actions out;
  SimWorker w = Registered(&out);
  out = {};
  w.OnControl(testutil::Assign(1, 0, 100), kT0, &out);
  EXPECT_TRUE(out.push.empty());
  EXPECT_EQ(w.in_flight(), 1u);
  EXPECT_EQ(w.NextDeadline(), kT0 + absl::Seconds(1));

  w.OnTick(kT0 + absl::Seconds(1), &out);
  ASSERT_EQ(out.push.size(), 1u);
  const proto::ResultMsg& r = out.push[0];
  EXPECT_EQ(r.lease(), 1u);
  EXPECT_EQ(r.session(), 41u);
  EXPECT_EQ(r.range().hi(), 100u);
  EXPECT_EQ(r.partial().count(), 0u);   // faked
  EXPECT_EQ(r.compute_us(), 2000000u);  // as reported_compute says
  EXPECT_EQ(w.counters().results, 1u);
  EXPECT_EQ(w.unacked(), 1u);

  out = {};
  w.OnControl(testutil::Ack({1}), kT0 + absl::Milliseconds(1250), &out);
  ASSERT_EQ(out.acked.size(), 1u);
  EXPECT_EQ(out.acked[0], absl::Milliseconds(250));
  EXPECT_EQ(w.unacked(), 0u);
  w.OnControl(testutil::Ack({1}), kT0 + absl::Seconds(2), &out);
  EXPECT_EQ(w.counters().acked, 1u);
  EXPECT_EQ(w.counters().unknown_acks, 1u);
}

TEST(SimWorkerTest, AnUnackedResultIsPushedAgainAndCountedAsAResend) {
  SimWorker::Actions out;
  SimWorker w = Registered(&out);
  w.OnControl(testutil::Assign(1), kT0, &out);
  w.OnTick(kT0 + absl::Seconds(1), &out);
  out = {};
  // The session pushes again after resend_after (5 s); heartbeats keep the
  // controller alive meanwhile.
  for (int s = 2; s <= 7; ++s) {
    w.OnControl(testutil::Heartbeat(0), kT0 + absl::Seconds(s), &out);
  }
  EXPECT_EQ(w.counters().results, 1u);
  EXPECT_GE(w.counters().resends, 1u);
  // Latency counts from the first push.
  out = {};
  w.OnControl(testutil::Ack({1}), kT0 + absl::Seconds(8), &out);
  ASSERT_EQ(out.acked.size(), 1u);
  EXPECT_EQ(out.acked[0], absl::Seconds(7));
}

TEST(SimWorkerTest, ACancelledRunningTaskEndsAtOnceWithNoResult) {
  SimWorker::Actions out;
  SimWorker w = Registered(&out);
  w.OnControl(testutil::Assign(3), kT0, &out);
  out = {};
  w.OnControl(testutil::Cancel({3}), kT0 + absl::Milliseconds(10), &out);
  w.OnTick(kT0 + absl::Milliseconds(10), &out);
  EXPECT_TRUE(out.push.empty());
  EXPECT_EQ(w.in_flight(), 0u);
  EXPECT_EQ(w.counters().cancels, 1u);
  // Its credit comes back.
  bool ready = false;
  for (const auto& m : out.send) ready |= m.has_ready();
  EXPECT_TRUE(ready);
}

TEST(SimWorkerTest, LeavesAfterItsRunningTaskLikeARealWorker) {
  SimWorker::Actions out;
  SimWorker w = Registered(&out);
  w.OnControl(testutil::Assign(5), kT0, &out);
  out = {};
  w.Leave(kT0 + absl::Milliseconds(100), &out);
  EXPECT_FALSE(w.done());  // the running task first
  w.OnTick(kT0 + absl::Seconds(1), &out);
  ASSERT_EQ(out.push.size(), 1u);
  bool goodbye = false;
  for (const auto& m : out.send) goodbye |= m.has_goodbye();
  EXPECT_TRUE(goodbye);
  w.OnControl(testutil::Ack({5}), kT0 + absl::Seconds(1), &out);
  EXPECT_TRUE(w.done());
}

}  // namespace
}  // namespace quark
