#include "cli/run.h"

#include <unistd.h>

#include <deque>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

// Answers calls from a script and records what was asked.
class ScriptedApi : public ApiCaller {
 public:
  void Then(absl::StatusOr<proto::ApiReply> reply) {
    replies_.push_back(std::move(reply));
  }
  void ThenJob(const proto::Job& job) {
    proto::ApiReply reply;
    *reply.mutable_job() = job;
    Then(reply);
  }

  absl::StatusOr<proto::ApiReply> Call(proto::ApiRequest request,
                                       absl::Duration timeout) override {
    requests.push_back(request);
    timeouts.push_back(timeout);
    if (replies_.empty()) return absl::InternalError("script exhausted");
    auto reply = std::move(replies_.front());
    replies_.pop_front();
    return reply;
  }

  std::vector<proto::ApiRequest> requests;
  std::vector<absl::Duration> timeouts;

 private:
  std::deque<absl::StatusOr<proto::ApiReply>> replies_;
};

Command Parse(const std::string& line) {
  auto command = ParseCommand(absl::StrSplit(line, ' '), "");
  EXPECT_TRUE(command.ok()) << line << ": " << command.status();
  return *command;
}

proto::Job Job(proto::JobState state, uint64_t version) {
  proto::Job job;
  job.set_job_id(7);
  job.set_kind(proto::COUNT);
  job.mutable_range()->set_hi(100000);
  job.set_state(state);
  job.set_version(version);
  if (state == proto::DONE) job.mutable_result()->set_count(9592);
  return job;
}

TEST(BuildRequestTest, SubmitCarriesKindRangeAndPriority) {
  const proto::ApiRequest r =
      BuildRequest(Parse("submit gaps 10 1e6 --priority 5"));
  ASSERT_TRUE(r.has_submit());
  EXPECT_EQ(r.submit().kind(), proto::GAPS);
  EXPECT_EQ(r.submit().range().lo(), 10u);
  EXPECT_EQ(r.submit().range().hi(), 1000000u);
  EXPECT_EQ(r.submit().priority(), 5);
  EXPECT_EQ(BuildRequest(Parse("cancel 3")).cancel().job_id(), 3u);
  EXPECT_EQ(BuildRequest(Parse("job 4")).get_job().job_id(), 4u);
  EXPECT_EQ(BuildRequest(Parse("drain pi1")).drain().node(), "pi1");
  EXPECT_EQ(BuildRequest(Parse("undrain pi1")).undrain().node(), "pi1");
  EXPECT_TRUE(BuildRequest(Parse("jobs")).has_list_jobs());
  EXPECT_TRUE(BuildRequest(Parse("nodes")).has_list_nodes());
}

TEST(RunTest, KeygenMakesTheFolderAndItsErrorsExit2) {
  const std::string dir = testing::TempDir() + "run_test_keygen_" +
                          std::to_string(::getpid()) + "/quark";
  ScriptedApi api;
  const Outcome made =
      RunCommand(Parse("keygen ctl --dir " + dir), api, RunOptions());
  ASSERT_TRUE(made.status.ok()) << made.status;
  EXPECT_EQ(made.out.rfind("wrote " + dir + "/ctl.key", 0), 0u) << made.out;
  // Again: the pair exists. A local problem, not an unreachable controller.
  const Outcome again =
      RunCommand(Parse("keygen ctl --dir " + dir), api, RunOptions());
  EXPECT_EQ(ExitCode(again.status), 2);
  EXPECT_NE(again.status.message().find("exists"), absl::string_view::npos)
      << again.status;
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
}

