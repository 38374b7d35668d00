#include "common/config.h"

#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// Flags standing in for a daemon's.
ABSL_FLAG(std::string, test_endpoint, "tcp://127.0.0.1:7700", "test");
ABSL_FLAG(int, test_threads, 0, "test");
ABSL_FLAG(bool, test_verbose, false, "test");
ABSL_FLAG(absl::Duration, test_timeout, absl::Seconds(30), "test");
ABSL_FLAG(std::string, config, "", "test: the daemons' --config");
ABSL_FLAG(std::string, log_level, "info", "test: the daemons' --log_level");

namespace quark {
namespace {

struct Entry {
  std::string key;
  std::string value;
  int line;
  bool operator==(const ConfigEntry& e) const {
    return key == e.key && value == e.value && line == e.line;
  }
};

struct ValidCase {
  const char* name;
  const char* text;
  std::vector<Entry> want;
};

class ValidConfigTest : public testing::TestWithParam<ValidCase> {};

TEST_P(ValidConfigTest, Parses) {
  const auto got = ParseConfig(GetParam().text, "w.conf");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), GetParam().want.size());
  for (size_t i = 0; i < got->size(); ++i) {
    const ConfigEntry& e = (*got)[i];
    EXPECT_TRUE(GetParam().want[i] == e)
        << i << ": got " << e.key << "=[" << e.value << "] line " << e.line;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Config, ValidConfigTest,
    testing::Values(
        ValidCase{"Empty", "", {}},
        ValidCase{"OnlyComments", "# a\n\n   # b\n\t\n", {}},
        ValidCase{"One", "threads = 4", {{"threads", "4", 1}}},
        ValidCase{"NoSpaces", "threads=4\n", {{"threads", "4", 1}}},
        ValidCase{"Whitespace",
                  "  \tcontroller   =  tcp://10.0.0.1:7700 \t\r\n",
                  {{"controller", "tcp://10.0.0.1:7700", 1}}},
        ValidCase{"LineNumbers",
                  "# header\n\nthreads = 4\n# x\nname = pi-07\n",
                  {{"threads", "4", 3}, {"name", "pi-07", 5}}},
        ValidCase{"EqualsInValue", "a = b=c", {{"a", "b=c", 1}}},
        ValidCase{"EmptyValue", "name =", {{"name", "", 1}}},
        ValidCase{"Quoted", "name = \"  pi 07 \"", {{"name", "  pi 07 ", 1}}},
        ValidCase{"QuotedHash", "name = \"a#b\"", {{"name", "a#b", 1}}},
        ValidCase{
            "QuotedEscapes", R"(name = "a\"b\\c")", {{"name", R"(a"b\c)", 1}}},
        ValidCase{"QuotedEmpty", "name = \"\"", {{"name", "", 1}}},
        ValidCase{
            "CrLf", "a = 1\r\nb = 2\r\n", {{"a", "1", 1}, {"b", "2", 2}}}),
    [](const testing::TestParamInfo<ValidCase>& info) {
      return info.param.name;
    });

struct ErrorCase {
  const char* name;
  const char* text;
  const char* want;  // The whole message.
};

class BadConfigTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(BadConfigTest, NamesTheLine) {
  const auto got = ParseConfig(GetParam().text, "/etc/quark/w.conf");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(got.status().message(), GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Config, BadConfigTest,
    testing::Values(
        ErrorCase{"NoEquals", "# c\n\nthreads 4\n",
                  "/etc/quark/w.conf:3: expected 'key = value'"},
        ErrorCase{"NoKey", "a = 1\n = 4",
                  "/etc/quark/w.conf:2: expected 'key = value' with a flag "
                  "name as key (letters, digits, '_'; no dashes)"},
        ErrorCase{"Dashes", "--threads = 4",
                  "/etc/quark/w.conf:1: expected 'key = value' with a flag "
                  "name as key (letters, digits, '_'; no dashes)"},
        ErrorCase{"SpaceInKey", "drain timeout = 4",
                  "/etc/quark/w.conf:1: expected 'key = value' with a flag "
                  "name as key (letters, digits, '_'; no dashes)"},
        ErrorCase{"Section", "[Service]\n",
                  "/etc/quark/w.conf:1: expected 'key = value'"},
        ErrorCase{"Unterminated", "\n\nname = \"pi",
                  "/etc/quark/w.conf:3: unterminated quote in 'name'"},
        ErrorCase{"AfterQuote", "name = \"pi\" x",
                  "/etc/quark/w.conf:1: text after the closing quote in "
                  "'name'"},
        ErrorCase{"TrailingComment", "threads = 4 # four",
                  "/etc/quark/w.conf:1: '#' in the value of 'threads': "
                  "comments go on their own line; quote the value to keep a "
                  "'#'"},
        ErrorCase{"Duplicate", "threads = 4\n# x\nthreads = 2\n",
                  "/etc/quark/w.conf:3: 'threads' already set on line 1"}),
    [](const testing::TestParamInfo<ErrorCase>& info) {
      return info.param.name;
    });

class ApplyConfigTest : public testing::Test {
 protected:
  absl::FlagSaver saver_;  // Restores every flag after each test.

