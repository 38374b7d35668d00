#include "worker/connection_monitor.h"

#include <zmq.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace quark {

std::optional<MonitorEvent> DecodeMonitorEvent(std::string_view frame) {
  MonitorEvent e;
  if (frame.size() < sizeof e.event + sizeof e.value) return std::nullopt;
  std::memcpy(&e.event, frame.data(), sizeof e.event);
  std::memcpy(&e.value, frame.data() + sizeof e.event, sizeof e.value);
  return e;
}

ConnectionMonitor::Reaction ConnectionMonitor::OnEvent(
    const MonitorEvent& event, absl::Time now) {
  Reaction reaction;
  switch (event.event) {
    case ZMQ_EVENT_DISCONNECTED:
      reaction.disconnected = true;
      return reaction;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
      reaction.recovered = !handshake_error_.empty();
      handshake_error_.clear();
      return reaction;
    default:
      break;
  }
  std::string error = Diagnose(event);
  if (error != handshake_error_ || now - logged_ >= kRepeatAfter) {
    reaction.warning = error;
    logged_ = now;
  }
  handshake_error_ = std::move(error);
  return reaction;
}

// A failed handshake (ZMQ_EVENT_HANDSHAKE_FAILED_*), in words that say what
// to check.
std::string ConnectionMonitor::Diagnose(const MonitorEvent& event) const {
  if (event.event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
    return enrolled_
               ? absl::StrCat(
                     "the controller refused this node's key (ZAP status ",
                     event.value,
                     "): was the node rejected (quark reject), or its state "
                     "lost? To join again: sudo quark-worker join TOKEN")
               : absl::StrCat(
                     "the controller refused this node's key (ZAP status ",
                     event.value,
                     "): is its public key in the controller's "
                     "authorized_workers?");
  }
  // Protocol, or no detail.
  return curve_ ? "CURVE handshake with the controller failed: is "
                  "controller_key the controller's public key, and does the "
                  "controller run with a key?"
                : "handshake with the controller failed: does it require "
                  "CURVE keys (set key and controller_key)?";
}

}  // namespace quark
