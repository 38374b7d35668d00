// Parsing of the numbers an operator types: range bounds and job ids.
//
// Besides plain decimals (`100000`) the syntax takes the forms people use
// for prime-search ranges:
//
//   1e10, 2E9        mantissa times a power of ten
//   1.5e9            a decimal mantissa, when the value is an integer
//   10^12            integer powers
//   2^64-1, 1e12+1000  sums and differences of such terms
//
// Spaces between terms are allowed ("1e12 + 1000"); digit separators
// ("1,000", "1_000", "1'000") and negative numbers are not. The arithmetic
// is exact (128-bit) and the result must lie in [0, 2^64 - 1].
#ifndef QUARK_COMMON_NUMBERS_H_
#define QUARK_COMMON_NUMBERS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace quark {

// Returns the value of `text`, or an InvalidArgument error (not a number,
// negative, not an integer, unsupported syntax) or an OutOfRange error
// (below 0, 2^64 or more) whose one-line message quotes `text` and says
// what is wrong, e.g. "\"12x\": unexpected 'x'". Pure and thread-safe.
absl::StatusOr<uint64_t> ParseNumber(absl::string_view text);

// A memory size as an operator types it: "1536M", "2G", "512MiB", "1.5G",
// "1073741824" (bytes); K, M, G, T are powers of 1024, as in systemd's
// MemoryMax=. InvalidArgument otherwise, naming the text and the form
// wanted.
absl::StatusOr<uint64_t> ParseSize(absl::string_view text);

// `n` in the shortest of the forms ParseNumber reads that people use for
// ranges, exactly: "1e12", "2.5e9", "1e18+2e10", "2^64-1", "2^64-1-1e10";
// plain decimals below 1e6 and for any other number.
// ParseNumber(ShortNumber(n)) == n always.
std::string ShortNumber(uint64_t n);

// "1.5 GiB", "240 MiB": a memory size for logs and errors.
std::string FormatSize(uint64_t bytes);

// A duration as every Quark program reads one: absl's form ("30s",
// "500ms", "2m", "1h30m") or a bare number of seconds ("30", "0.5").
// False for anything else; kDurationForms says what is wanted.
bool ParseDurationText(absl::string_view text, absl::Duration* out);
inline constexpr char kDurationForms[] =
    "a duration such as 30s, 500ms, 2m or 1h30m, or a number of seconds";

}  // namespace quark

#endif  // QUARK_COMMON_NUMBERS_H_
