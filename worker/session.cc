#include "worker/session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/health.h"
#include "common/kinds.h"
#include "common/log.h"
#include "common/transport.h"

namespace quark {
namespace {

const char* StateName(Session::State state) {
  switch (state) {
    case Session::State::kIdle:
      return "idle";
    case Session::State::kJoining:
      return "joining";
    case Session::State::kRegistered:
      return "registered";
    case Session::State::kLeaving:
      return "leaving";
    case Session::State::kAwaitingAcks:
      return "awaiting_acks";
    case Session::State::kDone:
      return "done";
  }
  return "unknown";
}

// Why an assignment cannot be run, or empty when it can.
std::string CheckAssign(const proto::Assign& assign) {
  if (assign.lease() == 0) return "lease 0";
  if (FindKind(assign.kind()) == nullptr) {
    return absl::StrCat("unknown kind ", static_cast<int>(assign.kind()));
  }
  if (!assign.has_range()) return "no range";
  if (assign.range().lo() > assign.range().hi()) {
    return absl::StrCat("empty range [", assign.range().lo(), ", ",
                        assign.range().hi(), "]");
  }
  return "";
}

}  // namespace

Session::Session(SessionOptions options)
    : options_(std::move(options)),
      heartbeat_interval_(options_.heartbeat_interval),
      liveness_(options_.liveness),
      backoff_(options_.initial_backoff),
      unacked_(options_.max_unacked) {}

SessionActions Session::Start(absl::Time now) {
  SessionActions out;
  if (state_ != State::kIdle) return out;
  state_ = State::kJoining;
  SendHello(/*reconnect=*/false, now, &out);
  return out;
}

SessionActions Session::OnTick(absl::Time now) {
  SessionActions out;
  switch (state_) {
    case State::kJoining:
      if (now >= next_hello_) SendHello(/*reconnect=*/true, now, &out);
      return out;
    case State::kRegistered:
      if (now >= last_heard_ + liveness_ * heartbeat_interval_) {
        Rejoin("controller silent", /*reconnect=*/true, now, &out);
        return out;
      }
      break;
    case State::kLeaving:
      if (now >= leave_deadline_) {
        QLOG(kWarning) << "drain timeout passed, leaving without the result"
                       << " node=" << options_.node
                       << " lease=" << running_->assign.lease();
        out.stop.push_back(running_->assign.lease());
        Finish(now, &out);
        return out;
      }
      if (session_ == 0) return out;
      break;
    case State::kAwaitingAcks:
      if (now >= leave_deadline_) {
        QLOG(kWarning) << "drain timeout passed, leaving without acks node="
                       << options_.node << " unacked=" << unacked_.size();
        Exit(&out);
      } else if (session_ != 0) {
        RepushDue(now, &out);
      }
      return out;
    default:
      return out;
  }
  RepushDue(now, &out);
  if (now >= last_sent_ + heartbeat_interval_) {
    proto::ControlMsg msg;
    msg.mutable_heartbeat()->set_session(session_);
    // running_ lasts until the executor reports the task finished, so a
    // cancelled one still stopping counts.
    msg.mutable_heartbeat()->set_sieving(running_.has_value());
    *msg.mutable_heartbeat()->mutable_health() = health_;
    SendControl(std::move(msg), now, &out);
  }
  return out;
}

SessionActions Session::OnMessage(const proto::ControlMsg& msg,
                                  absl::Time now) {
  SessionActions out;
  if (state_ == State::kIdle || state_ == State::kDone) return out;
  last_heard_ = now;
  switch (msg.body_case()) {
    case proto::ControlMsg::kWelcome:
      OnWelcome(msg.welcome(), now, &out);
      break;
    case proto::ControlMsg::kAssign:
      OnAssign(msg.assign(), now, &out);
      break;
    case proto::ControlMsg::kHeartbeat:
      break;  // hearing from the controller is all it is for
    case proto::ControlMsg::kCancel:
      OnCancel(msg.cancel(), now, &out);
      break;
    case proto::ControlMsg::kDrain:
      QLOG(kNotice) << (msg.drain().drain() ? "drained" : "undrained")
                    << " node=" << options_.node << " session=" << session_;
      break;
    case proto::ControlMsg::kReject:
      OnReject(msg.reject(), now, &out);
      break;
    case proto::ControlMsg::kAck:
      OnAck(msg.ack(), &out);
      break;
    default:
      QLOG(kWarning) << "unexpected control message node=" << options_.node
                     << " type=" << msg.body_case();
      break;
  }
  return out;
}

// A result for `a`, without its partial: valid from any session; the
// current one, if any, gets the credit in the controller's statistics.
proto::ResultMsg Session::ResultFor(const proto::Assign& a,
                                    uint64_t session) const {
  proto::ResultMsg result;
  result.set_protocol_version(kProtocolVersion);
  result.set_session(session_ != 0 ? session_ : session);
  result.set_lease(a.lease());
  result.set_job(a.job());
  result.set_task(a.task());
  *result.mutable_range() = a.range();
  result.set_node(options_.node);
  return result;
}

SessionActions Session::OnTaskFinished(
    uint64_t lease, const absl::StatusOr<proto::Partial>& partial,
    absl::Duration compute, absl::Time now) {
  SessionActions out;
  if (!running_ || running_->assign.lease() != lease) {
    QLOG(kWarning) << "finished task that is not running lease=" << lease;
    return out;
  }
  const Running done = *std::move(running_);
  running_.reset();
  const proto::Assign& a = done.assign;
  if (done.cancelled) {
    QLOG(kInfo) << "discarded result of cancelled task lease=" << a.lease()
                << " job=" << a.job() << " task=" << a.task();
  } else {
    proto::ResultMsg result = ResultFor(a, done.session);
    result.set_throttled_bits(done.throttled);
    result.set_compute_us(static_cast<uint64_t>(
        std::max<int64_t>(0, absl::ToInt64Microseconds(compute))));
    if (partial.ok()) {
      *result.mutable_partial() = *partial;
      rate_.Add(static_cast<double>(a.range().hi() - a.range().lo()) + 1,
                absl::ToDoubleSeconds(compute));
      QLOG(kInfo) << "task done lease=" << a.lease() << " job=" << a.job()
                  << " task=" << a.task() << " attempt=" << a.attempt()
                  << " lo=" << a.range().lo() << " hi=" << a.range().hi()
                  << " ms=" << absl::ToInt64Milliseconds(compute);
    } else {
      // Reported, so that the controller hands the task to someone else
      // instead of waiting for it forever.
      result.set_error(std::string(partial.status().message()));
      QLOG(kError) << "task failed lease=" << a.lease() << " job=" << a.job()
                   << " task=" << a.task() << " error=\""
                   << partial.status().message() << "\"";
    }
    PushResult(std::move(result), now, &out);
  }
  if (state_ == State::kLeaving) {
    Finish(now, &out);
  } else if (state_ == State::kRegistered) {
    GrantCredits(1, now, &out);
    StartNext(&out);
  }
  return out;
}

SessionActions Session::OnDisconnected(absl::Time now) {
  SessionActions out;
  if (state_ == State::kRegistered) {
    Rejoin("connection to the controller dropped", /*reconnect=*/false, now,
           &out);
  }
  return out;
}

SessionActions Session::OnControllerMoved(absl::Time now) {
  SessionActions out;
  if (state_ == State::kJoining) {
    backoff_ = options_.initial_backoff;
    SendHello(/*reconnect=*/true, now, &out);
  }
  return out;
}

SessionActions Session::OnShutdown(absl::Time now) {
  SessionActions out;
  switch (state_) {
    case State::kJoining:
    case State::kRegistered:
      BeginLeave(now, &out);
      break;
    case State::kLeaving:
    case State::kAwaitingAcks:
      QLOG(kWarning) << "asked again to stop, leaving now node="
                     << options_.node;
      if (state_ == State::kLeaving) SayGoodbye(&out);
      Exit(&out);
      break;
    case State::kIdle:
      Exit(&out);
      break;
    case State::kDone:
      break;
  }
  return out;
}

void Session::SetHealth(proto::Health health) {
  health_ = std::move(health);
  if (!running_) return;
  const uint32_t bits = health_.throttled_bits();
  // A condition too short to be seen now still sets its since-boot bit.
  running_->throttled |=
      (bits & kNowBits) | (SinceBoot(bits) & ~running_->since_boot_at_start);
}

absl::Time Session::NextDeadline() const {
  const absl::Time heartbeat = last_sent_ + heartbeat_interval_;
  const absl::Time resend = unacked_.NextDue(options_.resend_after);
  switch (state_) {
    case State::kJoining:
      return next_hello_;
    case State::kRegistered:
      return std::min(
          {heartbeat, resend, last_heard_ + liveness_ * heartbeat_interval_});
    case State::kLeaving:
      return session_ != 0 ? std::min({heartbeat, resend, leave_deadline_})
                           : leave_deadline_;
    case State::kAwaitingAcks:
      return session_ != 0 ? std::min(resend, leave_deadline_)
                           : leave_deadline_;
    default:
      return absl::InfiniteFuture();
  }
}

void Session::SendHello(bool reconnect, absl::Time now, SessionActions* out) {
  out->reconnect = out->reconnect || reconnect;
  proto::ControlMsg msg;
  proto::Hello* hello = msg.mutable_hello();
  hello->set_protocol_version(kProtocolVersion);
  hello->set_node(options_.node);
  hello->set_cores(options_.cores);
  hello->set_threads(options_.threads);
  hello->set_memory_budget(options_.memory_budget);
  hello->set_incarnation(options_.incarnation);
  SendControl(std::move(msg), now, out);
  QLOG(kDebug) << "hello node=" << options_.node
               << " controller=" << options_.controller
               << " retry_in=" << absl::FormatDuration(backoff_);
  next_hello_ = now + backoff_;
  backoff_ = std::min(2 * backoff_, options_.max_backoff);
}

void Session::Rejoin(const char* why, bool reconnect, absl::Time now,
                     SessionActions* out) {
  QLOG(kWarning) << "registering again node=" << options_.node
                 << " session=" << session_ << " reason=\"" << why << "\"";
  DropWaiting(why);
  session_ = 0;
  state_ = State::kJoining;
  backoff_ = options_.initial_backoff;
  SendHello(reconnect, now, out);
}

void Session::OnWelcome(const proto::Welcome& welcome, absl::Time now,
                        SessionActions* out) {
  if (state_ != State::kJoining && state_ != State::kRegistered) {
    QLOG(kInfo) << "ignored welcome node=" << options_.node
                << " state=" << StateName(state_);
    return;
  }
  if (welcome.protocol_version() != kProtocolVersion) {
    state_ = State::kDone;
    out->exit = absl::FailedPreconditionError(
        absl::StrCat("controller ", options_.controller,
                     " speaks protocol version ", welcome.protocol_version(),
                     ", this worker speaks version ", kProtocolVersion));
    return;
  }
  if (welcome.session() == 0) {
    QLOG(kWarning) << "ignored welcome without a session node="
                   << options_.node;
    return;
  }
  // A Welcome while registered answers a later Hello: the controller has
  // replaced the old session and requeued its leases.
  DropWaiting("new session");
  session_ = welcome.session();
  state_ = State::kRegistered;
  backoff_ = options_.initial_backoff;
  next_hello_ = absl::InfiniteFuture();
  if (welcome.heartbeat_ms() > 0) {
    heartbeat_interval_ = absl::Milliseconds(welcome.heartbeat_ms());
  }
  if (welcome.liveness() > 0) liveness_ = static_cast<int>(welcome.liveness());
  QLOG(kNotice) << "registered node=" << options_.node
                << " session=" << session_
                << " controller=" << options_.controller;
  if (welcome.collector().empty()) {
    QLOG(kWarning) << "welcome names no collector node=" << options_.node;
  } else {
    out->connect_collector = welcome.collector();
  }
  // A task still running from an earlier session holds one slot.
  GrantCredits(options_.credits - (running_ ? 1 : 0), now, out);
  // The controller may never have seen them (it restarted, or the push
  // went to a collector that was gone), or lost what it had not committed.
  Repush(absl::InfiniteFuture(), "registered", now, out);
}

void Session::OnAssign(const proto::Assign& assign, absl::Time now,
                       SessionActions* out) {
  if (state_ != State::kRegistered) {
    QLOG(kInfo) << "dropped assignment lease=" << assign.lease()
                << " state=" << StateName(state_);
    return;
  }
  if (const std::string error = CheckAssign(assign); !error.empty()) {
    QLOG(kWarning) << "refused assignment lease=" << assign.lease()
                   << " job=" << assign.job() << " task=" << assign.task()
                   << " reason=\"" << error << "\"";
    proto::ResultMsg refused = ResultFor(assign, session_);
    refused.set_error(absl::StrCat("refused by the worker: ", error));
    PushResult(std::move(refused), now, out);
    GrantCredits(1, now, out);
    return;
  }
  QLOG(kDebug) << "assigned lease=" << assign.lease() << " job=" << assign.job()
               << " task=" << assign.task() << " attempt=" << assign.attempt()
               << " lo=" << assign.range().lo()
               << " hi=" << assign.range().hi();
  waiting_.push_back(assign);
  StartNext(out);
}

void Session::OnCancel(const proto::Cancel& cancel, absl::Time now,
                       SessionActions* out) {
  uint32_t freed = 0;
  for (uint64_t lease : cancel.leases()) {
    auto it = std::find_if(
        waiting_.begin(), waiting_.end(),
        [&](const proto::Assign& a) { return a.lease() == lease; });
    if (it != waiting_.end()) {
      waiting_.erase(it);
      ++freed;
      QLOG(kInfo) << "cancelled lease=" << lease << " was=waiting";
    } else if (running_ && running_->assign.lease() == lease) {
      // The kernel stops within about a second; the slot frees when the
      // executor reports it finished.
      running_->cancelled = true;
      out->stop.push_back(lease);
      QLOG(kInfo) << "cancelled lease=" << lease << " was=running";
    } else {
      QLOG(kDebug) << "cancel of unknown lease=" << lease;
    }
  }
  if (state_ == State::kRegistered) GrantCredits(freed, now, out);
}

void Session::OnReject(const proto::Reject& reject, absl::Time now,
                       SessionActions* out) {
  if (!reject.reregister()) {
    state_ = State::kDone;
    if (reject.rejected()) {  // for good: main exits 2
      out->exit = absl::PermissionDeniedError(
          absl::StrCat("controller ", options_.controller,
                       " refused this worker: ", reject.reason()));
      return;
    }
    out->exit = absl::FailedPreconditionError(absl::StrCat(
        "controller ", options_.controller, " refused this worker: ",
        reject.reason(), " (controller protocol version ",
        reject.protocol_version(), ", ours ", kProtocolVersion, ")"));
    return;
  }
  if (state_ != State::kRegistered) {
    // Answers a message sent before the Hello already on its way.
    QLOG(kDebug) << "ignored reject node=" << options_.node
                 << " state=" << StateName(state_);
    return;
  }
  if (reject.session() != 0 && reject.session() != session_) {
    // Answers a message of an earlier session, queued before the Welcome.
    QLOG(kDebug) << "ignored reject of an earlier session node="
                 << options_.node << " rejected=" << reject.session()
                 << " session=" << session_;
    return;
  }
  Rejoin("controller asked to re-register", /*reconnect=*/false, now, out);
}

void Session::OnAck(const proto::Ack& ack, SessionActions* out) {
  for (uint64_t lease : ack.leases()) {
    if (unacked_.Ack(lease)) {
      QLOG(kDebug) << "acked lease=" << lease;
    } else {
      QLOG(kDebug) << "ack of unknown lease=" << lease;
    }
  }
  if (state_ == State::kAwaitingAcks && unacked_.empty()) Exit(out);
}

void Session::BeginLeave(absl::Time now, SessionActions* out) {
  state_ = State::kLeaving;
  DropWaiting("leaving");
  leave_deadline_ = now + options_.drain_timeout;
  if (running_ && running_->cancelled) {
    // Its result would be thrown away: no reason to wait for it.
    QLOG(kInfo) << "stopping cancelled task lease=" << running_->assign.lease();
    out->stop.push_back(running_->assign.lease());
    Finish(now, out);
    return;
  }
  if (!running_) {
    Finish(now, out);
    return;
  }
  QLOG(kNotice) << "leaving node=" << options_.node
                << " running_lease=" << running_->assign.lease()
                << " drain_timeout="
                << absl::FormatDuration(options_.drain_timeout);
}

void Session::Finish(absl::Time now, SessionActions* out) {
  SayGoodbye(out);
  if (unacked_.empty() || now >= leave_deadline_) {
    Exit(out);
    return;
  }
  state_ = State::kAwaitingAcks;
  QLOG(kNotice) << "waiting for acks node=" << options_.node
                << " unacked=" << unacked_.size()
                << " timeout=" << absl::FormatDuration(leave_deadline_ - now);
}

void Session::SayGoodbye(SessionActions* out) {
  if (session_ == 0) return;
  proto::ControlMsg msg;
  msg.mutable_goodbye()->set_session(session_);
  out->send.push_back(std::move(msg));
}

void Session::Exit(SessionActions* out) {
  state_ = State::kDone;
  out->exit = absl::OkStatus();
  if (unacked_.empty()) {
    QLOG(kNotice) << "left node=" << options_.node << " unacked=0";
  } else {
    QLOG(kWarning) << "left node=" << options_.node
                   << " unacked=" << unacked_.size();
  }
}

void Session::PushResult(proto::ResultMsg result, absl::Time now,
                         SessionActions* out) {
  out->push.push_back(result);
  for (const proto::ResultMsg& r : unacked_.Add(std::move(result), now)) {
    ++dropped_unacked_;
    QLOG(kWarning) << "dropped unacknowledged result lease=" << r.lease()
                   << " job=" << r.job() << " task=" << r.task()
                   << " max_unacked=" << options_.max_unacked;
  }
}

void Session::RepushDue(absl::Time now, SessionActions* out) {
  if (now < unacked_.NextDue(options_.resend_after)) return;
  // The others that have waited half as long go along, so that results
  // kept together are pushed again together: one batch, one log line.
  Repush(now - options_.resend_after / 2, "no ack", now, out);
}

void Session::Repush(absl::Time pushed_by, const char* why, absl::Time now,
                     SessionActions* out) {
  std::vector<proto::ResultMsg> due = unacked_.Repush(pushed_by, session_, now);
  if (due.empty()) return;
  QLOG(kInfo) << "pushing results again node=" << options_.node
              << " session=" << session_ << " results=" << due.size()
              << " reason=\"" << why << "\"";
  for (proto::ResultMsg& r : due) {
    QLOG(kDebug) << "pushed again lease=" << r.lease() << " job=" << r.job()
                 << " task=" << r.task();
    out->push.push_back(std::move(r));
  }
}

void Session::GrantCredits(uint32_t credits, absl::Time now,
                           SessionActions* out) {
  if (credits == 0) return;
  proto::ControlMsg msg;
  msg.mutable_ready()->set_session(session_);
  msg.mutable_ready()->set_credits(credits);
  SendControl(std::move(msg), now, out);
}

void Session::SendControl(proto::ControlMsg msg, absl::Time now,
                          SessionActions* out) {
  out->send.push_back(std::move(msg));
  last_sent_ = now;  // any message is a sign of life
}

void Session::DropWaiting(const char* why) {
  for (const proto::Assign& a : waiting_) {
    QLOG(kInfo) << "dropped assignment lease=" << a.lease()
                << " job=" << a.job() << " task=" << a.task() << " reason=\""
                << why << "\"";
  }
  waiting_.clear();
}

void Session::StartNext(SessionActions* out) {
  if (running_ || waiting_.empty()) return;
  running_ = Running{std::move(waiting_.front()), session_, false};
  running_->since_boot_at_start = SinceBoot(health_.throttled_bits());
  running_->throttled = health_.throttled_bits() & kNowBits;
  waiting_.pop_front();
  out->start = running_->assign;
}

}  // namespace quark
