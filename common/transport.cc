#include "common/transport.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace quark {
namespace {

absl::Status ZmqError(absl::string_view what, const zmq::error_t& e) {
  return absl::UnavailableError(absl::StrCat(what, ": ", e.what()));
}

// Half-open TCP connections (a node unplugged, a cut link) are closed by
// TCP keepalive: first probe after 10 s idle, then every 5 s, 3 misses.
// Liveness itself is decided by the application heartbeats (Heartbeat
// messages), not here.
//
// Not ZMTP heartbeats (ZMQ_HEARTBEAT_IVL): with libzmq 4.3.4 a heartbeat
// timeout on a connection whose route was handed over to a reconnected
// peer (ZMQ_ROUTER_HANDOVER) aborts the process with "Assertion failed:
// !_io_error (src/stream_engine_base.cpp:331)"; tests/fault's cut-and-heal
// scenario reproduced it in about half of its runs.
void SetKeepalive(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::tcp_keepalive, 1);
  socket.set(zmq::sockopt::tcp_keepalive_idle, 10);
  socket.set(zmq::sockopt::tcp_keepalive_intvl, 5);
  socket.set(zmq::sockopt::tcp_keepalive_cnt, 3);
}

}  // namespace

absl::Status ConfigureRouter(zmq::socket_t& socket) {
  try {
    socket.set(zmq::sockopt::router_handover, true);
    socket.set(zmq::sockopt::router_mandatory, true);
    socket.set(zmq::sockopt::maxmsgsize, kMaxMessageBytes);
    socket.set(zmq::sockopt::handshake_ivl, 10000);
    socket.set(zmq::sockopt::linger, 0);
    SetKeepalive(socket);
  } catch (const zmq::error_t& e) {
    return ZmqError("configuring ROUTER socket", e);
  }
  return absl::OkStatus();
}

absl::Status ConfigureClient(zmq::socket_t& socket, const std::string& identity,
                             absl::Duration linger, bool immediate) {
  try {
    if (!identity.empty()) socket.set(zmq::sockopt::routing_id, identity);
    socket.set(zmq::sockopt::reconnect_ivl, 100);
    socket.set(zmq::sockopt::reconnect_ivl_max, 2000);
    socket.set(zmq::sockopt::maxmsgsize, kMaxMessageBytes);
    socket.set(zmq::sockopt::linger,
               static_cast<int>(absl::ToInt64Milliseconds(linger)));
    socket.set(zmq::sockopt::immediate, immediate);
    SetKeepalive(socket);
  } catch (const zmq::error_t& e) {
    return ZmqError("configuring client socket", e);
  }
  return absl::OkStatus();
}

// Declared by zmq.h only under ZMQ_BUILD_DRAFT_API, which Debian's
// libzmq3-dev leaves off; libzmq 4.3.4 honours it all the same.
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

absl::Status ConfigureCurveServer(zmq::socket_t& socket,
                                  const std::string& secret_key,
                                  const std::string& zap_domain) {
  try {
    socket.set(zmq::sockopt::curve_server, true);
    socket.set(zmq::sockopt::curve_secretkey, secret_key);
    socket.set(zmq::sockopt::zap_domain, zap_domain);
    const int enforce = 1;
    if (zmq_setsockopt(socket.handle(), ZMQ_ZAP_ENFORCE_DOMAIN, &enforce,
                       sizeof enforce) != 0) {
      throw zmq::error_t();
    }
  } catch (const zmq::error_t& e) {
    return ZmqError("configuring CURVE server", e);
  }
  return absl::OkStatus();
}

absl::Status ConfigureCurveClient(zmq::socket_t& socket,
                                  const std::string& server_key,
                                  const KeyPair& own) {
  try {
    socket.set(zmq::sockopt::curve_serverkey, server_key);
    socket.set(zmq::sockopt::curve_publickey, own.public_key);
    socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
  } catch (const zmq::error_t& e) {
    return ZmqError("configuring CURVE client", e);
  }
  return absl::OkStatus();
}

bool LoopbackEndpoint(const std::string& endpoint) {
  if (absl::StartsWith(endpoint, "ipc://") ||
      absl::StartsWith(endpoint, "inproc://")) {
    return true;
  }
  if (!absl::StartsWith(endpoint, "tcp://")) return false;
  const std::string rest = endpoint.substr(6);
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return false;
  // "*", an interface name or an outside address all reach the network.
  const std::string host = rest.substr(0, colon);
  return absl::StartsWith(host, "127.") || host == "[::1]" ||
         host == "localhost";
}

absl::Status Bind(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.bind(endpoint);
  } catch (const zmq::error_t& e) {
    return ZmqError(absl::StrCat("cannot bind ", endpoint), e);
  }
  return absl::OkStatus();
}

absl::Status Connect(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.connect(endpoint);
  } catch (const zmq::error_t& e) {
    return ZmqError(absl::StrCat("cannot connect to ", endpoint), e);
  }
  return absl::OkStatus();
}

