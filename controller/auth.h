// The controller's ZAP handler (RFC 27, ZeroMQ Authentication Protocol):
// libzmq asks it, during every CURVE handshake on the controller's sockets,
// whether the client's public key may in. It owns the allowlists:
//
//   domain "quark-workers"    control and collector: authorized_workers,
//                             and the nodes enrolled with a join token
//   domain "quark-operators"  API: authorized_operators
//   domain "quark-enroll"     the enroll socket: any key (that is what is
//                             being enrolled), at most a few handshakes a
//                             second from one address
//
// It answers with the key itself (Z85) as the ZAP User-Id, which libzmq
// then attaches to every message of that connection. The server looks the
// key up again per message (NameOf), so a key removed from a list by a
// reload stops counting at once, even on a connection that is already up.
//
// It is a REP socket on inproc://zeromq.zap.01 in the controller's context,
// answered from the server's own loop: no thread, no lock. The sockets set
// ZMQ_ZAP_ENFORCE_DOMAIN (common/transport.h), so while it is not bound, or
// not answering, every handshake fails: nobody gets in by its absence.
#ifndef QUARK_CONTROLLER_AUTH_H_
#define QUARK_CONTROLLER_AUTH_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/keys.h"
#include "controller/enrollment.h"
#include "controller/key_directory.h"
#include "controller/rate_limiter.h"

namespace quark {

struct AuthOptions {
  std::string workers_path;  // authorized_workers
  // A missing workers_path is an empty list (nodes join with tokens),
  // rather than an error.
  bool workers_optional = false;
  std::string operators_path;  // authorized_operators; empty: no operator keys
};

// The decision for one ZAP request, kept apart from the socket for tests.
struct ZapVerdict {
  bool allowed = false;
  std::string user_id;  // the Z85 key when allowed
  std::string reason;   // when refused
};

class Authenticator : public KeyDirectory {
 public:
  // Loads the allowlists (a missing or bad file is an error naming it and
  // its line) and binds the handler in `context`.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Start(
      zmq::context_t& context, AuthOptions options);

  // For tests: the lists only, no socket.
  static absl::StatusOr<std::unique_ptr<Authenticator>> ForLists(
      AuthOptions options);

  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  zmq::socket_t& socket() { return *socket_; }

  // Answers one queued request, if any. A malformed request (from libzmq
  // itself, so never expected) is answered with a refusal when it can be.
  void HandleRequest(absl::Time now);

  // The verdict for ZAP request frames (RFC 27: version, request id,
  // domain, address, identity, mechanism, credentials...) at `now` (the
  // enroll domain's rate limit).
  ZapVerdict Decide(const std::vector<std::string>& request,
                    absl::Time now = absl::UnixEpoch());

  // The enrolled nodes, let in besides authorized_workers; nullptr (the
  // default) for none. Must outlive this.
  void SetEnrolled(const Enrollment* enrolled) { enrolled_ = enrolled; }

  // Whether authorized_workers lists a node of that name.
  bool ListsWorker(const std::string& name) const override;

  // Reads both files again. On any error the old lists stay in force and
  // the error (naming the file and line) is returned.
  absl::Status Reload();

  // The name `key` (Z85) is authorized as in `domain`, or nullptr.
  const std::string* NameOf(const std::string& domain,
                            const std::string& key) const override;

  size_t workers() const { return workers_.size(); }
  size_t operators() const { return operators_ ? operators_->size() : 0; }
  uint64_t refused() const { return refused_; }

 private:
  explicit Authenticator(AuthOptions options) : options_(std::move(options)) {}

  AuthOptions options_;
  Allowlist workers_;
  std::optional<Allowlist> operators_;
  const Enrollment* enrolled_ = nullptr;
  // Handshakes on the enroll socket, by peer address: anyone may knock,
  // nobody may knock a thousand times a second.
  RateLimiter enroll_handshakes_{10, absl::Milliseconds(500)};
  std::unique_ptr<zmq::socket_t> socket_;
  uint64_t refused_ = 0;
  // Refusals are logged at most once a second, with how many there were:
  // a peer retrying a bad key must not flood the journal.
  uint64_t refused_unlogged_ = 0;
  absl::Time last_refusal_log_ = absl::InfinitePast();
};

}  // namespace quark

#endif  // QUARK_CONTROLLER_AUTH_H_
