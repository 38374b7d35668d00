// quark-controller: membership, scheduling and result collection for a
// Quark cluster. See README.md and docs/protocol.md.
#include <sys/stat.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/command_line.h"
#include "common/config.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/numbers.h"
#include "common/status.h"
#include "controller/server.h"

ABSL_FLAG(std::string, config, "/etc/quark/controller.conf",
          "Settings file: one `flag = value` per line, for any other flag; "
          "the command line wins over it. A missing file is fine unless "
          "given here.");
ABSL_FLAG(std::string, control, "tcp://*:7700",
          "Endpoint the workers' control channel binds to.");
ABSL_FLAG(std::string, collect, "tcp://*:7701",
          "Endpoint the result collector binds to. Told to workers in the "
          "Welcome; a wildcard host is replaced by the controller's host.");
ABSL_FLAG(std::string, api, "tcp://127.0.0.1:7702",
          "Endpoint the operator API (the quark CLI) binds to.");
ABSL_FLAG(std::string, state_dir, "/var/lib/quark",
          "Directory of the controller's durable state (quark.db, SQLite); "
          "created if missing. Jobs survive a restart on the same directory.");
ABSL_FLAG(int, heartbeat_ms, 1000,
          "Heartbeat interval told to workers, in milliseconds.");
ABSL_FLAG(int, liveness, 3,
          "Silent heartbeat intervals after which a worker is lost and its "
          "work handed to others.");
ABSL_FLAG(double, task_seconds, 2.0,
          "Target time of one task on the node that runs it.");
ABSL_FLAG(int, max_task_crashes, 3,
          "A task running on this many workers that died fails its job.");
ABSL_FLAG(int, keep_jobs, 10000,
          "Finished jobs kept, listed and stored; the oldest beyond this "
          "are forgotten.");
ABSL_FLAG(
    std::string, key, "",
    "The controller's CURVE secret key file (`quark keygen controller`). "
    "With it the control and collector sockets admit only the workers "
    "in --authorized_workers. A name without '/' is looked up in "
    "$CREDENTIALS_DIRECTORY when systemd sets it (LoadCredential=), "
    "else in the working directory when it is there, else in /etc/quark.");
ABSL_FLAG(std::string, authorized_workers, "/etc/quark/authorized_workers",
          "With --key: the workers let in, one `NAME PUBLIC-KEY` line each "
          "(what `quark keygen NAME` writes to NAME.pub). SIGHUP reloads it; "
          "a node whose key is removed is evicted and its work redone. Nodes "
          "that join with a token (quark token create) need no line here: "
          "left at its default, a missing file is an empty list.");
ABSL_FLAG(std::string, authorized_operators, "",
          "With --key: the operators (quark CLI users) let into the API, one "
          "`NAME PUBLIC-KEY` line each. Needed to bind --api beyond "
          "loopback. Empty: the API is plain and must be on loopback.");
ABSL_FLAG(bool, insecure, false,
          "Allow plain, unauthenticated sockets beyond loopback: any machine "
          "that reaches the ports can join, send results and submit jobs.");
ABSL_FLAG(std::string, http, "127.0.0.1:7780",
          "HOST:PORT of the read-only HTTP server: GET /metrics (Prometheus) "
          "and the status page. HOST is an IPv4 address, localhost or * (every "
          "interface: anyone who reaches the port reads the cluster's state, "
          "nothing more). Empty: no HTTP server.");
ABSL_FLAG(std::string, enroll, "tcp://*:7703",
          "With --key: the endpoint where new nodes enroll with a join token "
          "(quark token create). Empty: no enrollment.");
ABSL_FLAG(bool, beacon, true,
          "With --key: broadcast a beacon about once a second so that workers "
          "without a `controller` setting find this controller on the LAN.");
ABSL_FLAG(int, beacon_port, 7700, "UDP port of the beacon.");
ABSL_FLAG(std::vector<std::string>, beacon_interfaces, {},
          "Interfaces to beacon on, e.g. eth0,wlan0. Default: the "
          "broadcast-capable IPv4 interfaces --control is bound to (all of "
          "them for tcp://*:PORT, none for a loopback address).");
