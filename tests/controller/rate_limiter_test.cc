#include "controller/rate_limiter.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'000'000);

TEST(RateLimiterTest, ABurstThenOnePerInterval) {
  RateLimiter limiter(3, absl::Seconds(1));
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(limiter.Allow("10.0.0.1", kStart)) << i;
  EXPECT_FALSE(limiter.Allow("10.0.0.1", kStart));
  EXPECT_FALSE(limiter.Allow("10.0.0.1", kStart + absl::Milliseconds(900)));
  EXPECT_TRUE(limiter.Allow("10.0.0.1", kStart + absl::Milliseconds(1000)));
  EXPECT_FALSE(limiter.Allow("10.0.0.1", kStart + absl::Milliseconds(1500)));
  // Quiet for long: the burst is back, and no more than it.
  const absl::Time later = kStart + absl::Hours(1);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(limiter.Allow("10.0.0.1", later)) << i;
  EXPECT_FALSE(limiter.Allow("10.0.0.1", later));
}

TEST(RateLimiterTest, PeersAreCountedApart) {
  RateLimiter limiter(1, absl::Seconds(10));
  EXPECT_TRUE(limiter.Allow("10.0.0.1", kStart));
  EXPECT_FALSE(limiter.Allow("10.0.0.1", kStart));
  EXPECT_TRUE(limiter.Allow("10.0.0.2", kStart));
}

TEST(RateLimiterTest, MemoryIsBounded) {
  RateLimiter limiter(2, absl::Seconds(1), /*max_peers=*/100);
  for (int i = 0; i < 10000; ++i) {
    limiter.Allow(absl::StrCat("10.0.", i / 256, ".", i % 256),
                  kStart + absl::Milliseconds(i));
    ASSERT_LE(limiter.peers(), 100u);
  }
  // A busy peer is still limited right after a sweep.
  RateLimiter busy(1, absl::Hours(1), /*max_peers=*/2);
  EXPECT_TRUE(busy.Allow("a", kStart));
  EXPECT_FALSE(busy.Allow("a", kStart));
  EXPECT_TRUE(busy.Allow("b", kStart));
  EXPECT_FALSE(busy.Allow("a", kStart));
}

}  // namespace
}  // namespace quark
