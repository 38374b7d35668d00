// The status page of the controller's --http: GET / is the page (a file
// of its own, controller/status_page.html, compiled in: no external asset,
// as a Pi LAN may have no internet), which fetches GET /status.json every
// two seconds and draws it. StatusTracker makes that JSON's message from
// what the scheduler lists, once a second in the event loop: each
// unfinished job's rate and ETA over the last minute, and the cluster's
// throughput over the last hour, which only the loop sees go by.
#ifndef QUARK_CONTROLLER_STATUS_H_
#define QUARK_CONTROLLER_STATUS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "absl/time/time.h"
#include "common/rate.h"
#include "proto/quark.pb.h"

namespace quark {

// The page, NUL-terminated (built from controller/status_page.html).
extern const char kStatusPageHtml[];

class StatusTracker {
 public:
  // The throughput plot: one value per step, an hour of them.
  static constexpr absl::Duration kStep = absl::Seconds(10);
  static constexpr size_t kSteps = 360;
  // A page a person can read: the oldest unfinished jobs (those running,
  // as a rule) and the newest that ended; `quark jobs` lists them all.
  static constexpr size_t kUnfinishedShown = 50;
  static constexpr size_t kEndedShown = 10;

  // The status at `now` of `nodes` and the jobs (as
  // Scheduler::SummarizeJobs gives them: the unfinished by id, the newest
  // `ended` first; kEndedShown of those are shown), with the scheduler's
  // counters (tasks_merged, numbers_merged). Calls come in time order,
  // about once a second; a job's rate needs a few of them.
  proto::ClusterStatus Update(absl::Time now, const proto::NodeList& nodes,
                              const std::vector<proto::Job>& unfinished,
                              const std::vector<proto::Job>& ended,
                              uint64_t tasks_merged, uint64_t numbers_merged);

 private:
  void AddThroughput(absl::Time now, uint64_t numbers_merged);

  std::map<uint64_t, WindowRate> job_rates_;  // unfinished jobs, by id
  // The step being filled: since when, and the count then.
  absl::Time step_start_ = absl::InfinitePast();
  uint64_t step_base_ = 0;
  std::deque<double> steps_;  // numbers per second, oldest first
};

}  // namespace quark

#endif  // QUARK_CONTROLLER_STATUS_H_
