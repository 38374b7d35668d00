// The controller's --http: GET /metrics parsed by Prometheus' own parser
// (Debian's python3-prometheus-client) carries the numbers of a known run,
// and garbage and a flood on the port leave the controller serving and the
// job exact.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/cluster_test.h"
#include "tests/integration/process.h"
#include "tests/testutil/fake_tree.h"

namespace quark::integration {
namespace {

// Fetches the URL, parses it with prometheus_client, and prints each
// sample as `name{k=v,...} value`, labels sorted.
constexpr char kParse[] = R"(
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
text = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
for family in text_string_to_metric_families(text):
    for s in family.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("%s{%s} %r" % (s.name, labels, s.value))
)";

// The samples of GET /metrics, by `name{labels}`; empty (with the reason
// in a failure) when it cannot be fetched or parsed.
std::map<std::string, double> Scrape(Cluster& cluster) {
  std::map<std::string, double> samples;
  const absl::StatusOr<std::string> text =
      RunToEnd("the Prometheus parser",
               {"/usr/bin/python3", "-c", kParse,
                absl::StrCat("http://", cluster.http_address(), "/metrics")},
               cluster.dir(), DeadlineIn(30s));
  if (!text.ok()) {
    ADD_FAILURE() << text.status();
    return samples;
  }
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    const size_t space = line.rfind(' ');
    double value = 0;
    if (space == absl::string_view::npos ||
        !absl::SimpleAtod(line.substr(space + 1), &value)) {
      continue;
    }
    samples[std::string(line.substr(0, space))] = value;
  }
  return samples;
}

// Raw bytes to HOST:PORT; what came back, up to 4 KiB.
std::string Poke(const std::string& address, const std::string& bytes) {
  const std::vector<std::string> parts = absl::StrSplit(address, ':');
  int port = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &port)) return "";
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    (void)!::write(fd, bytes.data(), bytes.size());
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) reply.assign(buffer, n);
  }
  ::close(fd);
  return reply;
}

