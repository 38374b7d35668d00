#include "controller/api.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/transport.h"

namespace quark {

proto::ApiReply ErrorReply(const absl::Status& status) {
  proto::ApiReply reply;
  auto* error = reply.mutable_error();
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      error->set_code(proto::ApiError::INVALID_ARGUMENT);
      break;
    case absl::StatusCode::kNotFound:
      error->set_code(proto::ApiError::NOT_FOUND);
      break;
    default:
      error->set_code(proto::ApiError::FAILED_PRECONDITION);
      break;
  }
  error->set_message(std::string(status.message()));
  return reply;
}

Api::Api(Scheduler* scheduler, ApiOptions options)
    : scheduler_(scheduler), options_(options) {}

namespace {

proto::ApiReply JobReply(const absl::StatusOr<proto::Job>& job) {
  if (!job.ok()) return ErrorReply(job.status());
  proto::ApiReply reply;
  *reply.mutable_job() = *job;
  return reply;
}

proto::ApiReply VersionMismatch(const proto::ApiRequest& request) {
  proto::ApiReply reply;
  reply.mutable_error()->set_code(proto::ApiError::VERSION_MISMATCH);
  reply.mutable_error()->set_message(absl::StrCat(
      "protocol version ", request.protocol_version(),
      " is not supported: this controller speaks version ", kProtocolVersion));
  return reply;
}

}  // namespace

std::optional<proto::ApiReply> Api::Handle(const std::string& route,
                                           const proto::ApiRequest& request,
                                           absl::Time now,
                                           std::vector<Outbound>* control) {
  std::optional<proto::ApiReply> reply;
  if (request.protocol_version() != kProtocolVersion) {
    reply = VersionMismatch(request);
  } else if (request.has_watch()) {
    reply = StartWatch(route, request, now);
    if (!reply) return std::nullopt;  // parked: Poll answers it
  } else {
    reply = Dispatch(request, now, control);
  }
  reply->set_protocol_version(kProtocolVersion);
  reply->set_request_id(request.request_id());
  return reply;
}

proto::ApiReply Api::Dispatch(const proto::ApiRequest& request, absl::Time now,
                              std::vector<Outbound>* control) {
  switch (request.body_case()) {
    case proto::ApiRequest::kSubmit:
      return JobReply(scheduler_->Submit(request.submit(), now, control));
    case proto::ApiRequest::kGetJob:
      return JobReply(scheduler_->GetJob(request.get_job().job_id()));
    case proto::ApiRequest::kCancel:
      return JobReply(
          scheduler_->CancelJob(request.cancel().job_id(), now, control));
    case proto::ApiRequest::kListJobs: {
      proto::ApiReply reply;
      reply.mutable_jobs();
      for (auto& job : scheduler_->ListJobs()) {
        *reply.mutable_jobs()->add_jobs() = std::move(job);
      }
      return reply;
    }
    case proto::ApiRequest::kListNodes:
      return NodesReply(now);
    case proto::ApiRequest::kDrain:
    case proto::ApiRequest::kUndrain: {
      const bool drain = request.has_drain();
      const std::string& name =
          drain ? request.drain().node() : request.undrain().node();
      auto node = scheduler_->Drain(name, drain, now, control);
      if (!node.ok()) return ErrorReply(node.status());
      proto::ApiReply reply;
      *reply.mutable_node() = *node;
      return reply;
    }
    case proto::ApiRequest::kTrust: {
      auto node = scheduler_->Trust(request.trust().node(), now, control);
      if (!node.ok()) return ErrorReply(node.status());
      proto::ApiReply reply;
      *reply.mutable_node() = *node;
      return reply;
    }
    case proto::ApiRequest::kCreateToken:
    case proto::ApiRequest::kListTokens:
    case proto::ApiRequest::kRevokeToken:
    case proto::ApiRequest::kListPending:
    case proto::ApiRequest::kApprove:
    case proto::ApiRequest::kReject:
      return DispatchEnrollment(request, now);
    default:
      return ErrorReply(absl::InvalidArgumentError("empty or unknown request"));
  }
}

// The connected nodes, each with the token it joined with, and the ones
// gone lately.
proto::ApiReply Api::NodesReply(absl::Time now) const {
  proto::ApiReply reply;
  reply.mutable_nodes();
  for (auto& node : scheduler_->ListNodes(now)) {
    if (const proto::EnrolledNode* enrolled =
            enrollment_ ? enrollment_->Find(node.key()) : nullptr) {
      node.set_token_id(enrolled->token_id());
    }
    *reply.mutable_nodes()->add_nodes() = std::move(node);
  }
  for (auto& node : scheduler_->ListDeparted(now)) {
    *reply.mutable_nodes()->add_departed() = std::move(node);
  }
  return reply;
}

