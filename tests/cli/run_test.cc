#include "controller/cli/run.h"

#include <deque>
#include <string>
#include <utility>
#include <vector>

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
            "job 7 cancelled\n");
  EXPECT_EQ(RunCommand(Parse("drain pi1"), api, RunOptions()).out,
            "node pi1 draining\n");
  const std::string json =
      RunCommand(Parse("drain pi1 --json"), api, RunOptions()).out;
  EXPECT_NE(json.find("\"state\":\"DRAINING\""), std::string::npos) << json;
  EXPECT_EQ(
      RunCommand(Parse("nodes"), api, RunOptions()).out.find("(no nodes)"),
      std::string(
          "NAME  STATE  CORES  THREADS  LEASES  TASKS  RATE  LAST_HEARD  KEY\n")
          .size());
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

}  // namespace
}  // namespace quark
