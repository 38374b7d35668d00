#include "worker/executor.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

proto::Assign Task(uint64_t lease) {
  proto::Assign a;
  a.set_lease(lease);
  a.mutable_range()->set_lo(lease);
  a.mutable_range()->set_hi(lease);
  return a;
}

// Waits, a few seconds at most, until `done()` holds.
template <typename F>
bool Eventually(F done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// A kernel that answers count = lease at once, except for the lease
// `blocking`, which runs until it is told to stop.
class FakeKernel {
 public:
  explicit FakeKernel(uint64_t blocking = 0) : blocking_(blocking) {}

  Executor::Kernel kernel() {
    return
        [this](const proto::Assign& a,
               const SieveControl& control) -> absl::StatusOr<proto::Partial> {
          {
            absl::MutexLock lock(&mu_);
            order_.push_back(a.lease());
          }
          if (a.lease() == blocking_) {
            started_.Notify();
            while (!control.stop->load()) {
              std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            return absl::CancelledError("stopped");
          }
          proto::Partial p;
          p.set_count(a.lease());
          return p;
        };
  }
  std::vector<uint64_t> order() {
    absl::MutexLock lock(&mu_);
    return order_;
  }
  absl::Notification& started() { return started_; }

 private:
  const uint64_t blocking_;
  absl::Mutex mu_;
  std::vector<uint64_t> order_;
  absl::Notification started_;
};

TEST(ExecutorTest, RunsTasksInOrderAndNotifiesAfterEach) {
  FakeKernel fake;
  std::atomic<int> notified{0};
  Executor executor(fake.kernel(), [&] { ++notified; });
  for (uint64_t lease : {3, 1, 2}) executor.Run(Task(lease));
  std::vector<FinishedTask> finished;
  ASSERT_TRUE(Eventually([&] {
    for (FinishedTask& f : executor.TakeFinished())
      finished.push_back(std::move(f));
    return finished.size() == 3;
  }));
  EXPECT_EQ(fake.order(), (std::vector<uint64_t>{3, 1, 2}));
  for (size_t i = 0; i < finished.size(); ++i) {
    ASSERT_TRUE(finished[i].partial.ok()) << finished[i].partial.status();
    EXPECT_EQ(finished[i].partial->count(), finished[i].lease);
    EXPECT_EQ(finished[i].lease, fake.order()[i]);
  }
  EXPECT_TRUE(Eventually([&] { return notified.load() == 3; }));
  EXPECT_TRUE(Eventually([&] { return !executor.Busy(); }));
  EXPECT_TRUE(executor.TakeFinished().empty());
}

TEST(ExecutorTest, StopEndsTheRunningTaskAndDropsAQueuedOneOnly) {
  FakeKernel fake(/*blocking=*/1);
  Executor executor(fake.kernel(), [] {});
  executor.Run(Task(1));
  executor.Run(Task(2));
  executor.Run(Task(3));
  ASSERT_TRUE(fake.started().WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(executor.Busy());
  executor.Stop(2);  // queued: dropped, never run
  executor.Stop(9);  // unknown: nothing happens
  executor.Stop(1);  // running: its kernel sees stop and returns
  std::vector<FinishedTask> finished;
  ASSERT_TRUE(Eventually([&] {
    for (FinishedTask& f : executor.TakeFinished())
      finished.push_back(std::move(f));
    return finished.size() == 2;
  }));
  EXPECT_EQ(finished[0].lease, 1u);
  EXPECT_TRUE(absl::IsCancelled(finished[0].partial.status()));
  EXPECT_EQ(finished[1].lease, 3u);
  ASSERT_TRUE(finished[1].partial.ok());
  EXPECT_EQ(fake.order(), (std::vector<uint64_t>{1, 3}));
  EXPECT_TRUE(Eventually([&] { return !executor.Busy(); }));
}

TEST(ExecutorTest, DestroyingItStopsTheRunningTask) {
  FakeKernel fake(/*blocking=*/1);
  {
    Executor executor(fake.kernel(), [] {});
    executor.Run(Task(1));
    executor.Run(Task(2));
    ASSERT_TRUE(
        fake.started().WaitForNotificationWithTimeout(absl::Seconds(5)));
  }  // would hang here if the running task were not stopped
  EXPECT_EQ(fake.order(), (std::vector<uint64_t>{1}))
      << "queued tasks are dropped";
}

}  // namespace
}  // namespace quark
