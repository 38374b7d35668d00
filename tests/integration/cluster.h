// A Quark cluster on loopback for integration tests: one quark-controller,
// any number of quark-worker processes, and the quark CLI to drive them.
//
//   Cluster cluster(binaries, dir);
//   ASSERT_OK(cluster.Start(3, DeadlineIn(20s)));  // controller + w1..w3
//   absl::StatusOr<proto::Job> job = cluster.SubmitAndWait(proto::COUNT, 0,
//   1000);
//
// Ports are picked by the OS (bind to 127.0.0.1:0) when the Cluster is
// built and stay the same for its life, so a controller can be started
// after its workers. Every process lives in `dir` (logs `<name>.out`,
// `<name>.err`, then `<name>.2.err`... for a restarted one; controller state
// in `dir/state`) and is stopped by its own
// pid when the Cluster is destroyed. Not thread-safe.
#ifndef QUARK_TESTS_INTEGRATION_CLUSTER_H_
#define QUARK_TESTS_INTEGRATION_CLUSTER_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "proto/quark.pb.h"
#include "tests/integration/process.h"

namespace quark::integration {

using namespace std::chrono_literals;

// Absolute paths of the three executables under test.
struct Binaries {
  std::string controller;
  std::string worker;
  std::string cli;
};

struct ClusterOptions {
  int heartbeat_ms = 200;  // a killed worker is noticed in 3 * 200 ms
  int liveness = 3;
  std::string task_seconds;  // controller --task_seconds; "" = its default
  int worker_threads = 1;    // the test machine has 2 cores for everything
  int credits = 2;
  std::string drain_timeout = "30s";
  // Address of the control and collect endpoints (the api stays on
  // 127.0.0.1). The fault tests put it on a bridge they create.
  std::string host = "127.0.0.1";
  // If set, the argv put before a worker's binary, given the worker's name,
  // e.g. {"/usr/sbin/ip", "netns", "exec", "qf-w1"}. The prefix must exec
  // the binary in place (as `ip netns exec` does), so that the Process's pid
  // is the worker's own.
  std::function<std::vector<std::string>(const std::string& name)>
      worker_prefix;
  // CURVE everywhere: keys made with `quark keygen` in dir/keys, the
  // controller with --key, authorized_workers (each worker's key added
  // when the worker is first started, see WorkerKey) and
  // authorized_operators (the CLI's "operator" key). Without it, a
  // controller on another host than loopback runs --insecure.
  bool curve = false;
  // With `curve`: the controller's LAN beacon (off by default: a test
  // must only beacon on a bridge of its own), on this UDP port when not 0
  // (workers started with StartJoiningWorker listen on it too).
  bool beacon = false;
  int beacon_port = 0;
};

// How StartJoiningWorker starts a worker.
struct JoinFlags {
  std::string name;                 // --name; "" leaves it to the worker
  bool discover = false;            // no --controller/--enroll: the beacon says
  std::filesystem::path state_dir;  // "" = worker_state_dir(name)
};

// The outcome of one CLI run.
struct CliResult {
  std::string command;  // the arguments after --controller, for messages
  int exit_code = -1;   // -1 when killed by a signal or at the deadline
  bool timed_out = false;
  std::string out;
  std::string err;
  std::string ToString() const;  // command, exit code and both streams
};

// An unused TCP port on 127.0.0.1, chosen by the OS. Another process may
// take it before the caller binds it; the window is tiny on a test machine.
absl::StatusOr<int> PickFreePort();

// A fresh directory under the GoogleTest temp dir (TEST_TMPDIR or /tmp),
// named after the running test.
std::filesystem::path MakeTestDir();

// "count", "twins", "gaps", "sum".
std::string KindName(proto::Kind kind);

class Cluster {
 public:
  Cluster(Binaries binaries, std::filesystem::path dir,
          ClusterOptions options = {});
  ~Cluster();  // SIGKILL to every process still running, by its pid
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Fails if no free ports could be picked; every other call then fails.
  absl::Status init_status() const { return init_status_; }

  std::string control_endpoint() const;
  std::string collect_endpoint() const;
  std::string api_endpoint() const;
  // HOST:PORT of the controller's --http (GET /metrics).
  std::string http_address() const;
  std::string enroll_endpoint() const;  // with `curve`
  const std::filesystem::path& dir() const { return dir_; }
  ClusterOptions& options() { return options_; }

  // Starts the controller and waits for its "controller ready" line.
  absl::Status StartController(Deadline deadline,
                               std::vector<std::string> extra_flags = {});
  Process* controller() { return controller_; }

  // Starts a worker named `name` (not waiting for it to register): the
  // quark-worker under test, or `binary` (the lying worker of the
  // verification tests) given the same flags.
  absl::StatusOr<Process*> StartWorker(
      const std::string& name, std::vector<std::string> extra_flags = {},
      const std::string& binary = {});
  Process* worker(const std::string& name);
  // The --state_dir of worker `name` (its own key and enrollment when it
  // joins with a token).
  std::filesystem::path worker_state_dir(const std::string& name) const {
    return dir_ / (name + ".state");
  }

  // A worker that joins with `token` (none: with what its state dir
  // holds), without --key: it makes its own key in its state dir and
  // enrolls, at enroll_endpoint() unless `join.discover`. Logged as
  // worker-<name>, like StartWorker's.
  absl::StatusOr<Process*> StartJoiningWorker(
      const std::string& name, const std::string& token,
      std::vector<std::string> extra_flags = {}, const JoinFlags& join = {});

