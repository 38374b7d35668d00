// The protocol's constants (docs/protocol.md): its version, which every
// message carries and both sides check, and the size limits of a message.
#ifndef QUARK_COMMON_PROTOCOL_H_
#define QUARK_COMMON_PROTOCOL_H_

#include <cstdint>

namespace quark {

// Version 2 (December 2026): count and sum results carry no first and last
// prime, and a worker tells its memory budget. Version 3: the k-tuplet
// kinds, and gaps results carry the gap table (an older worker's would
// lack it).
inline constexpr uint32_t kProtocolVersion = 3;

// Larger frames are dropped by libzmq before they reach us.
inline constexpr int64_t kMaxMessageBytes = 1 << 20;
// The CLI's limit for the controller's replies (lists of jobs and nodes).
inline constexpr int64_t kMaxReplyBytes = int64_t{256} << 20;

}  // namespace quark

#endif  // QUARK_COMMON_PROTOCOL_H_
