// A stand-in for the controller's api ROUTER, on a loopback port the OS
// picks, answering each request with whatever the test's handler returns.
#ifndef QUARK_TESTS_CLI_FAKE_CONTROLLER_H_
#define QUARK_TESTS_CLI_FAKE_CONTROLLER_H_

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/quark.pb.h"

namespace quark {

class FakeController {
 public:
  // The frames to send back for one request: usually one serialized
  // ApiReply; none to stay silent; several to send stale replies first.
  using Handler =
      std::function<std::vector<std::string>(const proto::ApiRequest&)>;

  // Binds `endpoint`: by default a port the OS picks; the endpoint() of a
  // fake that is gone, to stand for a controller restarted on its address.
  explicit FakeController(Handler handler,
                          const std::string& endpoint = "tcp://127.0.0.1:*");
  ~FakeController();  // stops and joins the serving thread

  const std::string& endpoint() const { return endpoint_; }
  std::vector<proto::ApiRequest> requests() const;

  // A reply echoing `request`'s id with the current protocol version.
  static proto::ApiReply ReplyTo(const proto::ApiRequest& request);
  static std::string Serialize(const proto::ApiReply& reply);

 private:
  void Serve();

  zmq::context_t context_;
  zmq::socket_t socket_;
  std::string endpoint_;
  Handler handler_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::vector<proto::ApiRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace quark

#endif  // QUARK_TESTS_CLI_FAKE_CONTROLLER_H_
