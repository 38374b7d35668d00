#include "controller/server.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/json.h"
#include "common/log.h"
#include "common/status.h"
#include "common/token.h"
#include "common/transport.h"

namespace quark {

void DeriveServerOptions(ServerOptions& options) {
  SchedulerOptions& scheduler = options.scheduler;
  scheduler.collector_endpoint = options.collect_endpoint;
  scheduler.backup_after = absl::Seconds(2 * scheduler.chunk.task_seconds);
  scheduler.verify_wait =
      std::max(absl::Seconds(20), 5 * scheduler.backup_after);
  options.tick =
      std::min(absl::Milliseconds(100), scheduler.heartbeat_interval / 2);
  std::random_device random;
  auto draw = [&random] {
    return ((uint64_t{random()} << 32 | random()) >> 2) + 1;
  };
  scheduler.first_session = draw();
  scheduler.first_lease = draw();
  scheduler.verify_seed = draw();
}

absl::Status CheckExposure(const ServerOptions& options) {
  if (options.insecure) return absl::OkStatus();
  if (!options.key) {
    for (const std::string& endpoint :
         {options.control_endpoint, options.collect_endpoint}) {
      if (!LoopbackEndpoint(endpoint)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "refusing to serve workers on ", endpoint,
            " without CURVE keys: any machine that reaches it could join and "
            "send results. Set key and authorized_workers (docs/security.md), "
            "bind it to 127.0.0.1, or pass --insecure"));
      }
    }
  }
  if (options.auth.operators_path.empty() &&
      !LoopbackEndpoint(options.api_endpoint)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to serve the API on ", options.api_endpoint,
        " without operator keys: any machine that reaches it could submit "
        "and cancel jobs. Set key and authorized_operators (docs/security.md), "
        "bind it to 127.0.0.1, or pass --insecure"));
  }
  return absl::OkStatus();
}

// The scheduler's clock: the wall time at start plus the monotonic time
// since. Liveness, ticks and long polls must not jump when NTP steps the
// wall clock (a Pi without a real-time clock boots with a stale one);
// the price is that job timestamps keep the start's offset.
absl::Time Server::Now() const {
  return start_wall_ +
         absl::FromChrono(std::chrono::steady_clock::now() - start_steady_);
}

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      scheduler_(options_.scheduler),
      api_(&scheduler_, options_.api),
      context_(1),
      control_(context_, zmq::socket_type::router),
      collect_(context_, zmq::socket_type::pull),
      api_socket_(context_, zmq::socket_type::router) {}

Server::~Server() = default;

