#include "cli/format.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/health.h"
#include "common/keys.h"
#include "common/token.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

proto::Job DoneJob(proto::Kind kind) {
  proto::Job job;
  job.set_job_id(7);
  job.set_kind(kind);
  job.mutable_range()->set_lo(0);
  job.mutable_range()->set_hi(100000);
  job.set_state(proto::DONE);
  job.set_progress(1.0);
  job.set_tasks_done(4);
  job.set_submitted_ms(1700000000000);
  job.set_finished_ms(1700000012345);
  job.set_version(9);
  proto::JobResult* r = job.mutable_result();
  r->set_count(9592);
  r->set_twins(1224);
  r->set_max_gap(72);
  r->set_max_gap_start(31397);
  r->set_sum("454396537");
  r->set_triplets(507);  // primesieve 0 100000 -c3 .. -c6
  r->set_quadruplets(38);
  r->set_quintuplets(21);
  r->set_sextuplets(5);
  if (kind == proto::GAPS) {  // the start of OEIS A000230 and A002386
    for (const auto& [size, start] : {std::pair<uint64_t, uint64_t>{1, 2},
                                      {2, 3},
                                      {4, 7},
                                      {6, 23},
                                      {8, 89}}) {
      proto::Gap* first = r->add_first_gaps();
      first->set_size(size);
      first->set_start(start);
      *r->add_maximal_gaps() = *first;
    }
  }
  return job;
}

TEST(FormatResultTest, OneLinePerKind) {
  EXPECT_EQ(FormatResult(DoneJob(proto::COUNT)), "9592");
  EXPECT_EQ(FormatResult(DoneJob(proto::TWINS)), "1224");
  EXPECT_EQ(FormatResult(DoneJob(proto::SUM)), "454396537");
  EXPECT_EQ(FormatResult(DoneJob(proto::GAPS)), "max_gap=72 start=31397");
  EXPECT_EQ(FormatResult(DoneJob(proto::TRIPLETS)), "507");
  EXPECT_EQ(FormatResult(DoneJob(proto::SEXTUPLETS)), "5");
}

TEST(FormatJobTest, AGapsJobEndsWithItsMaximalGaps) {
  const std::string text = FormatJob(DoneJob(proto::GAPS), absl::UTCTimeZone());
  EXPECT_TRUE(absl::EndsWith(
      text,
      "maximal gaps (each larger than every gap before it in the range):\n"
      "GAP  START  NEXT PRIME\n"
      "1    2      3\n"
      "2    3      5\n"
      "4    7      11\n"
      "6    23     29\n"
      "8    89     97\n"
      "first occurrences: 5 gap sizes (each with its first gap in --json: "
      "first_gaps)\n"))
      << text;
  proto::Job running = DoneJob(proto::GAPS);
  running.set_state(proto::RUNNING);
  EXPECT_EQ(FormatJob(running, absl::UTCTimeZone()).find("maximal gaps"),
            std::string::npos);
  EXPECT_EQ(FormatJob(DoneJob(proto::COUNT), absl::UTCTimeZone())
                .find("maximal gaps"),
            std::string::npos);
}

TEST(FormatJobTest, KeyValueLines) {
  EXPECT_EQ(FormatJob(DoneJob(proto::COUNT), absl::UTCTimeZone()),
            "id: 7\n"
            "kind: count\n"
            "range: 0..100000\n"
            "priority: 0\n"
            "state: done\n"
            "progress: 100.0%\n"
            "tasks: 4 done, 0 running\n"
            "duplicates: 0\n"
            "result: 9592\n"
            "submitted: 2023-11-14 22:13:20 UTC\n"
            "finished: 2023-11-14 22:13:32 UTC (took 12.3s)\n");
}

