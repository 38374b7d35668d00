// The CLI rejects bad input with exit code 2 and one line, changes nothing
// on the controller, and reports an unreachable controller with exit 3.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/integration/cluster_test.h"

namespace quark::integration {
namespace {

// Exit code 2, nothing on stdout, and on stderr one non-empty line naming
// the problem: no usage dump, no trace.
::testing::AssertionResult RejectedWithOneLine(const CliResult& r) {
  if (r.timed_out || r.exit_code != 2 || !r.out.empty()) {
    return ::testing::AssertionFailure()
           << "want exit 2 and no stdout: " << r.ToString();
  }
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::StripSuffix(r.err, "\n"), '\n');
  if (lines.size() != 1 || lines[0].empty()) {
    return ::testing::AssertionFailure()
           << "want one line on stderr: " << r.ToString();
  }
  return ::testing::AssertionSuccess();
}

TEST_F(ClusterTest, BadInputIsExit2AndChangesNothing) {
  ASSERT_OK(cluster().Start(1, DeadlineIn(20s)));
  const std::vector<std::vector<std::string>> bad = {
      {"submit", "count", "10", "5"},                    // LO > HI
      {"submit", "count", "0", "18446744073709551616"},  // HI = 2^64
      {"submit", "count", "0", "2^64"},
      {"submit", "sum", "18446744073709551616"},
      {"submit", "count", "-5", "10"},  // negative
      {"submit", "count", "-1"},
      {"submit", "count", "abc"},  // not a number
      {"submit", "count", "0", "12x"},
      {"submit", "count", "0", ""},
      {"submit", "primes", "0", "100"},  // unknown kind
      {"submit", "count", "0", "100", "--priority", "high"},
      {"job", "999999"},  // unknown job
      {"job", "999999", "--wait"},
      {"cancel", "999999"},
      {"job", "abc"},
      {"frobnicate"},  // unknown command
      {"submit"},      // missing args
      {"submit", "count"},
      {"job"},
      {"cancel"},
      {"drain"},
      {"undrain"},
      {},
  };
  for (const std::vector<std::string>& args : bad) {
    SCOPED_TRACE("quark " + absl::StrJoin(args, " "));
    EXPECT_TRUE(RejectedWithOneLine(cluster().RunCli(args)));
  }

  // Still serving, and none of the bad submits made a job.
  EXPECT_TRUE(cluster().controller()->Running());
  ASSERT_OK_AND_ASSIGN(proto::JobList jobs, cluster().Jobs());
  EXPECT_EQ(jobs.jobs_size(), 0) << jobs.ShortDebugString();
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().SubmitAndWait(proto::COUNT, 0, 100000, 60s));
  EXPECT_TRUE(MatchesReference(job, proto::COUNT, 0, 100000));
}

TEST_F(ClusterTest, UnknownNodeIsExit2) {
  ASSERT_OK(cluster().Start(1, DeadlineIn(20s)));
  EXPECT_TRUE(RejectedWithOneLine(cluster().RunCli({"drain", "nosuchnode"})));
  EXPECT_TRUE(RejectedWithOneLine(cluster().RunCli({"undrain", "nosuchnode"})));
  ASSERT_OK_AND_ASSIGN(
      proto::Node w1,
      cluster().WaitForNode(
          "w1", [](const proto::Node&) { return true; }, DeadlineIn(5s)));
  EXPECT_EQ(w1.state(), proto::ACTIVE);
}

// Nobody listens on the api port of a cluster that was never started.
TEST_F(ClusterTest, UnreachableControllerIsExit3) {
  const std::vector<std::vector<std::string>> commands = {
      {"--timeout=300ms", "jobs"},
      {"--timeout=300ms", "nodes"},
      {"--timeout=300ms", "job", "1"},
      {"--timeout=300ms", "submit", "count", "0", "1000", "--wait"},
  };
  for (const std::vector<std::string>& args : commands) {
    const auto start = Clock::now();
    const CliResult r = cluster().RunCli(args, 10s);
    const auto took = Clock::now() - start;
    EXPECT_EQ(r.exit_code, 3) << r.ToString();
    EXPECT_FALSE(r.err.empty()) << r.ToString();
    EXPECT_LT(took, 3s) << "--timeout=300ms not honoured: " << r.ToString();
  }
}

}  // namespace
}  // namespace quark::integration