absl::Status SendMessage(zmq::socket_t& socket,
                         const google::protobuf::MessageLite& message,
                         const std::string* route) {
  std::string payload;
  if (!message.SerializeToString(&payload)) {
    return absl::InternalError("cannot serialize message");
  }
  try {
    if (route != nullptr) {
      zmq::message_t head(route->data(), route->size());
      if (!socket.send(head,
                       zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        return absl::UnavailableError("send queue full");
      }
    }
    zmq::message_t body(payload.data(), payload.size());
    if (!socket.send(body, zmq::send_flags::dontwait)) {
      return absl::UnavailableError("send queue full");
    }
  } catch (const zmq::error_t& e) {
    // EHOSTUNREACH with ROUTER_MANDATORY: the peer is gone.
    return ZmqError("send", e);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::vector<zmq::message_t>>> ReceiveFrames(
    zmq::socket_t& socket) {
  std::vector<zmq::message_t> frames;
  try {
    do {
      zmq::message_t frame;
      if (!socket.recv(frame, zmq::recv_flags::dontwait)) {
        if (frames.empty()) return std::nullopt;
        // Parts of one message arrive together; this cannot happen.
        return absl::InternalError("truncated multipart message");
      }
      frames.push_back(std::move(frame));
    } while (frames.back().more());
  } catch (const zmq::error_t& e) {
    return ZmqError("recv", e);
  }
  return frames;
}

absl::Status ParseFrame(const zmq::message_t& frame,
                        google::protobuf::MessageLite* message,
                        int64_t max_bytes) {
  return ParseFrame(
      absl::string_view(static_cast<const char*>(frame.data()), frame.size()),
      message, max_bytes);
}

absl::Status ParseFrame(absl::string_view frame,
                        google::protobuf::MessageLite* message,
                        int64_t max_bytes) {
  if (frame.size() > static_cast<size_t>(max_bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame of ", frame.size(), " bytes is too large"));
  }
  if (!message->ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
    return absl::InvalidArgumentError(absl::StrCat("frame of ", frame.size(),
                                                   " bytes is not a valid ",
                                                   message->GetTypeName()));
  }
  return absl::OkStatus();
}

bool ValidNodeName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string FrameProperty(const zmq::message_t& frame, const char* name) {
  const char* value =
      zmq_msg_gets(const_cast<zmq::message_t&>(frame).handle(), name);
  return value == nullptr ? std::string() : std::string(value);
}

absl::StatusOr<std::string> ConnectEndpoint(absl::string_view text,
                                            int default_port) {
  auto invalid = [&text](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint '", text, "': ", why,
                     "; expected HOST, HOST:PORT or tcp://HOST:PORT (such as "
                     "10.0.0.1:7700)"));
  };
  absl::string_view rest = text;
  if (absl::StrContains(rest, "://") && !absl::ConsumePrefix(&rest, "tcp://")) {
    return std::string(text);  // ipc://, inproc://: ZeroMQ judges them
  }
  absl::string_view host = rest;
  absl::string_view port;
  if (absl::ConsumePrefix(&host, "[")) {
    const size_t close = host.find(']');
    if (close == absl::string_view::npos)
      return invalid("no ']' after the IPv6 address");
    absl::string_view after = host.substr(close + 1);
    host = host.substr(0, close);
    if (!after.empty() && !absl::ConsumePrefix(&after, ":")) {
      return invalid("expected ':' after ']'");
    }
    port = after;
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          return absl::ascii_isxdigit(static_cast<unsigned char>(c)) ||
                 c == ':' || c == '.';
        })) {
      return invalid("not an IPv6 address");
    }
  } else {
    const size_t colon = host.find(':');
    if (colon != absl::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    if (host.empty()) return invalid("no host");
    if (!std::all_of(host.begin(), host.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                 c == '.' || c == '-';
        })) {
      return invalid("a host is a name or an address");
    }
  }
  int number = default_port;
  if (!port.empty() || absl::EndsWith(rest, ":")) {
    if (!absl::SimpleAtoi(port, &number) || number < 1 || number > 65535 ||
        !std::all_of(port.begin(), port.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      return invalid("the port is a number from 1 to 65535");
    }
  }
  const bool v6 = absl::StartsWith(rest, "[");
  return absl::StrCat("tcp://", v6 ? "[" : "", host, v6 ? "]" : "", ":",
                      number);
}

std::string HostOfEndpoint(const std::string& endpoint) {
  const std::string scheme = "tcp://";
  if (endpoint.rfind(scheme, 0) != 0) return "127.0.0.1";
  const std::string rest = endpoint.substr(scheme.size());
  std::string host = rest.substr(0, rest.rfind(':'));
  if (host.empty() || host == "*") return "127.0.0.1";
  return host;
}

std::string ConnectableEndpoint(const std::string& bind_endpoint,
                                const std::string& host) {
  const std::string scheme = "tcp://";
  if (bind_endpoint.rfind(scheme, 0) != 0) return bind_endpoint;
  const size_t colon = bind_endpoint.rfind(':');
  if (colon == std::string::npos || colon < scheme.size()) return bind_endpoint;
  const std::string bound_host =
      bind_endpoint.substr(scheme.size(), colon - scheme.size());
  if (bound_host != "*" && bound_host != "0.0.0.0" && bound_host != "[::]") {
    return bind_endpoint;
  }
  return absl::StrCat(scheme, host, bind_endpoint.substr(colon));
}

}  // namespace quark
