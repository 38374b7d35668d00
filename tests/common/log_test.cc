#include "common/log.h"

#include <string>

#include "gtest/gtest.h"

namespace quark {
namespace {

TEST(LogTest, PrintableKeepsNamesAndMasksBinaryIds) {
  EXPECT_EQ(Printable("pi-07.local"), "pi-07.local");
  // A routing id libzmq made: a zero byte, then four random ones.
  EXPECT_EQ(Printable(std::string("\0k\xc3\x45g", 5)), "?k?Eg");
  EXPECT_EQ(Printable("a b\n"), "a?b?");
}

TEST(LogTest, ParsesTheFiveLevels) {
  LogLevel level = LogLevel::kInfo;
  EXPECT_TRUE(ParseLogLevel("debug", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_FALSE(ParseLogLevel("verbose", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
}

}  // namespace
}  // namespace quark
