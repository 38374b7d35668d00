// quark-worker: joins a Quark cluster and sieves the ranges its controller
// assigns. See README.md and docs/protocol.md.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/status.h"
#include "common/transport.h"
#include "daemon/worker.h"

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
ABSL_FLAG(std::string, controller, "tcp://127.0.0.1:7700",
          "Control endpoint of the controller.");
ABSL_FLAG(int, threads, 0,
          "Threads to sieve with; 0 means all hardware threads.");
ABSL_FLAG(
    std::string, name, Hostname(),
    "Node name, unique in the cluster: 1-64 characters of [A-Za-z0-9._-]. "
    "Defaults to the hostname.");
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
          "else in /etc/quark. "
          "Empty: plain TCP, which a controller only takes on loopback or "
          "with --insecure.");
ABSL_FLAG(std::string, controller_key, "",
          "The controller's CURVE public key file (its controller.pub).");
ABSL_FLAG(std::string, log_level, "info",
          "error, warning, notice, info or debug.");

namespace quark {
namespace {

constexpr char kUsage[] =
    "the worker of a Quark prime-search cluster.\n"
    "Usage: quark-worker [--config=/etc/quark/worker.conf]\n"
    "                    [--controller=tcp://HOST:7700] [--threads=N] "
    "[--name=NODE]\n"
    "                    [--credits=N] [--drain_timeout=30s] "
    "[--log_level=info]\n"
    "                    [--key=NODE.key --controller_key=controller.pub]";

// Fresh per process start, never 0.
uint64_t RandomIncarnation() {
  std::random_device random;
  uint64_t value = 0;
  while (value == 0) value = (uint64_t{random()} << 32) | random();
  return value;
}

absl::StatusOr<WorkerOptions> OptionsFromFlags() {
  WorkerOptions options;
  options.controller = absl::GetFlag(FLAGS_controller);
  if (options.controller.empty()) {
    return absl::InvalidArgumentError("--controller must not be empty");
  }
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
  options.threads = threads == 0 ? cores : threads;
  options.session.node = name;
  options.session.cores = static_cast<uint32_t>(cores);
  options.session.threads = static_cast<uint32_t>(options.threads);
  options.session.credits = static_cast<uint32_t>(credits);
  options.session.drain_timeout = drain_timeout;
  options.session.incarnation = RandomIncarnation();
  const std::string key = absl::GetFlag(FLAGS_key);
  const std::string controller_key = absl::GetFlag(FLAGS_controller_key);
  if (key.empty() != controller_key.empty()) {
    return absl::InvalidArgumentError(
        "--key and --controller_key go together: CURVE needs this node's "
        "secret key and the controller's public key");
  }
  if (!key.empty()) {
    WorkerOptions::Curve curve;
    ASSIGN_OR_RETURN(curve.own, ReadSecretKeyFile(ResolveCredentialPath(key)));
    ASSIGN_OR_RETURN(curve.controller_key, ReadPublicKeyFile(controller_key));
    options.curve = std::move(curve);
  }
  return options;
}

// --help lists the flags of this file (absl looks for a file named after
// the binary by default).
void ConfigureUsage() {
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "daemon/main.cc");
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
}

int Main(int argc, char** argv) {
  ConfigureUsage();
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "quark-worker: unexpected argument '%s'\n", rest[1]);
    return 2;
  }
  // The command line first, to learn where the file is; then the file
  // fills in what the command line left alone.
  const std::set<std::string> given = FlagsOnCommandLine(argc, argv);
  if (absl::Status s = LoadConfigFile(absl::GetFlag(FLAGS_config),
                                      given.count("config") != 0, given);
      !s.ok()) {
    std::fprintf(stderr, "quark-worker: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  LogLevel level;
  if (!ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    std::fprintf(stderr,
                 "quark-worker: --log_level '%s' must be error, warning, "
                 "notice, info or debug\n",
                 absl::GetFlag(FLAGS_log_level).c_str());
    return 2;
  }
  SetLogLevel(level);
  absl::StatusOr<WorkerOptions> options = OptionsFromFlags();
  if (!options.ok()) {
    std::fprintf(stderr, "quark-worker: %s\n",
                 std::string(WithConfigOrigin(options.status()).message()).c_str());
    return 2;
  }
  Worker worker(*std::move(options));
  const absl::Status status = worker.Run();
  const int code = status.ok() ? 0 : 1;
  if (!status.ok()) {
    QLOG(kError) << "fatal error=\"" << status.message() << "\"";
  }
  // A task past the drain timeout cannot be interrupted: leave without
  // waiting for it (the sockets are closed already).
  if (worker.TaskStillRunning()) std::_Exit(code);
  return code;
}

}  // namespace
}  // namespace quark

int main(int argc, char** argv) { return quark::Main(argc, argv); }
