// Drives the controller's inbound path with fuzzed messages, the way
// controller/server.cc does, minus the sockets, the clock and the disk:
//
//   control ROUTER  [route, ControlMsg]  frame count, (CURVE: the key's
//                                        node), ParseFrame, (CURVE: Hello
//                                        under that name), OnControl
//   collector PULL  [ResultMsg]          frame count, ParseFrame (dropped,
//                                        no ack, when it fails), (CURVE: the
//                                        key's node is the sender's),
//                                        Scheduler::OnResult, the ack
//   api ROUTER      [route, ApiRequest]  frame count, ParseFrame (an error
//                                        reply when it fails), Api::Handle
//   end of a loop iteration              Scheduler::OnTick when due,
//                                        Api::Poll, Flush: the scheduler's
//                                        changes to a MemoryStore, then the
//                                        queued messages "sent"
//   SIGHUP (CURVE)                       allowlist reloaded, nodes whose
//                                        key went are evicted
//
// With CURVE the ZAP handshake itself is not driven (it needs sockets):
// a control message's routing id stands for the key its connection
// authenticated with, and a collector message carries its key as an
// extra first frame. authorized_workers is modelled as kKeys ("K1" is
// n1's key, ...), less the keys revoked by kReload steps. Operator keys
// (authorized_operators) are not modelled: the API runs as without them.
//
// It starts from a fixture (nodes "n1" and "n2" registered with two
// credits each, a COUNT job [0, 9999] with four tasks leased, a TWINS job
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
//  - a job that ends DONE, over a range small enough to sieve here, and
//    whose accepted results all carried the right partial, has the right
//    answer (exactly-once merging, whatever the order, duplicates,
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
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "controller/api.h"
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

// The CURVE model's authorized_workers: key -> node name.
inline constexpr std::pair<const char*, const char*> kKeys[] = {
    {"K1", "n1"}, {"K2", "n2"}, {"K3", "n3"}};

// An Assign as a worker received it.
struct SentAssign {
  std::string route;
  proto::Assign assign;
};

class InboundDriver {
 public:
  // Runs the fixture, on a controller with CURVE or without.
  explicit InboundDriver(bool curve);

  void Run(const Step& step);

  // Ends the last loop iteration and checks that the stored state
  // restores to the same jobs.
  void Finish();

  // What the peers were sent so far (assignments: the most recent 64).
  const std::vector<SentAssign>& assigns() const { return assigns_; }
  // Sessions and assignments are known by the scheduler's name of a
  // node: its routing id without CURVE, its authorized name with.
  uint64_t SessionOf(const std::string& node) const;

  // The routing id a peer named `node` sends from: with CURVE its key.
  std::string RouteOf(const std::string& node) const;

  // The partial a correct worker computes for [lo, hi] (libprimesieve);
  // only for ranges of at most kMaxSievedNumbers.
  static constexpr uint64_t kMaxSievedNumbers = 1 << 16;
  static proto::Partial Reference(uint64_t lo, uint64_t hi);

 private:
  void Control(const std::vector<std::string>& frames);
  void Collector(const std::vector<std::string>& frames);
  void HandleApi(const std::vector<std::string>& frames);
  void EndIteration(absl::Duration elapsed);
  void HonestResult(uint8_t which, uint8_t flags);
  void Reload(uint8_t which);
  const std::string* NameOf(const std::string& key) const;
  const std::string* AuthenticatedNode(const std::string& route);
  void RejectPeer(const std::string& route, const std::string& reason);
  void Flush();
  void Observe(const Outbound& sent);
  void CheckResult(const proto::ResultMsg& result, const absl::Status& status);
  void CheckRestore();

  const bool curve_;
  Scheduler scheduler_;
  Api api_;
  MemoryStore store_;
  absl::Time now_;
  absl::Time next_tick_;

  // Waiting for the next Flush(), as in Server.
  std::vector<Outbound> control_out_;
  std::vector<Outbound> rejects_out_;
  std::vector<ApiOutbound> api_out_;
  std::map<std::string, std::vector<uint64_t>> acks_;

  // CURVE, as in Server: node -> routing id, node -> key; revoked names.
  std::map<std::string, std::string> routes_, node_keys_;
  std::set<std::string> revoked_;

  std::vector<SentAssign> assigns_;
  std::map<std::string, uint64_t> sessions_;  // node -> last Welcome's
  std::map<uint64_t, uint64_t> granted_;      // session -> credits in Readys
  std::set<uint64_t> tainted_jobs_;  // accepted a result with a wrong partial
  std::set<uint64_t> checked_jobs_;
};

}  // namespace quark::fuzz

#endif  // QUARK_FUZZ_INBOUND_DRIVER_H_
