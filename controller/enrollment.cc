#include "controller/enrollment.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/keys.h"
#include "common/token.h"
#include "common/transport.h"

namespace quark {
namespace {

uint64_t UnixMillis(absl::Time t) {
  return static_cast<uint64_t>(std::max<int64_t>(absl::ToUnixMillis(t), 0));
}

std::string FormatUtc(uint64_t unix_ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                          absl::FromUnixMillis(static_cast<int64_t>(unix_ms)),
                          absl::UTCTimeZone());
}

// "pi-3" -> "pi-3-2": a distinct name for a second node asking for one in
// use, cut so that it stays a valid node name.
std::string Suffixed(const std::string& name, int n) {
  const std::string suffix = absl::StrCat("-", n);
  return name.substr(0, 64 - suffix.size()) + suffix;
}

bool Usable(proto::EnrollState state) {
  return state == proto::ENROLL_APPROVED || state == proto::ENROLL_PENDING;
}

// What quark-worker sends (worker/identity.h: base32 of a hash), or
// nothing: it is logged and stored, so nothing else gets in.
bool ValidMachine(const std::string& machine) {
  return machine.size() <= 32 &&
         std::all_of(machine.begin(), machine.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
         });
}

}  // namespace

Enrollment::Enrollment(EnrollmentOptions options)
    : options_(std::move(options)) {}

absl::Status Enrollment::Restore(const StoredState& state) {
  std::map<std::string, proto::StoredToken> tokens;
  for (const proto::StoredToken& token : state.tokens) {
    if (!ValidTokenId(token.id()) || token.verifier().size() != 32 ||
        !tokens.emplace(token.id(), token).second) {
      return absl::DataLossError(
          absl::StrCat("stored token '", token.id(), "' is malformed"));
    }
  }
  std::map<std::string, proto::EnrolledNode> nodes;
  std::map<std::string, std::string> names;  // usable name -> key
  for (const proto::EnrolledNode& node : state.enrolled) {
    if (!ValidZ85Key(node.key()) || !ValidNodeName(node.name()) ||
        node.state() == proto::ENROLL_STATE_UNSPECIFIED ||
        !nodes.emplace(node.key(), node).second) {
      return absl::DataLossError(absl::StrCat("stored enrolled node '",
                                              node.name(), "' is malformed"));
    }
    if (Usable(node.state()) &&
        !names.emplace(node.name(), node.key()).second) {
      return absl::DataLossError(absl::StrCat(
          "two stored enrolled nodes are both named '", node.name(), "'"));
    }
  }
  tokens_ = std::move(tokens);
  nodes_ = std::move(nodes);
  Recount();
  return absl::OkStatus();
}

// --------------------------------------------------------------- tokens

proto::TokenState Enrollment::StateOf(const proto::StoredToken& token,
                                      absl::Time now) const {
  if (token.revoked()) return proto::TOKEN_REVOKED;
  if (token.expires_ms() != 0 && UnixMillis(now) >= token.expires_ms()) {
    return proto::TOKEN_EXPIRED;
  }
  if (token.uses() != 0 && token.used() >= token.uses()) {
    return proto::TOKEN_USED_UP;
  }
  return proto::TOKEN_ACTIVE;
}

std::string Enrollment::Unusable(const proto::StoredToken& token,
                                 absl::Time now) const {
  switch (StateOf(token, now)) {
    case proto::TOKEN_REVOKED:
      return absl::StrCat("token ", token.id(), " was revoked");
    case proto::TOKEN_EXPIRED:
      return absl::StrCat("token ", token.id(), " expired at ",
                          FormatUtc(token.expires_ms()),
                          ": make a new one with `quark token create`");
    case proto::TOKEN_USED_UP:
      return absl::StrCat("token ", token.id(), " is used up (", token.used(),
                          " of ", token.uses(), " uses)");
    default:
      return "";
  }
}

proto::Token Enrollment::View(const proto::StoredToken& token,
                              absl::Time now) const {
  proto::Token view;
  view.set_id(token.id());
  view.set_created_ms(token.created_ms());
  view.set_expires_ms(token.expires_ms());
  view.set_uses(token.uses());
  view.set_used(token.used());
  if (token.uses() != 0) {
    view.set_uses_left(
        token.used() >= token.uses() ? 0 : token.uses() - token.used());
  }
  view.set_approve(token.approve());
  view.set_state(StateOf(token, now));
  view.set_controller_key(options_.controller_key);
  return view;
}

