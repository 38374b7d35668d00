#include "controller/enrollment.h"

#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/keys.h"
#include "common/token.h"
#include "common/transport.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

// A machine hash as quark-worker sends it (worker/identity.h).
constexpr char kMachine[] = "mblusycp4jdnlwxi";

// authorized_workers and the registered nodes, as the test says.
class FakeNames : public NodeNames {
 public:
  bool Listed(const std::string& name) const override {
    return listed.count(name) != 0;
  }
  bool Connected(const std::string& name) const override {
    return connected.count(name) != 0;
  }
  std::set<std::string> listed, connected;
};

class EnrollmentTest : public testing::Test {
 protected:
  void SetUp() override {
    controller_ = *GenerateKeyPair();
    options_.controller_key = controller_.public_key;
    options_.control_endpoint = "tcp://*:7700";
    enrollment_ = std::make_unique<Enrollment>(options_);
  }

  // A token made by the enrollment, parsed back as a worker reads it.
  JoinToken MakeToken(uint64_t ttl_ms = 0, uint32_t uses = 0,
                      bool approve = false) {
    proto::CreateToken request;
    request.set_ttl_ms(ttl_ms);
    request.set_uses(uses);
    request.set_approve(approve);
    absl::StatusOr<proto::Token> made = enrollment_->CreateToken(request, now_);
    EXPECT_TRUE(made.ok()) << made.status();
    absl::StatusOr<JoinToken> token = ParseJoinToken(made->token());
    EXPECT_TRUE(token.ok()) << token.status();
    return *token;
  }

  // A request as a worker with `key` sends it.
  static proto::EnrollRequest Request(const JoinToken& token,
                                      const KeyPair& key,
                                      const std::string& name) {
    proto::EnrollRequest request;
    request.set_protocol_version(kProtocolVersion);
    request.set_token_id(token.id);
    request.set_name(name);
    request.set_machine(kMachine);
    request.set_proof(EnrollProof(token, key.public_key));
    return request;
  }

  EnrollOutcome Enroll(const JoinToken& token, const KeyPair& key,
                       const std::string& name) {
    return enrollment_->Enroll(Request(token, key, name), key.public_key,
                               "10.0.0.9", now_, names_);
  }

  proto::Token TokenView(const std::string& id) {
    for (const proto::Token& t : enrollment_->ListTokens(now_)) {
      if (t.id() == id) return t;
    }
    ADD_FAILURE() << "no token " << id;
    return {};
  }

  KeyPair controller_;
  EnrollmentOptions options_;
  std::unique_ptr<Enrollment> enrollment_;
  FakeNames names_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

TEST_F(EnrollmentTest, ATokenPinsTheControllersKeyAndIsShownOnce) {
  proto::CreateToken request;
  request.set_ttl_ms(absl::ToInt64Milliseconds(absl::Hours(24)));
  absl::StatusOr<proto::Token> made = enrollment_->CreateToken(request, now_);
  ASSERT_TRUE(made.ok()) << made.status();
  absl::StatusOr<JoinToken> token = ParseJoinToken(made->token());
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->controller_key, controller_.public_key);
  EXPECT_EQ(token->id, made->id());
  EXPECT_EQ(made->expires_ms(),
            static_cast<uint64_t>(absl::ToUnixMillis(now_ + absl::Hours(24))));
  EXPECT_FALSE(made->has_uses_left());  // unlimited
  EXPECT_EQ(made->state(), proto::TOKEN_ACTIVE);
  // Listed without the token itself; stored without the secret.
  const proto::Token listed = TokenView(made->id());
  EXPECT_FALSE(listed.has_token());
  StoreBatch batch;
  enrollment_->TakeChanges(&batch);
  ASSERT_EQ(batch.tokens.size(), 1u);
  const std::string stored = batch.tokens[0].SerializeAsString();
  EXPECT_EQ(stored.find(token->secret), std::string::npos);
  EXPECT_EQ(batch.tokens[0].verifier(), TokenVerifier(*token));
}

