// Runs the quark executable as a process: what reaches stdout and stderr,
// and the exit code.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cli/fake_controller.h"

namespace quark {
namespace {

struct Ran {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `args` go through the shell; tests pass only plain words. `prefix` runs
// before it (e.g. `timeout`). The output
// files are this process's own: ctest runs the cases of this binary as
// parallel processes, which must not read each other's output.
Ran Quark(const std::string& args, const std::string& prefix = "") {
  const std::string dir = testing::TempDir();
  const std::string out = absl::StrCat(dir, "/quark_out.", getpid(), ".txt");
  const std::string err = absl::StrCat(dir, "/quark_err.", getpid(), ".txt");
  const std::string line =
      absl::StrCat(prefix, "env -u QUARK_CONTROLLER ", QUARK_CLI_BINARY, " ",
                   args, " >", out, " 2>", err, " </dev/null");
  const int status = std::system(line.c_str());
  Ran ran;
  if (WIFEXITED(status)) ran.exit_code = WEXITSTATUS(status);
  ran.out = ReadFile(out);
  ran.err = ReadFile(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return ran;
}

TEST(QuarkTest, UsageErrorIsOneLineWithAHint) {
  const Ran ran = Quark("submit count 10 5");
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.err,
            "quark: LO (10) is greater than HI (5); the range [LO, HI] is "
            "inclusive (see 'quark submit --help')\n");
}

TEST(QuarkTest, TooLargeIsBadInput) {
  const Ran ran = Quark("submit count 2^64");
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_EQ(ran.err,
            "quark: invalid HI: \"2^64\": does not fit in 64 bits (max "
            "18446744073709551615) (see 'quark submit --help')\n");
}

TEST(QuarkTest, HelpGoesToStdout) {
  const Ran ran = Quark("submit --help");
  EXPECT_EQ(ran.exit_code, 0);
  EXPECT_EQ(ran.out.rfind("Usage: quark submit", 0), 0u) << ran.out;
  EXPECT_EQ(ran.err, "");
}

TEST(QuarkTest, TokenWithoutSubcommandIsAUsageError) {
  const Ran ran = Quark("token");
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.err,
            "quark: 'token' needs a subcommand: create, list or revoke (see "
            "'quark token --help')\n");
  const Ran help = Quark("token --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.out.rfind("Usage: quark token create", 0), 0u) << help.out;
}

TEST(QuarkTest, ANegativeTtlIsOneLineAndExits2) {
  const Ran ran = Quark("token create --ttl=-5");
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.err,
            "quark: invalid --ttl '-5': must not be negative (0 means it never "
            "expires) (see 'quark token --help')\n");
}

TEST(QuarkTest, UnreachableControllerExits3) {
  const Ran ran = Quark("--controller tcp://127.0.0.1:1 --timeout 200ms jobs");
  EXPECT_EQ(ran.exit_code, 3);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.err,
            "quark: cannot reach the controller at tcp://127.0.0.1:1 (no "
            "reply in 200ms)\n");
}

proto::Job Job(proto::JobState state, uint64_t version) {
  proto::Job job;
  job.set_job_id(7);
  job.set_kind(proto::COUNT);
  job.set_state(state);
  job.set_version(version);
  if (state == proto::DONE) job.mutable_result()->set_count(9592);
  return job;
}

// A controller that knows job 7, which is done at version 2.
std::vector<std::string> Answer(const proto::ApiRequest& request) {
  proto::ApiReply reply = FakeController::ReplyTo(request);
  if (request.has_submit()) {
    *reply.mutable_job() = Job(proto::QUEUED, 1);
  } else if (request.has_watch() && request.watch().job_id() == 7) {
    *reply.mutable_job() = Job(proto::DONE, 2);
  } else if (request.has_get_job() && request.get_job().job_id() == 7) {
    *reply.mutable_job() = Job(proto::DONE, 2);
  } else {
    reply.mutable_error()->set_code(proto::ApiError::NOT_FOUND);
    reply.mutable_error()->set_message("no job 9");
  }
  return {FakeController::Serialize(reply)};
}

constexpr char kToken[] =
    "qk1_3fk2abcd_aaaaaaaaaaaaaaaaaaaaaaaaaa_"
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb_cccc";

// A controller with one token, 3fk2abcd, which it makes again on each
// CreateToken.
std::vector<std::string> TokenAnswer(const proto::ApiRequest& request) {
  proto::ApiReply reply = FakeController::ReplyTo(request);
  if (request.has_create_token()) {
    proto::Token* token = reply.mutable_token();
    token->set_id("3fk2abcd");
    token->set_token(kToken);
    token->set_created_ms(1700000000000);
    token->set_expires_ms(1700000000000 + request.create_token().ttl_ms());
    token->set_uses(request.create_token().uses());
    token->set_approve(request.create_token().approve());
    token->set_state(proto::TOKEN_ACTIVE);
  } else {
    reply.mutable_error()->set_code(proto::ApiError::NOT_FOUND);
    reply.mutable_error()->set_message("no token lllllll2");
  }
  return {FakeController::Serialize(reply)};
}

TEST(QuarkTest, TokenCreatePrintsOnlyTheTokenOnStdout) {
  FakeController fake(TokenAnswer);
  const Ran ran = Quark(absl::StrCat("token create --uses 2 --approve ",
                                     "--controller ", fake.endpoint()));
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_EQ(ran.out, absl::StrCat(kToken, "\n"));
  // The expiry is in the local zone, whatever the test machine's is.
  EXPECT_EQ(ran.err.rfind("token 3fk2abcd: expires 2023-11-1", 0), 0u)
      << ran.err;
  EXPECT_NE(ran.err.find(" (in 24h), 2 uses, nodes wait for `quark approve "
                         "NAME`\n"),
            std::string::npos)
      << ran.err;
  EXPECT_NE(ran.err.find(absl::StrCat("\non each node: sudo quark-worker join ",
                                      kToken, "\n")),
            std::string::npos)
      << ran.err;
  ASSERT_EQ(fake.requests().size(), 1u) << "a CreateToken is sent once";
  EXPECT_EQ(fake.requests()[0].create_token().uses(), 2u);
}

TEST(QuarkTest, TokenCreateJsonHasNoNotes) {
  FakeController fake(TokenAnswer);
  const Ran ran = Quark(absl::StrCat(
      "token create --ttl 0 --json --controller ", fake.endpoint()));
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_EQ(ran.out.rfind("{", 0), 0u) << ran.out;
  EXPECT_EQ(ran.out.find('\n'), ran.out.size() - 1) << "one line";
  EXPECT_NE(ran.out.find("\"id\":\"3fk2abcd\""), std::string::npos) << ran.out;
  EXPECT_NE(ran.out.find(absl::StrCat("\"token\":\"", kToken, "\"")),
            std::string::npos)
      << ran.out;
  EXPECT_EQ(ran.err, "");
  ASSERT_EQ(fake.requests().size(), 1u);
  EXPECT_EQ(fake.requests()[0].create_token().ttl_ms(), 0u);
}

TEST(QuarkTest, RevokingAnUnknownTokenExits2) {
  FakeController fake(TokenAnswer);
  const Ran ran = Quark(
      absl::StrCat("token revoke LLLLLLL2 --controller ", fake.endpoint()));
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.err, "quark: no token lllllll2\n");
}