  absl::Status Apply(const char* text, const std::set<std::string>& given) {
    const auto entries = ParseConfig(text, "t.conf");
    EXPECT_TRUE(entries.ok()) << entries.status();
    if (!entries.ok()) return entries.status();
    return ApplyConfig(*entries, "t.conf", given);
  }
};

TEST_F(ApplyConfigTest, SetsEveryKind) {
  ASSERT_TRUE(Apply("test_endpoint = \"tcp://10.0.0.1:7700\"\n"
                    "test_threads = 4\ntest_verbose = true\n"
                    "test_timeout = 1m30s\n",
                    {})
                  .ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_endpoint), "tcp://10.0.0.1:7700");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_threads), 4);
  EXPECT_TRUE(absl::GetFlag(FLAGS_test_verbose));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_timeout), absl::Seconds(90));
}

TEST_F(ApplyConfigTest, CommandLineWins) {
  absl::SetFlag(&FLAGS_test_threads, 8);  // As if from --test_threads=8.
  ASSERT_TRUE(
      Apply("test_threads = 4\ntest_endpoint = tcp://h:1\n", {"test_threads"})
          .ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_threads), 8);
  EXPECT_EQ(absl::GetFlag(FLAGS_test_endpoint), "tcp://h:1");
}

TEST_F(ApplyConfigTest, OutOfRangeValueNamesItsLine) {
  // The value parses; the binary's own check refuses it later, naming the
  // flag. The error then points at the file and line too.
  ASSERT_TRUE(
      Apply("test_endpoint = tcp://h:1\n\ntest_timeout = 5h\n", {}).ok());
  EXPECT_EQ(ConfigOrigin("test_timeout"), "t.conf:3");
  EXPECT_EQ(WithConfigOrigin(
                absl::InvalidArgumentError("--test_timeout must be in [0, 1h]"))
                .message(),
            "t.conf:3: --test_timeout must be in [0, 1h]");
  EXPECT_EQ(WithConfigOrigin(absl::InvalidArgumentError("--nonesuch is bad"))
                .message(),
            "--nonesuch is bad");
  EXPECT_EQ(
      WithConfigOrigin(absl::InvalidArgumentError("cannot read x")).message(),
      "cannot read x");
}

TEST_F(ApplyConfigTest, CommandLineDoesNotExcuseAnUnknownKey) {
  const absl::Status s = Apply("test_threads = 4\nbogus = 1\n", {"bogus"});
  EXPECT_EQ(s.message(), "t.conf:2: unknown setting 'bogus'");
}

struct ApplyErrorCase {
  const char* name;
  const char* text;
  const char* want_prefix;
};

class ApplyErrorTest : public ApplyConfigTest,
                       public testing::WithParamInterface<ApplyErrorCase> {};

TEST_P(ApplyErrorTest, NamesTheLine) {
  const absl::Status s = Apply(GetParam().text, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              testing::StartsWith(GetParam().want_prefix));
}

INSTANTIATE_TEST_SUITE_P(
    Config, ApplyErrorTest,
    testing::Values(
        ApplyErrorCase{"Unknown", "# x\ntest_threads = 4\nthreds = 4",
                       "t.conf:3: unknown setting 'threds'"},
        ApplyErrorCase{"AbslOwnFlag", "flagfile = /x",
                       "t.conf:1: unknown setting 'flagfile'"},
        ApplyErrorCase{"Help", "help = true",
                       "t.conf:1: unknown setting 'help'"},
        ApplyErrorCase{"Config", "\nconfig = /etc/other.conf",
                       "t.conf:2: 'config' cannot be set in a config file"},
        ApplyErrorCase{
            "BadInt", "\n\ntest_threads = four",
            "t.conf:3: bad value for 'test_threads': expected a whole "
            "number"},
        ApplyErrorCase{"EmptyInt", "test_threads =",
                       "t.conf:1: bad value for 'test_threads': "},
        ApplyErrorCase{"BadBool", "test_verbose = maybe",
                       "t.conf:1: bad value for 'test_verbose': "},
        ApplyErrorCase{"BadDuration", "test_timeout = soon",
                       "t.conf:1: bad value for 'test_timeout': expected a "
                       "duration such as 30s, 500ms, 2m or 1h30m, or a number "
                       "of seconds"}),
    [](const testing::TestParamInfo<ApplyErrorCase>& info) {
      return info.param.name;
    });

