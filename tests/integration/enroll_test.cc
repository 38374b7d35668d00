// Join tokens (docs/security.md, "Join tokens") against the real binaries:
// nodes that have nothing but a token enroll over CURVE; every kind of bad
// token is refused and its node never listed; approval tokens hold a node
// back until `quark approve`; a re-imaged node takes its name back, a
// cloned SD card gets an identity of its own; tokens and enrolled nodes
// survive a crash of the controller; hostile input on the enroll port
// leaves it serving. All on loopback with CURVE and without the beacon
// (workers get --controller and --enroll). Every job's answer is checked
// against primesieve / primecount.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/keys.h"
#include "common/token.h"
#include "common/transport.h"
#include "gtest/gtest.h"
#include "proto/quark.pb.h"
#include "tests/integration/cluster_test.h"
#include "tests/integration/hostile.h"

namespace quark::integration {
namespace {

namespace fs = std::filesystem;

// A job of a second or two on one single-threaded worker.
constexpr uint64_t kSmallHi = 2'000'000'000;

// What a worker logs when the controller refuses to enroll it; the reason
// follows.
constexpr char kRefused[] =
    "cannot join error=\"the controller refused to enroll this node: ";

// The secret field of a token: between its 2nd and 3rd '_'.
std::string SecretField(const std::string& token) {
  const std::vector<std::string> fields = absl::StrSplit(token, '_');
  return fields.size() == 5 ? fields[2] : "";
}

// The public key a joining worker made for itself, as its worker.pub says.
absl::StatusOr<std::string> KeyOfStateDir(const fs::path& state_dir) {
  return KeyInFile(state_dir / "worker.pub");
}

// The token with `id` in `tokens`, or nullptr.
const proto::Token* FindToken(const proto::TokenList& tokens,
                              const std::string& id) {
  for (const proto::Token& t : tokens.tokens()) {
    if (t.id() == id) return &t;
  }
  return nullptr;
}

// A DEALER with a CURVE key of its own, connected from `source` (a
// loopback address) to the enroll port: what a stranger on the LAN can
// do.
std::unique_ptr<zmq::socket_t> EnrollClient(zmq::context_t& context,
                                            const std::string& controller_key,
                                            const KeyPair& own,
                                            const std::string& source,
                                            int port) {
  return CurveDealer(context, controller_key, own.public_key, own.secret_key,
                     source, port);
}

// The next reply on `socket` within `timeout`: nullopt when none came.
// A reply that is not one EnrollReply fails the test.
std::optional<proto::EnrollReply> NextReply(zmq::socket_t& socket,
                                            std::chrono::milliseconds timeout) {
  std::optional<std::vector<std::string>> frames =
      ReceiveWithin(socket, timeout);
  if (!frames) return std::nullopt;
  proto::EnrollReply reply;
  EXPECT_EQ(frames->size(), 1u);
  EXPECT_TRUE(reply.ParseFromString(frames->front()));
  return reply;
}

// JoinFlags of a worker that asks for `name`, with its state in
// `state_dir` ("": the cluster's worker_state_dir of the process's name).
JoinFlags AskingFor(const std::string& name, const fs::path& state_dir = {}) {
  JoinFlags flags;
  flags.name = name;
  flags.state_dir = state_dir;
  return flags;
}

class EnrollTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    cluster().options().curve = true;  // the beacon stays off
  }

  // A worker started as `name`, asking for that name, with its state in
  // worker_state_dir(name).
  absl::StatusOr<Process*> Join(const std::string& name,
                                const std::string& token,
                                std::vector<std::string> extra_flags = {}) {
    return cluster().StartJoiningWorker(name, token, std::move(extra_flags),
                                        AskingFor(name));
  }

