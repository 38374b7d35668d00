// Hostile and broken input for integration tests: raw bytes on a TCP port,
// and ZeroMQ messages of any shape, thrown at the real controller to check
// that it keeps serving (security_test.cc, enroll_test.cc).
//
//   ThrowRawBytes(PortOf(cluster.enroll_endpoint()));
//   SendFrames(dealer, {Serialized(request), "extra", "frames"});
//
// All connections are to 127.0.0.1. Nothing here asserts on what the
// controller does; the helpers fail the running test (ADD_FAILURE) only
// when they cannot do their part, e.g. a port that refuses connections.
#ifndef QUARK_TESTS_INTEGRATION_HOSTILE_H_
#define QUARK_TESTS_INTEGRATION_HOSTILE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "google/protobuf/message.h"

namespace quark::integration {

// The port of "tcp://HOST:PORT"; 0 (and a test failure) when there is none.
int PortOf(const std::string& endpoint);

// A TCP connection to 127.0.0.1:port, or -1. The caller closes it.
int ConnectTcp(int port);

// Writes `bytes` on a fresh connection to 127.0.0.1:port and closes it. A
// short write is fine: the peer may hang up first on garbage.
void SendRaw(int port, const std::string& bytes);

// `size` pseudo-random bytes, the same for the same `seed`.
std::string Garbage(size_t size, uint32_t seed);

// On one port: random garbage of a few sizes, the first 10 bytes of a
// ZMTP 3 greeting and then nothing, a greeting that turns to garbage, and
// 70,000 bytes of 0xff. Each on its own connection, closed at once.
void ThrowRawBytes(int port);

// The message in its wire form (a test failure if it cannot be).
std::string Serialized(const google::protobuf::Message& message);

// Sends `frames` as one multipart message; no frames sends one empty
// frame (ZeroMQ has no message of zero frames).
void SendFrames(zmq::socket_t& socket, std::vector<std::string> frames);

// A DEALER with the CURVE key pair `public_key`, `secret_key` (Z85) of
// its own, for the server whose key is `server_key`, connected from the
// loopback address `source` ("127.0.0.2": the controller tells peers
// apart by address, and limits each) to 127.0.0.1:port. Linger 0, so that
// closing it never waits. Throws zmq::error_t on a bad key.
std::unique_ptr<zmq::socket_t> CurveDealer(zmq::context_t& context,
                                           const std::string& server_key,
                                           const std::string& public_key,
                                           const std::string& secret_key,
                                           const std::string& source, int port);

// The frames of the next message on `socket` within `timeout`; nullopt
// when none came.
std::optional<std::vector<std::string>> ReceiveWithin(
    zmq::socket_t& socket, std::chrono::milliseconds timeout);

}  // namespace quark::integration

#endif  // QUARK_TESTS_INTEGRATION_HOSTILE_H_
