#include "fuzz/enroll_checker.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/transport.h"
#include "controller/auth.h"
#include "fuzz/broken.h"
#include "fuzz/curve_keys.h"

namespace quark::fuzz {
namespace {

constexpr size_t kMaxSeenKeys = 64;

std::string Same(const google::protobuf::MessageLite& m) {
  return m.SerializeAsString();
}

// Names nothing: what Finish's probes use, so that they change nothing.
class NoNames : public NodeNames {
 public:
  bool Listed(const std::string&) const override { return false; }
  bool Connected(const std::string&) const override { return false; }
};

}  // namespace

EnrollChecker::EnrollChecker(Enrollment* enrollment, const KeyDirectory* keys,
                             EnrollmentOptions options)
    : enrollment_(enrollment), keys_(keys), options_(std::move(options)) {
  for (size_t i = 0; i < kEnrollKeys; ++i) seen_keys_.insert(EnrollKey(i));
}

void EnrollChecker::NoteKey(const std::string& key) {
  if (seen_keys_.size() < kMaxSeenKeys) seen_keys_.insert(key);
}

void EnrollChecker::OnRequest(const std::vector<absl::string_view>& frames,
                              const Peer& peer) {
  if (frames.size() != 2) return;  // dropped unanswered
  const std::string route(frames[0]);
  NoteKey(peer.key);
  auto [it, inserted] = route_keys_.try_emplace(route, peer.key);
  if (ambiguous_routes_.count(route) || (!inserted && it->second != peer.key)) {
    ambiguous_routes_.insert(route);
    ambiguous_keys_.insert(it->second);
    ambiguous_keys_.insert(peer.key);
  }
}

const proto::EnrollReply* EnrollChecker::LastReply(
    const std::string& key) const {
  auto it = last_.find(key);
  return it == last_.end() ? nullptr : &it->second;
}

void EnrollChecker::OnFlush(const StoreBatch& batch, const MemoryStore& store,
                            const InboundOutput& out) {
  if (enrollment_ == nullptr && !out.enroll.empty()) {
    Broken(absl::StrCat("enroll reply without enrollment: ",
                        out.enroll[0].reply.ShortDebugString()));
  }
  // Replies first, then the operator's decisions: in doubt about their
  // order, a key is dropped from accepted_ (a weaker check), never kept.
  for (const EnrollOutbound& sent : out.enroll) OnReply(sent);
  for (const ApiOutbound& sent : out.api) OnApiReply(sent.reply);
  CheckBatch(batch, store);
  CheckLetIn();
  route_keys_.clear();
  ambiguous_routes_.clear();
  ambiguous_keys_.clear();
  refused_.clear();
  answered_.clear();
  accepted_names_.clear();
  accepted_keys_.clear();
  approved_keys_.clear();
}

void EnrollChecker::CheckReply(const proto::EnrollReply& reply) const {
  auto broken = [&](const char* what) {
    Broken(absl::StrCat("EnrollReply ", what, ": ", reply.ShortDebugString()));
  };
  if (reply.protocol_version() != kProtocolVersion) {
    broken("without the protocol version");
  }
  switch (reply.status()) {
    case proto::EnrollReply::ACCEPTED:
      if (!ValidNodeName(reply.name())) broken("ACCEPTED without a node name");
      if (reply.control().empty()) broken("ACCEPTED without the endpoint");
      break;
    case proto::EnrollReply::PENDING:
      // Without a name: not recorded, a limit is reached; with the reason.
      if (!ValidNodeName(reply.name()) && reply.reason().empty()) {
        broken("PENDING without a node name or a reason");
      }
      if (reply.retry_ms() == 0) broken("PENDING without a retry delay");
      break;
    case proto::EnrollReply::REFUSED:
      if (reply.reason().empty()) broken("REFUSED without a reason");
      break;
    default:
      broken("without a status");
  }
}

void EnrollChecker::OnReply(const EnrollOutbound& sent) {
  const proto::EnrollReply& reply = sent.reply;
  CheckReply(reply);
  std::string key;  // "" when the route does not say
  if (auto it = route_keys_.find(sent.route);
      it != route_keys_.end() && !ambiguous_routes_.count(sent.route)) {
    key = it->second;
  }
  if (!key.empty()) last_[key] = reply;
  // Refused, or asked to come back later (not recorded): nothing of it
  // may be stored.
  if (reply.status() == proto::EnrollReply::REFUSED ||
      (reply.status() == proto::EnrollReply::PENDING && reply.name().empty())) {
    if (!key.empty()) refused_.insert(key);
    return;
  }
  if (!key.empty()) answered_.insert(key);
  // The name is this key's now: whoever held it before lost it.
  std::erase_if(accepted_, [&](const auto& entry) {
    return entry.second == reply.name() && entry.first != key;
  });
  if (reply.status() != proto::EnrollReply::ACCEPTED) return;
  if (key.empty()) {
    accepted_names_.insert(reply.name());
  } else {
    accepted_[key] = reply.name();
    accepted_keys_.insert(key);
  }
}

void EnrollChecker::OnApiReply(const proto::ApiReply& reply) {
  if (reply.has_token()) CheckToken(reply.token());
  for (const proto::Token& token : reply.tokens().tokens()) CheckToken(token);
  if (!reply.has_enrolled_node()) return;
  const proto::EnrolledNode& node = reply.enrolled_node();
  if (node.state() == proto::ENROLL_APPROVED) approved_keys_.insert(node.key());
  if (node.state() == proto::ENROLL_REJECTED) accepted_.erase(node.key());
}

void EnrollChecker::CheckToken(const proto::Token& view) {
  if (view.controller_key() != options_.controller_key) {
    Broken(
        absl::StrCat("token pinning another key: ", view.ShortDebugString()));
  }
  if (view.expires_ms() != 0) {
    // Modulo 2^64: what CreateToken was asked for.
    const uint64_t ttl = view.expires_ms() - view.created_ms();
    const auto max_ttl =
        static_cast<uint64_t>(absl::ToInt64Milliseconds(options_.max_ttl));
    if (ttl > max_ttl) {
      Broken(absl::StrCat("token with a TTL of ", ttl,
                          " ms, over max_ttl: ", view.ShortDebugString()));
    }
  }
  if (!view.has_token()) return;  // not CreateToken's
  absl::StatusOr<JoinToken> token = ParseJoinToken(view.token());
  if (!token.ok()) {
    Broken(absl::StrCat("CreateToken made a token that does not parse: ",
                        token.status().message()));
  }
  if (token->id != view.id() ||
      token->controller_key != options_.controller_key) {
    Broken(absl::StrCat("CreateToken's token does not match its reply: ",
                        view.ShortDebugString()));
  }
  if (tokens_.size() >= kMaxKnownTokens) tokens_.erase(tokens_.begin() + 2);
  tokens_.push_back({*std::move(token), view.approve()});
}

void EnrollChecker::CheckBatch(const StoreBatch& batch,
                               const MemoryStore& store) const {
  for (const proto::EnrolledNode& node : batch.enrolled) {
    if (node.state() == proto::ENROLL_APPROVED &&
        !approved_keys_.count(node.key()) &&
        !accepted_keys_.count(node.key()) &&
        !accepted_names_.count(node.name())) {
      Broken(absl::StrCat(
          "enrolled node stored APPROVED with neither an ACCEPTED reply nor "
          "an ApproveNode: ",
          node.ShortDebugString()));
    }
    if (refused_.count(node.key()) && !answered_.count(node.key()) &&
        !ambiguous_keys_.count(node.key()) &&
        store.Enrolled(node.key()) == nullptr) {
      Broken(absl::StrCat("a key only ever REFUSED got an enrolled record: ",
                          node.ShortDebugString()));
    }
  }
}

void EnrollChecker::CheckLetIn() const {
  for (const auto& [key, name] : accepted_) {
    // The static list wins a name over an enrolled key (a reload gave it
    // to another key): one key per name.
    if (keys_->ListsWorker(name) &&
        (keys_->NameOf(kWorkerDomain, key) == nullptr ||
         *keys_->NameOf(kWorkerDomain, key) != name)) {
      continue;
    }
    const std::string* now = keys_->NameOf(kWorkerDomain, key);
    if (now == nullptr || *now != name) {
      Broken(absl::StrCat("key ", key, " was answered ACCEPTED as '", name,
                          "' but is now let in as '",
                          now == nullptr ? "(nobody)" : *now,
                          "', with no RejectNode, no other key taking the "
                          "name and the static list not listing it"));
    }
  }
}

void EnrollChecker::CheckRestore(const MemoryStore& store,
                                 absl::Time now) const {
  if (enrollment_ == nullptr) return;
  const StoredState state = store.State();
  Enrollment back(options_);
  if (absl::Status s = back.Restore(state); !s.ok()) {
    Broken(absl::StrCat("the stored tokens and enrolled nodes do not restore: ",
                        s.message()));
  }
  auto compare = [](const char* what, const auto& live, const auto& restored) {
    bool same = live.size() == restored.size();
    for (size_t i = 0; same && i < live.size(); ++i) {
      same = Same(live[i]) == Same(restored[i]);
    }
    if (!same) {
      Broken(absl::StrCat(what, " differ after a restart: ", live.size(),
                          " before, ", restored.size(), " after"));
    }
  };
  compare("tokens", enrollment_->ListTokens(now), back.ListTokens(now));
  compare("pending nodes", enrollment_->ListPending(), back.ListPending());
  if (enrollment_->approved() != back.approved() ||
      enrollment_->pending() != back.pending()) {
    Broken(absl::StrCat("enrolled counts differ after a restart: approved ",
                        enrollment_->approved(), " -> ", back.approved(),
                        ", pending ", enrollment_->pending(), " -> ",
                        back.pending()));
  }
  std::set<std::string> keys = seen_keys_;
  for (const proto::EnrolledNode& node : state.enrolled)
    keys.insert(node.key());
  // A request no node could enroll with: a known key gets its standing
  // (approved, pending, rejected), any other a refusal; nothing changes.
  proto::EnrollRequest probe;
  probe.set_protocol_version(kProtocolVersion);
  const NoNames names;
  for (const std::string& key : keys) {
    const std::string* live = enrollment_->NameOf(key);
    const std::string* restored = back.NameOf(key);
    const EnrollOutcome a = enrollment_->Enroll(probe, key, "", now, names);
    const EnrollOutcome b = back.Enroll(probe, key, "", now, names);
    if ((live == nullptr) != (restored == nullptr) ||
        (live != nullptr && *live != *restored) ||
        Same(a.reply) != Same(b.reply)) {
      Broken(absl::StrCat("key ", key, " is let in as '",
                          live ? *live : "(nobody)", "' and answered {",
                          a.reply.ShortDebugString(), "}, after a restart '",
                          restored ? *restored : "(nobody)", "' and {",
                          b.reply.ShortDebugString(), "}"));
    }
  }
}

}  // namespace quark::fuzz