absl::Status Server::Start() {
  ASSIGN_OR_RETURN(signals_, ShutdownSignals::Install(/*reload=*/true));
  // After the signal mask: its thread must not take SIGTERM's default.
  cross_checker_ = std::make_unique<CrossChecker>();
  systemd_ = SystemdNotifier::FromEnvironment();
  ASSIGN_OR_RETURN(store_, SqliteStore::Open(options_.state_dir));
  ASSIGN_OR_RETURN(StoredState state, store_->Load());
  RETURN_IF_ERROR(scheduler_.Restore(state));
  RETURN_IF_ERROR(ConfigureRouter(control_));
  RETURN_IF_ERROR(ConfigureRouter(api_socket_));
  try {
    collect_.set(zmq::sockopt::maxmsgsize, kMaxMessageBytes);
    collect_.set(zmq::sockopt::handshake_ivl, 10000);
    collect_.set(zmq::sockopt::linger, 0);
  } catch (const zmq::error_t& e) {
    return absl::InternalError(absl::StrCat("collector socket: ", e.what()));
  }
  if (options_.key) {
    EnrollmentOptions enrollment = options_.enrollment;
    enrollment.controller_key = options_.key->public_key;
    enrollment.control_endpoint = options_.control_endpoint;
    enrollment_ = std::make_unique<Enrollment>(std::move(enrollment));
    RETURN_IF_ERROR(enrollment_->Restore(state));
    ASSIGN_OR_RETURN(auth_, Authenticator::Start(context_, options_.auth));
    auth_->SetEnrolled(enrollment_.get());
    const std::string& secret = options_.key->secret_key;
    RETURN_IF_ERROR(ConfigureCurveServer(control_, secret, kWorkerDomain));
    RETURN_IF_ERROR(ConfigureCurveServer(collect_, secret, kWorkerDomain));
    if (!options_.auth.operators_path.empty()) {
      RETURN_IF_ERROR(
          ConfigureCurveServer(api_socket_, secret, kOperatorDomain));
    }
    // Routes are libzmq's own here (routes_): a peer that names a route in
    // use must not take it over.
    try {
      control_.set(zmq::sockopt::router_handover, false);
    } catch (const zmq::error_t& e) {
      return absl::InternalError(absl::StrCat("control socket: ", e.what()));
    }
  }
  inbound_ = std::make_unique<Inbound>(&scheduler_, &api_, auth_.get(),
                                       !options_.auth.operators_path.empty());
  inbound_->SetEnrollment(enrollment_.get());
  api_.SetEnrollment(enrollment_.get());
  RETURN_IF_ERROR(Bind(control_, options_.control_endpoint));
  RETURN_IF_ERROR(Bind(collect_, options_.collect_endpoint));
  RETURN_IF_ERROR(Bind(api_socket_, options_.api_endpoint));
  RETURN_IF_ERROR(StartEnrollment());
  if (options_.http) {
    ASSIGN_OR_RETURN(http_, HttpServer::Start(*options_.http));
    http_->Publish("/", "text/html; charset=utf-8", kStatusPageHtml);
    PublishHttp(Now());
  }
  QLOG(kNotice)
      << "controller ready control=" << options_.control_endpoint
      << " collect=" << options_.collect_endpoint
      << " api=" << options_.api_endpoint
      << " enroll=" << (enroll_ ? options_.enroll_endpoint : "off") << " http="
      << (http_ ? absl::StrCat(ParseHttpListen(options_.http->listen)->first,
                               ":", http_->port())
                : std::string("off"))
      << " state=" << store_->path() << " curve="
      << (auth_ ? absl::StrCat("on key=", options_.key->public_key,
                               " key_fingerprint=",
                               KeyFingerprint(options_.key->public_key),
                               " workers=", auth_->workers(),
                               " enrolled=", enrollment_->approved(),
                               " pending=", enrollment_->pending(),
                               " operators=", auth_->operators())
                : std::string("off"));
  systemd_->Ready();
  return absl::OkStatus();
}

namespace {

// The port of a bound socket's ZMQ_LAST_ENDPOINT ("tcp://0.0.0.0:7700"),
// or 0.
uint16_t BoundPort(zmq::socket_t& socket) {
  try {
    const std::string endpoint = socket.get(zmq::sockopt::last_endpoint);
    const size_t colon = endpoint.rfind(':');
    int port = 0;
    if (colon != std::string::npos &&
        absl::SimpleAtoi(endpoint.substr(colon + 1), &port) && port > 0 &&
        port < 65536) {
      return static_cast<uint16_t>(port);
    }
  } catch (const zmq::error_t&) {
  }
  return 0;
}

}  // namespace

absl::Status Server::StartEnrollment() {
  if (!enrollment_) return absl::OkStatus();
  if (!options_.enroll_endpoint.empty()) {
    enroll_ =
        std::make_unique<zmq::socket_t>(context_, zmq::socket_type::router);
    RETURN_IF_ERROR(ConfigureRouter(*enroll_));
    try {
      // Small requests only, and routes are libzmq's own (CURVE).
      enroll_->set(zmq::sockopt::maxmsgsize, kMaxEnrollBytes);
      enroll_->set(zmq::sockopt::router_handover, false);
    } catch (const zmq::error_t& e) {
      return absl::InternalError(absl::StrCat("enroll socket: ", e.what()));
    }
    RETURN_IF_ERROR(ConfigureCurveServer(*enroll_, options_.key->secret_key,
                                         kEnrollDomain));
    RETURN_IF_ERROR(Bind(*enroll_, options_.enroll_endpoint));
  }
  if (options_.beacon) {
    try {
      bound_control_ = control_.get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
      return absl::InternalError(absl::StrCat("control socket: ", e.what()));
    }
    Beacon beacon;
    beacon.controller_key = options_.key->public_key;
    beacon.control_port = BoundPort(control_);
    beacon.enroll_port = enroll_ ? BoundPort(*enroll_) : 0;
    beacon_datagram_ = EncodeBeacon(beacon);
    beacon_ = std::make_unique<BeaconSender>(options_.beacon_port);
    next_beacon_ = Now();
  }
  return absl::OkStatus();
}

