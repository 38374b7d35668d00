#include "cli/command.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/run.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

std::vector<std::string> Split(const std::string& line) {
  return absl::StrSplit(line, ' ', absl::SkipEmpty());
}

absl::StatusOr<Command> Parse(const std::string& line,
                              const std::string& env = "") {
  return ParseCommand(Split(line), env);
}

TEST(ParseCommandTest, SubmitWithDefaults) {
  const auto c = Parse("submit count 1e9");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->verb, Verb::kSubmit);
  EXPECT_EQ(c->kind, proto::COUNT);
  EXPECT_EQ(c->lo, 0u);
  EXPECT_EQ(c->hi, 1000000000u);
  EXPECT_EQ(c->priority, 0);
  EXPECT_EQ(c->verify, proto::VERIFY_SAMPLE);
  EXPECT_FALSE(c->wait);
  EXPECT_FALSE(c->json);
  EXPECT_EQ(c->controller, "tcp://127.0.0.1:7702");
  EXPECT_EQ(c->timeout, absl::Seconds(5));
}

TEST(ParseCommandTest, OptionsAnywhereInBothForms) {
  const auto c = Parse(
      "--timeout 500ms submit --priority=-3 twins 10^12 --json 1e12+1000 "
      "--wait --controller=tcp://pi0:7702");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kind, proto::TWINS);
  EXPECT_EQ(c->lo, 1000000000000u);
  EXPECT_EQ(c->hi, 1000000001000u);
  EXPECT_EQ(c->priority, -3);
  EXPECT_TRUE(c->wait);
  EXPECT_TRUE(c->json);
  EXPECT_EQ(c->controller, "tcp://pi0:7702");
  EXPECT_EQ(c->timeout, absl::Milliseconds(500));
}

TEST(ParseCommandTest, ControllerFromEnvironmentUnlessGiven) {
  EXPECT_EQ(Parse("jobs", "tcp://env:1")->controller, "tcp://env:1");
  EXPECT_EQ(Parse("jobs --controller tcp://x:2", "tcp://env:1")->controller,
            "tcp://x:2");
}

TEST(ParseCommandTest, ControllerAsHostOrHostPort) {
  EXPECT_EQ(Parse("jobs --controller 10.0.0.1")->controller,
            "tcp://10.0.0.1:7702");
  EXPECT_EQ(Parse("jobs --controller=pi:7800")->controller, "tcp://pi:7800");
  EXPECT_EQ(Parse("jobs", "pi-01.local")->controller, "tcp://pi-01.local:7702");
  const auto bad = Parse("jobs --controller=pi:99999");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(ExitCode(bad.status()), 2);
  EXPECT_EQ(
      bad.status().message(),
      "--controller: endpoint 'pi:99999': the port is a number from 1 to "
      "65535; "
      "expected HOST, HOST:PORT or tcp://HOST:PORT (such as 10.0.0.1:7700)");
  const auto env = Parse("jobs", "tcp://");
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().message().substr(0, 30),
            "QUARK_CONTROLLER: endpoint 'tc");
  // Help needs no controller, however bad the environment's.
  EXPECT_TRUE(Parse("--help", "tcp://").ok());
}

TEST(ParseCommandTest, OtherCommands) {
  EXPECT_EQ(Parse("jobs")->verb, Verb::kJobs);
  EXPECT_EQ(Parse("nodes --json")->verb, Verb::kNodes);
  const auto job = Parse("job 7 --wait");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->verb, Verb::kJob);
  EXPECT_EQ(job->job_id, 7u);
  EXPECT_TRUE(job->wait);
  EXPECT_EQ(Parse("cancel 12")->job_id, 12u);
  EXPECT_EQ(Parse("drain pi1")->node, "pi1");
  EXPECT_EQ(Parse("undrain pi1")->verb, Verb::kUndrain);
  EXPECT_EQ(Parse("drain -- -odd")->node, "-odd");
  EXPECT_EQ(Parse("trust pi1")->verb, Verb::kTrust);
  EXPECT_EQ(Parse("trust pi1")->node, "pi1");
  EXPECT_EQ(Parse("submit count 10 --verify=all")->verify, proto::VERIFY_ALL);
  EXPECT_EQ(Parse("submit count 10 --verify none")->verify, proto::VERIFY_NONE);
  EXPECT_EQ(Parse("--version")->verb, Verb::kVersion);
}

TEST(ParseCommandTest, TokenCreateDefaults) {
  const auto c = Parse("token create");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->verb, Verb::kTokenCreate);
  EXPECT_EQ(c->ttl, absl::Hours(24));
  EXPECT_EQ(c->uses, 0u) << "unlimited";
  EXPECT_FALSE(c->approve);
  EXPECT_FALSE(c->json);
}