  // Fails unless no node of these names is listed by `quark nodes` or
  // `quark nodes --pending`, nor was ever let in by the controller's log
  // (enrolled or registered).
  void ExpectNeverListed(const std::vector<std::string>& names) {
    ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
    ASSERT_OK_AND_ASSIGN(proto::EnrolledList pending, cluster().PendingNodes());
    const std::string log = cluster().controller()->ReadStderr();
    for (const std::string& name : names) {
      EXPECT_EQ(FindNode(nodes, name), nullptr) << nodes.ShortDebugString();
      for (const proto::EnrolledNode& p : pending.nodes()) {
        EXPECT_NE(p.name(), name) << pending.ShortDebugString();
      }
      for (const char* line : {"node enrolled node=", "node joined node="}) {
        EXPECT_EQ(log.find(absl::StrCat(line, name, " ")), std::string::npos)
            << line << name;
      }
    }
  }

  absl::StatusOr<proto::Token> TokenById(const std::string& id) {
    absl::StatusOr<proto::TokenList> tokens = cluster().Tokens();
    if (!tokens.ok()) return tokens.status();
    const proto::Token* token = FindToken(*tokens, id);
    if (token == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no token ", id, " in ", tokens->ShortDebugString()));
    }
    return *token;
  }

  absl::StatusOr<std::string> ControllerKey() {
    return KeyInFile(cluster().keys_dir() / "controller.pub");
  }

  void ExpectCliOk(std::vector<std::string> args) {
    const CliResult r = cluster().RunCli(std::move(args));
    EXPECT_EQ(r.exit_code, 0) << r.ToString();
  }
};

// Three nodes given nothing but the token (and where the controller is)
// make their keys, enroll, register and answer exactly. The token's secret
// is nowhere but in what `token create` printed.
TEST_F(EnrollTest, ThreeNodesJoinWithOneTokenAndAnswerExactly) {
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Token token,
                       cluster().CreateToken({"--ttl", "10m"}));
  const std::string secret = SecretField(token.token());
  ASSERT_EQ(secret.size(), 26u) << token.token();
  const std::vector<std::string> names = {"n1", "n2", "n3"};
  for (const std::string& name : names) ASSERT_OK(Join(name, token.token()));
  for (const std::string& name : names) {
    ASSERT_OK(cluster().WaitRegistered(name, DeadlineIn(20s)));
  }

  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().SubmitAndWait(proto::COUNT, 0, kSmallHi));
  EXPECT_TRUE(MatchesReference(job, proto::COUNT, 0, kSmallHi));

  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_EQ(nodes.nodes_size(), 3) << nodes.ShortDebugString();
  std::set<std::string> keys;
  for (const std::string& name : names) {
    const proto::Node* node = FindNode(nodes, name);
    ASSERT_NE(node, nullptr) << name << ": " << nodes.ShortDebugString();
    // Listed with the key it made itself.
    ASSERT_OK_AND_ASSIGN(std::string key,
                         KeyOfStateDir(cluster().worker_state_dir(name)));
    EXPECT_EQ(node->key(), key) << name;
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), 3u) << "the nodes share a key";

  ASSERT_OK_AND_ASSIGN(proto::Token listed, TokenById(token.id()));
  EXPECT_EQ(listed.used(), 3u) << listed.ShortDebugString();
  EXPECT_EQ(listed.state(), proto::TOKEN_ACTIVE);
  EXPECT_FALSE(listed.has_token()) << "token list shows the token";
  const CliResult human = cluster().RunCli({"token", "list"});
  EXPECT_EQ(human.exit_code, 0) << human.ToString();
  EXPECT_NE(human.out.find(token.id()), std::string::npos) << human.out;
  EXPECT_EQ(human.out.find(secret), std::string::npos) << human.out;
  EXPECT_EQ(human.err.find(secret), std::string::npos) << human.err;

  // In text only in the output of `token create` (cli-N.out); the raw
  // bytes nowhere: not in any log, not in the controller's state, not in
  // a worker's state directory (the token was on its command line only).
  const std::vector<std::string> with_secret = FilesContaining(dir_, secret);
  ASSERT_EQ(with_secret.size(), 1u) << absl::StrJoin(with_secret, " ");
  EXPECT_EQ(with_secret[0].rfind("cli-", 0), 0u) << with_secret[0];
  ASSERT_OK_AND_ASSIGN(JoinToken parsed, ParseJoinToken(token.token()));
  EXPECT_TRUE(FilesContaining(dir_, parsed.secret).empty())
      << absl::StrJoin(FilesContaining(dir_, parsed.secret), " ");
}