void Server::SendBeacon(absl::Time now) {
  if (!beacon_ || now < next_beacon_) return;
  next_beacon_ = now + options_.beacon_interval;
  if (now >= next_interface_scan_) {
    next_interface_scan_ = now + absl::Seconds(10);
    absl::StatusOr<std::vector<NetInterface>> all = ListInterfaces();
    if (!all.ok()) {
      QLOG(kWarning) << "beacon: cannot list interfaces error=\""
                     << all.status().message() << "\"";
      return;
    }
    // The endpoint as bound (numeric: "tcp://0.0.0.0:7700"), so that no
    // name is ever looked up in the loop.
    std::vector<NetInterface> to =
        BeaconInterfaces(*all, bound_control_, options_.beacon_interfaces);
    std::string names;
    for (const NetInterface& i : to) {
      absl::StrAppend(&names, names.empty() ? "" : ",", i.name, "(",
                      FormatIpv4(i.broadcast), ")");
    }
    std::string old;
    for (const NetInterface& i : beacon_to_) {
      absl::StrAppend(&old, old.empty() ? "" : ",", i.name, "(",
                      FormatIpv4(i.broadcast), ")");
    }
    if (names != old || !beacon_scanned_) {
      QLOG(kInfo) << "beacon port=" << options_.beacon_port << " interfaces="
                  << (names.empty() ? std::string("none") : names);
    }
    beacon_to_ = std::move(to);
    beacon_scanned_ = true;
  }
  if (beacon_to_.empty()) return;
  absl::Status s = beacon_->Send(beacon_datagram_, beacon_to_);
  if (!s.ok() && std::string(s.message()) != beacon_error_) {
    QLOG(kWarning) << "beacon not sent error=\"" << s.message() << "\"";
    beacon_error_ = std::string(s.message());
  } else if (s.ok()) {
    beacon_error_.clear();
  }
}

absl::Status Server::Run() {
  absl::Time next_tick = Now();
  while (true) {
    const absl::Time wake = std::min({next_tick, api_.NextDeadline(),
                                      systemd_->NextDeadline(), next_beacon_});
    const auto timeout = std::chrono::milliseconds(
        std::max<int64_t>(absl::ToInt64Milliseconds(wake - Now()), 0) + 1);
    // The ZAP and enroll sockets exist with a key only; a null socket
    // with fd -1 is never ready.
    enum { kControl, kCollect, kApi, kSignals, kZap, kEnroll, kPolled };
    zmq::pollitem_t items[kPolled] = {};
    items[kControl] = {control_.handle(), 0, ZMQ_POLLIN, 0};
    items[kCollect] = {collect_.handle(), 0, ZMQ_POLLIN, 0};
    items[kApi] = {api_socket_.handle(), 0, ZMQ_POLLIN, 0};
    items[kSignals] = {nullptr, signals_->fd(), ZMQ_POLLIN, 0};
    items[kZap] = {auth_ ? auth_->socket().handle() : nullptr, -1, ZMQ_POLLIN,
                   0};
    items[kEnroll] = {enroll_ ? enroll_->handle() : nullptr, -1, ZMQ_POLLIN, 0};
    auto ready = [&items](int i) {
      return (items[i].revents & ZMQ_POLLIN) != 0;
    };
    try {
      zmq::poll(items, kPolled, timeout);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: ", e.what()));
    }
    if (ready(kSignals)) {
      const int signal = signals_->Take();
      if (signal == SIGHUP) {
        Reload();
      } else if (signal != 0) {
        QLOG(kNotice) << "controller stopping signal=" << strsignal(signal);
        systemd_->Stopping();
        return absl::OkStatus();
      }
    }
    // Handshakes first: a peer waits on each answer.
    for (int i = 0; i < options_.control_batch && ready(kZap); ++i) {
      if (!(auth_->socket().get(zmq::sockopt::events) & ZMQ_POLLIN)) break;
      auth_->HandleRequest(Now());
    }
    // Messages first, then time: after a stall (a slow fsync, a paused VM)
    // the heartbeats waiting in the queue are heard before anyone is
    // declared lost. Each socket is read in a bounded bite so that none
    // starves the others.
    if (ready(kControl)) {
      ReadBatch(control_, options_.control_batch, &Inbound::OnControl);
    }
    if (ready(kCollect)) {
      first_result_at_ = std::min(first_result_at_, Now());
      ReadBatch(collect_, options_.result_batch, &Inbound::OnResult);
    }
    if (ready(kApi)) {
      ReadBatch(api_socket_, options_.api_batch, &Inbound::OnApi);
    }
    if (ready(kEnroll)) {
      ReadBatch(*enroll_, options_.api_batch, &Inbound::OnEnroll);
    }
    const absl::Time now = Now();
    SendBeacon(now);
    const bool tick = now >= next_tick;
    if (tick) next_tick = now + options_.tick;
    inbound_->OnTime(now, tick);
    if (tick) {
      for (const CrossCheckRequest& r : scheduler_.TakeCrossChecks()) {
        cross_checker_->Add(r);
      }
      for (const CrossChecker::Answer& a : cross_checker_->Take()) {
        inbound_->OnCrossCheck(a.job, a.count, now);
      }
    }
    RETURN_IF_ERROR(Flush());
    PublishHttp(now);
    NotifySystemd(now);
  }
}

