#include "cli/client.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/transport.h"

namespace quark {

absl::Status ReplyStatus(const proto::ApiReply& reply) {
  if (!reply.has_error()) return absl::OkStatus();
  const std::string& message = reply.error().message();
  switch (reply.error().code()) {
    case proto::ApiError::INVALID_ARGUMENT:
      return absl::InvalidArgumentError(message);
    case proto::ApiError::NOT_FOUND:
      return absl::NotFoundError(message);
    case proto::ApiError::FAILED_PRECONDITION:
      return absl::FailedPreconditionError(message);
    case proto::ApiError::VERSION_MISMATCH:
      return absl::UnimplementedError(
          absl::StrCat("protocol version mismatch: ", message));
    default:
      return absl::UnknownError(
          absl::StrCat("the controller refused: ", message));
  }
}

std::string OtherPortHint(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  const std::string port =
      colon == std::string::npos ? "" : endpoint.substr(colon + 1);
  const char* what = port == "7700"   ? "control port, for workers"
                     : port == "7701" ? "collector, for workers' results"
                     : port == "7703" ? "enroll port, for joining nodes"
                                      : nullptr;
  if (what == nullptr) return "";
  return absl::StrCat("; port ", port, " is a controller's ", what,
                      ": its API is usually port 7702");
}

bool Resendable(const proto::ApiRequest& request) {
  switch (request.body_case()) {
    case proto::ApiRequest::kWatch:
    case proto::ApiRequest::kGetJob:
    case proto::ApiRequest::kListJobs:
    case proto::ApiRequest::kListNodes:
    case proto::ApiRequest::kListTokens:
    case proto::ApiRequest::kListPending:
    case proto::ApiRequest::kDrain:
    case proto::ApiRequest::kUndrain:
      return true;
    // TrustNode of a node trusted already is an error: not resent.
    // CreateToken would make a second token. RevokeToken, ApproveNode and
    // RejectNode leave the same state when repeated, but whether the
    // controller answers a repeat with an error is not settled yet.
    default:  // Submit, Cancel, and anything added later until proven safe
      return false;
  }
}

ResendSchedule::ResendSchedule(absl::Time start, absl::Duration timeout,
                               std::optional<absl::Duration> every)
    : deadline_(start + timeout), every_(every) {}

void ResendSchedule::Sent(absl::Time now) {
  if (every_.has_value()) next_send_ = now + *every_;
}

absl::Time ResendSchedule::WaitUntil() const {
  return std::min(next_send_, deadline_);
}

ApiClient::ApiClient(zmq::context_t* context, std::string endpoint,
                     ApiClientOptions options)
    : context_(context),
      endpoint_(std::move(endpoint)),
      options_(std::move(options)) {}

absl::Status ApiClient::Open() {
  if (socket_.has_value()) return absl::OkStatus();
  try {
    socket_.emplace(*context_, zmq::socket_type::dealer);
  } catch (const zmq::error_t& e) {
    return absl::InternalError(
        absl::StrCat("cannot make a socket: ", e.what()));
  }
  // No linger: a request still queued when we give up is not worth keeping
  // the process alive for. Not immediate: the request waits in the queue
  // until the connection is up, which --timeout bounds.
  RETURN_IF_ERROR(
      ConfigureClient(*socket_, "", absl::ZeroDuration(), /*immediate=*/false));
  // Replies can be far larger than any request: `quark jobs` lists up to
  // --keep_jobs jobs (about 90 bytes each, more with errors), past the
  // 1 MiB that guards the daemons' inbound sockets.
  try {
    socket_->set(zmq::sockopt::maxmsgsize, kMaxReplyBytes);
  } catch (const zmq::error_t& e) {
    return absl::InternalError(absl::StrCat("socket option: ", e.what()));
  }
  if (options_.curve) {
    RETURN_IF_ERROR(ConfigureCurveClient(
        *socket_, options_.curve->controller_key, options_.curve->own));
  }
  const std::string monitor = absl::StrCat("inproc://quark-cli-monitor-",
                                           reinterpret_cast<uintptr_t>(this));
  try {
    if (zmq_socket_monitor(socket_->handle(), monitor.c_str(),
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
      throw zmq::error_t();
    }
    monitor_.emplace(*context_, zmq::socket_type::pair);
    monitor_->set(zmq::sockopt::linger, 0);
    monitor_->connect(monitor);
  } catch (const zmq::error_t& e) {
    return absl::InternalError(absl::StrCat("socket monitor: ", e.what()));
  }
  if (absl::Status s = Connect(*socket_, endpoint_); !s.ok()) {
    monitor_.reset();
    socket_.reset();
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid controller endpoint '", endpoint_, "': ", s.message()));
  }
  return absl::OkStatus();
}

std::optional<absl::Duration> ApiClient::ResendEvery(
    const proto::ApiRequest& request) const {
  if (!Resendable(request)) return std::nullopt;
  if (!request.has_watch()) return options_.retry_interval;
  return absl::Milliseconds(request.watch().timeout_ms()) +
         options_.retry_interval;
}

absl::StatusOr<proto::ApiReply> ApiClient::Call(proto::ApiRequest request,
                                                absl::Duration timeout) {
  RETURN_IF_ERROR(Open());
  request.set_protocol_version(kProtocolVersion);
  ResendSchedule schedule(absl::Now(), timeout, ResendEvery(request));
  ASSIGN_OR_RETURN(std::optional<proto::ApiReply> reply,
                   SendUntilReply(request, schedule));
  if (!reply.has_value()) {
    // The schedule gave up `timeout` after the first send, which the
    // caller makes right after the controller's last reply: that is the
    // silence.
    return absl::DeadlineExceededError(absl::StrCat(
        "cannot reach the controller at ", endpoint_, " (no reply in ",
        absl::FormatDuration(timeout), ")", OtherPortHint(endpoint_)));
  }
  RETURN_IF_ERROR(ReplyStatus(*reply));
  if (reply->protocol_version() != kProtocolVersion) {
    return absl::UnimplementedError(
        absl::StrCat("protocol version mismatch: the controller at ", endpoint_,
                     " speaks version ", reply->protocol_version(),
                     ", this quark speaks ", kProtocolVersion));
  }
  return *std::move(reply);
}

absl::StatusOr<std::optional<proto::ApiReply>> ApiClient::SendUntilReply(
    proto::ApiRequest& request, ResendSchedule& schedule) {
  while (true) {
    // A new id each time, so that only the reply to the latest send is
    // taken: the body is the same, and so is its answer.
    request.set_request_id(next_request_id_++);
    if (absl::Status s = SendMessage(*socket_, request); !s.ok()) {
      // The queue holds the last send still: nothing there takes requests.
      return absl::UnavailableError(
          absl::StrCat("the endpoint ", endpoint_, " takes no requests (",
                       s.message(), ")", OtherPortHint(endpoint_)));
    }
    schedule.Sent(absl::Now());
    ASSIGN_OR_RETURN(std::optional<proto::ApiReply> reply,
                     Await(request.request_id(), schedule.WaitUntil()));
    if (reply.has_value()) return reply;
    if (schedule.Expired(absl::Now())) return std::nullopt;
  }
}

absl::StatusOr<std::optional<proto::ApiReply>> ApiClient::Await(
    uint64_t request_id, absl::Time deadline) {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return std::nullopt;
    std::vector<zmq::pollitem_t> items = {
        {socket_->handle(), 0, ZMQ_POLLIN, 0},
        {monitor_->handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, std::chrono::milliseconds(absl::ToInt64Milliseconds(
                           absl::Ceil(left, absl::Milliseconds(1)))));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) {
        if (options_.interrupted && options_.interrupted()) {
          return absl::CancelledError("interrupted");
        }
        continue;
      }
      return absl::InternalError(absl::StrCat("poll: ", e.what()));
    }
    if (items[1].revents & ZMQ_POLLIN) RETURN_IF_ERROR(HandshakeFailure());
    if ((items[0].revents & ZMQ_POLLIN) == 0) continue;
    ASSIGN_OR_RETURN(auto frames, ReceiveFrames(*socket_));
    if (!frames.has_value() || frames->size() != 1) continue;
    proto::ApiReply reply;
    if (absl::Status s = ParseFrame(frames->front(), &reply, kMaxReplyBytes);
        !s.ok()) {
      return absl::InternalError(
          absl::StrCat("unreadable reply from the controller at ", endpoint_,
                       ": ", s.message()));
    }
    // A late reply to an earlier request (a Watch we gave up on, a send
    // superseded by a resend) is not ours. An error without request_id is:
    // the controller could not read the request well enough to echo it.
    if (reply.request_id() == request_id ||
        (reply.request_id() == 0 && reply.has_error())) {
      return reply;
    }
  }
}

absl::Status ApiClient::HandshakeFailure() {
  while (true) {
    auto frames = ReceiveFrames(*monitor_);
    if (!frames.ok() || !frames->has_value()) return absl::OkStatus();
    const zmq::message_t& head = (*frames)->front();
    uint16_t event = 0;
    if (head.size() >= sizeof event)
      std::memcpy(&event, head.data(), sizeof event);
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      return absl::PermissionDeniedError(absl::StrCat(
          "the controller at ", endpoint_,
          " refused this operator key: is its public key in the controller's "
          "authorized_operators?"));
    }
    return absl::PermissionDeniedError(absl::StrCat(
        "handshake with the controller at ", endpoint_, " failed: ",
        options_.curve
            ? "is --controller_key the controller's public key, and does its "
              "API take operator keys (authorized_operators)?"
            : "its API needs operator keys (--key and --controller_key)"));
  }
}

}  // namespace quark
