#include "tests/integration/hostile.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace quark::integration {

int PortOf(const std::string& endpoint) {
  int port = 0;
  if (!absl::SimpleAtoi(endpoint.substr(endpoint.rfind(':') + 1), &port)) {
    ADD_FAILURE() << "no port in " << endpoint;
    return 0;
  }
  return port;
}

int ConnectTcp(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void SendRaw(int port, const std::string& bytes) {
  const int fd = ConnectTcp(port);
  if (fd < 0) {
    ADD_FAILURE() << "cannot connect to port " << port;
    return;
  }
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  // Long enough for the peer to read what it will before the close.
  ::usleep(20'000);
  ::close(fd);
}

std::string Garbage(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  for (char& c : out) {
    seed = seed * 1103515245u + 12345u;
    c = static_cast<char>(seed >> 16);
  }
  return out;
}

void ThrowRawBytes(int port) {
  // The first 10 bytes of a ZMTP 3 greeting, then nothing.
  const std::string greeting("\xff\0\0\0\0\0\0\0\x01\x7f", 10);
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    SendRaw(port, Garbage(1 + seed * 997, seed));
  }
  SendRaw(port, greeting);
  SendRaw(port, greeting + "\x03\x01NULL" + Garbage(4000, 99));
  SendRaw(port, std::string(70000, '\xff'));
}

std::string Serialized(const google::protobuf::Message& message) {
  std::string out;
  EXPECT_TRUE(message.SerializeToString(&out)) << message.GetTypeName();
  return out;
}

void SendFrames(zmq::socket_t& socket, std::vector<std::string> frames) {
  if (frames.empty()) frames.emplace_back();
  for (size_t i = 0; i < frames.size(); ++i) {
    socket.send(zmq::buffer(frames[i]), i + 1 < frames.size()
                                            ? zmq::send_flags::sndmore
                                            : zmq::send_flags::none);
  }
}

std::unique_ptr<zmq::socket_t> CurveDealer(zmq::context_t& context,
                                           const std::string& server_key,
                                           const std::string& public_key,
                                           const std::string& secret_key,
                                           const std::string& source,
                                           int port) {
  auto socket =
      std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
  socket->set(zmq::sockopt::curve_serverkey, server_key);
  socket->set(zmq::sockopt::curve_publickey, public_key);
  socket->set(zmq::sockopt::curve_secretkey, secret_key);
  socket->set(zmq::sockopt::linger, 0);
  // libzmq's "source;destination" form binds the connection's own end.
  socket->connect(absl::StrCat("tcp://", source, ":0;127.0.0.1:", port));
  return socket;
}

std::optional<std::vector<std::string>> ReceiveWithin(
    zmq::socket_t& socket, std::chrono::milliseconds timeout) {
  zmq::pollitem_t item = {socket.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) <= 0) return std::nullopt;
  std::vector<std::string> frames;
  zmq::message_t frame;
  do {
    if (!socket.recv(frame, zmq::recv_flags::dontwait)) return std::nullopt;
    frames.push_back(frame.to_string());
  } while (frame.more());
  return frames;
}

}  // namespace quark::integration
