// quark-worker: joins a Quark cluster and sieves the ranges its controller
// assigns. See README.md and docs/protocol.md.
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/config.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/numbers.h"
#include "common/sd_notify.h"
#include "common/signals.h"
#include "common/status.h"
#include "common/token.h"
#include "common/transport.h"
#include "worker/identity.h"
#include "worker/join_command.h"
#include "worker/joiner.h"
#include "worker/worker.h"

namespace {

std::string Hostname() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

}  // namespace

ABSL_FLAG(std::string, config, "/etc/quark/worker.conf",
          "Settings file: one `flag = value` per line, for any other flag; "
          "the command line wins over it. A missing file is fine unless "
          "given here.");
ABSL_FLAG(std::string, controller, "",
          "Control endpoint of the controller, tcp://HOST:7700. Default: a "
          "node that joins with a token finds it by its beacon on the LAN; "
          "otherwise tcp://127.0.0.1:7700.");
ABSL_FLAG(int, threads, 0,
          "Threads to sieve with; 0 means all hardware threads.");
ABSL_FLAG(
    std::string, name, Hostname(),
    "Node name, unique in the cluster: 1-64 characters of [A-Za-z0-9._-]. "
    "Defaults to the hostname.");
ABSL_FLAG(std::string, memory_limit, "",
          "Most memory the worker's sieve may use, such as 1536M or 2G "
          "(powers of 1024). Empty: 90% of MemAvailable or of the cgroup's "
          "limit, whichever is smaller, less 64 MiB. Tasks run on fewer "
          "threads, or in narrower slices, to stay within it.");
ABSL_FLAG(int, credits, 2,
          "Assignments held at once: one sieving, the others waiting, so the "
          "cores never wait for a round trip.");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(30),
          "On SIGTERM or SIGINT, how long to wait for the running task before "
          "leaving without its result.");
ABSL_FLAG(std::string, key, "",
          "This node's CURVE secret key file (`quark keygen NODE`); needs "
          "--controller_key. A name without '/' is looked up in "
          "$CREDENTIALS_DIRECTORY when systemd sets it (LoadCredential=), "
          "else in the working directory when it is there, else in /etc/quark. "
          "Empty: plain TCP, which a controller only takes on loopback or "
          "with --insecure.");
ABSL_FLAG(std::string, controller_key, "",
          "The controller's CURVE public key file (its controller.pub).");
ABSL_FLAG(std::string, join, "",
          "A join token (quark token create on the controller): all a node "
          "needs. It makes this node's key in --state_dir on first start, "
          "finds the controller (its beacon, or --controller) and enrolls; "
          "from then on the key is the node. `quark-worker join TOKEN` saves "
          "it for the service instead. Keep it out of files others can read.");
ABSL_FLAG(std::string, state_dir, "/var/lib/quark-worker",
          "Where a node that joins with a token keeps its own key and "
          "enrollment.");
ABSL_FLAG(std::string, enroll, "",
          "The controller's enroll endpoint; default: its beacon says, or "
          "the host of --controller, port 7703.");
ABSL_FLAG(int, beacon_port, 7700,
          "UDP port the controller's beacon is heard on.");
ABSL_FLAG(std::string, sysfs_root, "/sys",
          "Where sysfs is (node_exporter's --path.sysfs): the CPU "
          "temperature and the Pi firmware's under-voltage and throttling "
          "bits sent with each heartbeat are read there, and the Pi's serial "
          "number that tells a cloned SD card from the machine it was made "
          "on.");
ABSL_FLAG(bool, boot, false,
          "With `join`: take the token from the boot partition's quark-join "
          "file (the unit does this before each start) and remove the file.");
ABSL_FLAG(std::string, log_level, "info",
          "error, warning, notice, info or debug.");

