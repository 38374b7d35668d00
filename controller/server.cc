#include "controller/server.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"
#include "common/transport.h"

namespace quark {
namespace {

// A peer's routing id, printable for logs.
std::string Peer(const zmq::message_t& route) {
  std::string out;
  for (char c : route.to_string_view()) {
    out += (c >= 0x21 && c <= 0x7e) ? c : '?';
  }
  return out;
}

}  // namespace

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
  systemd_ = SystemdNotifier::FromEnvironment();
  ASSIGN_OR_RETURN(store_, Store::Open(options_.state_dir));
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
    ASSIGN_OR_RETURN(auth_, Authenticator::Start(context_, options_.auth));
    const std::string& secret = options_.key->secret_key;
    RETURN_IF_ERROR(ConfigureCurveServer(control_, secret, kWorkerDomain));
    RETURN_IF_ERROR(ConfigureCurveServer(collect_, secret, kWorkerDomain));
    if (!options_.auth.operators_path.empty()) {
      RETURN_IF_ERROR(ConfigureCurveServer(api_socket_, secret, kOperatorDomain));
    }
    // Routes are libzmq's own here (routes_): a peer that names a route in
    // use must not take it over.
    try {
      control_.set(zmq::sockopt::router_handover, false);
    } catch (const zmq::error_t& e) {
      return absl::InternalError(absl::StrCat("control socket: ", e.what()));
    }
  }
  RETURN_IF_ERROR(Bind(control_, options_.control_endpoint));
  RETURN_IF_ERROR(Bind(collect_, options_.collect_endpoint));
  RETURN_IF_ERROR(Bind(api_socket_, options_.api_endpoint));
  QLOG(kNotice) << "controller ready control=" << options_.control_endpoint
                << " collect=" << options_.collect_endpoint
                << " api=" << options_.api_endpoint
                << " state=" << store_->path() << " curve="
                << (auth_ ? absl::StrCat("on key=", options_.key->public_key,
                                         " workers=", auth_->workers(),
                                         " operators=", auth_->operators())
                          : std::string("off"));
  systemd_->Ready();
  return absl::OkStatus();
}

absl::Status Server::Run() {
  absl::Time next_tick = Now();
  while (true) {
    const absl::Time wake = std::min(
        {next_tick, api_.NextDeadline(), systemd_->NextDeadline()});
    const auto timeout = std::chrono::milliseconds(
        std::max<int64_t>(absl::ToInt64Milliseconds(wake - Now()), 0) + 1);
    zmq::pollitem_t items[] = {
        {control_.handle(), 0, ZMQ_POLLIN, 0},
        {collect_.handle(), 0, ZMQ_POLLIN, 0},
        {api_socket_.handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, signals_->fd(), ZMQ_POLLIN, 0},
        {auth_ ? auth_->socket().handle() : nullptr, -1, ZMQ_POLLIN, 0},
    };
    try {
      zmq::poll(items, auth_ ? 5 : 4, timeout);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: ", e.what()));
    }
    if (items[3].revents & ZMQ_POLLIN) {
      const int signal = signals_->Take();
      if (signal == SIGHUP) {
        Reload(Now());
      } else if (signal != 0) {
        QLOG(kNotice) << "controller stopping signal=" << strsignal(signal);
        systemd_->Stopping();
        return absl::OkStatus();
      }
    }
    // Handshakes first: a peer waits on each answer.
    for (int i = 0; i < options_.control_batch && (items[4].revents & ZMQ_POLLIN); ++i) {
      if (!(auth_->socket().get(zmq::sockopt::events) & ZMQ_POLLIN)) break;
      auth_->HandleRequest(Now());
    }
    // Messages first, then time: after a stall (a slow fsync, a paused VM)
    // the heartbeats waiting in the queue are heard before anyone is
    // declared lost. Each socket is read in a bounded bite so that none
    // starves the others.
    for (int i = 0; i < options_.control_batch && (items[0].revents & ZMQ_POLLIN); ++i) {
      if (!(control_.get(zmq::sockopt::events) & ZMQ_POLLIN)) break;
      HandleControl();
    }
    for (int i = 0; i < options_.result_batch && (items[1].revents & ZMQ_POLLIN); ++i) {
      if (!(collect_.get(zmq::sockopt::events) & ZMQ_POLLIN)) break;
      HandleCollector();
    }
    for (int i = 0; i < options_.api_batch && (items[2].revents & ZMQ_POLLIN); ++i) {
      if (!(api_socket_.get(zmq::sockopt::events) & ZMQ_POLLIN)) break;
      HandleApi();
    }
    const absl::Time now = Now();
    if (now >= next_tick) {
      Queue(scheduler_.OnTick(now));
      next_tick = now + options_.tick;
    }
    for (auto& out : api_.Poll(now)) api_out_.push_back(std::move(out));
    RETURN_IF_ERROR(Flush());
    NotifySystemd(now);
  }
}