  // `quark --json token create ARGS...`: the token, with its secret.
  absl::StatusOr<proto::Token> CreateToken(std::vector<std::string> args = {});

  // With `curve`: makes the key pair dir/keys/<name>.key, .pub (once) and,
  // with `authorize`, adds it to authorized_workers (the caller sends the
  // controller SIGHUP if it runs). Returns the public key.
  absl::StatusOr<std::string> WorkerKey(const std::string& name,
                                        bool authorize = true);
  std::filesystem::path keys_dir() const { return dir_ / "keys"; }
  std::filesystem::path authorized_workers() const {
    return keys_dir() / "authorized_workers";
  }

  // Waits for "registered node=<node> " in the log of worker `name` (the
  // name it was started as); `node` defaults to `name`. A worker that
  // joins with a token may be given another name by the controller
  // ("pi-2").
  absl::Status WaitRegistered(const std::string& name, Deadline deadline,
                              const std::string& node = "");

  // Controller plus workers w1..wN, all registered by `deadline`.
  absl::Status Start(int workers, Deadline deadline);

  // Runs `quark --controller=<api> <args...>`; killed at the deadline.
  CliResult RunCli(std::vector<std::string> args,
                   Clock::duration timeout = 20s);

  // `quark --json submit KIND LO HI [--priority N]` without waiting.
  // `extra`: more options, such as --verify=all.
  absl::StatusOr<proto::Job> Submit(proto::Kind kind, uint64_t lo, uint64_t hi,
                                    int priority = 0,
                                    const std::vector<std::string>& extra = {});
  // `quark --json job ID`.
  absl::StatusOr<proto::Job> GetJob(uint64_t id);
  // `quark --json job ID --wait`: the final job (exit 0 or 1).
  absl::StatusOr<proto::Job> WaitJob(uint64_t id,
                                     Clock::duration timeout = 120s);
  // `quark --json submit KIND LO HI --wait`.
  absl::StatusOr<proto::Job> SubmitAndWait(proto::Kind kind, uint64_t lo,
                                           uint64_t hi,
                                           Clock::duration timeout = 120s);
  absl::StatusOr<proto::NodeList> Nodes();
  // `quark --json token list`: every token the controller keeps.
  absl::StatusOr<proto::TokenList> Tokens();
  // `quark --json nodes --pending`: the nodes waiting for approval.
  absl::StatusOr<proto::EnrolledList> PendingNodes();
  absl::StatusOr<proto::JobList> Jobs();

  // Polls `nodes` until node `name` is listed and `pred` holds for it.
  absl::StatusOr<proto::Node> WaitForNode(
      const std::string& name,
      const std::function<bool(const proto::Node&)>& pred, Deadline deadline);
  // Polls `nodes` until node `name` is no longer listed.
  absl::Status WaitForNodeGone(const std::string& name, Deadline deadline);
  // Polls `job ID` until `pred` holds.
  absl::StatusOr<proto::Job> WaitForJob(
      uint64_t id, const std::function<bool(const proto::Job&)>& pred,
      Deadline deadline);

  // The last lines of every process's stderr, and the last CLI failure.
  std::string Diagnostics(int lines = 25) const;

 private:
  absl::StatusOr<Process*> Launch(const std::string& name,
                                  std::vector<std::string> argv);
  absl::StatusOr<Process*> LaunchWorker(const std::string& name,
                                        std::vector<std::string> argv);
  // `quark keygen NAME --dir keys_dir()`, unless made already.
  absl::StatusOr<std::string> MakeKey(const std::string& name);
  template <typename Message>
  absl::StatusOr<Message> RunJson(std::vector<std::string> args,
                                  Clock::duration timeout, bool allow_exit_1);

  Binaries binaries_;
  std::filesystem::path dir_;
  ClusterOptions options_;
  absl::Status init_status_;
  int control_port_ = 0, collect_port_ = 0, api_port_ = 0, enroll_port_ = 0;
  int http_port_ = 0;
  std::vector<std::unique_ptr<Process>> processes_;  // all ever started
  Process* controller_ = nullptr;
  std::map<std::string, Process*> workers_;  // the latest by name
  std::map<std::string, int> launches_;      // processes started per name
  int cli_runs_ = 0;
};

// Parses `json` (as the CLI prints it with --json) into `message`.
absl::Status ParseJson(const std::string& json,
                       google::protobuf::Message* message);

// Success if `job` is DONE over [lo, hi] with the answer of `kind` equal to
// the reference computed here with primesieve / primecount.
::testing::AssertionResult MatchesReference(const proto::Job& job,
                                            proto::Kind kind, uint64_t lo,
                                            uint64_t hi);

// The key of the last `NAME KEY` line of a file `quark keygen` wrote.
absl::StatusOr<std::string> KeyInFile(const std::filesystem::path& path);

// Files under `dir` (paths relative to it) whose contents hold `needle`:
// a secret that must be in no log and no state file, say. A file that
// vanishes while it looks (the processes may be running) is skipped.
std::vector<std::string> FilesContaining(const std::filesystem::path& dir,
                                         const std::string& needle);

// A fake sysfs tree under `root`, for quark-worker --sysfs_root, whose
// device tree says this is the Raspberry Pi with serial number `serial`
// (NUL-terminated, as the kernel writes it). Returns `root`.
std::string MakeFakeSysfs(const std::filesystem::path& root,
                          const std::string& serial);

// A node by name from a NodeList, or nullptr.
const proto::Node* FindNode(const proto::NodeList& nodes,
                            const std::string& name);

}  // namespace quark::integration

#endif  // QUARK_TESTS_INTEGRATION_CLUSTER_H_
