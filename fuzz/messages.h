// Valid inbound messages, serialized as a peer sends them: for the fuzz
// driver's fixture and for the seed corpus.
#ifndef QUARK_FUZZ_MESSAGES_H_
#define QUARK_FUZZ_MESSAGES_H_

#include <cstdint>
#include <string>

#include "common/token.h"
#include "common/transport.h"
#include "proto/quark.pb.h"
#include "tests/testutil/messages.h"

namespace quark::fuzz {

inline std::string HelloFrame(const std::string& node, uint64_t incarnation) {
  return testutil::Hello(node, incarnation).SerializeAsString();
}

inline std::string ReadyFrame(uint64_t session, uint32_t credits) {
  return testutil::Ready(session, credits).SerializeAsString();
}

inline std::string HeartbeatFrame(uint64_t session, bool sieving) {
  return testutil::Heartbeat(session, sieving).SerializeAsString();
}

inline std::string GoodbyeFrame(uint64_t session) {
  return testutil::Goodbye(session).SerializeAsString();
}

// An ApiRequest of the current version; `fill` sets its body.
template <typename Fill>
std::string RequestFrame(uint64_t request_id, Fill fill) {
  proto::ApiRequest r;
  r.set_protocol_version(kProtocolVersion);
  r.set_request_id(request_id);
  fill(r);
  return r.SerializeAsString();
}

inline std::string SubmitFrame(uint64_t request_id, proto::Kind kind,
                               uint64_t lo, uint64_t hi, int32_t priority) {
  return RequestFrame(request_id, [&](proto::ApiRequest& r) {
    r.mutable_submit()->set_kind(kind);
    r.mutable_submit()->mutable_range()->set_lo(lo);
    r.mutable_submit()->mutable_range()->set_hi(hi);
    r.mutable_submit()->set_priority(priority);
  });
}

inline std::string CreateTokenFrame(uint64_t request_id, uint64_t ttl_ms,
                                    uint32_t uses, bool approve) {
  return RequestFrame(request_id, [&](proto::ApiRequest& r) {
    r.mutable_create_token()->set_ttl_ms(ttl_ms);
    r.mutable_create_token()->set_uses(uses);
    r.mutable_create_token()->set_approve(approve);
  });
}

// What a worker holding `token` sends on the enroll socket, over a
// connection that authenticated with `key` (Z85).
inline proto::EnrollRequest EnrollRequestOf(const JoinToken& token,
                                            const std::string& key,
                                            const std::string& name) {
  proto::EnrollRequest r;
  r.set_protocol_version(kProtocolVersion);
  r.set_token_id(token.id);
  r.set_name(name);
  r.set_machine("f00dfeed");
  r.set_proof(EnrollProof(token, key));
  return r;
}

}  // namespace quark::fuzz

#endif  // QUARK_FUZZ_MESSAGES_H_
