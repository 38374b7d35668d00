// The controller's event loop: owns the three sockets and feeds what they
// receive, and the passing of time, to the scheduler and the API.
//
// Single-threaded. Stops when SIGTERM or SIGINT arrives (through a
// signalfd polled with the sockets, so no handler races the loop).
#ifndef QUARK_CONTROLLER_SERVER_H_
#define QUARK_CONTROLLER_SERVER_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/beacon.h"
#include "common/keys.h"
#include "common/sd_notify.h"
#include "common/signals.h"
#include "controller/api.h"
#include "controller/auth.h"
#include "controller/cross_check.h"
#include "controller/enrollment.h"
#include "controller/http_server.h"
#include "controller/inbound.h"
#include "controller/metrics.h"
#include "controller/scheduler.h"
#include "controller/status.h"
#include "controller/store.h"

namespace quark {

struct ServerOptions {
  std::string control_endpoint = "tcp://*:7700";
  std::string collect_endpoint = "tcp://*:7701";
  std::string api_endpoint = "tcp://127.0.0.1:7702";
  // Where the durable state lives (controller/store.h).
  std::string state_dir = "/var/lib/quark";
  // How often the scheduler's clock ticks (expiry, heartbeats, dispatch).
  absl::Duration tick = absl::Milliseconds(100);
  // Messages read from each socket per loop iteration, before the commit
  // that ends it: bounded, so that no socket starves the others. Results
  // get a bigger bite: they are cheap to merge, and the more of them one
  // commit (one fsync) carries, the higher the throughput and the shorter
  // the queue of results waiting for their ack (bench/load/ack_latency.sh).
  int control_batch = 256;
  int result_batch = 4096;
  int api_batch = 256;
  SchedulerOptions scheduler;
  ApiOptions api;
  // CURVE (controller/auth.h). With a key, the control and collector
  // sockets admit only the workers in auth.workers_path, and the API only
  // the operators in auth.operators_path when that is set. Without one,
  // every socket is plain TCP.
  std::optional<KeyPair> key;
  AuthOptions auth;
  // Allows plain sockets beyond loopback (CheckExposure).
  bool insecure = false;
  // With a key: where nodes enroll with a join token (empty: nowhere), and
  // the LAN beacon that tells them where the controller is
  // (common/beacon.h): on `beacon_port`, on the interfaces the control
  // endpoint is bound to, or those named in `beacon_interfaces`.
  std::string enroll_endpoint = "tcp://*:7703";
  // GET /metrics (and the status page) on their own thread
  // (controller/http_server.h); empty listen: none. Published every
  // http_publish_interval.
  std::optional<HttpOptions> http = HttpOptions();
  absl::Duration http_publish_interval = absl::Seconds(1);
  bool beacon = true;
  uint16_t beacon_port = 7700;
  std::vector<std::string> beacon_interfaces;
  absl::Duration beacon_interval = absl::Seconds(1);
  EnrollmentOptions enrollment;
};

// Fills in what follows from the other options, as the daemon runs: the
// scheduler's collector endpoint (collect_endpoint), its backup age (a
// lease twice as old as a task should take is a straggler), the tick (a
// tenth of a second, at most half a heartbeat), and first session and
// lease ids at a random point, so that those of an earlier run of the
// controller are not taken for live ones. Tests that set these by hand do
// not call it.
void DeriveServerOptions(ServerOptions& options);

// Refuses, with the reason and the way out, options that would let any
// machine that reaches a port in: a plain control or collector socket, or
// an API without operator keys, bound beyond loopback without `insecure`.
absl::Status CheckExposure(const ServerOptions& options);

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  // Takes SIGTERM and SIGINT over (common/signals.h; libzmq's own threads
  // block every signal, so none of them takes one), opens the state
  // database and restores the jobs in it, and binds the sockets. Fails,
  // naming the file or endpoint, when any of that cannot be done.
  // Once bound, tells systemd READY=1 (common/sd_notify.h).
  absl::Status Start();

  // Serves until SIGTERM or SIGINT; SIGHUP reloads the allowlists and
  // evicts the nodes whose key is no longer in them (their work goes
  // back to the queue). Fails on a broken socket, and when the
  // state cannot be written: then it stops at once (fail-stop), before
  // telling anyone about a change that is not on disk.
  absl::Status Run();

 private:
  using InboundHandler = void (Inbound::*)(
      const std::vector<absl::string_view>&, const Peer&, absl::Time);
  void ReadBatch(zmq::socket_t& socket, int batch, InboundHandler handle);
  // SIGHUP: rereads the allowlists; evicts the nodes whose key went.
  void Reload();
  // Commits what changed, then sends what was queued: nothing leaves the
  // controller before the state that produced it is durable.
  absl::Status Flush();
  absl::Time Now() const;
  // STATUS= when due, and WATCHDOG=1, from the loop itself.
  void NotifySystemd(absl::Time now);
  // The enroll socket and the beacon, with a key only.
  absl::Status StartEnrollment();
  // Sends the beacon when due, looking at the interfaces again now and
  // then (a Pi's network comes up after its services).
  void SendBeacon(absl::Time now);
  // Renders the metrics and hands them to the HTTP server, when due.
  void PublishHttp(absl::Time now);

  ServerOptions options_;
  Scheduler scheduler_;
  Api api_;
  zmq::context_t context_;
  zmq::socket_t control_, collect_, api_socket_;
  std::unique_ptr<zmq::socket_t> enroll_;  // with a key and an endpoint
  const absl::Time start_wall_ = absl::Now();
  const std::chrono::steady_clock::time_point start_steady_ =
      std::chrono::steady_clock::now();
  std::unique_ptr<ShutdownSignals> signals_;
  std::unique_ptr<SystemdNotifier> systemd_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<Authenticator> auth_;  // with CURVE only
  // Decodes, checks and applies what the sockets read; holds what to send
  // until the next Flush().
  std::unique_ptr<Inbound> inbound_;
  std::unique_ptr<HttpServer> http_;             // with options_.http
  std::unique_ptr<CrossChecker> cross_checker_;  // primecount; from Start()
  absl::Time next_publish_ = absl::InfinitePast();
  StatusTracker status_;  // the status page's data, with options_.http
  Histogram commit_seconds_ = Histogram::Latency();
  Histogram ack_seconds_ = Histogram::Latency();
  Histogram publish_seconds_ = Histogram::Latency();  // PublishHttp's
  // When the first result of the step being read came in; InfiniteFuture
  // when none has.
  absl::Time first_result_at_ = absl::InfiniteFuture();
  std::unique_ptr<Enrollment> enrollment_;  // with a key
  std::unique_ptr<BeaconSender> beacon_;    // with a key, unless silenced
  std::string beacon_datagram_;
  std::string bound_control_;  // ZMQ_LAST_ENDPOINT of the control socket
  std::vector<NetInterface> beacon_to_;
  absl::Time next_beacon_ = absl::InfiniteFuture();
  absl::Time next_interface_scan_ = absl::InfinitePast();
  std::string beacon_error_;  // the last one logged
  bool beacon_scanned_ = false;
};

}  // namespace quark

#endif  // QUARK_CONTROLLER_SERVER_H_
