// Join tokens against the real binaries, continued (enroll_test.cc): the
// key is the node, so a re-imaged node takes its name back and a cloned SD
// card gets an identity of its own; tokens and enrolled nodes survive a
// kill -9 of the controller; hostile input on the enroll port leaves it
// serving. Every job's answer is checked against primesieve / primecount.
#include <set>
#include <string>
#include <vector>

#include "tests/integration/enroll_test.h"

namespace quark::integration {
namespace {

// A re-imaged node (same name, new key) takes over its name when the old
// one is not connected, which is then let in no more; with it connected,
// another new node asking for the name gets NAME-2.
TEST_F(EnrollTest, ReimagedNodeTakesItsNameBackUnlessItIsInUse) {
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Token token, cluster().CreateToken());
  const fs::path image1 = dir_ / "pi.image1", image2 = dir_ / "pi.image2",
                 image3 = dir_ / "pi.image3";
  ASSERT_OK_AND_ASSIGN(Process * first,
                       cluster().StartJoiningWorker("pi", token.token(), {},
                                                    AskingFor("pi", image1)));
  ASSERT_OK(cluster().WaitRegistered("pi", DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(std::string key1, KeyOfStateDir(image1));
  ASSERT_TRUE(first->Signal(SIGTERM));
  std::optional<ExitStatus> exit = first->Wait(DeadlineIn(20s));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code(), 0) << *exit;
  ASSERT_OK(cluster().WaitForNodeGone("pi", DeadlineIn(10s)));

  ASSERT_OK(cluster().StartJoiningWorker("pi-reimaged", token.token(), {},
                                         AskingFor("pi", image2)));
  ASSERT_OK(cluster().WaitRegistered("pi-reimaged", DeadlineIn(20s), "pi"));
  ASSERT_OK_AND_ASSIGN(std::string key2, KeyOfStateDir(image2));
  EXPECT_NE(key2, key1);
  ASSERT_OK(cluster().WaitForNode(
      "pi", [&](const proto::Node& n) { return n.key() == key2; },
      DeadlineIn(10s)));
  EXPECT_TRUE(WaitForLog(
      *cluster().controller(),
      absl::StrCat("node re-enrolled with a new key, the old one is let in no "
                   "more node=pi old_key=",
                   key1, " key=", key2),
      DeadlineIn(5s)));

  // The old image, started again, is refused at the handshake.
  ASSERT_OK_AND_ASSIGN(
      Process * old,
      cluster().StartJoiningWorker("pi-old", "", {}, AskingFor("pi", image1)));
  EXPECT_TRUE(WaitForLog(*old, "refused this node's key", DeadlineIn(20s)))
      << old->ReadStderr();

  // The name is in use now: a third image gets pi-2.
  ASSERT_OK_AND_ASSIGN(Process * third, cluster().StartJoiningWorker(
                                            "pi-third", token.token(), {},
                                            AskingFor("pi", image3)));
  ASSERT_OK(cluster().WaitRegistered("pi-third", DeadlineIn(20s), "pi-2"));
  EXPECT_TRUE(WaitForLog(*third, "enrolled node=pi-2 ", DeadlineIn(1s)));
  ASSERT_OK_AND_ASSIGN(std::string key3, KeyOfStateDir(image3));

  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().SubmitAndWait(proto::COUNT, 0, kSmallHi));
  EXPECT_TRUE(MatchesReference(job, proto::COUNT, 0, kSmallHi));
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_EQ(nodes.nodes_size(), 2) << nodes.ShortDebugString();
  const proto::Node* pi = FindNode(nodes, "pi");
  const proto::Node* pi2 = FindNode(nodes, "pi-2");
  ASSERT_NE(pi, nullptr) << nodes.ShortDebugString();
  ASSERT_NE(pi2, nullptr) << nodes.ShortDebugString();
  EXPECT_EQ(pi->key(), key2);
  EXPECT_EQ(pi2->key(), key3);
  EXPECT_TRUE(old->Running());  // still knocking, harmlessly
}

// A state directory copied to another Pi (another serial number): the
// copy sets the key aside, makes its own, and joins under a name of its
// own while the original stays connected. Started again, it keeps its
// new identity.
TEST_F(EnrollTest, ClonedStateDirGetsAnIdentityOfItsOwn) {
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Token token, cluster().CreateToken());
  const std::string pi_a = MakeFakeSysfs(dir_ / "sys-a", "10000000aaaa0001");
  const std::string pi_b = MakeFakeSysfs(dir_ / "sys-b", "10000000bbbb0002");
  const fs::path original = cluster().worker_state_dir("orig");
  const fs::path copy = dir_ / "clone.state";
  ASSERT_OK(Join("orig", token.token(), {"--sysfs_root=" + pi_a}));
  ASSERT_OK(cluster().WaitRegistered("orig", DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(
      proto::Node before,
      cluster().WaitForNode(
          "orig", [](const proto::Node&) { return true; }, DeadlineIn(5s)));
  fs::copy(original, copy, fs::copy_options::recursive);

  ASSERT_OK_AND_ASSIGN(Process * clone,
                       cluster().StartJoiningWorker("clone", token.token(),
                                                    {"--sysfs_root=" + pi_b},
                                                    AskingFor("orig", copy)));
  ASSERT_OK(cluster().WaitRegistered("clone", DeadlineIn(20s), "orig-2"));
  EXPECT_NE(clone->ReadStderr().find("new identity reason="), std::string::npos)
      << clone->ReadStderr();
  EXPECT_NE(clone->ReadStderr().find("(a cloned SD card?)"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(std::string original_key, KeyOfStateDir(original));
  ASSERT_OK_AND_ASSIGN(std::string clone_key, KeyOfStateDir(copy));
  EXPECT_NE(clone_key, original_key);
  // The old key is kept aside, for a look.
  EXPECT_EQ(KeyInFile(copy / "worker.pub.other-machine").value_or(""),
            original_key);
  EXPECT_TRUE(fs::exists(copy / "worker.key.other-machine"));
  EXPECT_TRUE(fs::exists(copy / "enrollment.other-machine"));

  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_EQ(nodes.nodes_size(), 2) << nodes.ShortDebugString();
  const proto::Node* orig = FindNode(nodes, "orig");
  const proto::Node* orig2 = FindNode(nodes, "orig-2");
  ASSERT_NE(orig, nullptr) << nodes.ShortDebugString();
  ASSERT_NE(orig2, nullptr) << nodes.ShortDebugString();
  EXPECT_EQ(orig->key(), original_key);
  EXPECT_EQ(orig->session(), before.session()) << "the original was displaced";
  EXPECT_EQ(orig2->key(), clone_key);

  // The clone rebooted: the same key, the same name, no new identity.
  ASSERT_TRUE(clone->Signal(SIGTERM));
  ASSERT_TRUE(clone->Wait(DeadlineIn(20s)).has_value());
  ASSERT_OK_AND_ASSIGN(
      Process * rebooted,
      cluster().StartJoiningWorker("clone", "", {"--sysfs_root=" + pi_b},
                                   AskingFor("orig", copy)));
  ASSERT_OK(cluster().WaitRegistered("clone", DeadlineIn(20s), "orig-2"));
  EXPECT_EQ(rebooted->ReadStderr().find("new identity"), std::string::npos)
      << rebooted->ReadStderr();
  EXPECT_EQ(KeyOfStateDir(copy).value_or(""), clone_key);
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().SubmitAndWait(proto::COUNT, 0, kSmallHi));
  EXPECT_TRUE(MatchesReference(job, proto::COUNT, 0, kSmallHi));
}

// A clone started as the service starts it, with its state directory
// only (the token was removed once it enrolled): it says that it must join
// again, and exits 2.
TEST_F(EnrollTest, CloneWithoutATokenSaysItMustJoinAgain) {
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Token token, cluster().CreateToken());
  const std::string pi_a = MakeFakeSysfs(dir_ / "sys-a", "10000000aaaa0001");
  const std::string pi_b = MakeFakeSysfs(dir_ / "sys-b", "10000000bbbb0002");
  ASSERT_OK(Join("orig", token.token(), {"--sysfs_root=" + pi_a}));
  ASSERT_OK(cluster().WaitRegistered("orig", DeadlineIn(20s)));
  const fs::path copy = dir_ / "clone.state";
  fs::copy(cluster().worker_state_dir("orig"), copy,
           fs::copy_options::recursive);
  ASSERT_OK_AND_ASSIGN(
      Process * clone,
      cluster().StartJoiningWorker("clone", "", {"--sysfs_root=" + pi_b},
                                   AskingFor("orig", copy)));
  ExpectExit(*clone, 2, "must join again with a token");
  ExpectNeverListed({"orig-2"});
}

// kill -9 of the controller loses nothing: the tokens with their counts,
// the enrolled node (which re-registers by itself), the pending one, and
// a token made before the crash still enrolls a new node.
TEST_F(EnrollTest, TokensAndNodesSurviveAControllerCrash) {
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Token plain,
                       cluster().CreateToken({"--uses", "5"}));
  ASSERT_OK_AND_ASSIGN(proto::Token gated,
                       cluster().CreateToken({"--approve"}));
  ASSERT_OK_AND_ASSIGN(proto::Token spare,
                       cluster().CreateToken({"--uses", "1"}));
  ASSERT_OK_AND_ASSIGN(proto::Token revoked, cluster().CreateToken());
  ExpectCliOk({"token", "revoke", revoked.id()});
  ASSERT_OK_AND_ASSIGN(Process * a, Join("a", plain.token()));
  ASSERT_OK(cluster().WaitRegistered("a", DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(Process * p, Join("p", gated.token()));
  ASSERT_TRUE(WaitForLog(*p, "waiting for approval node=p ", DeadlineIn(20s)))
      << p->ReadStderr();
  ASSERT_OK_AND_ASSIGN(proto::TokenList before, cluster().Tokens());
  ASSERT_OK_AND_ASSIGN(proto::EnrolledList pending_before,
                       cluster().PendingNodes());
  ASSERT_EQ(pending_before.nodes_size(), 1);

  cluster().controller()->Kill();
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));

  ASSERT_OK_AND_ASSIGN(proto::TokenList after, cluster().Tokens());
  EXPECT_EQ(after.ShortDebugString(), before.ShortDebugString());
  ASSERT_OK_AND_ASSIGN(proto::EnrolledList pending_after,
                       cluster().PendingNodes());
  EXPECT_EQ(pending_after.ShortDebugString(),
            pending_before.ShortDebugString());
  // The enrolled node: its key still let in, it registers again itself.
  ASSERT_TRUE(WaitForLogCount(*a, "registered node=a ", 2, DeadlineIn(30s)))
      << a->ReadStderr();
  ASSERT_OK_AND_ASSIGN(std::string a_key,
                       KeyOfStateDir(cluster().worker_state_dir("a")));
  ASSERT_OK(cluster().WaitForNode(
      "a", [&](const proto::Node& n) { return n.key() == a_key; },
      DeadlineIn(10s)));
  // A token from before the crash.
  ASSERT_OK(Join("n", spare.token()));
  ASSERT_OK(cluster().WaitRegistered("n", DeadlineIn(20s)));
  // The pending node, approved by the new controller.
  ExpectCliOk({"approve", "p"});
  ASSERT_OK(cluster().WaitRegistered("p", DeadlineIn(30s)));

  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().SubmitAndWait(proto::COUNT, 0, kSmallHi));
  EXPECT_TRUE(MatchesReference(job, proto::COUNT, 0, kSmallHi));
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_EQ(nodes.nodes_size(), 3) << nodes.ShortDebugString();
  ASSERT_OK_AND_ASSIGN(proto::Token spare_now, TokenById(spare.id()));
  EXPECT_EQ(spare_now.used(), 1u);
  EXPECT_EQ(spare_now.state(), proto::TOKEN_USED_UP);
  ASSERT_OK_AND_ASSIGN(proto::Token revoked_now, TokenById(revoked.id()));
  EXPECT_EQ(revoked_now.state(), proto::TOKEN_REVOKED);
}

