#include "fuzz/seeds.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/kinds.h"
#include "common/transport.h"
#include "fuzz/curve_keys.h"
#include "fuzz/inbound_driver.h"
#include "fuzz/inbound_input.h"
#include "fuzz/messages.h"

namespace quark::fuzz {
namespace {

// Records steps and runs them on a driver as it goes, so that later steps
// can use what the controller answered (sessions, assignments).
class SeedBuilder {
 public:
  explicit SeedBuilder(Mode mode = {}) : driver_(mode) { input_.mode = mode; }

  // From the worker named `node` (with CURVE, on its key's connection).
  SeedBuilder& Control(const std::string& node, const std::string& body) {
    return ControlFrom(FuzzKeys().KeyOf(node), driver_.RouteOf(node), body);
  }
  // From routing id `route`, on a connection with `key` (with CURVE).
  SeedBuilder& ControlFrom(const std::string& key, const std::string& route,
                           const std::string& body) {
    return Add({Op::kControl, driver_.StepFrames(key, {route, body})});
  }
  // A result pushed by `node` (with CURVE, under its key).
  SeedBuilder& Result(const std::string& node, const std::string& body) {
    return Add(
        {Op::kCollector, driver_.StepFrames(FuzzKeys().KeyOf(node), {body})});
  }
  // From the CLI, with operator key `key` when that matters.
  SeedBuilder& Api(const std::string& body, const std::string& key = "O1") {
    return Add({Op::kApi, driver_.StepFrames(key, {"cli", body})});
  }
  // Frames as they are, with no key added.
  SeedBuilder& Frames(Op op, std::vector<std::string> frames) {
    return Add({op, std::move(frames)});
  }
  // The end of a loop iteration, `units` x 20 ms later.
  SeedBuilder& End(uint8_t units = 0) {
    return Add({Op::kEndIteration, {}, units});
  }
  SeedBuilder& Honest(uint8_t which, uint8_t flags) {
    return Add({Op::kHonestResult, {}, which, flags});
  }
  SeedBuilder& Reload(uint8_t which) { return Add({Op::kReload, {}, which}); }
  // On the enroll socket from `key` ("E1".."E4" or any other), on `route`.
  SeedBuilder& Enroll(const std::string& key, const std::string& route,
                      const std::string& body) {
    return Add({Op::kEnroll, driver_.StepFrames(key, {route, body})});
  }
  // From key E<key+1>, with the `token`-th token, asking for
  // kEnrollNames[name].
  SeedBuilder& HonestEnroll(uint8_t key, uint8_t token, uint8_t name,
                            uint8_t flags = 0) {
    const auto arg = static_cast<uint8_t>(key | token << 2 | name << 4);
    return Add({Op::kHonestEnroll, {}, arg, flags});
  }
  // On control from enrolled key E<key+1>, on its own connection.
  SeedBuilder& EnrolledControl(uint8_t key, const std::string& body) {
    const std::string name = EnrollKeyName(key);
    return ControlFrom(name, "\x01zmq-" + name, body);
  }
  uint64_t EnrolledSession(uint8_t key) const {
    return driver_.SessionOf("\x01zmq-" + EnrollKeyName(key));
  }
  uint64_t Session(const std::string& node) const {
    return driver_.SessionOf(driver_.RouteOf(node));
  }
  // The worker behind `route`, of those the seeds speak for.
  std::string NodeOf(const std::string& route) const {
    for (const char* node : {"n1", "n2", "n3"}) {
      if (driver_.RouteOf(node) == route) return node;
    }
    return route;
  }
  // The id of the `i`-th token made so far.
  std::string TokenId(size_t i) const {
    return driver_.tokens().at(i).token.id;
  }
  const InboundDriver& driver() const { return driver_; }
  std::string Encode() const { return EncodeInput(input_); }

 private:
  SeedBuilder& Add(Step step) {
    driver_.Run(step);
    input_.steps.push_back(std::move(step));
    return *this;
  }

