#include "worker/memory_budget.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/numbers.h"

namespace quark {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
// A cgroup v1 "no limit" is LONG_MAX rounded to pages; v2 says "max".
constexpr uint64_t kUnlimited = uint64_t{1} << 62;
constexpr double kAvailableShare = 0.9;
constexpr uint64_t kReserve = 64 * kMiB;
constexpr uint64_t kLimitReserve = 16 * kMiB;

// The value of the "Key:  123 kB" line of a /proc file, in bytes.
std::optional<uint64_t> ProcField(const std::string& path,
                                  absl::string_view key) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, ":")) {
      continue;
    }
    line = absl::StripAsciiWhitespace(line);
    const bool kb = absl::ConsumeSuffix(&line, " kB");
    uint64_t value = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &value)) {
      return std::nullopt;
    }
    return kb ? value * 1024 : value;
  }
  return std::nullopt;
}

std::optional<uint64_t> LimitFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path, 256);
  if (!text.ok()) return std::nullopt;
  uint64_t value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &value) ||
      value >= kUnlimited) {
    return std::nullopt;  // "max", or no limit
  }
  return value;
}

// The smallest limit on `path` and its parents up to the root.
std::optional<uint64_t> SmallestLimit(const std::string& base,
                                      absl::string_view path,
                                      const char* file) {
  std::optional<uint64_t> smallest;
  std::string dir(absl::StripSuffix(path, "/"));
  while (true) {
    if (std::optional<uint64_t> limit =
            LimitFile(absl::StrCat(base, dir, "/", file))) {
      smallest = std::min(smallest.value_or(*limit), *limit);
    }
    if (dir.empty()) return smallest;
    dir.resize(dir.rfind('/') == std::string::npos ? 0 : dir.rfind('/'));
  }
}

std::optional<uint64_t> CgroupLimit(const std::string& proc_root,
                                    const std::string& cgroup_root) {
  absl::StatusOr<std::string> text =
      ReadSmallFile(absl::StrCat(proc_root, "/self/cgroup"));
  if (!text.ok()) return std::nullopt;
  std::optional<uint64_t> limit;
  for (absl::string_view line :
       absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    // "0::/system.slice/x.service" (v2) or "4:memory:/x" (v1).
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) continue;
    std::optional<uint64_t> found;
    if (parts[0] == "0" && parts[1].empty()) {
      found = SmallestLimit(cgroup_root, parts[2], "memory.max");
      if (!found) {  // the unified tree mounted beside v1 ("unified")
        found = SmallestLimit(absl::StrCat(cgroup_root, "/unified"), parts[2],
                              "memory.max");
      }
    } else if (absl::StrContains(absl::StrCat(",", parts[1], ","),
                                 ",memory,")) {
      found = SmallestLimit(absl::StrCat(cgroup_root, "/memory"), parts[2],
                            "memory.limit_in_bytes");
    }
    if (found) limit = std::min(limit.value_or(*found), *found);
  }
  return limit;
}

uint64_t Less(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

}  // namespace

MemoryReading ReadMemory(const std::string& proc_root,
                         const std::string& cgroup_root) {
  MemoryReading reading;
  reading.available =
      ProcField(absl::StrCat(proc_root, "/meminfo"), "MemAvailable");
  reading.cgroup_limit = CgroupLimit(proc_root, cgroup_root);
  reading.resident =
      ProcField(absl::StrCat(proc_root, "/self/status"), "VmRSS");
  return reading;
}

MemoryBudget SieveBudget(const MemoryReading& reading,
                         std::optional<uint64_t> limit) {
  const uint64_t held = reading.resident.value_or(0);
  if (limit) {
    MemoryBudget out{Less(*limit, held + kLimitReserve),
                     absl::StrCat("memory_limit ", FormatSize(*limit))};
    if (reading.cgroup_limit && *reading.cgroup_limit < *limit) {
      out.bytes = Less(*reading.cgroup_limit, held + kLimitReserve);
      out.source =
          absl::StrCat("cgroup limit ", FormatSize(*reading.cgroup_limit),
                       ", below memory_limit ", FormatSize(*limit));
    }
    return out;
  }
  std::optional<uint64_t> base;
  std::string source;
  if (reading.available) {
    base = *reading.available;
    source = absl::StrCat("MemAvailable ", FormatSize(*reading.available));
  }
  if (reading.cgroup_limit && (!base || *reading.cgroup_limit < *base)) {
    base = *reading.cgroup_limit;
    source = absl::StrCat("cgroup limit ", FormatSize(*reading.cgroup_limit));
  }
  if (!base)
    return MemoryBudget{0, "unknown (no MemAvailable, no cgroup limit)"};
  const uint64_t share =
      static_cast<uint64_t>(static_cast<double>(*base) * kAvailableShare);
  return MemoryBudget{std::max<uint64_t>(Less(share, kReserve + held), 1),
                      absl::StrCat(source, ", less a margin")};
}

}  // namespace quark
