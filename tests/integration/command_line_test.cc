// The daemons' command lines as an operator meets them: --help and
// --version exit 0, a bad flag or setting is one line and exit 2 (the code
// systemd does not restart on, docs/operations.md).
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/process.h"

namespace quark::integration {
namespace {

using testing::HasSubstr;

struct Ran {
  int code = -1;
  std::string out, err;
};

class DaemonCommandLineTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("quark-cl-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs `binary` with `args` and no config file of the machine's.
  Ran Run(const std::string& binary, std::vector<std::string> args) {
    std::vector<std::string> argv = {binary};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = Process::Start("run-" + std::to_string(++runs_), argv, dir_);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return {};
    std::optional<ExitStatus> exit =
        (*p)->Wait(DeadlineIn(std::chrono::seconds(10)));
    EXPECT_TRUE(exit.has_value()) << "still running: " << args.front();
    Ran ran;
    ran.code = exit.has_value() ? exit->code() : -1;
    ran.out = (*p)->ReadStdout();
    ran.err = (*p)->ReadStderr();
    return ran;
  }

  std::filesystem::path dir_;
  int runs_ = 0;
};

TEST_F(DaemonCommandLineTest, HelpListsOwnFlagsByGroupAndExitsZero) {
  const Ran worker = Run(QUARK_WORKER_BIN, {"--help"});
  EXPECT_EQ(worker.code, 0) << worker.err;
  EXPECT_THAT(worker.out, HasSubstr("Usage: quark-worker"));
  EXPECT_THAT(worker.out, HasSubstr("\nJoining the cluster:\n  --join\n"));
  EXPECT_THAT(worker.out, HasSubstr("\nSieving:\n  --threads=0\n"));
  EXPECT_THAT(worker.out, HasSubstr("  --drain_timeout=30s\n"));
  EXPECT_THAT(worker.out, testing::Not(HasSubstr("Other:")))
      << "a flag in no group";
  EXPECT_THAT(worker.out, testing::Not(HasSubstr("flagfile")));
  EXPECT_EQ(worker.err, "");

  const Ran controller = Run(QUARK_CONTROLLER_BIN, {"--help"});
  EXPECT_EQ(controller.code, 0) << controller.err;
  EXPECT_THAT(controller.out, HasSubstr("Usage: quark-controller"));
  EXPECT_THAT(controller.out, HasSubstr("\nScheduling:\n  --heartbeat_ms="));
  EXPECT_THAT(controller.out, testing::Not(HasSubstr("Other:")))
      << "a flag in no group";
}

TEST_F(DaemonCommandLineTest, VersionPrintsTheVersion) {
  const Ran worker = Run(QUARK_WORKER_BIN, {"--version"});
  EXPECT_EQ(worker.code, 0);
  EXPECT_THAT(worker.out,
              testing::MatchesRegex("quark-worker [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  const Ran controller = Run(QUARK_CONTROLLER_BIN, {"--version"});
  EXPECT_EQ(controller.code, 0);
  EXPECT_THAT(
      controller.out,
      testing::MatchesRegex("quark-controller [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}

TEST_F(DaemonCommandLineTest, BadFlagsAndSettingsAreOneLineAndExitTwo) {
  const std::filesystem::path conf = dir_ / "worker.conf";
  std::ofstream(conf) << "drain_timeout = soon\n";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bogus"},
       "quark-worker: unknown flag --bogus (quark-worker --help lists the "
       "flags)\n"},
      {{"--threads=abc"},
       "quark-worker: bad value 'abc' for --threads: expected a whole number "
       "(quark-worker --help lists the flags)\n"},
      {{"--config=" + conf.string()},
       "quark-worker: " + conf.string() +
           ":1: bad value for 'drain_timeout': expected a duration such as "
           "30s, 500ms, "
           "2m or 1h30m, or a number of seconds\n"},
  };
  for (const auto& [args, error] : cases) {
    const Ran ran = Run(QUARK_WORKER_BIN, args);
    EXPECT_EQ(ran.code, 2) << args.front();
    EXPECT_EQ(ran.err, error);
    EXPECT_EQ(ran.out, "");
  }
  const Ran controller = Run(QUARK_CONTROLLER_BIN, {"--liveness=three"});
  EXPECT_EQ(controller.code, 2);
  EXPECT_EQ(controller.err,
            "quark-controller: bad value 'three' for --liveness: expected a "
            "whole number "
            "(quark-controller --help lists the flags)\n");
}

}  // namespace
}  // namespace quark::integration
