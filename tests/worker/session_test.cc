#include "worker/session.h"

#include <string>
#include <vector>

#include "common/health.h"
#include "common/transport.h"
#include "gtest/gtest.h"
#include "tests/testutil/messages.h"

namespace quark {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);
constexpr uint64_t kSession = 41;

SessionOptions Options() {
  SessionOptions o;
  o.node = "pi-1";
  o.controller = "tcp://ctl:7700";
  o.cores = 4;
  o.threads = 3;
  o.incarnation = 0xfeed;
  o.credits = 2;
  o.drain_timeout = absl::Seconds(30);
  return o;
}

using testutil::Ack;
using testutil::Assign;
using testutil::Cancel;
using testutil::Reject;
using testutil::Welcome;

proto::ControlMsg Beat() {
  proto::ControlMsg m;
  m.mutable_heartbeat();
  return m;
}

proto::Partial SomePartial() {
  proto::Partial p;
  p.set_count(25);
  p.set_first_prime(2);
  p.set_last_prime(97);
  return p;
}

std::vector<uint64_t> PushedLeases(const SessionActions& a) {
  std::vector<uint64_t> leases;
  for (const auto& r : a.push) leases.push_back(r.lease());
  return leases;
}

std::vector<proto::ControlMsg> Sent(const SessionActions& a,
                                    proto::ControlMsg::BodyCase body) {
  std::vector<proto::ControlMsg> out;
  for (const auto& m : a.send) {
    if (m.body_case() == body) out.push_back(m);
  }
  return out;
}

// Total credits granted by the Ready messages of `a`.
uint32_t Granted(const SessionActions& a) {
  uint32_t total = 0;
  for (const auto& m : Sent(a, proto::ControlMsg::kReady))
    total += m.ready().credits();
  return total;
}

// A session welcomed at kT0 as kSession.
struct Registered {
  explicit Registered(SessionOptions o = Options()) : session(o) {
    session.Start(kT0);
    session.OnMessage(Welcome(kSession), kT0);
  }
  Session session;
};

TEST(SessionTest, RegistersAndGrantsItsCredits) {
  Session s(Options());
  EXPECT_EQ(s.state(), Session::State::kIdle);
  SessionActions start = s.Start(kT0);
  EXPECT_FALSE(start.reconnect);
  ASSERT_EQ(start.send.size(), 1u);
  ASSERT_TRUE(start.send[0].has_hello());
  const proto::Hello& hello = start.send[0].hello();
  EXPECT_EQ(hello.protocol_version(), kProtocolVersion);
  EXPECT_EQ(hello.node(), "pi-1");
  EXPECT_EQ(hello.cores(), 4u);
  EXPECT_EQ(hello.threads(), 3u);
  EXPECT_EQ(hello.incarnation(), 0xfeedu);
  EXPECT_EQ(s.state(), Session::State::kJoining);

  SessionActions welcomed =
      s.OnMessage(Welcome(kSession), kT0 + absl::Milliseconds(5));
  EXPECT_EQ(s.state(), Session::State::kRegistered);
  EXPECT_EQ(s.session(), kSession);
  EXPECT_EQ(welcomed.connect_collector, "tcp://*:7701");
  ASSERT_EQ(welcomed.send.size(), 1u);
  EXPECT_EQ(welcomed.send[0].ready().session(), kSession);
  EXPECT_EQ(welcomed.send[0].ready().credits(), 2u);
  EXPECT_FALSE(welcomed.exit);
}

// Events in order and what each must grant, start and push.
struct Step {
  enum Kind { kAssign, kFinish, kFail, kCancel } kind;
  uint64_t lease;
  uint32_t granted;
  uint64_t started;  // 0: nothing
  bool pushed;
};

TEST(SessionTest, CreditsComeBackOnePerFinishedOrDroppedTask) {
  const std::vector<Step> steps = {
      {Step::kAssign, 1, 0, 1, false},  // runs at once
      {Step::kAssign, 2, 0, 0, false},  // waits
      {Step::kFinish, 1, 1, 2, true},
      {Step::kAssign, 3, 0, 0, false},
      {Step::kCancel, 3, 1, 0, false},  // waiting: dropped, credit back
      {Step::kCancel, 2, 0, 0, false},  // running: credit when it ends
      {Step::kFinish, 2, 1, 0, false},  // result discarded
      {Step::kAssign, 4, 0, 4, false},
      {Step::kFail, 4, 1, 0, true},      // failed: reported, credit back
      {Step::kCancel, 99, 0, 0, false},  // unknown lease: nothing
  };
  Registered r;
  absl::Time now = kT0;
  for (const Step& step : steps) {
    SCOPED_TRACE(testing::Message()
                 << "step kind=" << step.kind << " lease=" << step.lease);
    now += absl::Milliseconds(10);
    SessionActions a;
    switch (step.kind) {
      case Step::kAssign:
        a = r.session.OnMessage(Assign(step.lease), now);
        break;
      case Step::kFinish:
        a = r.session.OnTaskFinished(step.lease, SomePartial(),
                                     absl::Milliseconds(3), now);
        break;
      case Step::kFail:
        a = r.session.OnTaskFinished(step.lease, absl::InternalError("boom"),
                                     absl::Milliseconds(3), now);
        break;
      case Step::kCancel:
        a = r.session.OnMessage(Cancel({step.lease}), now);
        break;
    }
    EXPECT_EQ(Granted(a), step.granted);
    EXPECT_EQ(a.start.has_value() ? a.start->lease() : 0u, step.started);
    ASSERT_EQ(a.push.size(), step.pushed ? 1u : 0u);
    if (step.pushed) {
      const proto::ResultMsg& result = a.push[0];
      EXPECT_EQ(result.protocol_version(), kProtocolVersion);
      EXPECT_EQ(result.session(), kSession);
      EXPECT_EQ(result.lease(), step.lease);
      EXPECT_EQ(result.job(), 7u);
      EXPECT_EQ(result.task(), step.lease * 10);
      EXPECT_EQ(result.range().hi(), 100u);
      EXPECT_EQ(result.compute_us(), 3000u);
      if (step.kind == Step::kFail) {
        EXPECT_EQ(result.error(), "boom");
        EXPECT_FALSE(result.has_partial());
      } else {
        EXPECT_TRUE(result.error().empty());
        EXPECT_EQ(result.partial().count(), 25u);
      }
    }
  }
}