TEST(QuarkTest, SubmitWaitPrintsTheBareResult) {
  FakeController fake(Answer);
  const Ran ran = Quark(
      absl::StrCat("submit count 1e5 --wait --controller ", fake.endpoint()));
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_EQ(ran.out, "9592\n");
  EXPECT_EQ(ran.err, "");
}

TEST(QuarkTest, CtrlCOnAWaitSaysTheJobGoesOnAndExits130) {
  // Job 7 is made, then the watch is never answered: the operator gives up.
  FakeController fake(
      [](const proto::ApiRequest& request) -> std::vector<std::string> {
        if (!request.has_submit()) return {};
        proto::ApiReply reply = FakeController::ReplyTo(request);
        *reply.mutable_job() = Job(proto::RUNNING, 1);
        return {FakeController::Serialize(reply)};
      });
  const Ran ran = Quark(
      absl::StrCat("submit count 1e5 --wait --controller ", fake.endpoint()),
      "timeout --preserve-status -s INT 1 ");
  EXPECT_EQ(ran.exit_code, 130);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(
      ran.err,
      "quark: interrupted; job 7 goes on: `quark job 7 --wait` follows it, "
      "`quark cancel 7` stops it\n");
}

TEST(QuarkTest, AnErrorUnderJsonIsAJsonDocumentOnStdoutToo) {
  FakeController fake(Answer);
  const Ran ran =
      Quark(absl::StrCat("job 9 --json --controller=", fake.endpoint()));
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_EQ(ran.out,
            "{\"error\":{\"message\":\"no job 9\",\"exit_code\":2}}\n");
  EXPECT_EQ(ran.err, "quark: no job 9\n");
}

TEST(QuarkTest, JobJsonIsOneDocument) {
  FakeController fake(Answer);
  const Ran ran =
      Quark(absl::StrCat("job 7 --json --controller=", fake.endpoint()));
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_EQ(ran.out.rfind("{\"job_id\":\"7\"", 0), 0u) << ran.out;
  EXPECT_NE(ran.out.find("\"result\":{\"count\":\"9592\""), std::string::npos);
}

TEST(QuarkTest, UnknownJobExits2WithoutHint) {
  FakeController fake(Answer);
  const Ran ran = Quark(absl::StrCat("job 9 --controller ", fake.endpoint()));
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_EQ(ran.err, "quark: no job 9\n");
}

TEST(QuarkTest, AQueryLostByTheControllerIsSentAgain) {
  std::atomic<int> seen{0};
  FakeController fake([&seen](const proto::ApiRequest& r) {
    if (seen++ == 0) return std::vector<std::string>{};
    return Answer(r);
  });
  const Ran ran =
      Quark(absl::StrCat("job 7 --timeout 3s --controller ", fake.endpoint()));
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_NE(ran.out.find("state: done"), std::string::npos) << ran.out;
  EXPECT_EQ(fake.requests().size(), 2u);
}

TEST(QuarkTest, AnUnansweredSubmitIsSentOnceAndExits3) {
  FakeController fake(
      [](const proto::ApiRequest&) { return std::vector<std::string>{}; });
  const Ran ran = Quark(absl::StrCat("submit count 1e5 --timeout 1500ms ",
                                     "--controller ", fake.endpoint()));
  EXPECT_EQ(ran.exit_code, 3);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.err, absl::StrCat("quark: cannot reach the controller at ",
                                  fake.endpoint(), " (no reply in 1.5s)\n"));
  EXPECT_EQ(fake.requests().size(), 1u);
}

}  // namespace
}  // namespace quark
