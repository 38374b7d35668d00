#include "worker/identity.h"

#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/files.h"
#include "common/status.h"
#include "common/token.h"
#include "common/transport.h"

namespace quark {
namespace {

constexpr char kKeyFile[] = "worker.key";
constexpr char kPubFile[] = "worker.pub";
constexpr char kIdentityFile[] = "identity";
constexpr char kEnrollmentFile[] = "enrollment";
constexpr char kTokenFile[] = "join-token";

std::string PathIn(const std::string& dir, const char* file) {
  return (std::filesystem::path(dir) / file).string();
}

// The first line of a small file, without trailing NULs and blanks (the
// device tree's strings end in NUL); "" when it cannot be read.
std::string FirstLine(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path, 4096);
  if (!text.ok()) return "";
  std::string line = text->substr(0, text->find('\n'));
  line = line.substr(0, line.find('\0'));
  return std::string(absl::StripAsciiWhitespace(line));
}

// `key = value` settings of one of the state files.
absl::StatusOr<std::map<std::string, std::string>> ReadSettings(
    const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, 64 * 1024));
  ASSIGN_OR_RETURN(std::vector<ConfigEntry> entries, ParseConfig(text, path));
  std::map<std::string, std::string> settings;
  for (ConfigEntry& e : entries) settings[e.key] = std::move(e.value);
  return settings;
}

bool Exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

