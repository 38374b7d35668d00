#include "fuzz/inbound_driver.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "common/partial.h"
#include "common/transport.h"
#include "fuzz/messages.h"
#include "tests/testutil/reference_partial.h"

namespace quark::fuzz {
namespace {

// Prints what broke and aborts: libFuzzer saves the input that got here.
[[noreturn]] void Broken(const std::string& what) {
  std::fprintf(stderr, "controller_inbound_fuzz: invariant broken: %s\n",
               what.c_str());
  std::abort();
}

// A controller's options, shrunk so that short inputs reach the limits:
// tiny tasks, few credits, few kept jobs, few parked watches.
SchedulerOptions FuzzSchedulerOptions() {
  SchedulerOptions o;
  o.heartbeat_interval = absl::Seconds(1);
  o.liveness = 3;
  o.keep_finished = 8;
  o.max_credits = 8;
  o.chunk.min_numbers = 1000;
  o.chunk.sqrt_factor = 0;
  return o;
}

ApiOptions FuzzApiOptions() {
  ApiOptions o;
  o.max_watch = absl::Seconds(10);
  o.max_watches = 4;
  return o;
}

constexpr absl::Duration kTick = absl::Milliseconds(100);  // ServerOptions
constexpr absl::Duration kTimeUnit = absl::Milliseconds(20);

// What ReceiveFrames (common/transport.h) hands the server.
std::vector<zmq::message_t> Receive(const std::vector<std::string>& frames) {
  std::vector<zmq::message_t> parts;
  for (const std::string& f : frames) parts.emplace_back(f.data(), f.size());
  return parts;
}

std::string Same(const google::protobuf::MessageLite& m) {
  return m.SerializeAsString();
}

}  // namespace

InboundDriver::InboundDriver(bool curve)
    : curve_(curve),
      scheduler_(FuzzSchedulerOptions()),
      api_(&scheduler_, FuzzApiOptions()),
      now_(absl::FromUnixSeconds(1'700'000'000)),
      next_tick_(now_) {
  Control({RouteOf("n1"), HelloFrame("n1", 1)});
  Control({RouteOf("n2"), HelloFrame("n2", 1)});
  EndIteration(absl::ZeroDuration());
  Control({RouteOf("n1"), ReadyFrame(SessionOf("n1"), 2)});
  Control({RouteOf("n2"), ReadyFrame(SessionOf("n2"), 2)});
  HandleApi({"cli", SubmitFrame(1, proto::COUNT, 0, 9999, 0)});
  HandleApi({"cli", SubmitFrame(2, proto::TWINS, 1'000'000, 1'020'000, -1)});
  EndIteration(absl::ZeroDuration());
}

uint64_t InboundDriver::SessionOf(const std::string& node) const {
  auto it = sessions_.find(node);
  return it == sessions_.end() ? 0 : it->second;
}

std::string InboundDriver::RouteOf(const std::string& node) const {
  if (!curve_) return node;
  for (const auto& [key, name] : kKeys) {
    if (node == name) return key;
  }
  return node;  // not authorized: refused
}

const std::string* InboundDriver::NameOf(const std::string& key) const {
  static const auto* names = [] {
    auto* m = new std::map<std::string, std::string>;
    for (const auto& [k, name] : kKeys) (*m)[k] = name;
    return m;
  }();
  auto it = names->find(key);
  if (it == names->end() || revoked_.count(it->second)) return nullptr;
  return &it->second;
}

proto::Partial InboundDriver::Reference(uint64_t lo, uint64_t hi) {
  // Shared by all inputs: the same few task ranges come up again and again.
  static auto* cache =
      new std::map<std::pair<uint64_t, uint64_t>, proto::Partial>;
  if (cache->size() > 4096) cache->clear();
  auto [it, inserted] = cache->try_emplace({lo, hi});
  if (inserted) it->second = testutil::ReferencePartial(lo, hi);
  return it->second;
}

void InboundDriver::Run(const Step& step) {
  switch (step.op) {
    case Op::kControl:
      return Control(step.frames);
    case Op::kCollector:
      return Collector(step.frames);
    case Op::kApi:
      return HandleApi(step.frames);
    case Op::kEndIteration:
      return EndIteration(step.arg * kTimeUnit);
    case Op::kHonestResult:
      return HonestResult(step.arg, step.flags);
    case Op::kReload:
      return Reload(step.arg);
  }
}

// Server::HandleControl.
void InboundDriver::Control(const std::vector<std::string>& frames) {
  auto parts = Receive(frames);
  if (parts.size() != 2) return;  // logged and dropped
  std::string node = parts[0].to_string();
  if (curve_) {
    const std::string* name = AuthenticatedNode(parts[0].to_string());
    if (name == nullptr) return;
    node = *name;
  }
  proto::ControlMsg msg;
  if (!ParseFrame(parts[1], &msg).ok()) return;  // logged and dropped
  if (curve_ && msg.has_hello() && msg.hello().node() != node) {
    RejectPeer(parts[0].to_string(), "authorized as another name");
    return;
  }
  if (msg.has_ready()) granted_[msg.ready().session()] += msg.ready().credits();
  for (Outbound& o : scheduler_.OnControl(
           node, msg, now_, curve_ ? node_keys_[node] : std::string())) {
    control_out_.push_back(std::move(o));
  }
}

// Server::AuthenticatedNode: here the routing id is the key.
const std::string* InboundDriver::AuthenticatedNode(const std::string& route) {
  const std::string* name = NameOf(route);
  if (name == nullptr) {
    RejectPeer(route, "key no longer authorized");
    return nullptr;
  }
  routes_[*name] = route;
  node_keys_[*name] = route;
  return name;
}

void InboundDriver::RejectPeer(const std::string& route,
                               const std::string& reason) {
  Outbound o;
  o.route = route;
  o.msg.mutable_reject()->set_reason(reason);
  o.msg.mutable_reject()->set_protocol_version(kProtocolVersion);
  rejects_out_.push_back(std::move(o));
}

// Server::Reload after a SIGHUP: `which` key is revoked, or restored.
void InboundDriver::Reload(uint8_t which) {
  if (!curve_) return;  // nothing to reload
  const std::string name = kKeys[which % std::size(kKeys)].second;
  if (!revoked_.erase(name)) revoked_.insert(name);
  for (auto it = node_keys_.begin(); it != node_keys_.end();) {
    const std::string* allowed = NameOf(it->second);
    if (allowed != nullptr && *allowed == it->first) {
      ++it;
      continue;
    }
    for (Outbound& o : scheduler_.Evict(it->first, now_)) {
      control_out_.push_back(std::move(o));
    }
    if (auto route = routes_.find(it->first); route != routes_.end()) {
      RejectPeer(route->second, "key removed");
      routes_.erase(route);
    }
    it = node_keys_.erase(it);
  }
}

// Server::HandleCollector.
void InboundDriver::Collector(const std::vector<std::string>& frames) {
  auto parts = Receive(frames);
  std::string key;  // the connection's User-Id, with CURVE
  if (curve_) {
    key = parts[0].to_string();
    parts.erase(parts.begin());
  }
  proto::ResultMsg result;
  absl::Status s = parts.size() == 1
                       ? ParseFrame(parts[0], &result)
                       : absl::InvalidArgumentError("frames, expected 1");
  if (!s.ok()) return;  // unreadable: dropped, no ack
  if (curve_) {
    const std::string* name = NameOf(key);
    if (name == nullptr || *name != result.node()) return;  // refused, no ack
  }
  std::vector<Outbound> out;
  s = scheduler_.OnResult(result, now_, &out);
  CheckResult(result, s);
  if (result.lease() != 0 && ValidNodeName(result.node())) {
    acks_[result.node()].push_back(result.lease());
  }
  for (Outbound& o : out) control_out_.push_back(std::move(o));
}

// Server::HandleApi.
void InboundDriver::HandleApi(const std::vector<std::string>& frames) {
  auto parts = Receive(frames);
  const std::string route = parts[0].to_string();
  if (parts.size() != 2) return;  // logged and dropped
  proto::ApiRequest request;
  if (absl::Status s = ParseFrame(parts[1], &request); !s.ok()) {
    proto::ApiReply reply = ErrorReply(absl::InvalidArgumentError(s.message()));
    reply.set_protocol_version(kProtocolVersion);
    api_out_.push_back({route, std::move(reply)});
    return;
  }
  std::vector<Outbound> control;
  auto reply = api_.Handle(route, request, now_, &control);
  for (Outbound& o : control) control_out_.push_back(std::move(o));
  if (!reply.has_value()) return;  // a parked Watch
  if (reply->request_id() != request.request_id()) {
    Broken(absl::StrCat("reply to request ", request.request_id(),
                        " carries request id ", reply->request_id()));
  }
  api_out_.push_back({route, *std::move(reply)});
}

// The end of Server::Run's loop body: time, parked watches, Flush.
void InboundDriver::EndIteration(absl::Duration elapsed) {
  now_ += elapsed;
  if (now_ >= next_tick_) {
    for (Outbound& o : scheduler_.OnTick(now_))
      control_out_.push_back(std::move(o));
    next_tick_ = now_ + kTick;
  }
  for (ApiOutbound& o : api_.Poll(now_)) api_out_.push_back(std::move(o));
  Flush();
  for (const proto::Node& node : scheduler_.ListNodes(now_)) {
    if (node.leases() > granted_[node.session()]) {
      Broken(absl::StrCat("node ", node.name(), " session ", node.session(),
                          " holds ", node.leases(),
                          " leases, but was sent only ",
                          granted_[node.session()], " credits"));
    }
  }
}

// Server::Flush, with a MemoryStore for the disk and Observe() for the
// sockets.
void InboundDriver::Flush() {
  store_.Commit(scheduler_.TakeChanges());
  for (const Outbound& o : control_out_) Observe(o);
  control_out_.clear();
  for (const Outbound& o : rejects_out_) (void)o.msg.SerializeAsString();
  rejects_out_.clear();
  acks_.clear();
  for (const ApiOutbound& o : api_out_) {
    if (o.reply.protocol_version() != kProtocolVersion) {
      Broken(absl::StrCat("API reply without the protocol version: ",
                          o.reply.ShortDebugString()));
    }
    (void)o.reply.SerializeAsString();  // as SendMessage does
  }
  api_out_.clear();
}

void InboundDriver::Observe(const Outbound& sent) {
  (void)sent.msg.SerializeAsString();  // as SendMessage does
  if (sent.msg.has_welcome())
    sessions_[sent.route] = sent.msg.welcome().session();
  if (sent.msg.has_assign()) {
    assigns_.push_back({sent.route, sent.msg.assign()});
    if (assigns_.size() > 64) assigns_.erase(assigns_.begin());
  }
}

// What a worker that got assigns_[which] pushes, spoiled as `flags` say.
void InboundDriver::HonestResult(uint8_t which, uint8_t flags) {
  if (assigns_.empty()) return;
  const SentAssign sent = assigns_[which % assigns_.size()];
  const std::string route = RouteOf(sent.route);
  const proto::Assign& a = sent.assign;
  const uint64_t lo = a.range().lo(), hi = a.range().hi();
  proto::ResultMsg r;
  r.set_protocol_version(kProtocolVersion);
  r.set_session(SessionOf(sent.route) + ((flags & kOtherSession) ? 1 : 0));
  r.set_lease(a.lease());
  r.set_job(a.job());
  r.set_task(a.task());
  r.mutable_range()->set_lo(lo);
  r.mutable_range()->set_hi((flags & kWrongRange) ? hi + 1 : hi);
  if (flags & kFailed) {
    r.set_error("std::bad_alloc");
  } else if (hi - lo < kMaxSievedNumbers) {
    *r.mutable_partial() = Reference(lo, hi);
  }  // else an empty partial: CheckResult sees it as wrong
  // 10,000 numbers a second: tasks grow, but stay small enough to sieve.
  r.set_compute_us(100 * std::min<uint64_t>(hi - lo, uint64_t{1} << 40) + 100);
  r.set_node(sent.route);
  if (curve_) {
    Collector({route, r.SerializeAsString()});
  } else {
    Collector({r.SerializeAsString()});
  }
  if (flags & kThenReady) {
    Control({route, ReadyFrame(SessionOf(sent.route), 1)});
  }
}

// Checks a DONE job's answer against libprimesieve when every result the
// scheduler accepted for it carried the right partial.
void InboundDriver::CheckResult(const proto::ResultMsg& result,
                                const absl::Status& status) {
  if (status.ok() && result.error().empty()) {
    const uint64_t lo = result.range().lo(), hi = result.range().hi();
    if (lo > hi || hi - lo >= kMaxSievedNumbers ||
        Same(Reference(lo, hi)) != Same(result.partial())) {
      tainted_jobs_.insert(result.job());
    }
  }
  auto job = scheduler_.GetJob(result.job());
  if (!job.ok() || job->state() != proto::DONE ||
      tainted_jobs_.count(job->job_id()) ||
      !checked_jobs_.insert(job->job_id()).second) {
    return;
  }
  const uint64_t lo = job->range().lo(), hi = job->range().hi();
  if (hi - lo >= kMaxSievedNumbers) return;
  const proto::JobResult expected = ToJobResult(job->kind(), Reference(lo, hi));
  if (Same(expected) != Same(job->result())) {
    Broken(absl::StrCat("job ", job->job_id(), " ",
                        proto::Kind_Name(job->kind()), " [", lo, ", ", hi,
                        "] is DONE with {", job->result().ShortDebugString(),
                        "}, expected {", expected.ShortDebugString(), "}"));
  }
}

void InboundDriver::Finish() {
  EndIteration(absl::ZeroDuration());
  CheckRestore();
}

// A controller restarted now would read store_: it must come back with
// the same jobs (a running job comes back queued, its leases forgotten).
void InboundDriver::CheckRestore() {
  Scheduler restored(FuzzSchedulerOptions());
  if (absl::Status s = restored.Restore(store_.Load()); !s.ok()) {
    Broken(absl::StrCat("the stored state does not restore: ", s.message()));
  }
  const std::vector<proto::Job> live = scheduler_.ListJobs();
  const std::vector<proto::Job> back = restored.ListJobs();
  if (live.size() != back.size()) {
    Broken(
        absl::StrCat(live.size(), " jobs, ", back.size(), " after a restart"));
  }
  for (size_t i = 0; i < live.size(); ++i) {
    proto::Job want = live[i];
    if (want.state() == proto::RUNNING) want.set_state(proto::QUEUED);
    proto::Job got = back[i];
    // Not stored: derived from leases and events, which a restart resets;
    // and a FAILED or CANCELLED job's progress, as its tasks are dropped.
    const bool ended =
        want.state() == proto::FAILED || want.state() == proto::CANCELLED;
    for (proto::Job* j : {&want, &got}) {
      j->clear_tasks_running();
      j->clear_version();
      if (ended) j->clear_progress();
    }
    if (Same(want) != Same(got)) {
      Broken(absl::StrCat("job before a restart {", want.ShortDebugString(),
                          "}, after {", got.ShortDebugString(), "}"));
    }
  }
}

}  // namespace quark::fuzz
