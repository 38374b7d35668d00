// The fuzz input of controller_inbound_fuzz: a sequence of steps, each a
// message arriving on one of the controller's four sockets, or the end of
// a server loop iteration, or a well-behaved worker's result or enrollment
// request.
//
// Byte format (every byte string decodes to some input, so that libFuzzer's
// mutations stay meaningful; truncation just ends it):
//
//   input    := mode step*           mode & 1: the controller runs with CURVE
//                                    mode & 2: and with operator keys
//   step     := op [body]
//   op % 8 == 0  control ROUTER  frames        (2 frames expected)
//   op % 8 == 1  collector PULL  frames        (1 frame expected)
//   op % 8 == 2  api ROUTER      frames        (2 frames expected)
//   op % 8 == 3  end of a loop iteration: arg  (time passes arg x 20 ms)
//   op % 8 == 4  honest result:  arg flags     (see InboundDriver)
//   op % 8 == 5  SIGHUP: arg                   (a key revoked or restored)
//   op % 8 == 6  enroll ROUTER   frames        (2 frames expected; CURVE)
//   op % 8 == 7  honest enroll:  arg flags     (see InboundDriver; CURVE)
//   frames   := count (1 + count % 4 frames), then per frame a 16-bit
//               little-endian length and that many bytes
//
// A frame count of 0 is not encodable: ZeroMQ never delivers a message
// without a frame. With CURVE, the first of two frames or more stands for
// the key the sender's connection authenticated with (libzmq's User-Id),
// not for a frame; the driver turns "E1" to "E4" there into real CURVE
// keys (fuzz/curve_keys.h), so that enrollment proofs can be valid, and
// passes any other first frame on as it is.
#ifndef QUARK_FUZZ_INBOUND_INPUT_H_
#define QUARK_FUZZ_INBOUND_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace quark::fuzz {

enum class Op : uint8_t {
  kControl = 0,
  kCollector = 1,
  kApi = 2,
  kEndIteration = 3,
  kHonestResult = 4,
  kReload = 5,
  kEnroll = 6,
  kHonestEnroll = 7,
};
inline constexpr int kOps = 8;
inline constexpr size_t kMaxFrames = 4;

struct Step {
  Op op = Op::kEndIteration;
  std::vector<std::string> frames;  // kControl, kCollector, kApi, kEnroll
  uint8_t arg = 0;    // kEndIteration, kHonestResult, kReload, kHonestEnroll
  uint8_t flags = 0;  // kHonestResult, kHonestEnroll
};

struct Mode {
  bool curve = false;
  bool operator_keys = false;  // with curve only
};

struct Input {
  Mode mode;
  std::vector<Step> steps;
};

// Never fails: a truncated last step is dropped or cut short.
Input DecodeInput(const uint8_t* data, size_t size);

// The bytes DecodeInput turns back into `input`. Frames longer than 65535
// bytes are cut to that; more than kMaxFrames frames are cut to that.
std::string EncodeInput(const Input& input);

}  // namespace quark::fuzz

#endif  // QUARK_FUZZ_INBOUND_INPUT_H_
