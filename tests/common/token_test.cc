// Join tokens, enrollment proofs and base32 (common/token.h).
#include "common/token.h"

#include <sodium.h>
#include <zmq.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "common/keys.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

// Where the fields of a 97-character token start (0-based).
constexpr size_t kIdStart = 4;
constexpr size_t kSecretStart = 13;
constexpr size_t kKeyStart = 40;
constexpr size_t kCheckStart = 93;

std::string NewKey() {
  absl::StatusOr<KeyPair> pair = GenerateKeyPair();
  EXPECT_TRUE(pair.ok()) << pair.status();
  return pair.ok() ? pair->public_key : "";
}

JoinToken NewToken(const std::string& key) {
  absl::StatusOr<JoinToken> token = NewJoinToken(key);
  EXPECT_TRUE(token.ok()) << token.status();
  return token.ok() ? *token : JoinToken{};
}

// The check of `text` computed here with libsodium, independently of the
// code under test: the first 20 bits of BLAKE2b-256 of the 92 characters
// before it, as 4 base32 characters (base32 itself is checked against
// RFC 4648 below).
std::string Check(const std::string& text) {
  uint8_t hash[crypto_generichash_BYTES];
  crypto_generichash(hash, sizeof(hash),
                     reinterpret_cast<const uint8_t*>(text.data()),
                     kCheckStart - 1, nullptr, 0);
  const uint32_t bits =
      (uint32_t{hash[0]} << 12) | (uint32_t{hash[1]} << 4) | (hash[2] >> 4);
  std::string check;
  for (int shift = 15; shift >= 0; shift -= 5) {
    check += "abcdefghijklmnopqrstuvwxyz234567"[(bits >> shift) & 31];
  }
  return check;
}

// `text` with its check made to fit again, as a forger would.
std::string Rechecked(std::string text) {
  text.replace(kCheckStart, 4, Check(text));
  return text;
}

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    key_ = NewKey();
    token_ = NewToken(key_);
    text_ = FormatJoinToken(token_);
    secret_ = text_.substr(kSecretStart, 26);
  }

  // Parses `text`, expecting an error that contains `want` and never the
  // token's secret characters.
  void ExpectError(const std::string& text, const std::string& want) {
    absl::StatusOr<JoinToken> parsed = ParseJoinToken(text);
    ASSERT_FALSE(parsed.ok()) << "accepted: " << want;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(parsed.status().message());
    EXPECT_NE(message.find(want), std::string::npos)
        << "message: " << message << "\nwanted: " << want;
    EXPECT_EQ(message.find(secret_), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }

  std::string key_;
  JoinToken token_;
  std::string text_;
  std::string secret_;
};

TEST_F(TokenTest, FormatsAndParsesBack) {
  ASSERT_EQ(text_.size(), kTokenLength);
  EXPECT_EQ(text_.substr(0, 4), kTokenPrefix);
  // After the prefix ("qk1_": its '1' is no base32 digit) only base32 and
  // separators.
  EXPECT_EQ(text_.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567_", 4),
            std::string::npos)
      << text_;
  for (size_t separator : {3u, 12u, 39u, 92u}) EXPECT_EQ(text_[separator], '_');
  EXPECT_TRUE(ValidTokenId(token_.id));
  EXPECT_EQ(text_.substr(kIdStart, kTokenIdLength), token_.id);
  EXPECT_EQ(token_.secret.size(), kTokenSecretBytes);
  EXPECT_EQ(token_.controller_key, key_);

  absl::StatusOr<JoinToken> parsed = ParseJoinToken(text_);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->id, token_.id);
  EXPECT_EQ(parsed->secret, token_.secret);
  EXPECT_EQ(parsed->controller_key, key_);
}

TEST_F(TokenTest, TakesUpperCaseAndSurroundingSpace) {
  std::string upper = text_;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  for (const std::string& text :
       {upper, "  " + text_ + "\n", "\t" + upper + " \r\n"}) {
    absl::StatusOr<JoinToken> parsed = ParseJoinToken(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->id, token_.id);
    EXPECT_EQ(parsed->secret, token_.secret);
    EXPECT_EQ(parsed->controller_key, key_);
  }
}

