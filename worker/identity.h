// A worker's own identity, kept in its state directory (--state_dir,
// /var/lib/quark-worker under the package), for nodes that join with a
// token (docs/security.md):
//
//   worker.key   "worker SECRET": the node's CURVE secret key, mode 0600,
//                made by the worker itself on its first start, never baked
//                into an image
//   worker.pub   "NAME PUBLIC", for an operator who lists nodes by hand
//   identity     "machine = HASH": the machine the key was made on
//   enrollment   "controller_key = ..., name = ..., control = ...": the
//                controller the key is enrolled with, and as what
//   join-token   a token saved by `quark-worker join`, mode 0600
//
// The key is the node. A key found on another machine than the one it was
// made on (a cloned SD card) is set aside and a new one made, so clones
// never fight over one identity. The machine is told apart by the Pi's
// serial number (the device tree's, under --sysfs_root), else by
// /etc/machine-id; both are hashed, never stored or sent as they are.
#ifndef QUARK_WORKER_IDENTITY_H_
#define QUARK_WORKER_IDENTITY_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/keys.h"

namespace quark {

// Where a machine's identity is read.
struct MachineSources {
  std::string sysfs_root = "/sys";  // firmware/devicetree/base/serial-number
  std::string machine_id = "/etc/machine-id";
};

// The machine this runs on, as a hash (16 characters of [a-z2-7]), and
// what it came from ("pi-serial", "machine-id"). NotFound when neither
// source can be read.
struct Machine {
  std::string hash;
  std::string source;
};
absl::StatusOr<Machine> ThisMachine(const MachineSources& sources);

// The node name to use when none is set: the host name, except that the
// Raspberry Pi OS default "raspberrypi" (and a few other stock names) gets
// a suffix from the machine hash, "raspberrypi-k3f2a9", so that a batch of
// freshly flashed Pis does not ask for one name.
std::string DefaultNodeName(const std::string& hostname,
                            const std::string& machine_hash);

struct NodeIdentity {
  KeyPair key;
  std::string machine;  // the hash it was made on (this one)
  bool made = false;    // made by this call
  // Set when an old key was set aside: why (it came from another machine).
  std::string discarded;
};

// The identity in `state_dir`, made (directory 0700, key 0600) when there
// is none or when the one there was made on another machine; then the old
// files are renamed *.other-machine and any enrollment is dropped with
// them. `name` goes into worker.pub. Fails naming the file when the
// directory cannot be made or written, or a file there is unreadable.
absl::StatusOr<NodeIdentity> LoadOrMakeIdentity(const std::string& state_dir,
                                                const Machine& machine,
                                                const std::string& name);

// The controller this node is enrolled with.
struct EnrollmentRecord {
  std::string controller_key;  // Z85
  std::string name;            // what the controller calls this node
  std::string control;         // the control endpoint it reached last
};

// nullopt when the node is not enrolled (no file).
absl::StatusOr<std::optional<EnrollmentRecord>> ReadEnrollment(
    const std::string& state_dir);
absl::Status WriteEnrollment(const std::string& state_dir,
                             const EnrollmentRecord& record);

// The token `quark-worker join` saved, or nullopt.
absl::StatusOr<std::optional<std::string>> ReadSavedToken(
    const std::string& state_dir);
// Saves `token` (mode 0600), making the directory (0700) if needed.
absl::Status SaveToken(const std::string& state_dir, const std::string& token);
// Once enrolled the key is the node: the token is no use to it any more,
// and a secret less on its disk. OK when there is none.
absl::Status RemoveSavedToken(const std::string& state_dir);
// A saved token the controller refused: renamed join-token.refused, so
// that the next start does not try it again.
absl::Status SetTokenAside(const std::string& state_dir);

}  // namespace quark

#endif  // QUARK_WORKER_IDENTITY_H_