TEST_F(EnrollmentTest, RefusesTokensOutOfRange) {
  proto::CreateToken request;
  request.set_ttl_ms(absl::ToInt64Milliseconds(absl::Hours(24 * 366 * 11)));
  EXPECT_TRUE(absl::IsInvalidArgument(
      enrollment_->CreateToken(request, now_).status()));
  request.set_ttl_ms(0);
  request.set_uses(2'000'000);
  EXPECT_TRUE(absl::IsInvalidArgument(
      enrollment_->CreateToken(request, now_).status()));
}

// absl::Milliseconds of a uint64 past 2^63 is a negative duration: such
// TTLs once passed the bound and wrapped the expiry (found by the fuzzer).
TEST_F(EnrollmentTest, AHugeTtlIsRefused) {
  for (uint64_t ttl : {~uint64_t{0}, (uint64_t{1} << 63) + 1000}) {
    proto::CreateToken request;
    request.set_ttl_ms(ttl);
    EXPECT_TRUE(absl::IsInvalidArgument(
        enrollment_->CreateToken(request, now_).status()))
        << ttl;
  }
}

TEST_F(EnrollmentTest, BoundsTheUsableTokens) {
  options_.max_tokens = 3;
  enrollment_ = std::make_unique<Enrollment>(options_);
  for (int i = 0; i < 3; ++i) MakeToken();
  EXPECT_TRUE(absl::IsResourceExhausted(
      enrollment_->CreateToken(proto::CreateToken(), now_).status()));
  // A revoked one no longer counts.
  ASSERT_TRUE(
      enrollment_->RevokeToken(enrollment_->ListTokens(now_)[0].id(), now_)
          .ok());
  EXPECT_TRUE(enrollment_->CreateToken(proto::CreateToken(), now_).ok());
}

TEST_F(EnrollmentTest, AValidTokenLetsTheKeyIn) {
  const JoinToken token = MakeToken(0, 0, false);
  const KeyPair worker = *GenerateKeyPair();
  EnrollOutcome out = Enroll(token, worker, "pi-1");
  EXPECT_EQ(out.reply.status(), proto::EnrollReply::ACCEPTED)
      << out.reply.reason();
  EXPECT_EQ(out.reply.name(), "pi-1");
  EXPECT_EQ(out.reply.control(), "tcp://*:7700");
  EXPECT_TRUE(out.changed);
  ASSERT_NE(enrollment_->NameOf(worker.public_key), nullptr);
  EXPECT_EQ(*enrollment_->NameOf(worker.public_key), "pi-1");
  EXPECT_EQ(TokenView(token.id).used(), 1u);
  // Asking again is answered the same, and uses nothing.
  EnrollOutcome again = Enroll(token, worker, "pi-1");
  EXPECT_EQ(again.reply.status(), proto::EnrollReply::ACCEPTED);
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(TokenView(token.id).used(), 1u);
}

TEST_F(EnrollmentTest, UsesRunOut) {
  const JoinToken token = MakeToken(0, 2, false);
  EXPECT_EQ(Enroll(token, *GenerateKeyPair(), "a").reply.status(),
            proto::EnrollReply::ACCEPTED);
  EXPECT_EQ(TokenView(token.id).uses_left(), 1u);
  EXPECT_EQ(Enroll(token, *GenerateKeyPair(), "b").reply.status(),
            proto::EnrollReply::ACCEPTED);
  EXPECT_EQ(TokenView(token.id).state(), proto::TOKEN_USED_UP);
  EnrollOutcome third = Enroll(token, *GenerateKeyPair(), "c");
  EXPECT_EQ(third.reply.status(), proto::EnrollReply::REFUSED);
  EXPECT_NE(third.reply.reason().find("used up (2 of 2 uses)"),
            std::string::npos)
      << third.reply.reason();
}

TEST_F(EnrollmentTest, TokensExpireOnTheClock) {
  const JoinToken token = MakeToken(absl::ToInt64Milliseconds(absl::Hours(1)));
  now_ += absl::Minutes(59);
  EXPECT_EQ(Enroll(token, *GenerateKeyPair(), "a").reply.status(),
            proto::EnrollReply::ACCEPTED);
  now_ += absl::Minutes(1);
  EXPECT_EQ(TokenView(token.id).state(), proto::TOKEN_EXPIRED);
  EnrollOutcome late = Enroll(token, *GenerateKeyPair(), "b");
  EXPECT_EQ(late.reply.status(), proto::EnrollReply::REFUSED);
  EXPECT_NE(late.reply.reason().find("expired"), std::string::npos);
}