namespace quark {
namespace {

constexpr char kUsage[] =
    "the worker of a Quark prime-search cluster.\n"
    "Usage: quark-worker [--config=/etc/quark/worker.conf]\n"
    "                    [--join=TOKEN [--state_dir=DIR]] "
    "[--controller=tcp://HOST:7700]\n"
    "                    [--threads=N] [--memory_limit=SIZE] [--name=NODE]\n"
    "                    [--credits=N]"
    " [--drain_timeout=30s] [--log_level=info]\n"
    "                    [--key=NODE.key --controller_key=controller.pub]\n"
    "       quark-worker join [TOKEN]  (as root: save the token for the "
    "service and restart it;\n"
    "                                   without TOKEN it is read from stdin)";

// Fresh per process start, never 0.
uint64_t RandomIncarnation() {
  std::random_device random;
  uint64_t value = 0;
  while (value == 0) value = (uint64_t{random()} << 32) | random();
  return value;
}

// What main does before the worker's loop: join with a token, or find an
// enrolled node's controller by its beacon, or neither.
struct Plan {
  WorkerOptions options;
  std::optional<JoinOptions> join;  // enroll first
  bool find_controller = false;     // enrolled, no `controller` setting
  std::string state_dir;
  EnrollmentRecord record;   // when enrolled (or once joined)
  bool token_saved = false;  // the token came from the state dir
  // Installed, and nothing to join with yet: wait for `quark-worker join`.
  bool waiting_for_token = false;
};

// Whether the command line or the config file set `flag`.
bool Given(const std::set<std::string>& command_line, const char* flag) {
  return command_line.count(flag) != 0 || !ConfigOrigin(flag).empty();
}

// A token in a config file others may read is a token anyone on the
// machine can use.
void WarnIfReadable(const std::string& origin) {
  const std::string path = origin.substr(0, origin.rfind(':'));
  struct stat st;
  if (!path.empty() && ::stat(path.c_str(), &st) == 0 &&
      (st.st_mode & S_IROTH)) {
    QLOG(kWarning)
        << "join token readable by every user file=" << path
        << " hint=\"chmod 640 it, or use sudo quark-worker join TOKEN, "
           "which keeps the token in the state directory, mode 0600\"";
  }
}

// The endpoint flag `name` as typed (HOST, HOST:PORT, tcp://...) in its
// tcp:// form; empty stays empty (found by the beacon, or the default).
absl::StatusOr<std::string> EndpointFlag(const char* name,
                                         const std::string& value,
                                         int default_port) {
  if (value.empty()) return value;
  absl::StatusOr<std::string> endpoint = ConnectEndpoint(value, default_port);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": ", endpoint.status().message()));
  }
  return endpoint;
}

absl::Status PlanCommon(Plan* plan) {
  WorkerOptions& options = plan->options;
  ASSIGN_OR_RETURN(
      options.controller,
      EndpointFlag("controller", absl::GetFlag(FLAGS_controller), 7700));
  const std::string name = absl::GetFlag(FLAGS_name);
  if (!ValidNodeName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--name '", name, "' must be 1-64 characters of [A-Za-z0-9._-]"));
  }
  const int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 0 || threads > 1024) {
    return absl::InvalidArgumentError("--threads must be in [0, 1024]");
  }
  const int cores =
      std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int credits = absl::GetFlag(FLAGS_credits);
  if (credits < 1 || credits > 64) {
    return absl::InvalidArgumentError("--credits must be in [1, 64]");
  }
  const absl::Duration drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  if (drain_timeout < absl::ZeroDuration() || drain_timeout > absl::Hours(24)) {
    return absl::InvalidArgumentError("--drain_timeout must be in [0, 24h]");
  }
  const int beacon_port = absl::GetFlag(FLAGS_beacon_port);
  if (beacon_port < 1 || beacon_port > 65535) {
    return absl::InvalidArgumentError("--beacon_port must be in [1, 65535]");
  }
  if (const std::string limit = absl::GetFlag(FLAGS_memory_limit);
      !limit.empty()) {
    absl::StatusOr<uint64_t> bytes = ParseSize(limit);
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--memory_limit: ", bytes.status().message()));
    }
    options.memory_limit = *bytes;
  }
  options.threads = threads == 0 ? cores : threads;
  options.sysfs_root = absl::GetFlag(FLAGS_sysfs_root);
  options.session.node = name;
  options.session.cores = static_cast<uint32_t>(cores);
  options.session.threads = static_cast<uint32_t>(options.threads);
  options.session.credits = static_cast<uint32_t>(credits);
  options.session.drain_timeout = drain_timeout;
  options.session.incarnation = RandomIncarnation();
  plan->state_dir = absl::GetFlag(FLAGS_state_dir);
  return absl::OkStatus();
}