void Server::PublishHttp(absl::Time now) {
  if (!http_ || now < next_publish_) return;
  next_publish_ = now + options_.http_publish_interval;
  const absl::Time start = absl::Now();  // `now` may be a test's clock
  // A snapshot, and the pages made from it on the HTTP thread when asked
  // for (docs/architecture.md).
  auto snapshot = std::make_shared<MetricsInput>();
  MetricsInput& in = *snapshot;
  for (proto::Node& node : scheduler_.ListNodes(now)) {
    *in.nodes.add_nodes() = std::move(node);
  }
  for (proto::Node& node : scheduler_.ListDeparted(now)) {
    *in.nodes.add_departed() = std::move(node);
  }
  Scheduler::JobSummary jobs =
      scheduler_.SummarizeJobs(StatusTracker::kEndedShown);
  in.job_states = std::move(jobs.by_state);
  in.unfinished_jobs = std::move(jobs.unfinished);
  in.tasks_merged = scheduler_.tasks_merged();
  in.numbers_merged = scheduler_.numbers_merged();
  in.results_duplicate = scheduler_.duplicates();
  in.tasks_verified = scheduler_.tasks_verified();
  in.disagreements = scheduler_.disagreements();
  in.suspect_nodes = scheduler_.suspects();
  in.messages_refused = scheduler_.refused() + inbound_->refused() +
                        (auth_ ? auth_->refused() : 0);
  in.http_requests = http_->requests();
  in.commit_seconds = commit_seconds_;
  in.ack_seconds = ack_seconds_;
  in.publish_seconds = publish_seconds_;
  auto status = std::make_shared<const proto::ClusterStatus>(
      status_.Update(now, in.nodes, in.unfinished_jobs, jobs.ended,
                     in.tasks_merged, in.numbers_merged));
  http_->Publish("/metrics", "text/plain; version=0.0.4; charset=utf-8",
                 std::function<std::string()>(
                     [snapshot] { return MetricsText(*snapshot); }));
  http_->Publish("/status.json", "application/json",
                 std::function<std::string()>([status] {
                   absl::StatusOr<std::string> json = MessageJson(*status);
                   return json.ok() ? *std::move(json) : "{}";
                 }));
  publish_seconds_.Observe(absl::ToDoubleSeconds(absl::Now() - start));
}

// E.g. "STATUS=3 nodes, 1 job running, 12 refused"; sampled at most once a
// second, as listing the nodes builds their protos.
void Server::NotifySystemd(absl::Time now) {
  if (systemd_->StatusDue(now)) {
    const size_t nodes = scheduler_.ListNodes(now).size();
    const uint64_t running =
        scheduler_.SummarizeJobs(0).by_state[proto::RUNNING];
    // Refused handshakes and messages: bad input from the network, which
    // changed nothing but is worth a look when it keeps growing.
    const uint64_t refused = inbound_->refused() + scheduler_.refused() +
                             (auth_ ? auth_->refused() : 0);
    const size_t pending = enrollment_ ? enrollment_->pending() : 0;
    systemd_->SetStatus(
        absl::StrCat(
            nodes, nodes == 1 ? " node, " : " nodes, ", running,
            running == 1 ? " job running" : " jobs running",
            pending == 0 ? ""
                         : absl::StrCat(", ", pending, " waiting for approval"),
            refused == 0 ? "" : absl::StrCat(", ", refused, " refused")),
        now);
  }
  systemd_->Tick(now);
}

