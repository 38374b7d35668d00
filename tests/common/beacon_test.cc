// LAN beacons (common/beacon.h). Only loopback is ever sent on: the
// sender is handed a made-up interface whose "broadcast" address is
// 127.0.0.1, which goes through the same code as a real broadcast.
#include "common/beacon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "common/keys.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

uint32_t Ip(const char* text) {
  in_addr address;
  EXPECT_EQ(inet_pton(AF_INET, text, &address), 1) << text;
  return address.s_addr;
}

NetInterface Interface(const std::string& name, const char* address,
                       const char* netmask, bool up = true,
                       bool can_broadcast = true, bool loopback = false) {
  NetInterface i;
  i.name = name;
  i.address = Ip(address);
  i.netmask = Ip(netmask);
  i.broadcast = can_broadcast ? (i.address | ~i.netmask) : 0;
  i.up = up;
  i.can_broadcast = can_broadcast;
  i.loopback = loopback;
  return i;
}

std::string NewKey() {
  absl::StatusOr<KeyPair> pair = GenerateKeyPair();
  EXPECT_TRUE(pair.ok()) << pair.status();
  return pair.ok() ? pair->public_key : "";
}

std::vector<std::string> Names(const std::vector<NetInterface>& interfaces) {
  std::vector<std::string> names;
  for (const NetInterface& i : interfaces) names.push_back(i.name);
  return names;
}

// A UDP port free on loopback just now, as the OS picks it.
uint16_t FreeUdpPort() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in address;
  std::memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
            0);
  socklen_t size = sizeof(address);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size), 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

// Sends `datagram` from a plain socket to 127.0.0.1:`port`.
void SendRaw(const std::string& datagram, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to;
  std::memset(&to, 0, sizeof(to));
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  EXPECT_EQ(::sendto(fd, datagram.data(), datagram.size(), 0,
                     reinterpret_cast<sockaddr*>(&to), sizeof(to)),
            static_cast<ssize_t>(datagram.size()));
  ::close(fd);
}

// The next beacon the listener hears, waiting for one up to 5 s.
std::optional<BeaconListener::Heard> WaitForBeacon(BeaconListener& listener) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    if (auto heard = listener.Receive()) return heard;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{listener.fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
}

TEST(BeaconTest, EncodesAndDecodesBack) {
  const Beacon beacon{NewKey(), 7700, 7701};
  const std::string datagram = EncodeBeacon(beacon);
  ASSERT_EQ(datagram.size(), kBeaconBytes);
  EXPECT_EQ(datagram.substr(0, 5), std::string("QRKB\x01"));
  // Ports big-endian at the end.
  EXPECT_EQ(datagram.substr(37), std::string("\x1e\x14\x1e\x15"));
  absl::StatusOr<Beacon> decoded = DecodeBeacon(datagram);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->controller_key, beacon.controller_key);
  EXPECT_EQ(decoded->control_port, 7700);
  EXPECT_EQ(decoded->enroll_port, 7701);

  // No enrollment, and the highest port.
  decoded = DecodeBeacon(EncodeBeacon({beacon.controller_key, 65535, 0}));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->control_port, 65535);
  EXPECT_EQ(decoded->enroll_port, 0);
}

TEST(BeaconTest, EncodeRefusesABadKey) {
  const std::string key = NewKey();
  for (const std::string& bad :
       {std::string(""), std::string("abc"), key.substr(1) + "\"",
        key.substr(0, 35) + std::string(5, '\0')}) {
    EXPECT_EQ(EncodeBeacon({bad, 7700, 0}), "");
  }
}

