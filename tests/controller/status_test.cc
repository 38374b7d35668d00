#include "controller/status.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/health.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

proto::Job MakeJob(uint64_t id, proto::JobState state, double progress,
                   uint64_t finished_ms = 0) {
  proto::Job job;
  job.set_job_id(id);
  job.set_kind(proto::COUNT);
  job.mutable_range()->set_lo(0);
  job.mutable_range()->set_hi(999'999);  // a million numbers
  job.set_state(state);
  job.set_progress(progress);
  job.set_finished_ms(finished_ms);
  if (state == proto::DONE) job.mutable_result()->set_count(78'498);
  return job;
}

TEST(StatusTrackerTest, NodesReadAsQuarkNodesPrintsThem) {
  proto::NodeList nodes;
  proto::Node* pi = nodes.add_nodes();
  pi->set_name("pi");
  pi->set_state(proto::ACTIVE);
  pi->set_throttled_bits(kUnderVoltage | (kThrottled << kSinceBootShift));
  proto::Node* drained = nodes.add_nodes();
  drained->set_name("d");
  drained->set_state(proto::DRAINING);  // no lease, not sieving
  proto::Node* gone = nodes.add_departed();
  gone->set_name("g");
  gone->set_state(proto::LOST);

  StatusTracker tracker;
  const proto::ClusterStatus status = tracker.Update(kT0, nodes, {}, {}, 0, 0);
  ASSERT_EQ(status.nodes_size(), 2);
  EXPECT_EQ(status.nodes(0).node().name(), "pi");
  EXPECT_EQ(status.nodes(0).state(), "active");
  EXPECT_EQ(status.nodes(0).health(), "under-voltage");
  EXPECT_EQ(status.nodes(1).state(), "drained");
  EXPECT_EQ(status.nodes(1).health(), "");  // it reports none
  ASSERT_EQ(status.departed_size(), 1);
  EXPECT_EQ(status.departed(0).state(), "lost");
  EXPECT_EQ(status.now_ms(), absl::ToUnixMillis(kT0));
}

TEST(StatusTrackerTest, UnfinishedJobsFirstThenTheNewestTenThatEnded) {
  std::vector<proto::Job> ended;  // newest first, as SummarizeJobs gives
  for (uint64_t id = 12; id >= 1; --id) {
    ended.push_back(MakeJob(id, proto::DONE, 1, /*finished_ms=*/1000 + id));
  }
  const std::vector<proto::Job> unfinished = {MakeJob(13, proto::RUNNING, 0.5),
                                              MakeJob(14, proto::QUEUED, 0)};
  StatusTracker tracker;
  const proto::ClusterStatus status =
      tracker.Update(kT0, proto::NodeList(), unfinished, ended, 0, 0);
  std::vector<uint64_t> ids;
  for (const proto::JobStatus& job : status.jobs()) {
    ids.push_back(job.job().job_id());
  }
  EXPECT_EQ(ids,
            (std::vector<uint64_t>{13, 14, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3}));
  EXPECT_EQ(status.jobs(2).kind(), "count");
  EXPECT_EQ(status.jobs(2).result(), "78498");
  EXPECT_EQ(status.jobs(0).result(), "");  // not done yet
  EXPECT_EQ(status.jobs_running(), 1u);
  EXPECT_EQ(status.jobs_queued(), 1u);
}

TEST(StatusTrackerTest, APageShowsTheOldestUnfinishedJobsAndCountsThemAll) {
  std::vector<proto::Job> unfinished;
  for (uint64_t id = 1; id <= StatusTracker::kUnfinishedShown + 30; ++id) {
    unfinished.push_back(
        MakeJob(id, id <= 3 ? proto::RUNNING : proto::QUEUED, 0));
  }
  StatusTracker tracker;
  const proto::ClusterStatus status =
      tracker.Update(kT0, proto::NodeList(), unfinished, {}, 0, 0);
  ASSERT_EQ(status.jobs_size(), StatusTracker::kUnfinishedShown);
  EXPECT_EQ(status.jobs(0).job().job_id(), 1u);
  EXPECT_EQ(status.jobs_running(), 3u);
  EXPECT_EQ(status.jobs_queued(), StatusTracker::kUnfinishedShown + 27);
}

TEST(StatusTrackerTest, RateAndEtaOfAJobFromItsLastMinute) {
  StatusTracker tracker;
  auto running = [&](absl::Time now, double progress) {
    return tracker.Update(now, proto::NodeList(),
                          {MakeJob(1, proto::RUNNING, progress)}, {}, 0, 0);
  };
  proto::ClusterStatus status = running(kT0, 0);
  EXPECT_FALSE(status.jobs(0).has_rate());  // one sample is no rate
  running(kT0 + absl::Seconds(1), 0.1);
  status = running(kT0 + absl::Seconds(2), 0.2);  // 100,000 numbers/s
  ASSERT_TRUE(status.jobs(0).has_rate());
  EXPECT_DOUBLE_EQ(status.jobs(0).rate(), 100'000);
  EXPECT_NEAR(status.jobs(0).eta_seconds(), 8, 1e-6);  // 800,000 left
  // A stalled job has a rate of 0 and no ETA.
  StatusTracker stalled;
  for (int s = 0; s <= 5; ++s) {
    status = stalled.Update(kT0 + absl::Seconds(s), proto::NodeList(),
                            {MakeJob(1, proto::RUNNING, 0.5)}, {}, 0, 0);
  }
  EXPECT_EQ(status.jobs(0).rate(), 0);
  EXPECT_FALSE(status.jobs(0).has_eta_seconds());
}

TEST(StatusTrackerTest, ThroughputIsOneValueAStepForAnHourAtMost) {
  StatusTracker tracker;
  const proto::NodeList none;
  const int step = static_cast<int>(absl::ToInt64Seconds(StatusTracker::kStep));
  proto::ClusterStatus status = tracker.Update(kT0, none, {}, {}, 0, 0);
  EXPECT_EQ(status.throughput_size(), 0);
  EXPECT_EQ(status.throughput_step_seconds(), step);
  // 1,000 numbers a second for one step, sampled every second.
  for (int s = 1; s <= step; ++s) {
    status = tracker.Update(kT0 + absl::Seconds(s), none, {}, {}, 0, 1000 * s);
  }
  ASSERT_EQ(status.throughput_size(), 1);
  EXPECT_DOUBLE_EQ(status.throughput(0), 1000);
  EXPECT_EQ(status.throughput_end_ms(),
            absl::ToUnixMillis(kT0 + StatusTracker::kStep));
  // A loop busy for three steps: what came meanwhile is spread over them.
  status = tracker.Update(kT0 + 4 * StatusTracker::kStep, none, {}, {}, 0,
                          1000 * step + 3 * 500 * step);
  ASSERT_EQ(status.throughput_size(), 4);
  EXPECT_DOUBLE_EQ(status.throughput(1), 500);
  EXPECT_DOUBLE_EQ(status.throughput(3), 500);
  // Two hours later: the last hour only.
  status = tracker.Update(kT0 + absl::Hours(2), none, {}, {}, 0,
                          1000 * step + 3 * 500 * step);
  EXPECT_EQ(status.throughput_size(), StatusTracker::kSteps);
}

}  // namespace
}  // namespace quark
