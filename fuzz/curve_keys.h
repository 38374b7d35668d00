// The CURVE keys of the fuzz driver's enrollment model, and the random
// source behind them and behind join tokens.
//
// Enrollment needs real keys: a proof (common/token.h) signs the Z85 key
// the enrolling connection authenticated with, and Enrollment refuses a
// key that is not Z85. The fuzz input speaks of four enrolling keys as
// "E1" to "E4" (short, so that mutations keep them); RealKey() turns those
// into Z85 keys made once per process, and the controller has its own pair.
//
// Join tokens come from libsodium's random source (NewJoinToken). So that
// an input always runs the same way, in this process and when replayed in
// another, libsodium's source is replaced by a seeded generator:
// UseFuzzRandom() is called before anything draws from it (token ids and
// secrets, and the keys above, are then the same in every run), and
// ResetFuzzRandom() at the start of each input. Not for anything but a
// fuzzer: the "random" bytes are predictable by design.
//
// Not thread-safe (the fuzzer runs one input at a time).
#ifndef QUARK_FUZZ_CURVE_KEYS_H_
#define QUARK_FUZZ_CURVE_KEYS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/keys.h"

namespace quark::fuzz {

inline constexpr size_t kEnrollKeys = 4;

// Installs the seeded source as libsodium's (once; later calls do
// nothing). Call before sodium_init(), i.e. first thing in the process.
void UseFuzzRandom();

// Restarts the seeded source at `seed` (installing it first if needed).
void ResetFuzzRandom(uint64_t seed);

// The controller's key pair (Z85).
const KeyPair& ControllerKeys();

// The public key (Z85) of enrolling key `i` (0 to kEnrollKeys - 1).
const std::string& EnrollKey(size_t i);

// The fuzz name of enrolling key `i`: "E1" to "E4".
std::string EnrollKeyName(size_t i);

// EnrollKey(i) for "E<i+1>", anything else as it is.
std::string RealKey(const std::string& frame);

// The index of `key` (a real key) among the enrolling keys, or -1.
int EnrollKeyIndex(const std::string& key);

}  // namespace quark::fuzz

#endif  // QUARK_FUZZ_CURVE_KEYS_H_