TEST(BeaconTest, DecodeNamesEachDefect) {
  const std::string good = EncodeBeacon({NewKey(), 7700, 7701});
  ASSERT_EQ(good.size(), kBeaconBytes);
  std::string bad_magic = good;
  bad_magic[3] = 'X';
  std::string version2 = good;
  version2[4] = 2;
  std::string version0 = good;
  version0[4] = 0;
  std::string port0 = good;
  port0[37] = port0[38] = 0;
  const struct {
    std::string datagram;
    std::string error;
  } cases[] = {
      {"", "not a Quark beacon: 0 bytes, a beacon has 41"},
      {"QRK", "not a Quark beacon: 3 bytes"},
      {good.substr(0, 40), "a beacon of 40 bytes, expected 41"},
      {good + "x", "a beacon of 42 bytes, expected 41"},
      {bad_magic, "not a Quark beacon: it does not start with \"QRKB\""},
      {std::string(41, '\0'), "does not start with \"QRKB\""},
      {version2, "a version 2 beacon; this Quark reads version 1 only"},
      {version2 + "more", "a version 2 beacon"},
      {version0, "a version 0 beacon"},
      {port0, "a beacon with control port 0"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<Beacon> decoded = DecodeBeacon(c.datagram);
    ASSERT_FALSE(decoded.ok()) << c.error;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(decoded.status().message().find(c.error), std::string::npos)
        << decoded.status().message() << "\nwanted: " << c.error;
  }
}

TEST(BeaconTest, ChoosesInterfaces) {
  const std::vector<NetInterface> all = {
      Interface("lo", "127.0.0.1", "255.0.0.0", true, false, true),
      Interface("eth0", "10.77.0.1", "255.255.255.0"),
      Interface("eth0", "192.168.1.5", "255.255.0.0"),  // a second address
      Interface("wlan0", "172.16.3.9", "255.255.240.0"),
      Interface("eth1", "10.88.0.1", "255.255.255.0", /*up=*/false),
      Interface("wg0", "10.99.0.1", "255.255.255.0", true, /*broadcast=*/false),
      // A loopback that claims to broadcast is still loopback.
      Interface("lo2", "127.0.0.2", "255.0.0.0", true, true, true),
  };
  const struct {
    std::string endpoint;
    std::vector<std::string> only;
    std::vector<std::string> want;
  } cases[] = {
      {"tcp://*:7700", {}, {"eth0", "eth0", "wlan0"}},
      {"tcp://0.0.0.0:7700", {}, {"eth0", "eth0", "wlan0"}},
      {"tcp://[::]:7700", {}, {"eth0", "eth0", "wlan0"}},
      {"tcp://10.77.0.1:7700", {}, {"eth0"}},
      {"tcp://172.16.3.9:7700", {}, {"wlan0"}},
      {"tcp://127.0.0.1:7700", {}, {}},
      {"tcp://127.0.0.2:7700", {}, {}},
      {"tcp://localhost:7700", {}, {}},
      {"tcp://10.88.0.1:7700", {}, {}},     // down
      {"tcp://10.99.0.1:7700", {}, {}},     // cannot broadcast
      {"tcp://10.1.2.3:7700", {}, {}},      // nobody's
      {"tcp://wlan0:7700", {}, {"wlan0"}},  // ZeroMQ's interface-name form
      {"tcp://no-such-host.invalid:7700", {}, {}},
      {"tcp://[::1]:7700", {}, {}},
      {"ipc:///run/quark/control", {}, {}},
      {"tcp://10.77.0.1", {}, {}},  // no port: not an endpoint
      {"", {}, {}},
      {"tcp://127.0.0.1:7700", {"wlan0"}, {"wlan0"}},
      {"tcp://*:7700",
       {"eth0", "eth1", "lo", "lo2", "wg0", "nope"},
       {"eth0", "eth0"}},
      {"tcp://*:7700", {"lo"}, {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Names(BeaconInterfaces(all, c.endpoint, c.only)), c.want)
        << c.endpoint;
  }
  // The chosen entries are the interfaces' own, addresses and all.
  const std::vector<NetInterface> eth0 =
      BeaconInterfaces(all, "tcp://192.168.1.5:7700", {});
  ASSERT_EQ(eth0.size(), 1u);
  EXPECT_EQ(eth0[0].address, Ip("192.168.1.5"));
  EXPECT_EQ(eth0[0].broadcast, Ip("192.168.255.255"));
}

TEST(BeaconTest, FormatsIpv4) {
  for (const char* text : {"10.77.0.1", "0.0.0.0", "255.255.255.255",
                           "127.0.0.1", "192.168.1.20"}) {
    EXPECT_EQ(FormatIpv4(Ip(text)), text);
  }
  EXPECT_EQ(FormatIpv4(htonl(0x0a4d0001)), "10.77.0.1");
}

TEST(BeaconTest, ListsInterfaces) {
  absl::StatusOr<std::vector<NetInterface>> all = ListInterfaces();
  ASSERT_TRUE(all.ok()) << all.status();
  for (const NetInterface& i : *all) {
    EXPECT_FALSE(i.name.empty());
    if (i.can_broadcast) {
      EXPECT_NE(i.broadcast, 0u) << i.name;
    } else {
      EXPECT_EQ(i.broadcast, 0u) << i.name;
    }
    if (i.address == Ip("127.0.0.1")) {
      EXPECT_TRUE(i.loopback) << i.name;
    }
  }
}

class BeaconLoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = FreeUdpPort();
    absl::StatusOr<std::unique_ptr<BeaconListener>> listener =
        BeaconListener::Open(port_);
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
    key_ = NewKey();
  }

  // Loopback dressed as a broadcast interface: unicast to 127.0.0.1.
  static NetInterface Loopback() {
    NetInterface lo = Interface("lo", "127.0.0.1", "255.0.0.0");
    lo.broadcast = Ip("127.0.0.1");
    return lo;
  }

  uint16_t port_ = 0;
  std::unique_ptr<BeaconListener> listener_;
  std::string key_;
};

