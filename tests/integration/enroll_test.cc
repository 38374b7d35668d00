// Join tokens (docs/security.md, "Join tokens") against the real binaries:
// nodes that have nothing but a token enroll over CURVE; every kind of bad
// token is refused and its node never listed; approval tokens hold a node
// back until `quark approve`; `quark reject` keeps a node out. The
// fixture is in enroll_test.h; enroll_identity_test.cc has re-imaged and
// cloned nodes, a controller crash and hostile input. Every job's answer
// is checked against primesieve / primecount.
#include "tests/integration/enroll_test.h"

#include <set>
#include <string>
#include <vector>

namespace quark::integration {
namespace {

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

}  // namespace
}  // namespace quark::integration
