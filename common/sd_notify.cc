#include "common/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace quark {
namespace {

// A non-empty string of decimal digits below 2^63, else nullopt. Stricter
// than strtoull: no sign, no spaces, no trailing junk.
std::optional<int64_t> ParseDecimal(absl::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

// The sun_path bytes for $NOTIFY_SOCKET, or an error naming what is wrong.
absl::StatusOr<std::string> SunPath(const std::string& socket) {
  if (socket.empty() || (socket[0] != '/' && socket[0] != '@')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", socket, "\": neither an absolute path nor @abstract"));
  }
  std::string path = socket;
  if (path[0] == '@') path[0] = '\0';
  if (path.size() > sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", socket, "\": longer than a unix socket path"));
  }
  return path;
}

// The watchdog interval from the environment; zero when off.
absl::Duration WatchdogFromEnvironment() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr) return absl::ZeroDuration();
  auto interval = ParseWatchdogUsec(usec);
  if (!interval.ok()) {
    QLOG(kWarning) << "systemd watchdog off error=\""
                   << interval.status().message() << "\"";
    return absl::ZeroDuration();
  }
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid != nullptr) {
    const std::optional<int64_t> parsed = ParseDecimal(pid);
    if (!parsed) {
      QLOG(kWarning) << "systemd watchdog off error=\"WATCHDOG_PID \\\"" << pid
                     << "\\\" is not a process id\"";
      return absl::ZeroDuration();
    }
    if (*parsed != getpid()) {
      QLOG(kDebug) << "systemd watchdog is for pid=" << *parsed;
      return absl::ZeroDuration();
    }
  }
  return *interval;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseWatchdogUsec(absl::string_view text) {
  const std::optional<int64_t> usec = ParseDecimal(text);
  if (!usec || *usec == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("WATCHDOG_USEC \"", text,
                     "\" is not a positive number of microseconds"));
  }
  return absl::Microseconds(*usec);
}

absl::Time NextWatchdogPing(absl::Time last_ping, absl::Duration interval) {
  if (interval <= absl::ZeroDuration()) return absl::InfiniteFuture();
  if (last_ping == absl::InfinitePast()) return absl::InfinitePast();
  return last_ping + interval / 2;
}

std::unique_ptr<SystemdNotifier> SystemdNotifier::FromEnvironment() {
  Options options;
  if (const char* socket = std::getenv("NOTIFY_SOCKET"); socket != nullptr) {
    options.socket = socket;
    options.watchdog = WatchdogFromEnvironment();
  }
  return Create(std::move(options));
}

std::unique_ptr<SystemdNotifier> SystemdNotifier::Create(Options options) {
  // Private constructor: no make_unique.
  auto disabled = [&options] {
    return std::unique_ptr<SystemdNotifier>(
        new SystemdNotifier(std::move(options), "", -1));
  };
  if (options.socket.empty()) return disabled();
  absl::StatusOr<std::string> path = SunPath(options.socket);
  if (!path.ok()) {
    QLOG(kWarning) << "systemd notifications off error=\""
                   << path.status().message() << "\"";
    return disabled();
  }
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    QLOG(kWarning) << "systemd notifications off error=\"socket: "
                   << std::strerror(errno) << "\"";
    return disabled();
  }
  QLOG(kDebug) << "systemd notifications socket=" << options.socket
               << " watchdog_ms="
               << absl::ToInt64Milliseconds(options.watchdog);
  return std::unique_ptr<SystemdNotifier>(
      new SystemdNotifier(std::move(options), *std::move(path), fd));
}

SystemdNotifier::SystemdNotifier(Options options, std::string sun_path, int fd)
    : options_(std::move(options)), sun_path_(std::move(sun_path)), fd_(fd) {}

SystemdNotifier::~SystemdNotifier() {
  if (fd_ >= 0) close(fd_);
}

void SystemdNotifier::Tick(absl::Time now) {
  if (!enabled() || now < NextWatchdogPing(last_ping_, options_.watchdog)) {
    return;
  }
  Send("WATCHDOG=1");
  // Even when the send failed: retrying on every turn would spin the loop.
  last_ping_ = now;
}

absl::Time SystemdNotifier::NextDeadline() const {
  if (!enabled()) return absl::InfiniteFuture();
  return NextWatchdogPing(last_ping_, options_.watchdog);
}

bool SystemdNotifier::StatusDue(absl::Time now) const {
  return enabled() && now >= next_status_;
}

void SystemdNotifier::SetStatus(absl::string_view line, absl::Time now) {
  if (!enabled()) return;
  next_status_ = now + options_.status_interval;
  std::string status(line);
  for (char& c : status) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (status == last_status_) return;
  if (Send(absl::StrCat("STATUS=", status))) last_status_ = std::move(status);
}

bool SystemdNotifier::Send(absl::string_view message) {
  if (!enabled()) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, sun_path_.data(), sun_path_.size());
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                             sun_path_.size());
  const ssize_t sent =
      sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
             reinterpret_cast<const sockaddr*>(&address), length);
  if (sent == static_cast<ssize_t>(message.size())) return true;
  const int error = sent < 0 ? errno : EMSGSIZE;
  if (!warned_) {
    QLOG(kWarning) << "systemd notification not sent socket=" << options_.socket
                   << " error=\"" << std::strerror(error) << "\"";
    warned_ = true;
  } else {
    QLOG(kDebug) << "systemd notification not sent error=\""
                 << std::strerror(error) << "\"";
  }
  return false;
}

}  // namespace quark
