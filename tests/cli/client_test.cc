#include "controller/cli/client.h"

#include <string>
#include <vector>

#include "common/transport.h"
#include "controller/cli/run.h"
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
  EXPECT_NE(reply.status().message().find("speaks version 2"),
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

}  // namespace
}  // namespace quark
