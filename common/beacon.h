// LAN discovery: the controller says where it is in a small UDP broadcast
// about once a second, and a worker with no `controller` setting listens
// for it (the ZeroMQ guide's zbeacon, ZRE's beacon). A beacon only says
// where: trust comes from the key, which a worker compares with the one its
// join token pins, and which CURVE checks again on connect. A rogue beacon
// can at worst delay a worker, never make it talk to another controller.
//
// A beacon is 41 bytes:
//   "QRKB"       magic
//   0x01         version
//   32 bytes     the controller's CURVE public key
//   uint16 BE    control port (the workers' control channel)
//   uint16 BE    enroll port (0: the controller takes no enrollments)
//
// The controller beacons on the broadcast-capable IPv4 interfaces its
// control endpoint is bound to: all of them for "tcp://*:7700", the one
// holding the address for "tcp://10.77.0.1:7700", none for loopback;
// a list of interface names overrides that.
#ifndef QUARK_COMMON_BEACON_H_
#define QUARK_COMMON_BEACON_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quark {

inline constexpr uint16_t kDefaultBeaconPort = 7700;
inline constexpr size_t kBeaconBytes = 41;

struct Beacon {
  std::string controller_key;  // Z85
  uint16_t control_port = 0;
  uint16_t enroll_port = 0;  // 0: no enrollment
};

// The datagram of `beacon`; "" when its key is not a Z85 CURVE key.
std::string EncodeBeacon(const Beacon& beacon);

// InvalidArgument naming the defect for a datagram that is not a Quark
// beacon: wrong size, magic, version, or a zero control port.
absl::StatusOr<Beacon> DecodeBeacon(absl::string_view datagram);

// One IPv4 address of an interface, as getifaddrs(3) lists it. Addresses
// in network byte order, as in struct in_addr.
struct NetInterface {
  std::string name;  // "eth0"
  uint32_t address = 0;
  uint32_t netmask = 0;
  // The kernel's, or address | ~netmask when it has none (an address
  // added without "brd +"); 0 when the interface cannot broadcast.
  uint32_t broadcast = 0;
  bool up = false;
  bool loopback = false;
  bool can_broadcast = false;  // IFF_BROADCAST
};

// The machine's IPv4 interface addresses, up or not.
absl::StatusOr<std::vector<NetInterface>> ListInterfaces();

// Where a controller whose control endpoint is `control_endpoint` beacons:
// with `only` non-empty, the up, broadcast-capable interfaces named in it;
// else for a wildcard host ("*", "0.0.0.0") every up, broadcast-capable,
// non-loopback interface; for an IPv4 address the interfaces holding it
// (none when it is loopback); for a host name, those holding an address
// it resolves to. Never a loopback interface, even when named.
std::vector<NetInterface> BeaconInterfaces(
    const std::vector<NetInterface>& all, const std::string& control_endpoint,
    const std::vector<std::string>& only);

// "10.77.0.1" for an address in network byte order.
std::string FormatIpv4(uint32_t address);

// Sends beacons to the broadcast address of each interface, from that
// interface's own address (one UDP socket per address, SO_BROADCAST),
// so each goes out where it is meant to and nowhere else.
// Not thread-safe.
class BeaconSender {
 public:
  explicit BeaconSender(uint16_t port) : port_(port) {}
  ~BeaconSender();
  BeaconSender(const BeaconSender&) = delete;
  BeaconSender& operator=(const BeaconSender&) = delete;

  // Sends `datagram` once on each of `interfaces`. Sockets are made on
  // first use and kept; those of interfaces no longer listed are closed.
  // Returns the first error (the others are still tried); the caller logs
  // it, at most now and then: an interface going down is no reason to
  // stop.
  absl::Status Send(const std::string& datagram,
                    const std::vector<NetInterface>& interfaces);

 private:
  struct Socket {
    uint32_t address = 0;
    int fd = -1;
  };
  // Sends on one interface, opening its socket if need be; a socket
  // that fails to send is closed, to be made afresh next time.
  absl::Status SendOn(const std::string& datagram,
                      const NetInterface& interface);

  const uint16_t port_;
  std::vector<Socket> sockets_;
};

// A worker's ear for beacons: a UDP socket bound to 0.0.0.0:`port` with
// SO_REUSEADDR, so that several workers on one machine all hear them.
// Not thread-safe.
class BeaconListener {
 public:
  // Fails naming the port when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<BeaconListener>> Open(uint16_t port);
  ~BeaconListener();
  BeaconListener(const BeaconListener&) = delete;
  BeaconListener& operator=(const BeaconListener&) = delete;

  // Readable (POLLIN) while a datagram waits.
  int fd() const { return fd_; }

  struct Heard {
    Beacon beacon;
    std::string from;  // the sender's IPv4 address, "10.77.0.1"
  };
  // The next valid beacon waiting, without blocking; nullopt when none is
  // left, or after kMaxDatagramsPerCall datagrams that were no beacon
  // (skipped and counted): the fd stays readable for the next poll.
  // Callers read at most kMaxDatagramsPerCall beacons per wake-up too.
  static constexpr int kMaxDatagramsPerCall = 64;
  std::optional<Heard> Receive();
  uint64_t malformed() const { return malformed_; }

 private:
  explicit BeaconListener(int fd) : fd_(fd) {}
  const int fd_;
  uint64_t malformed_ = 0;
};

}  // namespace quark

#endif  // QUARK_COMMON_BEACON_H_
