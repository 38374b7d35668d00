#include "bench/load/sim_worker.h"

#include <utility>

#include "absl/status/status.h"

namespace quark {
namespace {

SessionOptions SessionOptionsFor(const SimWorkerOptions& sim) {
  SessionOptions s;
  s.node = sim.name;
  s.controller = "load test";
  s.incarnation = sim.incarnation;
  s.credits = sim.credits;
  s.drain_timeout = sim.drain_timeout;
  s.resend_after = sim.resend_after;
  s.max_unacked = sim.max_unacked;
  return s;
}

}  // namespace

SimWorker::SimWorker(SimWorkerOptions options)
    : options_(std::move(options)),
      session_(std::make_unique<Session>(SessionOptionsFor(options_))),
      random_(options_.seed) {}

void SimWorker::Start(absl::Time now, Actions* out) {
  Carry(session_->Start(now), now, out);
}

void SimWorker::OnControl(const proto::ControlMsg& msg, absl::Time now,
                          Actions* out) {
  CountIncoming(msg, now, out);
  Carry(session_->OnMessage(msg, now), now, out);
  OnTick(now, out);
}

void SimWorker::CountIncoming(const proto::ControlMsg& msg, absl::Time now,
                              Actions* out) {
  switch (msg.body_case()) {
    case proto::ControlMsg::kWelcome:
      if (!registered()) ++counters_.welcomes;  // not a repeated Hello's
      break;
    case proto::ControlMsg::kAssign:
      ++counters_.assigns;
      break;
    case proto::ControlMsg::kCancel:
      counters_.cancels += static_cast<uint64_t>(msg.cancel().leases_size());
      break;
    case proto::ControlMsg::kHeartbeat:
      ++counters_.heartbeats_in;
      break;
    case proto::ControlMsg::kReject:
      ++counters_.rejects;
      break;
    case proto::ControlMsg::kAck:
      ++counters_.acks;
      for (uint64_t lease : msg.ack().leases()) {
        auto it = first_push_.find(lease);
        if (it == first_push_.end()) {
          ++counters_.unknown_acks;  // e.g. the Ack of a result pushed twice
          continue;
        }
        ++counters_.acked;
        out->acked.push_back(now - it->second);
        first_push_.erase(it);
      }
      break;
    default:
      break;
  }
}

// What the session asked of the I/O loop goes to the fleet; what it asked
// of the executor is simulated here.
void SimWorker::Carry(SessionActions actions, absl::Time now, Actions* out) {
  out->reconnect = out->reconnect || actions.reconnect;
  for (proto::ControlMsg& msg : actions.send) {
    if (msg.has_heartbeat()) ++counters_.heartbeats_out;
    out->send.push_back(std::move(msg));
  }
  if (!actions.connect_collector.empty()) {
    out->collector = std::move(actions.connect_collector);
  }
  for (proto::ResultMsg& result : actions.push) {
    if (first_push_.try_emplace(result.lease(), now).second) {
      ++counters_.results;
    } else {
      ++counters_.resends;
    }
    out->push.push_back(std::move(result));
  }
  // A kept result the session dropped (max_unacked) is never acked: forget
  // its first push too, so that the map stays as bounded as the session.
  if (first_push_.size() > 2 * options_.max_unacked + 16) {
    absl::erase_if(first_push_, [&](const auto& entry) {
      return now - entry.second > 4 * options_.resend_after;
    });
  }
  for (uint64_t lease : actions.stop) {
    if (running_ && running_->lease == lease) {
      running_->stopped = true;
      running_->done_at = now;
    }
  }
  if (actions.start) {
    running_ = Running{actions.start->lease(), now, now + DrawTask()};
  }
}

absl::Duration SimWorker::DrawTask() {
  if (options_.fake_task_max <= options_.fake_task) return options_.fake_task;
  std::uniform_int_distribution<int64_t> us(
      absl::ToInt64Microseconds(options_.fake_task),
      absl::ToInt64Microseconds(options_.fake_task_max));
  return absl::Microseconds(us(random_));
}

void SimWorker::OnTick(absl::Time now, Actions* out) {
  // The executor's report, as the real worker's loop takes it from the
  // wakeup; a task the session already gave up on (the drain timeout) is
  // not reported.
  while (running_ && now >= running_->done_at) {
    const Running done = *running_;
    running_.reset();
    if (!session_->running()) break;
    const absl::Duration took = options_.reported_compute < absl::ZeroDuration()
                                    ? done.done_at - done.started
                                    : options_.reported_compute;
    absl::StatusOr<proto::Partial> partial =
        done.stopped
            ? absl::StatusOr<proto::Partial>(absl::CancelledError("stopped"))
            : proto::Partial();  // empty: count 0
    Carry(session_->OnTaskFinished(done.lease, partial, took, now), now, out);
  }
  Carry(session_->OnTick(now), now, out);
}

absl::Time SimWorker::NextDeadline() const {
  absl::Time next = session_->NextDeadline();
  if (running_) next = std::min(next, running_->done_at);
  return next;
}

void SimWorker::Leave(absl::Time now, Actions* out) {
  Carry(session_->OnShutdown(now), now, out);
}

}  // namespace quark