// Every kind of bad token: the worker says why and exits 2 (a token for
// another controller: it keeps asking, as it cannot tell that from a
// controller that is down), and the node is never listed.
TEST_F(EnrollTest, BadTokensAreRefusedAndTheirNodesNeverListed) {
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Token once,
                       cluster().CreateToken({"--uses", "1"}));
  ASSERT_OK(Join("first", once.token()));
  ASSERT_OK(cluster().WaitRegistered("first", DeadlineIn(20s)));

  ASSERT_OK_AND_ASSIGN(proto::Token revoked, cluster().CreateToken());
  ExpectCliOk({"token", "revoke", revoked.id()});
  ASSERT_OK_AND_ASSIGN(proto::Token expired,
                       cluster().CreateToken({"--ttl", "1s"}));
  ASSERT_OK_AND_ASSIGN(proto::Token good, cluster().CreateToken());
  ASSERT_OK_AND_ASSIGN(JoinToken real, ParseJoinToken(good.token()));

  // Another secret under the real id and key, with a valid check: only
  // the controller can tell.
  JoinToken forged = real;
  for (char& c : forged.secret) c = static_cast<char>(c ^ 0x5a);
  // An id this controller never made.
  JoinToken unknown = real;
  unknown.id = real.id == "aaaaaaaa" ? "bbbbbbbb" : "aaaaaaaa";
  // A token of another controller: its key cannot even complete the
  // CURVE handshake with this one.
  ASSERT_OK_AND_ASSIGN(KeyPair other, GenerateKeyPair());
  ASSERT_OK_AND_ASSIGN(JoinToken stranger, NewJoinToken(other.public_key));
  // One character of the secret changed, and nothing recomputed.
  std::string mistyped = good.token();
  const size_t at = mistyped.find('_', 4) + 3;
  mistyped[at] = mistyped[at] == 'a' ? 'b' : 'a';

  // Expired by the controller's own clock.
  const Deadline expiry = DeadlineIn(10s);
  while (true) {
    ASSERT_OK_AND_ASSIGN(proto::Token t, TokenById(expired.id()));
    if (t.state() == proto::TOKEN_EXPIRED) break;
    ASSERT_LT(Clock::now(), expiry) << t.ShortDebugString();
    std::this_thread::sleep_for(100ms);
  }

  struct Case {
    std::string name;
    std::string token;
    std::string reason;  // what follows kRefused in the worker's log
  };
  const std::vector<Case> cases = {
      {"used-up", once.token(),
       absl::StrCat("token ", once.id(), " is used up (1 of 1 uses)")},
      {"revoked", revoked.token(),
       absl::StrCat("token ", revoked.id(), " was revoked")},
      {"expired", expired.token(),
       absl::StrCat("token ", expired.id(), " expired at ")},
      {"forged", FormatJoinToken(forged),
       absl::StrCat("the proof for token ", real.id,
                    " does not match: a forged or mistyped token")},
      {"unknown", FormatJoinToken(unknown),
       absl::StrCat("unknown token ", unknown.id,
                    ": not made by this controller, or forgotten")},
  };
  for (const Case& c : cases) ASSERT_OK(Join(c.name, c.token));
  ASSERT_OK_AND_ASSIGN(Process * typo, Join("mistyped", mistyped));
  ASSERT_OK_AND_ASSIGN(Process * other_cluster,
                       Join("stranger", FormatJoinToken(stranger)));

  // Refused where it is typed, before any key is made.
  ExpectExit(*typo, 2, "join token: the check failed: mistyped or truncated?");
  EXPECT_EQ(typo->ReadStderr().find(SecretField(mistyped)), std::string::npos);
  EXPECT_FALSE(fs::exists(cluster().worker_state_dir("mistyped")));

  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectExit(*cluster().worker(c.name), 2, kRefused + c.reason);
    // The controller says who was refused and why, with the peer.
    ASSERT_OK_AND_ASSIGN(std::string key,
                         KeyOfStateDir(cluster().worker_state_dir(c.name)));
    EXPECT_TRUE(
        WaitForLog(*cluster().controller(),
                   absl::StrCat("enroll refused address=127.0.0.1 key=", key),
                   DeadlineIn(5s)));
    EXPECT_NE(cluster().controller()->ReadStderr().find(
                  absl::StrCat("name=", c.name, " reason=\"", c.reason)),
              std::string::npos);
  }

  // The other controller's token: the handshake fails, the worker says so
  // and keeps asking (backoff up to 30 s); this controller never hears of
  // it.
  EXPECT_TRUE(WaitForLog(
      *other_cluster, "no answer to the enrollment endpoint=", DeadlineIn(15s)))
      << other_cluster->ReadStderr();
  EXPECT_NE(other_cluster->ReadStderr().find(
                absl::StrCat("with the key the token pins (",
                             KeyFingerprint(other.public_key), ")")),
            std::string::npos)
      << other_cluster->ReadStderr();
  EXPECT_TRUE(other_cluster->Running());

  ExpectNeverListed({"used-up", "revoked", "expired", "forged", "unknown",
                     "mistyped", "stranger"});
  // No secret in any log or state: those `token create` printed (the
  // unknown id's is the good one's) are in its output only, those made
  // here nowhere.
  for (const proto::Token* t : {&once, &revoked, &expired, &good}) {
    EXPECT_EQ(FilesContaining(dir_, SecretField(t->token())).size(), 1u);
  }
  for (const std::string& made_here :
       {FormatJoinToken(forged), FormatJoinToken(stranger), mistyped}) {
    EXPECT_EQ(FilesContaining(dir_, SecretField(made_here)),
              std::vector<std::string>{})
        << made_here;
  }
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_EQ(nodes.nodes_size(), 1) << nodes.ShortDebugString();
  // Refusals use nothing up.
  ASSERT_OK_AND_ASSIGN(proto::TokenList tokens, cluster().Tokens());
  for (const auto& [id, used, state] :
       std::vector<std::tuple<std::string, uint32_t, proto::TokenState>>{
           {once.id(), 1, proto::TOKEN_USED_UP},
           {revoked.id(), 0, proto::TOKEN_REVOKED},
           {expired.id(), 0, proto::TOKEN_EXPIRED},
           {good.id(), 0, proto::TOKEN_ACTIVE}}) {
    const proto::Token* t = FindToken(tokens, id);
    ASSERT_NE(t, nullptr) << id;
    EXPECT_EQ(t->used(), used) << t->ShortDebugString();
    EXPECT_EQ(t->state(), state) << t->ShortDebugString();
  }
}