absl::StatusOr<proto::Token> Enrollment::CreateToken(
    const proto::CreateToken& request, absl::Time now) {
  // In integers: absl::Milliseconds of a uint64 past 2^63 is negative.
  if (request.ttl_ms() >
      static_cast<uint64_t>(absl::ToInt64Milliseconds(options_.max_ttl))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a token's TTL must be at most ",
        absl::FormatDuration(options_.max_ttl), " (0: never expires)"));
  }
  if (request.uses() > options_.max_uses) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a token allows at most ", options_.max_uses, " uses (0: unlimited)"));
  }
  ForgetOldTokens(now);
  size_t usable = 0;
  for (const auto& [id, token] : tokens_) {
    usable += StateOf(token, now) == proto::TOKEN_ACTIVE;
  }
  if (usable >= options_.max_tokens) {
    return absl::ResourceExhaustedError(absl::StrCat(
        usable,
        " tokens are usable already: revoke some first (quark token "
        "list, quark token revoke ID)"));
  }
  absl::StatusOr<JoinToken> token;
  do {  // a 40-bit id is unique almost surely; make sure
    token = NewJoinToken(options_.controller_key);
    if (!token.ok()) return token.status();
  } while (tokens_.count(token->id) != 0);
  proto::StoredToken stored;
  stored.set_id(token->id);
  stored.set_verifier(TokenVerifier(*token));
  stored.set_created_ms(UnixMillis(now));
  if (request.ttl_ms() != 0) {
    stored.set_expires_ms(stored.created_ms() + request.ttl_ms());
  }
  stored.set_uses(request.uses());
  stored.set_approve(request.approve());
  proto::Token view = View(stored, now);
  view.set_token(FormatJoinToken(*token));
  tokens_.emplace(stored.id(), std::move(stored));
  dirty_tokens_.insert(token->id);
  return view;
}

std::vector<proto::Token> Enrollment::ListTokens(absl::Time now) const {
  std::vector<proto::Token> out;
  for (const auto& [id, token] : tokens_) out.push_back(View(token, now));
  std::stable_sort(out.begin(), out.end(),
                   [](const proto::Token& a, const proto::Token& b) {
                     return a.created_ms() < b.created_ms();
                   });
  return out;
}

absl::StatusOr<proto::Token> Enrollment::RevokeToken(const std::string& id,
                                                     absl::Time now) {
  auto it = tokens_.find(id);
  if (it == tokens_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no token ", id, " (quark token list)"));
  }
  proto::StoredToken& token = it->second;
  if (!token.revoked()) {
    token.set_revoked(true);
    if (token.ended_ms() == 0) token.set_ended_ms(UnixMillis(now));
    dirty_tokens_.insert(id);
  }
  return View(token, now);
}

// Tokens unusable for long are no use to anyone: forgotten, so that the
// list (and the state file) does not grow with every token ever made.
void Enrollment::ForgetOldTokens(absl::Time now) {
  const uint64_t horizon = UnixMillis(now - options_.forget_tokens_after);
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    const proto::StoredToken& token = it->second;
    uint64_t ended = token.ended_ms();
    if (StateOf(token, now) == proto::TOKEN_EXPIRED) ended = token.expires_ms();
    if (StateOf(token, now) != proto::TOKEN_ACTIVE && ended != 0 &&
        ended < horizon) {
      dirty_tokens_.insert(it->first);
      it = tokens_.erase(it);
    } else {
      ++it;
    }
  }
}

// ----------------------------------------------------------- enrollment

proto::EnrollReply Enrollment::Answer(const proto::EnrolledNode& node) const {
  proto::EnrollReply reply;
  reply.set_protocol_version(kProtocolVersion);
  reply.set_name(node.name());
  switch (node.state()) {
    case proto::ENROLL_APPROVED:
      reply.set_status(proto::EnrollReply::ACCEPTED);
      reply.set_control(options_.control_endpoint);
      break;
    case proto::ENROLL_PENDING:
      reply.set_status(proto::EnrollReply::PENDING);
      reply.set_reason(absl::StrCat(
          "waiting for the operator's approval: on the controller, quark "
          "approve ",
          node.name()));
      reply.set_retry_ms(static_cast<uint32_t>(
          absl::ToInt64Milliseconds(options_.pending_retry)));
      break;
    default:
      reply.set_status(proto::EnrollReply::REFUSED);
      reply.set_reason(
          "this node's key was rejected by the operator (quark reject); it "
          "cannot enroll again");
      break;
  }
  return reply;
}

