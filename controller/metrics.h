// The controller's metrics in Prometheus' text exposition format (version
// 0.0.4), for GET /metrics (controller/http_server.h). Names follow
// Prometheus' conventions: base units (seconds, bytes), `_total` for
// counters, labels with bounded values only (a node's name, a job's id
// while it runs, a node state), never a task.
//
// Pure: the server gathers a MetricsInput on its loop, once a second, and
// the HTTP thread renders it when /metrics is asked for.
#ifndef QUARK_CONTROLLER_METRICS_H_
#define QUARK_CONTROLLER_METRICS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proto/quark.pb.h"

namespace quark {

// A cumulative histogram with fixed upper bounds (seconds), as Prometheus
// keeps them: each bucket counts the observations at or below its bound.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  // Bounds from 0.5 ms to 10 s, for latencies of a step on a Pi's SD card.
  static Histogram Latency();

  void Observe(double value);
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  // The # HELP, # TYPE and sample lines of the histogram `name`.
  void AppendText(const std::string& name, const std::string& help,
                  std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // one per bound, not cumulative
  uint64_t count_ = 0;
  double sum_ = 0;
};

struct MetricsInput {
  proto::NodeList nodes;  // connected and departed
  // The jobs the scheduler keeps, in each state, and the unfinished ones
  // (Scheduler::SummarizeJobs).
  std::map<proto::JobState, uint64_t> job_states;
  std::vector<proto::Job> unfinished_jobs;
  uint64_t tasks_merged = 0;
  uint64_t numbers_merged = 0;  // in those tasks
  uint64_t results_duplicate = 0;
  // Verification (docs/security.md): tasks two nodes agreed on, tasks
  // whose results differed, and nodes suspect now.
  uint64_t tasks_verified = 0;
  uint64_t disagreements = 0;
  uint64_t suspect_nodes = 0;
  uint64_t messages_refused = 0;
  uint64_t http_requests = 0;
  std::optional<Histogram> commit_seconds;
  std::optional<Histogram> ack_seconds;
  std::optional<Histogram> publish_seconds;
};

std::string MetricsText(const MetricsInput& input);

// A label value as the format wants it: \, " and newline escaped.
std::string EscapeLabelValue(const std::string& value);

}  // namespace quark

#endif  // QUARK_CONTROLLER_METRICS_H_
