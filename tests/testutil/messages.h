// The control messages a worker sends, built as a correct worker builds
// them: for the controller's unit tests, the fuzzer's fixture and its seed
// corpus (fuzz/messages.h serializes them), so that all three agree.
#ifndef QUARK_TESTS_TESTUTIL_MESSAGES_H_
#define QUARK_TESTS_TESTUTIL_MESSAGES_H_

#include <cstdint>
#include <string>

#include "common/protocol.h"
#include "proto/quark.pb.h"

namespace quark::testutil {

// A worker of 4 cores sieving on 4 threads.
inline proto::ControlMsg Hello(const std::string& node,
                               uint64_t incarnation = 7,
                               uint32_t version = kProtocolVersion) {
  proto::ControlMsg m;
  m.mutable_hello()->set_protocol_version(version);
  m.mutable_hello()->set_node(node);
  m.mutable_hello()->set_cores(4);
  m.mutable_hello()->set_threads(4);
  m.mutable_hello()->set_incarnation(incarnation);
  return m;
}

inline proto::ControlMsg Ready(uint64_t session, uint32_t credits) {
  proto::ControlMsg m;
  m.mutable_ready()->set_session(session);
  m.mutable_ready()->set_credits(credits);
  return m;
}

inline proto::ControlMsg Heartbeat(uint64_t session, bool sieving = false) {
  proto::ControlMsg m;
  m.mutable_heartbeat()->set_session(session);
  m.mutable_heartbeat()->set_sieving(sieving);
  return m;
}

inline proto::ControlMsg Goodbye(uint64_t session) {
  proto::ControlMsg m;
  m.mutable_goodbye()->set_session(session);
  return m;
}

}  // namespace quark::testutil

#endif  // QUARK_TESTS_TESTUTIL_MESSAGES_H_