EnrollOutcome Enrollment::Enroll(const proto::EnrollRequest& request,
                                 const std::string& key,
                                 const std::string& address, absl::Time now,
                                 const NodeNames& names) {
  EnrollOutcome out;
  auto refuse = [&out](std::string reason) {
    out.reply.set_protocol_version(kProtocolVersion);
    out.reply.set_status(proto::EnrollReply::REFUSED);
    out.reply.set_reason(std::move(reason));
    return out;
  };
  if (request.protocol_version() != kProtocolVersion) {
    return refuse(absl::StrCat("protocol version ", request.protocol_version(),
                               " is not supported: this controller speaks "
                               "version ",
                               kProtocolVersion));
  }
  if (!ValidZ85Key(key)) return refuse("the connection has no CURVE key");
  // The key is the node: whatever became of its token, it gets its answer.
  if (auto it = nodes_.find(key); it != nodes_.end()) {
    out.reply = Answer(it->second);
    return out;
  }
  if (!ValidTokenId(request.token_id())) {
    return refuse("malformed token id: not a Quark join token");
  }
  auto token_it = tokens_.find(request.token_id());
  if (token_it == tokens_.end()) {
    return refuse(absl::StrCat("unknown token ", request.token_id(),
                               ": not made by this controller, or forgotten"));
  }
  proto::StoredToken& token = token_it->second;
  // The proof first: only a holder of the token learns what became of it.
  if (!CheckEnrollProof(token.verifier(), token.id(), key,
                        options_.controller_key, request.proof())) {
    return refuse(absl::StrCat("the proof for token ", token.id(),
                               " does not match: a forged or mistyped token"));
  }
  if (std::string why = Unusable(token, now); !why.empty()) return refuse(why);
  if (!ValidNodeName(request.name())) {
    return refuse("the node name must be 1-64 characters of [A-Za-z0-9._-]");
  }
  if (!ValidMachine(request.machine())) {
    return refuse(
        "malformed machine identity (expected what quark-worker sends)");
  }
  // Full: not a refusal of this node, which may ask again later.
  auto later = [&](std::string reason) {
    out.reply.set_protocol_version(kProtocolVersion);
    out.reply.set_status(proto::EnrollReply::PENDING);
    out.reply.set_reason(std::move(reason));
    out.reply.set_retry_ms(
        static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.full_retry)));
    return out;
  };
  if (token.approve() && pending_ >= options_.max_pending) {
    return later(
        absl::StrCat(pending_,
                     " nodes wait for approval already: approve or reject them "
                     "first (quark nodes --pending)"));
  }
  if (approved_ + pending_ >= options_.max_enrolled) {
    return later(absl::StrCat(approved_ + pending_,
                              " nodes are enrolled already, the most this "
                              "controller keeps: reject some first"));
  }
  proto::EnrolledNode node;
  node.set_name(ChooseName(request.name(), request.machine(), token.approve(),
                           names, &out.replaced_key));
  node.set_key(key);
  node.set_token_id(token.id());
  node.set_address(address);
  node.set_machine(request.machine());
  node.set_requested_ms(UnixMillis(now));
  if (token.approve()) {
    node.set_state(proto::ENROLL_PENDING);
  } else {
    node.set_state(proto::ENROLL_APPROVED);
    node.set_decided_ms(UnixMillis(now));
  }
  token.set_used(token.used() + 1);
  if (token.uses() != 0 && token.used() >= token.uses()) {
    token.set_ended_ms(UnixMillis(now));
  }
  dirty_tokens_.insert(token.id());
  out.reply = Answer(node);
  out.changed = true;
  Put(std::move(node));
  return out;
}

bool Enrollment::NameTaken(const std::string& name,
                           const NodeNames& names) const {
  return names.Listed(name) || names.Connected(name) ||
         usable_names_.count(name) != 0;
}

std::string Enrollment::ChooseName(const std::string& wanted,
                                   const std::string& machine, bool approve,
                                   const NodeNames& names,
                                   std::string* replaced) {
  if (!NameTaken(wanted, names)) return wanted;
  // A re-imaged node: the same machine (its serial survives the new image)
  // with a new key; the old key is useless now, unless it is in use. Never
  // for another machine, nor on an approval token's word alone: anyone
  // holding a token could otherwise push a node out by taking its name.
  auto it = usable_names_.find(wanted);
  if (!approve && it != usable_names_.end() && !machine.empty() &&
      !names.Listed(wanted) && !names.Connected(wanted)) {
    const proto::EnrolledNode& old = nodes_.at(it->second);
    if (old.machine() == machine) {
      *replaced = old.key();
      Erase(*replaced);
      return wanted;
    }
  }
  for (int n = 2;; ++n) {
    std::string candidate = Suffixed(wanted, n);
    if (!NameTaken(candidate, names)) return candidate;
  }
}

