// A token bucket per peer (by address): `burst` requests at once, then one
// each `interval`. For the enroll port, which any machine may reach: a
// peer that asks too often is refused without costing a signature check or
// a log line each time.
//
// Memory is bounded: past `max_peers`, buckets that have filled up again
// (their peer went quiet) are forgotten, and if that is not enough, all of
// them (a flood from that many addresses then starts afresh; it is still
// limited per address).
//
// Pure: `now` comes in with each call. Not thread-safe.
#ifndef QUARK_CONTROLLER_RATE_LIMITER_H_
#define QUARK_CONTROLLER_RATE_LIMITER_H_

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace quark {

class RateLimiter {
 public:
  RateLimiter(int burst, absl::Duration interval, size_t max_peers = 4096)
      : burst_(burst), interval_(interval), max_peers_(max_peers) {}

  // Whether a request from `peer` may go on now; counts it if so.
  bool Allow(const std::string& peer, absl::Time now);

  size_t peers() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time last;
  };
  double Refilled(const Bucket& bucket, absl::Time now) const;
  void Shrink(absl::Time now);

  const int burst_;
  const absl::Duration interval_;
  const size_t max_peers_;
  absl::flat_hash_map<std::string, Bucket> buckets_;
};

}  // namespace quark

#endif  // QUARK_CONTROLLER_RATE_LIMITER_H_
