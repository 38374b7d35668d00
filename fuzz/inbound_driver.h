// Drives the controller's inbound path (controller/inbound.h, the code the
// server runs on what its sockets read) with fuzzed messages, and the
// server loop around it (controller/server.cc) minus the sockets, the clock
// and the disk:
//
//   control ROUTER  [route, ControlMsg]     Inbound::OnControl
//   collector PULL  [ResultMsg]             Inbound::OnResult
//   api ROUTER      [route, ApiRequest]     Inbound::OnApi
//   enroll ROUTER   [route, EnrollRequest]  Inbound::OnEnroll (CURVE)
//   end of a loop iteration                 Inbound::OnTime (a tick when
//                                           due), then Flush: the
//                                           scheduler's and the
//                                           enrollment's changes to a
//                                           MemoryStore, then
//                                           Inbound::TakeOutput "sent"
//   SIGHUP (CURVE)                          a key revoked or restored,
//                                           then Inbound::OnKeysChanged
//
// With CURVE the handshake itself is not driven (it needs sockets): a
// step of two frames or more carries in its first frame the key its
// connection authenticated with (libzmq's User-Id, Peer::key); "E1" to
// "E4" there stand for four real keys (fuzz/curve_keys.h), any other frame
// is the key as it is. FuzzKeys() makes the allowlists: workers "K1" (n1), "K2"
// (n2), "K3" (n3), operator "O1" (ann) when operator keys are on, and, as
// the Authenticator does, the keys the Enrollment lets in. The enroll
// handshake admits any key; a peer's address is its own for each of E1 to
// E4 (the enroll socket limits requests per address).
//
// It starts from a fixture (nodes n1 and n2 registered with two credits
// each, a COUNT job [0, 9999] with four tasks leased, a TWINS job
// [1e6, 1.02e6] queued behind it; with CURVE, two join tokens made through
// the API, one for 3 nodes and one for nodes that wait for approval,
// valid 30 s), so that results, heartbeats and enrollments reach deep
// code. The options are small (8 finished jobs kept, 8 credits, 4 parked
// watches, 4 usable tokens, 2 pending nodes, tokens forgotten 10 s after
// they end, TTLs up to an hour) so that the limits are reached too. Join
// tokens draw from a seeded random source, so an input runs the same way
// every time.
//
// Invariants, checked as it goes (a broken one prints what and aborts, so
// libFuzzer keeps the input):
//  - every API reply carries the protocol version, and Handle's the
//    request id;
//  - no node holds more leases than the credits its session was sent
//    (Ready), whether the scheduler took them or not;
//  - with CURVE, every registered node's key is let in as its name (a
//    revoked or rejected key's node was evicted), unless another key is
//    let in as that name too (see CheckKeys);
//  - a job that ends DONE, over a range small enough to sieve here, for
//    which every result that arrived carried the right partial, has the
//    right answer (exactly-once merging, whatever the order, duplicates,
//    requeues and failures);
//  - enrollment's (fuzz/enroll_checker.h): replies well-formed, a key
//    answered ACCEPTED let in until rejected or replaced, nothing APPROVED
//    without an ACCEPTED or an ApproveNode, nothing stored for a key only
//    refused, tokens that parse;
//  - Finish(): what the scheduler stored restores (Scheduler::Restore) to
//    the same jobs: state, result, error, counters and progress; and what
//    the enrollment stored to the same tokens and enrolled nodes.
//
// Not thread-safe; one per fuzz input.
#ifndef QUARK_FUZZ_INBOUND_DRIVER_H_
#define QUARK_FUZZ_INBOUND_DRIVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controller/api.h"
#include "controller/enrollment.h"
#include "controller/inbound.h"
#include "controller/scheduler.h"
#include "fuzz/enroll_checker.h"
#include "fuzz/inbound_input.h"
#include "proto/quark.pb.h"
#include "tests/testutil/fake_keys.h"
#include "tests/testutil/memory_store.h"