// Moves the files of a key made elsewhere out of the way, kept for a look.
absl::Status SetAside(const std::string& dir) {
  for (const char* file :
       {kKeyFile, kPubFile, kIdentityFile, kEnrollmentFile}) {
    const std::string path = PathIn(dir, file);
    if (!Exists(path)) continue;
    const std::string aside = path + ".other-machine";
    if (::rename(path.c_str(), aside.c_str()) != 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot rename ", path, " to ", aside, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<NodeIdentity> MakeIdentity(const std::string& dir,
                                          const Machine& machine,
                                          const std::string& name) {
  NodeIdentity identity;
  ASSIGN_OR_RETURN(identity.key, GenerateKeyPair());
  identity.machine = machine.hash;
  identity.made = true;
  // The key first: a crash before the identity file only means that the
  // next start adopts the key as this machine's, which it is.
  RETURN_IF_ERROR(WriteFileAtomically(
      PathIn(dir, kKeyFile),
      absl::StrCat("# This node's CURVE secret key, made by quark-worker on "
                   "this machine.\n# Never copy it to another machine.\n",
                   "worker ", identity.key.secret_key, "\n"),
      0600));
  if (!machine.hash.empty()) {
    RETURN_IF_ERROR(WriteFileAtomically(
        PathIn(dir, kIdentityFile),
        absl::StrCat(
            "# The machine worker.key was made on (a hash of its ",
            machine.source,
            "). A key found on another machine is\n"
            "# set aside and a new one made: a cloned SD card gets its "
            "own identity.\nmachine = ",
            machine.hash, "\n"),
        0600));
  }
  RETURN_IF_ERROR(WriteFileAtomically(
      PathIn(dir, kPubFile),
      absl::StrCat("# This node's CURVE public key. Nodes join with a token "
                   "(quark token create);\n# to list it by hand instead, "
                   "append this line to the controller's authorized_workers.\n",
                   name, " ", identity.key.public_key, "\n"),
      0644));
  return identity;
}

}  // namespace

absl::StatusOr<Machine> ThisMachine(const MachineSources& sources) {
  Machine machine;
  std::string value = FirstLine((std::filesystem::path(sources.sysfs_root) /
                                 "firmware/devicetree/base/serial-number")
                                    .string());
  if (!value.empty() && value.find_first_not_of('0') != std::string::npos) {
    machine.source = "pi-serial";
  } else {
    value = FirstLine(sources.machine_id);
    machine.source = "machine-id";
  }
  if (value.empty()) {
    return absl::NotFoundError(
        absl::StrCat("cannot tell this machine apart: no serial number under ",
                     sources.sysfs_root, " and no ", sources.machine_id));
  }
  if (sodium_init() < 0)
    return absl::InternalError("libsodium failed to start");
  unsigned char hash[10];
  const std::string input = absl::StrCat(machine.source, ":", value);
  static constexpr char kContext[] = "quark machine v1";
  crypto_generichash(
      hash, sizeof hash, reinterpret_cast<const unsigned char*>(input.data()),
      input.size(), reinterpret_cast<const unsigned char*>(kContext),
      sizeof kContext - 1);
  machine.hash = Base32Encode(
      absl::string_view(reinterpret_cast<const char*>(hash), sizeof hash));
  return machine;
}

std::string DefaultNodeName(const std::string& hostname,
                            const std::string& machine_hash) {
  const std::string suffix =
      machine_hash.empty() ? "0" : machine_hash.substr(0, 6);
  const std::string lower = absl::AsciiStrToLower(hostname);
  if (!ValidNodeName(hostname)) return absl::StrCat("node-", suffix);
  if (machine_hash.empty()) return hostname;
  if (lower == "raspberrypi" || lower == "localhost" || lower == "dietpi") {
    return absl::StrCat(hostname, "-", suffix);
  }
  return hostname;
}

absl::StatusOr<NodeIdentity> LoadOrMakeIdentity(const std::string& state_dir,
                                                const Machine& machine,
                                                const std::string& name) {
  RETURN_IF_ERROR(MakeDirectory(state_dir, 0700));
  const std::string key_path = PathIn(state_dir, kKeyFile);
  if (!Exists(key_path)) return MakeIdentity(state_dir, machine, name);
  NodeIdentity identity;
  ASSIGN_OR_RETURN(identity.key, ReadSecretKeyFile(key_path));
  const std::string identity_path = PathIn(state_dir, kIdentityFile);
  std::string made_on;
  if (Exists(identity_path)) {
    ASSIGN_OR_RETURN(auto settings, ReadSettings(identity_path));
    made_on = settings["machine"];
  }
  if (machine.hash.empty()) {
    // This machine cannot be told apart: nothing to compare, nothing kept.
    identity.machine = machine.hash;
    return identity;
  }
  if (made_on.empty()) {
    // A key from before identities were kept: this machine's from now on.
    RETURN_IF_ERROR(WriteFileAtomically(
        identity_path, absl::StrCat("machine = ", machine.hash, "\n"), 0600));
    made_on = machine.hash;
  }
  if (made_on != machine.hash) {
    RETURN_IF_ERROR(SetAside(state_dir));
    ASSIGN_OR_RETURN(identity, MakeIdentity(state_dir, machine, name));
    identity.discarded = absl::StrCat(
        "the key in ", key_path, " was made on machine ", made_on, ", this is ",
        machine.hash,
        " (a cloned SD card?): set it aside as *.other-machine and made a new "
        "one; this node must join again with a token");
    return identity;
  }
  identity.machine = machine.hash;
  return identity;
}

absl::StatusOr<std::optional<EnrollmentRecord>> ReadEnrollment(
    const std::string& state_dir) {
  const std::string path = PathIn(state_dir, kEnrollmentFile);
  absl::StatusOr<std::map<std::string, std::string>> settings =
      ReadSettings(path);
  if (absl::IsNotFound(settings.status())) return std::nullopt;
  if (!settings.ok()) return settings.status();
  EnrollmentRecord record;
  record.controller_key = (*settings)["controller_key"];
  record.name = (*settings)["name"];
  record.control = (*settings)["control"];
  if (!ValidZ85Key(record.controller_key) || !ValidNodeName(record.name)) {
    return absl::DataLossError(absl::StrCat(
        path,
        " is damaged (no valid controller_key or name): remove it and "
        "join again with a token"));
  }
  return record;
}

absl::Status WriteEnrollment(const std::string& state_dir,
                             const EnrollmentRecord& record) {
  return WriteFileAtomically(
      PathIn(state_dir, kEnrollmentFile),
      absl::StrCat("# The controller this node joined, written by quark-worker."
                   "\ncontroller_key = \"",
                   record.controller_key, "\"\nname = ", record.name,
                   "\ncontrol = ", record.control, "\n"),
      0600);
}

absl::StatusOr<std::optional<std::string>> ReadSavedToken(
    const std::string& state_dir) {
  absl::StatusOr<std::string> text =
      ReadSmallFile(PathIn(state_dir, kTokenFile), 4096);
  if (absl::IsNotFound(text.status())) return std::nullopt;
  if (!text.ok()) return text.status();
  return std::string(absl::StripAsciiWhitespace(*text));
}

absl::Status SaveToken(const std::string& state_dir, const std::string& token) {
  RETURN_IF_ERROR(MakeDirectory(state_dir, 0700));
  return WriteFileAtomically(PathIn(state_dir, kTokenFile), token + "\n", 0600);
}

absl::Status RemoveSavedToken(const std::string& state_dir) {
  const std::string path = PathIn(state_dir, kTokenFile);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::UnavailableError(
        absl::StrCat("cannot remove ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status SetTokenAside(const std::string& state_dir) {
  const std::string path = PathIn(state_dir, kTokenFile);
  const std::string aside = path + ".refused";
  if (::rename(path.c_str(), aside.c_str()) != 0 && errno != ENOENT) {
    return absl::UnavailableError(absl::StrCat(
        "cannot rename ", path, " to ", aside, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace quark