absl::Status Server::Flush() {
  const absl::Time start = absl::Now();
  size_t jobs = 0, tasks = 0;
  absl::StatusOr<InboundOutput> step = inbound_->Commit(
      *store_, [&](const StoreBatch& batch, const InboundOutput&) {
        jobs = batch.jobs.size();
        tasks = batch.tasks.size();
      });
  if (!step.ok()) {
    QLOG(kError) << "cannot write state, stopping error=\""
                 << step.status().message() << "\"";
    return step.status();
  }
  if (jobs + tasks > 0) {
    const absl::Duration took = absl::Now() - start;
    commit_seconds_.Observe(absl::ToDoubleSeconds(took));
    QLOG(kDebug) << "committed jobs=" << jobs << " tasks=" << tasks
                 << " ms=" << absl::ToDoubleMilliseconds(took);
  }
  const InboundOutput& out = *step;
  size_t acked = 0;
  for (const ControlOutbound& o : out.control) {
    if (o.msg.has_ack()) acked += o.msg.ack().leases_size();
    if (absl::Status s = SendMessage(control_, o.msg, &o.route); !s.ok()) {
      // The worker is gone; expiry will clean up after it. An ack that did
      // not go is not lost: the worker pushes the result again.
      QLOG(kDebug) << "control send failed error=\"" << s.message() << "\"";
    }
  }
  if (acked > 0 && first_result_at_ != absl::InfiniteFuture()) {
    const double seconds = absl::ToDoubleSeconds(Now() - first_result_at_);
    for (size_t i = 0; i < acked; ++i) ack_seconds_.Observe(seconds);
  }
  first_result_at_ = absl::InfiniteFuture();
  for (const ApiOutbound& o : out.api) {
    if (absl::Status s = SendMessage(api_socket_, o.reply, &o.route); !s.ok()) {
      QLOG(kDebug) << "api send failed error=\"" << s.message() << "\"";
    }
  }
  for (const EnrollOutbound& o : out.enroll) {
    if (!enroll_) break;
    if (absl::Status s = SendMessage(*enroll_, o.reply, &o.route); !s.ok()) {
      // It asks again: an answer is the same the next time.
      QLOG(kDebug) << "enroll send failed error=\"" << s.message() << "\"";
    }
  }
  return absl::OkStatus();
}

// Reads up to `batch` messages from `socket` and hands each, with what
// libzmq says of its sender, to `handle`.
void Server::ReadBatch(zmq::socket_t& socket, int batch,
                       InboundHandler handle) {
  for (int i = 0; i < batch; ++i) {
    if (!(socket.get(zmq::sockopt::events) & ZMQ_POLLIN)) return;
    auto frames = ReceiveFrames(socket);
    if (!frames.ok()) {
      QLOG(kWarning) << "receive failed error=\"" << frames.status().message()
                     << "\"";
      return;
    }
    if (!frames->has_value() || (*frames)->empty()) return;
    const std::vector<zmq::message_t>& parts = **frames;
    std::vector<absl::string_view> views;
    views.reserve(parts.size());
    for (const zmq::message_t& part : parts) {
      views.emplace_back(static_cast<const char*>(part.data()), part.size());
    }
    Peer peer;
    // Metadata is the connection's: any frame of the message has it.
    peer.key = FrameProperty(parts.back(), "User-Id");
    peer.address = FrameProperty(parts.back(), "Peer-Address");
    (inbound_.get()->*handle)(views, peer, Now());
  }
}

void Server::Reload() {
  if (!auth_) {
    QLOG(kNotice) << "SIGHUP: nothing to reload (no CURVE key configured)";
    return;
  }
  if (absl::Status s = auth_->Reload(); !s.ok()) {
    QLOG(kError) << "reload failed, the old allowlists stay in force error=\""
                 << s.message() << "\"";
    return;
  }
  QLOG(kNotice) << "allowlists reloaded workers=" << auth_->workers()
                << " operators=" << auth_->operators();
  inbound_->OnKeysChanged(Now());
}

}  // namespace quark
