#include "fuzz/inbound_input.h"

#include <algorithm>

namespace quark::fuzz {
namespace {

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  bool Byte(uint8_t* out) {
    if (empty()) return false;
    *out = data_[pos_++];
    return true;
  }
  // Up to `n` bytes: fewer at the end of the input.
  std::string Bytes(size_t n) {
    n = std::min(n, size_ - pos_);
    std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

bool ReadFrames(Reader& in, std::vector<std::string>* frames) {
  uint8_t count;
  if (!in.Byte(&count)) return false;
  for (size_t i = 0; i < 1 + count % kMaxFrames; ++i) {
    uint8_t lo, hi;
    if (!in.Byte(&lo) || !in.Byte(&hi)) break;
    frames->push_back(in.Bytes(size_t{lo} | size_t{hi} << 8));
  }
  return !frames->empty();
}

}  // namespace

Input DecodeInput(const uint8_t* data, size_t size) {
  Input input;
  std::vector<Step>& steps = input.steps;
  Reader in(data, size);
  uint8_t mode = 0, op;
  in.Byte(&mode);
  input.mode.curve = (mode & 1) != 0;
  input.mode.operator_keys = input.mode.curve && (mode & 2) != 0;
  while (in.Byte(&op)) {
    Step step;
    step.op = static_cast<Op>(op % kOps);
    switch (step.op) {
      case Op::kControl:
      case Op::kCollector:
      case Op::kApi:
      case Op::kEnroll:
        if (!ReadFrames(in, &step.frames)) return input;
        break;
      case Op::kEndIteration:
      case Op::kReload:
        in.Byte(&step.arg);
        break;
      case Op::kHonestResult:
      case Op::kHonestEnroll:
        in.Byte(&step.arg);
        in.Byte(&step.flags);
        break;
    }
    steps.push_back(std::move(step));
  }
  return input;
}

std::string EncodeInput(const Input& input) {
  std::string out(1, static_cast<char>((input.mode.curve ? 1 : 0) |
                                       (input.mode.operator_keys ? 2 : 0)));
  for (const Step& step : input.steps) {
    out += static_cast<char>(step.op);
    switch (step.op) {
      case Op::kControl:
      case Op::kCollector:
      case Op::kApi:
      case Op::kEnroll: {
        const size_t count =
            std::clamp<size_t>(step.frames.size(), 1, kMaxFrames);
        out += static_cast<char>(count - 1);
        for (size_t i = 0; i < count; ++i) {
          const std::string frame =
              i < step.frames.size() ? step.frames[i].substr(0, 0xffff) : "";
          out += static_cast<char>(frame.size() & 0xff);
          out += static_cast<char>(frame.size() >> 8);
          out += frame;
        }
        break;
      }
      case Op::kEndIteration:
      case Op::kReload:
        out += static_cast<char>(step.arg);
        break;
      case Op::kHonestResult:
      case Op::kHonestEnroll:
        out += static_cast<char>(step.arg);
        out += static_cast<char>(step.flags);
        break;
    }
  }
  return out;
}

}  // namespace quark::fuzz