TEST(ProgressMeterTest, RateAndEtaFromTheLastMinuteOfProgress) {
  proto::Job job;
  job.set_job_id(7);
  job.set_state(proto::RUNNING);
  job.mutable_range()->set_lo(1);
  job.mutable_range()->set_hi(1'000'000'000);  // 1e9 numbers
  job.set_tasks_running(2);
  ProgressMeter meter;
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  job.set_progress(0.1);
  // Too soon for a rate.
  EXPECT_EQ(meter.Line(job, t0), "job 7: running 10.0%, 2 tasks running");
  job.set_progress(0.2);
  EXPECT_EQ(meter.Line(job, t0 + absl::Seconds(1)),
            "job 7: running 20.0%, 2 tasks running");
  // 1e8 numbers a second: 7e8 left is 7 s.
  job.set_progress(0.3);
  EXPECT_EQ(meter.Line(job, t0 + absl::Seconds(2)),
            "job 7: running 30.0%, 2 tasks running, 1.0e8/s, ETA 7s");
  // A stall, a minute on: the rate falls to what the last minute did.
  job.set_progress(0.3);
  EXPECT_EQ(meter.Line(job, t0 + absl::Seconds(100)),
            "job 7: running 30.0%, 2 tasks running, 0/s");
  // Queued or ended: as FormatProgress says it.
  job.set_state(proto::QUEUED);
  job.set_waiting("every node is busy");
  EXPECT_EQ(meter.Line(job, t0 + absl::Seconds(101)),
            "job 7: queued, every node is busy");
}

TEST(FormatJobTest, HowItWasVerified) {
  proto::Job job;
  job.set_tasks_done(235);
  proto::Verification* v = job.mutable_verification();
  v->set_mode(proto::VERIFY_SAMPLE);
  v->set_tasks_verified(12);
  v->set_cross_check(proto::CROSS_CHECK_AGREED);
  EXPECT_EQ(FormatVerification(job),
            "5.1% of tasks on other nodes (12 of 235), 0 disagreements; count "
            "checked by primecount");
  v->set_disagreements(1);
  v->add_suspects("pi-3");
  v->set_tasks_redone(4);
  v->set_tasks_unverified(1);
  v->set_cross_check(proto::CROSS_CHECK_PENDING);
  EXPECT_EQ(FormatVerification(job),
            "5.1% of tasks on other nodes (12 of 235), 1 disagreement; made "
            "suspect: pi-3; 4 tasks computed again; 1 task not verified: no "
            "other node; primecount's cross-check pending");
  v->set_mode(proto::VERIFY_NONE);
  EXPECT_EQ(FormatVerification(job), "no (--verify=none)");
  // A job from before verification says nothing of it.
  job.clear_verification();
  EXPECT_EQ(FormatJob(job, absl::UTCTimeZone()).find("verified:"),
            std::string::npos);
}

TEST(FormatJobTest, WallTimeTaskTimeAndSpeedup) {
  proto::Job job = DoneJob(proto::COUNT);
  job.set_started_ms(job.submitted_ms() + 300);
  job.set_task_seconds(47.14);
  job.set_cpu_seconds(188.56);
  job.set_speedup(3.83);
  const std::string text = FormatJob(job, absl::UTCTimeZone());
  EXPECT_TRUE(absl::EndsWith(text,
                             "wall: 12s from its first task to its end\n"
                             "task time: 47.1s on the nodes (3m8.5s of CPU)\n"
                             "speed-up: 3.8x over one node\n"))
      << text;
  // A job that never ran says none of it.
  EXPECT_FALSE(absl::StrContains(
      FormatJob(DoneJob(proto::COUNT), absl::UTCTimeZone()), "speed-up"));
}

TEST(FormatJobTest, FailedShowsTheErrorAndRunningHasNoEnd) {
  proto::Job job = DoneJob(proto::COUNT);
  job.set_state(proto::FAILED);
  job.set_error("task 3 failed 5 times");
  const std::string failed = FormatJob(job, absl::UTCTimeZone());
  EXPECT_NE(failed.find("\nerror: task 3 failed 5 times\n"), std::string::npos)
      << failed;
  EXPECT_EQ(failed.find("result:"), std::string::npos) << failed;

  job.set_finished_ms(job.submitted_ms() + 80);
  EXPECT_NE(FormatJob(job, absl::UTCTimeZone()).find("(took 80ms)"),
            std::string::npos);
  job.set_finished_ms(job.submitted_ms());
  EXPECT_NE(FormatJob(job, absl::UTCTimeZone()).find("(took 0ms)"),
            std::string::npos);

  EXPECT_NE(failed.find("\npartial: - (its first task was not finished)\n"),
            std::string::npos)
      << failed;
  job.set_state(proto::CANCELLED);
  job.mutable_partial()->set_count(4203);
  job.mutable_partial_range()->set_hi(40000);
  const std::string cancelled = FormatJob(job, absl::UTCTimeZone());
  EXPECT_NE(cancelled.find(
                "\nresult: -\npartial: 4203 for 0..40000 (partial: the first "
                "40.0% of the range)\n"),
            std::string::npos)
      << cancelled;
  EXPECT_NE(FormatJobList([&] {
              proto::JobList list;
              *list.add_jobs() = job;
              return list;
            }())
                .find("partial: 4203 to 40000\n"),
            std::string::npos);
  job.clear_partial();
  job.clear_partial_range();

  job.set_state(proto::RUNNING);
  job.set_progress(0.4567);
  job.set_finished_ms(0);
  const std::string running = FormatJob(job, absl::UTCTimeZone());
  EXPECT_NE(running.find("\nprogress: 45.6%\n"), std::string::npos) << running;
  EXPECT_NE(running.find("\nresult: -\n"), std::string::npos) << running;
  EXPECT_NE(running.find("\nfinished: -\n"), std::string::npos) << running;
}

TEST(FormatJobListTest, AlignedTable) {
  proto::JobList list;
  *list.add_jobs() = DoneJob(proto::GAPS);
  proto::Job* queued = list.add_jobs();
  queued->set_job_id(12);
  queued->set_kind(proto::COUNT);
  queued->mutable_range()->set_lo(1000000000000);
  queued->mutable_range()->set_hi(2000000000000);
  queued->set_priority(-1);
  queued->set_state(proto::QUEUED);
  proto::Job* top = list.add_jobs();
  top->set_job_id(13);
  top->set_kind(proto::TWINS);
  top->mutable_range()->set_lo(18446744063709551615ull);
  top->mutable_range()->set_hi(18446744073709551615ull);
  top->set_state(proto::RUNNING);
  top->set_progress(0.25);
  // Ranges in the forms people type: the one at the top of 64 bits does not
  // make a 40-character column.
  EXPECT_EQ(FormatJobList(list),
            "ID  KIND   RANGE                PRIO  STATE    PROGRESS  "
            "RESULT\n"
            "7   gaps   0..100000            0     done     100.0%    "
            "max_gap=72 start=31397\n"
            "12  count  1e12..2e12           -1    queued   0.0%      "
            "-\n"
            "13  twins  2^64-1-1e10..2^64-1  0     running  25.0%     "
            "-\n");
}

TEST(FormatJobTest, AQueuedJobSaysWhyItWaits) {
  proto::Job job = DoneJob(proto::COUNT);
  job.set_state(proto::QUEUED);
  job.set_progress(0);
  job.clear_result();
  job.set_waiting("behind job 12 (priority 9)");
  const std::string detail = FormatJob(job, absl::UTCTimeZone());
  EXPECT_NE(detail.find("state: queued (behind job 12 (priority 9))\n"),
            std::string::npos)
      << detail;
  EXPECT_NE(detail.find("result: -\n"), std::string::npos) << detail;
  proto::JobList list;
  *list.add_jobs() = job;
  EXPECT_NE(FormatJobList(list).find(
                "queued  0.0%      - (behind job 12 (priority 9))\n"),
            std::string::npos)
      << FormatJobList(list);
  EXPECT_EQ(FormatProgress(job), "job 7: queued, behind job 12 (priority 9)");
}

TEST(FormatJobListTest, Empty) {
  EXPECT_EQ(FormatJobList(proto::JobList()),
            "ID  KIND  RANGE  PRIO  STATE  PROGRESS  RESULT\n(no jobs)\n");
}

TEST(FormatNodeListTest, AlignedTableAndEmptyCluster) {
  proto::NodeList list;
  proto::Node* node = list.add_nodes();
  node->set_name("pi1");
  node->set_state(proto::ACTIVE);
  node->set_cores(4);
  node->set_threads(4);
  node->set_leases(2);
  node->set_sieving(true);
  node->set_tasks_done(130);
  node->set_rate(3.14e9);
  node->set_last_heard_ms_ago(400);
  node->set_key("Cs?(=SbPRcT:PkqSTg1sbjD9jo48USO}:nx8PB1j");
  node = list.add_nodes();
  node->set_name("pi-garage");
  node->set_state(proto::DRAINING);
  node->set_cores(4);
  node->set_threads(3);
  node->set_sieving(true);  // no lease: stopping a cancelled task
  node->set_last_heard_ms_ago(125000);
  EXPECT_EQ(
      FormatNodeList(list),
      "NAME       STATE     CORES  THREADS  LEASES  SIEVE     TASKS  RATE     "
      "TEMP  HEALTH  LAST_HEARD  KEY\n"
      "pi1        active    4      4        2       busy      130    3.1e9/s  "
      "-     -       0.4s ago    Cs?(=SbPRcT:...\n"
      "pi-garage  draining  4      3        0       stopping  0      0/s      "
      "-     -       2m5s ago    -\n"
      "total: 2 nodes, 7 threads, 2 working, 3.1e9/s\n");
  EXPECT_EQ(FormatNodeList(proto::NodeList()),
            "NAME  STATE  CORES  THREADS  LEASES  SIEVE  TASKS  RATE  "
            "TEMP  HEALTH  LAST_HEARD  KEY\n"
            "(no nodes)\n");
}

TEST(FormatNodeListTest, NodesGoneLatelyFollowWithHowLongAgo) {
  proto::NodeList list;
  proto::Node* node = list.add_nodes();
  node->set_name("pi1");
  node->set_state(proto::ACTIVE);
  node->set_threads(1);
  node->set_last_heard_ms_ago(300);
  node = list.add_departed();
  node->set_name("pi2");
  node->set_state(proto::LOST);
  node->set_cores(4);
  node->set_threads(4);
  node->set_tasks_done(12);
  node->set_last_heard_ms_ago(15200);
  node->set_departed_ms_ago(12100);
  node = list.add_departed();
  node->set_name("pi3");
  node->set_state(proto::LEFT);
  node->set_last_heard_ms_ago(185000);
  node->set_departed_ms_ago(185000);
  EXPECT_EQ(
      FormatNodeList(list),
      "NAME  STATE          CORES  THREADS  LEASES  SIEVE  TASKS  RATE  "
      "TEMP  HEALTH  LAST_HEARD  KEY\n"
      "pi1   active         0      1        0       idle   0      0/s   -     "
      "-       0.3s ago    -\n"
      "pi2   lost 12s ago   4      4        -       -      12     -     -     "
      "-       15.2s ago   -\n"
      "pi3   left 3m5s ago  0      0        -       -      0      -     -     "
      "-       3m5s ago    -\n"
      "total: 1 node, 1 thread, 0 working, 0/s; gone lately: 1 left, 1 lost\n");
  node->set_state(proto::EVICTED);
  EXPECT_EQ(NodeStateText(*node), "evicted 3m5s ago");
  node->set_departed_ms_ago(400);  // not "evicted 0 ago"
  EXPECT_EQ(NodeStateText(*node), "evicted 0s ago");
  list.clear_nodes();
  EXPECT_NE(FormatNodeList(list).find("\ntotal: 0 nodes, 0 threads"),
            std::string::npos);
}

TEST(FormatNodeListTest, TemperatureAndHealthAsTheFirmwareSaysThem) {
  proto::NodeList list;
  auto add = [&](const char* name, std::optional<double> celsius,
                 std::optional<uint32_t> bits) {
    proto::Node* node = list.add_nodes();
    node->set_name(name);
    node->set_state(proto::ACTIVE);
    if (celsius) node->set_temperature_celsius(*celsius);
    if (bits) {
      node->set_throttled_bits(*bits);
      node->set_under_voltage(UnderVoltageNow(*bits));
      node->set_throttled(ThrottledNow(*bits));
    }
  };
  add("hot", 71.54, 0x50005);
  add("fine", 48.25, 0);
  add("was", 50.0, 0x10000);
  add("amd64", 41.0, std::nullopt);  // no firmware
  add("vm", std::nullopt, std::nullopt);
  const std::string table = FormatNodeList(list);
  auto line = [&](const char* name) {
    const size_t at = table.find(std::string("\n") + name + " ");
    return at == std::string::npos
               ? std::string()
               : table.substr(at + 1, table.find('\n', at + 1) - at - 1);
  };
  EXPECT_NE(line("hot").find("71.5C  under-voltage,throttled"),
            std::string::npos)
      << table;
  EXPECT_NE(line("fine").find("48.2C  ok "), std::string::npos) << table;
  EXPECT_NE(line("was").find("50.0C  ok (was under-voltage)"),
            std::string::npos)
      << table;
  EXPECT_NE(line("amd64").find("41.0C  -  "), std::string::npos) << table;
  EXPECT_NE(line("vm").find("0/s   -      -  "), std::string::npos) << table;
  EXPECT_NE(table.find("; now 1 under-voltage, 1 throttled\n"),
            std::string::npos)
      << table;
}

TEST(FormatTest, Rates) {
  EXPECT_EQ(FormatRate(0), "0/s");
  EXPECT_EQ(FormatRate(950.4), "950/s");
  EXPECT_EQ(FormatRate(1000), "1.0e3/s");
  EXPECT_EQ(FormatRate(3.14e9), "3.1e9/s");
  EXPECT_EQ(FormatRate(9.96e9), "1.0e10/s");
  EXPECT_EQ(FormatRate(-1), "-");
}

TEST(FormatTest, ShortReplies) {
  proto::Job job = DoneJob(proto::COUNT);
  EXPECT_EQ(FormatSubmitted(job), "job 7\n");
  job.set_state(proto::CANCELLED);
  job.set_progress(0.25);
  EXPECT_EQ(FormatCancelled(job), "job 7 cancelled at 25.0%\n");
  job.mutable_partial()->set_count(4203);
  job.mutable_partial_range()->set_lo(0);
  job.mutable_partial_range()->set_hi(40000);
  EXPECT_EQ(FormatCancelled(job),
            "job 7 cancelled at 25.0%; 4203 for 0..40000 (partial: the first "
            "40.0% of the "
            "range)\n");
  job.clear_partial();
  job.clear_partial_range();
  proto::Node node;
  node.set_name("pi1");
  node.set_state(proto::DRAINING);
  node.set_leases(2);
  EXPECT_EQ(FormatNodeState(node),
            "node pi1 draining: its tasks finish, then it is drained\n");
  node.set_leases(0);
  node.set_sieving(true);  // still stopping a cancelled task
  EXPECT_EQ(FormatNodeState(node),
            "node pi1 draining: its tasks finish, then it is drained\n");
  node.set_sieving(false);
  EXPECT_EQ(FormatNodeState(node),
            "node pi1 drained: no work left on it, safe to remove\n");
  node.set_state(proto::ACTIVE);
  EXPECT_EQ(FormatNodeState(node), "node pi1 active\n");
  job.set_state(proto::RUNNING);
  job.set_progress(0.5);
  job.set_tasks_running(3);
  EXPECT_EQ(FormatProgress(job), "job 7: running 50.0%, 3 tasks running");
  job.set_tasks_running(1);
  EXPECT_EQ(FormatProgress(job), "job 7: running 50.0%, 1 task running");
}

constexpr uint64_t kCreated = 1700000000000;  // 2023-11-14 22:13:20 UTC
constexpr uint64_t kHour = 3600 * 1000;
constexpr char kSecret[] = "qk1_3fk2abcd_secretsecretsecretsecretsec";

proto::Token Token(const std::string& id, uint64_t expires_ms) {
  proto::Token token;
  token.set_id(id);
  token.set_token(kSecret);  // never sent in a list; must not show anyway
  token.set_created_ms(kCreated);
  token.set_expires_ms(expires_ms);
  token.set_state(proto::TOKEN_ACTIVE);
  return token;
}

TEST(FormatTokenListTest, EveryKindOfToken) {
  proto::TokenList list;
  *list.add_tokens() = Token("3fk2abcd", kCreated + 24 * kHour);  // unlimited
  proto::Token* limited = list.add_tokens();
  *limited = Token("x7q2mmmm", kCreated + kHour);
  limited->set_uses(5);
  limited->set_used(2);
  limited->set_uses_left(3);
  limited->set_approve(true);
  proto::Token* expired = list.add_tokens();
  *expired = Token("aaaa2222", kCreated + kHour);
  expired->set_state(proto::TOKEN_EXPIRED);
  proto::Token* used_up = list.add_tokens();
  *used_up = Token("bbbb3333", kCreated + kHour);
  used_up->set_uses(1);
  used_up->set_used(1);
  used_up->set_uses_left(0);
  used_up->set_state(proto::TOKEN_USED_UP);
  proto::Token* revoked = list.add_tokens();
  *revoked = Token("cccc4444", 0);  // never expiring, then revoked
  revoked->set_state(proto::TOKEN_REVOKED);
  proto::Token* never = list.add_tokens();
  *never = Token("dddd5555", 0);
  const std::string table = FormatTokenList(list, absl::UTCTimeZone());
  EXPECT_EQ(table,
            "ID        CREATED                  EXPIRES                  "
            "USED  USES_LEFT  APPROVE  STATE\n"
            "3fk2abcd  2023-11-14 22:13:20 UTC  2023-11-15 22:13:20 UTC  "
            "0     unlimited  no       active\n"
            "x7q2mmmm  2023-11-14 22:13:20 UTC  2023-11-14 23:13:20 UTC  "
            "2     3          yes      active\n"
            "aaaa2222  2023-11-14 22:13:20 UTC  2023-11-14 23:13:20 UTC  "
            "0     unlimited  no       expired\n"
            "bbbb3333  2023-11-14 22:13:20 UTC  2023-11-14 23:13:20 UTC  "
            "1     0          no       used up\n"
            "cccc4444  2023-11-14 22:13:20 UTC  never                    "
            "0     unlimited  no       revoked\n"
            "dddd5555  2023-11-14 22:13:20 UTC  never                    "
            "0     unlimited  no       active\n");
  EXPECT_EQ(table.find("qk1_"), std::string::npos) << "a secret in " << table;
}

TEST(FormatTokenListTest, TimesInTheGivenZoneAndEmpty) {
  proto::TokenList list;
  *list.add_tokens() = Token("3fk2abcd", kCreated + kHour);
  const std::string table =
      FormatTokenList(list, absl::FixedTimeZone(2 * 3600));
  EXPECT_NE(table.find("2023-11-15 00:13:20 "), std::string::npos) << table;
  EXPECT_NE(table.find("2023-11-15 01:13:20 "), std::string::npos) << table;
  EXPECT_EQ(
      FormatTokenList(proto::TokenList(), absl::UTCTimeZone()),
      "ID  CREATED  EXPIRES  USED  USES_LEFT  APPROVE  STATE\n(no tokens)\n");
}

// The fingerprint `quark-worker join` prints on the node, to compare.
TEST(FormatCreatedTokenTest, NamesTheControllersKeyFingerprint) {
  proto::Token token = Token("3fk2abcd", 0);
  const std::string key = GenerateKeyPair()->public_key;
  token.set_controller_key(key);
  const std::string notes = FormatCreatedToken(token, absl::UTCTimeZone());
  EXPECT_NE(notes.find("; controller key " + KeyFingerprint(key) + "\n"),
            std::string::npos)
      << notes;
}

TEST(FormatCreatedTokenTest, NotesForTheOperator) {
  proto::Token token = Token("3fk2abcd", kCreated + 24 * kHour);
  const std::string join =
      absl::StrCat("on each node: sudo quark-worker join ", kSecret, "\n");
  EXPECT_EQ(FormatCreatedToken(token, absl::UTCTimeZone()),
            absl::StrCat("token 3fk2abcd: expires 2023-11-15 22:13 UTC (in "
                         "24h), unlimited uses\n",
                         join));
  token.set_expires_ms(kCreated + 7 * 24 * kHour + 30 * 60 * 1000);
  token.set_uses(1);
  token.set_approve(true);
  EXPECT_EQ(FormatCreatedToken(token, absl::UTCTimeZone()),
            absl::StrCat("token 3fk2abcd: expires 2023-11-21 22:43 UTC (in "
                         "7d30m), 1 use, nodes wait for `quark approve NAME`\n",
                         join));
  token.set_expires_ms(0);
  token.set_uses(10);
  token.set_approve(false);
  EXPECT_EQ(FormatCreatedToken(token, absl::UTCTimeZone()),
            absl::StrCat("token 3fk2abcd: never expires, 10 uses\n", join));
}

TEST(FormatTest, Ttls) {
  EXPECT_EQ(FormatTtl(absl::Seconds(90)), "1m30s");
  EXPECT_EQ(FormatTtl(absl::Hours(1)), "1h");
  EXPECT_EQ(FormatTtl(absl::Hours(24)), "24h");
  EXPECT_EQ(FormatTtl(absl::Hours(36)), "36h");
  EXPECT_EQ(FormatTtl(absl::Hours(48)), "2d");
  EXPECT_EQ(FormatTtl(absl::Hours(7 * 24 + 12)), "7d12h");
  EXPECT_EQ(FormatTtl(absl::Hours(3650 * 24)), "3650d");
  EXPECT_EQ(FormatTtl(absl::Milliseconds(5500)), "5s");
}

proto::EnrolledNode Pending(const std::string& name) {
  proto::EnrolledNode node;
  node.set_name(name);
  node.set_key("Cs?(=SbPRcT:PkqSTg1sbjD9jo48USO}:nx8PB1j");
  node.set_token_id("3fk2abcd");
  node.set_address("192.168.1.23");
  node.set_machine("c0ffee");
  node.set_requested_ms(kCreated);
  node.set_state(proto::ENROLL_PENDING);
  return node;
}

TEST(FormatPendingListTest, TableWithHowToApprove) {
  proto::EnrolledList list;
  *list.add_nodes() = Pending("pi-garage");
  proto::EnrolledNode* other = list.add_nodes();
  *other = Pending("pi7");
  other->set_address("");
  other->set_requested_ms(kCreated + kHour);
  EXPECT_EQ(FormatPendingList(list, absl::UTCTimeZone()),
            "NAME       KEY              ADDRESS       TOKEN     REQUESTED\n"
            "pi-garage  Cs?(=SbPRcT:...  192.168.1.23  3fk2abcd  "
            "2023-11-14 22:13:20 UTC\n"
            "pi7        Cs?(=SbPRcT:...  -             3fk2abcd  "
            "2023-11-14 23:13:20 UTC\n"
            "approve with: quark approve NAME   (or quark reject NAME)\n");
  EXPECT_EQ(FormatPendingList(proto::EnrolledList(), absl::UTCTimeZone()),
            "NAME  KEY  ADDRESS  TOKEN  REQUESTED\n(no pending nodes)\n");
}

TEST(FormatTest, TokenAndEnrollmentReplies) {
  EXPECT_EQ(FormatRevoked(Token("3fk2abcd", 0)),
            "token 3fk2abcd revoked: it lets no more nodes join; nodes that "
            "joined with it stay (quark reject NAME removes one)\n");
  EXPECT_EQ(FormatApproved(Pending("pi7")),
            "node pi7 approved: it joins at its next attempt\n");
  EXPECT_EQ(FormatRejected(Pending("pi7")),
            "node pi7 rejected: its key is refused from now on\n");
  EXPECT_EQ(TokenStateName(proto::TOKEN_USED_UP), "used up");
  EXPECT_EQ(TokenStateName(proto::TOKEN_STATE_UNSPECIFIED), "?");
}

TEST(ToJsonTest, ProtoNamesAndDefaults) {
  const auto json = ToJson(DoneJob(proto::COUNT));
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->back(), '\n');
  EXPECT_EQ(json->find('\n'), json->size() - 1) << "one line";
  for (const char* part :
       {"\"job_id\":\"7\"", "\"state\":\"DONE\"", "\"kind\":\"COUNT\"",
        "\"result\":{\"count\":\"9592\"", "\"priority\":0", "\"error\":\"\"",
        "\"duplicates\":\"0\""}) {
    EXPECT_NE(json->find(part), std::string::npos) << part << " in " << *json;
  }
  const auto empty = ToJson(proto::NodeList());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "{\"nodes\":[],\"departed\":[]}\n");
}