TEST(RunTest, JobsTakesALimitAndStates) {
  proto::ApiReply reply;
  for (uint64_t id : {3, 1, 2, 4}) {
    proto::Job* job = reply.mutable_jobs()->add_jobs();
    job->set_job_id(id);
    job->set_kind(proto::COUNT);
    job->set_state(id % 2 == 0 ? proto::DONE : proto::FAILED);
  }
  auto ids = [](const std::string& table) {
    std::vector<std::string> out;
    for (absl::string_view line :
         absl::StrSplit(table, '\n', absl::SkipEmpty())) {
      out.emplace_back(line.substr(0, line.find(' ')));
    }
    return out;
  };
  using V = std::vector<std::string>;
  auto run = [&](const std::string& line, bool terminal) {
    ScriptedApi api;
    api.Then(reply);
    RunOptions options;
    options.terminal = terminal;
    return RunCommand(Parse(line), api, options);
  };
  EXPECT_EQ(ids(run("jobs", false).out), (V{"ID", "1", "2", "3", "4"}));
  EXPECT_EQ(ids(run("jobs --limit 2", false).out), (V{"ID", "3", "4", "(2"}));
  EXPECT_EQ(run("jobs --limit 3", false)
                .out.substr(run("jobs --limit 3", false).out.rfind('(')),
            "(1 older job not shown: --limit 0 shows all)\n");
  EXPECT_EQ(ids(run("jobs --state done", false).out), (V{"ID", "2", "4"}));
  EXPECT_EQ(ids(run("jobs --state=failed,done --limit=1", false).out),
            (V{"ID", "4", "(3"}));
  // JSON: the same selection, and no note.
  const std::string json = run("jobs --state failed --json", true).out;
  EXPECT_EQ(json.find("\"job_id\":\"2\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"job_id\":\"3\""), std::string::npos) << json;
}

TEST(RunTest, SubmitPrintsTheJobId) {
  ScriptedApi api;
  api.ThenJob(Job(proto::QUEUED, 1));
  const Outcome outcome =
      RunCommand(Parse("submit count 1e5"), api, RunOptions());
  EXPECT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_EQ(outcome.out, "job 7\n");
  ASSERT_EQ(api.timeouts.size(), 1u);
  EXPECT_EQ(api.timeouts[0], absl::Seconds(5));
}

TEST(RunTest, SubmitWaitWatchesUntilDoneAndPrintsTheBareResult) {
  ScriptedApi api;
  api.ThenJob(Job(proto::QUEUED, 1));
  api.ThenJob(Job(proto::RUNNING, 4));
  api.ThenJob(Job(proto::RUNNING, 4));  // a long poll that timed out
  api.ThenJob(Job(proto::DONE, 9));
  std::vector<uint64_t> seen;
  RunOptions options;
  options.progress = [&seen](const proto::Job& job) {
    seen.push_back(job.version());
  };
  const Outcome outcome =
      RunCommand(Parse("submit count 1e5 --wait --timeout 2s"), api, options);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_EQ(outcome.out, "9592\n");
  ASSERT_EQ(api.requests.size(), 4u);
  const std::vector<uint64_t> after = {1, 4, 4};
  for (size_t i = 1; i < 4; ++i) {
    const proto::Watch& w = api.requests[i].watch();
    EXPECT_EQ(w.job_id(), 7u);
    EXPECT_EQ(w.after_version(), after[i - 1]);
    EXPECT_EQ(w.timeout_ms(), 1000u);
    EXPECT_EQ(api.timeouts[i], absl::Seconds(3));
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 4, 4, 9}));
}

TEST(RunTest, AWaitCutShortSaysTheJobGoesOnAndHowToFollowIt) {
  ScriptedApi interrupted;
  interrupted.ThenJob(Job(proto::RUNNING, 1));
  interrupted.Then(absl::CancelledError("interrupted"));  // Ctrl-C
  Outcome outcome =
      RunCommand(Parse("submit count 1e5 --wait"), interrupted, RunOptions());
  EXPECT_TRUE(absl::IsCancelled(outcome.status));
  EXPECT_EQ(outcome.status.message(),
            "interrupted; job 7 goes on: `quark job 7 --wait` follows it, "
            "`quark cancel 7` stops it");

  ScriptedApi silent;
  silent.ThenJob(Job(proto::RUNNING, 1));
  silent.Then(absl::DeadlineExceededError("cannot reach the controller at X"));
  outcome = RunCommand(Parse("job 7 --wait"), silent, RunOptions());
  EXPECT_EQ(ExitCode(outcome.status), 3);
  EXPECT_EQ(
      outcome.status.message(),
      "cannot reach the controller at X; job 7 goes on where the controller "
      "keeps it: `quark job 7 --wait` follows it again once it answers");
}

