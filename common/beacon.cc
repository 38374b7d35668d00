#include "common/beacon.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/keys.h"
#include "common/log.h"

namespace quark {
namespace {

constexpr char kMagic[] = "QRKB";
constexpr size_t kMagicBytes = 4;
constexpr uint8_t kVersion = 1;
constexpr size_t kKeyBytes = 32;
constexpr size_t kKeyOffset = kMagicBytes + 1;
constexpr size_t kControlPortOffset = kKeyOffset + kKeyBytes;
constexpr size_t kEnrollPortOffset = kControlPortOffset + 2;
static_assert(kEnrollPortOffset + 2 == kBeaconBytes);

void PutPort(uint16_t port, std::string* out) {
  out->push_back(static_cast<char>(port >> 8));
  out->push_back(static_cast<char>(port & 0xff));
}

uint16_t GetPort(absl::string_view datagram, size_t offset) {
  return static_cast<uint16_t>((static_cast<uint8_t>(datagram[offset]) << 8) |
                               static_cast<uint8_t>(datagram[offset + 1]));
}

uint32_t AddressOf(const sockaddr* address) {
  if (address == nullptr || address->sa_family != AF_INET) return 0;
  return reinterpret_cast<const sockaddr_in*>(address)->sin_addr.s_addr;
}

sockaddr_in SocketAddress(uint32_t address, uint16_t port) {
  sockaddr_in sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = address;
  sa.sin_port = htons(port);
  return sa;
}

absl::Status SocketError(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// The host of a "tcp://HOST:PORT" endpoint; "" for any other.
std::string EndpointHost(const std::string& endpoint) {
  constexpr char kScheme[] = "tcp://";
  if (!absl::StartsWith(endpoint, kScheme)) return "";
  const std::string rest = endpoint.substr(sizeof(kScheme) - 1);
  const size_t colon = rest.rfind(':');
  return colon == std::string::npos ? "" : rest.substr(0, colon);
}

// The IPv4 addresses `host` names: a literal, or what it resolves to.
std::vector<uint32_t> HostAddresses(const std::string& host) {
  in_addr literal;
  if (inet_pton(AF_INET, host.c_str(), &literal) == 1) return {literal.s_addr};
  addrinfo hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* results = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &results) != 0) return {};
  std::vector<uint32_t> addresses;
  for (const addrinfo* r = results; r != nullptr; r = r->ai_next) {
    addresses.push_back(AddressOf(r->ai_addr));
  }
  freeaddrinfo(results);
  return addresses;
}

// A UDP socket that sends from `address`, to broadcast addresses too.
absl::StatusOr<int> OpenSenderSocket(uint32_t address) {
  const int fd =
      ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return SocketError("socket");
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)) != 0) {
    const absl::Status status = SocketError("SO_BROADCAST");
    ::close(fd);
    return status;
  }
  const sockaddr_in from = SocketAddress(address, 0);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof(from)) != 0) {
    const absl::Status status = SocketError("bind");
    ::close(fd);
    return status;
  }
  return fd;
}

bool Beaconable(const NetInterface& interface) {
  return interface.up && interface.can_broadcast && !interface.loopback;
}

}  // namespace

std::string EncodeBeacon(const Beacon& beacon) {
  uint8_t key[kKeyBytes];
  if (!DecodeZ85Key(beacon.controller_key, key)) return "";
  std::string datagram(kMagic, kMagicBytes);
  datagram.push_back(static_cast<char>(kVersion));
  datagram.append(reinterpret_cast<const char*>(key), sizeof(key));
  PutPort(beacon.control_port, &datagram);
  PutPort(beacon.enroll_port, &datagram);
  return datagram;
}

