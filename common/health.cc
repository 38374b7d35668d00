#include "common/health.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace quark {

std::string HealthWords(uint32_t bits) {
  std::vector<const char*> words;
  if (bits & kUnderVoltage) words.push_back("under-voltage");
  if (bits & kFrequencyCapped) words.push_back("capped");
  if (bits & kThrottled) words.push_back("throttled");
  if (bits & kSoftTemperatureLimit) words.push_back("soft-temp-limit");
  return words.empty() ? "ok" : absl::StrJoin(words, ",");
}

std::string HealthText(uint32_t bits) {
  const uint32_t now = bits & kNowBits;
  if (now == 0 && SinceBoot(bits) != 0) {
    return absl::StrCat("ok (was ", HealthWords(SinceBoot(bits)), ")");
  }
  return HealthWords(now);
}

}  // namespace quark