TEST(RunTest, WaitOnAFailedJobExits1WithItsError) {
  ScriptedApi api;
  proto::Job failed = Job(proto::FAILED, 5);
  failed.set_error("task 3 failed 5 times");
  api.ThenJob(Job(proto::RUNNING, 2));
  api.ThenJob(failed);
  const Outcome outcome = RunCommand(Parse("job 7 --wait"), api, RunOptions());
  EXPECT_EQ(outcome.out, "");
  EXPECT_EQ(outcome.status.message(), "job 7 failed: task 3 failed 5 times");
  EXPECT_EQ(ExitCode(outcome.status), 1);
  EXPECT_TRUE(api.requests[0].has_get_job());
}

TEST(RunTest, WaitJsonOnACancelledJobPrintsTheFinalJobAndExits1) {
  ScriptedApi api;
  api.ThenJob(Job(proto::CANCELLED, 3));
  const Outcome outcome =
      RunCommand(Parse("job 7 --wait --json"), api, RunOptions());
  EXPECT_NE(outcome.out.find("\"state\":\"CANCELLED\""), std::string::npos)
      << outcome.out;
  EXPECT_EQ(outcome.status.message(), "job 7 was cancelled");

  ScriptedApi partly;
  proto::Job cancelled = Job(proto::CANCELLED, 3);
  cancelled.mutable_partial()->set_count(4203);
  cancelled.mutable_partial_range()->set_hi(40000);
  partly.ThenJob(cancelled);
  EXPECT_EQ(
      RunCommand(Parse("job 7 --wait"), partly, RunOptions()).status.message(),
      "job 7 was cancelled; 4203 for 0..40000 (partial: the first 40.0% of the "
      "range)");
  EXPECT_EQ(ExitCode(outcome.status), 1);
  EXPECT_EQ(api.requests.size(), 1u) << "an ended job is not watched";
}

TEST(RunTest, WaitJsonOnADoneJobPrintsTheJob) {
  ScriptedApi api;
  api.ThenJob(Job(proto::DONE, 3));
  const Outcome outcome =
      RunCommand(Parse("submit count 1e5 --wait --json"), api, RunOptions());
  EXPECT_TRUE(outcome.status.ok());
  EXPECT_NE(outcome.out.find("\"result\":{\"count\":\"9592\""),
            std::string::npos)
      << outcome.out;
}

TEST(RunTest, JobWithoutWaitExits0WhateverItsState) {
  ScriptedApi api;
  api.ThenJob(Job(proto::FAILED, 3));
  const Outcome outcome = RunCommand(Parse("job 7"), api, RunOptions());
  EXPECT_TRUE(outcome.status.ok());
  EXPECT_EQ(outcome.out.rfind("id: 7\n", 0), 0u) << outcome.out;
  EXPECT_NE(outcome.out.find("\nstate: failed\n"), std::string::npos);
}

TEST(RunTest, ControllerErrorsAndTimeoutsPassThrough) {
  ScriptedApi api;
  api.Then(absl::NotFoundError("no job 9"));
  api.Then(absl::FailedPreconditionError("job 7 is already done"));
  api.Then(absl::DeadlineExceededError("cannot reach the controller"));
  EXPECT_EQ(ExitCode(RunCommand(Parse("job 9"), api, RunOptions()).status), 2);
  EXPECT_EQ(ExitCode(RunCommand(Parse("cancel 7"), api, RunOptions()).status),
            1);
  EXPECT_EQ(ExitCode(RunCommand(Parse("nodes"), api, RunOptions()).status), 3);
}

TEST(RunTest, AReplyOfTheWrongShapeIsAnError) {
  ScriptedApi api;
  api.ThenJob(Job(proto::DONE, 3));
  const Outcome outcome = RunCommand(Parse("nodes"), api, RunOptions());
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kInternal);
}

TEST(RunTest, ShortRepliesAndJson) {
  ScriptedApi api;
  api.ThenJob(Job(proto::CANCELLED, 3));
  proto::ApiReply node;
  node.mutable_node()->set_name("pi1");
  node.mutable_node()->set_state(proto::DRAINING);
  api.Then(node);
  api.Then(node);
  proto::ApiReply nodes;
  nodes.mutable_nodes();
  api.Then(nodes);
  EXPECT_EQ(RunCommand(Parse("cancel 7"), api, RunOptions()).out,
            "job 7 cancelled at 0.0%\n");
  EXPECT_EQ(RunCommand(Parse("drain pi1"), api, RunOptions()).out,
            "node pi1 drained: no work left on it, safe to remove\n");
  const std::string json =
      RunCommand(Parse("drain pi1 --json"), api, RunOptions()).out;
  EXPECT_NE(json.find("\"state\":\"DRAINING\""), std::string::npos) << json;
  EXPECT_EQ(
      RunCommand(Parse("nodes"), api, RunOptions()).out.find("(no nodes)"),
      std::string("NAME  STATE  CORES  THREADS  LEASES  SIEVE  TASKS  RATE  "
                  "TEMP  HEALTH  LAST_HEARD  KEY\n")
          .size());
}

