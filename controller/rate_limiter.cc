#include "controller/rate_limiter.h"

#include <algorithm>

namespace quark {

double RateLimiter::Refilled(const Bucket& bucket, absl::Time now) const {
  const double earned = absl::FDivDuration(
      std::max(now - bucket.last, absl::ZeroDuration()), interval_);
  return std::min<double>(burst_, bucket.tokens + earned);
}

bool RateLimiter::Allow(const std::string& peer, absl::Time now) {
  auto it = buckets_.find(peer);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_peers_) Shrink(now);
    it = buckets_.emplace(peer, Bucket{static_cast<double>(burst_), now}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens = Refilled(bucket, now);
  bucket.last = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

void RateLimiter::Shrink(absl::Time now) {
  absl::erase_if(buckets_, [&](const auto& entry) {
    return Refilled(entry.second, now) >= burst_;
  });
  if (buckets_.size() >= max_peers_) buckets_.clear();
}

}  // namespace quark
