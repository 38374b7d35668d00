// Everything the controller receives, decoded, checked and applied, with
// no socket in sight: frame counts, parsing, who the peer is (with CURVE,
// the name its key is authorized as), then the scheduler and the API. What
// that produces waits here until the server has committed the scheduler's
// changes (the write-ahead rule, server.h) and calls TakeOutput().
//
// The server (server.cc) feeds it what its sockets read; the fuzzer
// (fuzz/controller_inbound_fuzz) feeds it fuzzed frames. Both thus run the
// same code: nothing about inbound validation lives in the server.
//
//   control ROUTER  [route, ControlMsg]
//   collector PULL  [ResultMsg]
//   api ROUTER      [route, ApiRequest]
//   enroll ROUTER   [route, EnrollRequest]   (with CURVE only)
//
// With CURVE a message's Peer carries the key its connection authenticated
// with (the ZAP User-Id, controller/auth.h). The scheduler knows a node by
// the name that key is authorized as; the ROUTER knows it by a routing id
// libzmq chose. A node's route is the one its last authenticated message
// came on. Without CURVE the two are the same: the worker sets its routing
// id to its name.
//
// Not thread-safe; one per server.
#ifndef QUARK_CONTROLLER_INBOUND_H_
#define QUARK_CONTROLLER_INBOUND_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "controller/api.h"
#include "controller/enrollment.h"
#include "controller/key_directory.h"
#include "controller/rate_limiter.h"
#include "controller/scheduler.h"
#include "controller/store.h"

namespace quark {

// A control message for the connection whose ROUTER routing id is
// `route` (the scheduler's Outbound, addressed to a node, resolved).
struct ControlOutbound {
  std::string route;
  proto::ControlMsg msg;
};
// Messages to send, in this order, once the changes behind them are on
// disk.
struct EnrollOutbound {
  std::string route;
  proto::EnrollReply reply;
};
struct InboundOutput {
  std::vector<ControlOutbound> control;
  std::vector<ApiOutbound> api;
  std::vector<EnrollOutbound> enroll;
  bool empty() const {
    return control.empty() && api.empty() && enroll.empty();
  }
};

// Enrollment requests are small; anything bigger is refused unread.
inline constexpr int64_t kMaxEnrollBytes = 4096;

class Inbound {
 public:
  // `keys` is nullptr without CURVE; with it, `operator_keys` says whether
  // the API authenticates operators too. Both pointers must outlive this.
  Inbound(Scheduler* scheduler, Api* api, const KeyDirectory* keys,
          bool operator_keys);

  // Takes enrollment requests into `enrollment` (which must outlive this);
  // without it, OnEnroll drops everything.
  void SetEnrollment(Enrollment* enrollment) { enrollment_ = enrollment; }

  void OnControl(const std::vector<absl::string_view>& frames, const Peer& peer,
                 absl::Time now);
  void OnResult(const std::vector<absl::string_view>& frames, const Peer& peer,
                absl::Time now);
  void OnApi(const std::vector<absl::string_view>& frames, const Peer& peer,
             absl::Time now);
  // A node asking to enroll with a join token: answered once the change
  // it makes is committed, like everything else. At most a few requests a
  // second from one address; the rest are dropped unanswered.
  void OnEnroll(const std::vector<absl::string_view>& frames, const Peer& peer,
                absl::Time now);

  // Time passes: the scheduler's tick (when `tick`) and the API's parked
  // watches.
  void OnTime(absl::Time now, bool tick);

  // primecount's count for a job (controller/cross_check.h); none when it
  // could not count.
  void OnCrossCheck(uint64_t job, std::optional<uint64_t> count,
                    absl::Time now);

  // The key directory changed (a reload): nodes whose key is no longer
  // authorized as their name are evicted, their work requeued, and they
  // are told why.
  void OnKeysChanged(absl::Time now);

  // The end of every step of the controller, the rule its durability rests
  // on: the scheduler's and the enrollment's changes go to `store` in one
  // commit, and only then is what the step produced handed out, to be
  // sent. A failed commit returns its error and nothing to send: the
  // controller stops, and a restart on the same disk has lost nothing that
  // anyone was told. The server, the fuzzer and the tests all end a step
  // here. `observe`, when given, sees the batch and the output before the
  // commit (the fuzzer checks them against the store as it was).
  using StepObserver =
      std::function<void(const StoreBatch&, const InboundOutput&)>;
  absl::StatusOr<InboundOutput> Commit(Store& store,
                                       const StepObserver& observe = nullptr);

  // Messages refused here: bad frames, unauthorized keys, forged names.
  // The scheduler counts those it refuses itself (Scheduler::rejected).
  uint64_t refused() const { return refused_; }

 private:
  // With CURVE: the node `peer`'s key is authorized as; nullptr (and the
  // peer told) when it is not.
  const std::string* AuthorizedName(const std::string& route, const Peer& peer);
  // `rejected`: the operator's decision, for good (Reject.rejected).
  void RejectPeer(const std::string& route, const std::string& reason,
                  bool rejected = false);
  void Queue(std::vector<Outbound> out);
  const std::string* RouteOf(const std::string& node) const;
  // What the step produced, addressed to routes.
  InboundOutput TakeOutput();
  void RefuseEnroll(const std::string& route, const Peer& peer,
                    const std::string& reason);

  // What Enrollment needs to know of names: authorized_workers and the
  // registered nodes.
  class Names : public NodeNames {
   public:
    Names(const KeyDirectory* keys, const Scheduler* scheduler)
        : keys_(keys), scheduler_(scheduler) {}
    bool Listed(const std::string& name) const override {
      return keys_ != nullptr && keys_->ListsWorker(name);
    }
    bool Connected(const std::string& name) const override {
      return scheduler_->HasNode(name);
    }

   private:
    const KeyDirectory* keys_;
    const Scheduler* scheduler_;
  };

  Scheduler* const scheduler_;
  Api* const api_;
  const KeyDirectory* const keys_;
  const bool operator_keys_;

  std::map<std::string, std::string> routes_;     // node -> routing id
  std::map<std::string, std::string> node_keys_;  // node -> key (Z85)
  std::vector<Outbound> control_out_;             // to nodes, by name
  std::vector<ControlOutbound> rejects_out_;      // to connections not admitted
  std::vector<ApiOutbound> api_out_;
  Enrollment* enrollment_ = nullptr;
  std::vector<EnrollOutbound> enroll_out_;
  RateLimiter enroll_requests_{10, absl::Seconds(1)};
  uint64_t enroll_limited_ = 0;  // dropped by the limiter, not yet logged
  std::string enroll_limited_address_;  // the last one's
  absl::Time enroll_limited_logged_ = absl::InfinitePast();
  std::map<std::string, std::vector<uint64_t>> acks_;  // by node name
  uint64_t refused_ = 0;
};

}  // namespace quark

#endif  // QUARK_CONTROLLER_INBOUND_H_