TEST_F(EnrollmentTest, ATokenWithNoTtlNeverExpires) {
  const JoinToken token = MakeToken(0);
  now_ += absl::Hours(24 * 365 * 5);
  EXPECT_EQ(TokenView(token.id).expires_ms(), 0u);
  EXPECT_EQ(Enroll(token, *GenerateKeyPair(), "a").reply.status(),
            proto::EnrollReply::ACCEPTED);
}

TEST_F(EnrollmentTest, RevokingATokenKeepsItsNodes) {
  const JoinToken token = MakeToken();
  const KeyPair joined = *GenerateKeyPair();
  ASSERT_EQ(Enroll(token, joined, "a").reply.status(),
            proto::EnrollReply::ACCEPTED);
  absl::StatusOr<proto::Token> revoked =
      enrollment_->RevokeToken(token.id, now_);
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(revoked->state(), proto::TOKEN_REVOKED);
  EnrollOutcome refused = Enroll(token, *GenerateKeyPair(), "b");
  EXPECT_EQ(refused.reply.status(), proto::EnrollReply::REFUSED);
  EXPECT_NE(refused.reply.reason().find("revoked"), std::string::npos);
  // The node that joined with it stays, and is answered as before.
  EXPECT_NE(enrollment_->NameOf(joined.public_key), nullptr);
  EXPECT_EQ(Enroll(token, joined, "a").reply.status(),
            proto::EnrollReply::ACCEPTED);
  EXPECT_TRUE(
      absl::IsNotFound(enrollment_->RevokeToken("aaaaaaaa", now_).status()));
}

// Each refusal says why, and lets nothing in.
TEST_F(EnrollmentTest, RefusesForgedAndMalformedRequests) {
  const JoinToken token = MakeToken();
  const KeyPair worker = *GenerateKeyPair();
  const KeyPair other = *GenerateKeyPair();
  JoinToken forged = token;  // right id and key, made-up secret
  forged.secret = std::string(kTokenSecretBytes, 'x');
  JoinToken elsewhere = token;  // the proof names another controller
  elsewhere.controller_key = other.public_key;
  struct Case {
    const char* what;
    proto::EnrollRequest request;
    const char* reason;
  } cases[] = {
      {"forged secret", Request(forged, worker, "a"), "does not match"},
      {"proof for another key", Request(token, other, "a"), "does not match"},
      {"proof for another controller", Request(elsewhere, worker, "a"),
       "does not match"},
      {"unknown token",
       [&] {
         proto::EnrollRequest r = Request(token, worker, "a");
         r.set_token_id("aaaaaaaa");
         return r;
       }(),
       "unknown token"},
      {"malformed id",
       [&] {
         proto::EnrollRequest r = Request(token, worker, "a");
         r.set_token_id("NOT-AN-ID");
         return r;
       }(),
       "malformed token id"},
      {"no proof",
       [&] {
         proto::EnrollRequest r = Request(token, worker, "a");
         r.clear_proof();
         return r;
       }(),
       "does not match"},
      {"bad name", Request(token, worker, "no spaces allowed"), "node name"},
      {"other version",
       [&] {
         proto::EnrollRequest r = Request(token, worker, "a");
         r.set_protocol_version(kProtocolVersion + 1);
         return r;
       }(),
       "protocol version"},
  };
  for (const Case& c : cases) {
    EnrollOutcome out = enrollment_->Enroll(c.request, worker.public_key,
                                            "10.0.0.9", now_, names_);
    EXPECT_EQ(out.reply.status(), proto::EnrollReply::REFUSED) << c.what;
    EXPECT_NE(out.reply.reason().find(c.reason), std::string::npos)
        << c.what << ": " << out.reply.reason();
    EXPECT_FALSE(out.changed) << c.what;
    EXPECT_EQ(enrollment_->NameOf(worker.public_key), nullptr) << c.what;
  }
  EXPECT_EQ(TokenView(token.id).used(), 0u);
  StoreBatch batch;
  enrollment_->TakeChanges(&batch);
  EXPECT_TRUE(batch.enrolled.empty());
}

