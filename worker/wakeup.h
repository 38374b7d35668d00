// A wake-up for a zmq::poll loop from other threads: an eventfd that the
// loop polls next to its sockets. Notify() is thread-safe and never
// blocks; Clear() is for the polling thread.
#ifndef QUARK_WORKER_WAKEUP_H_
#define QUARK_WORKER_WAKEUP_H_

#include <memory>

#include "absl/status/statusor.h"

namespace quark {

class Wakeup {
 public:
  static absl::StatusOr<std::unique_ptr<Wakeup>> Create();
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  // Readable (POLLIN) from the first Notify() until Clear().
  int fd() const { return fd_; }
  void Notify();
  void Clear();

 private:
  explicit Wakeup(int fd) : fd_(fd) {}
  const int fd_;
};

}  // namespace quark

#endif  // QUARK_WORKER_WAKEUP_H_