TEST(SessionTest, RefusesBadAssignmentsAndGivesTheCreditBack) {
  const std::vector<proto::ControlMsg> bad = {
      Assign(5, 10, 9), Assign(6, 0, 10, proto::KIND_UNSPECIFIED),
      Assign(0, 0, 10)};
  for (const proto::ControlMsg& msg : bad) {
    Registered r;
    SessionActions a = r.session.OnMessage(msg, kT0);
    EXPECT_FALSE(a.start);
    EXPECT_EQ(Granted(a), 1u);
    EXPECT_FALSE(r.session.running());
    // Reported, so that the controller does not wait for it forever.
    ASSERT_EQ(a.push.size(), 1u);
    EXPECT_EQ(a.push[0].lease(), msg.assign().lease());
    EXPECT_NE(a.push[0].error().find("refused by the worker"),
              std::string::npos);
    EXPECT_FALSE(a.push[0].has_partial());
  }
}

TEST(SessionTest, IgnoresAssignmentsBeforeItIsWelcomed) {
  Session s(Options());
  s.Start(kT0);
  SessionActions a = s.OnMessage(Assign(1), kT0);
  EXPECT_FALSE(a.start);
  EXPECT_TRUE(a.send.empty());
}

struct HeartbeatCase {
  uint32_t heartbeat_ms;
  int expected_in_10s;
};

TEST(SessionTest, HeartbeatsAtTheWelcomedInterval) {
  for (const HeartbeatCase& c : std::vector<HeartbeatCase>{
           {1000, 10}, {250, 40}, {3000, 3}, {700, 14}}) {
    SCOPED_TRACE(c.heartbeat_ms);
    Session s(Options());
    s.Start(kT0);
    s.OnMessage(Welcome(kSession, c.heartbeat_ms, 1000), kT0);  // Ready at kT0
    s.OnMessage(Assign(1), kT0);
    std::vector<absl::Time> beats;
    for (absl::Time now = kT0; now <= kT0 + absl::Seconds(10);
         now += absl::Milliseconds(50)) {
      for (const auto& m : Sent(s.OnTick(now), proto::ControlMsg::kHeartbeat)) {
        EXPECT_EQ(m.heartbeat().session(), kSession);
        EXPECT_TRUE(m.heartbeat().sieving());  // its one task started at once
        beats.push_back(now);
      }
    }
    EXPECT_EQ(static_cast<int>(beats.size()), c.expected_in_10s);
    for (size_t i = 0; i < beats.size(); ++i) {
      const absl::Time due = kT0 + (i + 1) * absl::Milliseconds(c.heartbeat_ms);
      EXPECT_GE(beats[i], due);
      EXPECT_LT(beats[i], due + absl::Milliseconds(50));
    }
  }
}

struct BackoffCase {
  absl::Duration initial;
  absl::Duration max;
  std::vector<absl::Duration> gaps;  // between successive Hellos
};

// Ticks every 10 ms from `from` to `to`; returns when Hellos were sent and
// checks that each came with a reconnect.
std::vector<absl::Time> HelloTimes(Session& s, absl::Time from, absl::Time to) {
  std::vector<absl::Time> times;
  for (absl::Time now = from; now <= to; now += absl::Milliseconds(10)) {
    SessionActions a = s.OnTick(now);
    if (!Sent(a, proto::ControlMsg::kHello).empty()) {
      EXPECT_TRUE(a.reconnect);
      times.push_back(now);
    }
  }
  return times;
}

TEST(SessionTest, LostControllerMeansReconnectAndHelloWithBackoff) {
  const std::vector<BackoffCase> cases = {
      {absl::Seconds(1),
       absl::Seconds(32),
       {absl::Seconds(1), absl::Seconds(2), absl::Seconds(4), absl::Seconds(8),
        absl::Seconds(16), absl::Seconds(32), absl::Seconds(32)}},
      {absl::Milliseconds(100),
       absl::Milliseconds(400),
       {absl::Milliseconds(100), absl::Milliseconds(200),
        absl::Milliseconds(400), absl::Milliseconds(400)}},
  };
  for (const BackoffCase& c : cases) {
    SessionOptions o = Options();
    o.initial_backoff = c.initial;
    o.max_backoff = c.max;
    Registered r(o);
    r.session.OnMessage(Assign(1), kT0);
    r.session.OnMessage(Assign(2), kT0);  // waits; dropped when lost
    // Alive while the controller talks...
    EXPECT_TRUE(
        HelloTimes(r.session, kT0, kT0 + absl::Milliseconds(2990)).empty());
    r.session.OnMessage(Beat(), kT0 + absl::Seconds(2));
    absl::Duration total = absl::ZeroDuration();
    for (absl::Duration gap : c.gaps) total += gap;
    // ...lost 3 intervals after it last spoke.
    const std::vector<absl::Time> hellos = HelloTimes(
        r.session, kT0 + absl::Seconds(3), kT0 + absl::Seconds(5) + total);
    ASSERT_EQ(hellos.size(), c.gaps.size() + 1);
    EXPECT_EQ(hellos[0], kT0 + absl::Seconds(5));
    for (size_t i = 0; i < c.gaps.size(); ++i) {
      EXPECT_EQ(hellos[i + 1] - hellos[i], c.gaps[i]) << i;
    }
    EXPECT_EQ(r.session.state(), Session::State::kJoining);
    EXPECT_EQ(r.session.waiting(), 0u);
    EXPECT_TRUE(r.session.running());
  }
}