TEST_F(ApplyConfigTest, ADurationMayBeBareSeconds) {
  // As on the command line and in the CLI's --timeout: one syntax.
  ASSERT_TRUE(Apply("test_timeout = 30", {}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_timeout), absl::Seconds(30));
}

class LoadConfigFileTest : public ApplyConfigTest {
 protected:
  std::string Write(const char* text) {
    const std::string path =
        testing::TempDir() + "config_test_" +
        testing::UnitTest::GetInstance()->current_test_info()->name() + ".conf";
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(text, f);
    std::fclose(f);
    return path;
  }
};

TEST_F(LoadConfigFileTest, MissingDefaultIsFine) {
  EXPECT_TRUE(LoadConfigFile("/nonexistent/quark.conf", false, {}).ok());
}

TEST_F(LoadConfigFileTest, MissingExplicitIsAnError) {
  const absl::Status s = LoadConfigFile("/nonexistent/quark.conf", true, {});
  EXPECT_EQ(s.message(),
            "/nonexistent/quark.conf: cannot open: No such file or directory");
}

TEST_F(LoadConfigFileTest, DirectoryIsAnError) {
  const absl::Status s = LoadConfigFile("/", false, {});
  EXPECT_EQ(s.message(), "/: cannot read: Is a directory");
}

TEST_F(LoadConfigFileTest, ReadsAndApplies) {
  const std::string path = Write("# worker\ntest_threads = 3\n");
  ASSERT_TRUE(LoadConfigFile(path, true, {}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_threads), 3);
}

TEST_F(LoadConfigFileTest, BadFileNamesPathAndLine) {
  const std::string path = Write("test_threads = 3\n\ntest_threads 4\n");
  const absl::Status s = LoadConfigFile(path, false, {});
  EXPECT_EQ(s.message(), path + ":3: expected 'key = value'");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_threads), 0);  // Nothing applied.
}

class LoadDaemonSettingsTest : public LoadConfigFileTest {
 protected:
  ~LoadDaemonSettingsTest() override { SetLogLevel(LogLevel::kInfo); }

  std::optional<int> Load(std::vector<std::string> args) {
    args.insert(args.begin(), "quark-test");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    CommandLineSpec spec;
    spec.program = "quark-test";
    return LoadDaemonSettings(static_cast<int>(argv.size()), argv.data(), spec)
        .exit;
  }
};

TEST_F(LoadDaemonSettingsTest, TheFileFillsInWhatTheCommandLineLeft) {
  const std::string path =
      Write("test_threads = 3\ntest_verbose = true\nlog_level = debug\n");
  EXPECT_EQ(Load({"--config=" + path, "--test_threads=5"}), std::nullopt);
  EXPECT_EQ(absl::GetFlag(FLAGS_test_threads), 5);
  EXPECT_TRUE(absl::GetFlag(FLAGS_test_verbose));
  EXPECT_TRUE(LogEnabled(LogLevel::kDebug));
}

TEST_F(LoadDaemonSettingsTest, AMissingFileIsFineUnlessNamed) {
  absl::SetFlag(&FLAGS_config, "/nonexistent/quark.conf");  // the default
  EXPECT_EQ(Load({}), std::nullopt);
  EXPECT_EQ(Load({"--config=/nonexistent/quark.conf"}), 2);
}

TEST_F(LoadDaemonSettingsTest, ABadLogLevelOrFlagIsExitTwo) {
  EXPECT_EQ(Load({"--log_level=loud"}), 2);
  const std::string path = Write("log_level = loud\n");
  EXPECT_EQ(Load({"--config=" + path}), 2);
  EXPECT_EQ(Load({"--no_such_flag"}), 2);
  EXPECT_EQ(Load({"--version"}), 0);
}

}  // namespace
}  // namespace quark