TEST(RunCommandTest, TopShowsFramesAndOutlivesASilentController) {
  ScriptedApi api;
  proto::ApiReply nodes;
  proto::Node* node = nodes.mutable_nodes()->add_nodes();
  node->set_name("pi1");
  node->set_state(proto::ACTIVE);
  node->set_temperature_celsius(61.2);
  proto::ApiReply jobs;
  proto::Job running = Job(proto::RUNNING, 3);
  running.set_progress(0.5);
  *jobs.mutable_jobs()->add_jobs() = Job(proto::DONE, 9);
  *jobs.mutable_jobs()->add_jobs() = running;
  jobs.mutable_jobs()->mutable_jobs(1)->set_job_id(8);
  api.Then(nodes);
  api.Then(jobs);
  api.Then(absl::UnavailableError("the controller did not answer within 5s"));
  api.Then(nodes);
  api.Then(jobs);
  std::vector<std::string> frames;
  int pauses = 0;
  RunOptions options;
  options.show = [&](const std::string& frame) { frames.push_back(frame); };
  options.pause = [&](absl::Duration wait) {
    EXPECT_EQ(wait, absl::Milliseconds(500));
    return ++pauses < 10;
  };
  const Outcome outcome =
      RunCommand(Parse("top --interval=500ms --iterations=3"), api, options);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status;
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(pauses, 2);
  EXPECT_TRUE(absl::StrContains(frames[0], "1 node, 1 job running, 0 queued"))
      << frames[0];
  EXPECT_TRUE(absl::StrContains(frames[0], "61.2C")) << frames[0];
  EXPECT_TRUE(absl::StrContains(frames[0],
                                "[##########..........] job 8: running 50.0%"))
      << frames[0];
  EXPECT_TRUE(absl::StrContains(frames[0], "ended lately:\njob 7 count "))
      << frames[0];
  EXPECT_TRUE(absl::StrContains(frames[1],
                                "did not answer within 5s; asking "
                                "again every 500ms"))
      << frames[1];
  EXPECT_TRUE(absl::StrContains(frames[2], "job 8: running")) << frames[2];
}

TEST(RunCommandTest, TopNotOnATerminalPrintsOneFrame) {
  ScriptedApi api;
  proto::ApiReply nodes;
  nodes.mutable_nodes();
  proto::ApiReply jobs;
  jobs.mutable_jobs();
  api.Then(nodes);
  api.Then(jobs);
  RunOptions options;  // not a terminal, no show: frames go into out
  options.pause = [](absl::Duration) {
    ADD_FAILURE() << "one frame needs no pause";
    return true;
  };
  const Outcome outcome = RunCommand(Parse("top"), api, options);
  EXPECT_TRUE(outcome.status.ok());
  EXPECT_TRUE(absl::StartsWith(outcome.out, "quark top, ")) << outcome.out;
  EXPECT_EQ(api.requests.size(), 2u);
}

TEST(RunCommandTest, TopEndsAtCtrlC) {
  ScriptedApi api;
  proto::ApiReply nodes;
  nodes.mutable_nodes();
  proto::ApiReply jobs;
  jobs.mutable_jobs();
  api.Then(nodes);
  api.Then(jobs);
  RunOptions options;
  int shown = 0;
  options.show = [&](const std::string&) { ++shown; };
  options.pause = [](absl::Duration) { return false; };  // interrupted
  options.terminal = true;                               // until Ctrl-C
  const Outcome outcome = RunCommand(Parse("top"), api, options);
  EXPECT_TRUE(outcome.status.ok());  // the way to end it: exit 0
  EXPECT_EQ(shown, 1);
  EXPECT_FALSE(ParseCommand({"top", "--interval=10ms"}, "").ok());
  EXPECT_FALSE(ParseCommand({"top", "--iterations=-1"}, "").ok());
}

