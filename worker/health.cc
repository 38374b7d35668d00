#include "worker/health.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "common/files.h"
#include "worker/memory_budget.h"

namespace quark {
namespace {

// The first whitespace-separated word of a small file; nullopt when it
// cannot be read.
std::optional<std::string> FirstWord(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path, 4096);
  if (!text.ok()) return std::nullopt;
  absl::string_view word = absl::StripLeadingAsciiWhitespace(*text);
  word = word.substr(0, word.find_first_of(" \t\n"));
  if (word.empty()) return std::nullopt;
  return std::string(word);
}

// Degrees Celsius of the hottest thermal zone that reads.
std::optional<double> Temperature(const std::string& sysfs_root) {
  std::error_code error;
  std::filesystem::directory_iterator zones(sysfs_root + "/class/thermal",
                                            error);
  if (error) return std::nullopt;
  std::optional<double> hottest;
  for (const std::filesystem::directory_entry& zone : zones) {
    if (!absl::StartsWith(zone.path().filename().string(), "thermal_zone")) {
      continue;
    }
    std::optional<std::string> text = FirstWord(zone.path().string() + "/temp");
    int64_t millidegrees = 0;
    // A zone whose sensor is off reads an error, or nonsense: skipped.
    if (!text || !absl::SimpleAtoi(*text, &millidegrees) ||
        millidegrees < -100'000 || millidegrees > 200'000) {
      continue;
    }
    const double celsius = static_cast<double>(millidegrees) / 1000;
    if (!hottest || celsius > *hottest) hottest = celsius;
  }
  return hottest;
}

// The firmware prints the bits in hex, without "0x" (the Pi's kernel
// driver); `vcgencmd` with it. Both are taken.
std::optional<uint32_t> ThrottledBits(const std::string& sysfs_root) {
  std::optional<std::string> text = FirstWord(
      sysfs_root + "/devices/platform/soc/soc:firmware/get_throttled");
  if (!text) return std::nullopt;
  absl::string_view hex = *text;
  if (absl::StartsWithIgnoreCase(hex, "0x")) hex.remove_prefix(2);
  uint32_t bits = 0;
  if (hex.empty() || !absl::SimpleHexAtoi(hex, &bits)) return std::nullopt;
  return bits;
}

std::optional<double> Load1(const std::string& proc_root) {
  std::optional<std::string> text = FirstWord(proc_root + "/loadavg");
  double load = 0;
  if (!text || !absl::SimpleAtod(*text, &load) || !(load >= 0)) {
    return std::nullopt;
  }
  return load;
}

}  // namespace

proto::Health ReadHealth(const HealthSources& sources) {
  proto::Health health;
  if (std::optional<double> t = Temperature(sources.sysfs_root)) {
    health.set_temperature_celsius(*t);
  }
  if (std::optional<uint32_t> bits = ThrottledBits(sources.sysfs_root)) {
    health.set_throttled_bits(*bits);
  }
  const MemoryReading memory =
      ReadMemory(sources.proc_root, sources.cgroup_root);
  if (memory.available) health.set_memory_available_bytes(*memory.available);
  if (std::optional<double> load = Load1(sources.proc_root)) {
    health.set_load1(*load);
  }
  return health;
}

}  // namespace quark
