// ZeroMQ plumbing shared by the daemons and the CLI: socket options, and
// sending and receiving one protobuf message per frame.
//
// Nothing here throws: cppzmq's zmq::error_t is caught and returned as an
// absl::Status. Sockets are not thread-safe; each belongs to one thread.
#ifndef QUARK_COMMON_TRANSPORT_H_
#define QUARK_COMMON_TRANSPORT_H_

#include <google/protobuf/message_lite.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/keys.h"
#include "common/protocol.h"  // what the messages sent here must carry

namespace quark {

// Options for a bound ROUTER (control, api): handover of a route to a
// reconnecting peer with the same identity, errors for unroutable sends,
// TCP keepalive that closes dead connections, size limits.
absl::Status ConfigureRouter(zmq::socket_t& socket);

// Options for a connecting DEALER or PUSH: its routing id (may be empty),
// reconnect backoff, TCP keepalive, and a linger so that queued messages
// still leave on close. With `immediate`, sends fail while no connection
// is up instead of queueing (right for Hello and heartbeats, which are
// stale by the time a connection comes; wrong for results, which a PUSH
// should hold until the collector is back).
absl::Status ConfigureClient(zmq::socket_t& socket, const std::string& identity,
                             absl::Duration linger, bool immediate);

// Makes a bound socket a CURVE server with `secret_key` (Z85) whose every
// handshake is put to the ZAP handler (controller/auth.h) under
// `zap_domain`. ZMQ_ZAP_ENFORCE_DOMAIN is set as well: without it libzmq
// admits every CURVE client when no handler answers, with it a missing or
// dead handler refuses everyone. Call before Bind.
absl::Status ConfigureCurveServer(zmq::socket_t& socket,
                                  const std::string& secret_key,
                                  const std::string& zap_domain);

// Makes a connecting socket a CURVE client of the server whose public key
// is `server_key`, authenticating with `own`. Call before Connect.
absl::Status ConfigureCurveClient(zmq::socket_t& socket,
                                  const std::string& server_key,
                                  const KeyPair& own);

// Whether `endpoint` can only be reached from this machine: ipc://,
// inproc://, or tcp:// on 127.0.0.0/8, ::1 or localhost.
bool LoopbackEndpoint(const std::string& endpoint);

absl::Status Bind(zmq::socket_t& socket, const std::string& endpoint);
absl::Status Connect(zmq::socket_t& socket, const std::string& endpoint);

// Sends `message` as one frame, after `route` as a first frame when given
// (ROUTER). Never blocks: a full queue or an unroutable peer is an error.
absl::Status SendMessage(zmq::socket_t& socket,
                         const google::protobuf::MessageLite& message,
                         const std::string* route = nullptr);

// One multipart message read without blocking; nullopt when none is queued.
absl::StatusOr<std::optional<std::vector<zmq::message_t>>> ReceiveFrames(
    zmq::socket_t& socket);

// Parses a frame of at most `max_bytes` into `message`; a clear error
// names what was wrong.
absl::Status ParseFrame(const zmq::message_t& frame,
                        google::protobuf::MessageLite* message,
                        int64_t max_bytes = kMaxMessageBytes);
absl::Status ParseFrame(absl::string_view frame,
                        google::protobuf::MessageLite* message,
                        int64_t max_bytes = kMaxMessageBytes);

// A metadata property of a received frame ("User-Id", "Peer-Address"),
// or "" when it has none.
std::string FrameProperty(const zmq::message_t& frame, const char* name);

// A node name is also its DEALER routing id: 1 to 64 characters of
// [A-Za-z0-9._-].
bool ValidNodeName(std::string_view name);

// An endpoint to connect to, as an operator may type it: "tcp://HOST:PORT",
// "HOST:PORT", "HOST" or "tcp://HOST" (then `default_port`), with HOST a
// name, an IPv4 address or a bracketed IPv6 one ("[::1]:7700"); another
// ZeroMQ transport is taken whole ("ipc:///run/quark.sock"). Returns the
// tcp:// form; InvalidArgument naming the forms for anything else.
absl::StatusOr<std::string> ConnectEndpoint(absl::string_view text,
                                            int default_port);

// The host of "tcp://host:port", or "127.0.0.1" for other transports.
std::string HostOfEndpoint(const std::string& endpoint);

// Turns a bind endpoint such as "tcp://*:7701" into one a peer on
// `host` can connect to ("tcp://host:7701").
std::string ConnectableEndpoint(const std::string& bind_endpoint,
                                const std::string& host);

}  // namespace quark

#endif  // QUARK_COMMON_TRANSPORT_H_