// E.g. "STATUS=3 nodes, 1 job running, 12 refused"; sampled at most once a second, as
// listing the nodes and jobs builds their protos.
void Server::NotifySystemd(absl::Time now) {
  if (systemd_->StatusDue(now)) {
    const size_t nodes = scheduler_.ListNodes(now).size();
    size_t running = 0;
    for (const proto::Job& job : scheduler_.ListJobs()) {
      running += job.state() == proto::RUNNING;
    }
    // Refused handshakes and messages: bad input from the network, which
    // changed nothing but is worth a look when it keeps growing.
    const uint64_t refused =
        refused_ + scheduler_.rejected() + (auth_ ? auth_->refused() : 0);
    systemd_->SetStatus(
        absl::StrCat(nodes, nodes == 1 ? " node, " : " nodes, ", running,
                     running == 1 ? " job running" : " jobs running",
                     refused == 0 ? "" : absl::StrCat(", ", refused, " refused")),
        now);
  }
  systemd_->Tick(now);
}

absl::Status Server::Flush() {
  StoreBatch batch = scheduler_.TakeChanges();
  if (!batch.empty()) {
    const absl::Time start = absl::Now();
    if (absl::Status s = store_->Commit(batch); !s.ok()) {
      QLOG(kError) << "cannot write state, stopping error=\"" << s.message() << "\"";
      return s;
    }
    QLOG(kDebug) << "committed jobs=" << batch.jobs.size()
                 << " tasks=" << batch.tasks.size() << " ms="
                 << absl::ToDoubleMilliseconds(absl::Now() - start);
  }
  for (const Outbound& o : control_out_) {
    const std::string* route = RouteOf(o.route);
    absl::Status s = route ? SendMessage(control_, o.msg, route)
                           : absl::NotFoundError("no route");
    if (!s.ok()) {
      // The worker is gone; expiry will clean up after it.
      QLOG(kDebug) << "control send failed node=" << o.route
                   << " error=\"" << s.message() << "\"";
    }
  }
  control_out_.clear();
  for (const Outbound& o : rejects_out_) {
    (void)SendMessage(control_, o.msg, &o.route);  // best effort
  }
  rejects_out_.clear();
  for (auto& [node, leases] : acks_) {
    proto::ControlMsg ack;
    for (uint64_t lease : leases) ack.mutable_ack()->add_leases(lease);
    const std::string* route = RouteOf(node);
    absl::Status s = route ? SendMessage(control_, ack, route)
                           : absl::NotFoundError("no route");
    if (!s.ok()) {
      // Not lost: the worker pushes the result again and is acked then.
      QLOG(kDebug) << "ack send failed node=" << node
                   << " error=\"" << s.message() << "\"";
    }
  }
  acks_.clear();
  for (const ApiOutbound& o : api_out_) SendApi(o.route, o.reply);
  api_out_.clear();
  return absl::OkStatus();
}

void Server::Queue(std::vector<Outbound> out) {
  for (Outbound& o : out) control_out_.push_back(std::move(o));
}