TEST_F(TokenTest, EachDefectHasItsOwnError) {
  auto with = [&](size_t at, char c) {
    std::string text = text_;
    text[at] = c;
    return text;
  };
  // Swaps a separator with its neighbour: the same characters, moved.
  auto swapped = [&](size_t at) {
    std::string text = text_;
    std::swap(text[at], text[at + 1]);
    return text;
  };
  const struct {
    std::string text;
    std::string error;
  } cases[] = {
      {"", "empty"},
      {"   \n", "empty"},
      {"hello", "not a Quark join token: it does not start with qk1_"},
      {"qk_" + text_.substr(4), "does not start with qk1_"},
      {"qk2_" + text_.substr(4),
       "a qk2_ token; this Quark reads qk1_ tokens only"},
      {"QK12_" + text_.substr(4), "a qk12_ token"},
      {text_.substr(0, 96), "it has 96 characters, a token has 97 (cut short"},
      {text_.substr(0, 60), "it has 60 characters, a token has 97"},
      {text_ + "a", "it has 98 characters, a token has 97"},
      {with(20, '0'), "character 21 is '0', which cannot be in a token"},
      {with(20, '1'), "character 21 is '1'"},
      {with(50, '8'), "character 51 is '8'"},
      {with(5, '9'), "character 6 is '9'"},
      {with(95, '-'), "character 96 is '-'"},
      {with(30, ' '), "character 31 is a space"},
      {with(30, '\x01'), "character 31 is byte 0x01"},
      {with(30, '\xc3'), "character 31 is byte 0xc3"},
      {with(12, 'a'), "the field separator '_' is missing at character 13"},
      {swapped(12), "the field separator '_' is missing at character 13"},
      {swapped(39), "the field separator '_' is missing at character 40"},
      {swapped(92), "the field separator '_' is missing at character 93"},
      {swapped(11), "character 12 is a '_' where no field separator belongs"},
      {with(20, '_'), "character 21 is a '_' where no field separator belongs"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.error);
    ExpectError(c.text, c.error);
  }
}

TEST_F(TokenTest, CheckCatchesEverySingleChangedCharacter) {
  // A 20-bit check misses one change in a million: a fixed token keeps
  // the test from failing once in ten thousand runs.
  JoinToken fixed;
  fixed.id = "abcdefgh";
  for (int i = 0; i < 16; ++i) fixed.secret += static_cast<char>(i * 17);
  fixed.controller_key =
      "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";  // zmq_curve(7)
  const std::string good = FormatJoinToken(fixed);
  ASSERT_EQ(good.size(), kTokenLength);
  ASSERT_TRUE(ParseJoinToken(good).ok());
  for (size_t at = kIdStart; at < kTokenLength; ++at) {
    if (good[at] == '_') continue;
    for (char c : {'a', 'q', '7'}) {
      if (good[at] == c) continue;
      std::string text = good;
      text[at] = c;
      SCOPED_TRACE(testing::Message() << "at " << at << " " << c);
      ExpectError(text, "the check failed: mistyped or truncated?");
    }
  }
  // Two neighbours swapped, the commonest slip after one wrong letter.
  for (size_t at = kSecretStart; at + 1 < kKeyStart - 1; ++at) {
    if (good[at] == good[at + 1]) continue;
    std::string text = good;
    std::swap(text[at], text[at + 1]);
    SCOPED_TRACE(at);
    ExpectError(text, "the check failed");
  }
}

TEST_F(TokenTest, AnyKeyThatPassesTheCheckIsAKey) {
  // Every 52-character field with zero padding bits is 32 bytes, and any 32
  // bytes are a CURVE public key as far as the token goes.
  std::string text = text_;
  text.replace(kKeyStart, 52,
               std::string(51, 'a') + "q");  // ...10000 padding 0
  absl::StatusOr<JoinToken> parsed = ParseJoinToken(Rechecked(text));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(ValidZ85Key(parsed->controller_key));
  EXPECT_NE(parsed->controller_key, key_);
  EXPECT_EQ(parsed->secret, token_.secret);
}

TEST_F(TokenTest, NonzeroPaddingBitsAreRefused) {
  // The key's last character carries 1 bit and 4 padding bits; the
  // secret's carries 3 bits and 2 padding bits. Each spelling but one is
  // refused, even with a check that fits.
  std::string key = text_;
  key[kKeyStart + 51] = 'b';  // 00001: a padding bit set
  ExpectError(Rechecked(key), "the key field is not a CURVE key");
  std::string secret = text_;
  secret[kSecretStart + 25] = 'b';
  ExpectError(Rechecked(secret), "the secret field does not decode");
}

