#include "common/numbers.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/status.h"

namespace quark {
namespace {

using int128 = __int128;

// No term above 2^100 can be part of a sum that fits in 64 bits unless a
// term of the same size cancels it; refusing such terms keeps every sum of
// them far from the 128-bit limit.
constexpr int128 kTermCap = int128{1} << 100;
constexpr int128 kSumCap = int128{1} << 120;
constexpr int128 kMax64 = std::numeric_limits<uint64_t>::max();

// Exponents are clamped here: 10^200 exceeds kTermCap already.
constexpr uint64_t kExponentCap = 1000;

std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", text, "\"");
}

bool IsSeparator(char c) { return c == ',' || c == '_' || c == '\''; }

std::string Describe(char c) {
  if (absl::ascii_isprint(static_cast<unsigned char>(c))) {
    return absl::StrCat("'", std::string(1, c), "'");
  }
  return absl::StrCat("byte 0x", absl::Hex(static_cast<unsigned char>(c)));
}

// Recursive descent over one expression: term (('+' | '-') term)*.
class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<uint64_t> Parse() {
    SkipSpace();
    if (AtEnd()) return Invalid("expected a number");
    if (Peek() == '-') return Invalid("negative numbers are not allowed");
    first_ = pos_;
    int128 sum = 0;
    int sign = 1;
    while (true) {
      ASSIGN_OR_RETURN(int128 term, ParseTerm());
      sum += sign * term;
      if (sum > kSumCap || sum < -kSumCap) return TooLarge();
      SkipSpace();
      if (AtEnd()) break;
      if (Peek() != '+' && Peek() != '-') return Unexpected();
      sign = Peek() == '+' ? 1 : -1;
      ++pos_;
      SkipSpace();
    }
    if (sum < 0) {
      return absl::OutOfRangeError(
          absl::StrCat(Quoted(text_), ": the result is below 0"));
    }
    if (sum > kMax64) return TooLarge();
    return static_cast<uint64_t>(sum);
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }
  bool PeekDigit() const {
    return !AtEnd() && absl::ascii_isdigit(static_cast<unsigned char>(Peek()));
  }
  void SkipSpace() {
    while (!AtEnd() &&
           absl::ascii_isspace(static_cast<unsigned char>(Peek()))) {
      ++pos_;
    }
  }

  absl::Status Invalid(absl::string_view reason) const {
    return absl::InvalidArgumentError(
        absl::StrCat(Quoted(text_), ": ", reason));
  }
  absl::Status Unexpected() const {
    if (AtEnd()) return Invalid("unexpected end");
    if (IsSeparator(Peek()) && pos_ > 0 &&
        absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_ - 1]))) {
      return Invalid(absl::StrCat("digit separator ", Describe(Peek()),
                                  " is not supported; write the digits only"));
    }
    if (absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) {
      return Invalid("spaces inside a number are not supported");
    }
    return Invalid(absl::StrCat("unexpected ", Describe(Peek())));
  }
  absl::Status TooLarge() const {
    return absl::OutOfRangeError(absl::StrCat(
        Quoted(text_), ": does not fit in 64 bits (max ", kMax64Text, ")"));
  }

  // A run of digits as a value clamped just above kTermCap, and its length.
  struct Digits {
    int128 value = 0;
    size_t length = 0;
  };
  Digits ReadDigits() {
    Digits d;
    while (PeekDigit()) {
      if (d.value <= kTermCap) d.value = d.value * 10 + (Peek() - '0');
      ++d.length;
      ++pos_;
    }
    return d;
  }

  absl::StatusOr<uint64_t> ReadExponent(absl::string_view after) {
    SkipSpace();
    if (!PeekDigit()) {
      if (!AtEnd() && Peek() == '-') {
        return Invalid(absl::StrCat("negative exponent after ", after));
      }
      return Invalid(absl::StrCat("expected digits after ", after));
    }
    const Digits d = ReadDigits();
    return d.value > int128{kExponentCap} ? kExponentCap
                                          : static_cast<uint64_t>(d.value);
  }

  // term: digits ['.' digits] [('e' | 'E') digits] | digits '^' digits
  absl::StatusOr<int128> ParseTerm() {
    if (!PeekDigit()) {
      if (pos_ == first_) return Invalid("not a number");
      return AtEnd() ? Invalid("expected a number after the operator")
                     : Unexpected();
    }
    Digits mantissa = ReadDigits();
    Digits fraction;
    if (!AtEnd() && Peek() == '.') {
      ++pos_;
      if (!PeekDigit()) return Invalid("expected digits after '.'");
      fraction = ReadFraction();
    }
    uint64_t exponent = 0;
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      ASSIGN_OR_RETURN(exponent, ReadExponent("'e'"));
    } else if (!AtEnd() && Peek() == '^') {
      if (fraction.length > 0)
        return Invalid("the base of '^' must be an integer");
      ++pos_;
      ASSIGN_OR_RETURN(uint64_t power, ReadExponent("'^'"));
      return Power(mantissa.value, power);
    }
    if (fraction.length > exponent) return Invalid("not an integer");
    for (size_t i = 0; i < fraction.length; ++i) {
      mantissa.value = mantissa.value * 10 + fraction_digits_[i] - '0';
      if (mantissa.value > kTermCap) return TooLarge();
    }
    return Power10(mantissa.value, exponent - fraction.length);
  }

  // Fraction digits without their trailing zeros (1.50e1 is 15).
  Digits ReadFraction() {
    const size_t start = pos_;
    while (PeekDigit()) ++pos_;
    fraction_digits_ = std::string(text_.substr(start, pos_ - start));
    while (!fraction_digits_.empty() && fraction_digits_.back() == '0') {
      fraction_digits_.pop_back();
    }
    return Digits{0, fraction_digits_.size()};
  }

  absl::StatusOr<int128> Power10(int128 value, uint64_t exponent) {
    if (value > kTermCap) return TooLarge();
    for (uint64_t i = 0; i < exponent && value != 0; ++i) {
      value *= 10;
      if (value > kTermCap) return TooLarge();
    }
    return value;
  }

  absl::StatusOr<int128> Power(int128 base, uint64_t exponent) {
    if (base > kTermCap) return TooLarge();
    if (exponent == 0) return 1;
    if (base <= 1) return base;
    int128 value = 1;
    for (uint64_t i = 0; i < exponent; ++i) {
      // Checked before multiplying: the product of two terms up to the
      // cap would overflow even 128 bits.
      if (value > kTermCap / base) return TooLarge();
      value *= base;
    }
    return value;
  }

  static constexpr absl::string_view kMax64Text = "18446744073709551615";

  const absl::string_view text_;
  size_t pos_ = 0;
  size_t first_ = 0;  // where the first term starts
  std::string fraction_digits_;
};

}  // namespace

