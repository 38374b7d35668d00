#include "controller/auth.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"
#include "common/transport.h"

namespace quark {
namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
constexpr char kZapVersion[] = "1.0";

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::ForLists(
    AuthOptions options) {
  std::unique_ptr<Authenticator> auth(new Authenticator(std::move(options)));
  RETURN_IF_ERROR(auth->Reload());
  return auth;
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Start(
    zmq::context_t& context, AuthOptions options) {
  ASSIGN_OR_RETURN(std::unique_ptr<Authenticator> auth,
                   ForLists(std::move(options)));
  try {
    auth->socket_ =
        std::make_unique<zmq::socket_t>(context, zmq::socket_type::rep);
    auth->socket_->set(zmq::sockopt::linger, 0);
    auth->socket_->bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    return absl::InternalError(absl::StrCat("ZAP handler: ", e.what()));
  }
  return auth;
}

absl::Status Authenticator::Reload() {
  absl::StatusOr<Allowlist> loaded = Allowlist::Load(options_.workers_path);
  if (absl::IsNotFound(loaded.status()) && options_.workers_optional) {
    loaded = Allowlist();
  }
  ASSIGN_OR_RETURN(Allowlist workers, std::move(loaded));
  std::optional<Allowlist> operators;
  if (!options_.operators_path.empty()) {
    ASSIGN_OR_RETURN(operators, Allowlist::Load(options_.operators_path));
  }
  workers_ = std::move(workers);
  operators_ = std::move(operators);
  return absl::OkStatus();
}

const std::string* Authenticator::NameOf(const std::string& domain,
                                         const std::string& key) const {
  if (domain == kWorkerDomain) {
    if (const std::string* name = workers_.NameOf(key)) return name;
    // authorized_workers wins: an enrolled key whose name the file has
    // since given to another key is let in no more (one key per name).
    const std::string* name =
        enrolled_ != nullptr ? enrolled_->NameOf(key) : nullptr;
    return name != nullptr && !workers_.Lists(*name) ? name : nullptr;
  }
  if (domain == kOperatorDomain && operators_) return operators_->NameOf(key);
  return nullptr;
}

bool Authenticator::ListsWorker(const std::string& name) const {
  return workers_.Lists(name);
}

ZapVerdict Authenticator::Decide(const std::vector<std::string>& request,
                                 absl::Time now) {
  ZapVerdict verdict;
  if (request.size() < 6 || request[0] != kZapVersion) {
    verdict.reason = "malformed ZAP request";
    return verdict;
  }
  const std::string& domain = request[2];
  const std::string& mechanism = request[5];
  if (mechanism != "CURVE" || request.size() != 7 || request[6].size() != 32) {
    verdict.reason = absl::StrCat("mechanism ", mechanism, " is not accepted");
    return verdict;
  }
  const std::string key =
      EncodeZ85Key(reinterpret_cast<const uint8_t*>(request[6].data()));
  if (domain == kEnrollDomain) {
    // Any key may enroll: the token, checked on the first message, says
    // whether it gets in.
    if (!enroll_handshakes_.Allow(request[3], now)) {
      verdict.reason = "too many enroll handshakes from this address";
      return verdict;
    }
    verdict.allowed = true;
    verdict.user_id = key;
    return verdict;
  }
  if (NameOf(domain, key) == nullptr) {
    verdict.reason =
        absl::StrCat("key ", key, " is not in ",
                     domain == kOperatorDomain ? "authorized_operators"
                                               : "authorized_workers");
    return verdict;
  }
  verdict.allowed = true;
  verdict.user_id = key;
  return verdict;
}

void Authenticator::HandleRequest(absl::Time now) {
  auto frames = ReceiveFrames(*socket_);
  if (!frames.ok() || !frames->has_value()) return;
  std::vector<std::string> request;
  for (const zmq::message_t& frame : **frames)
    request.push_back(frame.to_string());
  const ZapVerdict verdict = Decide(request, now);
  if (!verdict.allowed) {
    ++refused_;
    ++refused_unlogged_;
    if (now - last_refusal_log_ >= absl::Seconds(1)) {
      QLOG(kWarning) << "refused peer="
                     << (request.size() > 3 ? request[3] : std::string("?"))
                     << " domain=" << (request.size() > 2 ? request[2] : "?")
                     << " reason=\"" << verdict.reason
                     << "\" refusals=" << refused_unlogged_;
      refused_unlogged_ = 0;
      last_refusal_log_ = now;
    }
  }
  // REP: the reply must go out, or the socket (and so every handshake
  // after this one) would be stuck. Version, request id, status code,
  // status text, user id, metadata.
  const std::string id = request.size() > 1 ? request[1] : std::string();
  const std::string parts[] = {kZapVersion,
                               id,
                               verdict.allowed ? "200" : "400",
                               verdict.allowed ? "OK" : verdict.reason,
                               verdict.user_id,
                               ""};
  try {
    for (size_t i = 0; i < std::size(parts); ++i) {
      socket_->send(zmq::buffer(parts[i]), i + 1 < std::size(parts)
                                               ? zmq::send_flags::sndmore
                                               : zmq::send_flags::dontwait);
    }
  } catch (const zmq::error_t& e) {
    QLOG(kError) << "ZAP reply failed error=\"" << e.what() << "\"";
  }
}

}  // namespace quark
