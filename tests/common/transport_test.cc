#include "common/transport.h"

#include <string>

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

}  // namespace
}  // namespace quark
