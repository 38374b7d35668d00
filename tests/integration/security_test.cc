// Only our nodes get in (docs/security.md): CURVE keys and allowlists, and
// hostile or broken input, against the real binaries. Every job's answer is
// checked against primesieve / primecount.
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/cluster_test.h"
#include "tests/integration/hostile.h"

namespace quark::integration {
namespace {

constexpr uint32_t kProtocol = 1;

class SecurityTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    cluster().options().curve = true;
  }
};

// Raw garbage, a ZMTP greeting cut short, and a greeting that then turns
// to garbage, on each of the controller's ports.
void AttackWithRawBytes(Cluster& cluster) {
  for (const std::string& endpoint :
       {cluster.control_endpoint(), cluster.collect_endpoint(),
        cluster.api_endpoint()}) {
    ThrowRawBytes(PortOf(endpoint));
  }
}

TEST_F(SecurityTest, WorkerWithUnknownKeyIsRefusedAndNotListed) {
  ASSERT_OK(cluster().Start(1, DeadlineIn(20s)));
  ASSERT_OK(cluster().WorkerKey("intruder", /*authorize=*/false));
  ASSERT_OK_AND_ASSIGN(Process * intruder, cluster().StartWorker("intruder"));
  EXPECT_TRUE(WaitForLog(*intruder, "refused this node's key", DeadlineIn(20s)))
      << intruder->ReadStderr();
  EXPECT_TRUE(WaitForLog(*cluster().controller(),
                         "is not in authorized_workers", DeadlineIn(5s)));

  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().SubmitAndWait(proto::COUNT, 0, 2'000'000'000));
  EXPECT_TRUE(MatchesReference(job, proto::COUNT, 0, 2'000'000'000));
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_EQ(FindNode(nodes, "intruder"), nullptr) << nodes.ShortDebugString();
  const proto::Node* w1 = FindNode(nodes, "w1");
  ASSERT_NE(w1, nullptr);
  // `quark nodes` shows the key each node authenticated with.
  ASSERT_OK_AND_ASSIGN(std::string w1_key, cluster().WorkerKey("w1"));
  EXPECT_EQ(w1->key(), w1_key);
  EXPECT_TRUE(intruder->Running());  // still knocking, harmlessly
}

TEST_F(SecurityTest, NodeCannotSpeakOrSendResultsUnderAnotherName) {
  ASSERT_OK(cluster().Start(2, DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::NodeList before, cluster().Nodes());
  const proto::Node* w1 = FindNode(before, "w1");
  ASSERT_NE(w1, nullptr);
  const uint64_t w1_session = w1->session();
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().Submit(proto::COUNT, 0, kBigHi));

  // w2's key, claiming to be w1.
  ASSERT_OK_AND_ASSIGN(
      Process * forger,
      cluster().StartWorker(
          "forger", {"--name=w1",
                     "--key=" + (cluster().keys_dir() / "w2.key").string()}));
  ExpectExit(*forger, 1, "authorized as 'w2', not 'w1'");

  // Results pushed with w2's key in w1's name, for every task id the job
  // may have: refused before they reach the scheduler, never acked.
  {
    zmq::context_t context;
    zmq::socket_t push(context, zmq::socket_type::push);
    ASSERT_OK_AND_ASSIGN(std::string w2_secret,
                         KeyInFile(cluster().keys_dir() / "w2.key"));
    char w2_public[41];
    ASSERT_EQ(zmq_curve_public(w2_public, w2_secret.c_str()), 0);
    ASSERT_OK_AND_ASSIGN(std::string controller_key,
                         KeyInFile(cluster().keys_dir() / "controller.pub"));
    push.set(zmq::sockopt::curve_serverkey, controller_key);
    push.set(zmq::sockopt::curve_publickey, std::string(w2_public));
    push.set(zmq::sockopt::curve_secretkey, w2_secret);
    push.set(zmq::sockopt::linger, 2000);
    push.connect(cluster().collect_endpoint());
    for (uint64_t task = 1; task <= 200; ++task) {
      proto::ResultMsg forged;
      forged.set_protocol_version(kProtocol);
      forged.set_node("w1");
      forged.set_job(job.job_id());
      forged.set_task(task);
      forged.set_lease(task);
      forged.mutable_range()->set_lo(0);
      forged.mutable_range()->set_hi(1000);
      forged.mutable_partial()->set_count(12345);
      SendFrames(push, {Serialized(forged)});
    }
  }
  EXPECT_TRUE(WaitForLog(*cluster().controller(), "sent with the key of 'w2'",
                         DeadlineIn(10s)));

  ASSERT_OK_AND_ASSIGN(proto::Job done, cluster().WaitJob(job.job_id(), 150s));
  EXPECT_TRUE(MatchesReference(done, proto::COUNT, 0, kBigHi));
  ASSERT_OK_AND_ASSIGN(proto::NodeList after, cluster().Nodes());
  w1 = FindNode(after, "w1");
  ASSERT_NE(w1, nullptr);
  EXPECT_EQ(w1->session(), w1_session) << "w1 was displaced by the forger";
}

TEST_F(SecurityTest, RevokedKeyIsEvictedAfterSighupAndItsWorkRedone) {
  ASSERT_OK(cluster().Start(2, DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().Submit(proto::COUNT, 0, kBigHi));
  ASSERT_OK(cluster().WaitForNode(
      "w2",
      [](const proto::Node& n) { return n.leases() > 0 && n.tasks_done() > 0; },
      DeadlineIn(60s)));

  // Keep only w1's line, then reload.
  ASSERT_OK_AND_ASSIGN(std::string w1_key, cluster().WorkerKey("w1"));
  std::ofstream(cluster().authorized_workers(), std::ios::trunc)
      << "# w2 revoked\nw1 " << w1_key << "\n";
  ASSERT_TRUE(cluster().controller()->Signal(SIGHUP));

  ExpectExit(*cluster().worker("w2"), 1,
             "removed from the controller's authorized_workers");
  EXPECT_TRUE(WaitForLog(*cluster().controller(), "node evicted node=w2",
                         DeadlineIn(5s)));
  ASSERT_OK(cluster().WaitForNodeGone("w2", DeadlineIn(10s)));

  // Started again with the revoked key: refused at the handshake.
  ASSERT_OK_AND_ASSIGN(Process * again, cluster().StartWorker("w2"));
  EXPECT_TRUE(WaitForLog(*again, "refused this node's key", DeadlineIn(20s)))
      << again->ReadStderr();

  ASSERT_OK_AND_ASSIGN(proto::Job done, cluster().WaitJob(job.job_id(), 150s));
  EXPECT_TRUE(MatchesReference(done, proto::COUNT, 0, kBigHi));
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_EQ(FindNode(nodes, "w2"), nullptr);
}

TEST_F(SecurityTest, GarbageOnEveryPortLeavesTheJobExact) {
  ASSERT_OK(cluster().Start(2, DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().Submit(proto::COUNT, 0, kBigHi));
  // Connections that open and never say a word, held through the job.
  std::vector<int> silent;
  for (const std::string& endpoint :
       {cluster().control_endpoint(), cluster().collect_endpoint(),
        cluster().api_endpoint()}) {
    for (int i = 0; i < 3; ++i) silent.push_back(ConnectTcp(PortOf(endpoint)));
  }
  AttackWithRawBytes(cluster());

  ASSERT_OK_AND_ASSIGN(proto::Job done, cluster().WaitJob(job.job_id(), 150s));
  EXPECT_TRUE(MatchesReference(done, proto::COUNT, 0, kBigHi));
  for (int fd : silent) ::close(fd);
  EXPECT_TRUE(cluster().controller()->Running());
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_NE(FindNode(nodes, "w1"), nullptr);
  EXPECT_NE(FindNode(nodes, "w2"), nullptr);
}

// Without CURVE (loopback), hostile messages get past the handshake and
// reach frame and message validation: wrong frame counts, oversized and
// truncated frames, protobuf garbage, and well-formed messages with values
// that must not be applied.
TEST_F(ClusterTest, MalformedMessagesLeaveTheJobExact) {
  ASSERT_OK(cluster().Start(2, DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().Submit(proto::COUNT, 0, kBigHi));
  AttackWithRawBytes(cluster());

  zmq::context_t context;
  zmq::socket_t control(context, zmq::socket_type::dealer);
  control.set(zmq::sockopt::routing_id, std::string("evil"));
  control.set(zmq::sockopt::linger, 2000);
  control.connect(cluster().control_endpoint());
  zmq::socket_t push(context, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 2000);
  push.connect(cluster().collect_endpoint());
  zmq::socket_t api(context, zmq::socket_type::dealer);
  api.set(zmq::sockopt::linger, 2000);
  api.connect(cluster().api_endpoint());

  proto::ControlMsg hello;
  hello.mutable_hello()->set_protocol_version(kProtocol);
  hello.mutable_hello()->set_node("w1");  // not its routing id
  const std::string hello_bytes = Serialized(hello);
  proto::ControlMsg ready;
  ready.mutable_ready()->set_session(1);
  ready.mutable_ready()->set_credits(4'000'000'000u);
  proto::ResultMsg backwards;  // LO > HI, unknown lease
  backwards.set_protocol_version(kProtocol);
  backwards.set_node("w1");
  backwards.set_job(job.job_id());
  backwards.set_task(1);
  backwards.set_lease(77);
  backwards.mutable_range()->set_lo(1000);
  backwards.mutable_range()->set_hi(10);
  backwards.mutable_partial()->set_count(1);
  proto::ResultMsg unknown_job = backwards;
  unknown_job.set_job(999'999);
  proto::ApiRequest submit;
  submit.set_protocol_version(kProtocol);
  submit.mutable_submit()->set_kind(proto::COUNT);
  submit.mutable_submit()->mutable_range()->set_lo(10);
  submit.mutable_submit()->mutable_range()->set_hi(5);

  const std::string oversized(2 << 20, 'x');  // past ZMQ_MAXMSGSIZE (1 MiB)
  for (int round = 0; round < 20; ++round) {
    SendFrames(control, {Garbage(100 + round, round)});
    SendFrames(control, {hello_bytes, hello_bytes});  // two frames
    SendFrames(control, {hello_bytes.substr(0, hello_bytes.size() / 2)});
    SendFrames(control, {hello_bytes});
    SendFrames(control, {Serialized(ready)});
    SendFrames(push, {Garbage(50 + round, round + 7)});
    SendFrames(push, {Serialized(backwards), "x"});
    SendFrames(push, {Serialized(backwards)});
    SendFrames(push, {Serialized(unknown_job)});
    SendFrames(push, {Serialized(backwards).substr(0, 7)});
    SendFrames(api, {Garbage(30 + round, round + 3)});
    SendFrames(api, {Serialized(submit)});
    SendFrames(api, {Serialized(submit), Serialized(submit)});
  }
  // Each of these closes its own connection (libzmq drops a peer that
  // passes the limit); the others are untouched.
  SendFrames(control, {oversized});
  SendFrames(push, {oversized});
  SendFrames(api, {oversized});

  ASSERT_OK_AND_ASSIGN(proto::Job done, cluster().WaitJob(job.job_id(), 150s));
  EXPECT_TRUE(MatchesReference(done, proto::COUNT, 0, kBigHi));
  EXPECT_EQ(done.duplicates(), 0u);
  EXPECT_TRUE(cluster().controller()->Running());
  ASSERT_OK_AND_ASSIGN(proto::JobList jobs, cluster().Jobs());
  EXPECT_EQ(jobs.jobs_size(), 1) << "a malformed submit made a job";
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_EQ(nodes.nodes_size(), 2) << nodes.ShortDebugString();
  EXPECT_EQ(FindNode(nodes, "evil"), nullptr);
}

TEST_F(ClusterTest, ControllerRefusesToExposePlainSockets) {
  int run = 0;
  for (const std::vector<std::string>& flags :
       std::vector<std::vector<std::string>>{
           {"--api=tcp://0.0.0.0:" +
            std::to_string(PortOf(cluster().api_endpoint()))},
           {"--control=tcp://*:" +
            std::to_string(PortOf(cluster().control_endpoint()))}}) {
    std::vector<std::string> argv = {
        QUARK_CONTROLLER_BIN, "--state_dir=" + (dir_ / "state").string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<Process> p,
        Process::Start(absl::StrCat("exposed-", ++run), argv, dir_));
    std::optional<ExitStatus> exit = p->Wait(DeadlineIn(10s));
    ASSERT_TRUE(exit.has_value());
    EXPECT_EQ(exit->code(), 2);
    EXPECT_NE(p->ReadStderr().find("refusing to serve"), std::string::npos)
        << p->ReadStderr();
    EXPECT_NE(p->ReadStderr().find("--insecure"), std::string::npos);
  }
}

}  // namespace
}  // namespace quark::integration
