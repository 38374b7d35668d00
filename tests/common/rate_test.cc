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

}  // namespace
}  // namespace quark
