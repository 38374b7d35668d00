// CURVE keys (zmq_curve(7)) as Quark keeps them on disk, and allowlists.
//
// Every key file is lines of text; a line starting with '#' is a comment
// ('#' is also a Z85 character, so not elsewhere). An entry is
//   NAME KEY      or just      KEY
// where KEY is 40 characters of Z85 (32 bytes) and NAME a node or operator
// name (ValidNodeName). `quark keygen NAME` writes two files:
//   NAME.key   "NAME SECRET", mode 0600: the secret key, never logged
//   NAME.pub   "NAME PUBLIC": what the controller's allowlist needs, so
//              `cat NAME.pub >> /etc/quark/authorized_workers` adds a node
// An allowlist (authorized_workers, authorized_operators) is such lines,
// one per peer, each with its name.
#ifndef QUARK_COMMON_KEYS_H_
#define QUARK_COMMON_KEYS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quark {

// Z85 key length: 32 bytes in 40 characters.
inline constexpr size_t kZ85KeyLength = 40;

struct KeyPair {
  std::string public_key;  // Z85
  std::string secret_key;  // Z85
};

// Whether `key` is 40 characters of valid Z85.
bool ValidZ85Key(absl::string_view key);

// The 32 raw bytes of a Z85 key into `bytes`; false for anything that is
// not one (a NUL inside included: zmq_z85_decode would stop there).
bool DecodeZ85Key(absl::string_view key, uint8_t bytes[32]);
// The Z85 text of 32 raw bytes.
std::string EncodeZ85Key(const uint8_t bytes[32]);

// A fresh pair from libzmq (libsodium underneath).
absl::StatusOr<KeyPair> GenerateKeyPair();

// The public key that belongs to a Z85 secret key.
absl::StatusOr<std::string> PublicKeyOf(const std::string& secret_key);

// Writes DIR/NAME.key (mode 0600) and DIR/NAME.pub (0644), making DIR
// (0700) and its parents when missing. Refuses, and writes nothing, when
// either file exists. Returns the public key.
absl::StatusOr<std::string> WriteKeyPair(const std::string& dir,
                                         const std::string& name);

// systemd's LoadCredential= puts secrets in $CREDENTIALS_DIRECTORY: a path
// without a '/' ("worker.key") is looked up there when that variable is
// set; otherwise it is the file of that name in the working directory when
// there is one (what the user typed), else the one in /etc/quark, so that
// one config file serves both a unit and a daemon started by hand. Any
// other path is used as given.
std::string ResolveCredentialPath(const std::string& path);

// ReadSecretKeyFile(ResolveCredentialPath(path)); a missing file's error
// says where a bare name was looked for.
absl::StatusOr<KeyPair> ReadCredentialKeyFile(const std::string& path);

// Reads a secret key file (one entry) and derives its public key. Refuses
// a file that others than its owner and group may read, as ssh does.
absl::StatusOr<KeyPair> ReadSecretKeyFile(const std::string& path);

// Reads a public key file (one entry, e.g. controller.pub).
absl::StatusOr<std::string> ReadPublicKeyFile(const std::string& path);

// Public keys (Z85) and the names they are authorized as.
class Allowlist {
 public:
  // Every entry needs a name; a key or name listed twice is an error.
  // Errors name the file and line.
  static absl::StatusOr<Allowlist> Load(const std::string& path);
  static absl::StatusOr<Allowlist> Parse(absl::string_view text,
                                         const std::string& path);

  // The name `public_key` (Z85) is authorized as, or nullptr.
  const std::string* NameOf(const std::string& public_key) const;
  // Whether some key is authorized as `name`.
  bool Lists(const std::string& name) const { return listed_.count(name) != 0; }
  size_t size() const { return names_.size(); }
  const std::map<std::string, std::string>& entries() const { return names_; }

 private:
  std::map<std::string, std::string> names_;  // key -> name
  std::set<std::string> listed_;              // the names
};

}  // namespace quark

#endif  // QUARK_COMMON_KEYS_H_
