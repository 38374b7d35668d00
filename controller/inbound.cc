#include "controller/inbound.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"
#include "common/token.h"
#include "common/transport.h"

namespace quark {

Inbound::Inbound(Scheduler* scheduler, Api* api, const KeyDirectory* keys,
                 bool operator_keys)
    : scheduler_(scheduler),
      api_(api),
      keys_(keys),
      operator_keys_(keys != nullptr && operator_keys) {}

void Inbound::OnControl(const std::vector<absl::string_view>& frames,
                        const Peer& peer, absl::Time now) {
  if (frames.size() != 2) {
    ++refused_;
    QLOG(kWarning) << "control message dropped peer="
                   << (frames.empty() ? "?" : Printable(frames[0]))
                   << " address=" << peer.address << " reason=\""
                   << frames.size() << " frames, expected 2\"";
    return;
  }
  const std::string route(frames[0]);
  std::string node = route;
  if (keys_ != nullptr) {
    const std::string* name = AuthorizedName(route, peer);
    if (name == nullptr) return;
    node = *name;
  }
  proto::ControlMsg msg;
  if (absl::Status s = ParseFrame(frames[1], &msg); !s.ok()) {
    ++refused_;
    QLOG(kWarning) << "control message dropped peer=" << Printable(route)
                   << " node=" << node << " address=" << peer.address
                   << " reason=\"" << s.message() << "\"";
    return;
  }
  if (keys_ != nullptr && msg.has_hello() && msg.hello().node() != node) {
    ++refused_;
    const std::string reason =
        absl::StrCat("this node's key is authorized as '", node, "', not '",
                     msg.hello().node(), "' (authorized_workers)");
    QLOG(kWarning) << "refused worker node=" << msg.hello().node()
                   << " address=" << peer.address << " reason=\"" << reason
                   << "\"";
    RejectPeer(route, reason);
    return;
  }
  if (keys_ != nullptr) {
    // Only a message that was accepted moves the node's route: a refused
    // one from another connection holding the same key must not.
    routes_[node] = route;
    node_keys_[node] = peer.key;
  }
  Queue(scheduler_->OnControl(node, msg, now, peer.key));
}

void Inbound::OnResult(const std::vector<absl::string_view>& frames,
                       const Peer& peer, absl::Time now) {
  proto::ResultMsg result;
  absl::Status s = frames.size() == 1
                       ? ParseFrame(frames[0], &result)
                       : absl::InvalidArgumentError(absl::StrCat(
                             frames.size(), " frames, expected 1"));
  if (!s.ok()) {
    // Unreadable: not acked either, as whatever node and lease it seems to
    // name cannot be believed (no worker sends such a thing).
    ++refused_;
    QLOG(kWarning) << "result dropped address=" << peer.address << " reason=\""
                   << s.message() << "\"";
    return;
  }
  if (keys_ != nullptr) {
    // A result counts only under the name its key is authorized as; and
    // it is not acked otherwise, as the ack would go to that other node.
    const std::string* name = keys_->NameOf(kWorkerDomain, peer.key);
    if (name == nullptr || *name != result.node()) {
      ++refused_;
      QLOG(kWarning) << "result refused node=" << result.node()
                     << " address=" << peer.address << " reason=\""
                     << (name == nullptr
                             ? std::string("key not authorized")
                             : absl::StrCat("sent with the key of '", *name,
                                            "'"))
                     << "\"";
      return;
    }
  }
  std::vector<Outbound> out;
  s = scheduler_->OnResult(result, now, &out);
  if (!s.ok()) {  // counted by the scheduler
    QLOG(kWarning) << "result rejected node=" << result.node()
                   << " session=" << result.session() << " job=" << result.job()
                   << " task=" << result.task() << " reason=\"" << s.message()
                   << "\"";
  }
  // Merged, a duplicate, or refused for good: either way the worker may
  // forget it, once this iteration's changes are on disk.
  if (result.lease() != 0 && ValidNodeName(result.node())) {
    acks_[result.node()].push_back(result.lease());
  }
  Queue(std::move(out));
}

void Inbound::OnApi(const std::vector<absl::string_view>& frames,
                    const Peer& peer, absl::Time now) {
  if (frames.size() != 2) {
    ++refused_;
    QLOG(kWarning) << "api request dropped peer="
                   << (frames.empty() ? "?" : Printable(frames[0]))
                   << " address=" << peer.address << " reason=\""
                   << frames.size() << " frames, expected 2\"";
    return;
  }
  const std::string route(frames[0]);
  std::string who = "local";
  if (operator_keys_) {
    const std::string* name = keys_->NameOf(kOperatorDomain, peer.key);
    if (name == nullptr) {
      ++refused_;
      proto::ApiReply reply = ErrorReply(absl::PermissionDeniedError(
          "this operator key is no longer in authorized_operators"));
      reply.set_protocol_version(kProtocolVersion);
      api_out_.push_back({route, std::move(reply)});
      return;
    }
    who = *name;
  }
  proto::ApiRequest request;
  if (absl::Status s = ParseFrame(frames[1], &request); !s.ok()) {
    ++refused_;
    QLOG(kWarning) << "api request rejected operator=" << who
                   << " address=" << peer.address << " reason=\"" << s.message()
                   << "\"";
    proto::ApiReply reply = ErrorReply(absl::InvalidArgumentError(s.message()));
    reply.set_protocol_version(kProtocolVersion);
    api_out_.push_back({route, std::move(reply)});
    return;
  }
  std::vector<Outbound> control;
  auto reply = api_->Handle(route, request, now, &control);
  Queue(std::move(control));
  // A node rejected after it was let in goes at once, as on a reload.
  if (request.has_reject() && reply.has_value() && !reply->has_error()) {
    OnKeysChanged(now);
  }
  if (reply.has_value()) {
    if (reply->has_error()) {
      QLOG(kInfo) << "api request refused operator=" << who << " reason=\""
                  << reply->error().message() << "\"";
    }
    api_out_.push_back({route, *std::move(reply)});
  }
}

void Inbound::OnEnroll(const std::vector<absl::string_view>& frames,
                       const Peer& peer, absl::Time now) {
  if (enrollment_ == nullptr) return;
  // The limit first: a flood of anything costs neither checks nor the
  // journal.
  if (!enroll_requests_.Allow(peer.address, now)) {
    // Unanswered, and logged once a second at most: the limit is there
    // so that a flood costs neither signature checks nor the journal.
    ++refused_;
    ++enroll_limited_;
    enroll_limited_address_ = peer.address;
    if (now - enroll_limited_logged_ >= absl::Seconds(1)) {
      QLOG(kWarning) << "enroll requests dropped address=" << peer.address
                     << " reason=\"rate limit\" dropped=" << enroll_limited_;
      enroll_limited_ = 0;
      enroll_limited_logged_ = now;
    }
    return;
  }
  if (frames.size() != 2) {
    ++refused_;
    QLOG(kWarning) << "enroll request dropped address=" << peer.address
                   << " reason=\"" << frames.size() << " frames, expected 2\"";
    return;
  }
  const std::string route(frames[0]);
  proto::EnrollRequest request;
  if (absl::Status s = ParseFrame(frames[1], &request, kMaxEnrollBytes);
      !s.ok()) {
    RefuseEnroll(route, peer,
                 absl::StrCat("unreadable request: ", s.message()));
    return;
  }
  const Names names(keys_, scheduler_);
  EnrollOutcome outcome =
      enrollment_->Enroll(request, peer.key, peer.address, now, names);
  const proto::EnrollReply& reply = outcome.reply;
  // From anyone: only what was checked goes into the log.
  const std::string token_id =
      ValidTokenId(request.token_id()) ? request.token_id() : "?";
  if (reply.status() == proto::EnrollReply::REFUSED) {
    ++refused_;
    QLOG(kWarning) << "enroll refused address=" << peer.address
                   << " key=" << peer.key << " token=" << token_id << " name="
                   << (ValidNodeName(request.name()) ? request.name() : "?")
                   << " reason=\"" << reply.reason() << "\"";
  } else if (outcome.changed) {
    QLOG(kNotice) << (reply.status() == proto::EnrollReply::ACCEPTED
                          ? "node enrolled"
                          : "node waits for approval (quark approve)")
                  << " node=" << reply.name() << " key=" << peer.key
                  << " token=" << token_id << " address=" << peer.address
                  << " machine=" << request.machine();
    if (!outcome.replaced_key.empty()) {
      QLOG(kNotice) << "node re-enrolled with a new key, the old one is let in "
                       "no more node="
                    << reply.name() << " old_key=" << outcome.replaced_key
                    << " key=" << peer.key;
    }
  } else {
    QLOG(kDebug) << "enroll answered again node=" << reply.name()
                 << " status=" << reply.status();
  }
  if (!outcome.replaced_key.empty()) OnKeysChanged(now);
  enroll_out_.push_back({route, reply});
}

void Inbound::RefuseEnroll(const std::string& route, const Peer& peer,
                           const std::string& reason) {
  ++refused_;
  QLOG(kWarning) << "enroll refused address=" << peer.address
                 << " key=" << peer.key << " reason=\"" << reason << "\"";
  proto::EnrollReply reply;
  reply.set_protocol_version(kProtocolVersion);
  reply.set_status(proto::EnrollReply::REFUSED);
  reply.set_reason(reason);
  enroll_out_.push_back({route, std::move(reply)});
}

void Inbound::OnTime(absl::Time now, bool tick) {
  // Drops by the enroll rate limit not yet told.
  if (enroll_limited_ != 0 &&
      now - enroll_limited_logged_ >= absl::Seconds(1)) {
    QLOG(kWarning) << "enroll requests dropped address="
                   << enroll_limited_address_
                   << " reason=\"rate limit\" dropped=" << enroll_limited_;
    enroll_limited_ = 0;
    enroll_limited_logged_ = now;
  }
  if (tick) Queue(scheduler_->OnTick(now));
  for (ApiOutbound& out : api_->Poll(now)) api_out_.push_back(std::move(out));
}

void Inbound::OnCrossCheck(uint64_t job, std::optional<uint64_t> count,
                           absl::Time now) {
  std::vector<Outbound> out;
  scheduler_->OnCrossCheck(job, count, now, &out);
  Queue(std::move(out));
}

void Inbound::OnKeysChanged(absl::Time now) {
  if (keys_ == nullptr) return;
  for (auto it = node_keys_.begin(); it != node_keys_.end();) {
    const std::string* name = keys_->NameOf(kWorkerDomain, it->second);
    if (name != nullptr && *name == it->first) {
      ++it;
      continue;
    }
    const std::string node = it->first;
    const proto::EnrolledNode* enrolled =
        enrollment_ != nullptr ? enrollment_->Find(it->second) : nullptr;
    const bool rejected =
        enrolled != nullptr && enrolled->state() == proto::ENROLL_REJECTED;
    QLOG(kNotice) << "key revoked, evicting node=" << node
                  << " key=" << it->second
                  << " by=" << (rejected ? "quark reject" : "reload");
    Queue(scheduler_->Evict(node, now));
    if (auto route = routes_.find(node); route != routes_.end()) {
      RejectPeer(route->second,
                 rejected ? "this node was rejected by the operator (quark "
                            "reject); it cannot join again with this key"
                          : "this node's key was removed from the "
                            "controller's authorized_workers",
                 rejected);
      routes_.erase(route);
    }
    it = node_keys_.erase(it);
  }
}

absl::StatusOr<InboundOutput> Inbound::Commit(Store& store,
                                              const StepObserver& observe) {
  StoreBatch batch = scheduler_->TakeChanges();
  if (enrollment_ != nullptr) enrollment_->TakeChanges(&batch);
  InboundOutput out = TakeOutput();
  if (observe) observe(batch, out);
  if (!batch.empty()) RETURN_IF_ERROR(store.Commit(batch));
  return out;
}

InboundOutput Inbound::TakeOutput() {
  InboundOutput out;
  auto send = [&](const std::string& node, proto::ControlMsg msg) {
    const std::string* route = RouteOf(node);
    if (route == nullptr) {
      // It never spoke on a connection we know: expiry will clean up.
      QLOG(kDebug) << "no route to node=" << node;
      return;
    }
    out.control.push_back({*route, std::move(msg)});
  };
  for (Outbound& o : control_out_) send(o.node, std::move(o.msg));
  control_out_.clear();
  for (ControlOutbound& o : rejects_out_) out.control.push_back(std::move(o));
  rejects_out_.clear();
  for (auto& [node, leases] : acks_) {
    proto::ControlMsg ack;
    for (uint64_t lease : leases) ack.mutable_ack()->add_leases(lease);
    send(node, std::move(ack));
  }
  acks_.clear();
  out.api = std::move(api_out_);
  api_out_.clear();
  out.enroll = std::move(enroll_out_);
  enroll_out_.clear();
  return out;
}

const std::string* Inbound::AuthorizedName(const std::string& route,
                                           const Peer& peer) {
  const std::string* name = keys_->NameOf(kWorkerDomain, peer.key);
  if (name == nullptr) {
    // Authorized at the handshake, revoked since (a reload).
    ++refused_;
    QLOG(kInfo) << "message refused address=" << peer.address
                << " key=" << peer.key
                << " reason=\"key no longer authorized\"";
    RejectPeer(route,
               "this node's key is no longer in the controller's "
               "authorized_workers");
    return nullptr;
  }
  return name;
}

void Inbound::RejectPeer(const std::string& route, const std::string& reason,
                         bool rejected) {
  ControlOutbound o;
  o.route = route;
  proto::Reject* reject = o.msg.mutable_reject();
  reject->set_reason(reason);
  reject->set_reregister(false);
  reject->set_rejected(rejected);
  reject->set_protocol_version(kProtocolVersion);
  rejects_out_.push_back(std::move(o));
}

void Inbound::Queue(std::vector<Outbound> out) {
  for (Outbound& o : out) control_out_.push_back(std::move(o));
}

const std::string* Inbound::RouteOf(const std::string& node) const {
  if (keys_ == nullptr) return &node;
  auto it = routes_.find(node);
  return it == routes_.end() ? nullptr : &it->second;
}

}  // namespace quark