ABSL_FLAG(
    double, verify_fraction, 0.05,
    "Share of tasks, drawn at random, computed again on another node "
    "to check the first (jobs submitted with --verify=sample, the "
    "default). A node's first results after it joins, and results "
    "computed under-voltage or throttled, are always checked. In [0, 1].");
ABSL_FLAG(std::string, cross_check_max, "1e14",
          "A count job (not --verify=none) whose hi is at most this (1e14, "
          "10^12, 2^40...) is also checked as a whole by primecount, here, on "
          "one thread: pi(1e14) takes 0.4 s of an x86 core, longer on a Pi. 0: "
          "never.");
ABSL_FLAG(std::string, log_level, "info",
          "error, warning, notice, info or debug.");

namespace quark {
namespace {

// Whether the command line or the config file set `flag`.
bool Given(const std::set<std::string>& command_line, const char* flag) {
  return command_line.count(flag) != 0 || !ConfigOrigin(flag).empty();
}

absl::StatusOr<ServerOptions> OptionsFromFlags(
    const std::set<std::string>& command_line) {
  ServerOptions options;
  options.control_endpoint = absl::GetFlag(FLAGS_control);
  options.collect_endpoint = absl::GetFlag(FLAGS_collect);
  options.api_endpoint = absl::GetFlag(FLAGS_api);
  const int heartbeat_ms = absl::GetFlag(FLAGS_heartbeat_ms);
  if (heartbeat_ms < 10 || heartbeat_ms > 60000) {
    return absl::InvalidArgumentError("--heartbeat_ms must be in [10, 60000]");
  }
  const int liveness = absl::GetFlag(FLAGS_liveness);
  if (liveness < 1 || liveness > 100) {
    return absl::InvalidArgumentError("--liveness must be in [1, 100]");
  }
  const double task_seconds = absl::GetFlag(FLAGS_task_seconds);
  if (!(task_seconds >= 0.01 && task_seconds <= 3600)) {
    return absl::InvalidArgumentError("--task_seconds must be in [0.01, 3600]");
  }
  options.scheduler.heartbeat_interval = absl::Milliseconds(heartbeat_ms);
  options.scheduler.liveness = liveness;
  options.scheduler.chunk.task_seconds = task_seconds;
  const int max_crashes = absl::GetFlag(FLAGS_max_task_crashes);
  if (max_crashes < 1 || max_crashes > 1000) {
    return absl::InvalidArgumentError(
        "--max_task_crashes must be in [1, 1000]");
  }
  options.scheduler.max_task_crashes = max_crashes;
  const int keep_jobs = absl::GetFlag(FLAGS_keep_jobs);
  if (keep_jobs < 1)
    return absl::InvalidArgumentError("--keep_jobs must be at least 1");
  options.scheduler.keep_finished = static_cast<size_t>(keep_jobs);
  const double verify_fraction = absl::GetFlag(FLAGS_verify_fraction);
  if (!(verify_fraction >= 0 && verify_fraction <= 1)) {
    return absl::InvalidArgumentError("--verify_fraction must be in [0, 1]");
  }
  options.scheduler.verify_fraction = verify_fraction;
  absl::StatusOr<uint64_t> cross_check_max =
      ParseNumber(absl::GetFlag(FLAGS_cross_check_max));
  if (!cross_check_max.ok() || *cross_check_max > uint64_t{1} << 62) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--cross_check_max must be a number up to 2^62, such as 1e14 (and is "
        "best far below: primecount's time grows as hi^(2/3)), not '",
        absl::GetFlag(FLAGS_cross_check_max), "'"));
  }
  options.scheduler.cross_check_max = *cross_check_max;
  options.state_dir = absl::GetFlag(FLAGS_state_dir);
  options.insecure = absl::GetFlag(FLAGS_insecure);
  options.auth.workers_path = absl::GetFlag(FLAGS_authorized_workers);
  // Nodes may join with tokens alone: the default list may be missing.
  options.auth.workers_optional = !Given(command_line, "authorized_workers");
  options.enroll_endpoint = absl::GetFlag(FLAGS_enroll);
  if (const std::string http = absl::GetFlag(FLAGS_http); http.empty()) {
    options.http.reset();
  } else {
    RETURN_IF_ERROR(ParseHttpListen(http).status());
    options.http->listen = http;
  }
  options.beacon = absl::GetFlag(FLAGS_beacon);
  const int beacon_port = absl::GetFlag(FLAGS_beacon_port);
  if (beacon_port < 1 || beacon_port > 65535) {
    return absl::InvalidArgumentError("--beacon_port must be in [1, 65535]");
  }
  options.beacon_port = static_cast<uint16_t>(beacon_port);
  for (const std::string& name : absl::GetFlag(FLAGS_beacon_interfaces)) {
    if (name.empty() || name.size() > 15) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--beacon_interfaces: '", name, "' is not an interface name"));
    }
    options.beacon_interfaces.push_back(name);
  }
  options.auth.operators_path = absl::GetFlag(FLAGS_authorized_operators);
  if (const std::string key = absl::GetFlag(FLAGS_key); !key.empty()) {
    ASSIGN_OR_RETURN(options.key, ReadCredentialKeyFile(key));
    // Checked here too, so that a bad line is a configuration error (exit
    // 2) and not a failed start that systemd would retry.
    if (absl::Status s = Allowlist::Load(options.auth.workers_path).status();
        !s.ok() && !(absl::IsNotFound(s) && options.auth.workers_optional)) {
      return s;
    }
    if (!options.auth.operators_path.empty()) {
      RETURN_IF_ERROR(Allowlist::Load(options.auth.operators_path).status());
    }
  } else if (!options.auth.operators_path.empty()) {
    return absl::InvalidArgumentError(
        "--authorized_operators needs --key: operators authenticate to the "
        "controller's CURVE key");
  }
  RETURN_IF_ERROR(CheckExposure(options));
  DeriveServerOptions(options);
  return options;
}

