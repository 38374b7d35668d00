// The worker daemon's I/O loop: it owns the zmq sockets and drives the
// session state machine (session.h) with messages, ticks, finished tasks
// and shutdown signals, carrying out the actions it returns.
//
// Threads: the thread calling Run() does all I/O and never sieves; one
// executor thread (executor.h) runs the tasks, waking the loop through an
// eventfd when one finishes; zmq's own I/O threads.
//
//   control   DEALER, routing id = node name (without CURVE; with it the
//             controller knows the node by its key), immediate: a message
//             waits in an outbox until a connection is up, and a reconnect
//             drops it
//   collector PUSH, not immediate, with a linger: results wait for the
//             collector to come back
#ifndef QUARK_WORKER_WORKER_H_
#define QUARK_WORKER_WORKER_H_

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/beacon.h"
#include "common/keys.h"
#include "common/sd_notify.h"
#include "common/signals.h"
#include "proto/quark.pb.h"
#include "worker/connection_monitor.h"
#include "worker/executor.h"
#include "worker/health.h"
#include "worker/session.h"
#include "worker/task_runner.h"
#include "worker/wakeup.h"

namespace quark {

struct WorkerOptions {
  // The controller's control endpoint.
  std::string controller = "tcp://127.0.0.1:7700";
  // Threads a task is sieved with, at most (fewer when its memory needs
  // them: worker/task_runner.h).
  int threads = 1;
  // --memory_limit; unset: from MemAvailable and the cgroup's limit.
  std::optional<uint64_t> memory_limit;
  // Roots of the memory and health readings (tests give fake trees).
  std::string proc_root = "/proc";
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string sysfs_root = "/sys";
  // Niceness of the sieving threads: above the I/O thread's, so that a
  // busy node still answers heartbeats on time.
  int sieve_nice = 5;
  // Node name, credits, drain timeout, backoff... session.controller is
  // set from `controller`.
  SessionOptions session;
  // How long closing sockets may wait for queued messages: the Goodbye,
  // and results on their way to the collector.
  absl::Duration control_linger = absl::Seconds(1);
  absl::Duration collector_linger = absl::Seconds(5);
  // CURVE: the controller's public key and this node's pair. Without it
  // the sockets are plain (the controller must run --insecure, or be on
  // loopback).
  struct Curve {
    std::string controller_key;  // Z85
    KeyPair own;
  };
  std::optional<Curve> curve;
  // The key was enrolled with a join token (worker/identity.h) rather than
  // listed by hand: a refusal then means something else.
  bool enrolled = false;
  // Not 0: the controller was found by its beacon (common/beacon.h) on this
  // UDP port; while not registered, the worker follows it to a new address.
  uint16_t beacon_port = 0;
  // Tests only: sees each partial the kernel computed, before it is sent,
  // and may change it: the lying worker of tests/integration/liar.cc,
  // which verification (docs/security.md) must catch. quark-worker never
  // sets it.
  std::function<void(const proto::Assign&, proto::Partial*)> result_filter;
  // Longest sleep of the loop when nothing is due. The systemd watchdog
  // (common/sd_notify.h) may wake it sooner.
  absl::Duration max_poll = absl::Seconds(1);
};

class Worker {
 public:
  // `signals` and `systemd` may be handed over from an earlier phase (the
  // joining, worker/joiner.h); Run() makes them when they are null.
  explicit Worker(WorkerOptions options,
                  std::unique_ptr<ShutdownSignals> signals = nullptr,
                  std::unique_ptr<SystemdNotifier> systemd = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs until the session ends. OK after a graceful leave; an error when
  // the controller refused this worker or a socket could not be set up.
  // Blocks SIGTERM and SIGINT in the calling thread (signals.h). Call once.
  absl::Status Run();

 private:
  absl::Status Setup();
  absl::Status Loop();
  absl::Status Apply(SessionActions actions);
  absl::Status OpenControl();
  void CloseControl();
  // Reads the monitor's events: logs failed handshakes (connection_), and
  // returns whether the connection dropped.
  bool TakeDisconnect(absl::Time now);
  absl::Status ConfigureSecurity(zmq::socket_t& socket);
  absl::Status ConnectCollector(const std::string& advertised);
  void Push(const proto::ResultMsg& result);
  void ReceiveControl(absl::Time now);
  absl::Status HearBeacons(absl::Time now);
  void FlushOutbox();
  // Tells systemd: READY=1 once registered, STATUS=, WATCHDOG=1.
  void NotifySystemd(absl::Time now);
  std::string StatusLine() const;
  // Reads the node's health (worker/health.h) for the next heartbeats.
  void ReadHealthIfDue(absl::Time now);
  void Close();

  const WorkerOptions options_;
  // Plans and runs each task on the executor's thread; its budget at start
  // goes to the controller in the Hello.
  const std::shared_ptr<TaskRunner> runner_;
  Session session_;
  // The control endpoint: options_.controller, or where the controller's
  // beacon says it moved.
  std::string controller_;
  std::unique_ptr<ShutdownSignals> signals_;
  std::unique_ptr<SystemdNotifier> systemd_;
  bool ready_sent_ = false;  // READY=1 goes out once, at the first Welcome
  std::unique_ptr<Wakeup> wakeup_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<zmq::context_t> context_;
  std::unique_ptr<zmq::socket_t> control_;
  // Receives the control socket's DISCONNECTED events (zmq_socket_monitor).
  std::unique_ptr<zmq::socket_t> monitor_;
  int monitors_ = 0;  // for a fresh inproc endpoint per control socket
  std::unique_ptr<zmq::socket_t> collector_;
  std::unique_ptr<BeaconListener> beacon_;  // with beacon_port
  absl::Time last_move_ = absl::InfinitePast();
  absl::Time next_health_ = absl::InfinitePast();
  std::string collector_endpoint_;
  std::deque<proto::ControlMsg> outbox_;
  std::optional<absl::Status> exit_;
  uint64_t rejected_ = 0;  // malformed control messages
  // What the monitor's events say: drops, and the last failed handshake
  // for the log and STATUS=.
  ConnectionMonitor connection_;
};

}  // namespace quark

#endif  // QUARK_WORKER_WORKER_H_
