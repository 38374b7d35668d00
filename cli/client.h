// The CLI's side of the api channel: one request, one reply, with the
// request sent again while the controller is silent, when that is safe.
#ifndef QUARK_CLI_CLIENT_H_
#define QUARK_CLI_CLIENT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/keys.h"
#include "proto/quark.pb.h"

namespace quark {

// Sends requests to the controller. Implemented over ZeroMQ by ApiClient
// and by fakes in tests.
class ApiCaller {
 public:
  virtual ~ApiCaller() = default;

  // Sends `request` (its body; protocol_version and request_id are filled
  // in here) and waits until `timeout` has passed since this call began for
  // the reply. A request that is safe to repeat (Resendable) is sent again
  // meanwhile; a loop that calls again as soon as it has a reply (--wait)
  // thus gives up only after `timeout` of silence from the controller.
  // Returns a reply that is not an ApiError, or:
  //   DeadlineExceeded  no reply in time ("cannot reach the controller at
  //                     EP (no reply in 5s)")
  //   InvalidArgument, NotFound, FailedPrecondition   the controller's
  //                     ApiError of that code, with its message
  //   Unimplemented     a protocol version mismatch, either side's
  //   Internal, Unknown a reply that cannot be read or an unknown error code
  virtual absl::StatusOr<proto::ApiReply> Call(proto::ApiRequest request,
                                               absl::Duration timeout) = 0;
};

// Whether `request` may be sent again when its reply is late: reads (Watch,
// GetJob, ListJobs, ListNodes, ListTokens, ListPending) and Drain and
// Undrain, which leave the same state however often they arrive. Submit,
// Cancel, CreateToken, RevokeToken, ApproveNode and RejectNode are sent
// once: a
// Submit that reached a controller which then crashed and came back would
// make a second job if sent again.
bool Resendable(const proto::ApiRequest& request);

// "; port 7700 is a controller's control port, for workers: its API is
// usually port 7702" for an endpoint on one of the controller's other
// default ports, which answer no API request; "" otherwise.
std::string OtherPortHint(const std::string& endpoint);

struct ApiClientOptions {
  // A Resendable request with no reply is sent again (same body, a new
  // request_id) this long after its last send; a Watch this long after its
  // long-poll window (timeout_ms) has passed, as the controller may rightly
  // hold it that long. The DEALER reconnects by itself to a controller that
  // restarted, but a request it had received is lost with it.
  absl::Duration retry_interval = absl::Seconds(1);
  // CURVE: the controller's public key and this operator's pair.
  struct Curve {
    std::string controller_key;  // Z85
    KeyPair own;
  };
  std::optional<Curve> curve;
  // Asked when a signal interrupts the wait for a reply: true ends the call
  // with Cancelled ("interrupted"), false waits on. Null: always wait on.
  std::function<bool()> interrupted;
};

// When to send a request again and when to give up on it. Pure: the caller
// passes the time.
class ResendSchedule {
 public:
  // A request first sent at `start`, given up at start + `timeout`, sent
  // again `every` after each send (never when nullopt).
  ResendSchedule(absl::Time start, absl::Duration timeout,
                 std::optional<absl::Duration> every);

  // Records a send at `now`.
  void Sent(absl::Time now);
  // How long to wait for a reply to the last send: until the next resend
  // or the deadline, whichever comes first.
  absl::Time WaitUntil() const;
  // At or past the deadline: give up.
  bool Expired(absl::Time now) const { return now >= deadline_; }

 private:
  const absl::Time deadline_;
  const std::optional<absl::Duration> every_;
  absl::Time next_send_ = absl::InfiniteFuture();
};

// A DEALER connected to the controller's api endpoint. The socket is made
// and connected on the first Call, so building a client never fails.
// Not thread-safe. `context` must outlive the client.
class ApiClient : public ApiCaller {
 public:
  ApiClient(zmq::context_t* context, std::string endpoint,
            ApiClientOptions options = {});

  absl::StatusOr<proto::ApiReply> Call(proto::ApiRequest request,
                                       absl::Duration timeout) override;

 private:
  absl::Status Open();
  // How often `request` is sent again; nullopt for never.
  std::optional<absl::Duration> ResendEvery(
      const proto::ApiRequest& request) const;
  // Sends `request` until a reply to its latest request_id comes or
  // `schedule` expires (nullopt).
  absl::StatusOr<std::optional<proto::ApiReply>> SendUntilReply(
      proto::ApiRequest& request, ResendSchedule& schedule);
  // Waits for the reply to `request_id` until `deadline`; nullopt on timeout.
  // Replies to other ids (superseded sends, Watches given up on) are skipped.
  absl::StatusOr<std::optional<proto::ApiReply>> Await(uint64_t request_id,
                                                       absl::Time deadline);

  zmq::context_t* const context_;
  const std::string endpoint_;
  const ApiClientOptions options_;
  // Reads the monitor's events: an error when a handshake failed (the
  // controller refused the key, or the keys do not fit), else OK.
  absl::Status HandshakeFailure();

  std::optional<zmq::socket_t> socket_;
  // The socket's handshake events (zmq_socket_monitor), so that a refused
  // key is reported as such rather than as a silent controller.
  std::optional<zmq::socket_t> monitor_;
  uint64_t next_request_id_ = 1;
};

// The status for an ApiReply, OK unless it carries an ApiError.
absl::Status ReplyStatus(const proto::ApiReply& reply);

}  // namespace quark

#endif  // QUARK_CLI_CLIENT_H_
