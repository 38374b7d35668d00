#include "daemon/executor.h"

#include <chrono>
#include <utility>

namespace quark {
namespace {

absl::Duration Since(std::chrono::steady_clock::time_point start) {
  return absl::FromChrono(std::chrono::steady_clock::now() - start);
}

}  // namespace

Executor::Executor(Kernel kernel, std::function<void()> notify)
    : kernel_(std::move(kernel)),
      notify_(std::move(notify)),
      thread_([this] { Loop(); }) {}

Executor::~Executor() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void Executor::Run(proto::Assign task) {
  absl::MutexLock lock(&mu_);
  todo_.push_back(std::move(task));
}

std::vector<FinishedTask> Executor::TakeFinished() {
  absl::MutexLock lock(&mu_);
  return std::exchange(finished_, {});
}

bool Executor::Busy() {
  absl::MutexLock lock(&mu_);
  return running_ || !todo_.empty();
}

void Executor::Loop() {
  while (true) {
    proto::Assign task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &Executor::HasWorkOrStop));
      if (stop_) return;
      task = std::move(todo_.front());
      todo_.pop_front();
      running_ = true;
    }
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<proto::Partial> partial = kernel_(task);
    FinishedTask done{task.lease(), std::move(partial), Since(start)};
    {
      absl::MutexLock lock(&mu_);
      finished_.push_back(std::move(done));
      running_ = false;
    }
    notify_();
  }
}

}  // namespace quark