TEST(BuildRequestTest, TokenCommands) {
  const proto::ApiRequest create = BuildRequest(Parse("token create"));
  ASSERT_TRUE(create.has_create_token());
  EXPECT_EQ(create.create_token().ttl_ms(), 24u * 3600 * 1000);
  EXPECT_EQ(create.create_token().uses(), 0u) << "unlimited";
  EXPECT_FALSE(create.create_token().approve());
  const proto::ApiRequest flags =
      BuildRequest(Parse("token create --ttl 1h30m --uses 3 --approve"));
  EXPECT_EQ(flags.create_token().ttl_ms(), 90u * 60 * 1000);
  EXPECT_EQ(flags.create_token().uses(), 3u);
  EXPECT_TRUE(flags.create_token().approve());
  EXPECT_EQ(BuildRequest(Parse("token create --ttl 0")).create_token().ttl_ms(),
            0u)
      << "never expires";
  EXPECT_EQ(
      BuildRequest(Parse("token create --ttl 7d")).create_token().ttl_ms(),
      7u * 24 * 3600 * 1000);
  EXPECT_TRUE(BuildRequest(Parse("token list")).has_list_tokens());
  EXPECT_EQ(BuildRequest(Parse("token revoke 3FK2ABCD")).revoke_token().id(),
            "3fk2abcd");
}

TEST(BuildRequestTest, EnrollmentCommands) {
  EXPECT_TRUE(BuildRequest(Parse("nodes --pending")).has_list_pending());
  EXPECT_EQ(BuildRequest(Parse("approve pi7")).approve().name(), "pi7");
  EXPECT_EQ(BuildRequest(Parse("reject pi7")).reject().name(), "pi7");
}

constexpr char kToken[] =
    "qk1_3fk2abcd_aaaaaaaaaaaaaaaaaaaaaaaaaa_"
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb_cccc";

proto::ApiReply TokenReply(bool with_secret) {
  proto::ApiReply reply;
  proto::Token* token = reply.mutable_token();
  token->set_id("3fk2abcd");
  if (with_secret) token->set_token(kToken);
  token->set_created_ms(1700000000000);
  token->set_expires_ms(1700000000000 + 24 * 3600 * 1000);
  token->set_state(proto::TOKEN_ACTIVE);
  return reply;
}

TEST(RunTest, TokenCreatePrintsTheTokenAloneAndNotesOnStderr) {
  ScriptedApi api;
  api.Then(TokenReply(true));
  const Outcome outcome = RunCommand(Parse("token create"), api, RunOptions());
  EXPECT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_EQ(outcome.out, absl::StrCat(kToken, "\n"));
  EXPECT_EQ(outcome.err,
            absl::StrCat("token 3fk2abcd: expires 2023-11-15 22:13 UTC (in "
                         "24h), unlimited uses\n"
                         "on each node: sudo quark-worker join ",
                         kToken, "\n"));
  ASSERT_EQ(api.requests.size(), 1u);
  EXPECT_TRUE(api.requests[0].has_create_token());
}

TEST(RunTest, TokenCreateJsonIsOneDocumentWithIdAndToken) {
  ScriptedApi api;
  api.Then(TokenReply(true));
  const Outcome outcome =
      RunCommand(Parse("token create --json"), api, RunOptions());
  EXPECT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_EQ(outcome.out.rfind("{", 0), 0u) << outcome.out;
  EXPECT_EQ(outcome.out.find('\n'), outcome.out.size() - 1) << outcome.out;
  EXPECT_NE(outcome.out.find("\"id\":\"3fk2abcd\""), std::string::npos)
      << outcome.out;
  EXPECT_NE(outcome.out.find(absl::StrCat("\"token\":\"", kToken, "\"")),
            std::string::npos)
      << outcome.out;
  EXPECT_EQ(outcome.err, "");
}

TEST(RunTest, TokenCreateWithoutATokenInTheReplyIsAnError) {
  ScriptedApi api;
  api.Then(TokenReply(false));
  const Outcome outcome = RunCommand(Parse("token create"), api, RunOptions());
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(outcome.out, "");
}