TEST_F(EnrollmentTest, AnApprovalTokenMakesTheNodeWait) {
  const JoinToken token = MakeToken(0, 0, /*approve=*/true);
  const KeyPair worker = *GenerateKeyPair();
  EnrollOutcome out = Enroll(token, worker, "pi-7");
  EXPECT_EQ(out.reply.status(), proto::EnrollReply::PENDING);
  EXPECT_GT(out.reply.retry_ms(), 0u);
  EXPECT_NE(out.reply.reason().find("quark approve pi-7"), std::string::npos);
  EXPECT_EQ(enrollment_->NameOf(worker.public_key), nullptr);  // not let in
  ASSERT_EQ(enrollment_->ListPending().size(), 1u);
  EXPECT_EQ(enrollment_->ListPending()[0].name(), "pi-7");
  EXPECT_EQ(enrollment_->ListPending()[0].address(), "10.0.0.9");
  // Polling changes nothing and uses nothing more.
  EnrollOutcome poll = Enroll(token, worker, "pi-7");
  EXPECT_EQ(poll.reply.status(), proto::EnrollReply::PENDING);
  EXPECT_FALSE(poll.changed);
  EXPECT_EQ(TokenView(token.id).used(), 1u);

  EXPECT_TRUE(absl::IsNotFound(enrollment_->Approve("pi-8", now_).status()));
  absl::StatusOr<proto::EnrolledNode> approved =
      enrollment_->Approve("pi-7", now_);
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_EQ(approved->state(), proto::ENROLL_APPROVED);
  EXPECT_TRUE(enrollment_->ListPending().empty());
  ASSERT_NE(enrollment_->NameOf(worker.public_key), nullptr);
  EXPECT_EQ(Enroll(token, worker, "pi-7").reply.status(),
            proto::EnrollReply::ACCEPTED);
  // Approving twice: nothing waits any more.
  EXPECT_TRUE(absl::IsNotFound(enrollment_->Approve("pi-7", now_).status()));
}

TEST_F(EnrollmentTest, ARejectedNodeStaysOut) {
  const JoinToken token = MakeToken(0, 0, /*approve=*/true);
  const KeyPair worker = *GenerateKeyPair();
  ASSERT_EQ(Enroll(token, worker, "pi-7").reply.status(),
            proto::EnrollReply::PENDING);
  ASSERT_TRUE(enrollment_->Reject("pi-7", now_).ok());
  EXPECT_TRUE(enrollment_->ListPending().empty());
  EnrollOutcome out = Enroll(token, worker, "pi-7");
  EXPECT_EQ(out.reply.status(), proto::EnrollReply::REFUSED);
  EXPECT_NE(out.reply.reason().find("rejected"), std::string::npos);
  EXPECT_EQ(enrollment_->NameOf(worker.public_key), nullptr);
  // The name is free again for another node.
  EXPECT_EQ(Enroll(token, *GenerateKeyPair(), "pi-7").reply.name(), "pi-7");
}

TEST_F(EnrollmentTest, RejectingAnApprovedNodeRemovesItsKey) {
  const JoinToken token = MakeToken();
  const KeyPair worker = *GenerateKeyPair();
  ASSERT_EQ(Enroll(token, worker, "pi-1").reply.status(),
            proto::EnrollReply::ACCEPTED);
  absl::StatusOr<proto::EnrolledNode> rejected =
      enrollment_->Reject("pi-1", now_);
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(rejected->state(), proto::ENROLL_REJECTED);
  EXPECT_EQ(enrollment_->NameOf(worker.public_key), nullptr);
  EXPECT_TRUE(absl::IsNotFound(enrollment_->Reject("pi-1", now_).status()));
  EXPECT_TRUE(
      absl::IsNotFound(enrollment_->Reject("never-there", now_).status()));
}

