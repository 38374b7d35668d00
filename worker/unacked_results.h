// The results a worker has pushed and the controller has not acknowledged
// yet (docs/protocol.md, "Ack"), oldest first, each with the time it was
// last pushed. Delivery is at-least-once: a result stays here until an Ack
// names its lease, and is pushed again when it is due.
//
// Bounded: adding beyond `capacity` drops the oldest results. Operations
// are linear in the number kept, which credit-based flow control keeps
// small. Pure: no clock, no socket. Not thread-safe.
#ifndef QUARK_WORKER_UNACKED_RESULTS_H_
#define QUARK_WORKER_UNACKED_RESULTS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "absl/time/time.h"
#include "proto/quark.pb.h"

namespace quark {

class UnackedResults {
 public:
  // A capacity of 0 keeps nothing.
  explicit UnackedResults(size_t capacity) : capacity_(capacity) {}

  // Keeps `result`, pushed at `now`, replacing one of the same lease.
  // Returns the results dropped to stay within the capacity, oldest first.
  std::vector<proto::ResultMsg> Add(proto::ResultMsg result, absl::Time now);

  // Forgets the result of `lease`; false when none is kept.
  bool Ack(uint64_t lease);

  // The results last pushed at or before `pushed_by`, oldest first, with
  // their session set to `session`; they count as pushed at `now`.
  std::vector<proto::ResultMsg> Repush(absl::Time pushed_by, uint64_t session,
                                       absl::Time now);

  // The earliest time a result has waited `wait` since its last push;
  // InfiniteFuture when none is kept.
  absl::Time NextDue(absl::Duration wait) const;

  size_t size() const { return kept_.size(); }
  bool empty() const { return kept_.empty(); }

 private:
  struct Kept {
    proto::ResultMsg result;
    absl::Time last_push;
  };

  const size_t capacity_;
  std::deque<Kept> kept_;  // in the order first pushed
};

}  // namespace quark

#endif  // QUARK_WORKER_UNACKED_RESULTS_H_
