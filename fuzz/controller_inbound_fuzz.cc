// libFuzzer target: the controller's inbound path (frames, parsing, the
// scheduler, the API and enrollment) fed sequences of messages on its four
// sockets.
// See inbound_driver.h for what is driven and checked, inbound_input.h for
// the input format, and docs/testing.md for how to run it.
//
//   controller_inbound_fuzz --make-seeds=DIR   writes the seed corpus, exits
//   controller_inbound_fuzz [libFuzzer flags] CORPUS_DIR...
//
// The controller's log lines, and libprotobuf's, are all dropped (a fuzzer
// fails thousands of jobs and parses a second, each an error line);
// QUARK_FUZZ_LOG=debug (or error, warning, notice, info) shows them when
// replaying one input.
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/log.h"
#include "fuzz/curve_keys.h"
#include "fuzz/inbound_driver.h"
#include "fuzz/inbound_input.h"
#include "fuzz/seeds.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // Before anything draws from libsodium: join tokens and keys are then
  // the same in every run, and an input replays the same way.
  quark::fuzz::UseFuzzRandom();
  // Below kError: nothing passes. LogLevel's underlying type is int, so
  // the value is a valid LogLevel even if no enumerator names it.
  quark::LogLevel level = static_cast<quark::LogLevel>(0);
  if (const char* env = std::getenv("QUARK_FUZZ_LOG");
      env != nullptr && !quark::ParseLogLevel(env, &level)) {
    std::fprintf(stderr,
                 "QUARK_FUZZ_LOG=%s: expected error, warning, notice, "
                 "info or debug\n",
                 env);
    std::exit(2);
  }
  quark::SetLogLevel(level);
  // libprotobuf logs every string field with invalid UTF-8 it refuses to
  // parse, which is most fuzzed frames; ParseFrame's error says as much.
  if (std::getenv("QUARK_FUZZ_LOG") == nullptr) {
    google::protobuf::SetLogHandler(nullptr);
  }
  constexpr char kMakeSeeds[] = "--make-seeds=";
  for (int i = 1; i < *argc; ++i) {
    const char* arg = (*argv)[i];
    if (std::strncmp(arg, kMakeSeeds, sizeof(kMakeSeeds) - 1) != 0) continue;
    const std::string dir = arg + sizeof(kMakeSeeds) - 1;
    if (absl::Status s = quark::fuzz::WriteSeeds(dir); !s.ok()) {
      std::fprintf(stderr, "controller_inbound_fuzz: %s\n",
                   std::string(s.message()).c_str());
      std::exit(1);
    }
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const quark::fuzz::Input input = quark::fuzz::DecodeInput(data, size);
  quark::fuzz::InboundDriver driver(input.mode);
  for (const quark::fuzz::Step& step : input.steps) driver.Run(step);
  driver.Finish();
  return 0;
}
