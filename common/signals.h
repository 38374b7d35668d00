// SIGTERM and SIGINT (and SIGHUP when asked for) as a file descriptor for
// the poll loop (signalfd).
//
// Install() blocks both signals in the calling thread, and so in every
// thread it starts afterwards: call it before creating the zmq context or
// any other thread. The signals then only ever show up on fd().
#ifndef QUARK_COMMON_SIGNALS_H_
#define QUARK_COMMON_SIGNALS_H_

#include <memory>

#include "absl/status/statusor.h"

namespace quark {

class ShutdownSignals {
 public:
  // With `reload`, SIGHUP arrives on fd() as well (the controller reloads
  // its allowlists on it) instead of ending the process.
  static absl::StatusOr<std::unique_ptr<ShutdownSignals>> Install(
      bool reload = false);
  ~ShutdownSignals();
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // Readable (POLLIN) while a signal is pending.
  int fd() const { return fd_; }

  // Reads one pending signal; returns its number, or 0 when none.
  int Take();

 private:
  explicit ShutdownSignals(int fd) : fd_(fd) {}
  const int fd_;
};

}  // namespace quark

#endif  // QUARK_COMMON_SIGNALS_H_