// With --key: the manual flow (docs/security.md), as before tokens.
absl::Status PlanManualKeys(Plan* plan) {
  const std::string key = absl::GetFlag(FLAGS_key);
  const std::string controller_key = absl::GetFlag(FLAGS_controller_key);
  if (key.empty() != controller_key.empty()) {
    return absl::InvalidArgumentError(
        "--key and --controller_key go together: CURVE needs this node's "
        "secret key and the controller's public key");
  }
  if (!absl::GetFlag(FLAGS_join).empty()) {
    return absl::InvalidArgumentError(
        "--join and --key exclude each other: a node that joins with a token "
        "makes its own key in --state_dir; leave key and controller_key out");
  }
  WorkerOptions::Curve curve;
  ASSIGN_OR_RETURN(curve.own, ReadCredentialKeyFile(key));
  ASSIGN_OR_RETURN(curve.controller_key, ReadPublicKeyFile(controller_key));
  plan->options.curve = std::move(curve);
  return absl::OkStatus();
}

// With a token or an enrollment in the state directory: this node's own
// key, and either a join or the controller it joined.
absl::Status PlanJoin(const std::set<std::string>& command_line,
                      std::optional<JoinToken> token,
                      std::optional<EnrollmentRecord> record, Plan* plan) {
  WorkerOptions& options = plan->options;
  MachineSources sources;
  sources.sysfs_root = absl::GetFlag(FLAGS_sysfs_root);
  absl::StatusOr<Machine> machine = ThisMachine(sources);
  if (!machine.ok()) {
    QLOG(kWarning) << "clones cannot be told apart error=\""
                   << machine.status().message() << "\"";
    machine = Machine{"", "none"};  // no identity kept or compared
  }
  if (!Given(command_line, "name")) {
    options.session.node = DefaultNodeName(options.session.node, machine->hash);
  }
  ASSIGN_OR_RETURN(
      NodeIdentity identity,
      LoadOrMakeIdentity(plan->state_dir, *machine, options.session.node));
  if (!identity.discarded.empty()) {
    QLOG(kWarning) << "new identity reason=\"" << identity.discarded << "\"";
    record.reset();  // set aside with the old key
    if (!token) {
      return absl::FailedPreconditionError(absl::StrCat(
          identity.discarded,
          ". Join it: sudo quark-worker join TOKEN (or --join=TOKEN)"));
    }
  } else if (identity.made) {
    QLOG(kNotice) << "made this node's key key=" << identity.key.public_key
                  << " dir=" << plan->state_dir << " machine=" << machine->hash;
  }
  if (token && record && record->controller_key != token->controller_key) {
    QLOG(kNotice) << "the join token names another controller: joining it "
                     "old_controller_key="
                  << record->controller_key
                  << " controller_key=" << token->controller_key;
    record.reset();
  }
  if (record) {
    if (Given(command_line, "name") && options.session.node != record->name) {
      QLOG(kWarning) << "this node's key is enrolled as name=" << record->name
                     << ", not " << options.session.node << ": using "
                     << record->name;
    }
    options.session.node = record->name;
    options.curve = WorkerOptions::Curve{record->controller_key, identity.key};
    options.enrolled = true;
    if (token && plan->token_saved) {
      // Enrolled already with that controller: the token is of no use.
      if (absl::Status s = RemoveSavedToken(plan->state_dir); !s.ok()) {
        QLOG(kWarning) << s.message();
      }
    }
    plan->record = *record;
    plan->find_controller = options.controller.empty();
    if (plan->find_controller) {
      JoinOptions find;
      find.token.controller_key = record->controller_key;
      find.beacon_port =
          static_cast<uint16_t>(absl::GetFlag(FLAGS_beacon_port));
      plan->join = std::move(find);
    }
    return absl::OkStatus();
  }
  JoinOptions join;
  join.token = *std::move(token);
  join.own = identity.key;
  join.name = options.session.node;
  join.machine = machine->hash;
  join.controller = options.controller;
  ASSIGN_OR_RETURN(join.enroll,
                   EndpointFlag("enroll", absl::GetFlag(FLAGS_enroll), 7703));
  join.beacon_port = static_cast<uint16_t>(absl::GetFlag(FLAGS_beacon_port));
  plan->join = std::move(join);
  options.enrolled = true;
  return absl::OkStatus();
}

