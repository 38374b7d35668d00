#include "common/token.h"

#include <sodium.h>
#include <zmq.h>

#include <cstdint>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/keys.h"
#include "common/status.h"

namespace quark {
namespace {

constexpr char kBase32Alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

// Field lengths in characters and where each field starts in the token.
constexpr size_t kPrefixLength = sizeof(kTokenPrefix) - 1;         // "qk1_"
constexpr size_t kSecretLength = (kTokenSecretBytes * 8 + 4) / 5;  // 26
constexpr size_t kKeyBytes = 32;
constexpr size_t kKeyLength = (kKeyBytes * 8 + 4) / 5;  // 52
constexpr size_t kCheckLength = 4;                      // 20 bits
constexpr size_t kIdBytes = kTokenIdLength * 5 / 8;     // 5
constexpr size_t kIdStart = kPrefixLength;
constexpr size_t kSecretStart = kIdStart + kTokenIdLength + 1;
constexpr size_t kKeyStart = kSecretStart + kSecretLength + 1;
constexpr size_t kCheckStart = kKeyStart + kKeyLength + 1;
static_assert(kCheckStart + kCheckLength == kTokenLength);
// The separators after the id, the secret and the key (the prefix ends in
// its own).
constexpr size_t kSeparators[] = {kSecretStart - 1, kKeyStart - 1,
                                  kCheckStart - 1};

// Keys of the keyed hashes and the signed message: a version in each, so
// that a later token format derives different keys from the same text.
constexpr char kVerifierKey[] = "quark join token v1";
constexpr char kEnrollContext[] = "quark enroll v1";
static_assert(sizeof(kVerifierKey) - 1 >= crypto_generichash_KEYBYTES_MIN);

// libsodium picks its implementations and sets up its random source in
// sodium_init(), which is idempotent and thread-safe; it fails (< 0) only
// in a broken environment, and then nothing here is done with libsodium.
bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

// The value of a base32 character of either case, or -1.
int Base32Value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

// The check characters of the text before the last separator: the first
// 20 bits of its (unkeyed, 32-byte) BLAKE2b hash.
std::string CheckOf(absl::string_view body) {
  uint8_t hash[crypto_generichash_BYTES];
  crypto_generichash(hash, sizeof(hash),
                     reinterpret_cast<const uint8_t*>(body.data()), body.size(),
                     nullptr, 0);
  return Base32Encode(absl::string_view(reinterpret_cast<const char*>(hash),
                                        sizeof(hash)))
      .substr(0, kCheckLength);
}

bool WellFormed(const JoinToken& token) {
  return ValidTokenId(token.id) && token.secret.size() == kTokenSecretBytes;
}

// The Ed25519 key pair the token's id and secret stand for. The caller
// wipes `secret_key`.
bool DeriveKeyPair(const JoinToken& token,
                   uint8_t public_key[crypto_sign_PUBLICKEYBYTES],
                   uint8_t secret_key[crypto_sign_SECRETKEYBYTES]) {
  if (!SodiumReady() || !WellFormed(token)) return false;
  uint8_t seed[crypto_sign_SEEDBYTES];
  crypto_generichash_state state;
  crypto_generichash_init(&state,
                          reinterpret_cast<const uint8_t*>(kVerifierKey),
                          sizeof(kVerifierKey) - 1, sizeof(seed));
  crypto_generichash_update(&state,
                            reinterpret_cast<const uint8_t*>(token.id.data()),
                            token.id.size());
  crypto_generichash_update(
      &state, reinterpret_cast<const uint8_t*>(token.secret.data()),
      token.secret.size());
  crypto_generichash_final(&state, seed, sizeof(seed));
  const int result = crypto_sign_seed_keypair(public_key, secret_key, seed);
  sodium_memzero(seed, sizeof(seed));
  sodium_memzero(&state, sizeof(state));
  return result == 0;
}

// What a proof signs: the context, the token id and both keys, so that a
// proof made for one connection or one controller is worth nothing to
// another. Empty when a key is malformed.
std::string EnrollMessage(absl::string_view token_id,
                          const std::string& worker_key,
                          const std::string& controller_key) {
  uint8_t worker[kKeyBytes];
  uint8_t controller[kKeyBytes];
  if (!DecodeZ85Key(worker_key, worker) ||
      !DecodeZ85Key(controller_key, controller)) {
    return "";
  }
  std::string message = absl::StrCat(kEnrollContext, absl::string_view("\0", 1),
                                     token_id, absl::string_view("\0", 1));
  message.append(reinterpret_cast<const char*>(worker), sizeof(worker));
  message.append(reinterpret_cast<const char*>(controller), sizeof(controller));
  return message;
}

absl::Status TokenError(absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("join token: ", message));
}

// A character as an error may show it. Only characters that cannot be in
// a token are ever shown, so no secret one is.
std::string Shown(char c) {
  if (c == ' ') return "a space";
  if (absl::ascii_isgraph(static_cast<unsigned char>(c))) {
    return absl::StrCat("'", absl::string_view(&c, 1), "'");
  }
  return absl::StrCat(
      "byte 0x", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
}

// "qkN_" with N other than 1: a token of another version.
bool OtherVersion(absl::string_view text, absl::string_view* version) {
  if (text.size() < 4 || text.substr(0, 2) != "qk") return false;
  size_t end = 2;
  while (end < text.size() && end < 8 && absl::ascii_isdigit(text[end])) ++end;
  if (end == 2 || end >= text.size() || text[end] != '_') return false;
  *version = text.substr(0, end + 1);
  return true;
}

absl::Status CheckPrefix(absl::string_view text) {
  if (text.empty()) return TokenError("the text is empty");
  if (text.substr(0, kPrefixLength) == kTokenPrefix) return absl::OkStatus();
  absl::string_view version;
  if (OtherVersion(text, &version)) {
    return TokenError(absl::StrCat(
        "this is a ", version, " token; this Quark reads ", kTokenPrefix,
        " tokens only (was it made by another release?)"));
  }
  return TokenError(absl::StrCat(
      "not a Quark join token: it does not start with ", kTokenPrefix));
}

bool IsSeparatorPosition(size_t i) {
  for (size_t separator : kSeparators) {
    if (i == separator) return true;
  }
  return false;
}

// Positions in errors count from 1, as an editor's column does. The
// prefix, "qk1_", is checked already: its '1' is no base32 character.
absl::Status CheckCharacters(absl::string_view text) {
  for (size_t i = kIdStart; i < text.size(); ++i) {
    if (text[i] != '_' && Base32Value(text[i]) < 0) {
      return TokenError(absl::StrCat(
          "character ", i + 1, " is ", Shown(text[i]),
          ", which cannot be in a token (only a-z, 2-7 and '_' can; never "
          "0, 1, 8 or 9)"));
    }
  }
  for (size_t i = kIdStart; i < text.size(); ++i) {
    if (IsSeparatorPosition(i) && text[i] != '_') {
      return TokenError(absl::StrCat(
          "the field separator '_' is missing at character ", i + 1));
    }
    if (!IsSeparatorPosition(i) && text[i] == '_') {
      return TokenError(absl::StrCat("character ", i + 1,
                                     " is a '_' where no field separator "
                                     "belongs"));
    }
  }
  return absl::OkStatus();
}

// The syntax of a token, up to and including its check; `text` lower case.
absl::Status CheckSyntax(absl::string_view text) {
  if (text.size() != kTokenLength) {
    return TokenError(absl::StrCat(
        "it has ", text.size(), " characters, a token has ", kTokenLength,
        text.size() < kTokenLength ? " (cut short in copying?)" : ""));
  }
  RETURN_IF_ERROR(CheckCharacters(text));
  if (CheckOf(text.substr(0, kCheckStart - 1)) !=
      text.substr(kCheckStart, kCheckLength)) {
    return TokenError("the check failed: mistyped or truncated?");
  }
  return absl::OkStatus();
}

// The fields of a token whose syntax and check have passed. A check that
// passes over a field with nonzero padding bits means a token made by
// hand, not a typo; it is refused all the same, so that each token has
// exactly one spelling.
absl::Status DecodeFields(absl::string_view text, JoinToken* token) {
  token->id = std::string(text.substr(kIdStart, kTokenIdLength));
  if (!Base32Decode(text.substr(kSecretStart, kSecretLength), &token->secret)) {
    return TokenError(
        "the secret field does not decode (nonzero padding bits)");
  }
  std::string key;
  if (!Base32Decode(text.substr(kKeyStart, kKeyLength), &key) ||
      key.size() != kKeyBytes) {
    return TokenError(
        "the key field is not a CURVE key (it does not decode to 32 bytes)");
  }
  token->controller_key =
      EncodeZ85Key(reinterpret_cast<const uint8_t*>(key.data()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<JoinToken> NewJoinToken(const std::string& controller_key) {
  uint8_t key[kKeyBytes];
  if (!DecodeZ85Key(controller_key, key)) {
    return absl::InvalidArgumentError(
        "a join token needs the controller's CURVE public key: 40 "
        "characters of Z85");
  }
  if (!SodiumReady()) {
    return absl::InternalError("libsodium failed to initialize");
  }
  uint8_t id[kIdBytes];
  randombytes_buf(id, sizeof(id));
  JoinToken token;
  token.id = Base32Encode(
      absl::string_view(reinterpret_cast<const char*>(id), sizeof(id)));
  token.secret.resize(kTokenSecretBytes);
  randombytes_buf(token.secret.data(), token.secret.size());
  token.controller_key = controller_key;
  return token;
}

std::string FormatJoinToken(const JoinToken& token) {
  uint8_t key[kKeyBytes];
  if (!SodiumReady() || !WellFormed(token) ||
      !DecodeZ85Key(token.controller_key, key)) {
    return "";
  }
  std::string text =
      absl::StrCat(kTokenPrefix, token.id, "_", Base32Encode(token.secret), "_",
                   Base32Encode(absl::string_view(
                       reinterpret_cast<const char*>(key), sizeof(key))),
                   "_");
  text += CheckOf(absl::string_view(text).substr(0, text.size() - 1));
  return text;
}

absl::StatusOr<JoinToken> ParseJoinToken(absl::string_view text) {
  if (!SodiumReady()) {
    return absl::InternalError("libsodium failed to initialize");
  }
  std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  absl::Status status = CheckPrefix(lower);
  if (status.ok()) status = CheckSyntax(lower);
  JoinToken token;
  if (status.ok()) status = DecodeFields(lower, &token);
  sodium_memzero(lower.data(), lower.size());
  if (!status.ok()) {
    sodium_memzero(token.secret.data(), token.secret.size());
    return status;
  }
  return token;
}

bool ValidTokenId(absl::string_view id) {
  if (id.size() != kTokenIdLength) return false;
  for (char c : id) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c)) ||
        Base32Value(c) < 0) {
      return false;
    }
  }
  return true;
}

std::string TokenVerifier(const JoinToken& token) {
  uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
  uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
  const bool ok = DeriveKeyPair(token, public_key, secret_key);
  sodium_memzero(secret_key, sizeof(secret_key));
  if (!ok) return "";
  return std::string(reinterpret_cast<const char*>(public_key),
                     sizeof(public_key));
}

std::string EnrollProof(const JoinToken& token, const std::string& worker_key) {
  const std::string message =
      EnrollMessage(token.id, worker_key, token.controller_key);
  if (message.empty()) return "";
  uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
  uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
  uint8_t signature[crypto_sign_BYTES];
  bool ok = DeriveKeyPair(token, public_key, secret_key);
  if (ok) {
    ok = crypto_sign_detached(signature, nullptr,
                              reinterpret_cast<const uint8_t*>(message.data()),
                              message.size(), secret_key) == 0;
  }
  sodium_memzero(secret_key, sizeof(secret_key));
  if (!ok) return "";
  return std::string(reinterpret_cast<const char*>(signature),
                     sizeof(signature));
}

bool CheckEnrollProof(const std::string& verifier, const std::string& token_id,
                      const std::string& worker_key,
                      const std::string& controller_key,
                      const std::string& proof) {
  if (!SodiumReady() || verifier.size() != crypto_sign_PUBLICKEYBYTES ||
      proof.size() != crypto_sign_BYTES || !ValidTokenId(token_id)) {
    return false;
  }
  const std::string message =
      EnrollMessage(token_id, worker_key, controller_key);
  if (message.empty()) return false;
  return crypto_sign_verify_detached(
             reinterpret_cast<const uint8_t*>(proof.data()),
             reinterpret_cast<const uint8_t*>(message.data()), message.size(),
             reinterpret_cast<const uint8_t*>(verifier.data())) == 0;
}

std::string KeyFingerprint(const std::string& key) {
  uint8_t bytes[kKeyBytes];
  if (!SodiumReady() || !DecodeZ85Key(key, bytes)) return "";
  uint8_t hash[crypto_generichash_BYTES];
  crypto_generichash(hash, sizeof(hash), bytes, sizeof(bytes), nullptr, 0);
  return Base32Encode(absl::string_view(reinterpret_cast<const char*>(hash),
                                        sizeof(hash)))
      .substr(0, 8);
}

std::string Base32Encode(absl::string_view bytes) {
  std::string text;
  text.reserve((bytes.size() * 8 + 4) / 5);
  uint32_t buffer = 0;  // the bits not yet written, at the bottom
  int bits = 0;
  for (unsigned char byte : bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      text += kBase32Alphabet[(buffer >> bits) & 31];
    }
  }
  if (bits > 0) text += kBase32Alphabet[(buffer << (5 - bits)) & 31];
  return text;
}

bool Base32Decode(absl::string_view text, std::string* bytes) {
  std::string out;
  out.reserve(text.size() * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  bool ok = true;
  for (char c : text) {
    const int value = Base32Value(c);
    if (value < 0) {
      ok = false;
      break;
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  // What is left must be padding: fewer than 5 bits (a whole character
  // more would be a length no encoder makes), all zero.
  ok = ok && bits < 5 && (buffer & ((1u << bits) - 1)) == 0;
  // The text may be a secret's: no copy of it is left behind in the heap.
  if (ok) {
    *bytes = std::move(out);
  } else {
    sodium_memzero(out.data(), out.size());
  }
  sodium_memzero(&buffer, sizeof(buffer));
  return ok;
}

}  // namespace quark