absl::StatusOr<uint64_t> ParseNumber(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("empty number");
  return Parser(text).Parse();
}

absl::StatusOr<uint64_t> ParseSize(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text,
        "\" is not a memory size: expected a number of bytes or "
        "one with K, M, G or T (powers of 1024), such as 1536M or 2G"));
  };
  absl::ConsumeSuffix(&s, "iB") || absl::ConsumeSuffix(&s, "B");
  uint64_t unit = 1;
  if (!s.empty()) {
    switch (absl::ascii_toupper(s.back())) {
      case 'K':
        unit = 1ull << 10;
        break;
      case 'M':
        unit = 1ull << 20;
        break;
      case 'G':
        unit = 1ull << 30;
        break;
      case 'T':
        unit = 1ull << 40;
        break;
      default:
        break;
    }
    if (unit != 1) s.remove_suffix(1);
  }
  if (s.empty() || !(absl::ascii_isdigit(s.front()))) return bad();
  double value = 0;
  if (!absl::SimpleAtod(s, &value) || !std::isfinite(value) || value < 0 ||
      value * static_cast<double>(unit) >= 1.8e19) {
    return bad();
  }
  const uint64_t bytes =
      static_cast<uint64_t>(value * static_cast<double>(unit));
  if (bytes == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": a memory limit must be more than 0"));
  }
  return bytes;
}

std::string FormatSize(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 30)) {
    return absl::StrFormat("%.1f GiB", static_cast<double>(bytes) / (1 << 30));
  }
  return absl::StrFormat(
      "%d MiB", (bytes + (uint64_t{1} << 20) / 2) / (uint64_t{1} << 20));
}

bool ParseDurationText(absl::string_view text, absl::Duration* out) {
  double seconds = 0;
  if (!text.empty() &&
      absl::ascii_isdigit(static_cast<unsigned char>(text.back())) &&
      absl::SimpleAtod(text, &seconds)) {
    *out = absl::Seconds(seconds);
    return true;
  }
  return absl::ParseDuration(text, out);
}

namespace {

// "1e12", "2.5e9": n as mantissa x 10^k with at most three significant
// digits and k >= 6; "" when it has no such form.
std::string PowerOfTenForm(uint64_t n) {
  if (n < 1'000'000) return "";
  int k = 0;
  uint64_t m = n;
  while (m % 10 == 0) {
    m /= 10;
    ++k;
  }
  if (m >= 1000) return "";
  const std::string digits = absl::StrCat(m);
  const int exponent = k + static_cast<int>(digits.size()) - 1;
  if (exponent < 6) return "";
  std::string mantissa = digits.substr(0, 1);
  if (digits.size() > 1) absl::StrAppend(&mantissa, ".", digits.substr(1));
  return absl::StrCat(mantissa, "e", exponent);
}

// n, or its power-of-ten form when it has one.
std::string Term(uint64_t n) {
  const std::string form = PowerOfTenForm(n);
  return form.empty() ? absl::StrCat(n) : form;
}

}  // namespace

std::string ShortNumber(uint64_t n) {
  constexpr uint64_t kTop = UINT64_MAX;
  std::string form;
  if (n == kTop) {
    form = "2^64-1";
  } else if (kTop - n >= 1'000'000 && kTop - n < (uint64_t{1} << 62) &&
             !PowerOfTenForm(kTop - n).empty()) {
    form = absl::StrCat("2^64-1-", PowerOfTenForm(kTop - n));
  } else if (!(form = PowerOfTenForm(n)).empty()) {
  } else if (n >= 1'000'000) {
    // The largest power-of-ten term below n, plus a short rest.
    uint64_t base = 1;
    while (base <= n / 10) base *= 10;
    const uint64_t head = n - n % base;
    const std::string rest = Term(n % base);
    if (n % base != 0 && rest.size() + 4 < absl::StrCat(n).size()) {
      form = absl::StrCat(Term(head), "+", rest);
    }
  }
  // Only what reads back as n; else the digits.
  absl::StatusOr<uint64_t> back =
      form.empty() ? absl::StatusOr<uint64_t>(0) : ParseNumber(form);
  if (form.empty() || !back.ok() || *back != n) return absl::StrCat(n);
  return form;
}

}  // namespace quark