TEST(RunTest, TokenListRevokeAndNotFound) {
  ScriptedApi api;
  proto::ApiReply list;
  proto::Token* listed = list.mutable_tokens()->add_tokens();
  *listed = TokenReply(false).token();
  listed->set_uses(2);
  listed->set_used(1);
  listed->set_uses_left(1);
  api.Then(list);
  api.Then(TokenReply(false));
  api.Then(absl::NotFoundError("no token 3fk2abce"));
  const Outcome listing = RunCommand(Parse("token list"), api, RunOptions());
  EXPECT_TRUE(listing.status.ok()) << listing.status;
  EXPECT_EQ(listing.out,
            "ID        CREATED                  EXPIRES                  "
            "USED  USES_LEFT  APPROVE  STATE\n"
            "3fk2abcd  2023-11-14 22:13:20 UTC  2023-11-15 22:13:20 UTC  "
            "1     1          no       active\n");
  const Outcome revoked =
      RunCommand(Parse("token revoke 3fk2abcd"), api, RunOptions());
  EXPECT_EQ(revoked.out,
            "token 3fk2abcd revoked: it lets no more nodes join; nodes that "
            "joined with it stay (quark reject NAME removes one)\n");
  const Outcome unknown =
      RunCommand(Parse("token revoke 3fk2abce"), api, RunOptions());
  EXPECT_EQ(ExitCode(unknown.status), 2);
  EXPECT_EQ(unknown.status.message(), "no token 3fk2abce");
  EXPECT_EQ(api.requests[2].revoke_token().id(), "3fk2abce");
}

TEST(RunTest, TokenListJson) {
  ScriptedApi api;
  proto::ApiReply list;
  list.mutable_tokens();
  api.Then(list);
  api.Then(list);
  EXPECT_EQ(RunCommand(Parse("token list --json"), api, RunOptions()).out,
            "{\"tokens\":[]}\n");
  EXPECT_EQ(
      RunCommand(Parse("token list"), api, RunOptions()).out,
      "ID  CREATED  EXPIRES  USED  USES_LEFT  APPROVE  STATE\n(no tokens)\n");
}

TEST(RunTest, PendingApproveAndReject) {
  ScriptedApi api;
  proto::ApiReply pending;
  proto::EnrolledNode* node = pending.mutable_enrolled()->add_nodes();
  node->set_name("pi7");
  node->set_key("Cs?(=SbPRcT:PkqSTg1sbjD9jo48USO}:nx8PB1j");
  node->set_token_id("3fk2abcd");
  node->set_address("192.168.1.23");
  node->set_state(proto::ENROLL_PENDING);
  api.Then(pending);
  api.Then(pending);
  proto::ApiReply decided;
  *decided.mutable_enrolled_node() = *node;
  decided.mutable_enrolled_node()->set_state(proto::ENROLL_APPROVED);
  api.Then(decided);
  api.Then(decided);
  decided.mutable_enrolled_node()->set_state(proto::ENROLL_REJECTED);
  api.Then(decided);
  api.Then(absl::NotFoundError("no node pi8 waits for approval"));

  const Outcome table = RunCommand(Parse("nodes --pending"), api, RunOptions());
  EXPECT_TRUE(table.status.ok()) << table.status;
  EXPECT_EQ(table.out.rfind("NAME  KEY", 0), 0u) << table.out;
  EXPECT_NE(
      table.out.find("\npi7   Cs?(=SbPRcT:...  192.168.1.23  3fk2abcd  -\n"),
      std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("approve with: quark approve NAME"),
            std::string::npos);
  const std::string json =
      RunCommand(Parse("nodes --pending --json"), api, RunOptions()).out;
  EXPECT_EQ(json.rfind("{\"nodes\":[{\"name\":\"pi7\"", 0), 0u) << json;
  EXPECT_NE(json.find("\"state\":\"ENROLL_PENDING\""), std::string::npos)
      << json;
  EXPECT_EQ(RunCommand(Parse("approve pi7"), api, RunOptions()).out,
            "node pi7 approved: it joins at its next attempt\n");
  const std::string approved =
      RunCommand(Parse("approve pi7 --json"), api, RunOptions()).out;
  EXPECT_NE(approved.find("\"state\":\"ENROLL_APPROVED\""), std::string::npos)
      << approved;
  EXPECT_EQ(RunCommand(Parse("reject pi7"), api, RunOptions()).out,
            "node pi7 rejected: its key is refused from now on\n");
  EXPECT_EQ(
      ExitCode(RunCommand(Parse("approve pi8"), api, RunOptions()).status), 2);
  ASSERT_EQ(api.requests.size(), 6u);
  EXPECT_TRUE(api.requests[0].has_list_pending());
  EXPECT_EQ(api.requests[2].approve().name(), "pi7");
  EXPECT_EQ(api.requests[4].reject().name(), "pi7");
}

