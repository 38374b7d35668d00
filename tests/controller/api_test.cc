#include "controller/api.h"

#include "common/transport.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

class ApiTest : public testing::Test {
 protected:
  ApiTest() : scheduler_(SchedulerOptions()), api_(&scheduler_, ApiOptions()) {}

  std::optional<proto::ApiReply> Call(proto::ApiRequest request) {
    if (request.protocol_version() == 0)
      request.set_protocol_version(kProtocolVersion);
    request.set_request_id(++id_);
    std::vector<Outbound> control;
    return api_.Handle("cli", request, now_, &control);
  }

  uint64_t SubmitCount(uint64_t hi) {
    proto::ApiRequest r;
    r.mutable_submit()->set_kind(proto::COUNT);
    r.mutable_submit()->mutable_range()->set_hi(hi);
    return Call(r)->job().job_id();
  }

  Scheduler scheduler_;
  Api api_;
  absl::Time now_ = absl::FromUnixSeconds(1'000'000);
  uint64_t id_ = 0;
};

TEST_F(ApiTest, RefusesOtherProtocolVersion) {
  proto::ApiRequest r;
  r.set_protocol_version(kProtocolVersion + 1);
  r.mutable_list_jobs();
  auto reply = Call(r);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error().code(), proto::ApiError::VERSION_MISMATCH);
  EXPECT_NE(reply->error().message().find("protocol version"),
            std::string::npos);
  EXPECT_EQ(reply->protocol_version(), kProtocolVersion);
}

TEST_F(ApiTest, RepliesCarryTheRequestId) {
  proto::ApiRequest r;
  r.mutable_list_nodes();
  auto reply = Call(r);
  EXPECT_EQ(reply->request_id(), id_);
  EXPECT_TRUE(reply->has_nodes());
}

TEST_F(ApiTest, ErrorsMapToCodes) {
  proto::ApiRequest r;
  r.mutable_get_job()->set_job_id(77);
  EXPECT_EQ(Call(r)->error().code(), proto::ApiError::NOT_FOUND);
  proto::ApiRequest bad;
  bad.mutable_submit()->set_kind(proto::COUNT);
  bad.mutable_submit()->mutable_range()->set_lo(5);
  bad.mutable_submit()->mutable_range()->set_hi(4);
  EXPECT_EQ(Call(bad)->error().code(), proto::ApiError::INVALID_ARGUMENT);
  proto::ApiRequest empty;
  EXPECT_EQ(Call(empty)->error().code(), proto::ApiError::INVALID_ARGUMENT);
}

TEST_F(ApiTest, WatchParksUntilTheJobChangesOrTimesOut) {
  const uint64_t job = SubmitCount(1000);
  proto::ApiRequest w;
  w.mutable_watch()->set_job_id(job);
  w.mutable_watch()->set_after_version(0);
  w.mutable_watch()->set_timeout_ms(1000);
  auto now = Call(w);  // version 1 > 0: answered at once
  ASSERT_TRUE(now.has_value());
  const uint64_t version = now->job().version();

  w.mutable_watch()->set_after_version(version);
  EXPECT_FALSE(Call(w).has_value());  // parked
  EXPECT_TRUE(api_.Poll(now_).empty());
  EXPECT_EQ(api_.NextDeadline(), now_ + absl::Seconds(1));

  // The job changes: the watch is answered.
  std::vector<Outbound> control;
  ASSERT_TRUE(scheduler_.CancelJob(job, now_, &control).ok());
  auto replies = api_.Poll(now_);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].route, "cli");
  EXPECT_EQ(replies[0].reply.job().state(), proto::CANCELLED);

  // Nothing changes: answered at the deadline with the job as it is.
  w.mutable_watch()->set_after_version(replies[0].reply.job().version());
  EXPECT_FALSE(Call(w).has_value());
  EXPECT_TRUE(api_.Poll(now_ + absl::Milliseconds(999)).empty());
  EXPECT_EQ(api_.Poll(now_ + absl::Seconds(1)).size(), 1u);
}

TEST_F(ApiTest, DrainUnknownNodeIsNotFound) {
  proto::ApiRequest r;
  r.mutable_drain()->set_node("ghost");
  EXPECT_EQ(Call(r)->error().code(), proto::ApiError::NOT_FOUND);
}

}  // namespace
}  // namespace quark