void Server::HandleControl() {
  auto frames = ReceiveFrames(control_);
  if (!frames.ok()) {
    QLOG(kWarning) << "control receive failed error=\"" << frames.status().message() << "\"";
    return;
  }
  if (!frames->has_value()) return;
  auto& parts = **frames;
  if (parts.size() != 2) {
    ++refused_;
    QLOG(kWarning) << "control message dropped peer=" << Peer(parts[0])
                   << " address=" << FrameProperty(parts[0], "Peer-Address")
                   << " reason=\"" << parts.size() << " frames, expected 2\"";
    return;
  }
  std::string node = parts[0].to_string();
  if (auth_) {
    const std::string* name = AuthenticatedNode(parts[0], parts[1]);
    if (name == nullptr) return;
    node = *name;
  }
  proto::ControlMsg msg;
  if (absl::Status s = ParseFrame(parts[1], &msg); !s.ok()) {
    ++refused_;
    QLOG(kWarning) << "control message dropped peer=" << Peer(parts[0])
                   << " node=" << node
                   << " address=" << FrameProperty(parts[1], "Peer-Address")
                   << " reason=\"" << s.message() << "\"";
    return;
  }
  if (auth_ && msg.has_hello() && msg.hello().node() != node) {
    ++refused_;
    const std::string reason =
        absl::StrCat("this node's key is authorized as '", node, "', not '",
                     msg.hello().node(), "' (authorized_workers)");
    QLOG(kWarning) << "refused worker node=" << msg.hello().node()
                   << " address=" << FrameProperty(parts[1], "Peer-Address")
                   << " reason=\"" << reason << "\"";
    RejectPeer(parts[0].to_string(), reason);
    return;
  }
  Queue(scheduler_.OnControl(node, msg, Now(),
                             auth_ ? node_keys_[node] : std::string()));
}

void Server::HandleCollector() {
  auto frames = ReceiveFrames(collect_);
  if (!frames.ok() || !frames->has_value()) return;
  auto& parts = **frames;
  proto::ResultMsg result;
  absl::Status s = parts.size() == 1
                       ? ParseFrame(parts[0], &result)
                       : absl::InvalidArgumentError(absl::StrCat(
                             parts.size(), " frames, expected 1"));
  if (!s.ok()) {
    // Unreadable: not acked either, as whatever node and lease it seems to
    // name cannot be believed (no worker sends such a thing).
    ++refused_;
    QLOG(kWarning) << "result dropped address="
                   << (parts.empty() ? std::string("?")
                                     : FrameProperty(parts[0], "Peer-Address"))
                   << " reason=\"" << s.message() << "\"";
    return;
  }
  if (auth_) {
    // A result counts only under the name its key is authorized as; and
    // it is not acked otherwise, as the ack would go to that other node.
    const std::string key = FrameProperty(parts[0], "User-Id");
    const std::string* name = auth_->NameOf(kWorkerDomain, key);
    if (name == nullptr || *name != result.node()) {
      ++refused_;
      QLOG(kWarning) << "result refused node=" << result.node()
                     << " address=" << FrameProperty(parts[0], "Peer-Address")
                     << " reason=\""
                     << (name == nullptr
                             ? std::string("key not authorized")
                             : absl::StrCat("sent with the key of '", *name, "'"))
                     << "\"";
      return;
    }
  }
  std::vector<Outbound> out;
  s = scheduler_.OnResult(result, Now(), &out);
  if (!s.ok()) {  // counted by the scheduler
    QLOG(kWarning) << "result rejected node=" << result.node()
                   << " session=" << result.session()
                   << " job=" << result.job() << " task=" << result.task()
                   << " reason=\"" << s.message() << "\"";
  }
  // Merged, a duplicate, or refused for good: either way the worker may
  // forget it, once this iteration's changes are on disk.
  if (result.lease() != 0 && ValidNodeName(result.node())) {
    acks_[result.node()].push_back(result.lease());
  }
  Queue(std::move(out));
}

