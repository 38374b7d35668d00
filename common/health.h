// What the Raspberry Pi firmware's throttling bits mean
// (/sys/devices/platform/soc/soc:firmware/get_throttled, as `vcgencmd
// get_throttled` prints them), for the worker that reads them, the
// controller that shows them and the CLI that prints them.
//
//   bit 0   under-voltage now         16  under-voltage since boot
//       1   frequency capped now      17  frequency capped since boot
//       2   throttled now             18  throttled since boot
//       3   soft temperature limit    19  soft temperature limit since boot
#ifndef QUARK_COMMON_HEALTH_H_
#define QUARK_COMMON_HEALTH_H_

#include <cstdint>
#include <string>

namespace quark {

inline constexpr uint32_t kUnderVoltage = 1u << 0;
inline constexpr uint32_t kFrequencyCapped = 1u << 1;
inline constexpr uint32_t kThrottled = 1u << 2;
inline constexpr uint32_t kSoftTemperatureLimit = 1u << 3;
// The conditions that hold now; shifted by kSinceBootShift, since boot.
inline constexpr uint32_t kNowBits = 0xF;
inline constexpr int kSinceBootShift = 16;

inline bool UnderVoltageNow(uint32_t bits) { return bits & kUnderVoltage; }
// Running slower than it can: capped, throttled or at the soft limit.
inline bool ThrottledNow(uint32_t bits) {
  return bits & (kFrequencyCapped | kThrottled | kSoftTemperatureLimit);
}
inline uint32_t SinceBoot(uint32_t bits) {
  return (bits >> kSinceBootShift) & kNowBits;
}

// The conditions of `bits` (bits 0-3 only) in words, e.g.
// "under-voltage,throttled"; "ok" for none.
std::string HealthWords(uint32_t bits);

// What a node's health reads as, from all its bits: the conditions now
// ("ok", "under-voltage,throttled"), and those since boot when only they
// are left: "ok (was under-voltage)". As `quark nodes` and the status page
// show it.
std::string HealthText(uint32_t bits);

}  // namespace quark

#endif  // QUARK_COMMON_HEALTH_H_