TEST(SessionTest, UnansweredFirstHelloBacksOffToo) {
  Session s(Options());
  s.Start(kT0);
  const std::vector<absl::Time> hellos =
      HelloTimes(s, kT0, kT0 + absl::Seconds(130));
  const std::vector<int> expected = {1, 3, 7, 15, 31, 63, 95, 127};
  ASSERT_EQ(hellos.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(hellos[i], kT0 + absl::Seconds(expected[i]));
  }
  // Welcomed at last: the backoff starts over after the next loss.
  s.OnMessage(Welcome(kSession), kT0 + absl::Seconds(130));
  EXPECT_EQ(HelloTimes(s, kT0 + absl::Seconds(131), kT0 + absl::Seconds(135)),
            std::vector<absl::Time>(
                {kT0 + absl::Seconds(133), kT0 + absl::Seconds(134)}));
}

TEST(SessionTest, ReregistersAtOnceAndStillPushesTheRunningResult) {
  Registered r;
  r.session.OnMessage(Assign(1), kT0);
  r.session.OnMessage(Assign(2), kT0);
  SessionActions rejected =
      r.session.OnMessage(Reject(true), kT0 + absl::Seconds(1));
  EXPECT_FALSE(rejected.reconnect);
  ASSERT_EQ(Sent(rejected, proto::ControlMsg::kHello).size(), 1u);
  EXPECT_EQ(r.session.state(), Session::State::kJoining);
  EXPECT_EQ(r.session.waiting(), 0u);
  // A second Reject answers a message sent before the Hello: no new Hello.
  EXPECT_TRUE(
      r.session.OnMessage(Reject(true), kT0 + absl::Seconds(1)).send.empty());

  // Task 1 still runs: the new session gets one credit less...
  SessionActions welcomed =
      r.session.OnMessage(Welcome(kSession + 1), kT0 + absl::Seconds(1));
  EXPECT_EQ(Granted(welcomed), 1u);
  // ...and its result goes out under the new session, with a credit back.
  SessionActions done = r.session.OnTaskFinished(
      1, SomePartial(), absl::Seconds(1), kT0 + absl::Seconds(2));
  ASSERT_EQ(done.push.size(), 1u);
  EXPECT_EQ(done.push[0].session(), kSession + 1);
  EXPECT_EQ(done.push[0].lease(), 1u);
  EXPECT_EQ(Granted(done), 1u);
}

