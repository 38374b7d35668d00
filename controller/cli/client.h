// The CLI's side of the api channel: one request, one reply.
#ifndef QUARK_CONTROLLER_CLI_CLIENT_H_
#define QUARK_CONTROLLER_CLI_CLIENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/quark.pb.h"

namespace quark {

// Sends requests to the controller. Implemented over ZeroMQ by ApiClient
// and by fakes in tests.
class ApiCaller {
 public:
  virtual ~ApiCaller() = default;

  // Sends `request` (its body; protocol_version and request_id are filled
  // in here) and waits up to `timeout` for the reply. Returns a reply that
  // is not an ApiError, or:
  //   DeadlineExceeded  no reply in time ("cannot reach the controller at
  //                     EP (no reply in 5s)")
  //   InvalidArgument, NotFound, FailedPrecondition   the controller's
  //                     ApiError of that code, with its message
  //   Unimplemented     a protocol version mismatch, either side's
  //   Internal, Unknown a reply that cannot be read or an unknown error code
  virtual absl::StatusOr<proto::ApiReply> Call(proto::ApiRequest request,
                                               absl::Duration timeout) = 0;
};

// A DEALER connected to the controller's api endpoint. The socket is made
// and connected on the first Call, so building a client never fails.
// Not thread-safe. `context` must outlive the client.
class ApiClient : public ApiCaller {
 public:
  ApiClient(zmq::context_t* context, std::string endpoint);

  absl::StatusOr<proto::ApiReply> Call(proto::ApiRequest request,
                                       absl::Duration timeout) override;

 private:
  absl::Status Open();
  // Waits for the reply to `request_id` until `deadline`; nullopt on timeout.
  absl::StatusOr<std::optional<proto::ApiReply>> Await(uint64_t request_id,
                                                       absl::Time deadline);

  zmq::context_t* const context_;
  const std::string endpoint_;
  std::optional<zmq::socket_t> socket_;
  uint64_t next_request_id_ = 1;
};

// The status for an ApiReply, OK unless it carries an ApiError.
absl::Status ReplyStatus(const proto::ApiReply& reply);

}  // namespace quark

#endif  // QUARK_CONTROLLER_CLI_CLIENT_H_
