#include "worker/worker.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/beacon.h"
#include "common/log.h"
#include "common/numbers.h"
#include "common/status.h"
#include "common/transport.h"

namespace quark {
namespace {

// Outgoing control messages kept while no connection is up. Reconnects
// clear the outbox long before it holds this many.
constexpr size_t kMaxOutbox = 256;
// Control messages handled per loop turn, so ticks are never starved.
constexpr int kMaxReceivePerTurn = 64;
// Least time between two moves to where the controller's beacon says it is.
constexpr absl::Duration kMinMoveInterval = absl::Seconds(5);
// How often the node's health is read: about once a heartbeat.
constexpr absl::Duration kHealthInterval = absl::Seconds(1);

// Intervals are measured on the monotonic clock: a wall clock step must
// not make the controller look silent.
absl::Time Now() {
  return absl::UnixEpoch() +
         absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

}  // namespace

Worker::Worker(WorkerOptions options, std::unique_ptr<ShutdownSignals> signals,
               std::unique_ptr<SystemdNotifier> systemd)
    : options_(std::move(options)),
      runner_(std::make_shared<TaskRunner>(TaskRunnerOptions{
          options_.session.node, options_.threads, options_.memory_limit,
          options_.proc_root, options_.cgroup_root})),
      session_([this] {
        SessionOptions s = options_.session;
        s.controller = options_.controller;
        s.memory_budget = runner_->Budget().bytes;
        return s;
      }()),
      controller_(options_.controller),
      signals_(std::move(signals)),
      systemd_(std::move(systemd)),
      connection_(options_.curve.has_value(), options_.enrolled) {}

Worker::~Worker() = default;

absl::Status Worker::Run() {
  absl::Status status = Setup();
  if (status.ok()) status = Loop();
  Close();
  return status;
}

absl::Status Worker::Setup() {
  // Before any thread exists, so that every thread inherits the mask.
  if (!signals_) {
    ASSIGN_OR_RETURN(signals_, ShutdownSignals::Install());
  }
  if (!systemd_) systemd_ = SystemdNotifier::FromEnvironment();
  ASSIGN_OR_RETURN(wakeup_, Wakeup::Create());
  executor_ = std::make_unique<Executor>(
      [runner = runner_, filter = options_.result_filter](
          const proto::Assign& a, const SieveControl& control) {
        absl::StatusOr<proto::Partial> partial = runner->Run(a, control);
        if (filter && partial.ok()) filter(a, &*partial);
        return partial;
      },
      [wakeup = wakeup_.get()] { wakeup->Notify(); }, options_.sieve_nice);
  try {
    context_ = std::make_unique<zmq::context_t>(1);
  } catch (const zmq::error_t& e) {
    return absl::InternalError(absl::StrCat("zmq context: ", e.what()));
  }
  if (options_.beacon_port != 0 && options_.curve) {
    absl::StatusOr<std::unique_ptr<BeaconListener>> ear =
        BeaconListener::Open(options_.beacon_port);
    if (ear.ok()) {
      beacon_ = *std::move(ear);
    } else {
      QLOG(kWarning) << "not listening for the controller's beacon error=\""
                     << ear.status().message() << "\"";
    }
  }
  QLOG(kInfo) << "starting node=" << options_.session.node
              << " controller=" << controller_
              << " threads=" << options_.threads << " memory_budget=\""
              << (session_.options().memory_budget != 0
                      ? FormatSize(session_.options().memory_budget)
                      : std::string("unknown"))
              << "\""
              << " credits=" << options_.session.credits << " curve="
              << (options_.curve
                      ? absl::StrCat("on key=", options_.curve->own.public_key)
                      : std::string("off"))
              << " incarnation=" << options_.session.incarnation;
  return OpenControl();
}

absl::Status Worker::Loop() {
  ReadHealthIfDue(Now());
  RETURN_IF_ERROR(Apply(session_.Start(Now())));
  while (!exit_) {
    const absl::Duration wait = std::clamp(
        std::min(session_.NextDeadline(), systemd_->NextDeadline()) - Now(),
        absl::ZeroDuration(), options_.max_poll);
    // The beacon's slot is last, polled only when it listens.
    enum { kControl, kWakeup, kSignals, kMonitor, kBeacon, kPolled };
    zmq_pollitem_t items[kPolled] = {};
    items[kControl] = {
        control_->handle(), 0,
        static_cast<short>(ZMQ_POLLIN | (outbox_.empty() ? 0 : ZMQ_POLLOUT)),
        0};
    items[kWakeup] = {nullptr, wakeup_->fd(), ZMQ_POLLIN, 0};
    items[kSignals] = {nullptr, signals_->fd(), ZMQ_POLLIN, 0};
    items[kMonitor] = {monitor_->handle(), 0, ZMQ_POLLIN, 0};
    items[kBeacon] = {nullptr, beacon_ ? beacon_->fd() : -1, ZMQ_POLLIN, 0};
    auto ready = [&items](int i) {
      return (items[i].revents & ZMQ_POLLIN) != 0;
    };
    try {
      zmq::poll(items, beacon_ ? kPolled : kBeacon,
                std::chrono::milliseconds(absl::ToInt64Milliseconds(
                    absl::Ceil(wait, absl::Milliseconds(1)))));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: ", e.what()));
    }
    const absl::Time now = Now();
    if (ready(kSignals)) {
      if (const int signal = signals_->Take(); signal != 0) {
        QLOG(kNotice) << "stopping node=" << options_.session.node
                      << " signal=" << signal;
        systemd_->Stopping();
        RETURN_IF_ERROR(Apply(session_.OnShutdown(now)));
      }
    }
    if (!exit_ && ready(kWakeup)) {
      wakeup_->Clear();
      for (FinishedTask& done : executor_->TakeFinished()) {
        RETURN_IF_ERROR(Apply(session_.OnTaskFinished(done.lease, done.partial,
                                                      done.compute, now)));
        if (exit_) break;
      }
    }
    if (!exit_ && ready(kControl)) ReceiveControl(now);
    if (!exit_ && ready(kMonitor) && TakeDisconnect(now)) {
      RETURN_IF_ERROR(Apply(session_.OnDisconnected(now)));
    }
    if (!exit_ && beacon_ && ready(kBeacon)) {
      RETURN_IF_ERROR(HearBeacons(now));
    }
    ReadHealthIfDue(now);
    if (!exit_) RETURN_IF_ERROR(Apply(session_.OnTick(now)));
    FlushOutbox();
    NotifySystemd(now);
  }
  return *exit_;
}

void Worker::ReadHealthIfDue(absl::Time now) {
  if (now < next_health_) return;
  next_health_ = now + kHealthInterval;
  session_.SetHealth(ReadHealth(
      {options_.sysfs_root, options_.proc_root, options_.cgroup_root}));
}

// From the loop itself, on every turn: a wedged loop stops the watchdog
// pings, and systemd restarts the worker.
void Worker::NotifySystemd(absl::Time now) {
  if (!ready_sent_ && session_.state() == Session::State::kRegistered) {
    systemd_->Ready();
    ready_sent_ = true;
  }
  if (systemd_->StatusDue(now)) systemd_->SetStatus(StatusLine(), now);
  systemd_->Tick(now);
}

// E.g. "registered to tcp://ctl:7700; 1 task running, 2 waiting, 3.1e+09
// numbers/s".
std::string Worker::StatusLine() const {
  const char* state = "leaving";
  switch (session_.state()) {
    case Session::State::kIdle:
    case Session::State::kJoining:
      state = "joining";
      break;
    case Session::State::kRegistered:
      state = "registered to";
      break;
    default:
      break;
  }
  if (!connection_.handshake_error().empty() &&
      session_.state() != Session::State::kRegistered) {
    return absl::StrCat("joining ", controller_, ": ",
                        connection_.handshake_error());
  }
  std::string rate;
  if (session_.rate() > 0) {
    rate = absl::StrFormat(", %.2g numbers/s", session_.rate());
  }
  return absl::StrCat(state, " ", controller_, "; ",
                      session_.running() ? "1 task" : "no task", " running, ",
                      session_.waiting(), " waiting", rate);
}

// A controller found by its beacon may come back at another address (a
// new DHCP lease): while not registered, follow its beacon there.
absl::Status Worker::HearBeacons(absl::Time now) {
  for (int i = 0; i < BeaconListener::kMaxDatagramsPerCall; ++i) {
    std::optional<BeaconListener::Heard> heard = beacon_->Receive();
    if (!heard) break;
    if (heard->beacon.controller_key != options_.curve->controller_key)
      continue;
    const std::string endpoint =
        absl::StrCat("tcp://", heard->from, ":", heard->beacon.control_port);
    // Beacons are not authenticated: at most one move per interval, so
    // that forged ones cannot keep the worker hopping (each move is a new
    // connection; CURVE then tells the real controller from a pretender).
    if (endpoint == controller_ ||
        session_.state() != Session::State::kJoining ||
        now - last_move_ < kMinMoveInterval) {
      continue;
    }
    last_move_ = now;
    QLOG(kNotice) << "the controller is at another address now node="
                  << options_.session.node << " old=" << controller_
                  << " controller=" << endpoint;
    controller_ = endpoint;
    RETURN_IF_ERROR(Apply(session_.OnControllerMoved(now)));
  }
  return absl::OkStatus();
}

void Worker::ReceiveControl(absl::Time now) {
  for (int i = 0; i < kMaxReceivePerTurn && !exit_; ++i) {
    auto frames = ReceiveFrames(*control_);
    if (!frames.ok()) {
      QLOG(kWarning) << "control receive failed error=\""
                     << frames.status().message() << "\"";
      return;
    }
    if (!frames->has_value()) return;
    proto::ControlMsg msg;
    absl::Status parsed =
        (*frames)->size() == 1
            ? ParseFrame((*frames)->front(), &msg)
            : absl::InvalidArgumentError(absl::StrCat(
                  "message of ", (*frames)->size(), " frames, expected 1"));
    if (!parsed.ok()) {
      ++rejected_;
      QLOG(kWarning) << "bad control message peer=" << controller_
                     << " rejected=" << rejected_ << " error=\""
                     << parsed.message() << "\"";
      continue;
    }
    if (absl::Status s = Apply(session_.OnMessage(msg, now)); !s.ok()) {
      exit_ = s;
    }
  }
}

absl::Status Worker::Apply(SessionActions actions) {
  if (actions.reconnect) {
    outbox_.clear();  // addressed to the old connection
    RETURN_IF_ERROR(OpenControl());
  }
  for (proto::ControlMsg& msg : actions.send) outbox_.push_back(std::move(msg));
  if (!actions.connect_collector.empty()) {
    RETURN_IF_ERROR(ConnectCollector(actions.connect_collector));
  }
  for (const proto::ResultMsg& result : actions.push) Push(result);
  for (uint64_t lease : actions.stop) executor_->Stop(lease);
  if (actions.start) executor_->Run(*std::move(actions.start));
  if (actions.exit) exit_ = *std::move(actions.exit);
  FlushOutbox();
  return absl::OkStatus();
}

absl::Status Worker::OpenControl() {
  CloseControl();
  const std::string monitor =
      absl::StrCat("inproc://quark-control-monitor-", ++monitors_);
  try {
    control_ =
        std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::dealer);
    if (zmq_socket_monitor(control_->handle(), monitor.c_str(),
                           ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
      throw zmq::error_t();
    }
    monitor_ =
        std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::pair);
    monitor_->set(zmq::sockopt::linger, 0);
    monitor_->connect(monitor);
  } catch (const zmq::error_t& e) {
    return absl::InternalError(absl::StrCat("control socket: ", e.what()));
  }
  RETURN_IF_ERROR(ConfigureClient(
      *control_, options_.curve ? std::string() : options_.session.node,
      options_.control_linger, /*immediate=*/true));
  RETURN_IF_ERROR(ConfigureSecurity(*control_));
  return Connect(*control_, controller_);
}

absl::Status Worker::ConfigureSecurity(zmq::socket_t& socket) {
  if (!options_.curve) return absl::OkStatus();
  return ConfigureCurveClient(socket, options_.curve->controller_key,
                              options_.curve->own);
}

void Worker::CloseControl() {
  if (control_) zmq_socket_monitor(control_->handle(), nullptr, 0);
  monitor_.reset();
  control_.reset();
}

// Reads the monitor's events (two frames each: the event, the endpoint),
// logs what they say of the handshakes, and returns whether the
// connection dropped.
bool Worker::TakeDisconnect(absl::Time now) {
  bool disconnected = false;
  while (true) {
    auto frames = ReceiveFrames(*monitor_);
    if (!frames.ok() || !frames->has_value()) return disconnected;
    const zmq::message_t& head = (*frames)->front();
    const std::optional<MonitorEvent> event = DecodeMonitorEvent(
        std::string_view(static_cast<const char*>(head.data()), head.size()));
    if (!event) continue;
    const ConnectionMonitor::Reaction reaction =
        connection_.OnEvent(*event, now);
    disconnected |= reaction.disconnected;
    if (reaction.recovered) {
      QLOG(kNotice) << "handshake with the controller succeeded node="
                    << options_.session.node;
    }
    if (!reaction.warning.empty()) {
      QLOG(kWarning) << "cannot join node=" << options_.session.node
                     << " controller=" << controller_ << " error=\""
                     << reaction.warning << "\"";
    }
  }
}

absl::Status Worker::ConnectCollector(const std::string& advertised) {
  const std::string endpoint =
      ConnectableEndpoint(advertised, HostOfEndpoint(controller_));
  if (collector_ && endpoint == collector_endpoint_) return absl::OkStatus();
  collector_.reset();  // results it still queues leave within its linger
  try {
    collector_ =
        std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::push);
  } catch (const zmq::error_t& e) {
    return absl::InternalError(absl::StrCat("collector socket: ", e.what()));
  }
  RETURN_IF_ERROR(ConfigureClient(*collector_, "", options_.collector_linger,
                                  /*immediate=*/false));
  RETURN_IF_ERROR(ConfigureSecurity(*collector_));
  RETURN_IF_ERROR(Connect(*collector_, endpoint));
  collector_endpoint_ = endpoint;
  QLOG(kInfo) << "collector node=" << options_.session.node
              << " endpoint=" << endpoint;
  return absl::OkStatus();
}

void Worker::Push(const proto::ResultMsg& result) {
  absl::Status s = collector_
                       ? SendMessage(*collector_, result)
                       : absl::FailedPreconditionError("no collector yet");
  if (!s.ok()) {
    // Not lost: the session keeps it until acknowledged and pushes it again.
    QLOG(kWarning) << "result not pushed lease=" << result.lease()
                   << " job=" << result.job() << " task=" << result.task()
                   << " error=\"" << s.message() << "\"";
  }
}

void Worker::FlushOutbox() {
  while (!outbox_.empty()) {
    // Fails while no connection is up (immediate): kept for POLLOUT.
    if (!SendMessage(*control_, outbox_.front()).ok()) break;
    outbox_.pop_front();
  }
  while (outbox_.size() > kMaxOutbox) {
    QLOG(kWarning) << "dropped unsent control message type="
                   << outbox_.front().body_case();
    outbox_.pop_front();
  }
}

void Worker::Close() {
  if (control_) FlushOutbox();
  // Closing waits up to each socket's linger for what it still queues:
  // the Goodbye, results on their way to the collector.
  CloseControl();
  collector_.reset();
  context_.reset();
}

}  // namespace quark
