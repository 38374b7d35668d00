#include "common/health.h"

#include <vector>

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

}  // namespace quark
