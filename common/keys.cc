#include "common/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status.h"
#include "common/transport.h"

namespace quark {
namespace {

struct Entry {
  int line = 0;
  std::string name;  // may be empty
  std::string key;
};

absl::Status LineError(const std::string& path, int line,
                       absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ":", line, ": ", message));
}

// "NAME KEY" or "KEY" per line; comments and blank lines skipped. The key
// itself is never quoted back in an error: it may be a secret.
absl::StatusOr<std::vector<Entry>> ParseEntries(absl::string_view text,
                                                const std::string& path) {
  std::vector<Entry> entries;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    // '#' is a Z85 character too: only a line that starts with it is a
    // comment.
    if (words.empty() || words.front().front() == '#') continue;
    if (words.size() > 2) {
      return LineError(path, number, "expected 'NAME KEY' or 'KEY'");
    }
    Entry entry;
    entry.line = number;
    entry.key = std::string(words.back());
    if (words.size() == 2) {
      entry.name = std::string(words.front());
      if (!ValidNodeName(entry.name)) {
        return LineError(path, number,
                         "name must be 1-64 characters of [A-Za-z0-9._-]");
      }
    }
    if (!ValidZ85Key(entry.key)) {
      return LineError(path, number,
                       absl::StrCat("not a CURVE key: expected ", kZ85KeyLength,
                                    " characters of Z85, as `quark keygen` "
                                    "writes (this word has ",
                                    entry.key.size(), ")"));
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

enum class KeyFileKind { kUnknown, kSecret, kPublic };

// What a key file says it holds: the first line `quark keygen` writes, else
// its name's ending (.key, .pub).
KeyFileKind KindOf(const std::string& path, absl::string_view text) {
  if (absl::StartsWith(text, "# Quark CURVE secret key"))
    return KeyFileKind::kSecret;
  if (absl::StartsWith(text, "# Quark CURVE public key"))
    return KeyFileKind::kPublic;
  if (absl::EndsWith(path, ".key")) return KeyFileKind::kSecret;
  if (absl::EndsWith(path, ".pub")) return KeyFileKind::kPublic;
  return KeyFileKind::kUnknown;
}

// The file's one entry, refused when the file says it is of the other kind.
absl::StatusOr<Entry> KeyEntry(const std::string& path, KeyFileKind want) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  const KeyFileKind kind = KindOf(path, text);
  if (want == KeyFileKind::kSecret && kind == KeyFileKind::kPublic) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        " is a public key; a secret key is wanted here (the NAME.key "
        "that `quark keygen NAME` wrote beside it)"));
  }
  if (want == KeyFileKind::kPublic && kind == KeyFileKind::kSecret) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        " is a secret key; a public key is wanted here (NAME.pub). A "
        "secret key should not leave its machine: copy the .pub"));
  }
  ASSIGN_OR_RETURN(std::vector<Entry> entries, ParseEntries(text, path));
  if (entries.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected one ",
                     want == KeyFileKind::kSecret ? "secret" : "public",
                     " key, found ", entries.size()));
  }
  return entries.front();
}

absl::Status WriteNew(const std::string& path, const std::string& text,
                      mode_t mode) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return absl::UnavailableError(
          absl::StrCat("cannot write ", path, ": ", std::strerror(error)));
    }
    done += static_cast<size_t>(n);
  }
  // The umask may have narrowed the mode; a secret must not be wider.
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(error)));
  }
  ::close(fd);
  return absl::OkStatus();
}

}  // namespace

bool DecodeZ85Key(absl::string_view key, uint8_t bytes[32]) {
  // A NUL inside would end the string zmq_z85_decode reads, early.
  if (key.size() != kZ85KeyLength ||
      key.find('\0') != absl::string_view::npos) {
    return false;
  }
  const std::string copy(key);
  return zmq_z85_decode(bytes, copy.c_str()) != nullptr;
}

std::string EncodeZ85Key(const uint8_t bytes[32]) {
  char text[kZ85KeyLength + 1];
  if (zmq_z85_encode(text, bytes, 32) == nullptr) return "";
  return text;
}

bool ValidZ85Key(absl::string_view key) {
  uint8_t bytes[32];
  return DecodeZ85Key(key, bytes);
}

absl::StatusOr<KeyPair> GenerateKeyPair() {
  char public_key[kZ85KeyLength + 1];
  char secret_key[kZ85KeyLength + 1];
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    const int error = zmq_errno();
    return absl::UnavailableError(absl::StrCat(
        "cannot make a CURVE key pair: ", zmq_strerror(error),
        error == ENOTSUP ? " (libzmq was built without CURVE)" : ""));
  }
  return KeyPair{public_key, secret_key};
}