  InboundDriver driver_;
  Input input_;
};

std::string ResultFrame(const SeedBuilder& b, const SentAssign& sent) {
  const proto::Assign& a = sent.assign;
  const std::string node = b.NodeOf(sent.route);
  proto::ResultMsg r;
  r.set_protocol_version(kProtocolVersion);
  r.set_session(b.Session(node));
  r.set_lease(a.lease());
  r.set_job(a.job());
  r.set_task(a.task());
  *r.mutable_range() = a.range();
  *r.mutable_partial() =
      InboundDriver::Reference(a.kind(), a.range().lo(), a.range().hi());
  r.set_compute_us(250'000);
  r.set_node(node);
  return r.SerializeAsString();
}

// Workers that answer every assignment correctly, with a credit back,
// until both fixture jobs are done.
std::string Results(Mode mode) {
  SeedBuilder b(mode);
  std::set<uint64_t> answered;
  for (int i = 0; i < 64; ++i) {
    const SentAssign* next = nullptr;
    for (const SentAssign& sent : b.driver().assigns()) {
      if (!answered.count(sent.assign.lease())) {
        next = &sent;
        break;
      }
    }
    if (next == nullptr) break;
    const SentAssign sent = *next;
    answered.insert(sent.assign.lease());
    const std::string node = b.NodeOf(sent.route);
    b.Result(node, ResultFrame(b, sent))
        .Control(node, ReadyFrame(b.Session(node), 1))
        .End();
  }
  return b.Encode();
}

std::string Membership() {
  SeedBuilder b;
  b.Control("n3", HelloFrame("n3", 1)).End();
  b.Control("n3", ReadyFrame(b.Session("n3"), 2))
      .Control("n1", HeartbeatFrame(b.Session("n1"), true))
      .Control("n2", HeartbeatFrame(b.Session("n2"), true))
      .End(5)
      .Control("n2", GoodbyeFrame(b.Session("n2")))
      .End()
      .Control("n1", HelloFrame("n1", 2))  // restarted
      .Control("n3", HelloFrame("n3", 1))  // lost touch, same process
      .End();
  b.Control("n1", ReadyFrame(b.Session("n1"), 2)).End();
  // Silence: everyone is lost (3 x 1 s), then comes back.
  b.End(255).End(255).Control("n2", HelloFrame("n2", 1)).End();
  b.Control("n2", ReadyFrame(b.Session("n2"), 2)).End();
  return b.Encode();
}

std::string Api() {
  SeedBuilder b;
  auto request = [&](uint64_t id, auto fill) { b.Api(RequestFrame(id, fill)); };
  b.Api(SubmitFrame(10, proto::SUM, 5000, 9000, 5));
  b.Api(SubmitFrame(11, proto::GAPS, 0, 3000, 0));
  request(12, [](proto::ApiRequest& r) { r.mutable_get_job()->set_job_id(1); });
  request(13, [](proto::ApiRequest& r) { r.mutable_list_jobs(); });
  request(14, [](proto::ApiRequest& r) { r.mutable_list_nodes(); });
  request(15, [](proto::ApiRequest& r) { r.mutable_drain()->set_node("n1"); });
  b.End();
  request(16,
          [](proto::ApiRequest& r) { r.mutable_undrain()->set_node("n1"); });
  request(17, [](proto::ApiRequest& r) {
    r.mutable_watch()->set_job_id(1);
    r.mutable_watch()->set_after_version(1000);
    r.mutable_watch()->set_timeout_ms(500);
  });
  request(18, [](proto::ApiRequest& r) {
    r.mutable_watch()->set_job_id(2);
    r.mutable_watch()->set_timeout_ms(1000);
  });
  b.End(10).Honest(0, kThenReady).End(30);
  request(19, [](proto::ApiRequest& r) { r.mutable_cancel()->set_job_id(2); });
  request(20, [](proto::ApiRequest& r) { r.mutable_cancel()->set_job_id(2); });
  request(21,
          [](proto::ApiRequest& r) { r.mutable_get_job()->set_job_id(99); });
  request(22,
          [](proto::ApiRequest& r) { r.mutable_drain()->set_node("nobody"); });
  request(23, [](proto::ApiRequest&) {});  // no body
  // Verification: every task on two nodes; trust of a node not suspect,
  // of an unknown one, and a verify mode out of range.
  request(24, [](proto::ApiRequest& r) {
    r.mutable_submit()->set_kind(proto::COUNT);
    r.mutable_submit()->mutable_range()->set_hi(20'000);
    r.mutable_submit()->set_verify(proto::VERIFY_ALL);
  });
  b.End(5).Honest(0, kThenReady).Honest(1, kThenReady).End(5);
  request(25, [](proto::ApiRequest& r) { r.mutable_trust()->set_node("n1"); });
  request(26,
          [](proto::ApiRequest& r) { r.mutable_trust()->set_node("nobody"); });
  request(27, [](proto::ApiRequest& r) {
    r.mutable_submit()->set_kind(proto::COUNT);
    r.mutable_submit()->mutable_range()->set_hi(100);
    r.mutable_submit()->set_verify(static_cast<proto::Verify>(9));
  });
  b.Api(HelloFrame("cli", 1));  // not an ApiRequest
  proto::ApiRequest old;
  old.set_protocol_version(kProtocolVersion + 1);
  old.mutable_list_jobs();
  b.Api(old.SerializeAsString()).End();
  return b.Encode();
}

// Results that are wrong in every way a worker can get them wrong.
std::string Spoiled() {
  SeedBuilder b;
  b.Honest(0, kFailed | kThenReady).End();
  b.Honest(1, kWrongRange).Honest(2, kOtherSession).End();
  for (int i = 0; i < 4; ++i) b.Honest(0, kFailed).End();  // poison
  proto::ResultMsg r;
  r.set_protocol_version(kProtocolVersion);
  r.set_job(42);
  r.set_lease(3);
  r.set_node("n1");
  b.Result("n1", r.SerializeAsString());  // unknown job, acked all the same
  r.set_job(2);
  r.set_task(1000);
  b.Result("n1", r.SerializeAsString());  // unknown task
  r.set_protocol_version(kProtocolVersion + 1);
  b.Result("n1", r.SerializeAsString()).End();
  return b.Encode();
}

// Frames the server drops, and control messages the scheduler refuses.
std::string Malformed() {
  SeedBuilder b;
  const std::string hello = HelloFrame("n4", 1);
  b.Frames(Op::kControl, {hello})
      .Frames(Op::kControl, {"n4", hello, hello})
      .Control("n4", "\xff\xff\xff garbage")
      .Control("n5", HelloFrame("n4", 1))  // name is not the route
      .ControlFrom("", "bad name!", HelloFrame("bad name!", 1))
      .Control("n1", ReadyFrame(b.Session("n1"), 0))
      .Control("n1", ReadyFrame(b.Session("n1"), 1000))
      .Control("n2", HeartbeatFrame(b.Session("n1"), false))  // someone else's
      .Control("n9", HeartbeatFrame(12345, false))
      .Control("n1", std::string())  // empty body
      .Frames(Op::kCollector, {"x", "y"})
      .Result("n1", "\x0a\xff")
      .Frames(Op::kApi, {"cli"})
      .Api("\x08")
      .End();
  proto::ControlMsg old;
  old.mutable_hello()->set_protocol_version(kProtocolVersion + 1);
  old.mutable_hello()->set_node("n4");
  b.Control("n4", old.SerializeAsString()).End();
  return b.Encode();
}

// More jobs than are kept once finished.
std::string ManyJobs() {
  SeedBuilder b;
  for (uint64_t i = 0; i < 12; ++i) {
    b.Api(SubmitFrame(100 + i, Kinds()[i % Kinds().size()].kind, i * 1000,
                      i * 1000 + 999, static_cast<int32_t>(i % 3)));
  }
  b.End();
  for (int i = 0; i < 60; ++i)
    b.Honest(static_cast<uint8_t>(i), kThenReady).End(1);
  return b.Encode();
}

// A controller with CURVE: names come from keys, which a reload revokes.
std::string Curve() {
  SeedBuilder b(Mode{.curve = true});
  b.ControlFrom("K3", "\x01zmq-x", HelloFrame("n1", 1))     // n3's key
      .ControlFrom("K9", "\x01zmq-y", HelloFrame("n9", 1))  // no such key
      .Control("n3", HelloFrame("n3", 1))
      .End();
  b.Control("n3", ReadyFrame(b.Session("n3"), 2)).End();
  b.Honest(0, kThenReady).Honest(1, kThenReady).End();
  b.Reload(0).End();  // n1's key revoked: evicted, its work requeued
  b.Control("n1", HeartbeatFrame(b.Session("n1"), false));
  b.Honest(2, kThenReady);  // n1's, maybe: refused without an ack
  proto::ResultMsg r;
  r.set_protocol_version(kProtocolVersion);
  r.set_node("n2");
  r.set_lease(1);
  b.Result("n3", r.SerializeAsString()).End();  // n3's key, n2's name
  b.Reload(0).Control("n1", HelloFrame("n1", 2)).End();
  b.Control("n1", ReadyFrame(b.Session("n1"), 2)).End(50);
  return b.Encode();
}

// Operators authenticate with their keys too.
std::string OperatorKeys() {
  SeedBuilder b(Mode{.curve = true, .operator_keys = true});
  b.Api(RequestFrame(30, [](proto::ApiRequest& r) { r.mutable_list_jobs(); }));
  b.Api(RequestFrame(31, [](proto::ApiRequest& r) { r.mutable_list_nodes(); }),
        "K1");        // a worker's key
  b.End().Reload(3);  // ann's key revoked
  b.Api(RequestFrame(32, [](proto::ApiRequest& r) {
     r.mutable_cancel()->set_job_id(1);
   })).End();
  return b.Encode();
}

std::string ApproveFrame(uint64_t id, const std::string& name) {
  return RequestFrame(
      id, [&](proto::ApiRequest& r) { r.mutable_approve()->set_name(name); });
}

std::string RejectFrame(uint64_t id, const std::string& name) {
  return RequestFrame(
      id, [&](proto::ApiRequest& r) { r.mutable_reject()->set_name(name); });
}

std::string RevokeFrame(uint64_t id, const std::string& token_id) {
  return RequestFrame(id, [&](proto::ApiRequest& r) {
    r.mutable_revoke_token()->set_id(token_id);
  });
}

// Six results for whoever holds leases, answered correctly with a credit
// back, 100 ms apart.
void Work(SeedBuilder& b) {
  for (uint8_t i = 0; i < 6; ++i) b.Honest(i, kThenReady).End(5);
}

// A node joins with the plain token, says Hello and works; others ask for
// names in use; and every way a request can be wrong.
std::string EnrollSeed() {
  SeedBuilder b(Mode{.curve = true});
  b.HonestEnroll(0, 0, 0, kThenHello).End();  // E1: "pi", registered
  Work(b);
  b.HonestEnroll(0, 0, 0)                 // asks again: the same answer
      .HonestEnroll(1, 0, 0, kThenHello)  // "pi" is connected: "pi-2"
      .HonestEnroll(2, 0, 2, kThenHello)  // n3 is listed: "n3-2"
      .HonestEnroll(3, 0, 1)              // the token is used up
      .End(50);
  Work(b);
  for (uint8_t flags : {kBadProof, kOtherTokenId, kBadName, kOtherVersion,
                        kOtherKeysProof, kLongMachine}) {
    b.HonestEnroll(3, 1, 1, flags);
  }
  b.End(50);
  const proto::EnrollRequest valid =
      EnrollRequestOf(b.driver().tokens().at(1).token, EnrollKey(3), "x");
  proto::EnrollRequest r = valid;
  r.set_token_id("aaaaaaaa");  // no such token
  b.Enroll("E4", "\x01r", r.SerializeAsString());
  r.set_token_id("not a token");
  b.Enroll("E4", "\x01r", r.SerializeAsString());
  r = valid;
  r.set_machine(std::string(5000, 'm'));  // over kMaxEnrollBytes
  b.Enroll("E4", "\x01r", r.SerializeAsString())
      .Enroll("K1", "\x01r", valid.SerializeAsString())  // not a Z85 key
      .Enroll("E4", "\x01r", "\xff\xff garbage")
      .Frames(Op::kEnroll, {"E4", "\x01r"})  // no request
      .Frames(Op::kEnroll, {"E4", "\x01r", "a", "b"})
      .End(50);
  // An enrolled key under another name than its own, and an enrolled
  // node's results.
  b.EnrolledControl(1, HelloFrame("pi", 1))
      .EnrolledControl(0, HeartbeatFrame(b.EnrolledSession(0), true))
      .End();
  Work(b);
  for (int i = 0; i < 12; ++i) b.HonestEnroll(3, 1, 1);  // the rate limit
  b.End();
  return b.Encode();
}

// Nodes wait for approval; the operator approves one, rejects another.
std::string PendingSeed() {
  SeedBuilder b(Mode{.curve = true});
  b.HonestEnroll(1, 1, 1).End();  // E2 "rpi": pending
  b.HonestEnroll(1, 1, 1).End();  // asks again
  b.Api(
       RequestFrame(40, [](proto::ApiRequest& r) { r.mutable_list_pending(); }))
      .Api(ApproveFrame(41, "nobody"))
      .Api(ApproveFrame(42, "rpi"))
      .End();
  b.HonestEnroll(1, 1, 1, kThenHello).End();  // ACCEPTED: joins
  Work(b);
  b.HonestEnroll(2, 1, 0)     // E3 "pi": pending
      .HonestEnroll(3, 1, 3)  // E4 "pi-2": pending
      .HonestEnroll(0, 1, 0)  // E1: too many pending
      .End();
  b.Api(RejectFrame(43, "pi")).Api(RejectFrame(44, "nobody")).End();
  b.HonestEnroll(2, 1, 0).End();  // rejected for good
  b.Api(RejectFrame(45, "pi-2")).Api(RejectFrame(46, "rpi")).End();
  b.Api(
      RequestFrame(47, [](proto::ApiRequest& r) { r.mutable_list_pending(); }));
  // 30 s on, the approval token has expired.
  for (int i = 0; i < 6; ++i) b.End(255);
  b.HonestEnroll(0, 1, 0).End();
  return b.Encode();
}

// An approved node at work is rejected: evicted, its work requeued, and
// its key refused from then on; another takes its name.
std::string RejectSeed() {
  SeedBuilder b(Mode{.curve = true, .operator_keys = true});
  b.HonestEnroll(0, 0, 0, kThenHello).End();
  Work(b);
  b.Api(RequestFrame(50, [](proto::ApiRequest& r) { r.mutable_list_nodes(); }))
      .Api(RejectFrame(51, "pi"))
      .End();
  b.EnrolledControl(0, HeartbeatFrame(b.EnrolledSession(0), false))
      .EnrolledControl(0, HelloFrame("pi", 2))
      .End();
  b.HonestEnroll(0, 0, 0).End();              // refused for good
  b.HonestEnroll(1, 0, 0, kThenHello).End();  // "pi" is free again
  Work(b);
  b.Api(RejectFrame(52, "pi"), "K1").End();  // not an operator's key
  return b.Encode();
}

// A re-imaged node (same name, new key) takes over from its old key.
std::string ReimageSeed() {
  SeedBuilder b(Mode{.curve = true});
  b.HonestEnroll(0, 0, 0).End();  // E1 "pi", never connected
  b.HonestEnroll(1, 0, 0).End();  // E2 "pi": E1 is let in no more
  b.EnrolledControl(0, HelloFrame("pi", 1))
      .HonestEnroll(1, 0, 0, kThenHello)
      .End();
  b.HonestEnroll(0, 1, 0).End();  // E1 again, "pi" connected: "pi-2"
  b.Api(ApproveFrame(60, "pi-2")).End();
  b.HonestEnroll(0, 1, 0, kThenHello).End();
  Work(b);
  return b.Encode();
}

// Tokens: limits, revocation, use counts, expiry and forgetting.
std::string TokensSeed() {
  SeedBuilder b(Mode{.curve = true});
  b.Api(CreateTokenFrame(70, 3'600'000, 1, false))  // the longest TTL
      .Api(CreateTokenFrame(71, 3'600'001, 1, false))
      .Api(CreateTokenFrame(72, 0, 101, false))
      .Api(CreateTokenFrame(73, 1000, 0, true))
      .Api(CreateTokenFrame(74, 0, 0, false))  // a fifth usable one
      .Api(RequestFrame(75,
                        [](proto::ApiRequest& r) { r.mutable_list_tokens(); }))
      .End();
  b.Api(RevokeFrame(76, b.TokenId(0)))
      .Api(RevokeFrame(77, b.TokenId(0)))
      .Api(RevokeFrame(78, "aaaaaaaa"))
      .End();
  b.HonestEnroll(0, 0, 0)                 // revoked
      .HonestEnroll(1, 2, 1, kThenHello)  // the one-use token
      .HonestEnroll(2, 2, 1)              // used up
      .HonestEnroll(3, 3, 0, kRevokeFirst)
      .End(100);
  for (int i = 0; i < 3; ++i) b.End(255);  // ended tokens are forgotten
  b.Api(CreateTokenFrame(79, 0, 0, false))
      .Api(RequestFrame(80,
                        [](proto::ApiRequest& r) { r.mutable_list_tokens(); }))
      .End();
  b.HonestEnroll(3, 3, 2).End();
  return b.Encode();
}

// Without CURVE there is no enrollment: token requests are refused and
// the enroll socket does not exist.
std::string NoEnrollSeed() {
  SeedBuilder b;
  b.Api(CreateTokenFrame(90, 0, 0, false))
      .Api(RequestFrame(91,
                        [](proto::ApiRequest& r) { r.mutable_list_tokens(); }))
      .Api(ApproveFrame(92, "pi"))
      .Frames(Op::kEnroll, {"\x01r", "\x08\x01"})
      .HonestEnroll(0, 0, 0)
      .End();
  return b.Encode();
}

}  // namespace

std::map<std::string, std::string> MakeSeeds() {
  return {
      {"api", Api()},
      {"curve", Curve()},
      {"curve_results", Results(Mode{.curve = true})},
      {"enroll", EnrollSeed()},
      {"enroll_pending", PendingSeed()},
      {"enroll_reimage", ReimageSeed()},
      {"enroll_reject", RejectSeed()},
      {"enroll_tokens", TokensSeed()},
      {"malformed", Malformed()},
      {"many_jobs", ManyJobs()},
      {"membership", Membership()},
      {"no_enroll", NoEnrollSeed()},
      {"operator_keys", OperatorKeys()},
      {"results", Results(Mode{})},
      {"spoiled", Spoiled()},
  };
}

absl::Status WriteSeeds(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", dir, ": ", error.message()));
  }
  for (const auto& [name, bytes] : MakeSeeds()) {
    const std::string path = absl::StrCat(dir, "/", name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out)
      return absl::FailedPreconditionError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace quark::fuzz
