// The controller's inbound path (controller/inbound.h): frames, parsing,
// CURVE identities and routes, before and after the scheduler.
#include "controller/inbound.h"

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/transport.h"
#include "controller/auth.h"
#include "gtest/gtest.h"
#include "tests/testutil/fake_keys.h"
#include "tests/testutil/memory_store.h"
#include "tests/testutil/messages.h"

namespace quark {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// The allowlists: workers K1 (w1) and K2 (w2), operator KA (ann).
testutil::FakeKeys Keys() {
  return testutil::FakeKeys({{"K1", "w1"}, {"K2", "w2"}}, {{"KA", "ann"}});
}

std::string Bytes(const google::protobuf::MessageLite& message) {
  return message.SerializeAsString();
}

using testutil::Hello;

class InboundTest : public ::testing::Test {
 protected:
  explicit InboundTest(bool curve = true)
      : scheduler_(SchedulerOptions()),
        api_(&scheduler_, ApiOptions()),
        inbound_(&scheduler_, &api_, curve ? &keys_ : nullptr, curve) {}

  void Control(const std::string& route, const std::string& key,
               const std::string& body) {
    inbound_.OnControl({route, body}, Peer{key, "10.0.0.9"}, kT0);
  }
  void Result(const std::string& key, const proto::ResultMsg& result) {
    inbound_.OnResult({Bytes(result)}, Peer{key, "10.0.0.9"}, kT0);
  }
  // The control messages to send now, as (route, body case).
  std::vector<std::pair<std::string, proto::ControlMsg>> Sent() {
    std::vector<std::pair<std::string, proto::ControlMsg>> out;
    for (ControlOutbound& o : Step().control) {
      out.emplace_back(o.route, o.msg);
    }
    return out;
  }

  // The end of a step, as the server ends it: commit, then what to send.
  InboundOutput Step() {
    absl::StatusOr<InboundOutput> out = inbound_.Commit(store_);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *std::move(out) : InboundOutput();
  }

  testutil::FakeKeys keys_ = Keys();
  testutil::MemoryStore store_;
  Scheduler scheduler_;
  Api api_;
  Inbound inbound_;
};

TEST_F(InboundTest, KnowsANodeByItsKeyAndAnswersOnItsRoute) {
  Control("\x01route-a", "K1", Bytes(Hello("w1")));
  auto sent = Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].first, "\x01route-a");
  EXPECT_TRUE(sent[0].second.has_welcome());
  ASSERT_EQ(scheduler_.ListNodes(kT0).size(), 1u);
  EXPECT_EQ(scheduler_.ListNodes(kT0)[0].name(), "w1");
  EXPECT_EQ(scheduler_.ListNodes(kT0)[0].key(), "K1");

  // Reconnected: the same key on a new route is the same node, and
  // answers go to the new route.
  Control("\x01route-b", "K1", Bytes(Hello("w1")));
  sent = Sent();
  ASSERT_FALSE(sent.empty());
  for (const auto& [route, msg] : sent) EXPECT_EQ(route, "\x01route-b");
}

TEST_F(InboundTest, AKeyCannotRegisterUnderAnotherName) {
  Control("\x01r", "K2", Bytes(Hello("w1")));
  auto sent = Sent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].second.has_reject());
  EXPECT_FALSE(sent[0].second.reject().reregister());
  EXPECT_NE(
      sent[0].second.reject().reason().find("authorized as 'w2', not 'w1'"),
      std::string::npos);
  EXPECT_TRUE(scheduler_.ListNodes(kT0).empty());
  EXPECT_EQ(inbound_.refused(), 1u);
}

TEST_F(InboundTest, ARefusedHelloDoesNotMoveTheRoute) {
  Control("\x01r1", "K1", Bytes(Hello("w1")));
  Sent();
  // Another connection with w1's key, claiming w2: refused, and w1's
  // messages still go to r1.
  Control("\x01r2", "K1", Bytes(Hello("w2")));
  auto sent = Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].first, "\x01r2");
  EXPECT_TRUE(sent[0].second.has_reject());
  proto::ResultMsg result;
  result.set_protocol_version(kProtocolVersion);
  result.set_node("w1");
  result.set_job(1);
  result.set_task(1);
  result.set_lease(5);
  Result("K1", result);
  sent = Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].first, "\x01r1");
}

TEST_F(InboundTest, ResultsCountOnlyUnderTheirKeysName) {
  Control("\x01r1", "K1", Bytes(Hello("w1")));
  Control("\x01r2", "K2", Bytes(Hello("w2")));
  Sent();
  proto::ResultMsg result;
  result.set_protocol_version(kProtocolVersion);
  result.set_node("w1");
  result.set_job(1);
  result.set_task(1);
  result.set_lease(42);
  // w2's key claiming w1: refused, and no ack goes to w1.
  Result("K2", result);
  EXPECT_TRUE(Sent().empty());
  EXPECT_EQ(inbound_.refused(), 1u);
  // An unknown key: refused too.
  Result("K9", result);
  EXPECT_TRUE(Sent().empty());
  // w1's own (for a job that does not exist): the scheduler refuses it,
  // and w1 is acked so that it forgets it.
  Result("K1", result);
  auto sent = Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].first, "\x01r1");
  ASSERT_TRUE(sent[0].second.has_ack());
  EXPECT_EQ(sent[0].second.ack().leases(0), 42u);
}