TEST_F(ClusterTest, MetricsCarryTheNumbersOfAKnownRun) {
  testutil::FakeTree pi;
  pi.Write("sys/class/thermal/thermal_zone0/temp", "71500\n");
  pi.Write("sys/devices/platform/soc/soc:firmware/get_throttled", "50005\n");
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK(
      cluster().StartWorker("pi", {"--sysfs_root=" + pi.Dir("sys")}).status());
  // A machine with neither (an empty sysfs), wherever the test runs.
  testutil::FakeTree plain;
  ASSERT_OK(cluster()
                .StartWorker("plain", {"--sysfs_root=" + plain.Dir("sys")})
                .status());
  ASSERT_OK(cluster().WaitRegistered("pi", DeadlineIn(20s)));
  ASSERT_OK(cluster().WaitRegistered("plain", DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().SubmitAndWait(proto::COUNT, 0, 3e9, 60s));
  EXPECT_TRUE(MatchesReference(job, proto::COUNT, 0, 3e9));
  // Its times: the tasks' on the nodes, over the wall time.
  EXPECT_GT(job.started_ms(), 0u);
  EXPECT_GE(job.finished_ms(), job.started_ms());
  EXPECT_GT(job.task_seconds(), 0);
  EXPECT_GE(job.cpu_seconds(), job.task_seconds());
  EXPECT_GT(job.speedup(), 0);
  const CliResult shown = cluster().RunCli({"job", absl::StrCat(job.job_id())});
  EXPECT_TRUE(absl::StrContains(shown.out, "\nspeed-up: ")) << shown.out;
  EXPECT_TRUE(absl::StrContains(shown.out, "\ntask time: ")) << shown.out;
  ASSERT_OK_AND_ASSIGN(proto::NodeList nodes, cluster().Nodes());
  ASSERT_EQ(nodes.nodes_size(), 2);

  // The page is published about once a second: wait for one with the job.
  std::map<std::string, double> m;
  for (int i = 0; i < 30; ++i) {
    m = Scrape(cluster());
    if (m["quark_tasks_merged_total{}"] == job.tasks_done()) break;
    usleep(200000);
  }
  EXPECT_EQ(m["quark_tasks_merged_total{}"], job.tasks_done());
  EXPECT_EQ(m["quark_nodes{state=active}"], 2);
  EXPECT_EQ(m["quark_nodes{state=lost}"], 0);
  EXPECT_EQ(m["quark_jobs{state=done}"], 1);
  uint64_t numbers = 0, tasks = 0;
  for (const proto::Node& node : nodes.nodes()) {
    const std::string label = "{node=" + node.name() + "}";
    EXPECT_EQ(m["quark_node_tasks_done_total" + label], node.tasks_done())
        << node.name();
    numbers += m["quark_node_numbers_total" + label];
    tasks += m["quark_node_tasks_done_total" + label];
  }
  // [0, 3e9], every number merged once; the nodes sieved some twice: the
  // tasks verified (docs/security.md), each computed by two nodes.
  EXPECT_EQ(m["quark_numbers_merged_total{}"], 3e9 + 1);
  EXPECT_GE(numbers, 3e9 + 1);
  EXPECT_EQ(m["quark_tasks_verified_total{}"],
            job.verification().tasks_verified());
  EXPECT_EQ(m["quark_verification_disagreements_total{}"], 0);
  EXPECT_EQ(m["quark_suspect_nodes{}"], 0);
  EXPECT_EQ(tasks, job.tasks_done() + job.verification().tasks_verified());
  // pi is under-voltage: its every result was checked by plain.
  EXPECT_GE(job.verification().tasks_verified(),
            FindNode(nodes, "pi")->tasks_done() / 2);
  EXPECT_EQ(m["quark_node_temperature_celsius{node=pi}"], 71.5);
  EXPECT_EQ(m["quark_node_under_voltage{node=pi}"], 1);
  EXPECT_EQ(m["quark_node_throttled{node=pi}"], 1);
  EXPECT_EQ(m.count("quark_node_temperature_celsius{node=plain}"), 0u);
  EXPECT_EQ(m.count("quark_node_under_voltage{node=plain}"), 0u);
  EXPECT_GT(m["quark_node_memory_available_bytes{node=plain}"], 0);
  EXPECT_GT(m["quark_commit_seconds_count{}"], 0);
  EXPECT_GE(m["quark_ack_seconds_count{}"], job.tasks_done());
  EXPECT_EQ(m["quark_ack_seconds_bucket{le=+Inf}"],
            m["quark_ack_seconds_count{}"]);
}

// Every metric the Grafana dashboard (packaging/grafana) queries is one the
// controller serves, with a sample while a Pi works on a job; and the
// dashboard is JSON.
TEST_F(ClusterTest, TheDashboardQueriesOnlyMetricsTheControllerServes) {
  std::ifstream file(QUARK_DASHBOARD);
  std::stringstream text;
  text << file.rdbuf();
  const std::string dashboard = text.str();
  ASSERT_FALSE(dashboard.empty()) << QUARK_DASHBOARD;
  ASSERT_OK(RunToEnd("python3's JSON parser",
                     {"/usr/bin/python3", "-c",
                      "import json,sys; json.load(open(sys.argv[1]))",
                      QUARK_DASHBOARD},
                     cluster().dir(), DeadlineIn(30s))
                .status());

  testutil::FakeTree pi;
  pi.Write("sys/class/thermal/thermal_zone0/temp", "64000\n");
  pi.Write("sys/devices/platform/soc/soc:firmware/get_throttled", "0x4\n");
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK(
      cluster().StartWorker("pi", {"--sysfs_root=" + pi.Dir("sys")}).status());
  ASSERT_OK(cluster().WaitRegistered("pi", DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Job job,
                       cluster().Submit(proto::COUNT, 1e12, 1e13));
  ASSERT_OK(cluster()
                .WaitForJob(
                    job.job_id(),
                    [](const proto::Job& j) { return j.progress() > 0; },
                    DeadlineIn(60s))
                .status());
  std::map<std::string, double> m;
  for (int i = 0; i < 30 && m["quark_tasks_merged_total{}"] == 0; ++i) {
    m = Scrape(cluster());
    usleep(200000);
  }
  std::set<std::string> names;
  for (size_t at = dashboard.find("quark_"); at != std::string::npos;
       at = dashboard.find("quark_", at + 1)) {
    size_t end = at;
    while (end < dashboard.size() &&
           (absl::ascii_islower(dashboard[end]) ||
            absl::ascii_isdigit(dashboard[end]) || dashboard[end] == '_')) {
      ++end;
    }
    names.insert(dashboard.substr(at, end - at));
    at = end;
  }
  EXPECT_GE(names.size(), 15u);
  for (const std::string& name : names) {
    const auto it = m.lower_bound(name + "{");
    EXPECT_TRUE(it != m.end() && absl::StartsWith(it->first, name + "{"))
        << "the dashboard queries " << name << ", which /metrics lacks";
  }
  EXPECT_EQ(cluster().RunCli({"cancel", absl::StrCat(job.job_id())}).exit_code,
            0);
}

TEST_F(ClusterTest, GarbageAndAFloodOnTheHttpPortLeaveTheJobExact) {
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK(cluster().StartWorker("w1").status());
  ASSERT_OK(cluster().WaitRegistered("w1", DeadlineIn(20s)));
  ASSERT_OK_AND_ASSIGN(proto::Job job, cluster().Submit(proto::COUNT, 0, 4e9));
  const std::string http = cluster().http_address();
  EXPECT_EQ(
      Poke(http, "POST /metrics HTTP/1.1\r\nHost: q\r\n\r\n").substr(0, 12),
      "HTTP/1.1 405");
  EXPECT_EQ(
      Poke(http, "GET /nothing HTTP/1.1\r\nHost: q\r\n\r\n").substr(0, 12),
      "HTTP/1.1 404");
  for (int i = 0; i < 20; ++i) {
    Poke(http, std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n", 14));
    Poke(http, std::string(70000, 'x'));
  }
  // A flood of idle connections, all at once.
  std::vector<int> flood;
  for (int i = 0; i < 200; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(
        static_cast<uint16_t>(std::stoi(http.substr(http.find(':') + 1))));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    flood.push_back(fd);
  }
  // The control loop goes on meanwhile: the job ends, exactly.
  ASSERT_OK_AND_ASSIGN(proto::Job done, cluster().WaitForJob(
                                            job.job_id(),
                                            [](const proto::Job& j) {
                                              return j.state() == proto::DONE;
                                            },
                                            DeadlineIn(60s)));
  EXPECT_TRUE(MatchesReference(done, proto::COUNT, 0, 4e9));
  for (int fd : flood) ::close(fd);
  // And /metrics serves again once the flood is gone.
  std::string reply;
  for (int i = 0; i < 50 && reply.substr(0, 12) != "HTTP/1.1 200"; ++i) {
    reply = Poke(http, "GET /metrics HTTP/1.1\r\nHost: q\r\n\r\n");
    if (reply.substr(0, 12) != "HTTP/1.1 200") usleep(100000);
  }
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 200") << reply;
  EXPECT_EQ(Poke(http, "GET / HTTP/1.1\r\nHost: q\r\n\r\n").substr(0, 12),
            "HTTP/1.1 200");  // the status page too
  EXPECT_TRUE(cluster().controller()->Running());
}

}  // namespace
}  // namespace quark::integration
