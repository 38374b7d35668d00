#include "cli/client.h"

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/command.h"
#include "cli/run.h"
#include "common/transport.h"
#include "gtest/gtest.h"
#include "tests/cli/fake_controller.h"

namespace quark {
namespace {

using Frames = std::vector<std::string>;

proto::ApiRequest GetJob(uint64_t id) {
  proto::ApiRequest request;
  request.mutable_get_job()->set_job_id(id);
  return request;
}

proto::ApiReply JobReply(const proto::ApiRequest& request) {
  proto::ApiReply reply = FakeController::ReplyTo(request);
  reply.mutable_job()->set_job_id(request.get_job().job_id());
  reply.mutable_job()->set_state(proto::RUNNING);
  return reply;
}

proto::ApiReply ErrorReply(const proto::ApiRequest& request,
                           proto::ApiError::Code code,
                           const std::string& text) {
  proto::ApiReply reply = FakeController::ReplyTo(request);
  reply.mutable_error()->set_code(code);
  reply.mutable_error()->set_message(text);
  return reply;
}

proto::ApiRequest WithBody(const std::string& which) {
  proto::ApiRequest request;
  if (which == "submit") request.mutable_submit()->set_kind(proto::COUNT);
  if (which == "cancel") request.mutable_cancel()->set_job_id(7);
  if (which == "watch") request.mutable_watch()->set_job_id(7);
  if (which == "get_job") request.mutable_get_job()->set_job_id(7);
  if (which == "list_jobs") request.mutable_list_jobs();
  if (which == "list_nodes") request.mutable_list_nodes();
  if (which == "drain") request.mutable_drain()->set_node("pi1");
  if (which == "undrain") request.mutable_undrain()->set_node("pi1");
  if (which == "create_token") request.mutable_create_token()->set_uses(1);
  if (which == "list_tokens") request.mutable_list_tokens();
  if (which == "revoke_token") request.mutable_revoke_token()->set_id("x");
  if (which == "list_pending") request.mutable_list_pending();
  if (which == "approve") request.mutable_approve()->set_name("pi1");
  if (which == "reject") request.mutable_reject()->set_name("pi1");
  return request;
}

// Short intervals keep each test well under the defaults' seconds.
ApiClientOptions Fast() {
  ApiClientOptions options;
  options.retry_interval = absl::Milliseconds(100);
  return options;
}

Command Parse(const std::string& line) {
  auto command = ParseCommand(absl::StrSplit(line, ' '), "");
  EXPECT_TRUE(command.ok()) << line << ": " << command.status();
  return *command;
}

RunOptions FastWatch() {
  RunOptions options;
  options.watch_interval = absl::Milliseconds(100);
  return options;
}

proto::Job Job(proto::JobState state, uint64_t version) {
  proto::Job job;
  job.set_job_id(7);
  job.set_kind(proto::COUNT);
  job.set_state(state);
  job.set_version(version);
  if (state == proto::DONE) job.mutable_result()->set_count(9592);
  return job;
}

Frames JobFrames(const proto::ApiRequest& request, const proto::Job& job) {
  proto::ApiReply reply = FakeController::ReplyTo(request);
  *reply.mutable_job() = job;
  return {FakeController::Serialize(reply)};
}

size_t Watches(const std::vector<proto::ApiRequest>& requests) {
  size_t n = 0;
  for (const proto::ApiRequest& r : requests) n += r.has_watch() ? 1 : 0;
  return n;
}

struct ResendableCase {
  const char* body;
  bool resendable;
};

class ResendableTest : public testing::TestWithParam<ResendableCase> {};

TEST_P(ResendableTest, OnlyRequestsSafeToRepeat) {
  EXPECT_EQ(Resendable(WithBody(GetParam().body)), GetParam().resendable)
      << GetParam().body;
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, ResendableTest,
    testing::Values(
        ResendableCase{"submit", false}, ResendableCase{"cancel", false},
        ResendableCase{"watch", true}, ResendableCase{"get_job", true},
        ResendableCase{"list_jobs", true}, ResendableCase{"list_nodes", true},
        ResendableCase{"drain", true}, ResendableCase{"undrain", true},
        ResendableCase{"create_token", false},
        ResendableCase{"list_tokens", true},
        ResendableCase{"revoke_token", false},
        ResendableCase{"list_pending", true}, ResendableCase{"approve", false},
        ResendableCase{"reject", false}, ResendableCase{"none", false}));

TEST(OtherPortHintTest, NamesTheControllersOtherPorts) {
  EXPECT_EQ(
      OtherPortHint("tcp://10.0.0.1:7700"),
      "; port 7700 is a controller's control port, for workers: its API is "
      "usually port 7702");
  EXPECT_EQ(
      OtherPortHint("tcp://[::1]:7701"),
      "; port 7701 is a controller's collector, for workers' results: its API "
      "is usually port 7702");
  EXPECT_NE(OtherPortHint("tcp://pi:7703").find("enroll port"),
            std::string::npos);
  EXPECT_EQ(OtherPortHint("tcp://10.0.0.1:7702"), "");
  EXPECT_EQ(OtherPortHint("tcp://10.0.0.1:17700"), "");
}

TEST(ResendScheduleTest, ResendsEveryIntervalAndStopsAtTheDeadline) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  ResendSchedule schedule(t0, absl::Seconds(5), absl::Seconds(2));
  schedule.Sent(t0);
  EXPECT_EQ(schedule.WaitUntil(), t0 + absl::Seconds(2));
  EXPECT_FALSE(schedule.Expired(t0 + absl::Seconds(2)));
  schedule.Sent(t0 + absl::Seconds(2));
  EXPECT_EQ(schedule.WaitUntil(), t0 + absl::Seconds(4));
  schedule.Sent(t0 + absl::Seconds(4));
  EXPECT_EQ(schedule.WaitUntil(), t0 + absl::Seconds(5));
  EXPECT_FALSE(schedule.Expired(t0 + absl::Milliseconds(4999)));
  EXPECT_TRUE(schedule.Expired(t0 + absl::Seconds(5)));
}

TEST(ResendScheduleTest, ARequestSentOnceWaitsForTheDeadline) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  ResendSchedule schedule(t0, absl::Seconds(5), std::nullopt);
  schedule.Sent(t0);
  EXPECT_EQ(schedule.WaitUntil(), t0 + absl::Seconds(5));
  EXPECT_TRUE(schedule.Expired(t0 + absl::Seconds(5)));
}