void Server::HandleApi() {
  auto frames = ReceiveFrames(api_socket_);
  if (!frames.ok() || !frames->has_value()) return;
  auto& parts = **frames;
  const std::string route = parts[0].to_string();
  if (parts.size() != 2) {
    ++refused_;
    QLOG(kWarning) << "api request dropped peer=" << Peer(parts[0])
                   << " reason=\"" << parts.size() << " frames, expected 2\"";
    return;
  }
  std::string who = "local";
  if (auth_ && !options_.auth.operators_path.empty()) {
    const std::string* name =
        auth_->NameOf(kOperatorDomain, FrameProperty(parts[1], "User-Id"));
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
  if (absl::Status s = ParseFrame(parts[1], &request); !s.ok()) {
    ++refused_;
    QLOG(kWarning) << "api request rejected operator=" << who
                   << " address=" << FrameProperty(parts[1], "Peer-Address")
                   << " reason=\"" << s.message() << "\"";
    proto::ApiReply reply = ErrorReply(absl::InvalidArgumentError(s.message()));
    reply.set_protocol_version(kProtocolVersion);
    api_out_.push_back({route, std::move(reply)});
    return;
  }
  std::vector<Outbound> control;
  auto reply = api_.Handle(route, request, Now(), &control);
  Queue(std::move(control));
  if (reply.has_value()) {
    if (reply->has_error()) {
      QLOG(kInfo) << "api request refused operator=" << who << " reason=\""
                  << reply->error().message() << "\"";
    }
    api_out_.push_back({route, *std::move(reply)});
  }
}

void Server::SendApi(const std::string& route, const proto::ApiReply& reply) {
  if (absl::Status s = SendMessage(api_socket_, reply, &route); !s.ok()) {
    QLOG(kDebug) << "api send failed error=\"" << s.message() << "\"";
  }
}

}  // namespace quark

namespace quark {

const std::string* Server::RouteOf(const std::string& node) const {
  if (!auth_) return &node;
  auto it = routes_.find(node);
  return it == routes_.end() ? nullptr : &it->second;
}

const std::string* Server::AuthenticatedNode(const zmq::message_t& route,
                                             const zmq::message_t& body) {
  const std::string key = FrameProperty(body, "User-Id");
  const std::string* name = auth_->NameOf(kWorkerDomain, key);
  if (name == nullptr) {
    // Authorized at the handshake, revoked since (SIGHUP).
    ++refused_;
    QLOG(kInfo) << "message refused address="
                << FrameProperty(body, "Peer-Address") << " key=" << key
                << " reason=\"key no longer authorized\"";
    RejectPeer(route.to_string(),
               "this node's key is no longer in the controller's "
               "authorized_workers");
    return nullptr;
  }
  routes_[*name] = route.to_string();
  node_keys_[*name] = key;
  return name;
}

void Server::RejectPeer(const std::string& route, const std::string& reason) {
  Outbound o;
  o.route = route;
  proto::Reject* reject = o.msg.mutable_reject();
  reject->set_reason(reason);
  reject->set_reregister(false);
  reject->set_protocol_version(kProtocolVersion);
  rejects_out_.push_back(std::move(o));
}

void Server::Reload(absl::Time now) {
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
  for (auto it = node_keys_.begin(); it != node_keys_.end();) {
    const std::string* name = auth_->NameOf(kWorkerDomain, it->second);
    if (name != nullptr && *name == it->first) {
      ++it;
      continue;
    }
    const std::string node = it->first;
    QLOG(kNotice) << "key revoked, evicting node=" << node
                  << " key=" << it->second;
    Queue(scheduler_.Evict(node, now));
    if (auto route = routes_.find(node); route != routes_.end()) {
      RejectPeer(route->second,
                 "this node's key was removed from the controller's "
                 "authorized_workers");
      routes_.erase(route);
    }
    it = node_keys_.erase(it);
  }
}

}  // namespace quark
