// How the worker's control connection is doing, from the events of its
// socket monitor (zmq_socket_monitor): whether it dropped, and why the
// last handshake failed, in words for the log and for systemd's STATUS=.
//
// Pure: the worker's loop reads the monitor socket and hands each event's
// first frame here, then logs what the reaction says and tells its session
// of a drop.
#ifndef QUARK_WORKER_CONNECTION_MONITOR_H_
#define QUARK_WORKER_CONNECTION_MONITOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace quark {

// The first frame of a monitor event: 6 bytes, a uint16 event (ZMQ_EVENT_*)
// and a uint32 value, in host order. The second frame (the endpoint) is
// not needed.
struct MonitorEvent {
  uint16_t event = 0;
  uint32_t value = 0;
};
// Nullopt when `frame` is not 6 bytes or more.
std::optional<MonitorEvent> DecodeMonitorEvent(std::string_view frame);

class ConnectionMonitor {
 public:
  // `curve`: the worker authenticates with a key. `enrolled`: the key came
  // from a join token, so a refusal means the controller rejected or
  // forgot the node rather than that its key was never listed.
  ConnectionMonitor(bool curve, bool enrolled)
      : curve_(curve), enrolled_(enrolled) {}

  // What the loop does about one event.
  struct Reaction {
    bool disconnected = false;  // tell the session: the connection dropped
    std::string warning;        // not empty: log it ("cannot join")
    bool recovered = false;     // a handshake succeeded after failures
  };
  Reaction OnEvent(const MonitorEvent& event, absl::Time now);

  // Why the last handshake failed, until one succeeds; empty otherwise.
  const std::string& handshake_error() const { return handshake_error_; }

  // A refused worker retries every couple of seconds: the same failure is
  // logged once this often.
  static constexpr absl::Duration kRepeatAfter = absl::Minutes(1);

 private:
  std::string Diagnose(const MonitorEvent& event) const;

  const bool curve_;
  const bool enrolled_;
  std::string handshake_error_;
  absl::Time logged_ = absl::InfinitePast();
};

}  // namespace quark

#endif  // QUARK_WORKER_CONNECTION_MONITOR_H_
