#include "worker/unacked_results.h"

#include <algorithm>
#include <utility>

namespace quark {

std::vector<proto::ResultMsg> UnackedResults::Add(proto::ResultMsg result,
                                                  absl::Time now) {
  Ack(result.lease());
  kept_.push_back(Kept{std::move(result), now});
  std::vector<proto::ResultMsg> dropped;
  while (kept_.size() > capacity_) {
    dropped.push_back(std::move(kept_.front().result));
    kept_.pop_front();
  }
  return dropped;
}

bool UnackedResults::Ack(uint64_t lease) {
  auto it = std::find_if(kept_.begin(), kept_.end(), [&](const Kept& k) {
    return k.result.lease() == lease;
  });
  if (it == kept_.end()) return false;
  kept_.erase(it);
  return true;
}

std::vector<proto::ResultMsg> UnackedResults::Repush(absl::Time pushed_by,
                                                     uint64_t session,
                                                     absl::Time now) {
  std::vector<proto::ResultMsg> due;
  for (Kept& k : kept_) {
    if (k.last_push > pushed_by) continue;
    k.result.set_session(session);
    k.last_push = now;
    due.push_back(k.result);
  }
  return due;
}

absl::Time UnackedResults::NextDue(absl::Duration wait) const {
  absl::Time next = absl::InfiniteFuture();
  for (const Kept& k : kept_) next = std::min(next, k.last_push + wait);
  return next;
}

}  // namespace quark
