#include "fuzz/inbound_driver.h"

#include <iterator>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/kinds.h"
#include "common/partial.h"
#include "common/token.h"
#include "common/transport.h"
#include "controller/auth.h"
#include "fuzz/broken.h"
#include "fuzz/curve_keys.h"
#include "fuzz/messages.h"
#include "tests/testutil/reference_partial.h"

namespace quark::fuzz {
namespace {

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

// Small limits, short lifetimes: see the header.
EnrollmentOptions FuzzEnrollmentOptions() {
  EnrollmentOptions o;
  o.controller_key = ControllerKeys().public_key;
  o.max_tokens = 4;
  o.max_pending = 2;
  // Reached: only E1..E4 can make a valid proof, so above 4 rejected keys
  // would never be forgotten.
  o.max_rejected = 2;
  o.forget_tokens_after = absl::Seconds(10);
  o.max_ttl = absl::Hours(1);
  o.max_uses = 100;
  return o;
}

// Where each input's random source starts (curve_keys.h).
constexpr uint64_t kInputSeed = 0x5155'4152'4b49'4e50;  // "QUARKINP"

constexpr absl::Duration kTick = absl::Milliseconds(100);  // ServerOptions
constexpr absl::Duration kTimeUnit = absl::Milliseconds(20);

struct KeyName {
  const char* domain;
  const char* key;
  const char* name;
};
constexpr KeyName kKeys[] = {{kWorkerDomain, "K1", "n1"},
                             {kWorkerDomain, "K2", "n2"},
                             {kWorkerDomain, "K3", "n3"},
                             {kOperatorDomain, "O1", "ann"}};

std::string Same(const google::protobuf::MessageLite& m) {
  return m.SerializeAsString();
}

}  // namespace

// ------------------------------------------------------------ FuzzKeys

testutil::FakeKeys FuzzKeys() {
  std::map<std::string, std::string> workers, operators;
  for (const KeyName& k : kKeys) {
    (k.domain == std::string(kWorkerDomain) ? workers : operators)[k.key] =
        k.name;
  }
  return testutil::FakeKeys(std::move(workers), std::move(operators));
}

// ------------------------------------------------------- InboundDriver

InboundDriver::InboundDriver(Mode mode)
    : mode_(mode),
      enrollment_(mode.curve
                      ? std::make_unique<Enrollment>(FuzzEnrollmentOptions())
                      : nullptr),
      scheduler_(FuzzSchedulerOptions()),
      api_(&scheduler_, FuzzApiOptions()),
      inbound_(&scheduler_, &api_, mode.curve ? &keys_ : nullptr,
               mode.operator_keys),
      enroll_(enrollment_.get(), &keys_, FuzzEnrollmentOptions()),
      now_(absl::FromUnixSeconds(1'700'000'000)),
      next_tick_(now_) {
  ResetFuzzRandom(kInputSeed);
  // Server::Start, with a key.
  keys_.SetEnrolled(enrollment_.get());
  inbound_.SetEnrollment(enrollment_.get());
  api_.SetEnrollment(enrollment_.get());
  auto control = [&](const std::string& node, const std::string& body) {
    Deliver(Op::kControl, StepFrames(keys_.KeyOf(node), {RouteOf(node), body}));
  };
  auto api = [&](const std::string& body) {
    Deliver(Op::kApi, StepFrames("O1", {"cli", body}));
  };
  control("n1", HelloFrame("n1", 1));
  control("n2", HelloFrame("n2", 1));
  EndIteration(absl::ZeroDuration());
  control("n1", ReadyFrame(SessionOf(RouteOf("n1")), 2));
  control("n2", ReadyFrame(SessionOf(RouteOf("n2")), 2));
  api(SubmitFrame(1, proto::COUNT, 0, 9999, 0));
  api(SubmitFrame(2, proto::TWINS, 1'000'000, 1'020'000, -1));
  EndIteration(absl::ZeroDuration());
  if (!enrollment_) return;
  api(CreateTokenFrame(3, 0, 3, false));
  api(CreateTokenFrame(4, 30'000, 0, true));
  EndIteration(absl::ZeroDuration());
  if (tokens().size() != 2) Broken("the fixture's tokens were not made");
}

std::string InboundDriver::RouteOf(const std::string& node) const {
  return mode_.curve ? absl::StrCat("\x01zmq-", node) : node;
}

std::vector<std::string> InboundDriver::StepFrames(
    const std::string& key, std::vector<std::string> frames) const {
  if (mode_.curve) frames.insert(frames.begin(), key);
  return frames;
}

uint64_t InboundDriver::SessionOf(const std::string& route) const {
  auto it = sessions_.find(route);
  return it == sessions_.end() ? 0 : it->second;
}

proto::Partial InboundDriver::Reference(proto::Kind kind, uint64_t lo,
                                        uint64_t hi) {
  // Shared by all inputs: the same few task ranges come up again and again.
  static auto* cache =
      new std::map<std::tuple<proto::Kind, uint64_t, uint64_t>, proto::Partial>;
  if (cache->size() > 4096) cache->clear();
  auto [it, inserted] = cache->try_emplace({kind, lo, hi});
  if (inserted) it->second = testutil::ReferenceFor(kind, lo, hi);
  return it->second;
}

void InboundDriver::Run(const Step& step) {
  switch (step.op) {
    case Op::kControl:
    case Op::kCollector:
    case Op::kApi:
      return Deliver(step.op, step.frames);
    case Op::kEndIteration:
      return EndIteration(step.arg * kTimeUnit);
    case Op::kHonestResult:
      return HonestResult(step.arg, step.flags);
    case Op::kReload:  // Server::Reload
      if (!mode_.curve) return;
      keys_.Toggle(kToggledKeys[step.arg % std::size(kToggledKeys)]);
      return inbound_.OnKeysChanged(now_);
    case Op::kEnroll:
      return Deliver(step.op, step.frames);
    case Op::kHonestEnroll:
      return HonestEnroll(step.arg, step.flags);
  }
}

// What Server::ReadBatch hands Inbound: the frames of one message and who
// sent it. Notes on the side what the invariants need.
void InboundDriver::Deliver(Op op, const std::vector<std::string>& frames) {
  Peer peer;
  peer.address = "192.0.2.1";
  std::vector<absl::string_view> parts(frames.begin(), frames.end());
  if (mode_.curve && parts.size() >= 2) {
    peer.key = RealKey(frames[0]);
    if (const int i = EnrollKeyIndex(peer.key); i >= 0) {
      peer.address = absl::StrCat("192.0.2.", 11 + i);
    }
    parts.erase(parts.begin());
  }
  switch (op) {
    case Op::kControl: {
      proto::ControlMsg msg;
      if (parts.size() == 2 && ParseFrame(parts[1], &msg).ok()) {
        if (msg.has_ready()) {
          granted_[msg.ready().session()] += msg.ready().credits();
        }
        if (const std::string* name = keys_.NameOf(kWorkerDomain, peer.key)) {
          route_names_[std::string(parts[0])] = *name;
          route_keys_[std::string(parts[0])] = peer.key;
        }
      }
      return inbound_.OnControl(parts, peer, now_);
    }
    case Op::kCollector:
      inbound_.OnResult(parts, peer, now_);
      if (parts.size() == 1) CheckResult(parts[0]);
      return;
    case Op::kApi: {
      proto::ApiRequest request;
      if (parts.size() == 2 && ParseFrame(parts[1], &request).ok()) {
        request_ids_[std::string(parts[0])].insert(request.request_id());
      }
      return inbound_.OnApi(parts, peer, now_);
    }
    default:  // kEnroll
      enroll_.OnRequest(parts, peer);
      return inbound_.OnEnroll(parts, peer, now_);
  }
}

// The end of Server::Run's loop body.
void InboundDriver::EndIteration(absl::Duration elapsed) {
  now_ += elapsed;
  const bool tick = now_ >= next_tick_;
  if (tick) next_tick_ = now_ + kTick;
  inbound_.OnTime(now_, tick);
  Flush();
  CheckKeys();
  for (const proto::Node& node : scheduler_.ListNodes(now_)) {
    if (node.leases() > granted_[node.session()]) {
      Broken(absl::StrCat("node ", node.name(), " session ", node.session(),
                          " holds ", node.leases(),
                          " leases, but was sent only ",
                          granted_[node.session()], " credits"));
    }
  }
}

// With CURVE, a node stays registered only while its key is let in as
// its name: revoked (a reload) or rejected (RejectNode), it is evicted.
// Two keys are never let in as one name: the static list wins it over an
// enrolled key (Authenticator::NameOf).
void InboundDriver::CheckKeys() {
  if (!mode_.curve) return;
  for (const proto::Node& node : scheduler_.ListNodes(now_)) {
    const std::string* name = keys_.NameOf(kWorkerDomain, node.key());
    if (name == nullptr || *name != node.name()) {
      Broken(absl::StrCat("node ", node.name(), " is registered with key ",
                          node.key(), ", which is let in as ",
                          name == nullptr ? "nobody" : *name));
    }
  }
}

// Server::Flush, with a MemoryStore for the disk and Observe() for the
// sockets; the enrollment checks see the batch and the output before the
// commit, against the store as it was.
void InboundDriver::Flush() {
  absl::StatusOr<InboundOutput> step = inbound_.Commit(
      store_, [&](const StoreBatch& batch, const InboundOutput& out) {
        enroll_.OnFlush(batch, store_, out);
      });
  if (!step.ok())
    Broken(absl::StrCat("the memory store failed: ", step.status().message()));
  const InboundOutput& out = *step;
  for (const ControlOutbound& o : out.control) Observe(o);
  for (const ApiOutbound& o : out.api) {
    (void)o.reply.SerializeAsString();  // as SendMessage does
    if (o.reply.protocol_version() != kProtocolVersion) {
      Broken(absl::StrCat("API reply without the protocol version: ",
                          o.reply.ShortDebugString()));
    }
    // 0: the request could not be read, or its sender is not authorized.
    if (o.reply.request_id() != 0 &&
        !request_ids_[o.route].count(o.reply.request_id())) {
      Broken(absl::StrCat("API reply with request id ", o.reply.request_id(),
                          ", which its client never sent"));
    }
  }
  for (const EnrollOutbound& o : out.enroll) {
    (void)o.reply.SerializeAsString();  // as SendMessage does
  }
}

void InboundDriver::Observe(const ControlOutbound& sent) {
  (void)sent.msg.SerializeAsString();  // as SendMessage does
  if (sent.msg.has_welcome()) {
    sessions_[sent.route] = sent.msg.welcome().session();
  }
  if (sent.msg.has_assign()) {
    assigns_.push_back({sent.route, sent.msg.assign()});
    if (assigns_.size() > 64) assigns_.erase(assigns_.begin());
  }
}

// What the worker that got assigns_[which] pushes, spoiled as `flags` say.
void InboundDriver::HonestResult(uint8_t which, uint8_t flags) {
  if (assigns_.empty()) return;
  const SentAssign sent = assigns_[which % assigns_.size()];
  const proto::Assign& a = sent.assign;
  std::string node = sent.route, key;
  if (mode_.curve) {
    auto it = route_names_.find(sent.route);
    if (it == route_names_.end()) return;
    node = it->second;
    key = route_keys_[sent.route];
  }
  const uint64_t lo = a.range().lo(), hi = a.range().hi();
  const uint64_t session = SessionOf(sent.route);
  proto::ResultMsg r;
  r.set_protocol_version(kProtocolVersion);
  r.set_session(session + ((flags & kOtherSession) ? 1 : 0));
  r.set_lease(a.lease());
  r.set_job(a.job());
  r.set_task(a.task());
  r.mutable_range()->set_lo(lo);
  r.mutable_range()->set_hi((flags & kWrongRange) ? hi + 1 : hi);
  if (flags & kFailed) {
    r.set_error("std::bad_alloc");
  } else if (hi - lo < kMaxSievedNumbers) {
    *r.mutable_partial() = Reference(a.kind(), lo, hi);
  }  // else an empty partial: CheckResult sees it as wrong
  // 10,000 numbers a second: tasks grow, but stay small enough to sieve.
  r.set_compute_us(100 * std::min<uint64_t>(hi - lo, uint64_t{1} << 40) + 100);
  r.set_node(node);
  Deliver(Op::kCollector, StepFrames(key, {r.SerializeAsString()}));
  if (flags & kThenReady) {
    Deliver(Op::kControl,
            StepFrames(key, {sent.route, ReadyFrame(session, 1)}));
  }
}

// What a worker holding one of the tokens made so far sends on the enroll
// socket from key E1..E4 (arg bits 0-1), for a token (bits 2-3, of
// tokens()) and a name (bits 4-5, kEnrollNames), spoiled as `flags` say.
void InboundDriver::HonestEnroll(uint8_t arg, uint8_t flags) {
  if (!enrollment_ || tokens().empty()) return;
  const size_t who = arg & 3;
  const size_t which = (arg >> 2 & 3) % tokens().size();
  const JoinToken token = tokens()[which].token;
  const std::string key = EnrollKey(who), fuzz_key = EnrollKeyName(who);
  if (flags & kRevokeFirst) {
    Deliver(
        Op::kApi,
        StepFrames("O1", {"cli", RequestFrame(900, [&](proto::ApiRequest& r) {
                            r.mutable_revoke_token()->set_id(token.id);
                          })}));
  }
  proto::EnrollRequest r = EnrollRequestOf(
      token, (flags & kOtherKeysProof) ? EnrollKey(who + 1) : key,
      (flags & kBadName) ? "bad name!" : kEnrollNames[arg >> 4 & 3]);
  if (flags & kOtherVersion) r.set_protocol_version(kProtocolVersion + 1);
  if (flags & kOtherTokenId) {
    r.set_token_id(tokens()[(which + 1) % tokens().size()].token.id);
  }
  if ((flags & kBadProof) && !r.proof().empty()) {
    (*r.mutable_proof())[r.proof().size() / 2] ^= 1;
  }
  // One machine for all: a re-imaged node (a new key from the same
  // machine) may take its old name over.
  r.set_machine((flags & kLongMachine) ? std::string(129, 'm') : "fuzzmachine");
  Deliver(Op::kEnroll, {fuzz_key, absl::StrCat("\x01enroll-", fuzz_key),
                        r.SerializeAsString()});
  if (!(flags & kThenHello)) return;
  // A worker goes on to control once the answer is ACCEPTED.
  EndIteration(absl::ZeroDuration());
  const proto::EnrollReply* reply = enroll_.LastReply(key);
  if (reply == nullptr || reply->status() != proto::EnrollReply::ACCEPTED) {
    return;
  }
  const std::string name = reply->name();
  const std::string route = absl::StrCat("\x01zmq-", fuzz_key);
  Deliver(Op::kControl, {fuzz_key, route, HelloFrame(name, 1)});
  EndIteration(absl::ZeroDuration());
  Deliver(Op::kControl, {fuzz_key, route, ReadyFrame(SessionOf(route), 2)});
}

// Checks a DONE job's answer against libprimesieve when every result that
// arrived for it carried the right partial.
void InboundDriver::CheckResult(absl::string_view frame) {
  proto::ResultMsg result;
  if (!ParseFrame(frame, &result).ok()) return;
  auto job = scheduler_.GetJob(result.job());
  if (result.error().empty()) {
    const uint64_t lo = result.range().lo(), hi = result.range().hi();
    if (!job.ok() || lo > hi || hi - lo >= kMaxSievedNumbers ||
        Same(Reference(job->kind(), lo, hi)) != Same(result.partial())) {
      tainted_jobs_.insert(result.job());
    }
  }
  if (!job.ok() || job->state() != proto::DONE ||
      tainted_jobs_.count(job->job_id()) ||
      !checked_jobs_.insert(job->job_id()).second) {
    return;
  }
  const uint64_t lo = job->range().lo(), hi = job->range().hi();
  if (hi - lo >= kMaxSievedNumbers) return;
  const proto::JobResult expected =
      ToJobResult(job->kind(), Reference(job->kind(), lo, hi));
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
  enroll_.CheckRestore(store_, now_);
}

// A controller restarted now would read store_: it must come back with
// the same jobs (a running job comes back queued, its leases forgotten).
void InboundDriver::CheckRestore() {
  Scheduler restored(FuzzSchedulerOptions());
  if (absl::Status s = restored.Restore(store_.State()); !s.ok()) {
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
    // Not stored: derived from leases and events, which a restart resets,
    // and from the nodes connected now (why a queued job waits). A FAILED
    // or CANCELLED job's progress and partial answer are stored.
    for (proto::Job* j : {&want, &got}) {
      j->clear_tasks_running();
      j->clear_version();
      j->clear_waiting();
    }
    if (Same(want) != Same(got)) {
      Broken(absl::StrCat("job before a restart {", want.ShortDebugString(),
                          "}, after {", got.ShortDebugString(), "}"));
    }
  }
}

}  // namespace quark::fuzz