class ClientTest : public testing::Test {
 protected:
  zmq::context_t context_;
};

TEST_F(ClientTest, SendsVersionAndIdAndReturnsTheMatchingReply) {
  FakeController fake([](const proto::ApiRequest& r) -> Frames {
    return {FakeController::Serialize(JobReply(r))};
  });
  ApiClient client(&context_, fake.endpoint());
  for (uint64_t id : {7, 8}) {
    const auto reply = client.Call(GetJob(id), absl::Seconds(5));
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->job().job_id(), id);
  }
  const auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].protocol_version(), kProtocolVersion);
  EXPECT_NE(requests[0].request_id(), requests[1].request_id());
  EXPECT_EQ(requests[1].get_job().job_id(), 8u);
}

TEST_F(ClientTest, TakesAReplyLargerThanTheDaemonsInboundLimit) {
  // 20,000 jobs with an error text each: several MiB, as `quark jobs` can
  // be with --keep_jobs at its default.
  FakeController fake([](const proto::ApiRequest& r) -> Frames {
    proto::ApiReply reply = FakeController::ReplyTo(r);
    for (int i = 0; i < 20000; ++i) {
      proto::Job* job = reply.mutable_jobs()->add_jobs();
      job->set_job_id(i + 1);
      job->set_error(std::string(200, 'e'));
    }
    return {FakeController::Serialize(reply)};
  });
  ApiClient client(&context_, fake.endpoint());
  proto::ApiRequest list;
  list.mutable_list_jobs();
  const auto reply = client.Call(list, absl::Seconds(5));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_GT(reply->ByteSizeLong(), static_cast<size_t>(kMaxMessageBytes));
  EXPECT_EQ(reply->jobs().jobs_size(), 20000);
}

