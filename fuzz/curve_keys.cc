#include "fuzz/curve_keys.h"

#include <sodium.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace quark::fuzz {
namespace {

// splitmix64 (Steele, Lea and Flood): small, fast, and every seed gives a
// usable stream.
uint64_t state = 0;

uint64_t Next() {
  uint64_t z = (state += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

const char* Name() { return "quark-fuzz-splitmix64"; }
uint32_t Random() { return static_cast<uint32_t>(Next() >> 32); }
void Buf(void* const buf, const size_t size) {
  auto* out = static_cast<unsigned char*>(buf);
  for (size_t i = 0; i < size; i += 8) {
    const uint64_t word = Next();
    std::memcpy(out + i, &word, size - i < 8 ? size - i : 8);
  }
}
int Close() { return 0; }

randombytes_implementation fuzz_random = {
    .implementation_name = Name,
    .random = Random,
    .stir = nullptr,
    .uniform = nullptr,  // libsodium's, on top of Random()
    .buf = Buf,
    .close = Close,
};

constexpr uint64_t kKeySeed = 0x5155'4152'4b4b'4559;  // "QUARKKEY"

struct Keys {
  KeyPair controller;
  std::array<std::string, kEnrollKeys> enroll;
};

KeyPair MakeKeyPair() {
  absl::StatusOr<KeyPair> pair = GenerateKeyPair();
  if (!pair.ok()) {
    std::fprintf(stderr, "controller_inbound_fuzz: %s\n",
                 std::string(pair.status().message()).c_str());
    std::abort();
  }
  return *pair;
}

// Made on first use from their own seed, so that they do not depend on
// what drew from the source before.
const Keys& AllKeys() {
  static const Keys* keys = [] {
    ResetFuzzRandom(kKeySeed);
    auto* k = new Keys;
    k->controller = MakeKeyPair();
    for (std::string& key : k->enroll) key = MakeKeyPair().public_key;
    return k;
  }();
  return *keys;
}

}  // namespace

void UseFuzzRandom() {
  static const bool installed = [] {
    randombytes_set_implementation(&fuzz_random);
    return true;
  }();
  (void)installed;
}

void ResetFuzzRandom(uint64_t seed) {
  UseFuzzRandom();
  state = seed;
}

const KeyPair& ControllerKeys() { return AllKeys().controller; }

const std::string& EnrollKey(size_t i) {
  return AllKeys().enroll[i % kEnrollKeys];
}

std::string EnrollKeyName(size_t i) {
  return absl::StrCat("E", i % kEnrollKeys + 1);
}

std::string RealKey(const std::string& frame) {
  if (frame.size() == 2 && frame[0] == 'E' && frame[1] >= '1' &&
      frame[1] < static_cast<char>('1' + kEnrollKeys)) {
    return EnrollKey(static_cast<size_t>(frame[1] - '1'));
  }
  return frame;
}

int EnrollKeyIndex(const std::string& key) {
  for (size_t i = 0; i < kEnrollKeys; ++i) {
    if (EnrollKey(i) == key) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace quark::fuzz
