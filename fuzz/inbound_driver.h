// Drives the controller's inbound path (controller/inbound.h, the code the
// server runs on what its sockets read) with fuzzed messages, and the
// server loop around it (controller/server.cc) minus the sockets, the clock
// and the disk:
//
//   control ROUTER  [route, ControlMsg]   Inbound::OnControl
//   collector PULL  [ResultMsg]           Inbound::OnResult
//   api ROUTER      [route, ApiRequest]   Inbound::OnApi
//   end of a loop iteration               Inbound::OnTime (a tick when
//                                         due), then Flush: the scheduler's
//                                         changes to a MemoryStore, then
//                                         Inbound::TakeOutput "sent"
//   SIGHUP (CURVE)                        a key revoked or restored, then
//                                         Inbound::OnKeysChanged
//
// With CURVE the handshake itself is not driven (it needs sockets): a
// step of two frames or more carries in its first frame the key its
// connection authenticated with (libzmq's User-Id, Peer::key). FuzzKeys
// is the allowlists: workers "K1" (n1), "K2" (n2), "K3" (n3), operator
// "O1" (ann) when operator keys are on.
//
// It starts from a fixture (nodes n1 and n2 registered with two credits
// each, a COUNT job [0, 9999] with four tasks leased, a TWINS job
// [1e6, 1.02e6] queued behind it), so that results and heartbeats of
// fuzzed sessions and leases reach deep code. The options are small (8
// finished jobs kept, 8 credits, 4 parked watches) so that the limits are
// reached too.
//
// Invariants, checked as it goes (a broken one prints what and aborts, so
// libFuzzer keeps the input):
//  - every API reply carries the protocol version, and Handle's the
//    request id;
//  - no node holds more leases than the credits its session was sent
//    (Ready), whether the scheduler took them or not;
//  - a job that ends DONE, over a range small enough to sieve here, for
//    which every result that arrived carried the right partial, has the
//    right answer (exactly-once merging, whatever the order, duplicates,
//    requeues and failures);
//  - Finish(): what the scheduler stored restores (Scheduler::Restore) to
//    the same jobs: state, result, error, counters and progress.
//
// Not thread-safe; one per fuzz input.
#ifndef QUARK_FUZZ_INBOUND_DRIVER_H_
#define QUARK_FUZZ_INBOUND_DRIVER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controller/api.h"
#include "controller/inbound.h"
#include "controller/scheduler.h"
#include "fuzz/inbound_input.h"
#include "fuzz/memory_store.h"
#include "proto/quark.pb.h"

namespace quark::fuzz {

// Flags of an Op::kHonestResult step: how the result of a remembered
// assignment departs from what a correct worker sends.
enum HonestFlags : uint8_t {
  kFailed = 1,        // ResultMsg.error set: the task failed on the worker
  kOtherSession = 2,  // sent under a session one past the worker's
  kThenReady = 4,     // followed by Ready{1 credit}, as a worker does
  kWrongRange = 8,    // range hi one past the task's
};

// The allowlists of the CURVE model; a reload toggles one key.
class FuzzKeys : public KeyDirectory {
 public:
  const std::string* NameOf(const std::string& domain,
                            const std::string& key) const override;
  // Revokes the `which`-th key (of K1, K2, K3, O1), or restores it.
  void Toggle(uint8_t which);
  // The worker key of `node` ("" if none).
  static std::string KeyOf(const std::string& node);

 private:
  std::set<std::string> revoked_;
};

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

  // The partial a correct worker computes for [lo, hi] (libprimesieve);
  // only for ranges of at most kMaxSievedNumbers.
  static constexpr uint64_t kMaxSievedNumbers = 1 << 16;
  static proto::Partial Reference(uint64_t lo, uint64_t hi);

 private:
  // `frames` as the socket delivered them (with CURVE, after the key).
  void Deliver(Op op, const std::vector<std::string>& frames);
  void EndIteration(absl::Duration elapsed);
  void HonestResult(uint8_t which, uint8_t flags);
  void Flush();
  void Observe(const Outbound& sent);
  void CheckResult(absl::string_view frame);
  void CheckRestore();

  const Mode mode_;
  FuzzKeys keys_;
  Scheduler scheduler_;
  Api api_;
  Inbound inbound_;
  MemoryStore store_;
  absl::Time now_;
  absl::Time next_tick_;

  std::vector<SentAssign> assigns_;
  std::map<std::string, uint64_t> sessions_;        // route -> Welcome's
  std::map<std::string, std::string> route_names_;  // CURVE: route -> node
  std::map<uint64_t, uint64_t> granted_;  // session -> credits in Readys
  std::map<std::string, std::set<uint64_t>> request_ids_;  // route -> sent
  std::set<uint64_t> tainted_jobs_;  // a result with a wrong partial came
  std::set<uint64_t> checked_jobs_;
};

}  // namespace quark::fuzz

#endif  // QUARK_FUZZ_INBOUND_DRIVER_H_