TEST(SessionTest, RateAveragesTheFinishedTasks) {
  Registered r;
  EXPECT_EQ(r.session.rate(), 0);
  r.session.OnMessage(Assign(1, 0, 999'999), kT0);
  r.session.OnTaskFinished(1, SomePartial(), absl::Seconds(1), kT0);
  EXPECT_DOUBLE_EQ(r.session.rate(), 1e6);
  r.session.OnMessage(Assign(2, 1'000'000, 3'999'999), kT0);
  r.session.OnTaskFinished(2, SomePartial(), absl::Seconds(1), kT0);
  EXPECT_DOUBLE_EQ(r.session.rate(), 2e6);  // (1e6 + 3e6) / 2
  // A failed task says nothing about the rate.
  r.session.OnMessage(Assign(3, 0, 9), kT0);
  r.session.OnTaskFinished(3, absl::InternalError("boom"), absl::Seconds(9),
                           kT0);
  EXPECT_DOUBLE_EQ(r.session.rate(), 2e6);
}

TEST(SessionTest, ALostConnectionMeansRegisteringAgain) {
  Registered r;
  r.session.OnMessage(Assign(1), kT0);
  r.session.OnMessage(Assign(2), kT0);
  SessionActions a = r.session.OnDisconnected(kT0);
  EXPECT_FALSE(a.reconnect);  // ZeroMQ reconnects the socket by itself
  EXPECT_EQ(Sent(a, proto::ControlMsg::kHello).size(), 1u);
  EXPECT_EQ(r.session.state(), Session::State::kJoining);
  EXPECT_EQ(r.session.waiting(), 0u);  // the controller requeues them
  // While joining, a disconnect changes nothing.
  EXPECT_TRUE(r.session.OnDisconnected(kT0).send.empty());
}

TEST(SessionTest, AControllerThatMovedIsGreetedThereAtOnce) {
  Session s(Options());
  s.Start(kT0);
  // Backed off far by now: the next Hello would be long in coming.
  HelloTimes(s, kT0, kT0 + absl::Seconds(40));
  SessionActions moved = s.OnControllerMoved(kT0 + absl::Seconds(41));
  EXPECT_TRUE(moved.reconnect);
  EXPECT_EQ(Sent(moved, proto::ControlMsg::kHello).size(), 1u);
  // The backoff starts over from there.
  EXPECT_EQ(HelloTimes(s, kT0 + absl::Seconds(41) + absl::Milliseconds(10),
                       kT0 + absl::Seconds(44)),
            std::vector<absl::Time>(
                {kT0 + absl::Seconds(42), kT0 + absl::Seconds(44)}));
  // Registered, it stays where it is.
  s.OnMessage(Welcome(kSession), kT0 + absl::Seconds(45));
  SessionActions registered = s.OnControllerMoved(kT0 + absl::Seconds(46));
  EXPECT_FALSE(registered.reconnect);
  EXPECT_TRUE(registered.send.empty());
}

TEST(SessionTest, IgnoresARejectOfAnEarlierSessionOnceWelcomedAgain) {
  Registered r;
  r.session.OnMessage(Reject(true), kT0);  // re-registers
  r.session.OnMessage(Welcome(kSession + 1), kT0);
  ASSERT_EQ(r.session.state(), Session::State::kRegistered);
  // A heartbeat of session kSession was still queued: its Reject is stale.
  proto::ControlMsg stale = Reject(true);
  stale.mutable_reject()->set_session(kSession);
  EXPECT_TRUE(r.session.OnMessage(stale, kT0).send.empty());
  EXPECT_EQ(r.session.state(), Session::State::kRegistered);
  // One naming the current session is obeyed.
  proto::ControlMsg current = Reject(true);
  current.mutable_reject()->set_session(kSession + 1);
  EXPECT_EQ(
      Sent(r.session.OnMessage(current, kT0), proto::ControlMsg::kHello).size(),
      1u);
}

TEST(SessionTest, ResultOfATaskFinishedWhileJoiningIsPushedWithoutCredit) {
  Registered r;
  r.session.OnMessage(Assign(1), kT0);
  r.session.OnMessage(Reject(true), kT0);
  SessionActions done =
      r.session.OnTaskFinished(1, SomePartial(), absl::Seconds(1), kT0);
  ASSERT_EQ(done.push.size(), 1u);
  EXPECT_EQ(done.push[0].session(), kSession);
  EXPECT_EQ(Granted(done), 0u);
  EXPECT_EQ(Granted(r.session.OnMessage(Welcome(kSession + 1), kT0)), 2u);
}

TEST(SessionTest, FatalRejectNamesBothVersions) {
  Session s(Options());
  s.Start(kT0);
  SessionActions a = s.OnMessage(Reject(false, 9), kT0);
  ASSERT_TRUE(a.exit.has_value());
  EXPECT_FALSE(a.exit->ok());
  const std::string message(a.exit->message());
  EXPECT_NE(message.find("controller protocol version 9"), std::string::npos)
      << message;
  EXPECT_NE(message.find(absl::StrCat("ours ", kProtocolVersion)),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("because"), std::string::npos) << message;
  EXPECT_EQ(s.state(), Session::State::kDone);
}

TEST(SessionTest, ARejectionByTheOperatorIsFinal) {
  Registered r;
  proto::ControlMsg m = Reject(false);
  m.mutable_reject()->set_rejected(true);
  m.mutable_reject()->set_reason("this node was rejected by the operator");
  SessionActions a = r.session.OnMessage(m, kT0);
  ASSERT_TRUE(a.exit.has_value());
  EXPECT_TRUE(absl::IsPermissionDenied(*a.exit)) << *a.exit;
  EXPECT_NE(a.exit->message().find("rejected by the operator"),
            std::string::npos);
  EXPECT_EQ(r.session.state(), Session::State::kDone);
}

TEST(SessionTest, WelcomeOfAnotherVersionIsFatal) {
  Session s(Options());
  s.Start(kT0);
  proto::ControlMsg w = Welcome(kSession);
  w.mutable_welcome()->set_protocol_version(kProtocolVersion + 1);
  SessionActions a = s.OnMessage(w, kT0);
  ASSERT_TRUE(a.exit.has_value());
  EXPECT_FALSE(a.exit->ok());
}

TEST(SessionTest, LeavesAtOnceWhenIdle) {
  Registered r;
  SessionActions a = r.session.OnShutdown(kT0 + absl::Seconds(1));
  ASSERT_EQ(a.send.size(), 1u);
  EXPECT_EQ(a.send[0].goodbye().session(), kSession);
  ASSERT_TRUE(a.exit.has_value());
  EXPECT_TRUE(a.exit->ok());
  EXPECT_EQ(r.session.state(), Session::State::kDone);
}

TEST(SessionTest, LeaveBeforeWelcomeSaysNoGoodbye) {
  Session s(Options());
  s.Start(kT0);
  SessionActions a = s.OnShutdown(kT0);
  EXPECT_TRUE(a.send.empty());
  ASSERT_TRUE(a.exit.has_value());
  EXPECT_TRUE(a.exit->ok());
}

TEST(SessionTest, LeaveFinishesTheRunningTaskFirst) {
  Registered r;
  r.session.OnMessage(Assign(1), kT0);
  r.session.OnMessage(Assign(2), kT0);
  SessionActions leave = r.session.OnShutdown(kT0);
  EXPECT_TRUE(leave.send.empty());  // no credits, no Goodbye yet
  EXPECT_FALSE(leave.exit);
  EXPECT_EQ(r.session.waiting(), 0u);
  // Still heartbeating, taking no new work.
  EXPECT_EQ(Sent(r.session.OnTick(kT0 + absl::Seconds(1)),
                 proto::ControlMsg::kHeartbeat)
                .size(),
            1u);
  SessionActions late = r.session.OnMessage(Assign(3), kT0 + absl::Seconds(1));
  EXPECT_FALSE(late.start);
  EXPECT_TRUE(late.send.empty());

  SessionActions done = r.session.OnTaskFinished(
      1, SomePartial(), absl::Seconds(2), kT0 + absl::Seconds(2));
  ASSERT_EQ(done.push.size(), 1u);
  EXPECT_EQ(done.push[0].lease(), 1u);
  EXPECT_EQ(Granted(done), 0u);
  ASSERT_EQ(Sent(done, proto::ControlMsg::kGoodbye).size(), 1u);
  // The result is not acknowledged yet: wait for it.
  EXPECT_FALSE(done.exit);
  EXPECT_EQ(r.session.state(), Session::State::kAwaitingAcks);
  SessionActions acked = r.session.OnMessage(Ack({1}), kT0 + absl::Seconds(3));
  EXPECT_TRUE(acked.send.empty());
  ASSERT_TRUE(acked.exit.has_value());
  EXPECT_TRUE(acked.exit->ok());
  EXPECT_EQ(r.session.state(), Session::State::kDone);
}

TEST(SessionTest, DrainTimeoutLeavesWithoutTheResult) {
  Registered r;
  r.session.OnMessage(Assign(1), kT0);
  r.session.OnShutdown(kT0);
  EXPECT_FALSE(r.session.OnTick(kT0 + absl::Milliseconds(29999)).exit);
  EXPECT_EQ(r.session.NextDeadline(), kT0 + absl::Seconds(30));
  SessionActions a = r.session.OnTick(kT0 + absl::Seconds(30));
  ASSERT_EQ(Sent(a, proto::ControlMsg::kGoodbye).size(), 1u);
  ASSERT_TRUE(a.exit.has_value());
  EXPECT_TRUE(a.exit->ok());
  EXPECT_TRUE(a.push.empty());
  // The task still sieving is told to stop: the process need not wait.
  EXPECT_EQ(a.stop, std::vector<uint64_t>{1});
}

TEST(SessionTest, CancelOfTheRunningTaskStopsItsSieve) {
  Registered r;
  r.session.OnMessage(Assign(1), kT0);
  r.session.OnMessage(Assign(2), kT0);
  SessionActions a = r.session.OnMessage(Cancel({1}), kT0);
  EXPECT_EQ(a.stop, std::vector<uint64_t>{1});
  // Its (stopped) end frees the slot, nothing is pushed, the next starts.
  SessionActions done =
      r.session.OnTaskFinished(1, absl::CancelledError("stopped"),
                               absl::Seconds(1), kT0 + absl::Seconds(1));
  EXPECT_TRUE(done.push.empty());
  ASSERT_TRUE(done.start.has_value());
  EXPECT_EQ(done.start->lease(), 2u);
  // A waiting lease's Cancel stops no sieve.
  r.session.OnMessage(Assign(3), kT0);
  EXPECT_TRUE(r.session.OnMessage(Cancel({3}), kT0).stop.empty());
}

TEST(SessionTest, HeartbeatsSayWhetherTheSieveIsBusy) {
  Registered r;
  auto beat = [&](absl::Time at) {
    std::vector<proto::ControlMsg> beats =
        Sent(r.session.OnTick(at), proto::ControlMsg::kHeartbeat);
    EXPECT_EQ(beats.size(), 1u);
    return !beats.empty() && beats[0].heartbeat().sieving();
  };
  EXPECT_FALSE(beat(kT0 + absl::Seconds(1)));
  r.session.OnMessage(Assign(1), kT0 + absl::Seconds(1));
  EXPECT_TRUE(beat(kT0 + absl::Seconds(2)));
  // Cancelled, but still stopping: busy until the executor says it ended.
  r.session.OnMessage(Cancel({1}), kT0 + absl::Seconds(2));
  EXPECT_TRUE(beat(kT0 + absl::Seconds(3)));
  r.session.OnTaskFinished(1, absl::CancelledError("stopped"), absl::Seconds(1),
                           kT0 + absl::Seconds(3));
  EXPECT_FALSE(beat(kT0 + absl::Seconds(4)));
}

TEST(SessionTest, HeartbeatsCarryTheLatestHealth) {
  Registered r;
  proto::Health health;
  health.set_temperature_celsius(71.5);
  health.set_throttled_bits(0x50005);
  r.session.SetHealth(health);
  std::vector<proto::ControlMsg> beats = Sent(
      r.session.OnTick(kT0 + absl::Seconds(1)), proto::ControlMsg::kHeartbeat);
  ASSERT_EQ(beats.size(), 1u);
  EXPECT_EQ(beats[0].heartbeat().health().temperature_celsius(), 71.5);
  EXPECT_EQ(beats[0].heartbeat().health().throttled_bits(), 0x50005u);
}

// What the result of lease 1 says of the firmware's conditions, after
// `during` while it ran (the health read before it started: `before`).
uint32_t ThrottledDuring(uint32_t before, std::vector<uint32_t> during) {
  Registered r;
  proto::Health health;
  health.set_throttled_bits(before);
  r.session.SetHealth(health);
  r.session.OnMessage(Assign(1), kT0);
  for (uint32_t bits : during) {
    health.set_throttled_bits(bits);
    r.session.SetHealth(health);
  }
  const SessionActions a = r.session.OnTaskFinished(
      1, SomePartial(), absl::Seconds(1), kT0 + absl::Seconds(1));
  EXPECT_EQ(a.push.size(), 1u);
  return a.push.empty() ? ~0u : a.push[0].throttled_bits();
}

TEST(SessionTest, AResultSaysWhetherItRanUnderVoltageOrThrottled) {
  EXPECT_EQ(ThrottledDuring(0, {0, 0}), 0u);
  // Seen now, at any reading while it ran, or when it started.
  EXPECT_EQ(ThrottledDuring(0, {0, kUnderVoltage, 0}), kUnderVoltage);
  EXPECT_EQ(ThrottledDuring(kThrottled, {0}), kThrottled);
  // Too short to be read now, but its since-boot bit appeared meanwhile.
  EXPECT_EQ(ThrottledDuring(0, {kFrequencyCapped << kSinceBootShift}),
            kFrequencyCapped);
  // An under-voltage since boot that was there before the task is not this
  // task's.
  EXPECT_EQ(ThrottledDuring(kUnderVoltage << kSinceBootShift,
                            {kUnderVoltage << kSinceBootShift}),
            0u);
  // A node that cannot tell (not a Pi) marks nothing.
  Registered r;
  r.session.OnMessage(Assign(1), kT0);
  EXPECT_EQ(r.session
                .OnTaskFinished(1, SomePartial(), absl::Seconds(1),
                                kT0 + absl::Seconds(1))
                .push[0]
                .throttled_bits(),
            0u);
}

TEST(SessionTest, LeaveDoesNotWaitForACancelledTask) {
  Registered r;
  r.session.OnMessage(Assign(1), kT0);
  r.session.OnMessage(Cancel({1}), kT0);
  SessionActions leave = r.session.OnShutdown(kT0);
  EXPECT_EQ(leave.stop, std::vector<uint64_t>{1});
  ASSERT_EQ(Sent(leave, proto::ControlMsg::kGoodbye).size(), 1u);
  ASSERT_TRUE(leave.exit.has_value());
  EXPECT_TRUE(leave.exit->ok());
}

TEST(SessionTest, SecondShutdownLeavesAtOnce) {
  Registered r;
  r.session.OnMessage(Assign(1), kT0);
  EXPECT_FALSE(r.session.OnShutdown(kT0).exit);
  SessionActions a = r.session.OnShutdown(kT0 + absl::Seconds(1));
  ASSERT_TRUE(a.exit.has_value());
  EXPECT_EQ(Sent(a, proto::ControlMsg::kGoodbye).size(), 1u);
}

TEST(SessionTest, NextDeadlineIsTheEarliestTimer) {
  Registered r;  // Ready sent at kT0
  EXPECT_EQ(r.session.NextDeadline(), kT0 + absl::Seconds(1));
  r.session.OnTick(kT0 + absl::Seconds(1));  // heartbeat
  r.session.OnTick(kT0 + absl::Seconds(2));
  EXPECT_EQ(r.session.NextDeadline(),
            kT0 + absl::Seconds(3));  // heartbeat and loss
  Session joining(Options());
  joining.Start(kT0);
  EXPECT_EQ(joining.NextDeadline(), kT0 + absl::Seconds(1));
}

// ---------------------------------------------------- acknowledged results

// A session with a long liveness, so that only the steps decide what it
// does, welcomed at kT0 as kSession.
struct Durable {
  explicit Durable(SessionOptions o = Options()) : session(o) {
    session.Start(kT0);
    session.OnMessage(Welcome(kSession, 1000, 1000), kT0);
  }
  Session session;
};

// An event at `at` after kT0, the leases it pushes (new results and
// results pushed again, in order), the credits it grants and how many
// results are still unacknowledged after it.
struct AckStep {
  enum Kind { kAssign, kFinish, kAck, kTick, kReject, kWelcome } kind;
  absl::Duration at;
  std::vector<uint64_t> leases;  // assign, finish: the lease; ack: all
  std::vector<uint64_t> pushed;
  uint32_t granted;
  size_t unacked;
};

TEST(SessionTest, ResultsAreKeptAndPushedAgainUntilAcked) {
  const absl::Duration ms = absl::Milliseconds(1);
  const std::vector<AckStep> steps = {
      {AckStep::kAssign, 0 * ms, {1}, {}, 0, 0},
      {AckStep::kAssign, 0 * ms, {2}, {}, 0, 0},
      {AckStep::kFinish, 1000 * ms, {1}, {1}, 1, 1},  // credit on finish
      {AckStep::kFinish, 2000 * ms, {2}, {2}, 1, 2},
      // Lease 99 is unknown: ignored. No credit for an Ack.
      {AckStep::kAck, 3000 * ms, {1, 99}, {}, 0, 1},
      {AckStep::kAck, 3100 * ms, {1}, {}, 0, 1},  // acked twice: ignored
      // Lease 2 was pushed at 2 s: due again at 7 s, then at 12 s.
      {AckStep::kTick, 6999 * ms, {}, {}, 0, 1},
      {AckStep::kTick, 7000 * ms, {}, {2}, 0, 1},
      {AckStep::kTick, 11999 * ms, {}, {}, 0, 1},
      {AckStep::kTick, 12000 * ms, {}, {2}, 0, 1},
      // Not registered: kept, not pushed, however long it waits.
      {AckStep::kReject, 12500 * ms, {}, {}, 0, 1},
      {AckStep::kTick, 17499 * ms, {}, {}, 0, 1},
      // Registered again: pushed at once under the new session...
      {AckStep::kWelcome, 17500 * ms, {}, {2}, 2, 1},
      // ...and counted from there.
      {AckStep::kTick, 22499 * ms, {}, {}, 0, 1},
      {AckStep::kTick, 22500 * ms, {}, {2}, 0, 1},
      {AckStep::kAck, 23000 * ms, {2}, {}, 0, 0},
      {AckStep::kTick, 40000 * ms, {}, {}, 0, 0},  // acked: never again
      {AckStep::kWelcome, 40001 * ms, {}, {}, 2, 0},
  };
  Durable d;
  uint64_t session = kSession;
  for (const AckStep& step : steps) {
    SCOPED_TRACE(testing::Message() << "step kind=" << step.kind
                                    << " at=" << absl::FormatDuration(step.at));
    const absl::Time now = kT0 + step.at;
    SessionActions a;
    switch (step.kind) {
      case AckStep::kAssign:
        a = d.session.OnMessage(Assign(step.leases[0]), now);
        break;
      case AckStep::kFinish:
        a = d.session.OnTaskFinished(step.leases[0], SomePartial(),
                                     absl::Milliseconds(3), now);
        break;
      case AckStep::kAck:
        a = d.session.OnMessage(Ack(step.leases), now);
        break;
      case AckStep::kTick:
        d.session.OnMessage(Beat(), now);
        a = d.session.OnTick(now);
        break;
      case AckStep::kReject:
        a = d.session.OnMessage(Reject(true), now);
        break;
      case AckStep::kWelcome:
        a = d.session.OnMessage(Welcome(++session, 1000, 1000), now);
        break;
    }
    EXPECT_EQ(PushedLeases(a), step.pushed);
    EXPECT_EQ(Granted(a), step.granted);
    EXPECT_EQ(d.session.unacked(), step.unacked);
    // Every copy is the same result, under the current session.
    for (const proto::ResultMsg& r : a.push) {
      EXPECT_EQ(r.protocol_version(), kProtocolVersion);
      EXPECT_EQ(r.session(), session);
      EXPECT_EQ(r.node(), "pi-1");
      EXPECT_EQ(r.job(), 7u);
      EXPECT_EQ(r.task(), r.lease() * 10);
      EXPECT_EQ(r.range().lo(), 0u);
      EXPECT_EQ(r.range().hi(), 100u);
      EXPECT_EQ(r.partial().count(), 25u);
      EXPECT_EQ(r.compute_us(), 3000u);
    }
  }
}

struct BatchCase {
  absl::Duration second_push;   // lease 1 is pushed at kT0
  std::vector<uint64_t> at_5s;  // pushed again when lease 1 is due
  absl::Time next_due;
};

TEST(SessionTest, ResultsDueTogetherArePushedAgainInOneBatch) {
  const absl::Duration s = absl::Seconds(1);
  const std::vector<BatchCase> cases = {
      {2 * s, {1, 2}, kT0 + 10 * s},  // waited 3 s >= 2.5 s: goes along
      {2500 * absl::Milliseconds(1), {1, 2}, kT0 + 10 * s},
      {3 * s, {1}, kT0 + 8 * s},  // waited 2 s: due on its own at 8 s
  };
  for (const BatchCase& c : cases) {
    SCOPED_TRACE(absl::FormatDuration(c.second_push));
    Session session(Options());
    session.Start(kT0);
    // Heartbeats every minute: only the resends set the deadline.
    session.OnMessage(Welcome(kSession, 60000, 1000), kT0);
    for (uint64_t lease : {1, 2}) session.OnMessage(Assign(lease), kT0);
    session.OnTaskFinished(1, SomePartial(), s, kT0);
    session.OnTaskFinished(2, SomePartial(), s, kT0 + c.second_push);
    EXPECT_EQ(session.NextDeadline(), kT0 + 5 * s);
    EXPECT_TRUE(
        session.OnTick(kT0 + 4999 * absl::Milliseconds(1)).push.empty());
    EXPECT_EQ(PushedLeases(session.OnTick(kT0 + 5 * s)), c.at_5s);
    EXPECT_EQ(session.unacked(), 2u);
    EXPECT_EQ(session.NextDeadline(), c.next_due);
  }
}

// Finishes leases 1..n, one after another, at kT0.
void FinishTasks(Session& s, uint64_t n) {
  for (uint64_t lease = 1; lease <= n; ++lease) {
    s.OnMessage(Assign(lease), kT0);
    s.OnTaskFinished(lease, SomePartial(), absl::Milliseconds(1), kT0);
  }
}

struct CapCase {
  size_t max_unacked;
  uint64_t finished;
  std::vector<uint64_t> kept;  // pushed again after a Welcome
};

TEST(SessionTest, KeepsAtMostMaxUnackedDroppingTheOldest) {
  for (const CapCase& c : std::vector<CapCase>{{3, 2, {1, 2}},
                                               {3, 3, {1, 2, 3}},
                                               {3, 5, {3, 4, 5}},
                                               {1, 4, {4}},
                                               {0, 2, {}}}) {
    SCOPED_TRACE(testing::Message() << "max_unacked=" << c.max_unacked
                                    << " finished=" << c.finished);
    SessionOptions o = Options();
    o.max_unacked = c.max_unacked;
    Durable d(o);
    FinishTasks(d.session, c.finished);
    EXPECT_EQ(d.session.unacked(), c.kept.size());
    SessionActions a = d.session.OnMessage(Welcome(kSession + 1), kT0);
    EXPECT_EQ(PushedLeases(a), c.kept);
  }
}

TEST(SessionTest, NextDeadlineIncludesTheResend) {
  SessionOptions o = Options();
  o.resend_after = absl::Seconds(5);
  Session s(o);
  s.Start(kT0);
  s.OnMessage(Welcome(kSession, 10000, 3), kT0);  // heartbeat due at 10 s
  EXPECT_EQ(s.NextDeadline(), kT0 + absl::Seconds(10));
  s.OnMessage(Assign(1), kT0);
  s.OnTaskFinished(1, SomePartial(), absl::Seconds(1), kT0 + absl::Seconds(1));
  EXPECT_EQ(s.NextDeadline(), kT0 + absl::Seconds(6));
  s.OnMessage(Ack({1}), kT0 + absl::Seconds(2));
  // The credit's Ready at 1 s counts as the last heartbeat.
  EXPECT_EQ(s.NextDeadline(), kT0 + absl::Seconds(11));
}

TEST(SessionTest, LeaveWhenIdleWaitsForTheAcksOfKeptResults) {
  Durable d;
  FinishTasks(d.session, 2);
  d.session.OnMessage(Ack({1}), kT0);
  SessionActions leave = d.session.OnShutdown(kT0 + absl::Seconds(1));
  ASSERT_EQ(Sent(leave, proto::ControlMsg::kGoodbye).size(), 1u);
  EXPECT_EQ(leave.send[0].goodbye().session(), kSession);
  EXPECT_FALSE(leave.exit);
  EXPECT_EQ(d.session.state(), Session::State::kAwaitingAcks);
  EXPECT_EQ(d.session.NextDeadline(), kT0 + absl::Seconds(5));  // resend

  // Session closed: no heartbeat, and a Reject asks for nothing; the kept
  // result is still pushed again while it waits.
  SessionActions tick = d.session.OnTick(kT0 + absl::Seconds(5));
  EXPECT_TRUE(tick.send.empty());
  EXPECT_EQ(PushedLeases(tick), std::vector<uint64_t>{2});
  EXPECT_FALSE(tick.exit);
  SessionActions rejected =
      d.session.OnMessage(Reject(true), kT0 + absl::Seconds(6));
  EXPECT_TRUE(rejected.send.empty());
  EXPECT_FALSE(rejected.exit);

  SessionActions acked = d.session.OnMessage(Ack({2}), kT0 + absl::Seconds(7));
  EXPECT_TRUE(acked.send.empty());
  ASSERT_TRUE(acked.exit.has_value());
  EXPECT_TRUE(acked.exit->ok());
  EXPECT_EQ(d.session.state(), Session::State::kDone);
}

TEST(SessionTest, LeaveExitsAtOnceWhenEveryResultIsAcked) {
  Durable d;
  FinishTasks(d.session, 2);
  d.session.OnMessage(Ack({2, 1}), kT0);
  SessionActions leave = d.session.OnShutdown(kT0);
  ASSERT_EQ(Sent(leave, proto::ControlMsg::kGoodbye).size(), 1u);
  ASSERT_TRUE(leave.exit.has_value());
  EXPECT_TRUE(leave.exit->ok());
}

// The drain timeout bounds the whole leave, the running task and the
// wait for acks together, and passing it is still a graceful exit.
struct AckTimeoutCase {
  absl::Duration task_done;  // after the shutdown at kT0
  absl::Time deadline;
};

TEST(SessionTest, LeaveWithoutAcksExitsOkAtTheDrainTimeout) {
  const std::vector<AckTimeoutCase> cases = {
      {absl::Seconds(1), kT0 + absl::Seconds(30)},
      {absl::Seconds(29), kT0 + absl::Seconds(30)},
  };
  for (const AckTimeoutCase& c : cases) {
    SCOPED_TRACE(absl::FormatDuration(c.task_done));
    Durable d;
    d.session.OnMessage(Assign(1), kT0);
    d.session.OnShutdown(kT0);
    SessionActions done = d.session.OnTaskFinished(
        1, SomePartial(), absl::Seconds(1), kT0 + c.task_done);
    EXPECT_EQ(Sent(done, proto::ControlMsg::kGoodbye).size(), 1u);
    EXPECT_FALSE(done.exit);
    for (absl::Time now = kT0 + c.task_done; now < c.deadline;
         now += absl::Milliseconds(250)) {
      ASSERT_FALSE(d.session.OnTick(now).exit) << now;
    }
    EXPECT_LE(d.session.NextDeadline(), c.deadline);
    SessionActions timeout = d.session.OnTick(c.deadline);
    EXPECT_TRUE(timeout.send.empty());  // no second Goodbye
    ASSERT_TRUE(timeout.exit.has_value());
    EXPECT_TRUE(timeout.exit->ok());
    EXPECT_EQ(d.session.unacked(), 1u);
  }
}

TEST(SessionTest, SecondShutdownWhileAwaitingAcksLeavesAtOnce) {
  Durable d;
  FinishTasks(d.session, 1);
  EXPECT_FALSE(d.session.OnShutdown(kT0).exit);
  SessionActions again = d.session.OnShutdown(kT0 + absl::Seconds(1));
  EXPECT_TRUE(again.send.empty());  // the Goodbye went out already
  ASSERT_TRUE(again.exit.has_value());
  EXPECT_TRUE(again.exit->ok());
}

TEST(SessionTest, ZeroDrainTimeoutLeavesAtOnceWithKeptResults) {
  // Nothing running but a kept result, and no time to wait for its Ack.
  SessionOptions o = Options();
  o.drain_timeout = absl::ZeroDuration();
  Durable d(o);
  FinishTasks(d.session, 1);
  SessionActions leave = d.session.OnShutdown(kT0);
  EXPECT_EQ(Sent(leave, proto::ControlMsg::kGoodbye).size(), 1u);
  ASSERT_TRUE(leave.exit.has_value());
  EXPECT_TRUE(leave.exit->ok());
}

}  // namespace
}  // namespace quark