absl::StatusOr<Beacon> DecodeBeacon(absl::string_view datagram) {
  // Magic and version come before the size, so that a later version's
  // beacon, which may be longer, is named as such.
  if (datagram.size() < kKeyOffset) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a Quark beacon: ", datagram.size(),
                     " bytes, a beacon has ", kBeaconBytes));
  }
  if (datagram.substr(0, kMagicBytes) !=
      absl::string_view(kMagic, kMagicBytes)) {
    return absl::InvalidArgumentError(
        "not a Quark beacon: it does not start with \"QRKB\"");
  }
  const uint8_t version = static_cast<uint8_t>(datagram[kMagicBytes]);
  if (version != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("a version ", version,
                     " beacon; this Quark reads version ", kVersion, " only"));
  }
  if (datagram.size() != kBeaconBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a beacon of ", datagram.size(), " bytes, expected ", kBeaconBytes));
  }
  Beacon beacon;
  beacon.control_port = GetPort(datagram, kControlPortOffset);
  beacon.enroll_port = GetPort(datagram, kEnrollPortOffset);
  if (beacon.control_port == 0) {
    return absl::InvalidArgumentError("a beacon with control port 0");
  }
  beacon.controller_key = EncodeZ85Key(
      reinterpret_cast<const uint8_t*>(datagram.data()) + kKeyOffset);
  if (beacon.controller_key.empty()) {
    return absl::InternalError("cannot encode a beacon's key in Z85");
  }
  return beacon;
}

absl::StatusOr<std::vector<NetInterface>> ListInterfaces() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return SocketError("getifaddrs");
  std::vector<NetInterface> interfaces;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    NetInterface interface;
    interface.name = i->ifa_name;
    interface.address = AddressOf(i->ifa_addr);
    interface.netmask = AddressOf(i->ifa_netmask);
    interface.up = (i->ifa_flags & IFF_UP) != 0;
    interface.loopback = (i->ifa_flags & IFF_LOOPBACK) != 0;
    interface.can_broadcast = (i->ifa_flags & IFF_BROADCAST) != 0;
    if (interface.can_broadcast) {
      // An address added without "brd +" has no broadcast address of its
      // own (glibc then reports the address itself, or 0); the subnet's is
      // the one its neighbours listen on.
      interface.broadcast = AddressOf(i->ifa_broadaddr);
      if (interface.broadcast == 0 ||
          interface.broadcast == interface.address) {
        interface.broadcast = interface.address | ~interface.netmask;
      }
    }
    interfaces.push_back(std::move(interface));
  }
  freeifaddrs(list);
  return interfaces;
}

std::vector<NetInterface> BeaconInterfaces(
    const std::vector<NetInterface>& all, const std::string& control_endpoint,
    const std::vector<std::string>& only) {
  std::vector<NetInterface> chosen;
  if (!only.empty()) {
    for (const NetInterface& interface : all) {
      if (Beaconable(interface) &&
          std::find(only.begin(), only.end(), interface.name) != only.end()) {
        chosen.push_back(interface);
      }
    }
    return chosen;
  }
  const std::string host = EndpointHost(control_endpoint);
  if (host.empty()) return chosen;
  const bool wildcard = host == "*" || host == "0.0.0.0" || host == "[::]";
  // ZeroMQ binds "tcp://eth0:7700" to eth0's address, so an interface
  // name counts before a host name is looked up.
  const bool is_interface_name =
      std::any_of(all.begin(), all.end(),
                  [&](const NetInterface& i) { return i.name == host; });
  std::vector<uint32_t> addresses;
  if (!wildcard && !is_interface_name) addresses = HostAddresses(host);
  for (const NetInterface& interface : all) {
    if (!Beaconable(interface)) continue;
    if (wildcard || (is_interface_name && interface.name == host) ||
        std::find(addresses.begin(), addresses.end(), interface.address) !=
            addresses.end()) {
      chosen.push_back(interface);
    }
  }
  return chosen;
}

std::string FormatIpv4(uint32_t address) {
  in_addr in;
  in.s_addr = address;
  char text[INET_ADDRSTRLEN];
  if (inet_ntop(AF_INET, &in, text, sizeof(text)) == nullptr) return "";
  return text;
}

BeaconSender::~BeaconSender() {
  for (const Socket& socket : sockets_) ::close(socket.fd);
}

