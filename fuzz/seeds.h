// The seed corpus of controller_inbound_fuzz: sequences of valid messages
// on each socket (Hello, Ready, Heartbeat, Goodbye; results of the
// fixture's leases; every ApiRequest; enrollments that join, wait for
// approval, are rejected at work or replaced by a re-imaged node, and
// tokens used up, revoked, expired and forgotten), and a few of the
// malformed ones the server must drop, in the input format of
// fuzz/inbound_input.h. Made by `controller_inbound_fuzz --make-seeds=DIR`
// rather than committed, so that they follow the protocol as it changes.
#ifndef QUARK_FUZZ_SEEDS_H_
#define QUARK_FUZZ_SEEDS_H_

#include <map>
#include <string>

#include "absl/status/status.h"

namespace quark::fuzz {

// Seed name -> encoded input.
std::map<std::string, std::string> MakeSeeds();

// Writes each seed to DIR/NAME, creating DIR. Fails naming the file.
absl::Status WriteSeeds(const std::string& dir);

}  // namespace quark::fuzz

#endif  // QUARK_FUZZ_SEEDS_H_
