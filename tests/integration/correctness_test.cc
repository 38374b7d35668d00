// Three workers answer every kind exactly, from empty ranges to the top of
// the 64-bit range; every answer is checked against primesieve/primecount.
#include <csignal>
#include <cstdint>
#include <ostream>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/cluster_test.h"

namespace quark::integration {
namespace {

constexpr uint64_t kE9 = 1'000'000'000ull;
constexpr uint64_t kE12 = 1'000'000'000'000ull;

const std::vector<proto::Kind> kAllKinds = {
    proto::COUNT,    proto::TWINS,       proto::GAPS,        proto::SUM,
    proto::TRIPLETS, proto::QUADRUPLETS, proto::QUINTUPLETS, proto::SEXTUPLETS};

struct RangeCase {
  const char* name;
  uint64_t lo;
  uint64_t hi;
  std::vector<proto::Kind> kinds = kAllKinds;
};

void PrintTo(const RangeCase& c, std::ostream* os) {
  *os << c.name << " [" << c.lo << ", " << c.hi << "]";
}

std::string CaseName(const ::testing::TestParamInfo<RangeCase>& info) {
  return info.param.name;
}

class KindsTest : public ClusterTest,
                  public ::testing::WithParamInterface<RangeCase> {};

// Submits every kind at once (the jobs share the three workers), then
// waits for each and compares it with the reference.
TEST_P(KindsTest, ExactAnswer) {
  const RangeCase& c = GetParam();
  ASSERT_OK(cluster().Start(3, DeadlineIn(20s)));
  std::vector<uint64_t> ids;
  for (proto::Kind kind : c.kinds) {
    ASSERT_OK_AND_ASSIGN(proto::Job job, cluster().Submit(kind, c.lo, c.hi));
    ids.push_back(job.job_id());
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(proto::Job job, cluster().WaitJob(ids[i], 120s));
    EXPECT_TRUE(MatchesReference(job, c.kinds[i], c.lo, c.hi));
    EXPECT_EQ(job.progress(), 1.0) << job.ShortDebugString();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Ranges, KindsTest,
    ::testing::Values(
        RangeCase{"Zero", 0, 0},                  // no prime
        RangeCase{"ZeroOne", 0, 1},               // no prime
        RangeCase{"Two", 2, 2},                   // one prime, no gap
        RangeCase{"ThreeToSeven", 3, 7},          // two twins, tied gaps
        RangeCase{"InsideGap", 114, 126},         // no prime, lo > 0
        RangeCase{"Thousand", 0, 1000},           // 168 primes
        RangeCase{"HundredThousand", 0, 100000},  // 9592 primes
        RangeCase{"Billion", 0, kE9},
        RangeCase{"OddBounds", kE9 + 7, 2 * kE9 - 1},  // both ends odd
        RangeCase{"Tera", kE12, kE12 + 200'000'000},
        // Each primesieve call this high costs ~1 s of setup (in the
        // workers and in the reference): a few ranges only.
        RangeCase{"Top", kMax64 - 10'000'000, kMax64},  // ends at 2^64 - 1
        RangeCase{"LargestPrime",
                  kLargestPrime64,
                  kMax64,  // one prime
                  {proto::COUNT, proto::GAPS, proto::SUM}},
        RangeCase{"AboveLargestPrime",
                  kLargestPrime64 + 1,
                  kMax64,
                  {proto::COUNT, proto::SUM}},
        RangeCase{"MaxOnly", kMax64, kMax64}),
    CaseName);

// A big count spread over three workers, checked against primecount.
TEST_F(ClusterTest, LargeCountOverThreeWorkers) {
  ASSERT_OK(cluster().Start(3, DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().SubmitAndWait(proto::COUNT, 0, kBigHi, 150s));
  EXPECT_TRUE(MatchesReference(job, proto::COUNT, 0, kBigHi));
  EXPECT_GT(job.tasks_done(), 1u) << "the job should have been split";
}

// Tuplets and gap tables merged over many small tasks, with one of the
// three workers killed (kill -9) mid-job: its tasks are redone elsewhere
// and each tuplet and gap that straddles two tasks is counted once.
TEST_F(ClusterTest, TupletsAndGapTablesSurviveAKilledWorker) {
  cluster().options().task_seconds = "0.25";
  ASSERT_OK(cluster().Start(3, DeadlineIn(20s)));
  struct Search {
    proto::Kind kind;
    uint64_t lo, hi;
  };
  const Search searches[] = {
      {proto::QUADRUPLETS, kE12, kE12 + 20 * kE9},
      {proto::GAPS, kE12, kE12 + 2 * kE9},
      {proto::TRIPLETS, 0, 5 * kE9},
  };
  std::vector<uint64_t> ids;
  for (const Search& s : searches) {
    ASSERT_OK_AND_ASSIGN(proto::Job job, cluster().Submit(s.kind, s.lo, s.hi));
    ids.push_back(job.job_id());
  }
  ASSERT_OK(cluster().WaitForNode(
      "w2",
      [](const proto::Node& n) { return HasDoneTasks(n) && HasLeases(n); },
      DeadlineIn(60s)));
  ExpectStillRunning(cluster(), ids.back());
  ASSERT_TRUE(cluster().worker("w2")->Signal(SIGKILL));
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(proto::Job job, cluster().WaitJob(ids[i], 150s));
    const Search& s = searches[i];
    EXPECT_TRUE(MatchesReference(job, s.kind, s.lo, s.hi));
    EXPECT_GT(job.tasks_done(), 4u) << job.ShortDebugString();
  }
}

// The CLI reads 1e3, 10^5 and 2^64-1, and LO defaults to 0.
TEST_F(ClusterTest, NumberSyntax) {
  ASSERT_OK(cluster().Start(2, DeadlineIn(20s)));
  struct Case {
    std::vector<std::string> args;
    proto::Kind kind;
    uint64_t lo, hi;
  };
  const std::vector<Case> cases = {
      {{"count", "1e3"}, proto::COUNT, 0, 1000},
      {{"twins", "10^5"}, proto::TWINS, 0, 100000},
      {{"sum", "1e9", "1e9+1000"}, proto::SUM, kE9, kE9 + 1000},
      {{"count", "2^64-1000", "2^64-1"}, proto::COUNT, kMax64 - 999, kMax64},
      {{"gaps", "10^12", "10^12+10^6"}, proto::GAPS, kE12, kE12 + 1'000'000},
      {{"gaps", "1e6"}, proto::GAPS, 0, 1'000'000},  // the table, in JSON
      {{"quadruplets", "1e12", "1e12+1e8"},
       proto::QUADRUPLETS,
       kE12,
       kE12 + 100'000'000},
      {{"sextuplets", "1e9"}, proto::SEXTUPLETS, 0, kE9},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--json", "submit"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    args.push_back("--wait");
    const CliResult r = cluster().RunCli(args, 60s);
    SCOPED_TRACE(r.ToString());
    EXPECT_EQ(r.exit_code, 0);
    proto::Job job;
    ASSERT_OK(ParseJson(r.out, &job));
    EXPECT_TRUE(MatchesReference(job, c.kind, c.lo, c.hi));
  }
}

// Without --wait, submit prints "job ID"; jobs and job ID show it.
TEST_F(ClusterTest, SubmitPrintsJobIdAndJobsListsIt) {
  ASSERT_OK(cluster().Start(1, DeadlineIn(20s)));
  const CliResult submitted =
      cluster().RunCli({"submit", "count", "0", "1000"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.ToString();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(submitted.out, m, std::regex(R"(job (\d+))")))
      << submitted.ToString();
  const uint64_t id = std::stoull(m[1]);

  const CliResult waited = cluster().RunCli({"job", m[1], "--wait"}, 60s);
  EXPECT_EQ(waited.exit_code, 0) << waited.ToString();
  EXPECT_FALSE(waited.out.empty()) << waited.ToString();

  ASSERT_OK_AND_ASSIGN(proto::JobList jobs, cluster().Jobs());
  ASSERT_EQ(jobs.jobs_size(), 1) << jobs.ShortDebugString();
  EXPECT_EQ(jobs.jobs(0).job_id(), id);
  EXPECT_TRUE(MatchesReference(jobs.jobs(0), proto::COUNT, 0, 1000));

  // --json keeps the proto field names and prints zero fields too, but a
  // result only with its kind's fields: no count of a gaps job to misread.
  const CliResult json = cluster().RunCli({"--json", "job", m[1]});
  EXPECT_EQ(json.exit_code, 0) << json.ToString();
  for (const char* field : {"\"job_id\"", "\"tasks_done\"", "\"duplicates\"",
                            "\"priority\"", "\"result\":{\"count\":\"168\"}"}) {
    EXPECT_NE(json.out.find(field), std::string::npos)
        << field << " in " << json.out;
  }
  EXPECT_EQ(json.out.find("\"max_gap_start\""), std::string::npos) << json.out;
  EXPECT_EQ(json.out.find("\"jobId\""), std::string::npos) << json.out;

  const CliResult human = cluster().RunCli({"jobs"});
  EXPECT_EQ(human.exit_code, 0) << human.ToString();
  EXPECT_NE(human.out.find(absl::StrCat(id)), std::string::npos)
      << human.ToString();
}

}  // namespace
}  // namespace quark::integration
