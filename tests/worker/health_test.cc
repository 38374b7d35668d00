#include "worker/health.h"

#include <string>

#include "common/health.h"
#include "gtest/gtest.h"
#include "tests/testutil/fake_tree.h"

namespace quark {
namespace {

constexpr char kThrottledFile[] =
    "sys/devices/platform/soc/soc:firmware/get_throttled";

HealthSources In(const testutil::FakeTree& tree) {
  return {tree.Dir("sys"), tree.Dir("proc"), tree.Dir("cgroup")};
}

TEST(HealthTest, AMachineWithoutTheFilesReportsNothing) {
  testutil::FakeTree tree;
  const proto::Health health = ReadHealth(In(tree));
  EXPECT_FALSE(health.has_temperature_celsius());
  EXPECT_FALSE(health.has_throttled_bits());
  EXPECT_FALSE(health.has_memory_available_bytes());
  EXPECT_FALSE(health.has_load1());
}

TEST(HealthTest, APiUnderVoltageAndThrottled) {
  testutil::FakeTree tree;
  tree.Write("sys/class/thermal/thermal_zone0/temp", "71540\n");
  tree.Write("sys/class/thermal/thermal_zone0/type", "cpu-thermal\n");
  tree.Write(kThrottledFile, "50005\n");  // as the Pi's kernel prints it
  tree.Write("proc/meminfo",
             "MemTotal:        3884096 kB\nMemAvailable:    2048000 kB\n");
  tree.Write("proc/loadavg", "1.52 0.98 0.40 3/211 1234\n");
  const proto::Health health = ReadHealth(In(tree));
  EXPECT_DOUBLE_EQ(health.temperature_celsius(), 71.54);
  EXPECT_EQ(health.throttled_bits(), 0x50005u);
  EXPECT_TRUE(UnderVoltageNow(health.throttled_bits()));
  EXPECT_TRUE(ThrottledNow(health.throttled_bits()));
  EXPECT_EQ(SinceBoot(health.throttled_bits()), kUnderVoltage | kThrottled);
  EXPECT_EQ(health.memory_available_bytes(), 2048000u * 1024);
  EXPECT_DOUBLE_EQ(health.load1(), 1.52);
}

TEST(HealthTest, TheHottestZoneThatReads) {
  testutil::FakeTree tree;
  tree.Write("sys/class/thermal/thermal_zone0/temp", "45000\n");
  tree.Write("sys/class/thermal/thermal_zone1/temp", "58250\n");
  tree.Write("sys/class/thermal/thermal_zone2/temp", "error\n");
  tree.Write("sys/class/thermal/thermal_zone3/temp", "999999999\n");
  tree.Write("sys/class/thermal/cooling_device0/cur_state", "99000\n");
  EXPECT_DOUBLE_EQ(ReadHealth(In(tree)).temperature_celsius(), 58.25);
}

TEST(HealthTest, ThrottledBitsWithOrWithoutTheirPrefix) {
  testutil::FakeTree tree;
  tree.Write(kThrottledFile, "0x0\n");  // as vcgencmd prints it
  EXPECT_EQ(ReadHealth(In(tree)).throttled_bits(), 0u);
  EXPECT_TRUE(ReadHealth(In(tree)).has_throttled_bits());
  tree.Write(kThrottledFile, "0X8\n");
  EXPECT_EQ(ReadHealth(In(tree)).throttled_bits(), kSoftTemperatureLimit);
  for (const char* bad : {"", "0x", "zz\n", "-1\n", "123456789abc\n"}) {
    tree.Write(kThrottledFile, bad);
    EXPECT_FALSE(ReadHealth(In(tree)).has_throttled_bits()) << bad;
  }
}

TEST(HealthWordsTest, NamesEachCondition) {
  EXPECT_EQ(HealthWords(0), "ok");
  EXPECT_EQ(HealthWords(0x50005 & kNowBits), "under-voltage,throttled");
  EXPECT_EQ(HealthWords(kFrequencyCapped | kSoftTemperatureLimit),
            "capped,soft-temp-limit");
}

}  // namespace
}  // namespace quark
