#include "tests/integration/cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "tests/integration/reference.h"

namespace quark::integration {
namespace {

// How often WaitForNode / WaitForJob ask the controller again. Each poll
// starts a CLI process, so not much faster than this.
constexpr auto kApiPoll = std::chrono::milliseconds(50);

std::string Endpoint(const std::string& host, int port) {
  return absl::StrCat("tcp://", host, ":", port);
}

}  // namespace

std::string CliResult::ToString() const {
  return absl::StrCat(
      "`quark ", command, "` -> ",
      timed_out ? "TIMED OUT" : absl::StrCat("exit ", exit_code),
      "\n  stdout: ", out, "\n  stderr: ", err);
}

absl::StatusOr<int> PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int e = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("bind 127.0.0.1:0: ", strerror(e)));
  }
  close(fd);
  return int(ntohs(addr.sin_port));
}

std::filesystem::path MakeTestDir() {
  std::string name = "quark-it";
  if (const auto* info =
          ::testing::UnitTest::GetInstance()->current_test_info()) {
    name = absl::StrCat(name, "-", info->test_suite_name(), "-", info->name());
  }
  for (char& c : name) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-') c = '_';
  }
  std::string pattern =
      (std::filesystem::path(::testing::TempDir()) / name).string();
  pattern += "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << strerror(errno);
  }
  return pattern;
}

std::string KindName(proto::Kind kind) {
  return absl::AsciiStrToLower(proto::Kind_Name(kind));
}

Cluster::Cluster(Binaries binaries, std::filesystem::path dir,
                 ClusterOptions options)
    : binaries_(std::move(binaries)), dir_(std::move(dir)), options_(options) {
  // Distinct ports: the OS could hand back a port just released.
  std::vector<int> ports;
  while (ports.size() < 5 && init_status_.ok()) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) {
      init_status_ = port.status();
    } else if (std::find(ports.begin(), ports.end(), *port) == ports.end()) {
      ports.push_back(*port);
    }
  }
  if (init_status_.ok()) {
    control_port_ = ports[0];
    collect_port_ = ports[1];
    api_port_ = ports[2];
    enroll_port_ = ports[3];
    http_port_ = ports[4];
  }
}

Cluster::~Cluster() {
  // Workers first, so that none of them reconnects to a dying controller.
  for (auto it = processes_.rbegin(); it != processes_.rend(); ++it)
    (*it)->Kill();
}

std::string Cluster::control_endpoint() const {
  return Endpoint(options_.host, control_port_);
}
std::string Cluster::collect_endpoint() const {
  return Endpoint(options_.host, collect_port_);
}
std::string Cluster::api_endpoint() const {
  return Endpoint("127.0.0.1", api_port_);
}
std::string Cluster::enroll_endpoint() const {
  return Endpoint(options_.host, enroll_port_);
}
std::string Cluster::http_address() const {
  return absl::StrCat("127.0.0.1:", http_port_);
}

absl::StatusOr<Process*> Cluster::Launch(const std::string& name,
                                         std::vector<std::string> argv) {
  if (!init_status_.ok()) return init_status_;
  // A restarted process gets fresh log files ("controller.2.err"), so that
  // waiting for a line never finds the one its predecessor wrote.
  const int n = ++launches_[name];
  absl::StatusOr<std::unique_ptr<Process>> p = Process::Start(
      n == 1 ? name : absl::StrCat(name, ".", n), std::move(argv), dir_);
  if (!p.ok()) return p.status();
  processes_.push_back(std::move(*p));
  return processes_.back().get();
}