TEST_F(TokenTest, ValidTokenIds) {
  for (const char* id : {"abcdefgh", "234567aa", "zzzzzzzz"}) {
    EXPECT_TRUE(ValidTokenId(id)) << id;
  }
  for (const char* id : {"", "abcdefg", "abcdefghi", "ABCDEFGH", "abcdefg1",
                         "abcd_fgh", "abcdefg "}) {
    EXPECT_FALSE(ValidTokenId(id)) << id;
  }
  EXPECT_FALSE(ValidTokenId(std::string("abcdefg\0", 8)));
}

TEST_F(TokenTest, NewJoinTokenRefusesABadKey) {
  for (const std::string& key :
       {std::string(""), std::string("short"), key_.substr(1) + "\"",
        key_.substr(0, 39) + std::string(1, '\0')}) {
    absl::StatusOr<JoinToken> token = NewJoinToken(key);
    EXPECT_EQ(token.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(TokenTest, FormatRefusesAMalformedToken) {
  JoinToken bad = token_;
  bad.secret.pop_back();
  EXPECT_EQ(FormatJoinToken(bad), "");
  bad = token_;
  bad.id = "ABCDEFGH";
  EXPECT_EQ(FormatJoinToken(bad), "");
  bad = token_;
  bad.controller_key = "x";
  EXPECT_EQ(FormatJoinToken(bad), "");
}

TEST_F(TokenTest, TokensNeverRepeat) {
  std::set<std::string> ids;
  std::set<std::string> secrets;
  std::set<std::string> verifiers;
  for (int i = 0; i < 1000; ++i) {
    const JoinToken token = NewToken(key_);
    ASSERT_TRUE(ValidTokenId(token.id)) << token.id;
    EXPECT_TRUE(ids.insert(token.id).second) << token.id;
    EXPECT_TRUE(secrets.insert(token.secret).second);
    if (i < 100) {
      EXPECT_TRUE(verifiers.insert(TokenVerifier(token)).second);
    }
  }
}

TEST_F(TokenTest, VerifierIsStableAndDependsOnIdAndSecret) {
  const std::string verifier = TokenVerifier(token_);
  EXPECT_EQ(verifier.size(), 32u);
  EXPECT_EQ(TokenVerifier(*ParseJoinToken(text_)), verifier);
  JoinToken other = token_;
  other.secret[0] ^= 1;
  EXPECT_NE(TokenVerifier(other), verifier);
  other = token_;
  other.id[0] = other.id[0] == 'a' ? 'b' : 'a';
  EXPECT_NE(TokenVerifier(other), verifier);
  // The controller's key is not part of it.
  other = token_;
  other.controller_key = NewKey();
  EXPECT_EQ(TokenVerifier(other), verifier);
  other = token_;
  other.secret.pop_back();
  EXPECT_EQ(TokenVerifier(other), "");
}

TEST_F(TokenTest, ProofVerifiesOnlyForWhatItWasMadeFor) {
  const std::string worker = NewKey();
  const std::string verifier = TokenVerifier(token_);
  const std::string proof = EnrollProof(token_, worker);
  ASSERT_EQ(proof.size(), 64u);
  EXPECT_TRUE(CheckEnrollProof(verifier, token_.id, worker, key_, proof));

  const JoinToken other = NewToken(key_);
  std::string flipped = proof;
  flipped[10] ^= 0x04;
  const struct {
    const char* what;
    std::string verifier, id, worker, controller, proof;
  } cases[] = {
      {"another worker key", verifier, token_.id, NewKey(), key_, proof},
      {"another controller key", verifier, token_.id, worker, NewKey(), proof},
      {"another token's verifier", TokenVerifier(other), token_.id, worker,
       key_, proof},
      {"another id", verifier, other.id, worker, key_, proof},
      {"an upper-case id", verifier, "ABCDEFGH", worker, key_, proof},
      {"a malformed id", verifier, "abc", worker, key_, proof},
      {"a flipped bit", verifier, token_.id, worker, key_, flipped},
      {"a truncated proof", verifier, token_.id, worker, key_,
       proof.substr(0, 63)},
      {"a longer proof", verifier, token_.id, worker, key_, proof + "x"},
      {"an empty proof", verifier, token_.id, worker, key_, ""},
      {"an empty verifier", "", token_.id, worker, key_, proof},
      {"a short verifier", verifier.substr(1), token_.id, worker, key_, proof},
      {"a malformed worker key", verifier, token_.id,
       worker.substr(0, 39) + "\"", key_, proof},
      {"a short worker key", verifier, token_.id, worker.substr(5), key_,
       proof},
      {"a malformed controller key", verifier, token_.id, worker,
       key_.substr(0, 39) + "~", proof},
      {"a NUL in the worker key", verifier, token_.id,
       worker.substr(0, 35) + std::string(5, '\0'), key_, proof},
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(
        CheckEnrollProof(c.verifier, c.id, c.worker, c.controller, c.proof))
        << c.what;
  }
  EXPECT_EQ(EnrollProof(token_, "not a key"), "");
  EXPECT_EQ(EnrollProof(token_, ""), "");
}

TEST_F(TokenTest, ProofIsBoundToTheControllerKeyInTheToken) {
  const std::string worker = NewKey();
  JoinToken elsewhere = token_;
  elsewhere.controller_key = NewKey();
  const std::string proof = EnrollProof(elsewhere, worker);
  ASSERT_EQ(proof.size(), 64u);
  EXPECT_FALSE(
      CheckEnrollProof(TokenVerifier(token_), token_.id, worker, key_, proof));
  EXPECT_TRUE(CheckEnrollProof(TokenVerifier(token_), token_.id, worker,
                               elsewhere.controller_key, proof));
}

TEST_F(TokenTest, KeyFingerprints) {
  const std::string other = NewKey();
  const std::string print = KeyFingerprint(key_);
  EXPECT_EQ(print.size(), 8u);
  EXPECT_EQ(print.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567"),
            std::string::npos);
  EXPECT_EQ(KeyFingerprint(key_), print);
  EXPECT_NE(KeyFingerprint(other), print);
  // BLAKE2b-256 of the key's 32 bytes, computed here.
  uint8_t bytes[32];
  ASSERT_NE(zmq_z85_decode(bytes, key_.c_str()), nullptr);
  uint8_t hash[crypto_generichash_BYTES];
  crypto_generichash(hash, sizeof(hash), bytes, sizeof(bytes), nullptr, 0);
  EXPECT_EQ(print, Base32Encode(
                       std::string(reinterpret_cast<char*>(hash), sizeof(hash)))
                       .substr(0, 8));
  for (const std::string& bad : {std::string(""), std::string("abc"),
                                 key_.substr(1), key_.substr(0, 39) + "\""}) {
    EXPECT_EQ(KeyFingerprint(bad), "") << bad;
  }
}

TEST(Base32Test, Rfc4648Vectors) {
  // RFC 4648 section 10, in lower case and without the '=' padding.
  const struct {
    const char* bytes;
    const char* text;
  } cases[] = {
      {"", ""},
      {"f", "my"},
      {"fo", "mzxq"},
      {"foo", "mzxw6"},
      {"foob", "mzxw6yq"},
      {"fooba", "mzxw6ytb"},
      {"foobar", "mzxw6ytboi"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Base32Encode(c.bytes), c.text) << c.bytes;
    std::string decoded = "junk";
    ASSERT_TRUE(Base32Decode(c.text, &decoded)) << c.text;
    EXPECT_EQ(decoded, c.bytes);
    std::string upper = c.text;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(ch));
    ASSERT_TRUE(Base32Decode(upper, &decoded)) << upper;
    EXPECT_EQ(decoded, c.bytes);
  }
}

TEST(Base32Test, EveryByteValueRoundTrips) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (size_t n = 0; n <= bytes.size(); n += 7) {
    std::string decoded;
    ASSERT_TRUE(Base32Decode(Base32Encode(bytes.substr(0, n)), &decoded)) << n;
    EXPECT_EQ(decoded, bytes.substr(0, n));
  }
}

TEST(Base32Test, RefusesWhatNoEncoderWrites) {
  for (const char* text : {
           "mz",      // "f" with a padding bit set ("my" is canonical)
           "mzxr",    // "fo" with a padding bit set
           "m",       // 5 bits: no whole byte
           "mzx",     // 15 bits: a character too many for one byte
           "mzxw6y",  // 30 bits: likewise for three
           "mzxw6=",  // padding is not written
           "mzxw0",   // not in the alphabet
           "mzx 6",   // nor a space
           "mzxw6ytb-",
       }) {
    std::string decoded = "kept";
    EXPECT_FALSE(Base32Decode(text, &decoded)) << text;
    EXPECT_EQ(decoded, "kept") << text;
  }
}

}  // namespace
}  // namespace quark
