// The control messages a worker sends, built as a correct worker builds
// them: for the controller's unit tests, the fuzzer's fixture and its seed
// corpus (fuzz/messages.h serializes them), so that all three agree. Then
// those a controller sends, for the worker's session and the load
// generator's simulated worker.
#ifndef QUARK_TESTS_TESTUTIL_MESSAGES_H_
#define QUARK_TESTS_TESTUTIL_MESSAGES_H_

#include <cstdint>
#include <string>
#include <vector>

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

// The control messages a controller sends, for the worker's tests: a
// Welcome to `session`, an Assign of lease `lease` (job 7, task lease*10)
// and the rest.
inline proto::ControlMsg Welcome(uint64_t session, uint32_t heartbeat_ms = 1000,
                                 uint32_t liveness = 3) {
  proto::ControlMsg m;
  proto::Welcome* w = m.mutable_welcome();
  w->set_protocol_version(kProtocolVersion);
  w->set_session(session);
  w->set_heartbeat_ms(heartbeat_ms);
  w->set_liveness(liveness);
  w->set_collector("tcp://*:7701");
  return m;
}

inline proto::ControlMsg Assign(uint64_t lease, uint64_t lo = 0,
                                uint64_t hi = 100,
                                proto::Kind kind = proto::COUNT) {
  proto::ControlMsg m;
  proto::Assign* a = m.mutable_assign();
  a->set_lease(lease);
  a->set_job(7);
  a->set_task(lease * 10);
  a->set_attempt(1);
  a->set_kind(kind);
  a->mutable_range()->set_lo(lo);
  a->mutable_range()->set_hi(hi);
  return m;
}

inline proto::ControlMsg Cancel(std::vector<uint64_t> leases) {
  proto::ControlMsg m;
  for (uint64_t lease : leases) m.mutable_cancel()->add_leases(lease);
  return m;
}

inline proto::ControlMsg Reject(bool reregister,
                                uint32_t version = kProtocolVersion) {
  proto::ControlMsg m;
  m.mutable_reject()->set_reason("because");
  m.mutable_reject()->set_reregister(reregister);
  m.mutable_reject()->set_protocol_version(version);
  return m;
}

inline proto::ControlMsg Ack(std::vector<uint64_t> leases) {
  proto::ControlMsg m;
  m.mutable_ack();  // an empty Ack is still an Ack
  for (uint64_t lease : leases) m.mutable_ack()->add_leases(lease);
  return m;
}

}  // namespace quark::testutil

#endif  // QUARK_TESTS_TESTUTIL_MESSAGES_H_
