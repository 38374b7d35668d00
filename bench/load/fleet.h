// N simulated workers (sim_worker.h: the real worker's session, the sieve
// faked) on one thread: one DEALER per worker
// to the controller's control endpoint, one PUSH shared by all of them to
// the collector, and one zmq::poll loop over all the sockets.
//
// Prints a progress line on stdout every `report_every` and a summary at
// the end, each with the results acked per second and the percentiles of
// the ack latency (first push of a result to its Ack, on the steady clock)
// over the interval (progress) or the whole run after `warmup` (final). Run()
// returns when `duration` has passed or SIGTERM/SIGINT arrives and the
// workers then left as real ones do (a second signal: at once). Errors name the
// socket or endpoint that failed. Not thread-safe: one thread owns the fleet.
#ifndef QUARK_BENCH_LOAD_FLEET_H_
#define QUARK_BENCH_LOAD_FLEET_H_

#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "bench/load/latency.h"
#include "bench/load/sim_worker.h"
#include "common/signals.h"

namespace quark {

struct FleetOptions {
  std::string controller = "tcp://127.0.0.1:7700";
  // Host the collector endpoint of the Welcome is reached on when it is a
  // bind address such as tcp://*:7701. Empty: the controller's host.
  std::string collect_host;
  int workers = 1000;
  std::string name_prefix = "sim-";
  uint32_t credits = 2;
  absl::Duration fake_task = absl::ZeroDuration();
  absl::Duration fake_task_max = absl::ZeroDuration();  // see SimWorkerOptions
  uint64_t seed = 1;
  absl::Duration reported_compute = absl::Milliseconds(-1);
  // Zero: run until a signal.
  absl::Duration duration = absl::ZeroDuration();
  absl::Duration report_every = absl::Seconds(5);
  // Acks received before this much time has passed are left out of the
  // final figures (registration, the first burst of work).
  absl::Duration warmup = absl::ZeroDuration();
  // After the run, how long the workers' leave may wait for their running
  // task and last Acks.
  absl::Duration drain_timeout = absl::Seconds(2);
};

class Fleet {
 public:
  explicit Fleet(FleetOptions options);
  ~Fleet();

  // Installs the signal fd, creates and connects the sockets, says Hello.
  absl::Status Start();
  absl::Status Run();

 private:
  absl::Status OpenDealer(size_t i);
  absl::Status Receive(size_t i);
  absl::Status Carry(size_t i, SimWorker::Actions& actions);
  void Report(absl::Time now, const char* what);
  void Leave(absl::Time now);
  bool AllDone() const;

  FleetOptions options_;
  std::unique_ptr<ShutdownSignals> signals_;
  std::unique_ptr<zmq::context_t> context_;
  std::vector<SimWorker> workers_;
  std::vector<zmq::socket_t> dealers_;
  std::vector<zmq::pollitem_t> items_;  // each dealer, then the signal fd
  std::unique_ptr<zmq::socket_t> push_;
  std::string collector_;  // connected endpoint, once known
  absl::Time started_;
  uint64_t send_errors_ = 0, parse_errors_ = 0, reconnects_ = 0;
  // Ack latencies since the last report, and since the warmup ended.
  LatencyHistogram interval_, total_;
  absl::Time last_report_;
};

}  // namespace quark

#endif  // QUARK_BENCH_LOAD_FLEET_H_