absl::Status Cluster::StartController(Deadline deadline,
                                      std::vector<std::string> extra_flags) {
  std::filesystem::create_directories(dir_ / "state");
  std::vector<std::string> argv = {
      binaries_.controller,
      "--control=" + control_endpoint(),
      "--collect=" + collect_endpoint(),
      "--api=" + api_endpoint(),
      "--http=" + http_address(),
      "--state_dir=" + (dir_ / "state").string(),
      absl::StrCat("--heartbeat_ms=", options_.heartbeat_ms),
      absl::StrCat("--liveness=", options_.liveness),
      // Every assignment is logged at debug: the tail printed on failure
      // then shows who held which task.
      "--log_level=debug",
  };
  if (!options_.task_seconds.empty()) {
    argv.push_back("--task_seconds=" + options_.task_seconds);
  }
  if (options_.curve) {
    for (const char* name : {"controller", "operator"}) {
      if (auto key = MakeKey(name); !key.ok()) return key.status();
    }
    std::filesystem::copy_file(keys_dir() / "operator.pub",
                               keys_dir() / "authorized_operators",
                               std::filesystem::copy_options::skip_existing);
    // Exists even before the first worker's key is added.
    std::ofstream(authorized_workers(), std::ios::app).flush();
    argv.push_back("--key=" + (keys_dir() / "controller.key").string());
    argv.push_back("--authorized_workers=" + authorized_workers().string());
    argv.push_back("--authorized_operators=" +
                   (keys_dir() / "authorized_operators").string());
    // Never the default tcp://*:7703, which every test would share; the
    // beacon only when a test asks for it, and then on its own bridge.
    argv.push_back("--enroll=" + enroll_endpoint());
    argv.push_back(
        absl::StrCat("--beacon=", options_.beacon ? "true" : "false"));
    if (options_.beacon_port != 0) {
      argv.push_back(absl::StrCat("--beacon_port=", options_.beacon_port));
    }
  } else if (options_.host.rfind("127.", 0) != 0) {
    argv.push_back("--insecure");
  }
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  absl::StatusOr<Process*> p = Launch("controller", std::move(argv));
  if (!p.ok()) return p.status();
  controller_ = *p;
  if (!WaitForLog(*controller_, "controller ready", deadline)) {
    return absl::DeadlineExceededError(
        absl::StrCat("no 'controller ready' line (",
                     controller_->Running() ? "running" : "exited",
                     "); stderr:\n", Tail(controller_->ReadStderr(), 20)));
  }
  return absl::OkStatus();
}

absl::StatusOr<Process*> Cluster::StartWorker(
    const std::string& name, std::vector<std::string> extra_flags,
    const std::string& binary) {
  std::vector<std::string> argv = {
      binary.empty() ? binaries_.worker : binary,
      "--controller=" + control_endpoint(),
      "--name=" + name,
      absl::StrCat("--threads=", options_.worker_threads),
      absl::StrCat("--credits=", options_.credits),
      "--drain_timeout=" + options_.drain_timeout,
      // Never /var/lib/quark-worker: an enrollment found there would be
      // taken up.
      "--state_dir=" + worker_state_dir(name).string(),
  };
  if (options_.curve) {
    if (auto key = WorkerKey(name); !key.ok()) return key.status();
    if (auto key = MakeKey("controller"); !key.ok()) return key.status();
    argv.push_back("--key=" + (keys_dir() / (name + ".key")).string());
    argv.push_back("--controller_key=" +
                   (keys_dir() / "controller.pub").string());
  }
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  return LaunchWorker(name, std::move(argv));
}

absl::StatusOr<std::string> Cluster::MakeKey(const std::string& name) {
  std::filesystem::create_directories(keys_dir());
  const std::filesystem::path pub = keys_dir() / (name + ".pub");
  if (!std::filesystem::exists(pub)) {
    const CliResult r = RunCli({"keygen", name, "--dir", keys_dir().string()});
    if (r.exit_code != 0) {
      return absl::InternalError("quark keygen failed: " + r.ToString());
    }
  }
  return KeyInFile(pub);
}

std::vector<std::string> FilesContaining(const std::filesystem::path& dir,
                                         const std::string& needle) {
  std::vector<std::string> found;
  std::error_code error;
  for (std::filesystem::recursive_directory_iterator it(dir, error), end;
       !error && it != end; it.increment(error)) {
    if (it->is_regular_file(error) &&
        ReadFile(it->path()).find(needle) != std::string::npos) {
      found.push_back(std::filesystem::relative(it->path(), dir).string());
    }
  }
  EXPECT_FALSE(error) << "listing " << dir << ": " << error.message();
  return found;
}

std::string MakeFakeSysfs(const std::filesystem::path& root,
                          const std::string& serial) {
  const std::filesystem::path base = root / "firmware/devicetree/base";
  std::filesystem::create_directories(base);
  std::ofstream(base / "serial-number", std::ios::binary) << serial << '\0';
  return root.string();
}

