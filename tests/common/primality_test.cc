#include "common/primality.h"

#include <cstdint>
#include <limits>
#include <primesieve.hpp>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace quark {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// The primes of [lo, hi] by primesieve, the independent reference.
std::vector<uint64_t> Primes(uint64_t lo, uint64_t hi) {
  std::vector<uint64_t> primes;
  primesieve::generate_primes(lo, hi, &primes);
  return primes;
}

struct Window {
  const char* name;
  uint64_t lo;
  uint64_t hi;
};

class PrimalityWindowTest : public testing::TestWithParam<Window> {};

// Every number of the window is told prime or composite as primesieve
// says, and the first and last prime of many sub-ranges (some without a
// prime) are primesieve's.
TEST_P(PrimalityWindowTest, AgreesWithPrimesieve) {
  const Window w = GetParam();
  const std::vector<uint64_t> primes = Primes(w.lo, w.hi);
  ASSERT_FALSE(primes.empty());
  size_t next = 0;
  for (uint64_t n = w.lo;; ++n) {
    const bool prime = next < primes.size() && primes[next] == n;
    ASSERT_EQ(IsPrime(n), prime) << n;
    if (prime) ++next;
    if (n == w.hi) break;
  }
  ASSERT_EQ(next, primes.size());

  std::mt19937_64 random(w.lo);
  const uint64_t width = w.hi - w.lo;
  for (int i = 0; i < 2000; ++i) {
    // Short sub-ranges, so that many hold no prime.
    const uint64_t lo = w.lo + random() % width;
    const uint64_t span = random() % (i % 2 == 0 ? 64 : 2000);
    const uint64_t hi = lo + std::min(span, w.hi - lo);
    auto first = std::lower_bound(primes.begin(), primes.end(), lo);
    auto past = std::upper_bound(primes.begin(), primes.end(), hi);
    const bool none = first == past;
    EXPECT_EQ(FirstPrimeIn(lo, hi), none ? 0 : *first) << lo << " " << hi;
    EXPECT_EQ(LastPrimeIn(lo, hi), none ? 0 : *(past - 1)) << lo << " " << hi;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Heights, PrimalityWindowTest,
    testing::Values(Window{"Zero", 0, 300000},
                    Window{"OneE12", 1000000000000, 1000000200000},
                    Window{"OneE18", 1000000000000000000, 1000000000000100000},
                    Window{"TopOf64Bits", kMax - 100000, kMax}),
    [](const testing::TestParamInfo<Window>& info) { return info.param.name; });

// Composites that fool weaker tests: strong pseudoprimes to base 2 and to
// the first nine prime bases, Carmichael numbers, squares and products of
// two primes near 2^32 (the largest factors a 64-bit composite can have
// with no small one).
TEST(PrimalityTest, HardCompositesAreComposite) {
  for (uint64_t n : {
           uint64_t{2047},
           uint64_t{3277},
           uint64_t{4033},
           uint64_t{4681},
           uint64_t{561},
           uint64_t{41041},
           uint64_t{825265},
           uint64_t{321197185},
           uint64_t{3215031751},
           uint64_t{3825123056546413051},  // spsp to bases 2..23
           uint64_t{4294967291} * 4294967279,
           uint64_t{4294967291} * 4294967291,
           uint64_t{4294967279} * 4294967279,
           uint64_t{1000000007} * 1000000009,
           uint64_t{3} * 6148914691236517205,  // 2^64 - 1
           kMax - 1,
       }) {
    EXPECT_FALSE(IsPrime(n)) << n;
  }
}

TEST(PrimalityTest, SmallAndEdgeNumbers) {
  EXPECT_FALSE(IsPrime(0));
  EXPECT_FALSE(IsPrime(1));
  EXPECT_TRUE(IsPrime(2));
  EXPECT_TRUE(IsPrime(3));
  EXPECT_FALSE(IsPrime(4));
  EXPECT_TRUE(IsPrime(47));
  EXPECT_TRUE(IsPrime(53));
  EXPECT_FALSE(IsPrime(53 * 53));
  EXPECT_TRUE(IsPrime(4294967291));             // largest below 2^32
  EXPECT_TRUE(IsPrime(18446744073709551557u));  // largest below 2^64
}

TEST(PrimalityTest, RangesAtTheEnds) {
  EXPECT_EQ(FirstPrimeIn(0, 0), 0u);
  EXPECT_EQ(FirstPrimeIn(0, 1), 0u);
  EXPECT_EQ(FirstPrimeIn(0, 2), 2u);
  EXPECT_EQ(FirstPrimeIn(2, 2), 2u);
  EXPECT_EQ(FirstPrimeIn(3, 3), 3u);
  EXPECT_EQ(FirstPrimeIn(4, 4), 0u);
  EXPECT_EQ(FirstPrimeIn(5, 4), 0u);  // empty
  EXPECT_EQ(LastPrimeIn(0, 1), 0u);
  EXPECT_EQ(LastPrimeIn(0, 2), 2u);
  EXPECT_EQ(LastPrimeIn(2, 3), 3u);
  EXPECT_EQ(LastPrimeIn(2, 2), 2u);
  EXPECT_EQ(LastPrimeIn(4, 4), 0u);
  EXPECT_EQ(LastPrimeIn(5, 4), 0u);
  // Above the largest 64-bit prime there is none; the scans end without
  // wrapping around 2^64.
  EXPECT_EQ(FirstPrimeIn(kMax, kMax), 0u);
  EXPECT_EQ(FirstPrimeIn(18446744073709551558u, kMax), 0u);
  EXPECT_EQ(LastPrimeIn(18446744073709551558u, kMax), 0u);
  EXPECT_EQ(LastPrimeIn(0, kMax), 18446744073709551557u);
  EXPECT_EQ(FirstPrimeIn(18446744073709551000u, kMax),
            FirstPrimeIn(18446744073709551000u, 18446744073709551557u));
  // The first gap above 1000 (1132, after 1693182318746371) holds no prime.
  EXPECT_EQ(FirstPrimeIn(1693182318746372, 1693182318747502), 0u);
  EXPECT_EQ(LastPrimeIn(1693182318746372, 1693182318747502), 0u);
  EXPECT_EQ(LastPrimeIn(0, 1693182318747502), 1693182318746371u);
  EXPECT_EQ(FirstPrimeIn(1693182318746372, kMax), 1693182318747503u);
}

}  // namespace
}  // namespace quark