absl::StatusOr<std::string> PublicKeyOf(const std::string& secret_key) {
  if (!ValidZ85Key(secret_key)) {
    return absl::InvalidArgumentError("not a Z85 CURVE secret key");
  }
  char public_key[kZ85KeyLength + 1];
  if (zmq_curve_public(public_key, secret_key.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot derive a CURVE public key: ", zmq_strerror(zmq_errno())));
  }
  return std::string(public_key);
}

absl::StatusOr<std::string> WriteKeyPair(const std::string& dir,
                                         const std::string& name) {
  if (!ValidNodeName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key name '", name, "' must be 1-64 characters of [A-Za-z0-9._-]"));
  }
  // Only its owner needs to list a folder of secret keys.
  if (!dir.empty()) RETURN_IF_ERROR(MakeDirectory(dir, 0700));
  const std::string base = absl::StrCat(dir.empty() ? "." : dir, "/", name);
  const std::string secret_path = base + ".key";
  const std::string public_path = base + ".pub";
  for (const std::string& path : {secret_path, public_path}) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      return absl::AlreadyExistsError(absl::StrCat(
          path, " exists; remove it first to make a new key pair"));
    }
  }
  ASSIGN_OR_RETURN(KeyPair pair, GenerateKeyPair());
  RETURN_IF_ERROR(
      WriteNew(secret_path,
               absl::StrCat("# Quark CURVE secret key of '", name,
                            "'. Keep it secret: readable by its owner only.\n",
                            name, " ", pair.secret_key, "\n"),
               0600));
  absl::Status s = WriteNew(
      public_path,
      absl::StrCat("# Quark CURVE public key of '", name,
                   "'. A worker's or an operator's line goes into the\n"
                   "# controller's authorized_workers or authorized_operators;"
                   " the controller's\n# goes to its workers and operators "
                   "as controller.pub (docs/security.md).\n",
                   name, " ", pair.public_key, "\n"),
      0644);
  if (!s.ok()) {
    ::unlink(secret_path.c_str());
    return s;
  }
  return pair.public_key;
}

std::string ResolveCredentialPath(const std::string& path) {
  if (path.empty() || path.find('/') != std::string::npos) return path;
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
  if (dir != nullptr && *dir != '\0') return absl::StrCat(dir, "/", path);
  // What the user typed, when it names a file here.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return path;
  return absl::StrCat("/etc/quark/", path);
}

absl::StatusOr<KeyPair> ReadCredentialKeyFile(const std::string& path) {
  const std::string resolved = ResolveCredentialPath(path);
  absl::StatusOr<KeyPair> pair = ReadSecretKeyFile(resolved);
  if (absl::IsNotFound(pair.status()) && resolved != path) {
    return absl::NotFoundError(absl::StrCat(
        pair.status().message(), " (a key named without '/' is looked for in ",
        std::getenv("CREDENTIALS_DIRECTORY") != nullptr
            ? "$CREDENTIALS_DIRECTORY"
            : "the working directory, then in /etc/quark",
        "; give ./", path, " or a full path for another)"));
  }
  return pair;
}

absl::StatusOr<KeyPair> ReadSecretKeyFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  // Of the right kind first: chmod advice for a public key would mislead.
  ASSIGN_OR_RETURN(Entry entry, KeyEntry(path, KeyFileKind::kSecret));
  if (st.st_mode & (S_IROTH | S_IWOTH)) {
    return absl::PermissionDeniedError(absl::StrCat(
        path, " is readable by anyone: a secret key must not be (chmod 600 ",
        path, ")"));
  }
  KeyPair pair;
  pair.secret_key = std::move(entry.key);
  ASSIGN_OR_RETURN(pair.public_key, PublicKeyOf(pair.secret_key));
  return pair;
}

absl::StatusOr<std::string> ReadPublicKeyFile(const std::string& path) {
  ASSIGN_OR_RETURN(Entry entry, KeyEntry(path, KeyFileKind::kPublic));
  return std::move(entry.key);
}

absl::StatusOr<Allowlist> Allowlist::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  return Parse(text, path);
}

absl::StatusOr<Allowlist> Allowlist::Parse(absl::string_view text,
                                           const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<Entry> entries, ParseEntries(text, path));
  Allowlist list;
  std::map<std::string, int> name_lines;
  for (const Entry& entry : entries) {
    if (entry.name.empty()) {
      return LineError(path, entry.line,
                       "expected 'NAME KEY': each key needs the name it is "
                       "authorized as");
    }
    if (auto [it, fresh] = name_lines.emplace(entry.name, entry.line); !fresh) {
      return LineError(path, entry.line,
                       absl::StrCat("'", entry.name, "' is listed on line ",
                                    it->second, " already"));
    }
    if (auto [it, fresh] = list.names_.emplace(entry.key, entry.name); !fresh) {
      return LineError(
          path, entry.line,
          absl::StrCat("this key is listed already, as '", it->second, "'"));
    }
    list.listed_.insert(entry.name);
  }
  return list;
}

const std::string* Allowlist::NameOf(const std::string& public_key) const {
  auto it = names_.find(public_key);
  return it == names_.end() ? nullptr : &it->second;
}

}  // namespace quark