TEST_F(ClientTest, SkipsAStaleReplyToAnEarlierRequest) {
  FakeController fake([](const proto::ApiRequest& r) -> Frames {
    proto::ApiReply stale = JobReply(r);
    stale.set_request_id(r.request_id() + 1000);
    stale.mutable_job()->set_job_id(999);
    return {FakeController::Serialize(stale),
            FakeController::Serialize(JobReply(r))};
  });
  ApiClient client(&context_, fake.endpoint());
  const auto reply = client.Call(GetJob(7), absl::Seconds(5));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->job().job_id(), 7u);
}

struct ErrorCase {
  proto::ApiError::Code code;
  absl::StatusCode want;
  int exit_code;
};

class ClientErrorTest : public ClientTest,
                        public testing::WithParamInterface<ErrorCase> {};

TEST_P(ClientErrorTest, MapsApiErrorsToStatusAndExitCode) {
  const ErrorCase c = GetParam();
  FakeController fake([&c](const proto::ApiRequest& r) -> Frames {
    return {FakeController::Serialize(ErrorReply(r, c.code, "no job 7"))};
  });
  ApiClient client(&context_, fake.endpoint());
  const auto reply = client.Call(GetJob(7), absl::Seconds(5));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), c.want) << reply.status();
  EXPECT_NE(reply.status().message().find("no job 7"), absl::string_view::npos);
  EXPECT_EQ(ExitCode(reply.status()), c.exit_code);
}

INSTANTIATE_TEST_SUITE_P(
    Codes, ClientErrorTest,
    testing::Values(ErrorCase{proto::ApiError::INVALID_ARGUMENT,
                              absl::StatusCode::kInvalidArgument, 2},
                    ErrorCase{proto::ApiError::NOT_FOUND,
                              absl::StatusCode::kNotFound, 2},
                    ErrorCase{proto::ApiError::FAILED_PRECONDITION,
                              absl::StatusCode::kFailedPrecondition, 1},
                    ErrorCase{proto::ApiError::VERSION_MISMATCH,
                              absl::StatusCode::kUnimplemented, 2}));

TEST_F(ClientTest, RefusesAReplyOfAnotherProtocolVersion) {
  FakeController fake([](const proto::ApiRequest& r) -> Frames {
    proto::ApiReply reply = JobReply(r);
    reply.set_protocol_version(kProtocolVersion + 1);
    return {FakeController::Serialize(reply)};
  });
  ApiClient client(&context_, fake.endpoint());
  const auto reply = client.Call(GetJob(7), absl::Seconds(5));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(ExitCode(reply.status()), 2);
  EXPECT_NE(reply.status().message().find(
                absl::StrCat("speaks version ", kProtocolVersion + 1)),
            absl::string_view::npos)
      << reply.status();
}

TEST_F(ClientTest, AnUnreadableReplyIsAnError) {
  FakeController fake([](const proto::ApiRequest&) -> Frames {
    return {std::string("\xff\xff\xff", 3)};
  });
  ApiClient client(&context_, fake.endpoint());
  const auto reply = client.Call(GetJob(7), absl::Seconds(5));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInternal);
}

TEST_F(ClientTest, NoReplyMeansUnreachable) {
  FakeController fake([](const proto::ApiRequest&) -> Frames { return {}; });
  ApiClient client(&context_, fake.endpoint());
  const absl::Time start = absl::Now();
  const auto reply = client.Call(GetJob(7), absl::Milliseconds(200));
  const absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(ExitCode(reply.status()), 3);
  EXPECT_EQ(reply.status().message(), "cannot reach the controller at " +
                                          fake.endpoint() +
                                          " (no reply in 200ms)");
  EXPECT_GE(took, absl::Milliseconds(200));
  EXPECT_LT(took, absl::Seconds(2));
  EXPECT_EQ(fake.requests().size(), 1u);
}

TEST_F(ClientTest, NobodyListeningMeansUnreachable) {
  ApiClient client(&context_, "tcp://127.0.0.1:1");
  const auto reply = client.Call(GetJob(7), absl::Milliseconds(200));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(ExitCode(reply.status()), 3) << reply.status();
}

TEST_F(ClientTest, ABadEndpointIsBadInput) {
  ApiClient client(&context_, "not-an-endpoint");
  const auto reply = client.Call(GetJob(7), absl::Milliseconds(200));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(ExitCode(reply.status()), 2) << reply.status();
  EXPECT_NE(reply.status().message().find("not-an-endpoint"),
            absl::string_view::npos);
}