absl::StatusOr<Plan> PlanFromFlags(const std::set<std::string>& command_line) {
  Plan plan;
  RETURN_IF_ERROR(PlanCommon(&plan));
  if (!absl::GetFlag(FLAGS_key).empty() ||
      !absl::GetFlag(FLAGS_controller_key).empty()) {
    RETURN_IF_ERROR(PlanManualKeys(&plan));
  } else {
    std::optional<JoinToken> token;
    std::string text = absl::GetFlag(FLAGS_join);
    if (!text.empty()) {
      if (const std::string origin = ConfigOrigin("join"); !origin.empty()) {
        WarnIfReadable(origin);
      }
    } else if (::access(plan.state_dir.c_str(), F_OK) == 0) {
      ASSIGN_OR_RETURN(std::optional<std::string> saved,
                       ReadSavedToken(plan.state_dir));
      text = saved.value_or("");
      plan.token_saved = saved.has_value();
    }
    if (!text.empty()) {
      absl::StatusOr<JoinToken> parsed = ParseJoinToken(text);
      if (!parsed.ok() && plan.token_saved) {
        // Not tried again at every start.
        const absl::Status aside = SetTokenAside(plan.state_dir);
        return absl::InvalidArgumentError(absl::StrCat(
            plan.state_dir, "/join-token: ", parsed.status().message(),
            aside.ok() ? " (set aside as join-token.refused)" : ""));
      }
      if (!parsed.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--join: ", parsed.status().message()));
      }
      token = *std::move(parsed);
    }
    std::optional<EnrollmentRecord> record;
    if (::access(plan.state_dir.c_str(), F_OK) == 0) {
      ASSIGN_OR_RETURN(record, ReadEnrollment(plan.state_dir));
    }
    if (token || record) {
      RETURN_IF_ERROR(
          PlanJoin(command_line, std::move(token), std::move(record), &plan));
    } else if (!Given(command_line, "controller") &&
               ::access(plan.state_dir.c_str(), F_OK) == 0) {
      // The package's state directory, empty: this node has not joined
      // anything, and knocking at tcp://127.0.0.1:7700 would only confuse.
      plan.waiting_for_token = true;
    }
  }
  if (plan.options.controller.empty() && !plan.join &&
      !plan.waiting_for_token) {
    plan.options.controller = "tcp://127.0.0.1:7700";
  }
  return plan;
}

// A node with nothing to join with: says how to join, and waits until
// stopped (`quark-worker join` restarts the service with a token).
int WaitForAToken(const Plan& plan, ShutdownSignals* signals,
                  SystemdNotifier* systemd) {
  const std::string why =
      "not part of a cluster yet: on the controller, quark token create; "
      "here, sudo quark-worker join TOKEN";
  QLOG(kNotice) << "waiting for a join token state_dir=" << plan.state_dir
                << " hint=\"" << why << "\"";
  while (true) {
    const absl::Time now = absl::Now();
    systemd->SetStatus(why, now);
    systemd->Tick(now);
    pollfd fd = {signals->fd(), POLLIN, 0};
    ::poll(&fd, 1, 1000);
    if (signals->Take() != 0) return 0;
  }
}

// Joins (or finds the enrolled controller) before the worker's loop.
// Returns the exit code to end with, or nullopt to go on.
std::optional<int> JoinFirst(Plan& plan, ShutdownSignals* signals,
                             SystemdNotifier* systemd) {
  if (plan.waiting_for_token) return WaitForAToken(plan, signals, systemd);
  if (!plan.join) return std::nullopt;
  Joiner joiner(*plan.join, signals, systemd);
  WorkerOptions& options = plan.options;
  if (plan.find_controller) {
    // Found by its beacon before, and followed by it from now on.
    options.beacon_port = plan.join->beacon_port;
    absl::StatusOr<std::string> found = joiner.FindControl(absl::Seconds(3));
    if (absl::IsCancelled(found.status())) return 0;
    if (!found.ok() || found->empty()) {
      QLOG(kInfo) << "no beacon from the controller: trying where it was "
                     "control="
                  << plan.record.control;
      options.controller = plan.record.control;
      return std::nullopt;
    }
    // Not written to the enrollment: a beacon is only a hint until CURVE
    // has checked the controller there.
    options.controller = *found;
    return std::nullopt;
  }
  absl::StatusOr<JoinResult> joined = joiner.Run();
  if (absl::IsCancelled(joined.status())) return 0;
  if (!joined.ok()) {
    QLOG(kError) << "cannot join error=\"" << joined.status().message() << "\"";
    // A refusal is final (a bad token, a rejected node): exit 2 keeps
    // systemd from trying again (RestartPreventExitStatus=2).
    if (!absl::IsPermissionDenied(joined.status())) return 1;
    if (plan.token_saved) {
      // Not again at every start: set aside, for a look.
      if (absl::Status s = SetTokenAside(plan.state_dir); !s.ok()) {
        QLOG(kWarning) << s.message();
      }
    }
    return 2;
  }
  plan.record = {joined->controller_key, joined->name, joined->controller};
  if (absl::Status s = WriteEnrollment(plan.state_dir, plan.record); !s.ok()) {
    QLOG(kError) << "cannot keep the enrollment error=\"" << s.message()
                 << "\"";
    return 1;
  }
  if (absl::Status s = RemoveSavedToken(plan.state_dir); !s.ok()) {
    QLOG(kWarning) << s.message();
  }
  options.controller = joined->controller;
  if (plan.join->controller.empty() && plan.join->enroll.empty()) {
    options.beacon_port = plan.join->beacon_port;  // found by its beacon
  }
  options.session.node = joined->name;
  options.curve = WorkerOptions::Curve{joined->controller_key, plan.join->own};
  return std::nullopt;
}

