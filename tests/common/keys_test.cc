// Key files, allowlists and the CURVE socket options (common/keys.h,
// common/transport.h).
#include "common/keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <zmq.hpp>

#include "common/transport.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

namespace fs = std::filesystem;

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("keys_test." + std::to_string(::getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text,
                    fs::perms perms = fs::perms::owner_read |
                                      fs::perms::owner_write) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    fs::permissions(path, perms);
    return path.string();
  }

  fs::path dir_;
};

TEST_F(KeysTest, KeygenWritesAPairThatReadsBack) {
  absl::StatusOr<std::string> pub = WriteKeyPair(dir_.string(), "pi-1");
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_TRUE(ValidZ85Key(*pub));
  struct stat st;
  ASSERT_EQ(::stat((dir_ / "pi-1.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ / "pi-1.pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  absl::StatusOr<KeyPair> pair =
      ReadSecretKeyFile((dir_ / "pi-1.key").string());
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->public_key, *pub);
  absl::StatusOr<std::string> read_pub =
      ReadPublicKeyFile((dir_ / "pi-1.pub").string());
  ASSERT_TRUE(read_pub.ok()) << read_pub.status();
  EXPECT_EQ(*read_pub, *pub);
  // The .pub file is an allowlist line as it stands.
  absl::StatusOr<Allowlist> list =
      Allowlist::Load((dir_ / "pi-1.pub").string());
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_NE(list->NameOf(*pub), nullptr);
  EXPECT_EQ(*list->NameOf(*pub), "pi-1");
}

TEST_F(KeysTest, KeygenRefusesToOverwriteAndBadNames) {
  ASSERT_TRUE(WriteKeyPair(dir_.string(), "a").ok());
  const std::string before = [&] {
    std::ifstream in(dir_ / "a.key");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  absl::StatusOr<std::string> again = WriteKeyPair(dir_.string(), "a");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  std::ifstream in(dir_ / "a.key");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), before);
  // Only the .pub left over from an earlier pair: still refused, and no
  // secret written beside it.
  fs::remove(dir_ / "a.key");
  EXPECT_FALSE(WriteKeyPair(dir_.string(), "a").ok());
  EXPECT_FALSE(fs::exists(dir_ / "a.key"));
  EXPECT_FALSE(WriteKeyPair(dir_.string(), "../evil").ok());
  EXPECT_FALSE(WriteKeyPair(dir_.string(), "").ok());
  // A file where the folder should be.
  Write("file", "x");
  EXPECT_FALSE(WriteKeyPair((dir_ / "file").string(), "b").ok());
}

TEST_F(KeysTest, KeygenMakesAMissingFolderForItsOwnerOnly) {
  // The README's first command: `quark keygen controller --dir ~/quark`.
  const fs::path folder = dir_ / "quark" / "keys";
  ASSERT_TRUE(WriteKeyPair(folder.string(), "controller").ok());
  EXPECT_TRUE(fs::exists(folder / "controller.key"));
  struct stat st;
  ASSERT_EQ(::stat(folder.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(KeysTest, SecretKeyReadableByOthersIsRefused) {
  ASSERT_TRUE(WriteKeyPair(dir_.string(), "n").ok());
  fs::permissions(dir_ / "n.key", fs::perms::others_read,
                  fs::perm_options::add);
  absl::StatusOr<KeyPair> pair = ReadSecretKeyFile((dir_ / "n.key").string());
  EXPECT_EQ(pair.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(pair.status().message().find("chmod 600"), std::string::npos);
}

TEST_F(KeysTest, HashInsideAKeyIsNotAComment) {
  // Z85 has '#': only a line that starts with it is a comment.
  KeyPair pair;
  do {
    pair = *GenerateKeyPair();
  } while (pair.public_key.find('#') == std::string::npos);
  const std::string path =
      Write("list",
            "# comment\n  # indented comment\nnode " + pair.public_key + "\n");
  absl::StatusOr<Allowlist> list = Allowlist::Load(path);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_NE(list->NameOf(pair.public_key), nullptr);
}

TEST_F(KeysTest, AllowlistErrorsNameTheLine) {
  const std::string a = GenerateKeyPair()->public_key;
  const std::string b = GenerateKeyPair()->public_key;
  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {"w1 " + a + "\nw2 short\n", "list:2: not a CURVE key"},
      {"\n" + a + "\n", "list:2: expected 'NAME KEY'"},
      {"w1 " + a + "\nw1 " + b + "\n", "list:2: 'w1' is listed on line 1"},
      {"w1 " + a + "\nw2 " + a + "\n",
       "list:2: this key is listed already, as 'w1'"},
      {"w/1 " + a + "\n", "list:1: name must be"},
      {"w1 " + a + " extra\n", "list:1: expected 'NAME KEY' or 'KEY'"},
      {"w1 " + a.substr(0, 39) + "\x01\n", "list:1: not a CURVE key"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Allowlist> list = Allowlist::Parse(c.text, "list");
    ASSERT_FALSE(list.ok()) << c.text;
    EXPECT_NE(list.status().message().find(c.error), std::string::npos)
        << list.status().message();
    // The key itself is never quoted back: it may be a secret.
    EXPECT_EQ(list.status().message().find(a), std::string::npos);
  }
  EXPECT_EQ(Allowlist::Parse("", "list")->size(), 0u);
  EXPECT_FALSE(Allowlist::Load((dir_ / "none").string()).ok());
}

TEST_F(KeysTest, PublicKeyFileNeedsExactlyOneKey) {
  const std::string a = GenerateKeyPair()->public_key;
  const std::string b = GenerateKeyPair()->public_key;
  EXPECT_TRUE(ReadPublicKeyFile(Write("one", a + "\n")).ok());
  EXPECT_FALSE(ReadPublicKeyFile(Write("none", "# nothing\n")).ok());
  EXPECT_FALSE(
      ReadPublicKeyFile(Write("two", "x " + a + "\ny " + b + "\n")).ok());
}

TEST_F(KeysTest, CredentialsDirectoryForBareNames) {
  ::setenv("CREDENTIALS_DIRECTORY", "/run/credentials/quark-worker.service", 1);
  EXPECT_EQ(ResolveCredentialPath("worker.key"),
            "/run/credentials/quark-worker.service/worker.key");
  EXPECT_EQ(ResolveCredentialPath("/etc/quark/worker.key"),
            "/etc/quark/worker.key");
  EXPECT_EQ(ResolveCredentialPath("./worker.key"), "./worker.key");
  ::unsetenv("CREDENTIALS_DIRECTORY");
  EXPECT_EQ(ResolveCredentialPath("worker.key"), "/etc/quark/worker.key");
  EXPECT_EQ(ResolveCredentialPath("keys/worker.key"), "keys/worker.key");
}

TEST_F(KeysTest, ABareNameInTheWorkingDirectoryIsWhatWasMeant) {
  ASSERT_TRUE(WriteKeyPair(dir_.string(), "w1").ok());
  const fs::path before = fs::current_path();
  fs::current_path(dir_);
  EXPECT_EQ(ResolveCredentialPath("w1.key"), "w1.key");
  EXPECT_TRUE(ReadCredentialKeyFile("w1.key").ok());
  const absl::StatusOr<KeyPair> missing = ReadCredentialKeyFile("w2.key");
  fs::current_path(before);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(
      missing.status().message(),
      "cannot read /etc/quark/w2.key: No such file or directory (a key named "
      "without '/' is looked for in the working directory, then in /etc/quark; "
      "give ./w2.key or a full path for another)");
}

TEST_F(KeysTest, EachKindOfKeyFileIsToldFromTheOther) {
  ASSERT_TRUE(WriteKeyPair(dir_.string(), "w1").ok());
  const std::string pub = (dir_ / "w1.pub").string();
  const std::string key = (dir_ / "w1.key").string();
  // A public key given as the secret one: said so, not "chmod 600" (it is
  // 0644).
  const absl::StatusOr<KeyPair> as_secret = ReadSecretKeyFile(pub);
  EXPECT_EQ(as_secret.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      as_secret.status().message(),
      pub +
          " is a public key; a secret key is wanted here (the NAME.key that "
          "`quark keygen NAME` wrote beside it)");
  const absl::StatusOr<std::string> as_public = ReadPublicKeyFile(key);
  EXPECT_EQ(as_public.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      as_public.status().message(),
      key +
          " is a secret key; a public key is wanted here (NAME.pub). A secret "
          "key should not leave its machine: copy the .pub");
  // Without keygen's first line the name's ending tells.
  const std::string a = GenerateKeyPair()->public_key;
  EXPECT_FALSE(ReadPublicKeyFile(Write("plain.key", "n " + a + "\n")).ok());
  EXPECT_TRUE(ReadPublicKeyFile(Write("plain.txt", "n " + a + "\n")).ok());
}

TEST(LoopbackEndpointTest, OnlyLoopbackCounts) {
  EXPECT_TRUE(LoopbackEndpoint("tcp://127.0.0.1:7702"));
  EXPECT_TRUE(LoopbackEndpoint("tcp://127.1.2.3:7702"));
  EXPECT_TRUE(LoopbackEndpoint("tcp://localhost:7702"));
  EXPECT_TRUE(LoopbackEndpoint("tcp://[::1]:7702"));
  EXPECT_TRUE(LoopbackEndpoint("ipc:///run/quark/api"));
  EXPECT_FALSE(LoopbackEndpoint("tcp://*:7702"));
  EXPECT_FALSE(LoopbackEndpoint("tcp://0.0.0.0:7702"));
  EXPECT_FALSE(LoopbackEndpoint("tcp://192.168.1.10:7702"));
  EXPECT_FALSE(LoopbackEndpoint("tcp://eth0:7702"));
  EXPECT_FALSE(LoopbackEndpoint("tcp://127.0.0.1"));
  EXPECT_FALSE(LoopbackEndpoint("udp://127.0.0.1:7702"));
}

// With ZMQ_ZAP_ENFORCE_DOMAIN, a CURVE server with no ZAP handler refuses
// every client, even one using the right server key. (Without it libzmq
// 4.3 would let everyone in.)
TEST(CurveTest, NoZapHandlerRefusesEveryone) {
  zmq::context_t context;
  const KeyPair server = *GenerateKeyPair();
  const KeyPair client = *GenerateKeyPair();
  zmq::socket_t pull(context, zmq::socket_type::pull);
  ASSERT_TRUE(
      ConfigureCurveServer(pull, server.secret_key, "quark-workers").ok());
  pull.set(zmq::sockopt::linger, 0);
  pull.bind("tcp://127.0.0.1:*");
  const std::string endpoint = pull.get(zmq::sockopt::last_endpoint);

  zmq::socket_t push(context, zmq::socket_type::push);
  ASSERT_TRUE(ConfigureCurveClient(push, server.public_key, client).ok());
  push.set(zmq::sockopt::linger, 0);
  ASSERT_EQ(zmq_socket_monitor(push.handle(), "inproc://curve-test-monitor",
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                   ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                   ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
            0);
  zmq::socket_t monitor(context, zmq::socket_type::pair);
  monitor.connect("inproc://curve-test-monitor");
  push.connect(endpoint);
  push.send(zmq::str_buffer("let me in"), zmq::send_flags::dontwait);

  // A failed handshake comes first; the message never does.
  zmq::message_t event;
  monitor.set(zmq::sockopt::rcvtimeo, 5000);
  ASSERT_TRUE(monitor.recv(event));
  uint16_t id = 0;
  std::memcpy(&id, event.data(), sizeof id);
  EXPECT_NE(id, ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
  zmq::message_t msg;
  pull.set(zmq::sockopt::rcvtimeo, 500);
  EXPECT_FALSE(pull.recv(msg));
  zmq_socket_monitor(push.handle(), nullptr, 0);
}

}  // namespace
}  // namespace quark