TEST(ParseCommandTest, TokenCreateOptionsInBothForms) {
  const auto c = Parse("--approve token --ttl=7d create --uses 3 --json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->verb, Verb::kTokenCreate);
  EXPECT_EQ(c->ttl, absl::Hours(7 * 24));
  EXPECT_EQ(c->uses, 3u);
  EXPECT_TRUE(c->approve);
  EXPECT_TRUE(c->json);
  EXPECT_EQ(Parse("token create --ttl 0")->ttl, absl::ZeroDuration());
  EXPECT_EQ(Parse("token create --uses=1000000")->uses, 1000000u);
  EXPECT_EQ(Parse("token create --uses 1")->uses, 1u);
}

TEST(ParseCommandTest, TokenListRevokeApproveRejectPending) {
  EXPECT_EQ(Parse("token list")->verb, Verb::kTokenList);
  EXPECT_TRUE(Parse("token list --json")->json);
  const auto revoke = Parse("token revoke 3fk2abcd");
  ASSERT_TRUE(revoke.ok()) << revoke.status();
  EXPECT_EQ(revoke->verb, Verb::kTokenRevoke);
  EXPECT_EQ(revoke->token_id, "3fk2abcd");
  EXPECT_EQ(Parse("token revoke 3FK2ABCD")->token_id, "3fk2abcd");
  const auto approve = Parse("approve pi-garage.lan");
  ASSERT_TRUE(approve.ok()) << approve.status();
  EXPECT_EQ(approve->verb, Verb::kApprove);
  EXPECT_EQ(approve->node, "pi-garage.lan");
  const auto reject = Parse("reject pi_9 --json");
  ASSERT_TRUE(reject.ok()) << reject.status();
  EXPECT_EQ(reject->verb, Verb::kReject);
  EXPECT_EQ(reject->node, "pi_9");
  EXPECT_TRUE(reject->json);
  const auto pending = Parse("nodes --pending --json");
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(pending->verb, Verb::kNodes);
  EXPECT_TRUE(pending->pending);
  EXPECT_FALSE(Parse("nodes")->pending);
}

TEST(ParseCommandTest, HelpWinsAndNamesTheTopic) {
  struct Case {
    std::string line;
    std::string topic;
  };
  for (const Case& c :
       std::vector<Case>{{"--help", ""},
                         {"-h", ""},
                         {"help", ""},
                         {"help submit", "submit"},
                         {"submit --help", "submit"},
                         {"submit count abc --bogus -h", "submit"},
                         {"nodes -h", "nodes"},
                         {"token --help", "token"},
                         {"token create --help", "token"},
                         {"token frobnicate -h", "token"},
                         {"help token", "token"},
                         {"help token revoke", "token"},
                         {"approve --help", "approve"},
                         {"help reject", "reject"}}) {
    const auto got = Parse(c.line);
    ASSERT_TRUE(got.ok()) << c.line << ": " << got.status();
    EXPECT_EQ(got->verb, Verb::kHelp) << c.line;
    EXPECT_EQ(got->topic, c.topic) << c.line;
  }
}

TEST(ParseTimeoutTest, AcceptsDurationsAndBareSeconds) {
  EXPECT_EQ(*ParseTimeout("5s"), absl::Seconds(5));
  EXPECT_EQ(*ParseTimeout("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseTimeout("2m"), absl::Minutes(2));
  EXPECT_EQ(*ParseTimeout("7"), absl::Seconds(7));
  EXPECT_EQ(*ParseTimeout("0.5"), absl::Milliseconds(500));
  for (const char* bad : {"", "0", "0s", "-1s", "inf", "abc", "5x", "nan"}) {
    EXPECT_FALSE(ParseTimeout(bad).ok()) << bad;
  }
}

TEST(ParseTokenTtlTest, AcceptsSecondsDurationsAndDays) {
  struct Case {
    std::string text;
    absl::Duration ttl;
  };
  for (const Case& c : std::vector<Case>{
           {"3600", absl::Hours(1)},
           {"24h", absl::Hours(24)},
           {"30m", absl::Minutes(30)},
           {"1h30m", absl::Minutes(90)},
           {"90s", absl::Seconds(90)},
           {"1s", absl::Seconds(1)},
           {"7d", absl::Hours(7 * 24)},
           {"1d12h", absl::Hours(36)},
           {"2d30m", absl::Hours(48) + absl::Minutes(30)},
           {"1.5h", absl::Minutes(90)},
           {"3650d", kMaxTokenTtl},
           {"0", absl::ZeroDuration()},
           {"0s", absl::ZeroDuration()},
       }) {
    const auto got = ParseTokenTtl(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.ttl) << c.text;
  }
}

TEST(ParseTokenTtlTest, RefusesWithOneLineNamingTheProblem) {
  struct Case {
    std::string text;
    std::string message;  // part of the error
  };
  constexpr char kForms[] = "expected seconds (3600), a duration such as";
  for (const Case& c : std::vector<Case>{
           {"", kForms},
           {"soon", kForms},
           {"5x", kForms},
           {"1.5", kForms},
           {"nan", kForms},
           {"d", kForms},
           {"7dd", kForms},
           {"1d+2h", kForms},
           {"1e3", kForms},
           {"-5", "must not be negative"},
           {"-1h", "must not be negative"},
           {"1d-2h", "must not be negative"},
           {"inf", "must be finite"},
           {"1dinf", kForms},
           {"500ms", "too short: at least 1s"},
           {"3651d", "too long: at most 3650d"},
           {"87600h1s", "too long"},
           {"99999999999999999999999", "too long"},
           {"99999999999999999999999d", "too long"},
       }) {
    const auto got = ParseTokenTtl(c.text);
    ASSERT_FALSE(got.ok()) << c.text << " gave " << *got;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(got.status().message());
    EXPECT_EQ(message.rfind(absl::StrCat("invalid --ttl '", c.text, "': "), 0),
              0u)
        << message;
    EXPECT_NE(message.find(c.message), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

struct Bad {
  std::string line;
  std::string message;  // part of the error
  std::string hint;     // the whole hint line
};

class BadCommandTest : public testing::TestWithParam<Bad> {};

TEST_P(BadCommandTest, IsAUsageErrorWithExitCode2) {
  const auto got = Parse(GetParam().line);
  ASSERT_FALSE(got.ok()) << GetParam().line;
  EXPECT_EQ(ExitCode(got.status()), 2) << got.status();
  const std::string message(got.status().message());
  EXPECT_NE(message.find(GetParam().message), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_EQ(UsageHint(got.status()), GetParam().hint);
}

constexpr char kGeneral[] = "see 'quark --help'";
constexpr char kSubmit[] = "see 'quark submit --help'";
constexpr char kToken[] = "see 'quark token --help'";

INSTANTIATE_TEST_SUITE_P(
    Args, BadCommandTest,
    testing::Values(
        Bad{"", "no command given", kGeneral},
        Bad{"frobnicate", "unknown command 'frobnicate'", kGeneral},
        Bad{"node", "unknown command 'node'; did you mean 'nodes'?", kGeneral},
        Bad{"jobs --limit -1",
            "invalid --limit '-1': a number of jobs, 0 for all",
            "see 'quark jobs --help'"},
        Bad{"jobs --state done,lost",
            "invalid --state 'lost': queued, running, done, failed or "
            "cancelled "
            "(several: done,failed)",
            "see 'quark jobs --help'"},
        Bad{"sumbit count 10",
            "unknown command 'sumbit'; did you mean 'submit'?", kGeneral},
        Bad{"help frobnicate", "unknown command 'frobnicate'", kGeneral},
        Bad{"--bogus", "unknown option '--bogus'", kGeneral},
        Bad{"submit count 10 --bogus", "unknown option '--bogus'", kSubmit},
        Bad{"submit count 10 -x", "unknown option '-x'", kSubmit},
        Bad{"submit", "'submit' needs KIND [LO] HI", kSubmit},
        Bad{"submit count", "'submit' needs KIND [LO] HI", kSubmit},
        Bad{"submit count 1 2 3", "too many arguments for 'submit': '3'",
            kSubmit},
        Bad{"submit primes 10", "unknown kind 'primes'", kSubmit},
        Bad{"submit count 10 5", "LO (10) is greater than HI (5)", kSubmit},
        Bad{"submit count 2^64", "does not fit in 64 bits", kSubmit},
        Bad{"submit count 2^64", "invalid HI: \"2^64\"", kSubmit},
        Bad{"submit count -5 10", "negative numbers are not allowed", kSubmit},
        Bad{"submit count abc", "invalid HI: \"abc\": not a number", kSubmit},
        Bad{"submit count 12x", "unexpected 'x'", kSubmit},
        Bad{"submit count 1,000", "digit separator", kSubmit},
        Bad{"submit count 1.5", "not an integer", kSubmit},
        Bad{"submit count 10 --priority", "'--priority' needs a value",
            kSubmit},
        Bad{"submit count 10 --priority high", "invalid --priority 'high'",
            kSubmit},
        Bad{"submit count 10 --priority 2147483648", "invalid --priority",
            kSubmit},
        Bad{"submit count 10 --json=yes", "'--json' takes no value", kSubmit},
        Bad{"submit count 10 --verify=twice",
            "invalid --verify 'twice': expected sample, all or none", kSubmit},
        Bad{"trust", "'trust' needs NODE", "see 'quark trust --help'"},
        Bad{"job 7 --verify=all", "'--verify' does not apply to 'job'",
            "see 'quark job --help'"},
        Bad{"submit count 10 --timeout soon", "invalid --timeout 'soon'",
            kSubmit},
        Bad{"submit count 10 --timeout 0", "must be positive", kSubmit},
        Bad{"submit count 10 --controller=", "needs an endpoint", kSubmit},
        Bad{"jobs extra", "too many arguments for 'jobs': 'extra'",
            "see 'quark jobs --help'"},
        Bad{"jobs --wait", "'--wait' does not apply to 'jobs'",
            "see 'quark jobs --help'"},
        Bad{"job", "'job' needs ID", "see 'quark job --help'"},
        Bad{"job seven", "invalid job ID: \"seven\"", "see 'quark job --help'"},
        Bad{"job 7 --priority 3", "'--priority' does not apply to 'job'",
            "see 'quark job --help'"},
        Bad{"cancel", "'cancel' needs ID", "see 'quark cancel --help'"},
        Bad{"cancel 1 2", "too many arguments", "see 'quark cancel --help'"},
        Bad{"drain", "'drain' needs NODE", "see 'quark drain --help'"},
        Bad{"undrain a b", "too many arguments", "see 'quark undrain --help'"},
        Bad{"token", "'token' needs a subcommand: create, list or revoke",
            kToken},
        Bad{"token --json", "'token' needs a subcommand", kToken},
        Bad{"token frobnicate",
            "unknown subcommand 'token frobnicate' (expected create, list or "
            "revoke)",
            kToken},
        Bad{"help frobnicate token", "unknown command 'frobnicate'", kGeneral},
        Bad{"help token frobnicate", "unknown subcommand 'token frobnicate'",
            kToken},
        Bad{"help jobs extra", "too many arguments for 'help': 'extra'",
            "see 'quark help --help'"},
        Bad{"token create extra",
            "too many arguments for 'token create': 'extra'", kToken},
        Bad{"token create --ttl", "'--ttl' needs a value", kToken},
        Bad{"token create --ttl=-5", "invalid --ttl '-5': must not be negative",
            kToken},
        Bad{"token create --ttl -5", "must not be negative", kToken},
        Bad{"token create --ttl soon",
            "invalid --ttl 'soon': expected seconds (3600), a duration such "
            "as 90s, 30m, 24h or 1h30m, days such as 7d or 1d12h, or 0 for "
            "never",
            kToken},
        Bad{"token create --ttl inf", "must be finite", kToken},
        Bad{"token create --ttl 20y", "expected seconds", kToken},
        Bad{"token create --ttl 4000d", "too long", kToken},
        Bad{"token create --uses 0",
            "invalid --uses '0': a token needs at least 1 use (leave --uses "
            "out for unlimited uses)",
            kToken},
        Bad{"token create --uses -3",
            "invalid --uses '-3': expected an integer from 1 to 1000000",
            kToken},
        Bad{"token create --uses 1000001", "from 1 to 1000000", kToken},
        Bad{"token create --uses many", "invalid --uses 'many'", kToken},
        Bad{"token create --uses 2.5", "invalid --uses '2.5'", kToken},
        Bad{"token create --approve=yes", "'--approve' takes no value", kToken},
        Bad{"token list --uses 3",
            "option '--uses' does not apply to 'token list'", kToken},
        Bad{"token revoke 3fk2abcd --ttl 1h",
            "option '--ttl' does not apply to 'token revoke'", kToken},
        Bad{"token revoke", "'token revoke' needs ID", kToken},
        Bad{"token revoke 3fk2abc",
            "invalid token ID '3fk2abc': expected 8 characters of a-z and 2-7",
            kToken},
        Bad{"token revoke 3fk2abc1", "invalid token ID '3fk2abc1'", kToken},
        Bad{"token revoke 3fk2abcde", "invalid token ID", kToken},
        Bad{"token revoke 3fk2abcd extra", "too many arguments", kToken},
        Bad{"jobs --ttl 1h", "option '--ttl' does not apply to 'jobs'",
            "see 'quark jobs --help'"},
        Bad{"jobs --pending", "option '--pending' does not apply to 'jobs'",
            "see 'quark jobs --help'"},
        Bad{"submit count 10 --approve",
            "option '--approve' does not apply to 'submit'", kSubmit},
        Bad{"approve", "'approve' needs NAME", "see 'quark approve --help'"},
        Bad{"approve pi1 pi2", "too many arguments for 'approve'",
            "see 'quark approve --help'"},
        Bad{"approve pi/1",
            "invalid node name 'pi/1': 1-64 characters of [A-Za-z0-9._-]",
            "see 'quark approve --help'"},
        Bad{"reject pi1 --pending",
            "option '--pending' does not apply to 'reject'",
            "see 'quark reject --help'"},
        Bad{std::string("reject ") + std::string(65, 'a'), "invalid node name",
            "see 'quark reject --help'"}));

}  // namespace
}  // namespace quark
