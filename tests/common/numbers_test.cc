#include "common/numbers.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace quark {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

struct Valid {
  const char* text;
  uint64_t want;
};

class ValidNumberTest : public testing::TestWithParam<Valid> {};

TEST_P(ValidNumberTest, Parses) {
  const auto got = ParseNumber(GetParam().text);
  ASSERT_TRUE(got.ok()) << GetParam().text << ": " << got.status();
  EXPECT_EQ(*got, GetParam().want) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Numbers, ValidNumberTest,
    testing::Values(Valid{"0", 0}, Valid{"7", 7}, Valid{"100000", 100000},
                    Valid{"007", 7}, Valid{"1e10", 10000000000ull},
                    Valid{"2e9", 2000000000ull}, Valid{"2E9", 2000000000ull},
                    Valid{"1.5e9", 1500000000ull}, Valid{"1.25e2", 125},
                    Valid{"1.50e1", 15}, Valid{"2.0", 2}, Valid{"0e999", 0},
                    Valid{"0.0", 0}, Valid{"10^12", 1000000000000ull},
                    Valid{"2^0", 1}, Valid{"0^0", 1}, Valid{"1^100000", 1},
                    Valid{"2^63", uint64_t{1} << 63}, Valid{"2^64-1", kMax},
                    Valid{"18446744073709551615", kMax},
                    Valid{"1e19+8446744073709551615", kMax},
                    Valid{"1e12+1000", 1000000000000ull + 1000},
                    Valid{"1e12 + 1000", 1000000000000ull + 1000},
                    Valid{" 42 ", 42}, Valid{"10^6-10^3+1", 999001},
                    Valid{"2^65-2^64-2^63", uint64_t{1} << 63},
                    Valid{"1-1", 0}));

struct Invalid {
  const char* text;
  absl::StatusCode code;
  const char* message;  // a part of the error message
};

class InvalidNumberTest : public testing::TestWithParam<Invalid> {};

TEST_P(InvalidNumberTest, IsRejectedWithAClearMessage) {
  const auto got = ParseNumber(GetParam().text);
  ASSERT_FALSE(got.ok()) << GetParam().text << " parsed as " << *got;
  EXPECT_EQ(got.status().code(), GetParam().code) << got.status();
  const std::string message(got.status().message());
  EXPECT_NE(message.find(GetParam().message), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  if (*GetParam().text != '\0') {
    EXPECT_NE(message.find(std::string("\"") + GetParam().text + "\""),
              std::string::npos)
        << "the message names the text: " << message;
  }
}

constexpr auto kBad = absl::StatusCode::kInvalidArgument;
constexpr auto kRange = absl::StatusCode::kOutOfRange;

INSTANTIATE_TEST_SUITE_P(
    Numbers, InvalidNumberTest,
    testing::Values(
        Invalid{"", kBad, "empty"}, Invalid{"   ", kBad, "expected a number"},
        Invalid{"abc", kBad, "not a number"},
        Invalid{"12x", kBad, "unexpected 'x'"},
        Invalid{" x", kBad, "not a number"},
        Invalid{"-5", kBad, "negative numbers are not allowed"},
        Invalid{"+5", kBad, "not a number"}, Invalid{"1-2", kRange, "below 0"},
        Invalid{"2^64", kRange,
                "does not fit in 64 bits (max 18446744073709551615)"},
        Invalid{"18446744073709551616", kRange, "does not fit in 64 bits"},
        Invalid{"1e20", kRange, "does not fit in 64 bits"},
        Invalid{"1e999999999999999999999", kRange, "does not fit in 64 bits"},
        Invalid{"2^1000000", kRange, "does not fit in 64 bits"},
        Invalid{"99999999999999999999999999999999999999999", kRange,
                "does not fit in 64 bits"},
        Invalid{"2^64-1+1", kRange, "does not fit in 64 bits"},
        // Once parsed as 0 through a 128-bit overflow (undefined behaviour).
        Invalid{"18446744073709551616^2", kRange, "does not fit in 64 bits"},
        Invalid{"4294967296^4", kRange, "does not fit in 64 bits"},
        Invalid{"1.5", kBad, "not an integer"},
        Invalid{"1.23e1", kBad, "not an integer"},
        Invalid{"1.", kBad, "digits after '.'"},
        Invalid{"1e", kBad, "digits after 'e'"},
        Invalid{"1e-3", kBad, "negative exponent"},
        Invalid{"2^", kBad, "digits after '^'"},
        Invalid{"1.5^2", kBad, "base of '^' must be an integer"},
        Invalid{"1e12+", kBad, "after the operator"},
        Invalid{"1e12+-5", kBad, "unexpected '-'"},
        Invalid{"1,000,000", kBad, "digit separator ',' is not supported"},
        Invalid{"1_000", kBad, "digit separator '_' is not supported"},
        Invalid{"1'000", kBad, "digit separator ''' is not supported"},
        Invalid{"1 000", kBad, "spaces inside a number"},
        Invalid{"0x10", kBad, "unexpected 'x'"},
        Invalid{"1e12*2", kBad, "unexpected '*'"}));

TEST(ParseNumberTest, NamesAnUnprintableByte) {
  const auto got = ParseNumber(std::string("12\x01", 3));
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("byte 0x1"), absl::string_view::npos)
      << got.status();
}