absl::StatusOr<std::string> KeyInFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') last = line;
  }
  const size_t space = last.find(' ');
  if (space == std::string::npos) {
    return absl::InternalError("no key in " + path.string());
  }
  return last.substr(space + 1);
}

absl::StatusOr<std::string> Cluster::WorkerKey(const std::string& name,
                                               bool authorize) {
  const bool fresh = !std::filesystem::exists(keys_dir() / (name + ".pub"));
  absl::StatusOr<std::string> key = MakeKey(name);
  if (key.ok() && fresh && authorize) {
    std::ofstream(authorized_workers(), std::ios::app)
        << name << " " << *key << "\n";
    // A running controller learns of it by a reload.
    if (controller_ != nullptr && controller_->Running()) {
      controller_->Signal(SIGHUP);
    }
  }
  return key;
}

Process* Cluster::worker(const std::string& name) {
  auto it = workers_.find(name);
  return it == workers_.end() ? nullptr : it->second;
}

// Under the worker prefix (a network namespace), logged as worker-<name>.
absl::StatusOr<Process*> Cluster::LaunchWorker(const std::string& name,
                                               std::vector<std::string> argv) {
  if (options_.worker_prefix) {
    const std::vector<std::string> prefix = options_.worker_prefix(name);
    argv.insert(argv.begin(), prefix.begin(), prefix.end());
  }
  absl::StatusOr<Process*> p = Launch("worker-" + name, std::move(argv));
  if (p.ok()) workers_[name] = *p;
  return p;
}

absl::StatusOr<Process*> Cluster::StartJoiningWorker(
    const std::string& name, const std::string& token,
    std::vector<std::string> extra_flags, const JoinFlags& join) {
  std::vector<std::string> argv = {
      binaries_.worker,
      absl::StrCat("--threads=", options_.worker_threads),
      absl::StrCat("--credits=", options_.credits),
      "--drain_timeout=" + options_.drain_timeout,
      "--state_dir=" +
          (join.state_dir.empty() ? worker_state_dir(name) : join.state_dir)
              .string(),
  };
  if (!join.name.empty()) argv.push_back("--name=" + join.name);
  if (!token.empty()) argv.push_back("--join=" + token);
  if (!join.discover) {
    argv.push_back("--controller=" + control_endpoint());
    argv.push_back("--enroll=" + enroll_endpoint());
  }
  if (options_.beacon_port != 0) {
    argv.push_back(absl::StrCat("--beacon_port=", options_.beacon_port));
  }
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  return LaunchWorker(name, std::move(argv));
}

absl::StatusOr<proto::Token> Cluster::CreateToken(
    std::vector<std::string> args) {
  args.insert(args.begin(), {"token", "create"});
  return RunJson<proto::Token>(std::move(args), 20s, /*allow_exit_1=*/false);
}

absl::Status Cluster::WaitRegistered(const std::string& name, Deadline deadline,
                                     const std::string& node) {
  Process* w = worker(name);
  if (w == nullptr) return absl::NotFoundError("no worker " + name);
  // The space after the name: "registered node=pi" is no sign of "pi-2".
  const std::string line =
      absl::StrCat("registered node=", node.empty() ? name : node, " ");
  if (!WaitForLog(*w, line, deadline)) {
    return absl::DeadlineExceededError(
        absl::StrCat("worker ", name, " did not log '", line, "' (",
                     w->Running() ? "running" : "exited", "); stderr:\n",
                     Tail(w->ReadStderr(), 20)));
  }
  return absl::OkStatus();
}

