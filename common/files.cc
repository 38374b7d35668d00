#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace quark {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path, int error) {
  const std::string text =
      absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(text);
  if (error == EACCES || error == EPERM)
    return absl::PermissionDeniedError(text);
  return absl::UnavailableError(text);
}

absl::Status WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError(std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("read", path, errno);
  std::string text;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return Errno("read", path, error);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > max_bytes) {
      ::close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is over ", max_bytes, " bytes"));
    }
  }
  ::close(fd);
  return text;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& text, mode_t mode) {
  const std::filesystem::path target(path);
  const std::string dir =
      target.has_parent_path() ? target.parent_path().string() : ".";
  std::string temp =
      absl::StrCat(dir, "/.", target.filename().string(), ".XXXXXX");
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) return Errno("write", path, errno);
  absl::Status s = ::fchmod(fd, mode) == 0
                       ? WriteAll(fd, text)
                       : absl::UnavailableError(std::strerror(errno));
  if (s.ok() && ::fsync(fd) != 0)
    s = absl::UnavailableError(std::strerror(errno));
  ::close(fd);
  if (s.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    s = absl::UnavailableError(std::strerror(errno));
  }
  if (!s.ok()) {
    ::unlink(temp.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path, ": ", s.message()));
  }
  // The rename is durable once the directory is.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

absl::Status MakeDirectory(const std::string& dir, mode_t mode) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " is not a directory"));
  }
  const std::filesystem::path path(dir);
  if (path.has_parent_path() && path.parent_path() != path) {
    std::error_code error;
    std::filesystem::create_directories(path.parent_path(), error);
    if (error) {
      return absl::UnavailableError(absl::StrCat("cannot create ",
                                                 path.parent_path().string(),
                                                 ": ", error.message()));
    }
  }
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return Errno("create", dir, errno);
  }
  return absl::OkStatus();
}

}  // namespace quark