TEST(RunTest, RepliesOfTheWrongShapeForTheNewCommandsAreErrors) {
  ScriptedApi api;
  proto::ApiReply nodes;
  nodes.mutable_nodes();
  for (const char* line : {"nodes --pending", "token create", "token list",
                           "token revoke 3fk2abcd", "approve pi7"}) {
    api.Then(nodes);
    const Outcome outcome = RunCommand(Parse(line), api, RunOptions());
    EXPECT_EQ(outcome.status.code(), absl::StatusCode::kInternal) << line;
    EXPECT_EQ(outcome.out, "") << line;
  }
}

TEST(RunTest, TokenHelpCoversItsSubcommands) {
  ScriptedApi api;
  for (const char* line : {"token --help", "help token", "token create -h"}) {
    const Outcome help = RunCommand(Parse(line), api, RunOptions());
    EXPECT_TRUE(help.status.ok());
    EXPECT_EQ(help.out.rfind("Usage: quark token create", 0), 0u) << help.out;
    for (const char* part :
         {"quark token list", "quark token revoke ID", "--ttl DURATION",
          "24h (default)", "--ttl 0: it", "never expires",
          "a leaked token works until it is revoked", "--uses N",
          "1 to 1000000", "--approve", "quark approve NAME",
          "TOKEN=$(quark token create)", "quark reject NAME"}) {
      EXPECT_NE(help.out.find(part), std::string::npos) << part;
    }
  }
  const std::string overview =
      RunCommand(Parse("--help"), api, RunOptions()).out;
  for (const char* part : {"token create", "token list", "token revoke ID",
                           "approve NAME", "reject NAME", "--pending"}) {
    EXPECT_NE(overview.find(part), std::string::npos) << part;
  }
  EXPECT_NE(RunCommand(Parse("nodes --help"), api, RunOptions())
                .out.find("--pending"),
            std::string::npos);
  EXPECT_TRUE(api.requests.empty());
}

TEST(RunTest, HelpNeedsNoController) {
  ScriptedApi api;
  const Outcome help = RunCommand(Parse("submit --help"), api, RunOptions());
  EXPECT_TRUE(help.status.ok());
  EXPECT_EQ(help.out.rfind("Usage: quark submit KIND [LO] HI", 0), 0u);
  for (const char* part : {"inclusive", "1e10", "2^64-1", "Exit codes:"}) {
    EXPECT_NE(help.out.find(part), std::string::npos) << part;
  }
  EXPECT_EQ(RunCommand(Parse("--help"), api, RunOptions())
                .out.rfind("Usage: quark", 0),
            0u);
  EXPECT_TRUE(api.requests.empty());
}

TEST(RunTest, ACommandsHelpIsItsOwnWithTheGlobalOptionsInBrief) {
  ScriptedApi api;
  const std::string submit =
      RunCommand(Parse("submit --help"), api, RunOptions()).out;
  // Named once, explained in `quark --help` only.
  EXPECT_NE(
      submit.find(
          "Global options (`quark --help` explains them): --controller EP"),
      std::string::npos)
      << submit;
  EXPECT_EQ(submit.find("$QUARK_CONTROLLER"), std::string::npos) << submit;
  EXPECT_NE(RunCommand(Parse("--help"), api, RunOptions())
                .out.find("$QUARK_CONTROLLER"),
            std::string::npos);
  // keygen talks to no controller: no controller options at all.
  const std::string keygen =
      RunCommand(Parse("keygen --help"), api, RunOptions()).out;
  EXPECT_EQ(keygen.find("--controller"), std::string::npos) << keygen;
  EXPECT_NE(keygen.find("Exit codes: 0 the pair was written; 2"),
            std::string::npos);
}

// ------------------------------------------------- long jobs and --yes

