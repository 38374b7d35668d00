#include "common/rate.h"

#include "gtest/gtest.h"

namespace quark {
namespace {

TEST(RateEstimateTest, UnknownUntilTheFirstMeasurementWhichIsTakenAsItIs) {
  RateEstimate rate;
  EXPECT_FALSE(rate.known());
  EXPECT_EQ(rate.value(), 0);
  rate.Add(1000, 2);
  EXPECT_TRUE(rate.known());
  EXPECT_EQ(rate.value(), 500);
}

TEST(RateEstimateTest, EachNewMeasurementWeighsHalf) {
  RateEstimate rate;
  rate.Add(100, 1);  // 100/s
  rate.Add(300, 1);  // 300/s: halfway
  EXPECT_EQ(rate.value(), 200);
  rate.Add(0, 1);  // a stall pulls it down by half, not to 0
  EXPECT_EQ(rate.value(), 100);
}

TEST(RateEstimateTest, AMeasurementOfNoTimeCountsAsTheShortestOne) {
  RateEstimate rate;
  rate.Add(1, 0);
  EXPECT_EQ(rate.value(), 1 / RateEstimate::kMinSeconds);
  RateEstimate negative;
  negative.Add(1, -5);  // a clock stepped back
  EXPECT_EQ(negative.value(), 1 / RateEstimate::kMinSeconds);
}

TEST(WindowRateTest, SlopeOverTheLastWindowOnceItSpansEnough) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  WindowRate rate(absl::Minutes(1), absl::Seconds(2));
  EXPECT_EQ(rate.rate(), std::nullopt);
  rate.Add(t0, 0);
  rate.Add(t0 + absl::Seconds(1), 100);
  EXPECT_EQ(rate.rate(), std::nullopt);  // 1 s is too short to tell
  rate.Add(t0 + absl::Seconds(2), 200);
  EXPECT_EQ(rate.rate(), 100);
  // Two minutes later at 10/s: the first minute has left the window.
  for (int s = 3; s <= 120; ++s)
    rate.Add(t0 + absl::Seconds(s), 200 + 10 * (s - 2));
  EXPECT_DOUBLE_EQ(*rate.rate(), 10);
}

TEST(WindowRateTest, AStallShowsAndATotalGoingBackIsNoNegativeRate) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  WindowRate rate(absl::Seconds(10), absl::Seconds(2));
  for (int s = 0; s <= 20; ++s) rate.Add(t0 + absl::Seconds(s), 50);
  EXPECT_EQ(rate.rate(), 0);
  rate.Add(t0 + absl::Seconds(21), 0);  // e.g. a job restarted
  EXPECT_EQ(rate.rate(), 0);
}

}  // namespace
}  // namespace quark
