// A Pi's health as its worker reads it from sysfs (here a fake tree: 71.5 C,
// under-voltage and throttled) reaches `quark nodes` and its JSON, and marks
// the results computed meanwhile; the answer stays exact.
#include <string>

#include "gtest/gtest.h"
#include "tests/integration/cluster_test.h"
#include "tests/testutil/fake_tree.h"

namespace quark::integration {
namespace {

constexpr char kThrottledFile[] =
    "sys/devices/platform/soc/soc:firmware/get_throttled";

TEST_F(ClusterTest, APisTemperatureAndUnderVoltageReachTheOperator) {
  testutil::FakeTree pi;
  pi.Write("sys/class/thermal/thermal_zone0/temp", "71500\n");
  pi.Write(kThrottledFile, "50005\n");  // under-voltage, throttled: now, ever
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK(
      cluster().StartWorker("pi", {"--sysfs_root=" + pi.Dir("sys")}).status());
  ASSERT_OK_AND_ASSIGN(
      proto::Node node,
      cluster().WaitForNode(
          "pi",
          [](const proto::Node& n) { return n.has_temperature_celsius(); },
          DeadlineIn(20s)));
  EXPECT_EQ(node.temperature_celsius(), 71.5);
  EXPECT_TRUE(node.under_voltage());
  EXPECT_TRUE(node.throttled());
  EXPECT_EQ(node.throttled_bits(), 0x50005u);
  EXPECT_GT(node.memory_available_bytes(), 0u);  // this machine's /proc

  const CliResult table = cluster().RunCli({"nodes"});
  ASSERT_EQ(table.exit_code, 0) << table.ToString();
  EXPECT_NE(table.out.find("71.5C  under-voltage,throttled"), std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("; now 1 under-voltage, 1 throttled"),
            std::string::npos)
      << table.out;
  const CliResult json = cluster().RunCli({"--json", "nodes"});
  EXPECT_NE(json.out.find("\"temperature_celsius\":71.5"), std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find("\"under_voltage\":true"), std::string::npos);
  EXPECT_NE(json.out.find("\"throttled\":true"), std::string::npos);

  // Every task ran throttled: each result says so, and the answer is
  // exact all the same.
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().SubmitAndWait(proto::COUNT, 0, 2e9, 60s));
  EXPECT_TRUE(MatchesReference(job, proto::COUNT, 0, 2e9));
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  ASSERT_EQ(nodes.nodes_size(), 1);
  EXPECT_GT(nodes.nodes(0).tasks_done(), 0u);
  EXPECT_EQ(nodes.nodes(0).tasks_throttled(), nodes.nodes(0).tasks_done());

  // The power supply is fixed: only the since-boot bits stay.
  pi.Write(kThrottledFile, "50000\n");
  ASSERT_OK(cluster()
                .WaitForNode(
                    "pi",
                    [](const proto::Node& n) {
                      return !n.under_voltage() && !n.throttled();
                    },
                    DeadlineIn(10s))
                .status());
  const CliResult after = cluster().RunCli({"nodes"});
  EXPECT_NE(after.out.find("ok (was under-voltage,throttled)"),
            std::string::npos)
      << after.out;
}

}  // namespace
}  // namespace quark::integration