// Past max_rejected the oldest rejection is forgotten (its key may enroll
// again). Forgetting read the erased record's own key once (found by the
// fuzzer under ASan).
TEST_F(EnrollmentTest, TheOldestRejectionsAreForgotten) {
  options_.max_rejected = 1;
  enrollment_ = std::make_unique<Enrollment>(options_);
  const JoinToken token = MakeToken();
  const KeyPair a = *GenerateKeyPair(), b = *GenerateKeyPair();
  ASSERT_EQ(Enroll(token, a, "a").reply.status(), proto::EnrollReply::ACCEPTED);
  ASSERT_EQ(Enroll(token, b, "b").reply.status(), proto::EnrollReply::ACCEPTED);
  ASSERT_TRUE(enrollment_->Reject("a", now_).ok());
  StoreBatch ignored;
  enrollment_->TakeChanges(&ignored);
  now_ += absl::Seconds(1);
  ASSERT_TRUE(enrollment_->Reject("b", now_).ok());  // forgets a
  StoreBatch batch;
  enrollment_->TakeChanges(&batch);
  EXPECT_EQ(batch.deleted_enrolled, std::vector<std::string>{a.public_key});
  EXPECT_EQ(Enroll(token, a, "a").reply.status(), proto::EnrollReply::ACCEPTED);
  EXPECT_EQ(Enroll(token, b, "b").reply.status(), proto::EnrollReply::REFUSED);
}

TEST_F(EnrollmentTest, BoundsThePendingNodes) {
  options_.max_pending = 2;
  enrollment_ = std::make_unique<Enrollment>(options_);
  const JoinToken token = MakeToken(0, 0, /*approve=*/true);
  EXPECT_EQ(Enroll(token, *GenerateKeyPair(), "a").reply.status(),
            proto::EnrollReply::PENDING);
  EXPECT_EQ(Enroll(token, *GenerateKeyPair(), "b").reply.status(),
            proto::EnrollReply::PENDING);
  // Full is not a refusal: the node is not recorded, and asks again later.
  EnrollOutcome third = Enroll(token, *GenerateKeyPair(), "c");
  EXPECT_EQ(third.reply.status(), proto::EnrollReply::PENDING);
  EXPECT_TRUE(third.reply.name().empty());
  EXPECT_GT(third.reply.retry_ms(), 2000u);
  EXPECT_NE(third.reply.reason().find("wait for approval"), std::string::npos);
  EXPECT_FALSE(third.changed);
  EXPECT_EQ(enrollment_->pending(), 2u);
  options_.max_pending = 100;
  options_.max_enrolled = 2;
  enrollment_ = std::make_unique<Enrollment>(options_);
  const JoinToken open = MakeToken();
  EXPECT_EQ(Enroll(open, *GenerateKeyPair(), "a").reply.status(),
            proto::EnrollReply::ACCEPTED);
  EXPECT_EQ(Enroll(open, *GenerateKeyPair(), "b").reply.status(),
            proto::EnrollReply::ACCEPTED);
  EnrollOutcome more = Enroll(open, *GenerateKeyPair(), "c");
  EXPECT_EQ(more.reply.status(), proto::EnrollReply::PENDING);
  EXPECT_TRUE(more.reply.name().empty());
}

// A re-imaged Pi: same host name, new key.
TEST_F(EnrollmentTest, ANewKeyTakesOverTheNameOfADisconnectedNode) {
  const JoinToken token = MakeToken();
  const KeyPair old_key = *GenerateKeyPair();
  const KeyPair new_key = *GenerateKeyPair();
  ASSERT_EQ(Enroll(token, old_key, "pi-3").reply.name(), "pi-3");
  EnrollOutcome out = Enroll(token, new_key, "pi-3");
  EXPECT_EQ(out.reply.status(), proto::EnrollReply::ACCEPTED);
  EXPECT_EQ(out.reply.name(), "pi-3");
  EXPECT_EQ(out.replaced_key, old_key.public_key);
  EXPECT_EQ(enrollment_->NameOf(old_key.public_key), nullptr);
  ASSERT_NE(enrollment_->NameOf(new_key.public_key), nullptr);
  EXPECT_EQ(*enrollment_->NameOf(new_key.public_key), "pi-3");
  StoreBatch batch;
  enrollment_->TakeChanges(&batch);
  ASSERT_EQ(batch.deleted_enrolled.size(), 1u);
  EXPECT_EQ(batch.deleted_enrolled[0], old_key.public_key);
}

