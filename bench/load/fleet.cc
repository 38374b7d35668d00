#include "bench/load/fleet.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/status.h"
#include "common/transport.h"

namespace quark {
namespace {

// The steady clock as an absl::Time: the simulated workers' pure logic
// takes absl::Time, and latencies must not jump with the wall clock.
absl::Time MonoNow() {
  return absl::UnixEpoch() +
         absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

std::string LatencyFields(const LatencyHistogram& h) {
  auto ms = [](absl::Duration d) { return absl::ToDoubleMilliseconds(d); };
  return absl::StrFormat("p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f",
                         ms(h.Quantile(0.5)), ms(h.Quantile(0.9)),
                         ms(h.Quantile(0.99)), ms(h.max()));
}

}  // namespace

Fleet::Fleet(FleetOptions options) : options_(std::move(options)) {}

Fleet::~Fleet() {
  dealers_.clear();
  push_.reset();
}

absl::Status Fleet::Start() {
  // Before the context: libzmq's threads must inherit the blocked signals.
  ASSIGN_OR_RETURN(signals_, ShutdownSignals::Install());
  context_ = std::make_unique<zmq::context_t>(1);
  try {
    // libzmq refuses sockets past 1023 by default.
    context_->set(zmq::ctxopt::max_sockets, options_.workers + 16);
    push_ = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::push);
    // Results of all workers share one pipe: do not cap it at 1000.
    push_->set(zmq::sockopt::sndhwm, 0);
  } catch (const zmq::error_t& e) {
    return absl::InternalError(absl::StrCat("zmq context: ", e.what()));
  }
  RETURN_IF_ERROR(ConfigureClient(*push_, "", absl::Seconds(1), false));
  std::random_device random;
  const absl::Time now = MonoNow();
  started_ = now;
  last_report_ = now;
  workers_.reserve(options_.workers);
  dealers_.reserve(options_.workers);
  for (int i = 0; i < options_.workers; ++i) {
    SimWorkerOptions w;
    w.name = absl::StrFormat("%s%04d", options_.name_prefix, i + 1);
    w.incarnation = (uint64_t{random()} << 32 | random()) | 1;
    w.credits = options_.credits;
    w.fake_task = options_.fake_task;
    w.fake_task_max = options_.fake_task_max;
    w.seed = options_.seed * 1000003 + static_cast<uint64_t>(i);
    w.reported_compute = options_.reported_compute;
    w.drain_timeout = options_.drain_timeout;
    workers_.emplace_back(std::move(w));
    dealers_.emplace_back();
    RETURN_IF_ERROR(OpenDealer(workers_.size() - 1));
    SimWorker::Actions actions;
    workers_.back().Start(now, &actions);
    RETURN_IF_ERROR(Carry(workers_.size() - 1, actions));
  }
  return absl::OkStatus();
}

// A fresh control DEALER for worker `i`, named after it (as the real
// worker's without CURVE), connected to the controller.
absl::Status Fleet::OpenDealer(size_t i) {
  try {
    dealers_[i] = zmq::socket_t(*context_, zmq::socket_type::dealer);
  } catch (const zmq::error_t& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("socket ", i + 1, ": ", e.what(), " (raise ulimit -n?)"));
  }
  if (i < items_.size()) items_[i].socket = dealers_[i].handle();
  RETURN_IF_ERROR(ConfigureClient(dealers_[i], workers_[i].name(),
                                  absl::ZeroDuration(),
                                  /*immediate=*/false));
  return Connect(dealers_[i], options_.controller);
}

// Does what worker `i` asked for. A full queue is counted, not fatal: the
// session's liveness logic recovers as a real worker's would.
absl::Status Fleet::Carry(size_t i, SimWorker::Actions& actions) {
  if (actions.reconnect) {
    ++reconnects_;
    RETURN_IF_ERROR(OpenDealer(i));
  }
  if (!actions.collector.empty() && collector_.empty()) {
    collector_ = ConnectableEndpoint(actions.collector,
                                     options_.collect_host.empty()
                                         ? HostOfEndpoint(options_.controller)
                                         : options_.collect_host);
    RETURN_IF_ERROR(Connect(*push_, collector_));
    QLOG(kInfo) << "collector connected endpoint=" << collector_;
  }
  for (const auto& msg : actions.send) {
    if (!SendMessage(dealers_[i], msg).ok()) ++send_errors_;
  }
  for (const auto& result : actions.push) {
    if (!SendMessage(*push_, result).ok()) ++send_errors_;
  }
  if (!actions.acked.empty()) {
    const bool counted = MonoNow() >= started_ + options_.warmup;
    for (absl::Duration latency : actions.acked) {
      interval_.Record(latency);
      if (counted) total_.Record(latency);
    }
  }
  actions = SimWorker::Actions();
  return absl::OkStatus();
}

// Reads every message queued on worker `i`'s DEALER. Each is stamped when
// it is read, so that an Ack's latency includes the time it waited here.
absl::Status Fleet::Receive(size_t i) {
  while (true) {
    auto frames = ReceiveFrames(dealers_[i]);
    if (!frames.ok()) return frames.status();
    if (!frames->has_value()) return absl::OkStatus();
    const absl::Time now = MonoNow();
    proto::ControlMsg msg;
    if ((*frames)->size() != 1 || !ParseFrame((**frames)[0], &msg).ok()) {
      ++parse_errors_;
      continue;
    }
    SimWorker::Actions actions;
    workers_[i].OnControl(msg, now, &actions);
    RETURN_IF_ERROR(Carry(i, actions));
  }
}

