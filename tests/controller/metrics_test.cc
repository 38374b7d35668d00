#include "controller/metrics.h"

#include <string>

#include "gtest/gtest.h"

namespace quark {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos ||
         text.rfind(line + "\n", 0) == 0;
}

TEST(HistogramTest, BucketsAreCumulativeWithInfinityLast) {
  Histogram h({0.01, 0.1, 1});
  for (double v : {0.005, 0.01, 0.05, 0.5, 7.0}) h.Observe(v);
  std::string out;
  h.AppendText("x_seconds", "help", &out);
  EXPECT_EQ(out,
            "# HELP x_seconds help\n"
            "# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"0.01\"} 2\n"
            "x_seconds_bucket{le=\"0.1\"} 3\n"
            "x_seconds_bucket{le=\"1\"} 4\n"
            "x_seconds_bucket{le=\"+Inf\"} 5\n"
            "x_seconds_sum 7.5649999999999995\n"  // as doubles add up
            "x_seconds_count 5\n");
}

TEST(MetricsTextTest, NodesJobsAndCounters) {
  MetricsInput in;
  proto::Node* pi = in.nodes.add_nodes();
  pi->set_name("pi-1");
  pi->set_state(proto::ACTIVE);
  pi->set_tasks_done(12);
  pi->set_numbers_done(1200000);
  pi->set_temperature_celsius(71.5);
  pi->set_throttled_bits(0x50005);
  pi->set_under_voltage(true);
  pi->set_throttled(true);
  pi->set_memory_available_bytes(1 << 30);
  proto::Node* vm = in.nodes.add_nodes();
  vm->set_name("vm");
  vm->set_state(proto::DRAINING);
  vm->set_suspect(true);
  vm->set_tasks_outvoted(2);
  proto::Node* gone = in.nodes.add_departed();
  gone->set_name("pi-2");
  gone->set_state(proto::LOST);
  proto::Job running;
  running.set_job_id(7);
  running.set_state(proto::RUNNING);
  running.set_progress(0.25);
  proto::Job done;
  done.set_job_id(6);
  done.set_state(proto::DONE);
  done.set_progress(1);
  in.job_states = {{proto::DONE, 1}, {proto::RUNNING, 1}};
  in.unfinished_jobs = {running};
  in.tasks_merged = 40;
  in.results_duplicate = 2;
  in.messages_refused = 3;
  in.tasks_verified = 5;
  in.disagreements = 1;
  in.suspect_nodes = 1;
  const std::string text = MetricsText(in);

  EXPECT_TRUE(Has(text, "quark_nodes{state=\"active\"} 1")) << text;
  EXPECT_TRUE(Has(text, "quark_nodes{state=\"draining\"} 1"));
  EXPECT_TRUE(Has(text, "quark_nodes{state=\"lost\"} 1"));
  EXPECT_TRUE(Has(text, "quark_nodes{state=\"evicted\"} 0"));
  EXPECT_TRUE(Has(text, "quark_node_tasks_done_total{node=\"pi-1\"} 12"));
  EXPECT_TRUE(Has(text, "quark_node_numbers_total{node=\"pi-1\"} 1200000"));
  EXPECT_TRUE(Has(text, "quark_node_temperature_celsius{node=\"pi-1\"} 71.5"));
  EXPECT_TRUE(Has(text, "quark_node_under_voltage{node=\"pi-1\"} 1"));
  EXPECT_TRUE(Has(text, "quark_node_throttled{node=\"pi-1\"} 1"));
  EXPECT_TRUE(Has(text,
                  "quark_node_memory_available_bytes{node=\"pi-1\"} "
                  "1073741824"));
  // What a node does not report has no sample, rather than a false 0.
  EXPECT_EQ(text.find("quark_node_temperature_celsius{node=\"vm\"}"),
            std::string::npos);
  EXPECT_EQ(text.find("quark_node_under_voltage{node=\"vm\"}"),
            std::string::npos);
  // Unfinished jobs only.
  EXPECT_TRUE(Has(text, "quark_job_progress_ratio{job=\"7\"} 0.25"));
  EXPECT_EQ(text.find("quark_job_progress_ratio{job=\"6\"}"),
            std::string::npos);
  EXPECT_TRUE(Has(text, "quark_jobs{state=\"running\"} 1"));
  EXPECT_TRUE(Has(text, "quark_tasks_merged_total 40"));
  EXPECT_TRUE(Has(text, "quark_results_duplicate_total 2"));
  EXPECT_TRUE(Has(text, "quark_messages_refused_total 3"));
  EXPECT_TRUE(Has(text, "quark_tasks_verified_total 5"));
  EXPECT_TRUE(Has(text, "quark_verification_disagreements_total 1"));
  EXPECT_TRUE(Has(text, "quark_suspect_nodes 1"));
  EXPECT_TRUE(Has(text, "quark_node_suspect{node=\"vm\"} 1"));
  EXPECT_TRUE(Has(text, "quark_node_suspect{node=\"pi-1\"} 0"));
  EXPECT_TRUE(Has(text, "quark_node_tasks_outvoted_total{node=\"vm\"} 2"));
  EXPECT_TRUE(Has(text, "# TYPE quark_node_tasks_done_total counter"));
  EXPECT_TRUE(Has(text, "# TYPE quark_node_temperature_celsius gauge"));
}

TEST(MetricsTextTest, LabelValuesAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace quark