TEST(SizeTest, ParsesSizes) {
  EXPECT_EQ(*ParseSize("1536M"), 1536 * (uint64_t{1} << 20));
  EXPECT_EQ(*ParseSize("2G"), 2 * (uint64_t{1} << 30));
  EXPECT_EQ(*ParseSize("2g"), 2 * (uint64_t{1} << 30));
  EXPECT_EQ(*ParseSize("512MiB"), 512 * (uint64_t{1} << 20));
  EXPECT_EQ(*ParseSize("1.5G"), 1536 * (uint64_t{1} << 20));
  EXPECT_EQ(*ParseSize("1048576"), (uint64_t{1} << 20));
  EXPECT_EQ(*ParseSize("64K"), 64 * 1024u);
  for (const char* bad :
       {"", "G", "-1G", "abc", "1.5.5G", "1X", "0", "1e30G"}) {
    auto got = ParseSize(bad);
    EXPECT_FALSE(got.ok()) << bad;
    if (!got.ok() && std::string(bad) != "0") {
      EXPECT_NE(got.status().message().find("1536M"), std::string::npos)
          << got.status();
    }
  }
}

TEST(SizeTest, FormatsSizes) {
  EXPECT_EQ(FormatSize(64ull << 20), "64 MiB");
  EXPECT_EQ(FormatSize(1536ull << 20), "1.5 GiB");
}

TEST(ShortNumberTest, TheFormsOfRangesAndNothingInexact) {
  const std::pair<uint64_t, const char*> cases[] = {
      {0, "0"},
      {100000, "100000"},
      {1000000, "1e6"},
      {1000000000000, "1e12"},
      {2500000000, "2.5e9"},
      {1020000000000, "1.02e12"},
      {1000000000001000, "1e15+1000"},
      {1000000020000000000ull, "1e18+2e10"},
      {UINT64_MAX, "2^64-1"},
      {UINT64_MAX - 10000000000ull, "2^64-1-1e10"},
      {123456789, "123456789"},
      {99999999999, "99999999999"},
  };
  for (const auto& [n, want] : cases) {
    EXPECT_EQ(ShortNumber(n), want) << n;
  }
  // Whatever it prints reads back as the number.
  for (uint64_t n = 1; n < UINT64_MAX / 3; n = n * 3 + 7) {
    const absl::StatusOr<uint64_t> back = ParseNumber(ShortNumber(n));
    ASSERT_TRUE(back.ok()) << ShortNumber(n);
    EXPECT_EQ(*back, n) << ShortNumber(n);
  }
}

}  // namespace
}  // namespace quark
