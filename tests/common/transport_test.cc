#include "common/transport.h"

#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace quark {
namespace {

TEST(TransportTest, ValidNodeNames) {
  const std::string longest(64, 'a');
  for (const std::string& name : {std::string("pi-1"), std::string("a"),
                                  std::string("node_2.lan"), longest}) {
    EXPECT_TRUE(ValidNodeName(name)) << name;
  }
  for (const std::string& name :
       {std::string(""), longest + "a", std::string("pi 1"),
        std::string("pi/1"), std::string("p\xc3\xa9"), std::string("a:b")}) {
    EXPECT_FALSE(ValidNodeName(name)) << name;
  }
}

TEST(TransportTest, HostOfEndpoint) {
  const struct {
    const char* endpoint;
    const char* host;
  } cases[] = {
      {"tcp://10.0.0.5:7700", "10.0.0.5"}, {"tcp://ctl.lan:7700", "ctl.lan"},
      {"tcp://[::1]:7700", "[::1]"},       {"tcp://*:7700", "127.0.0.1"},
      {"ipc:///tmp/quark", "127.0.0.1"},
  };
  for (const auto& c : cases) EXPECT_EQ(HostOfEndpoint(c.endpoint), c.host);
}

TEST(TransportTest, ConnectEndpointTakesWhatOperatorsType) {
  const std::pair<const char*, const char*> good[] = {
      {"tcp://10.0.0.1:7700", "tcp://10.0.0.1:7700"},
      {"10.0.0.1:27700", "tcp://10.0.0.1:27700"},
      {"10.0.0.1", "tcp://10.0.0.1:7700"},
      {"tcp://pi-01.local", "tcp://pi-01.local:7700"},
      {"pi-01.local:7800", "tcp://pi-01.local:7800"},
      {"[::1]:7700", "tcp://[::1]:7700"},
      {"[fe80::1]", "tcp://[fe80::1]:7700"},
      {"ipc:///run/quark.sock", "ipc:///run/quark.sock"},
  };
  for (const auto& [text, want] : good) {
    auto got = ConnectEndpoint(text, 7700);
    ASSERT_TRUE(got.ok()) << text << ": " << got.status();
    EXPECT_EQ(*got, want) << text;
  }
  const std::pair<const char*, const char*> bad[] = {
      {"", "no host"},
      {":7700", "no host"},
      {"10.0.0.1:", "the port is a number from 1 to 65535"},
      {"10.0.0.1:0", "the port is a number from 1 to 65535"},
      {"10.0.0.1:65536", "the port is a number from 1 to 65535"},
      {"10.0.0.1:77x", "the port is a number from 1 to 65535"},
      {"10.0.0.1:+80", "the port is a number from 1 to 65535"},
      {"tcp://*:7700", "a host is a name or an address"},
      {"my host:7700", "a host is a name or an address"},
      {"[::1", "no ']' after the IPv6 address"},
      {"[::1]7700", "expected ':' after ']'"},
      {"[zz]:1", "not an IPv6 address"},
  };
  for (const auto& [text, why] : bad) {
    auto got = ConnectEndpoint(text, 7700);
    ASSERT_FALSE(got.ok()) << text;
    EXPECT_EQ(got.status().message(),
              std::string("endpoint '") + text + "': " + why +
                  "; expected HOST, HOST:PORT or tcp://HOST:PORT (such as "
                  "10.0.0.1:7700)")
        << text;
  }
}

}  // namespace
}  // namespace quark