absl::Status Fleet::Run() {
  const size_t n = dealers_.size();
  items_.assign(n + 1, zmq::pollitem_t{});
  for (size_t i = 0; i < n; ++i) {
    items_[i] = {dealers_[i].handle(), 0, ZMQ_POLLIN, 0};
  }
  items_[n] = {nullptr, signals_->fd(), ZMQ_POLLIN, 0};
  absl::Time end = options_.duration > absl::ZeroDuration()
                       ? started_ + options_.duration
                       : absl::InfiniteFuture();
  absl::Time next_report = started_ + options_.report_every;
  absl::Time next_tick = started_;
  bool leaving = false;
  while (true) {
    absl::Time now = MonoNow();
    if (!leaving && now >= end) {
      // The figures are of the run; then every worker leaves as a real one
      // does on SIGTERM, within its drain timeout.
      Report(now, "final");
      Leave(now);
      leaving = true;
      end = now + options_.drain_timeout + absl::Seconds(1);
      next_tick = now;
      continue;
    }
    if (leaving && (now >= end || AllDone())) break;
    if (!leaving && now >= next_report) {
      Report(now, "progress");
      next_report = now + options_.report_every;
    }
    if (now >= next_tick) {
      next_tick = std::min(end, next_report);
      for (size_t i = 0; i < n; ++i) {
        SimWorker::Actions actions;
        // Fresh for each: a push is stamped when it is sent.
        workers_[i].OnTick(MonoNow(), &actions);
        RETURN_IF_ERROR(Carry(i, actions));
        next_tick = std::min(next_tick, workers_[i].NextDeadline());
      }
    }
    const auto timeout = std::chrono::milliseconds(
        std::max<int64_t>(absl::ToInt64Milliseconds(next_tick - MonoNow()), 0) +
        1);
    try {
      zmq::poll(items_.data(), items_.size(), timeout);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: ", e.what()));
    }
    if (items_[n].revents & ZMQ_POLLIN) {
      const int signal = signals_->Take();
      QLOG(kNotice) << "loadgen stopping signal=" << signal;
      if (leaving) break;  // a second signal: at once
      end = MonoNow();     // the final report, then the leave
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      if (!(items_[i].revents & ZMQ_POLLIN)) continue;
      RETURN_IF_ERROR(Receive(i));
      next_tick = std::min(next_tick, workers_[i].NextDeadline());
    }
  }
  if (!AllDone()) {
    // Past the drain timeout or a second signal: the rest say Goodbye now.
    Leave(MonoNow());
  }
  return absl::OkStatus();
}

void Fleet::Leave(absl::Time now) {
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].done()) continue;
    SimWorker::Actions actions;
    workers_[i].Leave(now, &actions);
    Carry(i, actions).IgnoreError();
  }
}

bool Fleet::AllDone() const {
  return std::all_of(workers_.begin(), workers_.end(),
                     [](const SimWorker& w) { return w.done(); });
}

void Fleet::Report(absl::Time now, const char* what) {
  SimCounters sum;
  size_t registered = 0, in_flight = 0, unacked = 0;
  uint64_t dropped = 0;
  for (const SimWorker& w : workers_) {
    const SimCounters& c = w.counters();
    sum.welcomes += c.welcomes;
    sum.assigns += c.assigns;
    sum.results += c.results;
    sum.cancels += c.cancels;
    sum.rejects += c.rejects;
    sum.heartbeats_in += c.heartbeats_in;
    sum.heartbeats_out += c.heartbeats_out;
    sum.acks += c.acks;
    sum.acked += c.acked;
    sum.unknown_acks += c.unknown_acks;
    sum.resends += c.resends;
    dropped += w.dropped();
    registered += w.registered() ? 1 : 0;
    in_flight += w.in_flight();
    unacked += w.unacked();
  }
  const double seconds = absl::ToDoubleSeconds(now - started_);
  // Progress: the interval since the last report. Final: the run after
  // the warmup.
  const bool final = std::string_view(what) == "final";
  const LatencyHistogram& h = final ? total_ : interval_;
  const double window =
      std::max(1e-9, absl::ToDoubleSeconds(
                         final ? now - std::min(now, started_ + options_.warmup)
                               : now - last_report_));
  // stdout, one line per report, for load_test.sh to parse.
  std::fputs(
      absl::StrFormat(
          "%s t=%.1f registered=%d in_flight=%d welcomes=%d assigns=%d "
          "results=%d cancels=%d rejects=%d hb_in=%d hb_out=%d acks=%d "
          "acked=%d unacked=%d resends=%d unknown_acks=%d dropped=%d "
          "send_errors=%d parse_errors=%d reconnects=%d window_s=%.1f "
          "acked_per_s=%.0f %s\n",
          what, seconds, registered, in_flight, sum.welcomes, sum.assigns,
          sum.results, sum.cancels, sum.rejects, sum.heartbeats_in,
          sum.heartbeats_out, sum.acks, sum.acked, unacked, sum.resends,
          sum.unknown_acks, dropped, send_errors_, parse_errors_, reconnects_,
          window, static_cast<double>(h.count()) / window, LatencyFields(h))
          .c_str(),
      stdout);
  std::fflush(stdout);
  interval_.Clear();
  last_report_ = now;
}

}  // namespace quark
