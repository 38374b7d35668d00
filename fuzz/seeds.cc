#include "fuzz/seeds.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/transport.h"
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
    return ControlFrom(FuzzKeys::KeyOf(node), driver_.RouteOf(node), body);
  }
  // From routing id `route`, on a connection with `key` (with CURVE).
  SeedBuilder& ControlFrom(const std::string& key, const std::string& route,
                           const std::string& body) {
    return Add({Op::kControl, driver_.StepFrames(key, {route, body})});
  }
  // A result pushed by `node` (with CURVE, under its key).
  SeedBuilder& Result(const std::string& node, const std::string& body) {
    return Add(
        {Op::kCollector, driver_.StepFrames(FuzzKeys::KeyOf(node), {body})});
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
      InboundDriver::Reference(a.range().lo(), a.range().hi());
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
      .Control("n1", HeartbeatFrame(b.Session("n1"), 2))
      .Control("n2", HeartbeatFrame(b.Session("n2"), 2))
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
  b.Api(HelloFrame("cli", 1));             // not an ApiRequest
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
      .Control("n2", HeartbeatFrame(b.Session("n1"), 0))  // someone else's
      .Control("n9", HeartbeatFrame(12345, 0))
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
    b.Api(SubmitFrame(100 + i, static_cast<proto::Kind>(1 + i % 4), i * 1000,
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
  b.Control("n1", HeartbeatFrame(b.Session("n1"), 0));
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

}  // namespace

std::map<std::string, std::string> MakeSeeds() {
  return {
      {"api", Api()},
      {"curve", Curve()},
      {"curve_results", Results(Mode{.curve = true})},
      {"malformed", Malformed()},
      {"many_jobs", ManyJobs()},
      {"membership", Membership()},
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
