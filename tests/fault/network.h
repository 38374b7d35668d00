// A private network for the fault tests: a bridge `qf-br` with 10.77.0.1/24
// in the root namespace, where the controller binds, and one network
// namespace `qf-<node>` per worker with its own address 10.77.0.N on that
// bridge (through a veth pair). No route leaves 10.77.0.0/24, so test
// traffic never reaches another host.
//
//   absl::StatusOr<std::unique_ptr<TestNetwork>> net = TestNetwork::Open(dir);
//   (*net)->AddNode("w1");  // namespace qf-w1, address 10.77.0.10
//   argv = (*net)->ExecPrefix("w1") + {worker, ...};
//   (*net)->Cut("w1");      // iptables DROP of all in and out, in qf-w1
//   (*net)->Heal("w1");
//
// Cuts are iptables rules inside the node's namespace, so they vanish with
// it; nothing is added to the root namespace's iptables. Every name starts
// with "qf-". One TestNetwork exists at a time on a machine: Open takes an
// exclusive lock (a file in /tmp), then removes whatever a crashed run left
// (every namespace and link named "qf-*"). The destructor deletes all it
// made, also when the test failed. Needs root. Not thread-safe.
#ifndef QUARK_TESTS_FAULT_NETWORK_H_
#define QUARK_TESTS_FAULT_NETWORK_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/integration/process.h"

namespace quark::fault {

using integration::Deadline;

class TestNetwork {
 public:
  // Prefix of every namespace and link made here, and of what the startup
  // sweep deletes.
  static constexpr char kPrefix[] = "qf-";

  // Takes the lock (waiting until `lock_deadline`), sweeps leftovers and
  // makes the bridge. The commands' output goes to files in `log_dir`.
  // FailedPrecondition when the machine cannot do it (not root, no `ip`,
  // `ip netns add` refused): the caller skips. Other errors are failures.
  static absl::StatusOr<std::unique_ptr<TestNetwork>> Open(
      const std::filesystem::path& log_dir, Deadline lock_deadline);

  ~TestNetwork();  // deletes the namespaces, the bridge, then unlocks
  TestNetwork(const TestNetwork&) = delete;
  TestNetwork& operator=(const TestNetwork&) = delete;

  // The bridge's address, where the controller binds: "10.77.0.1".
  static std::string HostAddress();

  // Adds 10.77.0.`last_byte` (2 to 9; the nodes' addresses come after)
  // to the bridge beside HostAddress(), and returns it: where a controller
  // that moves comes back. The bridge takes it away with it.
  absl::StatusOr<std::string> AddHostAddress(int last_byte);

  // Makes namespace qf-<name> with its own address, unless it exists.
  // `name` is 1-10 characters (link names are at most 15).
  absl::Status AddNode(const std::string& name);

  // {ip, "netns", "exec", "qf-<name>"}: `ip netns exec` execs the command in
  // place, so the pid of a process started with it is the command's.
  std::vector<std::string> ExecPrefix(const std::string& name) const;

  // FailedPrecondition when iptables is not installed.
  absl::Status CheckIptables();

  // Drops every packet into and out of node `name` (not its loopback)
  // until Heal. Established TCP connections stay open and resume, with
  // TCP's retransmission backoff, once healed.
  absl::Status Cut(const std::string& name);
  absl::Status Heal(const std::string& name);
  bool IsCut(const std::string& name) const;

  // Packets the node's cut rules have dropped so far (all its cuts).
  absl::StatusOr<uint64_t> DroppedPackets(const std::string& name);

 private:
  TestNetwork(std::filesystem::path log_dir, int lock_fd, std::string ip);

  // Runs argv (argv[0] absolute) to completion; its stdout in `out`.
  absl::Status Run(std::vector<std::string> argv, std::string* out = nullptr);
  absl::Status RunIn(const std::string& name, std::vector<std::string> argv,
                     std::string* out = nullptr);
  // Packets dropped by the node's present cut rules.
  absl::StatusOr<uint64_t> RuleDrops(const std::string& name);
  void Sweep();
  absl::Status MakeBridge();

  std::filesystem::path log_dir_;
  int lock_fd_;
  std::string ip_;        // absolute path of `ip`
  std::string iptables_;  // absolute path of `iptables`, or ""
  int runs_ = 0;
  bool bridge_ = false;
  std::map<std::string, int> nodes_;  // name -> last byte of its address
  std::map<std::string, bool> cut_;
  std::map<std::string, uint64_t> dropped_;  // by healed cuts
};

}  // namespace quark::fault

#endif  // QUARK_TESTS_FAULT_NETWORK_H_