namespace quark::fuzz {

// Flags of an Op::kHonestResult step: how the result of a remembered
// assignment departs from what a correct worker sends.
enum HonestFlags : uint8_t {
  kFailed = 1,        // ResultMsg.error set: the task failed on the worker
  kOtherSession = 2,  // sent under a session one past the worker's
  kThenReady = 4,     // followed by Ready{1 credit}, as a worker does
  kWrongRange = 8,    // range hi one past the task's
};

// Flags of an Op::kHonestEnroll step: how the request departs from what a
// worker holding the token sends.
enum HonestEnrollFlags : uint8_t {
  kBadProof = 1,         // one bit of the proof flipped
  kOtherTokenId = 2,     // the next known token's id, this one's proof
  kBadName = 4,          // a name that is no node name
  kOtherVersion = 8,     // protocol version one past ours
  kOtherKeysProof = 16,  // the proof the next key would send (a replay)
  kRevokeFirst = 32,     // the operator revokes the token first
  kThenHello = 64,       // once ACCEPTED: Hello, then Ready{2}, on control
  kLongMachine = 128,    // a malformed machine identity (129 characters)
};

// The names an honest enrollment asks for (arg bits 4-5): a free one, one
// a second key may want too, one authorized_workers lists (n3), and the
// one a second "pi" gets.
inline constexpr const char* kEnrollNames[] = {"pi", "rpi", "n3", "pi-2"};

// The allowlists of the CURVE model (testutil::FakeKeys): workers K1 (n1),
// K2 (n2), K3 (n3), operator O1 (ann); a reload toggles one of these four.
inline constexpr const char* kToggledKeys[] = {"K1", "K2", "K3", "O1"};
testutil::FakeKeys FuzzKeys();

// An Assign as a worker received it, on the routing id `route`.
struct SentAssign {
  std::string route;
  proto::Assign assign;
};

class InboundDriver {
 public:
  // Runs the fixture, on a controller configured as `mode` says.
  explicit InboundDriver(Mode mode);

  void Run(const Step& step);

  // Ends the last loop iteration and checks that the stored state
  // restores to the same jobs.
  void Finish();

  // The routing id a worker named `node` connects with: its name without
  // CURVE (the worker sets it), one libzmq would choose with.
  std::string RouteOf(const std::string& node) const;
  // The frames of a step carrying `frames` from a peer with `key`: with
  // CURVE the key comes first.
  std::vector<std::string> StepFrames(const std::string& key,
                                      std::vector<std::string> frames) const;
  // The session last welcomed on `route`.
  uint64_t SessionOf(const std::string& route) const;
  // The assignments sent so far (the most recent 64).
  const std::vector<SentAssign>& assigns() const { return assigns_; }
  // With CURVE: the fixture's two join tokens, then the two made last.
  const std::vector<KnownToken>& tokens() const { return enroll_.tokens(); }

  // The partial a correct worker computes for a task of `kind` over
  // [lo, hi] (libprimesieve); only for ranges of at most kMaxSievedNumbers.
  static constexpr uint64_t kMaxSievedNumbers = 1 << 16;
  static proto::Partial Reference(proto::Kind kind, uint64_t lo, uint64_t hi);

 private:
  // `frames` as the socket delivered them (with CURVE, after the key).
  void Deliver(Op op, const std::vector<std::string>& frames);
  void EndIteration(absl::Duration elapsed);
  void HonestResult(uint8_t which, uint8_t flags);
  void HonestEnroll(uint8_t arg, uint8_t flags);
  void Flush();
  void Observe(const ControlOutbound& sent);
  void CheckResult(absl::string_view frame);
  void CheckRestore();
  void CheckKeys();

  const Mode mode_;
  testutil::FakeKeys keys_ = FuzzKeys();
  std::unique_ptr<Enrollment> enrollment_;  // with CURVE only
  Scheduler scheduler_;
  Api api_;
  Inbound inbound_;
  MemoryStore store_;
  EnrollChecker enroll_;
  absl::Time now_;
  absl::Time next_tick_;

  std::vector<SentAssign> assigns_;
  std::map<std::string, uint64_t> sessions_;        // route -> Welcome's
  std::map<std::string, std::string> route_names_;  // CURVE: route -> node
  std::map<std::string, std::string> route_keys_;   // CURVE: route -> key
  std::map<uint64_t, uint64_t> granted_;  // session -> credits in Readys
  std::map<std::string, std::set<uint64_t>> request_ids_;  // route -> sent
  std::set<uint64_t> tainted_jobs_;  // a result with a wrong partial came
  std::set<uint64_t> checked_jobs_;
};

}  // namespace quark::fuzz

#endif  // QUARK_FUZZ_INBOUND_DRIVER_H_
