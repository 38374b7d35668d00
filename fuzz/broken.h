// How the fuzz driver reports a broken invariant.
#ifndef QUARK_FUZZ_BROKEN_H_
#define QUARK_FUZZ_BROKEN_H_

#include <cstdio>
#include <cstdlib>
#include <string>

namespace quark::fuzz {

// Prints what broke and aborts: libFuzzer saves the input that got here.
[[noreturn]] inline void Broken(const std::string& what) {
  std::fprintf(stderr, "controller_inbound_fuzz: invariant broken: %s\n",
               what.c_str());
  std::abort();
}

}  // namespace quark::fuzz

#endif  // QUARK_FUZZ_BROKEN_H_
