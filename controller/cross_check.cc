#include "controller/cross_check.h"

#include <exception>
#include <optional>
#include <primecount.hpp>
#include <utility>

#include "common/log.h"

namespace quark {

uint64_t PrimecountCount(uint64_t lo, uint64_t hi) {
  const int64_t below =
      lo <= 2 ? 0 : primecount::pi(static_cast<int64_t>(lo - 1));
  return static_cast<uint64_t>(primecount::pi(static_cast<int64_t>(hi)) -
                               below);
}

CrossChecker::CrossChecker(int threads)
    : thread_([this, threads] {
        primecount::set_num_threads(threads);
        Run();
      }) {}

CrossChecker::~CrossChecker() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void CrossChecker::Add(const CrossCheckRequest& request) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(request);
}

std::vector<CrossChecker::Answer> CrossChecker::Take() {
  absl::MutexLock lock(&mu_);
  return std::exchange(answers_, {});
}

void CrossChecker::Run() {
  while (true) {
    CrossCheckRequest request;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](CrossChecker* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
            return c->stop_ || !c->queue_.empty();
          },
          this));
      if (stop_) return;
      request = queue_.front();
      queue_.pop_front();
    }
    Answer answer{request.job, std::nullopt};
    try {
      answer.count = PrimecountCount(request.lo, request.hi);
    } catch (const std::exception& e) {
      QLOG(kError) << "primecount failed job=" << request.job
                   << " lo=" << request.lo << " hi=" << request.hi
                   << " error=\"" << e.what() << "\"";
    }
    absl::MutexLock lock(&mu_);
    answers_.push_back(answer);
  }
}

}  // namespace quark