proto::ApiReply NodesWithSpeed(double speed, int nodes) {
  proto::ApiReply reply;
  for (int i = 0; i < nodes; ++i) {
    proto::Node* node = reply.mutable_nodes()->add_nodes();
    node->set_name(absl::StrCat("pi", i));
    node->set_state(proto::ACTIVE);
    node->set_threads(4);
    node->set_speed(speed);
  }
  return reply;
}

TEST(RunTest, ShortJobAsksNothingAndCallsOnce) {
  ScriptedApi api;
  api.ThenJob(Job(proto::QUEUED, 1));
  RunOptions options;
  options.confirm = [](const std::string&) -> bool {
    ADD_FAILURE() << "asked about a short job";
    return false;
  };
  const Outcome out = RunCommand(Parse("submit count 1e12"), api, options);
  EXPECT_TRUE(out.status.ok()) << out.status;
  ASSERT_EQ(api.requests.size(), 1u);  // no ListNodes for an ordinary job
  EXPECT_TRUE(api.requests[0].has_submit());
}

TEST(RunTest, LongJobIsAskedAboutOnATerminal) {
  // 0 to 2^64 on two slow nodes: centuries.
  for (bool answer : {false, true}) {
    ScriptedApi api;
    api.Then(NodesWithSpeed(0.5, 2));
    api.ThenJob(Job(proto::QUEUED, 1));
    std::string asked;
    RunOptions options;
    options.confirm = [&](const std::string& question) {
      asked = question;
      return answer;
    };
    const Outcome out = RunCommand(Parse("submit count 2^64-1"), api, options);
    EXPECT_NE(asked.find("days on the 2 nodes"), std::string::npos) << asked;
    EXPECT_NE(asked.find("[y/N]"), std::string::npos) << asked;
    ASSERT_TRUE(api.requests[0].has_list_nodes());
    if (answer) {
      EXPECT_TRUE(out.status.ok()) << out.status;
      ASSERT_EQ(api.requests.size(), 2u);
      EXPECT_TRUE(api.requests[1].has_submit());
    } else {
      EXPECT_FALSE(out.status.ok());
      EXPECT_NE(out.status.message().find("--yes"), std::string::npos);
      EXPECT_EQ(api.requests.size(), 1u);  // nothing submitted
    }
  }
}

TEST(RunTest, LongJobOffATerminalIsSubmittedWithTheEstimate) {
  ScriptedApi api;
  api.Then(NodesWithSpeed(0, 1));  // not measured yet: assumed slow
  api.ThenJob(Job(proto::QUEUED, 1));
  const Outcome out =
      RunCommand(Parse("submit count 1e18 1e18+1e15"), api, RunOptions());
  EXPECT_TRUE(out.status.ok()) << out.status;
  EXPECT_NE(out.err.find("note: job 7: this job would take about"),
            std::string::npos)
      << out.err;
  EXPECT_NE(out.err.find("assumed"), std::string::npos) << out.err;
  EXPECT_EQ(out.out, "job 7\n");
}

TEST(RunTest, TheEstimateIsToldBeforeALongWait) {
  ScriptedApi api;
  api.Then(NodesWithSpeed(1, 1));
  api.ThenJob(Job(proto::DONE, 2));
  std::vector<std::string> notes;
  RunOptions options;
  options.note = [&](const std::string& note) {
    notes.push_back(note);
    // Told once the job exists, before the wait's first call.
    EXPECT_EQ(api.requests.size(), 2u);
  };
  const Outcome out =
      RunCommand(Parse("submit count 1e18 1e18+1e15 --wait"), api, options);
  EXPECT_TRUE(out.status.ok()) << out.status;
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("note: job 7: this job would take about"),
            std::string::npos);
  EXPECT_EQ(out.err.find("note:"), std::string::npos) << out.err;
}

TEST(RunTest, YesSkipsTheQuestion) {
  ScriptedApi api;
  api.ThenJob(Job(proto::QUEUED, 1));
  RunOptions options;
  options.confirm = [](const std::string&) -> bool {
    ADD_FAILURE() << "asked despite --yes";
    return false;
  };
  const Outcome out =
      RunCommand(Parse("submit count 2^64-1 --yes"), api, options);
  EXPECT_TRUE(out.status.ok()) << out.status;
  ASSERT_EQ(api.requests.size(), 1u);
  EXPECT_TRUE(api.requests[0].has_submit());
}

}  // namespace
}  // namespace quark
