#include "worker/joiner.h"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/beacon.h"
#include "common/log.h"
#include "common/status.h"
#include "common/transport.h"
#include "proto/quark.pb.h"

namespace quark {
namespace {

// As the worker's loop: intervals on the monotonic clock.
absl::Time Now() {
  return absl::UnixEpoch() +
         absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

// Longest single wait, so that the watchdog is fed and signals are seen.
constexpr absl::Duration kMaxWait = absl::Milliseconds(500);

int PollMillis(absl::Duration d) {
  return static_cast<int>(absl::ToInt64Milliseconds(std::clamp(
      absl::Ceil(d, absl::Milliseconds(1)), absl::ZeroDuration(), kMaxWait)));
}

}  // namespace

Joiner::Joiner(JoinOptions options, ShutdownSignals* signals,
               SystemdNotifier* systemd)
    : options_(std::move(options)), signals_(signals), systemd_(systemd) {}

Joiner::~Joiner() = default;

void Joiner::SetStatus(const std::string& line) {
  if (line == status_) return;
  status_ = line;
  systemd_->SetStatus(line, Now());
}

void Joiner::Tick() { systemd_->Tick(Now()); }

absl::Status Joiner::CheckSignal() {
  if (signals_->Take() != 0) {
    return absl::CancelledError("stopped while joining");
  }
  return absl::OkStatus();
}

absl::Status Joiner::Sleep(absl::Duration d) {
  const absl::Time until = Now() + d;
  for (absl::Time now = Now(); now < until; now = Now()) {
    Tick();
    pollfd fd = {signals_->fd(), POLLIN, 0};
    ::poll(&fd, 1, PollMillis(until - now));
    RETURN_IF_ERROR(CheckSignal());
  }
  return absl::OkStatus();
}

absl::StatusOr<Joiner::Found> Joiner::Locate() {
  if (!options_.controller.empty()) {
    Found found;
    found.control = options_.controller;
    found.enroll =
        !options_.enroll.empty()
            ? options_.enroll
            : absl::StrCat("tcp://", HostOfEndpoint(options_.controller),
                           ":7703");
    return found;
  }
  if (!options_.enroll.empty()) return Found{"", options_.enroll};
  return ListenForBeacon(absl::InfiniteFuture());
}

absl::StatusOr<std::string> Joiner::FindControl(absl::Duration wait) {
  absl::StatusOr<Found> found = ListenForBeacon(Now() + wait);
  if (absl::IsNotFound(found.status())) return std::string();
  if (!found.ok()) return found.status();
  return found->control;
}

// Beacons are not authenticated: anyone on the LAN can send one with the
// controller's (public) key from any address. So a beacon only ever
// suggests where to try; an address that did not answer as the controller
// is passed over while another one is heard, and a beacon that says
// nothing useful is ignored, never taken for a refusal.
absl::StatusOr<Joiner::Found> Joiner::ListenForBeacon(absl::Time deadline) {
  ASSIGN_OR_RETURN(std::unique_ptr<BeaconListener> ear,
                   BeaconListener::Open(options_.beacon_port));
  const std::string want = options_.token.controller_key;
  SetStatus(absl::StrCat(
      "looking for the controller (key ", KeyFingerprint(want),
      "): listening for its beacon on UDP port ", options_.beacon_port));
  QLOG(kInfo) << "looking for the controller port=" << options_.beacon_port
              << " key=" << want;
  // Keys of other controllers, logged once each; bounded, as anyone can
  // send beacons with made-up keys.
  constexpr size_t kMaxOthers = 32;
  std::set<std::string> others;
  bool said_no_enroll = false;
  std::optional<Found> failed_before;  // heard from an address that failed
  const absl::Time start = Now();
  absl::Time next_hint = start + absl::Seconds(30);
  while (Now() < deadline) {
    Tick();
    pollfd fds[] = {{ear->fd(), POLLIN, 0}, {signals_->fd(), POLLIN, 0}};
    ::poll(fds, 2, PollMillis(deadline - Now()));
    RETURN_IF_ERROR(CheckSignal());
    for (int i = 0; i < BeaconListener::kMaxDatagramsPerCall; ++i) {
      std::optional<BeaconListener::Heard> heard = ear->Receive();
      if (!heard) break;
      const Beacon& b = heard->beacon;
      if (b.controller_key != want) {
        // Another cluster's controller, or a rogue one: it can only delay
        // us, never be talked to.
        if (others.size() < kMaxOthers &&
            others.insert(b.controller_key).second) {
          QLOG(kInfo) << "ignoring the beacon of another controller from="
                      << heard->from << " key=" << b.controller_key;
        }
        continue;
      }
      if (b.enroll_port == 0 && deadline == absl::InfiniteFuture()) {
        if (!said_no_enroll) {
          QLOG(kWarning)
              << "a beacon with the controller's key offers no "
                 "enrollment from="
              << heard->from
              << " hint=\"is its --enroll empty? waiting for another\"";
          said_no_enroll = true;
        }
        continue;
      }
      Found found;
      found.control = absl::StrCat("tcp://", heard->from, ":", b.control_port);
      found.enroll = absl::StrCat("tcp://", heard->from, ":", b.enroll_port);
      if (failed_.count(found.enroll) != 0) {
        failed_before = found;
        continue;
      }
      QLOG(kNotice) << "found the controller control=" << found.control
                    << " enroll=" << found.enroll
                    << " after_ms=" << absl::ToInt64Milliseconds(Now() - start);
      return found;
    }
    // Only addresses that failed before are heard: try them again after a
    // while (the controller may just have been down).
    if (failed_before && Now() - start >= absl::Seconds(5)) {
      failed_.erase(failed_before->enroll);
      return *failed_before;
    }
    if (Now() >= next_hint) {
      next_hint = Now() + absl::Minutes(5);
      QLOG(kWarning) << "no beacon from the controller yet port="
                     << options_.beacon_port << " key=" << want
                     << " hint=\"is it running on this LAN with its beacon on? "
                        "Else set controller = tcp://HOST:7700\" ignored="
                     << others.size();
    }
  }
  return absl::NotFoundError("no beacon from the controller");
}

absl::StatusOr<std::optional<proto::EnrollReply>> Joiner::Ask(
    const std::string& enroll) {
  zmq::socket_t socket;
  try {
    socket = zmq::socket_t(*context_, zmq::socket_type::dealer);
  } catch (const zmq::error_t& e) {
    return absl::InternalError(absl::StrCat("enroll socket: ", e.what()));
  }
  // Not immediate: the request waits for the connection, which may take a
  // few reconnect attempts.
  RETURN_IF_ERROR(ConfigureClient(socket, "", absl::ZeroDuration(),
                                  /*immediate=*/false));
  RETURN_IF_ERROR(ConfigureCurveClient(socket, options_.token.controller_key,
                                       options_.own));
  RETURN_IF_ERROR(Connect(socket, enroll));
  proto::EnrollRequest request;
  request.set_protocol_version(kProtocolVersion);
  request.set_token_id(options_.token.id);
  request.set_name(options_.name);
  request.set_machine(options_.machine);
  request.set_proof(EnrollProof(options_.token, options_.own.public_key));
  RETURN_IF_ERROR(SendMessage(socket, request));
  const absl::Time deadline = Now() + options_.reply_timeout;
  for (absl::Time now = Now(); now < deadline; now = Now()) {
    Tick();
    zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, signals_->fd(), ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2,
                std::chrono::milliseconds(PollMillis(deadline - now)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) {
        return absl::InternalError(absl::StrCat("poll: ", e.what()));
      }
    }
    RETURN_IF_ERROR(CheckSignal());
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    ASSIGN_OR_RETURN(auto frames, ReceiveFrames(socket));
    if (!frames.has_value()) continue;
    proto::EnrollReply reply;
    if (frames->size() != 1 || !ParseFrame(frames->front(), &reply).ok()) {
      QLOG(kWarning) << "unreadable enroll reply endpoint=" << enroll;
      continue;
    }
    return reply;
  }
  return std::nullopt;
}

absl::StatusOr<JoinResult> Joiner::Run() {
  try {
    context_ = std::make_unique<zmq::context_t>(1);
  } catch (const zmq::error_t& e) {
    return absl::InternalError(absl::StrCat("zmq context: ", e.what()));
  }
  std::optional<Found> where;
  absl::Duration backoff = absl::Seconds(1);
  bool said_pending = false;
  while (true) {
    if (!where) {
      ASSIGN_OR_RETURN(Found found, Locate());
      where = std::move(found);
    }
    if (!said_pending) {
      SetStatus(absl::StrCat("enrolling at ", where->enroll, " with token ",
                             options_.token.id));
    }
    if (!said_pending) {
      QLOG(kInfo) << "enrolling node=" << options_.name
                  << " endpoint=" << where->enroll
                  << " token=" << options_.token.id
                  << " key=" << options_.own.public_key;
    }
    ASSIGN_OR_RETURN(std::optional<proto::EnrollReply> reply,
                     Ask(where->enroll));
    if (!reply) {
      QLOG(kWarning) << "no answer to the enrollment endpoint=" << where->enroll
                     << " retry_s=" << absl::ToInt64Seconds(backoff)
                     << " hint=\"is the controller there, with the key the "
                        "token pins ("
                     << KeyFingerprint(options_.token.controller_key) << ")?\"";
      SetStatus(absl::StrCat("no answer from ", where->enroll, ", retrying"));
      RETURN_IF_ERROR(Sleep(backoff));
      backoff = std::min(2 * backoff, options_.max_backoff);
      // A controller found by its beacon may have moved, or the beacon
      // may have lied: look again, past this address.
      if (options_.controller.empty() && options_.enroll.empty()) {
        failed_.insert(where->enroll);
        where.reset();
      }
      continue;
    }
    backoff = absl::Seconds(1);
    switch (reply->status()) {
      case proto::EnrollReply::ACCEPTED: {
        JoinResult result;
        result.name = reply->name();
        result.controller_key = options_.token.controller_key;
        result.controller =
            !where->control.empty()
                ? where->control
                : ConnectableEndpoint(reply->control(),
                                      HostOfEndpoint(where->enroll));
        if (!ValidNodeName(result.name)) {
          return absl::PermissionDeniedError(
              "the controller accepted this node under an invalid name");
        }
        QLOG(kNotice) << "enrolled node=" << result.name
                      << " control=" << result.controller
                      << " token=" << options_.token.id;
        return result;
      }
      case proto::EnrollReply::PENDING:
        if (reply->name().empty()) {
          // Not recorded (the controller is full of pending nodes, say):
          // ask again later.
          QLOG(kWarning) << "the controller asks to try again later reason=\""
                         << reply->reason() << "\"";
          SetStatus(
              absl::StrCat("asked to try again later: ", reply->reason()));
        } else {
          if (!said_pending) {
            QLOG(kNotice) << "waiting for approval node=" << reply->name()
                          << " hint=\"on the controller: quark approve "
                          << reply->name() << "\"";
            said_pending = true;
          }
          SetStatus(absl::StrCat(
              "waiting for approval: on the controller, quark approve ",
              reply->name()));
        }
        RETURN_IF_ERROR(
            Sleep(std::clamp(absl::Milliseconds(reply->retry_ms()),
                             absl::Milliseconds(200), absl::Minutes(1))));
        continue;
      default: {
        const std::string reason = reply->reason().empty()
                                       ? std::string("no reason given")
                                       : reply->reason();
        SetStatus(absl::StrCat("refused: ", reason));
        // The one final outcome, and only from the controller itself: its
        // reply came over CURVE with the key the token pins.
        return absl::PermissionDeniedError(absl::StrCat(
            "the controller refused to enroll this node: ", reason));
      }
    }
  }
}

}  // namespace quark
