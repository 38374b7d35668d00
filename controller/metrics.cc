#include "controller/metrics.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/health.h"
#include "common/states.h"

namespace quark {
namespace {

// A sample value: integers as integers, the rest with enough digits to
// round-trip, and the format's spellings of infinity.
std::string Value(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v < 1e15 &&
      v > -1e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  // The shortest form that reads back as the same double.
  for (int digits = 6; digits < 17; ++digits) {
    std::string text = absl::StrFormat("%.*g", digits, v);
    if (std::strtod(text.c_str(), nullptr) == v) return text;
  }
  return absl::StrFormat("%.17g", v);
}

void Header(const std::string& name, const char* type, const std::string& help,
            std::string* out) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type,
                  "\n");
}

void Sample(const std::string& name, const std::string& labels, double value,
            std::string* out) {
  absl::StrAppend(out, name, labels.empty() ? "" : "{", labels,
                  labels.empty() ? "" : "}", " ", Value(value), "\n");
}

std::string Label(const char* key, const std::string& value) {
  return absl::StrCat(key, "=\"", EscapeLabelValue(value), "\"");
}

// A family with one sample per node that has the value.
template <typename Get>
void PerNode(const std::string& name, const char* type, const std::string& help,
             const proto::NodeList& nodes, Get get, std::string* out) {
  std::string lines;
  for (const proto::Node& node : nodes.nodes()) {
    if (auto value = get(node)) {
      Sample(name, Label("node", node.name()), *value, &lines);
    }
  }
  if (lines.empty()) return;
  Header(name, type, help, out);
  out->append(lines);
}

}  // namespace

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {
  std::sort(bounds_.begin(), bounds_.end());
}

Histogram Histogram::Latency() {
  return Histogram({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1, 2.5, 5, 10});
}

void Histogram::Observe(double value) {
  ++count_;
  sum_ += value;
  auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  if (bucket != bounds_.end()) ++counts_[bucket - bounds_.begin()];
}

void Histogram::AppendText(const std::string& name, const std::string& help,
                           std::string* out) const {
  Header(name, "histogram", help, out);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    Sample(name + "_bucket", Label("le", Value(bounds_[i])),
           static_cast<double>(cumulative), out);
  }
  Sample(name + "_bucket", Label("le", "+Inf"), static_cast<double>(count_),
         out);
  Sample(name + "_sum", "", sum_, out);
  Sample(name + "_count", "", static_cast<double>(count_), out);
}

