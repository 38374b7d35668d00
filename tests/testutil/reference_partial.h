// The partial a correct worker computes for [lo, hi], by plain iteration
// with libprimesieve: the reference the unit tests compare against.
#ifndef QUARK_TESTS_TESTUTIL_REFERENCE_PARTIAL_H_
#define QUARK_TESTS_TESTUTIL_REFERENCE_PARTIAL_H_

#include <primesieve.hpp>

#include <cstdint>
#include <vector>

#include "common/partial.h"

namespace quark::testutil {

inline proto::Partial ReferencePartial(uint64_t lo, uint64_t hi) {
  proto::Partial acc;
  std::vector<uint64_t> primes;
  primesieve::generate_primes(lo, hi, &primes);
  for (uint64_t p : primes) AppendPrime(p, &acc);
  return acc;
}

}  // namespace quark::testutil

#endif  // QUARK_TESTS_TESTUTIL_REFERENCE_PARTIAL_H_