// The name of a disconnected node is taken over only from the same
// machine, and never on an approval token's word: a token holder must not
// be able to push a node out by asking for its name.
TEST_F(EnrollmentTest, ANameIsTakenOverOnlyFromTheSameMachine) {
  const JoinToken token = MakeToken();
  const KeyPair old_key = *GenerateKeyPair();
  ASSERT_EQ(Enroll(token, old_key, "pi-3").reply.name(), "pi-3");
  const KeyPair stranger = *GenerateKeyPair();
  proto::EnrollRequest elsewhere = Request(token, stranger, "pi-3");
  elsewhere.set_machine("othermachine2345");
  EnrollOutcome out = enrollment_->Enroll(elsewhere, stranger.public_key,
                                          "10.0.0.66", now_, names_);
  EXPECT_EQ(out.reply.name(), "pi-3-2");
  EXPECT_TRUE(out.replaced_key.empty());
  EXPECT_NE(enrollment_->NameOf(old_key.public_key), nullptr);

  const JoinToken gated = MakeToken(0, 0, /*approve=*/true);
  EnrollOutcome asked = Enroll(gated, *GenerateKeyPair(), "pi-3");
  EXPECT_EQ(asked.reply.status(), proto::EnrollReply::PENDING);
  EXPECT_EQ(asked.reply.name(), "pi-3-3");
  EXPECT_TRUE(asked.replaced_key.empty());
  EXPECT_NE(enrollment_->NameOf(old_key.public_key), nullptr);
}

TEST_F(EnrollmentTest, MalformedMachineIdentitiesAreRefused) {
  const JoinToken token = MakeToken();
  const KeyPair key = *GenerateKeyPair();
  for (const std::string& machine :
       {std::string("has space"), std::string("line\nbreak"),
        std::string(33, 'a'), std::string("UPPER")}) {
    proto::EnrollRequest r = Request(token, key, "pi");
    r.set_machine(machine);
    EnrollOutcome out =
        enrollment_->Enroll(r, key.public_key, "x", now_, names_);
    EXPECT_EQ(out.reply.status(), proto::EnrollReply::REFUSED) << machine;
  }
  proto::EnrollRequest none = Request(token, key, "pi");
  none.clear_machine();  // a machine that cannot be told apart
  EXPECT_EQ(enrollment_->Enroll(none, key.public_key, "x", now_, names_)
                .reply.status(),
            proto::EnrollReply::ACCEPTED);
}

// A bad proof is refused as such, even for a token that is no use any
// more: only its holder learns what became of it.
TEST_F(EnrollmentTest, TheProofComesBeforeTheTokensState) {
  const JoinToken token = MakeToken();
  ASSERT_TRUE(enrollment_->RevokeToken(token.id, now_).ok());
  JoinToken forged = token;
  forged.secret = std::string(kTokenSecretBytes, 'x');
  const KeyPair key = *GenerateKeyPair();
  EnrollOutcome out = Enroll(forged, key, "pi");
  EXPECT_NE(out.reply.reason().find("does not match"), std::string::npos)
      << out.reply.reason();
}

TEST_F(EnrollmentTest, ANameInUseGetsADistinctOne) {
  const JoinToken token = MakeToken();
  const KeyPair first = *GenerateKeyPair();
  ASSERT_EQ(Enroll(token, first, "pi-3").reply.name(), "pi-3");
  names_.connected.insert("pi-3");  // the first one is up
  EnrollOutcome second = Enroll(token, *GenerateKeyPair(), "pi-3");
  EXPECT_EQ(second.reply.name(), "pi-3-2");
  EXPECT_TRUE(second.replaced_key.empty());
  EXPECT_NE(enrollment_->NameOf(first.public_key), nullptr);
  EXPECT_EQ(Enroll(token, *GenerateKeyPair(), "pi-3").reply.name(), "pi-3-3");
  // A name authorized_workers lists is never taken over.
  names_.listed.insert("pi-9");
  EXPECT_EQ(Enroll(token, *GenerateKeyPair(), "pi-9").reply.name(), "pi-9-2");
  // And a suffixed name is still a valid one.
  const std::string longest(64, 'n');
  names_.listed.insert(longest);
  const std::string got =
      Enroll(token, *GenerateKeyPair(), longest).reply.name();
  EXPECT_TRUE(ValidNodeName(got)) << got;
  EXPECT_EQ(got.substr(got.size() - 2), "-2");
}

