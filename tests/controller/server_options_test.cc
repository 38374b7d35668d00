#include "controller/server.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

TEST(DeriveServerOptionsTest, WhatFollowsFromTheOtherOptions) {
  ServerOptions options;
  options.collect_endpoint = "tcp://*:9701";
  options.scheduler.chunk.task_seconds = 3;
  options.scheduler.heartbeat_interval = absl::Milliseconds(120);
  DeriveServerOptions(options);
  EXPECT_EQ(options.scheduler.collector_endpoint, "tcp://*:9701");
  EXPECT_EQ(options.scheduler.backup_after, absl::Seconds(6));
  EXPECT_EQ(options.tick, absl::Milliseconds(60));  // half a heartbeat
  options.scheduler.heartbeat_interval = absl::Seconds(1);
  DeriveServerOptions(options);
  EXPECT_EQ(options.tick, absl::Milliseconds(100));
}

TEST(DeriveServerOptionsTest, EachRunStartsItsIdsElsewhere) {
  ServerOptions a, b;
  DeriveServerOptions(a);
  DeriveServerOptions(b);
  EXPECT_NE(a.scheduler.first_session, b.scheduler.first_session);
  EXPECT_NE(a.scheduler.first_lease, b.scheduler.first_lease);
  // Room above them: ids are not about to wrap.
  EXPECT_LT(a.scheduler.first_session, uint64_t{1} << 62 | 2);
}

}  // namespace
}  // namespace quark