TEST_F(ClientTest, SendsAgainARequestThatGotNoReply) {
  std::atomic<int> seen{0};
  FakeController fake([&seen](const proto::ApiRequest& r) -> Frames {
    if (seen++ == 0) return {};  // lost in a controller crash
    return {FakeController::Serialize(JobReply(r))};
  });
  ApiClient client(&context_, fake.endpoint(), Fast());
  const absl::Time start = absl::Now();
  const auto reply = client.Call(GetJob(7), absl::Seconds(2));
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->job().job_id(), 7u);
  EXPECT_GE(took, absl::Milliseconds(100));
  EXPECT_LT(took, absl::Seconds(1));
  const auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[0].request_id(), requests[1].request_id());
  EXPECT_EQ(requests[1].get_job().job_id(), 7u);
  EXPECT_EQ(requests[1].protocol_version(), kProtocolVersion);
}

TEST_F(ClientTest, IgnoresTheLateReplyToASupersededSend) {
  std::atomic<int> seen{0};
  std::atomic<uint64_t> first_id{0};
  FakeController fake([&](const proto::ApiRequest& r) -> Frames {
    if (seen++ == 0) {
      first_id = r.request_id();
      return {};
    }
    proto::ApiReply late = JobReply(r);
    late.set_request_id(first_id);
    late.mutable_job()->set_job_id(999);
    return {FakeController::Serialize(late),
            FakeController::Serialize(JobReply(r))};
  });
  ApiClient client(&context_, fake.endpoint(), Fast());
  const auto reply = client.Call(GetJob(7), absl::Seconds(2));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->job().job_id(), 7u);
}

TEST_F(ClientTest, AResendableRequestNeverAnsweredGivesUpAtTheTimeout) {
  FakeController fake([](const proto::ApiRequest&) -> Frames { return {}; });
  ApiClient client(&context_, fake.endpoint(), Fast());
  const absl::Time start = absl::Now();
  const auto reply =
      client.Call(WithBody("list_nodes"), absl::Milliseconds(350));
  const absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(ExitCode(reply.status()), 3);
  EXPECT_EQ(reply.status().message(), "cannot reach the controller at " +
                                          fake.endpoint() +
                                          " (no reply in 350ms)");
  EXPECT_GE(took, absl::Milliseconds(350));
  EXPECT_LT(took, absl::Seconds(2));
  EXPECT_GE(fake.requests().size(), 2u);
  EXPECT_LE(fake.requests().size(), 4u);
}

TEST_F(ClientTest, AWatchIsSentAgainOnlyAfterItsLongPollWindow) {
  FakeController fake([](const proto::ApiRequest&) -> Frames { return {}; });
  ApiClient client(&context_, fake.endpoint(), Fast());
  proto::ApiRequest watch = WithBody("watch");
  watch.mutable_watch()->set_timeout_ms(200);
  // Sent at 0 and 300ms, maybe at 600ms; every 100ms would be 7 sends.
  const auto reply = client.Call(watch, absl::Milliseconds(650));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(ExitCode(reply.status()), 3);
  const auto requests = fake.requests();
  EXPECT_GE(requests.size(), 2u);
  EXPECT_LE(requests.size(), 3u);
  for (const proto::ApiRequest& r : requests) {
    EXPECT_EQ(r.watch().job_id(), 7u);
    EXPECT_EQ(r.watch().timeout_ms(), 200u);
  }
}

class SentOnceTest : public ClientTest,
                     public testing::WithParamInterface<const char*> {};

