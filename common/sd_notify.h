// The systemd notification protocol (sd_notify(3)), written by hand: one
// datagram per message on the unix socket named by $NOTIFY_SOCKET, so that
// a `Type=notify` unit learns when the daemon is ready, that its event loop
// is alive (WATCHDOG=1), what it is doing (STATUS=) and that it is stopping.
//
// Without $NOTIFY_SOCKET (not started by systemd) every call does nothing.
// Sending never blocks (MSG_DONTWAIT) and never fails the daemon: the first
// failed send is logged as a warning, later ones at debug level.
//
// The watchdog is pinged from the event loop itself, never from a side
// thread, so that a wedged loop stops the pings and systemd restarts the
// service: the loop folds NextDeadline() into its poll timeout and calls
// Tick() on every turn.
//
// Not thread-safe: owned and called by the thread running the event loop.
#ifndef QUARK_COMMON_SD_NOTIFY_H_
#define QUARK_COMMON_SD_NOTIFY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace quark {

// $WATCHDOG_USEC: a positive decimal number of microseconds, nothing else
// (no sign, no spaces). An InvalidArgument error naming the text otherwise.
absl::StatusOr<absl::Duration> ParseWatchdogUsec(absl::string_view text);

// When the next WATCHDOG=1 is due: half of `interval` after `last_ping`,
// or at once when there was none (InfinitePast). InfiniteFuture when
// `interval` is zero (no watchdog). Pure.
absl::Time NextWatchdogPing(absl::Time last_ping, absl::Duration interval);

class SystemdNotifier {
 public:
  struct Options {
    // "/path" or "@abstract" (a leading NUL byte in sun_path). Empty: the
    // notifier does nothing.
    std::string socket;
    // systemd's WatchdogSec; zero: no WATCHDOG=1 is sent.
    absl::Duration watchdog = absl::ZeroDuration();
    // The summary is sampled (StatusDue) at most this often.
    absl::Duration status_interval = absl::Seconds(1);
  };

  // From $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID (the watchdog is
  // meant for this process only when $WATCHDOG_PID is unset or equals
  // getpid()). A bad value is logged as a warning and turns off what it
  // configures. Never null.
  static std::unique_ptr<SystemdNotifier> FromEnvironment();

  // Opens the datagram socket. An unusable `options.socket` (not absolute
  // nor abstract, too long, no socket) is logged and gives a notifier that
  // does nothing. Never null.
  static std::unique_ptr<SystemdNotifier> Create(Options options);

  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // True when messages go somewhere.
  bool enabled() const { return fd_ >= 0; }
  absl::Duration watchdog() const { return options_.watchdog; }

  void Ready() { Send("READY=1"); }
  void Stopping() { Send("STOPPING=1"); }

  // Sends WATCHDOG=1 when due (NextWatchdogPing).
  void Tick(absl::Time now);

  // When Tick() next has something to do; InfiniteFuture when nothing.
  absl::Time NextDeadline() const;

  // Whether the loop should build its summary and call SetStatus(): at
  // most once per status_interval, and never when disabled.
  bool StatusDue(absl::Time now) const;

  // Sends STATUS=`line` unless it equals the last one sent. `line` must be
  // one line: newlines are replaced by spaces.
  void SetStatus(absl::string_view line, absl::Time now);

  // Sends one datagram, verbatim. False when it could not be sent (or the
  // notifier is disabled).
  bool Send(absl::string_view message);

 private:
  SystemdNotifier(Options options, std::string sun_path, int fd);

  const Options options_;
  // The bytes of sockaddr_un.sun_path: a leading NUL when abstract, no
  // terminating NUL.
  const std::string sun_path_;
  const int fd_;  // -1 when disabled
  absl::Time last_ping_ = absl::InfinitePast();
  absl::Time next_status_ = absl::InfinitePast();
  std::string last_status_;
  bool warned_ = false;
};

}  // namespace quark

#endif  // QUARK_COMMON_SD_NOTIFY_H_