// A Watch: answered now when its job changed since `after_version` (or it
// asks not to wait); parked otherwise, and nothing is returned.
std::optional<proto::ApiReply> Api::StartWatch(const std::string& route,
                                               const proto::ApiRequest& request,
                                               absl::Time now) {
  const proto::Watch& w = request.watch();
  auto job = scheduler_->GetJob(w.job_id());
  if (!job.ok()) return ErrorReply(job.status());
  if (job->version() > w.after_version() || w.timeout_ms() == 0) {
    return JobReply(job);
  }
  if (watches_.size() >= options_.max_watches) {
    return ErrorReply(absl::ResourceExhaustedError(
        "too many clients are watching; try again"));
  }
  const absl::Duration wait =
      std::min(absl::Milliseconds(w.timeout_ms()), options_.max_watch);
  watches_.push_back(
      {route, request.request_id(), w.job_id(), w.after_version(), now + wait});
  return std::nullopt;
}

proto::ApiReply Api::DispatchEnrollment(const proto::ApiRequest& request,
                                        absl::Time now) {
  if (enrollment_ == nullptr) {
    return ErrorReply(absl::FailedPreconditionError(
        "join tokens need the controller's CURVE key: start it with `key = "
        "controller.key` (quark keygen controller; docs/security.md)"));
  }
  proto::ApiReply reply;
  auto token_reply = [&](absl::StatusOr<proto::Token> token) {
    if (!token.ok()) return ErrorReply(token.status());
    *reply.mutable_token() = *std::move(token);
    return reply;
  };
  auto node_reply = [&](absl::StatusOr<proto::EnrolledNode> node) {
    if (!node.ok()) return ErrorReply(node.status());
    *reply.mutable_enrolled_node() = *std::move(node);
    return reply;
  };
  switch (request.body_case()) {
    case proto::ApiRequest::kCreateToken: {
      absl::StatusOr<proto::Token> token =
          enrollment_->CreateToken(request.create_token(), now);
      if (token.ok()) {  // never the token itself
        QLOG(kNotice) << "token created token=" << token->id()
                      << " ttl_ms=" << request.create_token().ttl_ms()
                      << " uses=" << token->uses()
                      << " approve=" << token->approve();
      }
      return token_reply(std::move(token));
    }
    case proto::ApiRequest::kRevokeToken: {
      absl::StatusOr<proto::Token> token =
          enrollment_->RevokeToken(request.revoke_token().id(), now);
      if (token.ok()) {
        QLOG(kNotice) << "token revoked token=" << token->id();
      }
      return token_reply(std::move(token));
    }
    case proto::ApiRequest::kListTokens:
      reply.mutable_tokens();
      for (proto::Token& token : enrollment_->ListTokens(now)) {
        *reply.mutable_tokens()->add_tokens() = std::move(token);
      }
      return reply;
    case proto::ApiRequest::kListPending:
      reply.mutable_enrolled();
      for (proto::EnrolledNode& node : enrollment_->ListPending()) {
        *reply.mutable_enrolled()->add_nodes() = std::move(node);
      }
      return reply;
    case proto::ApiRequest::kApprove: {
      absl::StatusOr<proto::EnrolledNode> node =
          enrollment_->Approve(request.approve().name(), now);
      if (node.ok()) {
        QLOG(kNotice) << "node approved node=" << node->name()
                      << " key=" << node->key();
      }
      return node_reply(std::move(node));
    }
    default: {  // kReject
      absl::StatusOr<proto::EnrolledNode> node =
          enrollment_->Reject(request.reject().name(), now);
      if (node.ok()) {
        QLOG(kNotice) << "node rejected node=" << node->name()
                      << " key=" << node->key();
      }
      return node_reply(std::move(node));
    }
  }
}

std::vector<ApiOutbound> Api::Poll(absl::Time now) {
  std::vector<ApiOutbound> out;
  auto ready = [&](const Watch& w) {
    auto job = scheduler_->GetJob(w.job_id);
    if (job.ok() && job->version() <= w.after_version && now < w.deadline) {
      return false;
    }
    proto::ApiReply reply = JobReply(job);
    reply.set_protocol_version(kProtocolVersion);
    reply.set_request_id(w.request_id);
    out.push_back({w.route, std::move(reply)});
    return true;
  };
  watches_.erase(std::remove_if(watches_.begin(), watches_.end(), ready),
                 watches_.end());
  return out;
}

absl::Time Api::NextDeadline() const {
  absl::Time next = absl::InfiniteFuture();
  for (const Watch& w : watches_) next = std::min(next, w.deadline);
  return next;
}

}  // namespace quark