TEST_F(InboundTest, RevokedKeyIsEvictedAndToldSo) {
  Control("\x01r1", "K1", Bytes(Hello("w1")));
  Sent();
  keys_.Toggle("K1");  // revoked
  inbound_.OnKeysChanged(kT0);
  EXPECT_TRUE(scheduler_.ListNodes(kT0).empty());
  auto sent = Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].first, "\x01r1");
  ASSERT_TRUE(sent[0].second.has_reject());
  EXPECT_FALSE(sent[0].second.reject().reregister());
  // Its connection is still up: what it says next is refused as well.
  proto::ControlMsg beat;
  beat.mutable_heartbeat()->set_session(1);
  Control("\x01r1", "K1", Bytes(beat));
  sent = Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].second.has_reject());
}

TEST_F(InboundTest, MalformedFramesChangeNothing) {
  inbound_.OnControl({}, Peer{"K1", ""}, kT0);
  inbound_.OnControl({"\x01r"}, Peer{"K1", ""}, kT0);
  inbound_.OnControl({"\x01r", Bytes(Hello("w1")), "x"}, Peer{"K1", ""}, kT0);
  inbound_.OnControl({"\x01r", "\xff\xff\xff"}, Peer{"K1", ""}, kT0);
  inbound_.OnResult({}, Peer{"K1", ""}, kT0);
  inbound_.OnResult({"\xff\xff"}, Peer{"K1", ""}, kT0);
  inbound_.OnResult({"a", "b"}, Peer{"K1", ""}, kT0);
  inbound_.OnApi({"\x01r"}, Peer{"KA", ""}, kT0);
  EXPECT_EQ(inbound_.refused(), 8u);
  EXPECT_TRUE(Step().empty());
  EXPECT_TRUE(scheduler_.ListNodes(kT0).empty());
  // An unreadable API request still gets an error reply.
  inbound_.OnApi({"\x01r", "\xff\xff"}, Peer{"KA", ""}, kT0);
  InboundOutput out = Step();
  ASSERT_EQ(out.api.size(), 1u);
  EXPECT_TRUE(out.api[0].reply.has_error());
}

TEST_F(InboundTest, OperatorKeysGateTheApi) {
  proto::ApiRequest list;
  list.set_protocol_version(kProtocolVersion);
  list.mutable_list_nodes();
  inbound_.OnApi({"\x01c", Bytes(list)}, Peer{"KB", ""}, kT0);
  inbound_.OnApi({"\x01c", Bytes(list)}, Peer{"KA", ""}, kT0);
  InboundOutput out = Step();
  ASSERT_EQ(out.api.size(), 2u);
  EXPECT_TRUE(out.api[0].reply.has_error());
  EXPECT_NE(out.api[0].reply.error().message().find("authorized_operators"),
            std::string::npos);
  EXPECT_TRUE(out.api[1].reply.has_nodes());
}

class PlainInboundTest : public InboundTest {
 protected:
  PlainInboundTest() : InboundTest(/*curve=*/false) {}
};

TEST_F(PlainInboundTest, RoutingIdIsTheNodeName) {
  Control("w1", "", Bytes(Hello("w1")));
  auto sent = Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].first, "w1");
  EXPECT_TRUE(sent[0].second.has_welcome());
  EXPECT_EQ(scheduler_.ListNodes(kT0)[0].key(), "");
}

// leveldb's fault_injection_test, for the write-ahead rule: a step whose
// commit fails hands out nothing, so no worker or operator is told of a
// change that is not on disk; the server stops on the error.
TEST_F(InboundTest, AStepWhoseCommitFailsSendsNothing) {
  proto::ApiRequest submit;
  submit.set_protocol_version(kProtocolVersion);
  submit.set_request_id(1);
  submit.mutable_submit()->set_kind(proto::COUNT);
  submit.mutable_submit()->mutable_range()->set_hi(1000);
  inbound_.OnApi({"\x01c", Bytes(submit)}, Peer{"KA", ""}, kT0);
  store_.FailCommits(absl::DataLossError("disk full"));
  absl::StatusOr<InboundOutput> failed = inbound_.Commit(store_);
  EXPECT_EQ(failed.status(), absl::DataLossError("disk full"));
  EXPECT_EQ(store_.commits(), 0);
  EXPECT_TRUE(store_.State().jobs.empty());

  // A step that changed nothing durable commits nothing: it cannot fail.
  inbound_.OnApi({"\x01c", "\xff\xff"}, Peer{"KA", ""}, kT0);
  absl::StatusOr<InboundOutput> unchanged = inbound_.Commit(store_);
  ASSERT_TRUE(unchanged.ok()) << unchanged.status();
  EXPECT_EQ(unchanged->api.size(), 1u);

  store_.FailCommits(absl::OkStatus());
  inbound_.OnApi({"\x01c", Bytes(submit)}, Peer{"KA", ""}, kT0);
  InboundOutput out = Step();
  ASSERT_EQ(out.api.size(), 1u);
  EXPECT_TRUE(out.api[0].reply.has_job())
      << out.api[0].reply.ShortDebugString();
  EXPECT_EQ(store_.commits(), 1);
  EXPECT_EQ(store_.State().jobs.size(), 1u);
}

}  // namespace
}  // namespace quark