absl::Status Cluster::Start(int workers, Deadline deadline) {
  // With CURVE, the workers' keys are in authorized_workers from the start.
  for (int i = 1; options_.curve && i <= workers; ++i) {
    if (auto key = WorkerKey(absl::StrCat("w", i)); !key.ok())
      return key.status();
  }
  if (absl::Status s = StartController(deadline); !s.ok()) return s;
  for (int i = 1; i <= workers; ++i) {
    if (auto w = StartWorker(absl::StrCat("w", i)); !w.ok()) return w.status();
  }
  for (int i = 1; i <= workers; ++i) {
    if (absl::Status s = WaitRegistered(absl::StrCat("w", i), deadline);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

CliResult Cluster::RunCli(std::vector<std::string> args,
                          Clock::duration timeout) {
  CliResult result;
  result.command = absl::StrJoin(args, " ");
  std::vector<std::string> argv = {binaries_.cli,
                                   "--controller=" + api_endpoint()};
  if (options_.curve && (args.empty() || args[0] != "keygen")) {
    argv.push_back("--key=" + (keys_dir() / "operator.key").string());
    argv.push_back("--controller_key=" +
                   (keys_dir() / "controller.pub").string());
  }
  argv.insert(argv.end(), args.begin(), args.end());
  const Deadline deadline = Clock::now() + timeout;
  absl::StatusOr<std::unique_ptr<Process>> p =
      Process::Start(absl::StrCat("cli-", ++cli_runs_), std::move(argv), dir_);
  if (!p.ok()) {
    result.err = p.status().ToString();
    return result;
  }
  std::optional<ExitStatus> status = (*p)->Wait(deadline);
  if (!status) {
    result.timed_out = true;
    status = (*p)->Kill();
  }
  result.exit_code = status->code();
  result.out = (*p)->ReadStdout();
  result.err = (*p)->ReadStderr();
  return result;
}

absl::Status ParseJson(const std::string& json,
                       google::protobuf::Message* message) {
  const auto status =
      google::protobuf::util::JsonStringToMessage(json, message);
  if (status.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("not a ", message->GetTypeName(), " in JSON (",
                   status.ToString(), "): ", json));
}

template <typename Message>
absl::StatusOr<Message> Cluster::RunJson(std::vector<std::string> args,
                                         Clock::duration timeout,
                                         bool allow_exit_1) {
  args.insert(args.begin(), "--json");
  const CliResult r = RunCli(std::move(args), timeout);
  if (r.exit_code != 0 && !(allow_exit_1 && r.exit_code == 1)) {
    return absl::InternalError(r.ToString());
  }
  Message message;
  if (absl::Status s = ParseJson(r.out, &message); !s.ok()) {
    return absl::InternalError(absl::StrCat(s.message(), "\n", r.ToString()));
  }
  return message;
}

absl::StatusOr<proto::Job> Cluster::Submit(
    proto::Kind kind, uint64_t lo, uint64_t hi, int priority,
    const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"submit", KindName(kind), absl::StrCat(lo),
                                   absl::StrCat(hi)};
  if (priority != 0) {
    args.push_back("--priority");
    args.push_back(absl::StrCat(priority));
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return RunJson<proto::Job>(std::move(args), 20s, false);
}

absl::StatusOr<proto::Job> Cluster::GetJob(uint64_t id) {
  return RunJson<proto::Job>({"job", absl::StrCat(id)}, 20s, false);
}

absl::StatusOr<proto::Job> Cluster::WaitJob(uint64_t id,
                                            Clock::duration timeout) {
  return RunJson<proto::Job>({"job", absl::StrCat(id), "--wait"}, timeout,
                             true);
}

absl::StatusOr<proto::Job> Cluster::SubmitAndWait(proto::Kind kind, uint64_t lo,
                                                  uint64_t hi,
                                                  Clock::duration timeout) {
  return RunJson<proto::Job>(
      {"submit", KindName(kind), absl::StrCat(lo), absl::StrCat(hi), "--wait"},
      timeout, true);
}

absl::StatusOr<proto::NodeList> Cluster::Nodes() {
  return RunJson<proto::NodeList>({"nodes"}, 20s, false);
}

absl::StatusOr<proto::TokenList> Cluster::Tokens() {
  return RunJson<proto::TokenList>({"token", "list"}, 20s, false);
}

absl::StatusOr<proto::EnrolledList> Cluster::PendingNodes() {
  return RunJson<proto::EnrolledList>({"nodes", "--pending"}, 20s, false);
}

absl::StatusOr<proto::JobList> Cluster::Jobs() {
  return RunJson<proto::JobList>({"jobs"}, 20s, false);
}

const proto::Node* FindNode(const proto::NodeList& nodes,
                            const std::string& name) {
  for (const proto::Node& n : nodes.nodes()) {
    if (n.name() == name) return &n;
  }
  return nullptr;
}

absl::StatusOr<proto::Node> Cluster::WaitForNode(
    const std::string& name,
    const std::function<bool(const proto::Node&)>& pred, Deadline deadline) {
  std::string last = "(never listed)";
  while (true) {
    absl::StatusOr<proto::NodeList> nodes = Nodes();
    if (!nodes.ok()) return nodes.status();
    if (const proto::Node* n = FindNode(*nodes, name)) {
      if (pred(*n)) return *n;
      last = n->ShortDebugString();
    }
    if (Clock::now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "node ", name, " never reached the condition; last: ", last));
    }
    std::this_thread::sleep_for(kApiPoll);
  }
}

absl::Status Cluster::WaitForNodeGone(const std::string& name,
                                      Deadline deadline) {
  while (true) {
    absl::StatusOr<proto::NodeList> nodes = Nodes();
    if (!nodes.ok()) return nodes.status();
    const proto::Node* n = FindNode(*nodes, name);
    if (n == nullptr) return absl::OkStatus();
    if (Clock::now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "node ", name, " still listed: ", n->ShortDebugString()));
    }
    std::this_thread::sleep_for(kApiPoll);
  }
}

