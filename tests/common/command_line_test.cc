#include "common/command_line.h"

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, cl_endpoint, "tcp://127.0.0.1:7700",
          "Where to connect.");
ABSL_FLAG(int, cl_threads, 0, "Threads to sieve with.");
ABSL_FLAG(bool, cl_verbose, false, "Say more.");
ABSL_FLAG(absl::Duration, cl_timeout, absl::Seconds(30), "How long to wait.");
ABSL_FLAG(std::string, cl_ungrouped, "", "In no group.");

namespace quark {
namespace {

using testing::HasSubstr;

CommandLineSpec Spec() {
  CommandLineSpec spec;
  spec.program = "quarkd";
  spec.version = "1.2.3";
  spec.usage = "quarkd: a test daemon.\n";
  spec.groups = {{"Connecting", {"cl_endpoint", "cl_timeout"}},
                 {"Sieving", {"cl_threads", "cl_verbose"}}};
  return spec;
}

// ParseCommandLine on {"quarkd", args...}, with what it printed.
struct Parsed {
  CommandLine parsed;
  std::string out, err;
};

std::string Drain(std::FILE* f) {
  std::rewind(f);
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0)
    text.append(buffer, n);
  std::fclose(f);
  return text;
}

class CommandLineTest : public testing::Test {
 protected:
  Parsed Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "quarkd");
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    Parsed run;
    run.parsed = ParseCommandLine(static_cast<int>(argv.size()), argv.data(),
                                  Spec(), out, err);
    run.out = Drain(out);
    run.err = Drain(err);
    return run;
  }

  absl::FlagSaver saver_;  // every flag back to its default after each test
};

TEST_F(CommandLineTest, SetsFlagsInEveryFormAndKeepsArguments) {
  const Parsed run =
      Parse({"--cl_threads=4", "-cl_endpoint", "tcp://x:1", "join",
             "--cl_verbose", "--cl_timeout=5m", "--", "--cl_threads=9"});
  EXPECT_FALSE(run.parsed.exit.has_value()) << run.err;
  EXPECT_EQ(absl::GetFlag(FLAGS_cl_threads), 4);
  EXPECT_EQ(absl::GetFlag(FLAGS_cl_endpoint), "tcp://x:1");
  EXPECT_TRUE(absl::GetFlag(FLAGS_cl_verbose));
  EXPECT_EQ(absl::GetFlag(FLAGS_cl_timeout), absl::Minutes(5));
  EXPECT_EQ(run.parsed.args,
            (std::vector<std::string>{"join", "--cl_threads=9"}));
  EXPECT_EQ(run.parsed.given,
            (std::set<std::string>{"cl_threads", "cl_endpoint", "cl_verbose",
                                   "cl_timeout"}));
}

TEST_F(CommandLineTest, NoPrefixClearsABool) {
  absl::SetFlag(&FLAGS_cl_verbose, true);
  const Parsed run = Parse({"--nocl_verbose"});
  EXPECT_FALSE(run.parsed.exit.has_value()) << run.err;
  EXPECT_FALSE(absl::GetFlag(FLAGS_cl_verbose));
  EXPECT_EQ(run.parsed.given, std::set<std::string>{"cl_verbose"});
}

TEST_F(CommandLineTest, ADurationMayBeBareSeconds) {
  EXPECT_FALSE(Parse({"--cl_timeout=90"}).parsed.exit.has_value());
  EXPECT_EQ(absl::GetFlag(FLAGS_cl_timeout), absl::Seconds(90));
  EXPECT_FALSE(Parse({"--cl_timeout", "0.5"}).parsed.exit.has_value());
  EXPECT_EQ(absl::GetFlag(FLAGS_cl_timeout), absl::Milliseconds(500));
}

TEST_F(CommandLineTest, HelpListsTheGroupsWithDefaultsAndExitsZero) {
  for (const char* flag : {"--help", "--helpfull", "-help"}) {
    const Parsed run = Parse({"--cl_threads=3", flag});
    EXPECT_EQ(run.parsed.exit, 0) << flag;
    EXPECT_EQ(run.err, "");
    const std::string& help = run.out;
    EXPECT_THAT(help, HasSubstr("quarkd: a test daemon.\n"));
    const size_t connecting = help.find("\nConnecting:\n");
    const size_t sieving = help.find("\nSieving:\n");
    const size_t other = help.find("\nOther:\n");
    ASSERT_NE(connecting, std::string::npos) << help;
    ASSERT_NE(sieving, std::string::npos) << help;
    ASSERT_NE(other, std::string::npos) << help;
    EXPECT_LT(connecting, sieving);
    EXPECT_LT(sieving, other);
    EXPECT_LT(
        connecting,
        help.find(
            "  --cl_endpoint=tcp://127.0.0.1:7700\n      Where to connect."));
    EXPECT_THAT(help, HasSubstr("  --cl_timeout=30s\n"));
    // The default, not the value this command line set.
    EXPECT_THAT(help, HasSubstr("  --cl_threads=0\n"));
    EXPECT_LT(other, help.find("  --cl_ungrouped\n      In no group."));
    // absl's own flags are not offered.
    EXPECT_THAT(help, testing::Not(HasSubstr("flagfile")));
  }
}

TEST_F(CommandLineTest, VersionPrintsTheProgramAndVersion) {
  const Parsed run = Parse({"--version"});
  EXPECT_EQ(run.parsed.exit, 0);
  EXPECT_EQ(run.out, "quarkd 1.2.3\n");
}

struct BadCase {
  const char* name;
  std::vector<std::string> args;
  const char* error;
};

class BadFlagTest : public CommandLineTest,
                    public testing::WithParamInterface<BadCase> {};

TEST_P(BadFlagTest, IsOneLineAndExitTwo) {
  const Parsed run = Parse(GetParam().args);
  EXPECT_EQ(run.parsed.exit, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, std::string("quarkd: ") + GetParam().error +
                         " (quarkd --help lists the flags)\n");
  // Nothing after the bad flag was set.
  EXPECT_EQ(absl::GetFlag(FLAGS_cl_endpoint), "tcp://127.0.0.1:7700");
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadFlagTest,
    testing::Values(
        BadCase{
            "Unknown", {"--bogus", "--cl_endpoint=x"}, "unknown flag --bogus"},
        BadCase{
            "AbslsOwn", {"--flagfile=/etc/passwd"}, "unknown flag --flagfile"},
        BadCase{"NotANumber",
                {"--cl_threads=abc", "--cl_endpoint=x"},
                "bad value 'abc' for --cl_threads: expected a whole number"},
        BadCase{"NotABool",
                {"--cl_verbose=maybe"},
                "bad value 'maybe' for --cl_verbose: expected true or false"},
        BadCase{"NotADuration",
                {"--cl_timeout=soon"},
                "bad value 'soon' for --cl_timeout: expected a duration such "
                "as 30s, "
                "500ms, 2m or 1h30m, or a number of seconds"},
        BadCase{"NoValue", {"--cl_threads"}, "--cl_threads needs a value"},
        BadCase{"NegatedWithValue",
                {"--nocl_verbose=true"},
                "--nocl_verbose takes no value"},
        BadCase{"NegatedNotABool",
                {"--nocl_threads"},
                "unknown flag --nocl_threads"}),
    [](const testing::TestParamInfo<BadCase>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace quark
