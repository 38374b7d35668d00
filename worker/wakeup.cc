#include "worker/wakeup.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace quark {

absl::StatusOr<std::unique_ptr<Wakeup>> Wakeup::Create() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  return std::unique_ptr<Wakeup>(new Wakeup(fd));
}

Wakeup::~Wakeup() { ::close(fd_); }

void Wakeup::Notify() {
  const uint64_t one = 1;
  // Fails only when the counter would overflow: it is readable anyway.
  ssize_t ignored = ::write(fd_, &one, sizeof(one));
  (void)ignored;
}

void Wakeup::Clear() {
  uint64_t count;
  ssize_t ignored = ::read(fd_, &count, sizeof(count));
  (void)ignored;
}

}  // namespace quark
