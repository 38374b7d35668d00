// Join tokens and the nodes that enrolled with them, as a pure state
// machine (docs/security.md, "Join tokens").
//
// A token (common/token.h) lets a node with no key in authorized_workers
// enroll: over the enroll socket it proves that it holds the token's
// secret, bound to the CURVE key its connection authenticated with, and
// that key is let in under a name. Tokens have a TTL, a number of uses, an
// approval flag, and can be revoked; none of that ever removes a node that
// joined (as with Tailscale's auth keys). The secret is never kept, only a
// verifier from which it cannot be recovered and which cannot sign.
//
// An enrolled node is its key; its name is a label:
//  - a key already enrolled gets its answer again (approved, pending or
//    rejected), whatever has become of its token since;
//  - a new key asking for a name that an enrolled node holds takes the name
//    over (a re-imaged Pi: same host name, new key), dropping the old key,
//    when that node is not connected; when it is, or when the name is in
//    authorized_workers, the new node gets a distinct name (NAME-2, ...);
//  - with an approval token the node waits as pending, let in by nobody,
//    until Approve; Reject refuses a pending node, or removes an approved
//    one, for good: that key cannot enroll again.
//
// Every call takes `now`; nothing here reads a clock, a socket or a file.
// What changed is handed to the store by TakeChanges (write-ahead: the
// server commits it before sending any reply it produced).
//
// Not thread-safe: the server loop drives it.
#ifndef QUARK_CONTROLLER_ENROLLMENT_H_
#define QUARK_CONTROLLER_ENROLLMENT_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/token.h"
#include "controller/store.h"
#include "proto/quark.pb.h"
#include "proto/store.pb.h"

namespace quark {

struct EnrollmentOptions {
  // The controller's CURVE public key (Z85), which tokens pin.
  std::string controller_key;
  // The control endpoint as bound, told to accepted nodes.
  std::string control_endpoint = "tcp://*:7700";
  // How long a pending node waits before asking again.
  absl::Duration pending_retry = absl::Seconds(2);
  // Limits, so that no request can make the state grow without bound.
  size_t max_tokens = 1000;     // tokens not yet expired, used up or revoked
  size_t max_pending = 256;     // nodes waiting for approval
  size_t max_rejected = 1024;   // rejected keys remembered (oldest forgotten)
  size_t max_enrolled = 10000;  // approved and pending nodes
  // A node turned away because a limit is reached asks again after this.
  absl::Duration full_retry = absl::Seconds(30);
  // Tokens that stopped being usable this long ago are forgotten.
  absl::Duration forget_tokens_after = absl::Hours(24 * 7);
  // Longest TTL and most uses a token may have.
  absl::Duration max_ttl = kMaxTokenTtl;
  uint32_t max_uses = kMaxTokenUses;
};

// What the rest of the controller knows about node names.
class NodeNames {
 public:
  virtual ~NodeNames() = default;
  // Whether authorized_workers lists `name` (under any key).
  virtual bool Listed(const std::string& name) const = 0;
  // Whether a node of that name is registered (connected) now.
  virtual bool Connected(const std::string& name) const = 0;
};

// The outcome of one enrollment request.
struct EnrollOutcome {
  proto::EnrollReply reply;
  // Whether the request changed anything (a new node, a name taken over):
  // worth a log line. A pending node asking again changes nothing.
  bool changed = false;
  // A key this request dropped (a re-imaged node's old one): its node is
  // no longer let in.
  std::string replaced_key;
};

class Enrollment {
 public:
  explicit Enrollment(EnrollmentOptions options);
  Enrollment(const Enrollment&) = delete;
  Enrollment& operator=(const Enrollment&) = delete;

  // Takes back what an earlier run stored. Call once, before anything
  // else; fails, changing nothing, on records that do not fit together.
  absl::Status Restore(const StoredState& state);

  // --- Tokens (the API) ---------------------------------------------------

  // A fresh token; the reply holds the whole token, the only time it is
  // ever shown. InvalidArgument for a TTL or number of uses out of range,
  // ResourceExhausted when max_tokens are usable already.
  absl::StatusOr<proto::Token> CreateToken(const proto::CreateToken& request,
                                           absl::Time now);
  // Every token kept, oldest first, without secrets.
  std::vector<proto::Token> ListTokens(absl::Time now) const;
  // NotFound for an unknown id. Revoking twice is fine.
  absl::StatusOr<proto::Token> RevokeToken(const std::string& id,
                                           absl::Time now);

  // --- Enrollment (the enroll socket) -------------------------------------

  // `key` is the CURVE key the request's connection authenticated with
  // (Z85), `address` where it came from (for the record and the log).
  EnrollOutcome Enroll(const proto::EnrollRequest& request,
                       const std::string& key, const std::string& address,
                       absl::Time now, const NodeNames& names);

  // --- The operator's decisions (the API) ---------------------------------

  std::vector<proto::EnrolledNode> ListPending() const;
  // NotFound when no node of that name waits (or, for Reject, is enrolled).
  absl::StatusOr<proto::EnrolledNode> Approve(const std::string& name,
                                              absl::Time now);
  absl::StatusOr<proto::EnrolledNode> Reject(const std::string& name,
                                             absl::Time now);

  // --- For the ZAP handler -------------------------------------------------

  // The name an approved enrolled key is let in as, or nullptr.
  const std::string* NameOf(const std::string& key) const;
  // The record of an enrolled key (any state), or nullptr.
  const proto::EnrolledNode* Find(const std::string& key) const;
  size_t approved() const { return approved_; }
  size_t pending() const { return pending_; }

  // Adds what changed since the last call to `batch`.
  void TakeChanges(StoreBatch* batch);

 private:
  proto::TokenState StateOf(const proto::StoredToken& token,
                            absl::Time now) const;
  proto::Token View(const proto::StoredToken& token, absl::Time now) const;
  // Why `token` cannot enroll a node now, or "" when it can.
  std::string Unusable(const proto::StoredToken& token, absl::Time now) const;
  // The name a new key asking for `wanted` from `machine` gets; may drop
  // the key of a disconnected enrolled node of that name and machine (a
  // re-imaged one; returned in *replaced), never with an approval token.
  std::string ChooseName(const std::string& wanted, const std::string& machine,
                         bool approve, const NodeNames& names,
                         std::string* replaced);
  bool NameTaken(const std::string& name, const NodeNames& names) const;
  proto::EnrolledNode* FindByName(const std::string& name,
                                  proto::EnrollState state);
  void Put(proto::EnrolledNode node);
  void Erase(std::string key);
  void ForgetOldTokens(absl::Time now);
  void ForgetOldRejected();
  void Recount();
  proto::EnrollReply Answer(const proto::EnrolledNode& node) const;

  const EnrollmentOptions options_;
  std::map<std::string, proto::StoredToken> tokens_;  // by id
  std::map<std::string, proto::EnrolledNode> nodes_;  // by key
  std::map<std::string, std::string>
      usable_names_;  // approved, pending: name -> key
  size_t approved_ = 0, pending_ = 0, rejected_ = 0;
  // Touched since the last TakeChanges: written if they still exist,
  // deleted otherwise.
  std::set<std::string> dirty_tokens_, dirty_nodes_;
};

}  // namespace quark

#endif  // QUARK_CONTROLLER_ENROLLMENT_H_
