#include "bench/load/sim_worker.h"

#include <algorithm>
#include <utility>

#include "common/transport.h"

namespace quark {

SimWorker::SimWorker(SimWorkerOptions options)
    : options_(std::move(options)),
      unacked_(options_.max_unacked),
      random_(options_.seed) {}

void SimWorker::Start(absl::Time now, Actions* out) { SendHello(now, out); }

// Unacknowledged results are kept across sessions and pushed again on the
// next Welcome, as the real worker does.
void SimWorker::SendHello(absl::Time now, Actions* out) {
  session_ = 0;
  queue_.clear();
  proto::ControlMsg msg;
  proto::Hello* hello = msg.mutable_hello();
  hello->set_protocol_version(kProtocolVersion);
  hello->set_node(options_.name);
  hello->set_cores(1);
  hello->set_threads(1);
  hello->set_incarnation(options_.incarnation);
  out->send.push_back(std::move(msg));
  last_heard_ = now;
  next_hello_ = now + options_.hello_retry;
}

void SimWorker::SendReady(uint32_t credits, Actions* out) {
  proto::ControlMsg msg;
  msg.mutable_ready()->set_session(session_);
  msg.mutable_ready()->set_credits(credits);
  out->send.push_back(std::move(msg));
}

void SimWorker::OnControl(const proto::ControlMsg& msg, absl::Time now,
                          Actions* out) {
  last_heard_ = now;
  switch (msg.body_case()) {
    case proto::ControlMsg::kWelcome:
      OnWelcome(msg.welcome(), now, out);
      break;
    case proto::ControlMsg::kAssign:
      if (!registered()) break;
      ++counters_.assigns;
      if (queue_.empty()) running_since_ = now;
      queue_.push_back(Queued{msg.assign(), DrawTask()});
      break;
    case proto::ControlMsg::kCancel:
      OnCancel(msg.cancel(), now, out);
      break;
    case proto::ControlMsg::kHeartbeat:
      ++counters_.heartbeats_in;
      break;
    case proto::ControlMsg::kAck:
      OnAck(msg.ack(), now, out);
      break;
    case proto::ControlMsg::kReject:
      ++counters_.rejects;
      if (msg.reject().reregister()) SendHello(now, out);
      break;
    default:  // Drain: informational.
      break;
  }
  OnTick(now, out);
}

void SimWorker::OnWelcome(const proto::Welcome& welcome, absl::Time now,
                          Actions* out) {
  if (registered()) return;  // answers a repeated Hello
  ++counters_.welcomes;
  session_ = welcome.session();
  heartbeat_ =
      absl::Milliseconds(std::max<uint32_t>(welcome.heartbeat_ms(), 1));
  liveness_ = static_cast<int>(std::max<uint32_t>(welcome.liveness(), 1));
  next_heartbeat_ = now + heartbeat_;
  out->collector = welcome.collector();
  SendReady(options_.credits, out);
  // The controller may never have seen them, or lost what it had not
  // committed.
  Repush(absl::InfiniteFuture(), now, out);
}

void SimWorker::OnAck(const proto::Ack& ack, absl::Time now, Actions* out) {
  ++counters_.acks;
  for (uint64_t lease : ack.leases()) {
    if (!unacked_.Ack(lease)) {
      ++counters_.unknown_acks;  // e.g. the Ack of a result pushed twice
      continue;
    }
    ++counters_.acked;
    auto it = std::find_if(first_push_.begin(), first_push_.end(),
                           [&](const auto& p) { return p.first == lease; });
    if (it == first_push_.end()) continue;
    out->acked.push_back(now - it->second);
    first_push_.erase(it);
  }
}

void SimWorker::Repush(absl::Time pushed_by, absl::Time now, Actions* out) {
  for (proto::ResultMsg& r : unacked_.Repush(pushed_by, session_, now)) {
    ++counters_.resends;
    out->push.push_back(std::move(r));
  }
}

absl::Duration SimWorker::DrawTask() {
  if (options_.fake_task_max <= options_.fake_task) return options_.fake_task;
  std::uniform_int_distribution<int64_t> us(
      absl::ToInt64Microseconds(options_.fake_task),
      absl::ToInt64Microseconds(options_.fake_task_max));
  return absl::Microseconds(us(random_));
}

// Drops the cancelled leases, the running one included (its result would
// be discarded anyway), and gives their credits back.
void SimWorker::OnCancel(const proto::Cancel& cancel, absl::Time now,
                         Actions* out) {
  uint32_t dropped = 0;
  for (uint64_t lease : cancel.leases()) {
    auto it = std::find_if(queue_.begin(), queue_.end(), [&](const Queued& q) {
      return q.assign.lease() == lease;
    });
    if (it == queue_.end()) continue;
    if (it == queue_.begin()) running_since_ = now;
    queue_.erase(it);
    ++dropped;
  }
  counters_.cancels += dropped;
  if (dropped > 0 && registered()) SendReady(dropped, out);
}

absl::Duration SimWorker::Reported() const {
  return options_.reported_compute < absl::ZeroDuration()
             ? queue_.front().takes
             : options_.reported_compute;
}

// Pushes the result of the running assignment, keeps it until acked, and
// takes the next one.
void SimWorker::Finish(absl::Time now, Actions* out) {
  const proto::Assign& a = queue_.front().assign;
  proto::ResultMsg result;
  result.set_protocol_version(kProtocolVersion);
  result.set_session(session_);
  result.set_lease(a.lease());
  result.set_job(a.job());
  result.set_task(a.task());
  *result.mutable_range() = a.range();
  result.mutable_partial();  // empty: count 0
  result.set_compute_us(
      static_cast<uint64_t>(absl::ToInt64Microseconds(Reported())));
  result.set_node(options_.name);
  const uint64_t lease = result.lease();
  out->push.push_back(result);
  for (const proto::ResultMsg& r : unacked_.Add(std::move(result), now)) {
    ++counters_.dropped;
    std::erase_if(first_push_,
                  [&](const auto& p) { return p.first == r.lease(); });
  }
  std::erase_if(first_push_, [&](const auto& p) { return p.first == lease; });
  first_push_.emplace_back(lease, now);
  ++counters_.results;
  queue_.pop_front();
  running_since_ = now;
  SendReady(1, out);
}

void SimWorker::OnTick(absl::Time now, Actions* out) {
  if (!registered()) {
    if (now >= next_hello_) SendHello(now, out);
    return;
  }
  if (now - last_heard_ > heartbeat_ * liveness_) {
    SendHello(now, out);  // controller lost: register again
    return;
  }
  while (!queue_.empty() && now >= running_since_ + queue_.front().takes) {
    Finish(now, out);
  }
  if (now >= unacked_.NextDue(options_.resend_after)) {
    // Those that have waited half as long go along, as in the real worker.
    Repush(now - options_.resend_after / 2, now, out);
  }
  if (now >= next_heartbeat_) {
    proto::ControlMsg msg;
    msg.mutable_heartbeat()->set_session(session_);
    msg.mutable_heartbeat()->set_sieving(!queue_.empty());
    out->send.push_back(std::move(msg));
    ++counters_.heartbeats_out;
    next_heartbeat_ = now + heartbeat_;
  }
}

absl::Time SimWorker::NextDeadline() const {
  if (!registered()) return next_hello_;
  absl::Time next =
      std::min(next_heartbeat_, last_heard_ + heartbeat_ * liveness_);
  if (!queue_.empty())
    next = std::min(next, running_since_ + queue_.front().takes);
  return std::min(next, unacked_.NextDue(options_.resend_after));
}

void SimWorker::Leave(Actions* out) {
  if (!registered()) return;
  proto::ControlMsg msg;
  msg.mutable_goodbye()->set_session(session_);
  out->send.push_back(std::move(msg));
  session_ = 0;
  queue_.clear();
}

}  // namespace quark
