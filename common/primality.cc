#include "common/primality.h"

#include <cstdint>

namespace quark {
namespace {

using uint128 = unsigned __int128;

// Trial division by these first settles every n below 53^2 and leaves
// the strong tests only numbers with no factor below 53 (about 14% of
// the odd ones).
constexpr uint64_t kSmallPrimes[] = {2,  3,  5,  7,  11, 13, 17, 19,
                                     23, 29, 31, 37, 41, 43, 47};
constexpr uint64_t kTrialLimit = 53 * 53;

// The witnesses: a composite below 3.3e24 is a strong pseudoprime to
// all twelve only if it is not below 2^64.
constexpr uint64_t kBases[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};

// Arithmetic modulo an odd n in Montgomery form, R = 2^64.
class Montgomery {
 public:
  explicit Montgomery(uint64_t n) : n_(n), inverse_(Inverse(n)) {
    one_ = (0 - n) % n;  // 2^64 mod n
    r2_ = static_cast<uint64_t>(static_cast<uint128>(one_) * one_ % n);
  }

  // x R mod n, for x < n.
  uint64_t From(uint64_t x) const { return Multiply(x, r2_); }
  uint64_t one() const { return one_; }
  uint64_t minus_one() const { return n_ - one_; }

  // a b / R mod n, for a, b < n. a b - m n is divisible by R and m n has
  // the low word of a b, so only the high words are subtracted: no
  // 128-bit overflow even for n close to 2^64.
  uint64_t Multiply(uint64_t a, uint64_t b) const {
    const uint128 t = static_cast<uint128>(a) * b;
    const uint64_t m = static_cast<uint64_t>(t) * inverse_;
    const uint64_t mn_high =
        static_cast<uint64_t>((static_cast<uint128>(m) * n_) >> 64);
    const uint64_t t_high = static_cast<uint64_t>(t >> 64);
    return t_high >= mn_high ? t_high - mn_high : t_high - mn_high + n_;
  }

  uint64_t Power(uint64_t base, uint64_t exponent) const {
    uint64_t result = one_;
    while (exponent != 0) {
      if (exponent & 1) result = Multiply(result, base);
      base = Multiply(base, base);
      exponent >>= 1;
    }
    return result;
  }

 private:
  // n^-1 mod 2^64 by Newton's iteration: n is its own inverse mod 8, and
  // each step doubles the correct bits (3, 6, 12, 24, 48, 96).
  static uint64_t Inverse(uint64_t n) {
    uint64_t x = n;
    for (int i = 0; i < 5; ++i) x *= 2 - n * x;
    return x;
  }

  uint64_t n_;
  uint64_t inverse_;
  uint64_t one_;
  uint64_t r2_;  // R^2 mod n
};

// The strong probable-prime test to `base` for odd n - 1 = d 2^s.
bool IsStrongProbablePrime(const Montgomery& m, uint64_t base, uint64_t d,
                           int s) {
  uint64_t x = m.Power(m.From(base), d);
  if (x == m.one() || x == m.minus_one()) return true;
  for (int i = 1; i < s; ++i) {
    x = m.Multiply(x, x);
    if (x == m.minus_one()) return true;
  }
  return false;
}

}  // namespace

bool IsPrime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t p : kSmallPrimes) {
    if (n % p == 0) return n == p;
  }
  if (n < kTrialLimit) return true;
  const Montgomery m(n);
  uint64_t d = n - 1;
  int s = 0;
  while ((d & 1) == 0) {
    d >>= 1;
    ++s;
  }
  for (uint64_t base : kBases) {  // every base < 53 < n
    if (!IsStrongProbablePrime(m, base, d, s)) return false;
  }
  return true;
}

uint64_t FirstPrimeIn(uint64_t lo, uint64_t hi) {
  if (lo > hi) return 0;
  if (lo <= 2 && hi >= 2) return 2;
  // Odd candidates from the first odd number >= max(lo, 3); n + 2 is
  // only formed while n < hi, so it never wraps.
  uint64_t n = lo < 3 ? 3 : (lo | 1);  // never wraps: 2^64 - 1 is odd
  for (; n <= hi; n += 2) {
    if (IsPrime(n)) return n;
    if (hi - n < 2) break;
  }
  return 0;
}

uint64_t LastPrimeIn(uint64_t lo, uint64_t hi) {
  if (lo > hi || hi < 2) return 0;
  if (hi == 2) return 2;
  // Odd candidates down from the last odd number <= hi (hi >= 3 here).
  for (uint64_t n = (hi & 1) ? hi : hi - 1; n >= lo && n >= 3; n -= 2) {
    if (IsPrime(n)) return n;
    if (n - lo < 2) break;
  }
  return lo <= 2 ? 2 : 0;
}

}  // namespace quark
