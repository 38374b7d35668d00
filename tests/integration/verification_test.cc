// Verification (docs/security.md) with real processes: two honest workers
// and quark-liar (tests/integration/liar.cc), a worker whose results are
// wrong on the tasks its flags pick. Every answer is checked against
// primesieve or primecount computed here.
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/cluster_test.h"

namespace quark::integration {
namespace {

class VerificationTest : public ClusterTest {
 protected:
  // The controller with `flags`, honest w1 and w2, and the liar with
  // `liar_flags`, all registered.
  void StartWithLiar(std::vector<std::string> flags,
                     std::vector<std::string> liar_flags) {
    cluster().options().task_seconds = "0.05";  // many tasks: many chances
    ASSERT_OK(cluster().StartController(DeadlineIn(20s), std::move(flags)));
    for (const char* name : {"w1", "w2"}) {
      ASSERT_OK(cluster().StartWorker(name).status());
    }
    ASSERT_OK(cluster()
                  .StartWorker("liar", std::move(liar_flags), QUARK_LIAR_BIN)
                  .status());
    for (const char* name : {"w1", "w2", "liar"}) {
      ASSERT_OK(cluster().WaitRegistered(name, DeadlineIn(20s)));
    }
  }

  // The liar, and only it, is suspect.
  void ExpectOnlyTheLiarSuspect() {
    ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
    for (const proto::Node& node : nodes.nodes()) {
      EXPECT_EQ(node.suspect(), node.name() == "liar") << node.DebugString();
    }
  }
};

TEST_F(VerificationTest, DefaultsGiveTheExactCountAndMarkTheLiarSuspect) {
  StartWithLiar({}, {"--lie_after=0", "--lie_every=1"});
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().SubmitAndWait(proto::COUNT, 0, 3e9, 90s));
  EXPECT_TRUE(MatchesReference(job, proto::COUNT, 0, 3e9));
  EXPECT_EQ(job.verification().mode(), proto::VERIFY_SAMPLE);
  EXPECT_GE(job.verification().disagreements(), 1u);
  ASSERT_EQ(job.verification().suspects_size(), 1);
  EXPECT_EQ(job.verification().suspects(0), "liar");
  EXPECT_EQ(job.verification().cross_check(), proto::CROSS_CHECK_AGREED);
  ExpectOnlyTheLiarSuspect();

  // What the operator sees.
  const CliResult table = cluster().RunCli({"nodes"});
  ASSERT_EQ(table.exit_code, 0) << table.ToString();
  EXPECT_NE(table.out.find("liar  suspect"), std::string::npos) << table.out;
  const CliResult shown = cluster().RunCli({"job", absl::StrCat(job.job_id())});
  EXPECT_NE(shown.out.find("disagreement"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("made suspect: liar"), std::string::npos)
      << shown.out;
  EXPECT_NE(shown.out.find("count checked by primecount"), std::string::npos)
      << shown.out;
  const std::string log = cluster().controller()->ReadStderr();
  EXPECT_NE(log.find("node suspect node=liar"), std::string::npos);

  // Trusted again, it works again (and its first results are checked).
  CliResult trust = cluster().RunCli({"trust", "liar"});
  ASSERT_EQ(trust.exit_code, 0) << trust.ToString();
  EXPECT_EQ(trust.out, "node liar active\n");
  ASSERT_OK_AND_ASSIGN(
      proto::Node liar,
      cluster().WaitForNode(
          "liar", [](const proto::Node& n) { return !n.suspect(); },
          DeadlineIn(10s)));
  trust = cluster().RunCli({"trust", "w1"});
  EXPECT_EQ(trust.exit_code, 1) << trust.ToString();
  EXPECT_NE(trust.err.find("node w1 is not suspect"), std::string::npos)
      << trust.err;
}

TEST_F(VerificationTest, AllCatchesALiarThatLiesRarely) {
  // Honest for its first 5 tasks (past the 3 always checked), then wrong
  // on every 8th: a twins job, which no primecount check covers.
  StartWithLiar({"--verify_fraction=0"}, {"--lie_after=5", "--lie_every=8"});
  ASSERT_OK_AND_ASSIGN(proto::Job job, cluster().Submit(proto::TWINS, 0, 4e9, 0,
                                                        {"--verify=all"}));
  ASSERT_OK_AND_ASSIGN(job, cluster().WaitJob(job.job_id(), 150s));
  EXPECT_TRUE(MatchesReference(job, proto::TWINS, 0, 4e9));
  EXPECT_EQ(job.verification().mode(), proto::VERIFY_ALL);
  EXPECT_EQ(job.verification().tasks_verified() +
                job.verification().tasks_unverified(),
            job.tasks_done());
  EXPECT_GE(job.verification().disagreements(), 1u) << job.DebugString();
  ExpectOnlyTheLiarSuspect();
}

TEST_F(VerificationTest, SamplingCatchesALiarThatLiesOnlyAfterItsFirstTasks) {
  // 60% of the tasks drawn, and a liar that is honest while it is watched,
  // then always wrong: each lie escapes with odds 0.4 at most (less when
  // it lies as a verifier), and it tells a dozen before the job ends.
  StartWithLiar({"--verify_fraction=0.6"}, {"--lie_after=4", "--lie_every=1"});
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().SubmitAndWait(proto::TWINS, 0, 6e9, 120s));
  EXPECT_TRUE(MatchesReference(job, proto::TWINS, 0, 6e9));
  EXPECT_GE(job.verification().disagreements(), 1u) << job.DebugString();
  ExpectOnlyTheLiarSuspect();
}

}  // namespace
}  // namespace quark::integration