TEST_F(EnrollmentTest, WhatIsStoredIsRestored) {
  const JoinToken open = MakeToken(0, 5, false);
  const JoinToken approval = MakeToken(0, 0, true);
  const KeyPair a = *GenerateKeyPair(), b = *GenerateKeyPair(),
                c = *GenerateKeyPair();
  ASSERT_EQ(Enroll(open, a, "a").reply.status(), proto::EnrollReply::ACCEPTED);
  ASSERT_EQ(Enroll(approval, b, "b").reply.status(),
            proto::EnrollReply::PENDING);
  ASSERT_EQ(Enroll(approval, c, "c").reply.status(),
            proto::EnrollReply::PENDING);
  ASSERT_TRUE(enrollment_->Reject("c", now_).ok());
  StoreBatch batch;
  enrollment_->TakeChanges(&batch);
  StoredState state;
  state.tokens = batch.tokens;
  state.enrolled = batch.enrolled;

  Enrollment restored(options_);
  ASSERT_TRUE(restored.Restore(state).ok());
  ASSERT_NE(restored.NameOf(a.public_key), nullptr);
  EXPECT_EQ(restored.pending(), 1u);
  ASSERT_EQ(restored.ListTokens(now_).size(), 2u);
  for (const proto::Token& t : restored.ListTokens(now_)) {
    EXPECT_EQ(t.used(), t.id() == open.id ? 1u : 2u) << t.id();
  }
  EXPECT_EQ(
      restored
          .Enroll(Request(approval, c, "c"), c.public_key, "x", now_, names_)
          .reply.status(),
      proto::EnrollReply::REFUSED);
  // A second enrollment still checks against the restored verifier.
  EXPECT_EQ(
      restored
          .Enroll(Request(open, *GenerateKeyPair(), "d"), "", "x", now_, names_)
          .reply.status(),
      proto::EnrollReply::REFUSED);  // no key on the connection
  const KeyPair d = *GenerateKeyPair();
  EXPECT_EQ(
      restored.Enroll(Request(open, d, "d"), d.public_key, "x", now_, names_)
          .reply.status(),
      proto::EnrollReply::ACCEPTED);

  // Records that do not fit together are refused.
  StoredState twins = state;
  proto::EnrolledNode copy = twins.enrolled[0];
  copy.set_key(GenerateKeyPair()->public_key);
  copy.set_state(proto::ENROLL_APPROVED);
  twins.enrolled.push_back(copy);
  twins.enrolled.push_back(copy);
  EXPECT_FALSE(Enrollment(options_).Restore(twins).ok());
}

TEST_F(EnrollmentTest, UnusableTokensAreForgottenAfterAWeek) {
  const JoinToken revoked = MakeToken();
  ASSERT_TRUE(enrollment_->RevokeToken(revoked.id, now_).ok());
  const JoinToken expiring =
      MakeToken(absl::ToInt64Milliseconds(absl::Hours(1)));
  const JoinToken kept = MakeToken();
  StoreBatch ignored;
  enrollment_->TakeChanges(&ignored);
  now_ += absl::Hours(24 * 7) + absl::Hours(2);
  MakeToken();  // making one sweeps
  std::set<std::string> ids;
  for (const proto::Token& t : enrollment_->ListTokens(now_))
    ids.insert(t.id());
  EXPECT_EQ(ids.count(revoked.id), 0u);
  EXPECT_EQ(ids.count(expiring.id), 0u);
  EXPECT_EQ(ids.count(kept.id), 1u);
  StoreBatch batch;
  enrollment_->TakeChanges(&batch);
  EXPECT_EQ(std::set<std::string>(batch.deleted_tokens.begin(),
                                  batch.deleted_tokens.end()),
            (std::set<std::string>{revoked.id, expiring.id}));
}

}  // namespace
}  // namespace quark