// The command line: the flags of this file by group (common/command_line.h).
CommandLineSpec CommandLineFor() {
  CommandLineSpec spec;
  spec.program = "quark-controller";
  spec.version = QUARK_VERSION;
  spec.usage =
      "quark-controller: the controller of a Quark prime-search cluster.\n"
      "Usage: quark-controller [--config=/etc/quark/controller.conf]\n"
      "                        [--control=tcp://*:7700] "
      "[--collect=tcp://*:7701]\n"
      "                        [--api=tcp://127.0.0.1:7702] "
      "[--http=127.0.0.1:7780]\n"
      "                        [--state_dir=DIR]\n"
      "                        [--key=FILE [--authorized_workers=FILE]\n"
      "                         [--authorized_operators=FILE]\n"
      "                         [--enroll=tcp://*:7703] [--beacon=false]\n"
      "                         [--beacon_port=7700] "
      "[--beacon_interfaces=eth0]]\n"
      "                        [--insecure]\n";
  spec.groups = {
      {"Endpoints and state",
       {"control", "collect", "api", "http", "state_dir"}},
      {"Security",
       {"key", "authorized_workers", "authorized_operators", "insecure"}},
      {"Joining with tokens",
       {"enroll", "beacon", "beacon_port", "beacon_interfaces"}},
      {"Scheduling",
       {"heartbeat_ms", "liveness", "task_seconds", "max_task_crashes",
        "keep_jobs"}},
      {"Verification (docs/security.md)",
       {"verify_fraction", "cross_check_max"}},
      {"Settings and logs", {"config", "log_level"}},
  };
  return spec;
}

int Main(int argc, char** argv) {
  const CommandLine command_line =
      LoadDaemonSettings(argc, argv, CommandLineFor());
  if (command_line.exit.has_value()) return *command_line.exit;
  if (!command_line.args.empty()) {
    std::fprintf(stderr, "quark-controller: unexpected argument '%s'\n",
                 command_line.args[0].c_str());
    return 2;
  }
  const std::set<std::string>& given = command_line.given;
  auto options = OptionsFromFlags(given);
  if (!options.ok()) {
    std::fprintf(
        stderr, "quark-controller: %s\n",
        std::string(WithConfigOrigin(options.status()).message()).c_str());
    return 2;
  }
  Server server(*std::move(options));
  if (absl::Status s = server.Start(); !s.ok()) {
    QLOG(kError) << s.message();
    return 1;
  }
  if (absl::Status s = server.Run(); !s.ok()) {
    QLOG(kError) << s.message();
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace quark

int main(int argc, char** argv) { return quark::Main(argc, argv); }
