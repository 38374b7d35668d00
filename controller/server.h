// The controller's event loop: owns the three sockets and feeds what they
// receive, and the passing of time, to the scheduler and the API.
//
// Single-threaded. Stops when SIGTERM or SIGINT arrives (through a
// signalfd polled with the sockets, so no handler races the loop).
#ifndef QUARK_CONTROLLER_SERVER_H_
#define QUARK_CONTROLLER_SERVER_H_

#include <memory>
#include <string>

#include <zmq.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "controller/api.h"
#include "controller/scheduler.h"
#include "common/signals.h"

namespace quark {

struct ServerOptions {
  std::string control_endpoint = "tcp://*:7700";
  std::string collect_endpoint = "tcp://*:7701";
  std::string api_endpoint = "tcp://127.0.0.1:7702";
  // How often the scheduler's clock ticks (expiry, heartbeats, dispatch).
  absl::Duration tick = absl::Milliseconds(100);
  SchedulerOptions scheduler;
  ApiOptions api;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  // Takes SIGTERM and SIGINT over (common/signals.h; libzmq's own threads
  // block every signal, so none of them takes one) and binds the sockets.
  // Fails, with the endpoint named, when a socket cannot be bound.
  absl::Status Start();

  // Serves until SIGTERM or SIGINT. Errors only on a broken socket.
  absl::Status Run();

 private:
  void HandleControl();
  void HandleCollector();
  void HandleApi();
  void SendControl(const std::vector<Outbound>& out);
  void SendApi(const std::string& route, const proto::ApiReply& reply);

  ServerOptions options_;
  Scheduler scheduler_;
  Api api_;
  zmq::context_t context_;
  zmq::socket_t control_, collect_, api_socket_;
  std::unique_ptr<ShutdownSignals> signals_;
};

}  // namespace quark

#endif  // QUARK_CONTROLLER_SERVER_H_