TEST(ToJsonTest, AnErrorIsOneDocumentWithItsExitCode) {
  EXPECT_EQ(ErrorJson(absl::NotFoundError("no job 9"), 2),
            "{\"error\":{\"message\":\"no job 9\",\"exit_code\":2}}\n");
  EXPECT_EQ(ErrorJson(absl::InvalidArgumentError("bad \"x\"\\\n\x01"), 2),
            "{\"error\":{\"message\":\"bad "
            "\\\"x\\\"\\\\\\n\\u0001\",\"exit_code\":2}}\n");
}

TEST(ToJsonTest, AResultHasTheFieldsOfItsKindOnlyAndOnlyOnceDone) {
  const std::pair<proto::Kind, const char*> kinds[] = {
      {proto::COUNT, "\"result\":{\"count\":\"9592\"}}"},
      {proto::TWINS, "\"result\":{\"twins\":\"1224\"}}"},
      {proto::GAPS,
       "\"result\":{\"max_gap\":\"72\",\"max_gap_start\":\"31397\","
       "\"first_gaps\":[{\"size\":\"1\",\"start\":\"2\"},"
       "{\"size\":\"2\",\"start\":\"3\"},{\"size\":\"4\",\"start\":\"7\"},"
       "{\"size\":\"6\",\"start\":\"23\"},{\"size\":\"8\",\"start\":\"89\"}],"
       "\"maximal_gaps\":[{\"size\":\"1\",\"start\":\"2\"},"
       "{\"size\":\"2\",\"start\":\"3\"},{\"size\":\"4\",\"start\":\"7\"},"
       "{\"size\":\"6\",\"start\":\"23\"},"
       "{\"size\":\"8\",\"start\":\"89\"}]}}"},
      {proto::TRIPLETS, "\"result\":{\"triplets\":\"507\"}}"},
      {proto::QUADRUPLETS, "\"result\":{\"quadruplets\":\"38\"}}"},
      {proto::QUINTUPLETS, "\"result\":{\"quintuplets\":\"21\"}}"},
      {proto::SEXTUPLETS, "\"result\":{\"sextuplets\":\"5\"}}"},
  };
  for (const auto& [kind, result] : kinds) {
    const auto json = ToJson(DoneJob(kind));
    ASSERT_TRUE(json.ok()) << json.status();
    EXPECT_TRUE(absl::EndsWith(*json, std::string(result) + "\n")) << *json;
    EXPECT_EQ(std::count(json->begin(), json->end(), '\n'), 1);
  }
  proto::Job running = DoneJob(proto::COUNT);
  running.set_state(proto::RUNNING);
  EXPECT_EQ(ToJson(running)->find("\"result\""), std::string::npos)
      << *ToJson(running);
  proto::JobList list;
  *list.add_jobs() = DoneJob(proto::TWINS);
  *list.add_jobs() = running;
  const auto both = ToJson(list);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->rfind("{\"jobs\":[{\"job_id\":\"7\"", 0), 0u) << *both;
  EXPECT_NE(both->find("\"result\":{\"twins\":\"1224\"}},{\"job_id\""),
            std::string::npos)
      << *both;
  EXPECT_TRUE(absl::EndsWith(*both, "}]}\n")) << *both;
  EXPECT_EQ(*ToJson(proto::JobList()), "{\"jobs\":[]}\n");
}

TEST(ToJsonTest, ACancelledJobsPartialHasItsKindsFieldsUnderPartial) {
  proto::Job job = DoneJob(proto::GAPS);
  job.clear_result();
  job.set_state(proto::CANCELLED);
  job.mutable_partial()->set_max_gap(52);
  job.mutable_partial()->set_max_gap_start(19609);
  job.mutable_partial_range()->set_hi(40000);
  const auto json = ToJson(job);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->find("\"result\""), std::string::npos) << *json;
  EXPECT_NE(json->find("\"partial_range\":{\"lo\":\"0\",\"hi\":\"40000\"}"),
            std::string::npos)
      << *json;
  EXPECT_TRUE(absl::EndsWith(
      *json,
      ",\"partial\":{\"max_gap\":\"52\",\"max_gap_start\":\"19609\","
      "\"first_gaps\":[],\"maximal_gaps\":[]}}\n"))
      << *json;
}

}  // namespace
}  // namespace quark