std::string MetricsText(const MetricsInput& in) {
  std::string out;
  // Every state, 0 included, so that a graph of lost nodes starts at 0.
  std::map<std::string, int> states = {
      {"active", 0}, {"draining", 0}, {"lost", 0}, {"left", 0}, {"evicted", 0}};
  for (const proto::Node& n : in.nodes.nodes())
    ++states[NodeStateWord(n.state())];
  for (const proto::Node& n : in.nodes.departed()) {
    ++states[NodeStateWord(n.state())];
  }
  Header("quark_nodes", "gauge",
         "Nodes by state: connected (active, draining) and gone in the last "
         "ten minutes (lost, left, evicted).",
         &out);
  for (const auto& [state, count] : states) {
    Sample("quark_nodes", Label("state", state), count, &out);
  }

  using Opt = std::optional<double>;
  PerNode(
      "quark_node_tasks_done_total", "counter",
      "Tasks the node finished in its current session.", in.nodes,
      [](const proto::Node& n) -> Opt { return n.tasks_done(); }, &out);
  PerNode(
      "quark_node_numbers_total", "counter",
      "Numbers the node sieved in its current session.", in.nodes,
      [](const proto::Node& n) -> Opt { return n.numbers_done(); }, &out);
  PerNode(
      "quark_node_tasks_throttled_total", "counter",
      "Tasks the node computed while under-voltage or throttled.", in.nodes,
      [](const proto::Node& n) -> Opt { return n.tasks_throttled(); }, &out);
  PerNode(
      "quark_node_suspect", "gauge",
      "1 when the node was found wrong (outvoted on a task's result) and "
      "gets no work until `quark trust`.",
      in.nodes, [](const proto::Node& n) -> Opt { return n.suspect() ? 1 : 0; },
      &out);
  PerNode(
      "quark_node_tasks_outvoted_total", "counter",
      "Results of the node that other nodes outvoted, in its current session.",
      in.nodes, [](const proto::Node& n) -> Opt { return n.tasks_outvoted(); },
      &out);
  PerNode(
      "quark_node_rate", "gauge",
      "Numbers per second the node sieves lately; decays while idle.", in.nodes,
      [](const proto::Node& n) -> Opt { return n.rate(); }, &out);
  PerNode(
      "quark_node_leases", "gauge", "Tasks the node holds now.", in.nodes,
      [](const proto::Node& n) -> Opt { return n.leases(); }, &out);
  PerNode(
      "quark_node_temperature_celsius", "gauge",
      "The node's hottest thermal zone, from its last heartbeat.", in.nodes,
      [](const proto::Node& n) -> Opt {
        return n.has_temperature_celsius() ? Opt(n.temperature_celsius())
                                           : std::nullopt;
      },
      &out);
  PerNode(
      "quark_node_under_voltage", "gauge",
      "1 when the Pi's firmware says under-voltage now (get_throttled bit 0).",
      in.nodes,
      [](const proto::Node& n) -> Opt {
        return n.has_throttled_bits() ? Opt(n.under_voltage() ? 1 : 0)
                                      : std::nullopt;
      },
      &out);
  PerNode(
      "quark_node_throttled", "gauge",
      "1 when the Pi's firmware says the CPU runs slower than it can now "
      "(frequency capped, throttled or at the soft temperature limit).",
      in.nodes,
      [](const proto::Node& n) -> Opt {
        return n.has_throttled_bits() ? Opt(n.throttled() ? 1 : 0)
                                      : std::nullopt;
      },
      &out);
  PerNode(
      "quark_node_memory_available_bytes", "gauge",
      "MemAvailable on the node, from its last heartbeat.", in.nodes,
      [](const proto::Node& n) -> Opt {
        return n.has_memory_available_bytes()
                   ? Opt(static_cast<double>(n.memory_available_bytes()))
                   : std::nullopt;
      },
      &out);
  PerNode(
      "quark_node_load1", "gauge", "The node's 1-minute load average.",
      in.nodes,
      [](const proto::Node& n) -> Opt {
        return n.has_load1() ? Opt(n.load1()) : std::nullopt;
      },
      &out);

  std::string progress;
  for (const proto::Job& job : in.unfinished_jobs) {
    Sample("quark_job_progress_ratio", Label("job", absl::StrCat(job.job_id())),
           job.progress(), &progress);
  }
  if (!progress.empty()) {
    Header("quark_job_progress_ratio", "gauge",
           "Fraction of an unfinished job's range merged, 0 to 1.", &out);
    out.append(progress);
  }
  Header("quark_jobs", "gauge", "Jobs the controller keeps, by state.", &out);
  for (const proto::JobState state :
       {proto::QUEUED, proto::RUNNING, proto::DONE, proto::FAILED,
        proto::CANCELLED}) {
    const auto it = in.job_states.find(state);
    Sample("quark_jobs", Label("state", JobStateWord(state)),
           it == in.job_states.end() ? 0 : static_cast<double>(it->second),
           &out);
  }

  Header("quark_tasks_merged_total", "counter",
         "Task results merged into their job, exactly once each.", &out);
  Sample("quark_tasks_merged_total", "", static_cast<double>(in.tasks_merged),
         &out);
  Header("quark_numbers_merged_total", "counter",
         "Numbers in the task results merged: the cluster's throughput.", &out);
  Sample("quark_numbers_merged_total", "",
         static_cast<double>(in.numbers_merged), &out);
  Header("quark_results_duplicate_total", "counter",
         "Results ignored because their task was merged already.", &out);
  Sample("quark_results_duplicate_total", "",
         static_cast<double>(in.results_duplicate), &out);
  Header("quark_tasks_verified_total", "counter",
         "Tasks whose result two nodes or more computed and agreed on.", &out);
  Sample("quark_tasks_verified_total", "",
         static_cast<double>(in.tasks_verified), &out);
  Header("quark_verification_disagreements_total", "counter",
         "Tasks whose results from two nodes differed.", &out);
  Sample("quark_verification_disagreements_total", "",
         static_cast<double>(in.disagreements), &out);
  Header("quark_suspect_nodes", "gauge",
         "Nodes marked suspect now, connected or not.", &out);
  Sample("quark_suspect_nodes", "", static_cast<double>(in.suspect_nodes),
         &out);
  Header("quark_messages_refused_total", "counter",
         "Messages refused: malformed, of another protocol version, from an "
         "unknown session or an unauthorized key.",
         &out);
  Sample("quark_messages_refused_total", "",
         static_cast<double>(in.messages_refused), &out);
  Header("quark_http_requests_total", "counter",
         "HTTP requests for a page (/metrics and the status page).", &out);
  Sample("quark_http_requests_total", "", static_cast<double>(in.http_requests),
         &out);
  if (in.commit_seconds) {
    in.commit_seconds->AppendText(
        "quark_commit_seconds",
        "Time to write one step's changes to the state database.", &out);
  }
  if (in.ack_seconds) {
    in.ack_seconds->AppendText(
        "quark_ack_seconds",
        "Time from reading a result to sending its Ack (after its commit).",
        &out);
  }
  if (in.publish_seconds) {
    in.publish_seconds->AppendText(
        "quark_http_publish_seconds",
        "Time the event loop takes, once a second, to take the snapshot "
        "that /metrics and /status.json are made from.",
        &out);
  }
  return out;
}

}  // namespace quark
