#include "controller/server.h"

#include <algorithm>
#include <cerrno>
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
  ASSIGN_OR_RETURN(signals_, ShutdownSignals::Install());
  systemd_ = SystemdNotifier::FromEnvironment();
  ASSIGN_OR_RETURN(store_, Store::Open(options_.state_dir));
  ASSIGN_OR_RETURN(StoredState state, store_->Load());
  RETURN_IF_ERROR(scheduler_.Restore(state));
  RETURN_IF_ERROR(ConfigureRouter(control_));
  RETURN_IF_ERROR(ConfigureRouter(api_socket_));
  try {
    collect_.set(zmq::sockopt::maxmsgsize, kMaxMessageBytes);
    collect_.set(zmq::sockopt::linger, 0);
  } catch (const zmq::error_t& e) {
    return absl::InternalError(absl::StrCat("collector socket: ", e.what()));
  }
  RETURN_IF_ERROR(Bind(control_, options_.control_endpoint));
  RETURN_IF_ERROR(Bind(collect_, options_.collect_endpoint));
  RETURN_IF_ERROR(Bind(api_socket_, options_.api_endpoint));
  QLOG(kNotice) << "controller ready control=" << options_.control_endpoint
                << " collect=" << options_.collect_endpoint
                << " api=" << options_.api_endpoint
                << " state=" << store_->path();
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
    };
    try {
      zmq::poll(items, 4, timeout);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: ", e.what()));
    }
    if (items[3].revents & ZMQ_POLLIN) {
      QLOG(kNotice) << "controller stopping signal=" << strsignal(signals_->Take());
      systemd_->Stopping();
      return absl::OkStatus();
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

// E.g. "STATUS=3 nodes, 1 job running"; sampled at most once a second, as
// listing the nodes and jobs builds their protos.
void Server::NotifySystemd(absl::Time now) {
  if (systemd_->StatusDue(now)) {
    const size_t nodes = scheduler_.ListNodes(now).size();
    size_t running = 0;
    for (const proto::Job& job : scheduler_.ListJobs()) {
      running += job.state() == proto::RUNNING;
    }
    systemd_->SetStatus(
        absl::StrCat(nodes, nodes == 1 ? " node, " : " nodes, ", running,
                     running == 1 ? " job running" : " jobs running"),
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
    if (absl::Status s = SendMessage(control_, o.msg, &o.route); !s.ok()) {
      // The worker is gone; expiry will clean up after it.
      QLOG(kDebug) << "control send failed peer=" << o.route
                   << " error=\"" << s.message() << "\"";
    }
  }
  control_out_.clear();
  for (auto& [route, leases] : acks_) {
    proto::ControlMsg ack;
    for (uint64_t lease : leases) ack.mutable_ack()->add_leases(lease);
    if (absl::Status s = SendMessage(control_, ack, &route); !s.ok()) {
      // Not lost: the worker pushes the result again and is acked then.
      QLOG(kDebug) << "ack send failed peer=" << route
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
    QLOG(kWarning) << "control message dropped peer=" << Peer(parts[0])
                   << " reason=\"" << parts.size() << " frames, expected 2\"";
    return;
  }
  proto::ControlMsg msg;
  if (absl::Status s = ParseFrame(parts[1], &msg); !s.ok()) {
    QLOG(kWarning) << "control message dropped peer=" << Peer(parts[0])
                   << " reason=\"" << s.message() << "\"";
    return;
  }
  Queue(scheduler_.OnControl(parts[0].to_string(), msg, Now()));
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
  std::vector<Outbound> out;
  if (s.ok()) s = scheduler_.OnResult(result, Now(), &out);
  if (!s.ok()) {
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
    QLOG(kWarning) << "api request dropped peer=" << Peer(parts[0])
                   << " reason=\"" << parts.size() << " frames, expected 2\"";
    return;
  }
  proto::ApiRequest request;
  if (absl::Status s = ParseFrame(parts[1], &request); !s.ok()) {
    QLOG(kWarning) << "api request rejected reason=\"" << s.message() << "\"";
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
      QLOG(kInfo) << "api request refused reason=\"" << reply->error().message()
                  << "\"";
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
