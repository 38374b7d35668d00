#include "worker/executor.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "common/log.h"

namespace quark {
namespace {

absl::Duration Since(std::chrono::steady_clock::time_point start) {
  return absl::FromChrono(std::chrono::steady_clock::now() - start);
}

}  // namespace

Executor::Executor(Kernel kernel, std::function<void()> notify, int nice)
    : kernel_(std::move(kernel)),
      notify_(std::move(notify)),
      nice_(nice),
      thread_([this] { Loop(); }) {}

Executor::~Executor() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    stop_task_ = true;
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
  return running_ != 0 || !todo_.empty();
}

void Executor::Stop(uint64_t lease) {
  absl::MutexLock lock(&mu_);
  if (running_ == lease && lease != 0) stop_task_ = true;
  todo_.erase(std::remove_if(todo_.begin(), todo_.end(),
                             [lease](const proto::Assign& a) {
                               return a.lease() == lease;
                             }),
              todo_.end());
}

void Executor::Loop() {
  // On Linux the nice value belongs to the thread, not the process.
  if (nice_ != 0 &&
      setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice_) != 0) {
    QLOG(kWarning) << "cannot lower the sieve's priority nice=" << nice_
                   << " error=\"" << std::strerror(errno) << "\"";
  }
  while (true) {
    proto::Assign task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &Executor::HasWorkOrStop));
      if (stop_) return;
      task = std::move(todo_.front());
      todo_.pop_front();
      running_ = task.lease();
      stop_task_ = false;
    }
    const auto start = std::chrono::steady_clock::now();
    SieveControl control;
    control.stop = &stop_task_;
    absl::StatusOr<proto::Partial> partial = kernel_(task, control);
    FinishedTask done{task.lease(), std::move(partial), Since(start)};
    {
      absl::MutexLock lock(&mu_);
      finished_.push_back(std::move(done));
      running_ = 0;
    }
    notify_();
  }
}

}  // namespace quark
