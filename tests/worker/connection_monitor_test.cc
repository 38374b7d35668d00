#include "worker/connection_monitor.h"

#include <zmq.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace quark {
namespace {

// The first frame of a monitor event as libzmq writes it.
std::string Frame(uint16_t event, uint32_t value) {
  std::string frame(6, '\0');
  std::memcpy(frame.data(), &event, sizeof event);
  std::memcpy(frame.data() + 2, &value, sizeof value);
  return frame;
}

const absl::Time kStart = absl::FromUnixSeconds(1'000'000);

TEST(DecodeMonitorEventTest, ReadsTheEventAndItsValue) {
  const auto e =
      DecodeMonitorEvent(Frame(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  EXPECT_EQ(e->value, 400u);
}

TEST(DecodeMonitorEventTest, AShortFrameIsNoEvent) {
  EXPECT_FALSE(DecodeMonitorEvent("").has_value());
  EXPECT_FALSE(DecodeMonitorEvent(std::string(5, '\1')).has_value());
}

TEST(ConnectionMonitorTest, ADisconnectIsReportedAndIsNoHandshakeError) {
  ConnectionMonitor monitor(/*curve=*/true, /*enrolled=*/false);
  const auto r = monitor.OnEvent({ZMQ_EVENT_DISCONNECTED, 7}, kStart);
  EXPECT_TRUE(r.disconnected);
  EXPECT_TRUE(r.warning.empty());
  EXPECT_FALSE(r.recovered);
  EXPECT_TRUE(monitor.handshake_error().empty());
}

TEST(ConnectionMonitorTest, ARefusedKeySaysWhereToLookByHowTheNodeJoined) {
  ConnectionMonitor listed(/*curve=*/true, /*enrolled=*/false);
  auto r = listed.OnEvent({ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400}, kStart);
  EXPECT_FALSE(r.disconnected);
  EXPECT_NE(r.warning.find("ZAP status 400"), std::string::npos) << r.warning;
  EXPECT_NE(r.warning.find("authorized_workers"), std::string::npos);
  EXPECT_EQ(listed.handshake_error(), r.warning);

  ConnectionMonitor enrolled(/*curve=*/true, /*enrolled=*/true);
  r = enrolled.OnEvent({ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400}, kStart);
  EXPECT_NE(r.warning.find("quark-worker join TOKEN"), std::string::npos)
      << r.warning;
}

TEST(ConnectionMonitorTest, AFailedHandshakeSaysWhichKeysToCheck) {
  ConnectionMonitor curve(/*curve=*/true, /*enrolled=*/false);
  EXPECT_NE(curve.OnEvent({ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, 0}, kStart)
                .warning.find("controller_key"),
            std::string::npos);
  ConnectionMonitor plain(/*curve=*/false, /*enrolled=*/false);
  EXPECT_NE(plain.OnEvent({ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, 0}, kStart)
                .warning.find("require CURVE keys"),
            std::string::npos);
}

TEST(ConnectionMonitorTest, TheSameFailureIsLoggedOnceAMinute) {
  ConnectionMonitor monitor(/*curve=*/true, /*enrolled=*/false);
  const MonitorEvent refused{ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400};
  EXPECT_FALSE(monitor.OnEvent(refused, kStart).warning.empty());
  // Retried every couple of seconds: quiet, but still the error.
  for (int s = 2; s < 60; s += 2) {
    EXPECT_TRUE(
        monitor.OnEvent(refused, kStart + absl::Seconds(s)).warning.empty())
        << s;
    EXPECT_FALSE(monitor.handshake_error().empty());
  }
  EXPECT_FALSE(
      monitor.OnEvent(refused, kStart + ConnectionMonitor::kRepeatAfter)
          .warning.empty());
  // Another failure is news at once.
  EXPECT_FALSE(monitor
                   .OnEvent({ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, 0},
                            kStart + absl::Seconds(61))
                   .warning.empty());
}

TEST(ConnectionMonitorTest, ASuccessClearsTheErrorAndSaysSoOnlyAfterFailures) {
  ConnectionMonitor monitor(/*curve=*/true, /*enrolled=*/false);
  EXPECT_FALSE(
      monitor.OnEvent({ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 0}, kStart).recovered);
  monitor.OnEvent({ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400}, kStart);
  const auto r = monitor.OnEvent({ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 0},
                                 kStart + absl::Seconds(1));
  EXPECT_TRUE(r.recovered);
  EXPECT_TRUE(monitor.handshake_error().empty());
  // After the success, the same failure again is logged at once.
  EXPECT_FALSE(monitor
                   .OnEvent({ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400},
                            kStart + absl::Seconds(2))
                   .warning.empty());
}

}  // namespace
}  // namespace quark