TEST_F(BeaconLoopbackTest, ListenerHearsTheSender) {
  EXPECT_FALSE(listener_->Receive().has_value());
  BeaconSender sender(port_);
  const std::string datagram = EncodeBeacon({key_, 7700, 7701});
  ASSERT_TRUE(sender.Send(datagram, {Loopback()}).ok());
  std::optional<BeaconListener::Heard> heard = WaitForBeacon(*listener_);
  ASSERT_TRUE(heard.has_value());
  EXPECT_EQ(heard->beacon.controller_key, key_);
  EXPECT_EQ(heard->beacon.control_port, 7700);
  EXPECT_EQ(heard->beacon.enroll_port, 7701);
  EXPECT_EQ(heard->from, "127.0.0.1");
  EXPECT_EQ(listener_->malformed(), 0u);

  // Again, on the socket kept from the first time.
  ASSERT_TRUE(sender.Send(datagram, {Loopback()}).ok());
  EXPECT_TRUE(WaitForBeacon(*listener_).has_value());
  // An empty list closes it; the next send makes a new one.
  ASSERT_TRUE(sender.Send(datagram, {}).ok());
  ASSERT_TRUE(sender.Send(datagram, {Loopback()}).ok());
  EXPECT_TRUE(WaitForBeacon(*listener_).has_value());
  EXPECT_FALSE(listener_->Receive().has_value());
}

TEST_F(BeaconLoopbackTest, SkipsAndCountsWhatIsNoBeacon) {
  SendRaw("hello", port_);
  SendRaw(std::string(41, 'x'), port_);
  SendRaw(std::string(2000, 'Q'), port_);
  SendRaw(EncodeBeacon({key_, 7700, 0}), port_);
  std::optional<BeaconListener::Heard> heard = WaitForBeacon(*listener_);
  ASSERT_TRUE(heard.has_value());
  EXPECT_EQ(heard->beacon.controller_key, key_);
  EXPECT_EQ(heard->beacon.enroll_port, 0);
  EXPECT_EQ(listener_->malformed(), 3u);
  EXPECT_FALSE(listener_->Receive().has_value());
}

TEST_F(BeaconLoopbackTest, ReceiveNeverBlocks) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(listener_->Receive().has_value());
  EXPECT_FALSE(listener_->Receive().has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(listener_->malformed(), 0u);
}

TEST_F(BeaconLoopbackTest, SendReportsABadInterfaceAndStillSendsOnTheRest) {
  // An address this machine does not have, so binding to it fails; aimed
  // at loopback all the same, so nothing could leave the machine even
  // where net.ipv4.ip_nonlocal_bind let the bind succeed.
  NetInterface nowhere = Interface("gone0", "10.255.77.1", "255.255.255.0");
  nowhere.broadcast = Ip("127.0.0.1");
  NetInterface unbroadcastable = Loopback();
  unbroadcastable.name = "p2p0";
  unbroadcastable.broadcast = 0;
  BeaconSender sender(port_);
  const absl::Status status = sender.Send(
      EncodeBeacon({key_, 7700, 0}), {nowhere, unbroadcastable, Loopback()});
  EXPECT_FALSE(status.ok());
  // The first error, naming the interface and addresses.
  EXPECT_NE(status.message().find("gone0"), std::string::npos) << status;
  EXPECT_NE(status.message().find("10.255.77.1"), std::string::npos) << status;
  EXPECT_TRUE(WaitForBeacon(*listener_).has_value());
}

TEST_F(BeaconLoopbackTest, ListenersShareAPort) {
  absl::StatusOr<std::unique_ptr<BeaconListener>> second =
      BeaconListener::Open(port_);
  ASSERT_TRUE(second.ok()) << second.status();
}

}  // namespace
}  // namespace quark