TEST_P(SentOnceTest, ExitsAfterTheTimeoutHavingSentItOnce) {
  FakeController fake([](const proto::ApiRequest&) -> Frames { return {}; });
  ApiClientOptions options;
  options.retry_interval = absl::Milliseconds(50);
  ApiClient client(&context_, fake.endpoint(), options);
  const absl::Time start = absl::Now();
  const auto reply = client.Call(WithBody(GetParam()), absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(ExitCode(reply.status()), 3);
  EXPECT_EQ(reply.status().message(), "cannot reach the controller at " +
                                          fake.endpoint() +
                                          " (no reply in 300ms)");
  EXPECT_GE(took, absl::Milliseconds(300));
  EXPECT_EQ(fake.requests().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(SubmitAndCancel, SentOnceTest,
                         testing::Values("submit", "cancel"));

// A controller that knows job 7 at version 1, answers a Watch with the next
// version, then stays silent for `silence` after each answer, as if it were
// restarting; the third version is DONE.
class RestartingController {
 public:
  explicit RestartingController(absl::Duration silence)
      : silence_(silence),
        fake_([this](const proto::ApiRequest& r) { return Answer(r); }) {}

  FakeController& fake() { return fake_; }

 private:
  Frames Answer(const proto::ApiRequest& request) {
    std::lock_guard<std::mutex> lock(mu_);
    if (request.has_get_job())
      return JobFrames(request, Job(proto::RUNNING, 1));
    const absl::Time now = absl::Now();
    if (now < silent_until_) return {};
    silent_until_ = now + silence_;
    ++version_;
    return JobFrames(
        request, Job(version_ == 4 ? proto::DONE : proto::RUNNING, version_));
  }

  const absl::Duration silence_;
  std::mutex mu_;
  absl::Time silent_until_ = absl::InfinitePast();
  uint64_t version_ = 1;
  FakeController fake_;  // last: its thread calls Answer
};

TEST_F(ClientTest, WaitRidesOutSilencesShorterThanTheTimeout) {
  // Two silences of 600ms each, 1.2s in all: more than --timeout, but each
  // shorter than it (plus the 100ms window).
  RestartingController controller(absl::Milliseconds(600));
  ApiClient client(&context_, controller.fake().endpoint(), Fast());
  std::vector<uint64_t> seen;
  RunOptions options = FastWatch();
  options.progress = [&seen](const proto::Job& job) {
    seen.push_back(job.version());
  };
  const Outcome outcome =
      RunCommand(Parse("job 7 --wait --timeout 1s"), client, options);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_EQ(outcome.out, "9592\n");
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_GT(Watches(controller.fake().requests()), 3u) << "none resent";
}

TEST_F(ClientTest, WaitExits3AfterTheTimeoutOfSilence) {
  RestartingController controller(absl::Hours(1));
  ApiClient client(&context_, controller.fake().endpoint(), Fast());
  const absl::Time start = absl::Now();
  const Outcome outcome =
      RunCommand(Parse("job 7 --wait --timeout 500ms"), client, FastWatch());
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(ExitCode(outcome.status), 3) << outcome.status;
  EXPECT_EQ(outcome.out, "");
  // The silence: the 100ms long-poll window, then --timeout.
  EXPECT_EQ(
      outcome.status.message(),
      "cannot reach the controller at " + controller.fake().endpoint() +
          " (no reply in 600ms); job 7 goes on where the controller keeps it: "
          "`quark job 7 --wait` follows it again once it answers");
  EXPECT_GE(took, absl::Milliseconds(600));
  EXPECT_LT(took, absl::Seconds(2));
  EXPECT_GE(Watches(controller.fake().requests()), 3u);
}

// Waits up to 2s for `condition`.
template <typename Condition>
bool Eventually(Condition condition) {
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

TEST_F(ClientTest, WaitSurvivesAControllerRestartOnTheSameEndpoint) {
  auto first = std::make_unique<FakeController>(
      [](const proto::ApiRequest& r) -> Frames {
        if (r.has_watch()) return {};  // parked, then lost in the crash
        return JobFrames(r, Job(proto::RUNNING, 1));
      });
  const std::string endpoint = first->endpoint();
  ApiClient client(&context_, endpoint, Fast());
  auto outcome = std::async(std::launch::async, [&client] {
    return RunCommand(Parse("job 7 --wait --timeout 2s"), client, FastWatch());
  });
  ASSERT_TRUE(Eventually([&first] { return Watches(first->requests()) > 0; }));
  first.reset();                            // the crash
  absl::SleepFor(absl::Milliseconds(300));  // the time it takes to restart
  FakeController second(
      [](const proto::ApiRequest& r) -> Frames {
        return JobFrames(r, Job(proto::DONE, 2));
      },
      endpoint);
  const Outcome ended = outcome.get();
  EXPECT_TRUE(ended.status.ok()) << ended.status;
  EXPECT_EQ(ended.out, "9592\n");
  EXPECT_GE(Watches(second.requests()), 1u);
}

}  // namespace
}  // namespace quark
