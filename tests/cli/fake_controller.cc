#include "tests/cli/fake_controller.h"

#include <chrono>
#include <utility>

#include "common/transport.h"

namespace quark {

FakeController::FakeController(Handler handler, const std::string& endpoint)
    : socket_(context_, zmq::socket_type::router),
      handler_(std::move(handler)) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind(endpoint);
  endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  thread_ = std::thread([this] { Serve(); });
}

FakeController::~FakeController() {
  stop_ = true;
  thread_.join();
}

std::vector<proto::ApiRequest> FakeController::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

proto::ApiReply FakeController::ReplyTo(const proto::ApiRequest& request) {
  proto::ApiReply reply;
  reply.set_protocol_version(kProtocolVersion);
  reply.set_request_id(request.request_id());
  return reply;
}

std::string FakeController::Serialize(const proto::ApiReply& reply) {
  return reply.SerializeAsString();
}

void FakeController::Serve() {
  while (!stop_) {
    std::vector<zmq::pollitem_t> items = {{socket_.handle(), 0, ZMQ_POLLIN, 0}};
    // Short polls so that the destructor is never kept waiting long.
    zmq::poll(items, std::chrono::milliseconds(20));
    if ((items[0].revents & ZMQ_POLLIN) == 0) continue;
    zmq::message_t route;
    zmq::message_t body;
    if (!socket_.recv(route) || !socket_.recv(body)) continue;
    proto::ApiRequest request;
    request.ParseFromArray(body.data(), static_cast<int>(body.size()));
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(request);
    }
    for (const std::string& frame : handler_(request)) {
      socket_.send(zmq::buffer(route.data(), route.size()),
                   zmq::send_flags::sndmore);
      socket_.send(zmq::buffer(frame), zmq::send_flags::none);
    }
  }
}

}  // namespace quark
