// Who may connect, as the code that reads messages needs to know it: the
// ZAP domains, the name a CURVE key is authorized as (KeyDirectory, which
// the Authenticator of controller/auth.h implements) and what libzmq says
// of a message's sender (Peer). Apart from auth.h so that Inbound and the
// Authenticator need not include each other.
#ifndef QUARK_CONTROLLER_KEY_DIRECTORY_H_
#define QUARK_CONTROLLER_KEY_DIRECTORY_H_

#include <string>

namespace quark {

inline constexpr char kWorkerDomain[] = "quark-workers";
inline constexpr char kOperatorDomain[] = "quark-operators";
inline constexpr char kEnrollDomain[] = "quark-enroll";

// Who may connect (implemented by Authenticator, controller/auth.h).
class KeyDirectory {
 public:
  virtual ~KeyDirectory() = default;
  // The name `key` (Z85) is authorized as in `domain` (kWorkerDomain,
  // kOperatorDomain), or nullptr.
  virtual const std::string* NameOf(const std::string& domain,
                                    const std::string& key) const = 0;
  // Whether authorized_workers lists a node of that name.
  virtual bool ListsWorker(const std::string& name) const {
    (void)name;
    return false;
  }
};

// What libzmq says about the sender of a message.
struct Peer {
  std::string key;      // ZAP User-Id: the CURVE public key; "" without
  std::string address;  // Peer-Address, for the log
};

}  // namespace quark

#endif  // QUARK_CONTROLLER_KEY_DIRECTORY_H_