absl::Status BeaconSender::Send(const std::string& datagram,
                                const std::vector<NetInterface>& interfaces) {
  // Sockets of addresses gone from the list go first.
  std::erase_if(sockets_, [&](const Socket& socket) {
    const bool gone = std::none_of(
        interfaces.begin(), interfaces.end(),
        [&](const NetInterface& i) { return i.address == socket.address; });
    if (gone) ::close(socket.fd);
    return gone;
  });
  absl::Status first;
  for (const NetInterface& interface : interfaces) {
    absl::Status status = SendOn(datagram, interface);
    if (first.ok()) first = status;
  }
  return first;
}

absl::Status BeaconSender::SendOn(const std::string& datagram,
                                  const NetInterface& interface) {
  const std::string where = absl::StrCat(
      "beacon on ", interface.name, " from ", FormatIpv4(interface.address),
      " to ", FormatIpv4(interface.broadcast), ":", port_);
  if (interface.broadcast == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": the interface has no broadcast address"));
  }
  auto it =
      std::find_if(sockets_.begin(), sockets_.end(), [&](const Socket& socket) {
        return socket.address == interface.address;
      });
  if (it == sockets_.end()) {
    absl::StatusOr<int> fd = OpenSenderSocket(interface.address);
    if (!fd.ok()) {
      return absl::Status(fd.status().code(),
                          absl::StrCat(where, ": ", fd.status().message()));
    }
    it = sockets_.insert(sockets_.end(), Socket{interface.address, *fd});
  }
  const sockaddr_in to = SocketAddress(interface.broadcast, port_);
  ssize_t sent;
  do {
    sent = ::sendto(it->fd, datagram.data(), datagram.size(), 0,
                    reinterpret_cast<const sockaddr*>(&to), sizeof(to));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    const int error = errno;
    absl::Status status = absl::UnavailableError(
        absl::StrCat(where, ": sendto: ", std::strerror(error)));
    // The address may have gone and come back: a new socket next time.
    ::close(it->fd);
    sockets_.erase(it);
    return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BeaconListener>> BeaconListener::Open(
    uint16_t port) {
  const std::string what =
      absl::StrCat("cannot listen for beacons on UDP port ", port);
  const int fd =
      ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return SocketError(what);
  const int on = 1;
  const sockaddr_in any = SocketAddress(htonl(INADDR_ANY), port);
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
      ::bind(fd, reinterpret_cast<const sockaddr*>(&any), sizeof(any)) != 0) {
    const absl::Status status = SocketError(what);
    ::close(fd);
    return status;
  }
  return std::unique_ptr<BeaconListener>(new BeaconListener(fd));
}

BeaconListener::~BeaconListener() { ::close(fd_); }

std::optional<BeaconListener::Heard> BeaconListener::Receive() {
  // One byte more than a beacon, so that a longer datagram is seen to be.
  char buffer[kBeaconBytes + 1];
  // Bounded: a flood of garbage must not keep the caller's loop here.
  for (int read = 0; read < kMaxDatagramsPerCall; ++read) {
    sockaddr_in from;
    socklen_t from_size = sizeof(from);
    const ssize_t n =
        ::recvfrom(fd_, buffer, sizeof(buffer), 0,
                   reinterpret_cast<sockaddr*>(&from), &from_size);
    if (n < 0) {
      if (errno == EINTR) continue;
      // EAGAIN: nothing left. Any other error is the socket's, not a
      // datagram's, and the next poll tries again.
      return std::nullopt;
    }
    absl::StatusOr<Beacon> beacon =
        DecodeBeacon(absl::string_view(buffer, static_cast<size_t>(n)));
    if (!beacon.ok()) {
      ++malformed_;
      QLOG(kDebug) << "beacon refused from=" << FormatIpv4(from.sin_addr.s_addr)
                   << " error=\"" << beacon.status().message() << "\"";
      continue;
    }
    return Heard{*std::move(beacon), FormatIpv4(from.sin_addr.s_addr)};
  }
  return std::nullopt;
}

}  // namespace quark