// The command line: the flags of this file by group (common/command_line.h).
CommandLineSpec CommandLineFor() {
  CommandLineSpec spec;
  spec.program = "quark-worker";
  spec.version = QUARK_VERSION;
  spec.usage = absl::StrCat("quark-worker: ", kUsage, "\n");
  spec.groups = {
      {"Joining the cluster",
       {"join", "state_dir", "controller", "enroll", "beacon_port", "boot"}},
      {"Sieving", {"threads", "memory_limit", "credits", "drain_timeout"}},
      {"The node", {"name", "key", "controller_key", "sysfs_root"}},
      {"Settings and logs", {"config", "log_level"}},
  };
  return spec;
}

int Main(int argc, char** argv) {
  const CommandLine command_line =
      LoadDaemonSettings(argc, argv, CommandLineFor());
  if (command_line.exit.has_value()) return *command_line.exit;
  const std::vector<std::string>& args = command_line.args;
  const bool join_command = !args.empty() && args[0] == "join";
  if (args.size() > (join_command ? 2u : 0u)) {
    std::fprintf(stderr, "quark-worker: unexpected argument '%s'\n",
                 args[join_command ? 2 : 0].c_str());
    return 2;
  }
  const std::set<std::string>& given = command_line.given;
  if (join_command) {
    if (!absl::GetFlag(FLAGS_key).empty() && !absl::GetFlag(FLAGS_boot)) {
      const std::string origin = ConfigOrigin("key");
      std::fprintf(stderr,
                   "quark-worker: this node is keyed by hand (key is set%s): "
                   "remove key and controller_key to join with a token\n",
                   origin.empty() ? "" : (" at " + origin).c_str());
      return 2;
    }
    JoinCommandOptions join;
    join.boot = absl::GetFlag(FLAGS_boot);
    join.state_dir = absl::GetFlag(FLAGS_state_dir);
    if (args.size() == 2) join.token = args[1];
    if (join.boot && !join.token.empty()) {
      std::fprintf(stderr,
                   "quark-worker: usage: quark-worker join [TOKEN | -] (the "
                   "token read from stdin without one), or join --boot\n");
      return 2;
    }
    return RunJoinCommand(join);
  }
  absl::StatusOr<Plan> plan = PlanFromFlags(given);
  if (!plan.ok()) {
    std::fprintf(
        stderr, "quark-worker: %s\n",
        std::string(WithConfigOrigin(plan.status()).message()).c_str());
    return 2;
  }
  // Before any thread exists (the joiner's zmq context has some), so that
  // every thread inherits the signal mask.
  absl::StatusOr<std::unique_ptr<ShutdownSignals>> signals =
      ShutdownSignals::Install();
  if (!signals.ok()) {
    QLOG(kError) << "fatal error=\"" << signals.status().message() << "\"";
    return 1;
  }
  std::unique_ptr<SystemdNotifier> systemd = SystemdNotifier::FromEnvironment();
  if (std::optional<int> code =
          JoinFirst(*plan, signals->get(), systemd.get())) {
    if (*code == 0) systemd->Stopping();
    return *code;
  }
  Worker worker(std::move(plan->options), *std::move(signals),
                std::move(systemd));
  const absl::Status status = worker.Run();
  // Rejected by the operator: restarting would not help.
  const int code = status.ok() ? 0 : absl::IsPermissionDenied(status) ? 2 : 1;
  if (!status.ok()) {
    QLOG(kError) << "fatal error=\"" << status.message() << "\"";
  }
  return code;  // ~Worker stops a task still sieving, within a second
}

}  // namespace
}  // namespace quark

int main(int argc, char** argv) { return quark::Main(argc, argv); }