// Garbage, silence and malformed requests on the enroll port, and a flood
// from one client: the controller refuses each (logged with the peer's
// address), limits the flood, and keeps serving: the job running through
// it is exact and a node enrolls afterwards.
TEST_F(EnrollTest, HostileInputOnTheEnrollPortLeavesItServing) {
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Token token, cluster().CreateToken());
  ASSERT_OK_AND_ASSIGN(JoinToken real, ParseJoinToken(token.token()));
  ASSERT_OK(Join("w", token.token()));
  ASSERT_OK(cluster().WaitRegistered("w", DeadlineIn(20s)));
  constexpr uint64_t kHi = kBigHi / 5;
  ASSERT_OK_AND_ASSIGN(proto::Job job, cluster().Submit(proto::COUNT, 0, kHi));
  const int port = PortOf(cluster().enroll_endpoint());

  // Connections that never say a word, held open through it all.
  std::vector<int> silent;
  for (int i = 0; i < 5; ++i) silent.push_back(ConnectTcp(port));
  ThrowRawBytes(port);

  // A stranger with a CURVE key of its own, from 127.0.0.2: not 127.0.0.1,
  // whose enrollments its flood must not delay (the limit is per address).
  ASSERT_OK_AND_ASSIGN(std::string controller_key, ControllerKey());
  ASSERT_OK_AND_ASSIGN(KeyPair mine, GenerateKeyPair());
  zmq::context_t context;
  std::unique_ptr<zmq::socket_t> stranger =
      EnrollClient(context, controller_key, mine, "127.0.0.2", port);
  proto::EnrollRequest valid;
  valid.set_protocol_version(kProtocolVersion);
  valid.set_token_id(real.id);
  valid.set_name("stranger");
  valid.set_proof(EnrollProof(real, mine.public_key));
  ASSERT_EQ(valid.proof().size(), 64u);
  auto with = [&](auto change) {
    proto::EnrollRequest request = valid;
    change(request);
    return Serialized(request);
  };
  struct Case {
    std::string frame;
    std::string reason;  // a part of the reply's reason
  };
  const std::vector<Case> cases = {
      {Garbage(300, 7), "unreadable request"},
      {"", "protocol version 0 is not supported"},
      {with([](proto::EnrollRequest& r) { r.set_protocol_version(7); }),
       "protocol version 7 is not supported"},
      {with([](proto::EnrollRequest& r) { r.set_token_id("NOT-AN-ID"); }),
       "malformed token id"},
      {with([](proto::EnrollRequest& r) { r.set_proof(Garbage(64, 3)); }),
       "does not match: a forged or mistyped token"},
      // A valid proof, so that the checks after it are reached.
      {with([](proto::EnrollRequest& r) { r.set_name("no spaces allowed"); }),
       "the node name must be"},
      {with([](proto::EnrollRequest& r) {
         r.set_machine(std::string(200, 'm'));
       }),
       "malformed machine identity"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reason);
    SendFrames(*stranger, {c.frame});
    std::optional<proto::EnrollReply> reply = NextReply(*stranger, 5000ms);
    ASSERT_TRUE(reply.has_value()) << "no reply";
    EXPECT_EQ(reply->status(), proto::EnrollReply::REFUSED);
    EXPECT_NE(reply->reason().find(c.reason), std::string::npos)
        << reply->reason();
  }
  EXPECT_TRUE(
      WaitForLog(*cluster().controller(),
                 "enroll refused address=127.0.0.2 key=" + mine.public_key,
                 DeadlineIn(5s)));
  // Three frames (four with the route): dropped unanswered, and logged.
  SendFrames(*stranger, {Serialized(valid), "x", "y"});
  EXPECT_TRUE(WaitForLog(*cluster().controller(),
                         "enroll request dropped address=127.0.0.2 reason=\"4 "
                         "frames, expected 2\"",
                         DeadlineIn(5s)));
  // Past the enroll socket's 4 KiB: libzmq drops the connection unread.
  std::unique_ptr<zmq::socket_t> big =
      EnrollClient(context, controller_key, mine, "127.0.0.2", port);
  ASSERT_EQ(zmq_socket_monitor(big->handle(), "inproc://big-events",
                               ZMQ_EVENT_DISCONNECTED),
            0);
  zmq::socket_t big_events(context, zmq::socket_type::pair);
  big_events.set(zmq::sockopt::linger, 0);
  big_events.connect("inproc://big-events");
  SendFrames(*big, {with([](proto::EnrollRequest& r) {
    r.set_machine(std::string(5000, 'm'));
  })});
  zmq::pollitem_t dropped = {big_events.handle(), 0, ZMQ_POLLIN, 0};
  EXPECT_EQ(zmq::poll(&dropped, 1, 5000ms), 1)
      << "the connection that sent 5000 bytes was not dropped";
  // A flood: a few answered, most dropped unanswered, and said so.
  const std::string flood =
      with([](proto::EnrollRequest& r) { r.set_proof(Garbage(64, 5)); });
  for (int i = 0; i < 100; ++i) SendFrames(*stranger, {flood});
  int answered = 0;
  while (NextReply(*stranger, 1000ms).has_value()) ++answered;
  EXPECT_LT(answered, 25) << "the flood was not limited";
  EXPECT_TRUE(WaitForLog(*cluster().controller(),
                         "enroll requests dropped address=127.0.0.2 "
                         "reason=\"rate limit\"",
                         DeadlineIn(5s)));
  EXPECT_FALSE(NextReply(*big, 0ms).has_value()) << "the big request was read";

  // A node enrolls as if nothing had happened.
  ASSERT_OK(Join("after", token.token()));
  ASSERT_OK(cluster().WaitRegistered("after", DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Job done, cluster().WaitJob(job.job_id(), 150s));
  EXPECT_TRUE(MatchesReference(done, proto::COUNT, 0, kHi));
  for (int fd : silent) {
    EXPECT_GE(fd, 0);
    if (fd >= 0) ::close(fd);
  }
  EXPECT_TRUE(cluster().controller()->Running());
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_EQ(nodes.nodes_size(), 2) << nodes.ShortDebugString();
  ExpectNeverListed({"stranger"});
  ASSERT_OK_AND_ASSIGN(proto::Token now, TokenById(token.id()));
  EXPECT_EQ(now.used(), 2u) << "a refused request used the token";
}

}  // namespace
}  // namespace quark::integration