absl::StatusOr<proto::Job> Cluster::WaitForJob(
    uint64_t id, const std::function<bool(const proto::Job&)>& pred,
    Deadline deadline) {
  while (true) {
    absl::StatusOr<proto::Job> job = GetJob(id);
    if (!job.ok()) return job.status();
    if (pred(*job)) return *job;
    if (Clock::now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "job ", id,
          " never reached the condition; last: ", job->ShortDebugString()));
    }
    std::this_thread::sleep_for(kApiPoll);
  }
}

std::string Cluster::Diagnostics(int lines) const {
  std::string text = absl::StrCat("test dir: ", dir_.string(), "\n");
  for (const auto& p : processes_) {
    absl::StrAppend(&text, "---- ", p->name(), " (pid ", p->pid(),
                    ") stderr tail:\n", Tail(p->ReadStderr(), lines), "\n");
  }
  return text;
}

::testing::AssertionResult MatchesReference(const proto::Job& job,
                                            proto::Kind kind, uint64_t lo,
                                            uint64_t hi) {
  const std::string what = absl::StrCat(KindName(kind), " [", lo, ", ", hi,
                                        "]: job ", job.ShortDebugString());
  if (job.state() != proto::DONE) {
    return ::testing::AssertionFailure() << "not DONE: " << what;
  }
  if (job.kind() != kind || job.range().lo() != lo || job.range().hi() != hi) {
    return ::testing::AssertionFailure() << "kind or range differ: " << what;
  }
  const proto::JobResult want = ReferenceResult(kind, lo, hi);
  const proto::JobResult& got = job.result();
  bool same = false;
  switch (kind) {
    case proto::COUNT:
      same = got.count() == want.count();
      break;
    case proto::TWINS:
      same = got.twins() == want.twins();
      break;
    case proto::GAPS: {
      auto same_gaps = [](const auto& a, const auto& b) {
        return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                          [](const proto::Gap& x, const proto::Gap& y) {
                            return x.size() == y.size() &&
                                   x.start() == y.start();
                          });
      };
      same = got.max_gap() == want.max_gap() &&
             got.max_gap_start() == want.max_gap_start() &&
             same_gaps(got.first_gaps(), want.first_gaps()) &&
             same_gaps(got.maximal_gaps(), want.maximal_gaps());
      break;
    }
    case proto::SUM:
      same = got.sum() == want.sum();
      break;
    case proto::TRIPLETS:
      same = got.triplets() == want.triplets();
      break;
    case proto::QUADRUPLETS:
      same = got.quadruplets() == want.quadruplets();
      break;
    case proto::QUINTUPLETS:
      same = got.quintuplets() == want.quintuplets();
      break;
    case proto::SEXTUPLETS:
      same = got.sextuplets() == want.sextuplets();
      break;
    default:
      break;
  }
  if (!same) {
    return ::testing::AssertionFailure()
           << "wrong answer: want {" << want.ShortDebugString() << "} got {"
           << got.ShortDebugString() << "} for " << what;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace quark::integration