// An approval token: the node waits, let in by nobody and given no work,
// until `quark approve`; then it registers and takes tasks of the job
// that is running, whose answer stays exact.
TEST_F(EnrollTest, ApprovedNodeJoinsTheRunningJob) {
  // Small tasks, so that the approved node finishes one well before the
  // job ends.
  cluster().options().task_seconds = "0.5";
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Token open, cluster().CreateToken());
  ASSERT_OK(Join("base", open.token()));
  ASSERT_OK(cluster().WaitRegistered("base", DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Token gated,
                       cluster().CreateToken({"--approve"}));
  ASSERT_OK_AND_ASSIGN(Process * late, Join("late", gated.token()));
  ASSERT_TRUE(
      WaitForLog(*late, "waiting for approval node=late ", DeadlineIn(20s)))
      << late->ReadStderr();

  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().Submit(proto::COUNT, 0, kBigHi));
  ASSERT_OK(cluster().WaitForNode(
      "base", [](const proto::Node& n) { return n.tasks_done() > 0; },
      DeadlineIn(30s)));
  // Pending: listed as such, with the key it made, and nowhere else.
  ASSERT_OK_AND_ASSIGN(proto::EnrolledList pending, cluster().PendingNodes());
  ASSERT_EQ(pending.nodes_size(), 1) << pending.ShortDebugString();
  EXPECT_EQ(pending.nodes(0).name(), "late");
  EXPECT_EQ(pending.nodes(0).state(), proto::ENROLL_PENDING);
  EXPECT_EQ(pending.nodes(0).token_id(), gated.id());
  EXPECT_EQ(pending.nodes(0).address(), "127.0.0.1");
  ASSERT_OK_AND_ASSIGN(std::string late_key,
                       KeyOfStateDir(cluster().worker_state_dir("late")));
  EXPECT_EQ(pending.nodes(0).key(), late_key);
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_EQ(FindNode(nodes, "late"), nullptr) << nodes.ShortDebugString();
  EXPECT_EQ(late->ReadStderr().find("registered node="), std::string::npos);
  EXPECT_EQ(cluster().controller()->ReadStderr().find("assign node=late "),
            std::string::npos);
  ASSERT_OK_AND_ASSIGN(proto::Token gated_now, TokenById(gated.id()));
  EXPECT_EQ(gated_now.used(), 1u) << "a pending node uses the token up";

  ExpectCliOk({"approve", "late"});
  ASSERT_OK(cluster().WaitRegistered("late", DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(
      proto::Node approved,
      cluster().WaitForNode(
          "late", [](const proto::Node& n) { return n.tasks_done() > 0; },
          DeadlineIn(30s)));
  EXPECT_EQ(approved.key(), late_key);
  ASSERT_OK_AND_ASSIGN(proto::Job running, cluster().GetJob(job.job_id()));
  EXPECT_NE(running.state(), proto::DONE)
      << "the job ended before the approved node took part; raise kBigHi: "
      << running.ShortDebugString();

  ASSERT_OK_AND_ASSIGN(proto::Job done, cluster().WaitJob(job.job_id(), 150s));
  EXPECT_TRUE(MatchesReference(done, proto::COUNT, 0, kBigHi));
  ASSERT_OK_AND_ASSIGN(pending, cluster().PendingNodes());
  EXPECT_EQ(pending.nodes_size(), 0) << pending.ShortDebugString();
}

// `quark reject` of a pending node: its worker says why and exits 2, and
// its key cannot enroll again, even with a fresh token. A node rejected
// after it was let in is evicted.
TEST_F(EnrollTest, RejectedNodesAreRefusedForGood) {
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Token gated,
                       cluster().CreateToken({"--approve"}));
  ASSERT_OK_AND_ASSIGN(Process * rogue, Join("rogue", gated.token()));
  ASSERT_TRUE(
      WaitForLog(*rogue, "waiting for approval node=rogue ", DeadlineIn(20s)))
      << rogue->ReadStderr();
  ExpectCliOk({"reject", "rogue"});
  const std::string rejected =
      "this node's key was rejected by the operator (quark reject); it "
      "cannot enroll again";
  ExpectExit(*rogue, 2, kRefused + rejected);
  ExpectNeverListed({"rogue"});

  ASSERT_OK_AND_ASSIGN(proto::Token open, cluster().CreateToken());
  ASSERT_OK_AND_ASSIGN(Process * again, Join("rogue", open.token()));
  ExpectExit(*again, 2, kRefused + rejected);
  ExpectNeverListed({"rogue"});
  ASSERT_OK_AND_ASSIGN(proto::Token open_now, TokenById(open.id()));
  EXPECT_EQ(open_now.used(), 0u) << open_now.ShortDebugString();

  // Let in, then rejected: evicted at once, told why, and it exits 2,
  // which systemd does not restart.
  ASSERT_OK_AND_ASSIGN(Process * member, Join("member", open.token()));
  ASSERT_OK(cluster().WaitRegistered("member", DeadlineIn(20s)));
  ExpectCliOk({"reject", "member"});
  ExpectExit(*member, 2, "rejected by the operator");
  ASSERT_OK(cluster().WaitForNodeGone("member", DeadlineIn(10s)));
  // Started again with its enrollment: its key is refused at the
  // handshake, and it keeps knocking.
  ASSERT_OK_AND_ASSIGN(Process * knocking, Join("member", ""));
  EXPECT_TRUE(WaitForLog(*knocking, "refused this node's key", DeadlineIn(20s)))
      << knocking->ReadStderr();
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  EXPECT_EQ(nodes.nodes_size(), 0) << nodes.ShortDebugString();
}

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
       "machine identity is over 128 characters"},
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
