// The fuzz driver's view of enrollment (controller/enrollment.h): what the
// enroll socket answered, the join tokens the API made, and the invariants
// over both. InboundDriver tells it every request it hands
// Inbound::OnEnroll and, at each Flush, the batch about to be committed
// and the messages about to be sent.
//
// Invariants (a broken one prints what and aborts):
//  - every EnrollReply carries the protocol version and a status; an
//    ACCEPTED one a node name and the control endpoint, a PENDING one a
//    name and a retry delay, a REFUSED one a reason; without CURVE (no
//    Enrollment) nothing is answered at all;
//  - a key answered ACCEPTED is let in under the name it was given
//    (KeyDirectory::NameOf, hence Enrollment::NameOf) until a RejectNode
//    names it or another key takes its name over;
//  - no enrolled record is stored APPROVED unless the same iteration
//    answered ACCEPTED for it or an ApproveNode for its key succeeded;
//  - a key with no stored record whose requests in an iteration were all
//    REFUSED gets no record in that iteration's batch;
//  - every token the API shows pins the controller's key and expires
//    within max_ttl; one CreateToken returns parses (ParseJoinToken) and
//    has the reply's id;
//  - CheckRestore(): what the store holds of tokens and enrolled nodes
//    restores (Enrollment::Restore) to the same ListTokens, ListPending,
//    counts, NameOf and answers to every key seen.
//
// Routes are how a reply is matched to the key that asked: libzmq gives
// each connection its own, so a fuzzed route used by two keys in one
// iteration is ambiguous, and the checks that need the key skip it.
//
// Not thread-safe; one per InboundDriver.
#ifndef QUARK_FUZZ_ENROLL_CHECKER_H_
#define QUARK_FUZZ_ENROLL_CHECKER_H_

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/token.h"
#include "controller/enrollment.h"
#include "controller/inbound.h"
#include "proto/quark.pb.h"
#include "tests/testutil/memory_store.h"

namespace quark::fuzz {

using testutil::MemoryStore;

// A token as CreateToken returned it, secret included.
struct KnownToken {
  JoinToken token;
  bool approve = false;
};

class EnrollChecker {
 public:
  // `enrollment` is nullptr without CURVE. Both must outlive this.
  EnrollChecker(Enrollment* enrollment, const KeyDirectory* keys,
                EnrollmentOptions options);

  // The frames Inbound::OnEnroll is about to get, from `peer`.
  void OnRequest(const std::vector<absl::string_view>& frames,
                 const Peer& peer);

  // A Flush: `batch` is about to be committed over `store`, and `out`
  // sent.
  void OnFlush(const StoreBatch& batch, const MemoryStore& store,
               const InboundOutput& out);

  // At the end of an input: `store` restores to the live enrollment.
  void CheckRestore(const MemoryStore& store, absl::Time now) const;

  // The last reply matched to `key` (a real key), or nullptr.
  const proto::EnrollReply* LastReply(const std::string& key) const;

  // The tokens CreateToken made: the first two (the fixture's), then the
  // most recent others, kMaxKnownTokens in all (what Op::kHonestEnroll can
  // pick from).
  static constexpr size_t kMaxKnownTokens = 4;
  const std::vector<KnownToken>& tokens() const { return tokens_; }

 private:
  void CheckReply(const proto::EnrollReply& reply) const;
  void OnReply(const EnrollOutbound& sent);
  void OnApiReply(const proto::ApiReply& reply);
  void CheckToken(const proto::Token& view);
  void CheckBatch(const StoreBatch& batch, const MemoryStore& store) const;
  void CheckLetIn() const;
  void NoteKey(const std::string& key);

  Enrollment* const enrollment_;
  const KeyDirectory* const keys_;
  const EnrollmentOptions options_;
  std::vector<KnownToken> tokens_;
  std::map<std::string, std::string> accepted_;     // key -> name let in as
  std::map<std::string, proto::EnrollReply> last_;  // key -> last reply
  std::set<std::string> seen_keys_;  // real keys seen asking (bounded)

  // This iteration's.
  std::map<std::string, std::string> route_keys_;  // enroll route -> key
  std::set<std::string> ambiguous_routes_, ambiguous_keys_;
  std::set<std::string> refused_, answered_;  // keys: REFUSED, otherwise
  std::set<std::string> accepted_names_;      // names answered ACCEPTED
  std::set<std::string> accepted_keys_, approved_keys_;
};

}  // namespace quark::fuzz

#endif  // QUARK_FUZZ_ENROLL_CHECKER_H_
