#include "worker/identity.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/files.h"
#include "common/keys.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

namespace fs = std::filesystem;

class IdentityTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ =
        fs::path(testing::TempDir()) /
        ("identity-" +
         std::string(
             testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    state_ = (root_ / "state").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  // A fake sysfs with a Pi serial number (the device tree's, NUL-ended).
  MachineSources Pi(const std::string& serial) {
    const fs::path sys = root_ / ("sys-" + serial);
    fs::create_directories(sys / "firmware/devicetree/base");
    std::ofstream(sys / "firmware/devicetree/base/serial-number")
        << serial << '\0';
    MachineSources sources;
    sources.sysfs_root = sys.string();
    sources.machine_id = (root_ / "no-machine-id").string();
    return sources;
  }

  static mode_t Mode(const fs::path& path) {
    struct stat st;
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
  }

  fs::path root_;
  std::string state_;
};

TEST_F(IdentityTest, TellsMachinesApartByPiSerialThenMachineId) {
  absl::StatusOr<Machine> a = ThisMachine(Pi("10000000aaaa0001"));
  absl::StatusOr<Machine> b = ThisMachine(Pi("10000000aaaa0002"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->source, "pi-serial");
  EXPECT_EQ(a->hash.size(), 16u);
  EXPECT_NE(a->hash, b->hash);
  EXPECT_EQ(a->hash, ThisMachine(Pi("10000000aaaa0001"))->hash);  // stable
  EXPECT_EQ(a->hash.find("aaaa"), std::string::npos);  // hashed, not quoted

  MachineSources no_serial;
  no_serial.sysfs_root = (root_ / "empty-sys").string();
  no_serial.machine_id = (root_ / "machine-id").string();
  std::ofstream(no_serial.machine_id) << "0123456789abcdef0123456789abcdef\n";
  absl::StatusOr<Machine> vm = ThisMachine(no_serial);
  ASSERT_TRUE(vm.ok());
  EXPECT_EQ(vm->source, "machine-id");
  // An all-zero serial (some boards) says nothing: the machine id is used.
  MachineSources zeros = Pi("0000000000000000");
  zeros.machine_id = no_serial.machine_id;
  EXPECT_EQ(ThisMachine(zeros)->source, "machine-id");

  MachineSources nothing;
  nothing.sysfs_root = (root_ / "empty-sys").string();
  nothing.machine_id = (root_ / "none").string();
  EXPECT_TRUE(absl::IsNotFound(ThisMachine(nothing).status()));
}

TEST_F(IdentityTest, StockHostNamesGetASuffix) {
  EXPECT_EQ(DefaultNodeName("pi-7", "k3f2a9zzzzzzzzzz"), "pi-7");
  EXPECT_EQ(DefaultNodeName("raspberrypi", "k3f2a9zzzzzzzzzz"),
            "raspberrypi-k3f2a9");
  EXPECT_EQ(DefaultNodeName("localhost", "k3f2a9zzzzzzzzzz"),
            "localhost-k3f2a9");
  EXPECT_EQ(DefaultNodeName("", "k3f2a9zzzzzzzzzz"), "node-k3f2a9");
  EXPECT_EQ(DefaultNodeName("bad name", "k3f2a9zzzzzzzzzz"), "node-k3f2a9");
}

TEST_F(IdentityTest, TheKeyIsMadeOnceAndKeptSecret) {
  const Machine machine = *ThisMachine(Pi("10000000aaaa0001"));
  absl::StatusOr<NodeIdentity> first =
      LoadOrMakeIdentity(state_, machine, "pi-1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->made);
  EXPECT_TRUE(first->discarded.empty());
  EXPECT_EQ(Mode(state_), 0700u);
  EXPECT_EQ(Mode(fs::path(state_) / "worker.key"), 0600u);
  absl::StatusOr<std::string> pub = ReadPublicKeyFile(state_ + "/worker.pub");
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(*pub, first->key.public_key);

  absl::StatusOr<NodeIdentity> again =
      LoadOrMakeIdentity(state_, machine, "pi-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->made);
  EXPECT_EQ(again->key.secret_key, first->key.secret_key);
}

// A cloned SD card: the same state directory on another Pi.
TEST_F(IdentityTest, AKeyFromAnotherMachineIsSetAside) {
  const Machine original = *ThisMachine(Pi("10000000aaaa0001"));
  const Machine clone = *ThisMachine(Pi("10000000aaaa0002"));
  absl::StatusOr<NodeIdentity> first =
      LoadOrMakeIdentity(state_, original, "pi");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(
      WriteEnrollment(state_, {first->key.public_key, "pi", "tcp://c:7700"})
          .ok());

  absl::StatusOr<NodeIdentity> cloned = LoadOrMakeIdentity(state_, clone, "pi");
  ASSERT_TRUE(cloned.ok()) << cloned.status();
  EXPECT_TRUE(cloned->made);
  EXPECT_NE(cloned->key.public_key, first->key.public_key);
  EXPECT_NE(cloned->discarded.find("cloned SD card"), std::string::npos)
      << cloned->discarded;
  // The enrollment went with the old key; both are kept aside for a look.
  EXPECT_FALSE(ReadEnrollment(state_)->has_value());
  EXPECT_TRUE(fs::exists(fs::path(state_) / "worker.key.other-machine"));
  EXPECT_TRUE(fs::exists(fs::path(state_) / "enrollment.other-machine"));
  // From now on the new key is this machine's.
  EXPECT_FALSE(LoadOrMakeIdentity(state_, clone, "pi")->made);
}

TEST_F(IdentityTest, AKeyFromBeforeIdentitiesIsAdopted) {
  fs::create_directories(state_);
  const KeyPair key = *GenerateKeyPair();
  ASSERT_TRUE(WriteFileAtomically(state_ + "/worker.key",
                                  "worker " + key.secret_key + "\n", 0600)
                  .ok());
  const Machine machine = *ThisMachine(Pi("10000000aaaa0001"));
  absl::StatusOr<NodeIdentity> identity =
      LoadOrMakeIdentity(state_, machine, "pi");
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_FALSE(identity->made);
  EXPECT_EQ(identity->key.public_key, key.public_key);
}

TEST_F(IdentityTest, ASecretKeyOthersCanReadIsRefused) {
  const Machine machine = *ThisMachine(Pi("10000000aaaa0001"));
  ASSERT_TRUE(LoadOrMakeIdentity(state_, machine, "pi").ok());
  fs::permissions(fs::path(state_) / "worker.key", fs::perms(0644));
  absl::StatusOr<NodeIdentity> identity =
      LoadOrMakeIdentity(state_, machine, "pi");
  EXPECT_TRUE(absl::IsPermissionDenied(identity.status())) << identity.status();
}

TEST_F(IdentityTest, EnrollmentAndTokenRoundTrip) {
  EXPECT_FALSE(ReadEnrollment(state_).ok() &&
               ReadEnrollment(state_)->has_value());
  fs::create_directories(state_);
  const KeyPair controller = *GenerateKeyPair();  // Z85, '#' and all
  ASSERT_TRUE(WriteEnrollment(state_, {controller.public_key, "pi-3-2",
                                       "tcp://10.0.0.5:7700"})
                  .ok());
  absl::StatusOr<std::optional<EnrollmentRecord>> record =
      ReadEnrollment(state_);
  ASSERT_TRUE(record.ok()) << record.status();
  ASSERT_TRUE(record->has_value());
  EXPECT_EQ((*record)->controller_key, controller.public_key);
  EXPECT_EQ((*record)->name, "pi-3-2");
  EXPECT_EQ((*record)->control, "tcp://10.0.0.5:7700");
  EXPECT_EQ(Mode(fs::path(state_) / "enrollment"), 0600u);

  std::ofstream(fs::path(state_) / "enrollment") << "name = x\n";
  EXPECT_TRUE(absl::IsDataLoss(ReadEnrollment(state_).status()));

  EXPECT_FALSE(ReadSavedToken(state_)->has_value());
  ASSERT_TRUE(SaveToken(state_, "qk1_token").ok());
  EXPECT_EQ(Mode(fs::path(state_) / "join-token"), 0600u);
  EXPECT_EQ(ReadSavedToken(state_)->value_or(""), "qk1_token");
  ASSERT_TRUE(RemoveSavedToken(state_).ok());
  EXPECT_FALSE(ReadSavedToken(state_)->has_value());
  EXPECT_TRUE(RemoveSavedToken(state_).ok());  // twice is fine

  // A refused one is set aside, not tried at the next start.
  ASSERT_TRUE(SaveToken(state_, "qk1_refused").ok());
  ASSERT_TRUE(SetTokenAside(state_).ok());
  EXPECT_FALSE(ReadSavedToken(state_)->has_value());
  EXPECT_TRUE(fs::exists(fs::path(state_) / "join-token.refused"));
  EXPECT_TRUE(SetTokenAside(state_).ok());  // none left: fine
}

}  // namespace
}  // namespace quark
