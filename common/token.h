// Join tokens: the one line a new node needs to join a CURVE cluster
// (docs/security.md). A token is
//
//   qk1_IIIIIIII_SSSSSSSSSSSSSSSSSSSSSSSSSS_KKKK...KKKK_CCCC
//
//   qk1_  version prefix
//   I     the public id: 40 random bits, 8 characters; names the token in
//         `quark token list` and in logs
//   S     the secret: 128 random bits, 26 characters
//   K     the controller's whole CURVE public key, 32 bytes in 52
//         characters: a worker pins it, so its first contact already
//         authenticates the controller (no trust on first use)
//   C     a check of everything before it, 20 bits in 4 characters, so that
//         a mistyped or truncated token is refused where it is typed
//
// 97 characters in all, every one after the prefix of [a-z2-7_] (RFC 4648
// base32, lower case, unpadded; the prefix's '1' is no base32 digit): safe
// unquoted in a shell and in a config file, and one word for a terminal's
// double-click. Parsing also takes upper case.
//
// The secret never crosses the wire and is never stored. From the id and
// secret both sides derive an Ed25519 key pair (libsodium): the controller
// keeps only its public half, the verifier, and a worker proves that it
// holds the token by signing its own public key and the controller's with
// the secret half. A verifier read off the controller's disk thus lets
// nobody enroll.
#ifndef QUARK_COMMON_TOKEN_H_
#define QUARK_COMMON_TOKEN_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace quark {

inline constexpr char kTokenPrefix[] = "qk1_";
inline constexpr size_t kTokenIdLength = 8;      // characters
inline constexpr size_t kTokenSecretBytes = 16;  // 128 bits
inline constexpr size_t kTokenLength = 97;       // characters in all
// The longest TTL and the most uses a token may have: the CLI refuses more
// and so does the controller (controller/enrollment.h).
inline constexpr absl::Duration kMaxTokenTtl = absl::Hours(24 * 3650);
inline constexpr uint32_t kMaxTokenUses = 1000000;

struct JoinToken {
  std::string id;              // kTokenIdLength characters of [a-z2-7]
  std::string secret;          // kTokenSecretBytes raw bytes
  std::string controller_key;  // Z85, 40 characters
};

// A fresh token for `controller_key` (Z85) from libsodium's random source.
// InvalidArgument when the key is not a Z85 CURVE key.
absl::StatusOr<JoinToken> NewJoinToken(const std::string& controller_key);

// The token as the one line above; "" when `token` is malformed (an id
// that is not ValidTokenId, a secret of another size, a key that is not
// Z85).
std::string FormatJoinToken(const JoinToken& token);

// Reads a token, ignoring surrounding whitespace. Each defect is one
// InvalidArgument error naming it, never quoting the secret: not a Quark
// token (prefix), another token version ("qk2_"), the wrong length (with
// both lengths), a character that cannot be in a token (with its
// position), a field separator missing, a failed check ("mistyped or
// truncated?"), a key that is no CURVE key.
absl::StatusOr<JoinToken> ParseJoinToken(absl::string_view text);

// Whether `id` is a well-formed token id (8 characters of [a-z2-7]).
bool ValidTokenId(absl::string_view id);

// The Ed25519 public key (32 raw bytes) derived from the token's id and
// secret: what the controller stores instead of the secret. "" when the id
// or the secret is malformed.
std::string TokenVerifier(const JoinToken& token);

// The worker's proof of holding `token`, bound to the key it connects with
// (`worker_key`, Z85) and to the controller's key in the token: an Ed25519
// signature (64 raw bytes). Empty when `worker_key` is not a Z85 key or
// the token is malformed.
std::string EnrollProof(const JoinToken& token, const std::string& worker_key);

// The controller's check of a proof: `verifier` as TokenVerifier made it,
// the token's id, the key the enrolling connection authenticated with and
// the controller's own key (both Z85). False for anything malformed.
bool CheckEnrollProof(const std::string& verifier, const std::string& token_id,
                      const std::string& worker_key,
                      const std::string& controller_key,
                      const std::string& proof);

// A short, stable fingerprint of a Z85 key for logs and status lines: the
// first 8 characters of the lower-case base32 BLAKE2b hash of its 32 bytes
// ("" for a malformed key). Not a secret; two keys that differ almost
// surely print differently.
std::string KeyFingerprint(const std::string& key);

// Lower-case RFC 4648 base32 without padding, and back. The decoder takes
// upper case too and returns false, leaving `bytes` alone, on any other
// character, on a length no encoder writes (8n+1, 8n+3, 8n+6 characters)
// or on nonzero padding bits, so each byte string has one spelling.
// Exposed for the tests and for identities derived from hashes
// (worker/identity.h).
std::string Base32Encode(absl::string_view bytes);
bool Base32Decode(absl::string_view text, std::string* bytes);

}  // namespace quark

#endif  // QUARK_COMMON_TOKEN_H_