proto::EnrolledNode* Enrollment::FindByName(const std::string& name,
                                            proto::EnrollState state) {
  auto it = usable_names_.find(name);
  if (it == usable_names_.end()) return nullptr;
  proto::EnrolledNode& node = nodes_.at(it->second);
  return node.state() == state ? &node : nullptr;
}

// -------------------------------------------------- operator decisions

std::vector<proto::EnrolledNode> Enrollment::ListPending() const {
  std::vector<proto::EnrolledNode> out;
  for (const auto& [key, node] : nodes_) {
    if (node.state() == proto::ENROLL_PENDING) out.push_back(node);
  }
  std::stable_sort(
      out.begin(), out.end(),
      [](const proto::EnrolledNode& a, const proto::EnrolledNode& b) {
        return a.requested_ms() < b.requested_ms();
      });
  return out;
}

absl::StatusOr<proto::EnrolledNode> Enrollment::Approve(const std::string& name,
                                                        absl::Time now) {
  proto::EnrolledNode* node = FindByName(name, proto::ENROLL_PENDING);
  if (node == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no node named '", name,
                     "' waits for approval (quark nodes --pending)"));
  }
  proto::EnrolledNode copy = *node;
  copy.set_state(proto::ENROLL_APPROVED);
  copy.set_decided_ms(UnixMillis(now));
  Put(copy);
  return copy;
}

absl::StatusOr<proto::EnrolledNode> Enrollment::Reject(const std::string& name,
                                                       absl::Time now) {
  proto::EnrolledNode* node = FindByName(name, proto::ENROLL_PENDING);
  if (node == nullptr) node = FindByName(name, proto::ENROLL_APPROVED);
  if (node == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "no enrolled node named '", name,
        "' (nodes listed in authorized_workers are removed from that file)"));
  }
  proto::EnrolledNode copy = *node;
  copy.set_state(proto::ENROLL_REJECTED);
  copy.set_decided_ms(UnixMillis(now));
  Put(copy);
  ForgetOldRejected();
  return copy;
}

const std::string* Enrollment::NameOf(const std::string& key) const {
  auto it = nodes_.find(key);
  if (it == nodes_.end() || it->second.state() != proto::ENROLL_APPROVED) {
    return nullptr;
  }
  return &it->second.name();
}

const proto::EnrolledNode* Enrollment::Find(const std::string& key) const {
  auto it = nodes_.find(key);
  return it == nodes_.end() ? nullptr : &it->second;
}

// ------------------------------------------------------------ records

void Enrollment::Put(proto::EnrolledNode node) {
  const std::string key = node.key();
  nodes_[key] = std::move(node);
  dirty_nodes_.insert(key);
  Recount();
}

// By value: `key` may be the erased node's own (ForgetOldRejected).
// NOLINTNEXTLINE(performance-unnecessary-value-param)
void Enrollment::Erase(std::string key) {
  nodes_.erase(key);
  dirty_nodes_.insert(key);
  Recount();
}

// A rejected key is kept so that it cannot enroll again, up to a bound:
// past it the oldest decisions are forgotten.
void Enrollment::ForgetOldRejected() {
  while (rejected_ > options_.max_rejected) {
    auto oldest = nodes_.end();
    for (auto it = nodes_.begin(); it != nodes_.end(); ++it) {
      if (it->second.state() == proto::ENROLL_REJECTED &&
          (oldest == nodes_.end() ||
           it->second.decided_ms() < oldest->second.decided_ms())) {
        oldest = it;
      }
    }
    Erase(oldest->first);
  }
}

void Enrollment::Recount() {
  approved_ = pending_ = rejected_ = 0;
  usable_names_.clear();
  for (const auto& [key, node] : nodes_) {
    approved_ += node.state() == proto::ENROLL_APPROVED;
    pending_ += node.state() == proto::ENROLL_PENDING;
    rejected_ += node.state() == proto::ENROLL_REJECTED;
    if (Usable(node.state())) usable_names_[node.name()] = key;
  }
}

void Enrollment::TakeChanges(StoreBatch* batch) {
  for (const std::string& id : dirty_tokens_) {
    auto it = tokens_.find(id);
    if (it == tokens_.end()) {
      batch->deleted_tokens.push_back(id);
    } else {
      batch->tokens.push_back(it->second);
    }
  }
  for (const std::string& key : dirty_nodes_) {
    auto it = nodes_.find(key);
    if (it == nodes_.end()) {
      batch->deleted_enrolled.push_back(key);
    } else {
      batch->enrolled.push_back(it->second);
    }
  }
  dirty_tokens_.clear();
  dirty_nodes_.clear();
}

}  // namespace quark
