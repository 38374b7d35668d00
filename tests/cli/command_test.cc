#include "controller/cli/command.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "controller/cli/run.h"
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
  EXPECT_EQ(Parse("--version")->verb, Verb::kVersion);
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
                         {"nodes -h", "nodes"}}) {
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

INSTANTIATE_TEST_SUITE_P(
    Args, BadCommandTest,
    testing::Values(
        Bad{"", "no command given", kGeneral},
        Bad{"frobnicate", "unknown command 'frobnicate'", kGeneral},
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
        Bad{"submit count 10 --timeout soon", "invalid --timeout 'soon'",
            kSubmit},
        Bad{"submit count 10 --timeout 0", "must be positive", kSubmit},
        Bad{"submit count 10 --controller=", "needs an endpoint", kSubmit},
        Bad{"jobs extra", "too many arguments for 'jobs': 'extra'",
            "see 'quark jobs --help'"},
        Bad{"jobs --wait", "'--wait' does not apply to 'jobs'",
            "see 'quark jobs --help'"},
        Bad{"job", "'job' needs ID", "see 'quark job --help'"},
        Bad{"job seven", "invalid job ID: \"seven\"",
            "see 'quark job --help'"},
        Bad{"job 7 --priority 3", "'--priority' does not apply to 'job'",
            "see 'quark job --help'"},
        Bad{"cancel", "'cancel' needs ID", "see 'quark cancel --help'"},
        Bad{"cancel 1 2", "too many arguments", "see 'quark cancel --help'"},
        Bad{"drain", "'drain' needs NODE", "see 'quark drain --help'"},
        Bad{"undrain a b", "too many arguments",
            "see 'quark undrain --help'"}));

}  // namespace
}  // namespace quark
