#include "tests/fault/network.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace quark::fault {
namespace {

using integration::Clock;
using integration::DeadlineIn;
using integration::Process;
using integration::Tail;
using namespace std::chrono_literals;

constexpr char kBridge[] = "qf-br";
constexpr char kSubnet[] = "10.77.0";  // .1 the bridge, .10 and up the nodes
constexpr int kFirstNode = 10;
constexpr int kLastNode = 250;
constexpr char kLockFile[] = "/tmp/quark-fault-network.lock";
constexpr char kNodeDevice[] = "eth0";  // the veth end inside a namespace

std::string FindProgram(const char* name) {
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
    const std::string path = absl::StrCat(dir, "/", name);
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

std::string Namespace(const std::string& node) {
  return absl::StrCat(TestNetwork::kPrefix, node);
}
std::string HostLink(const std::string& node) {
  return absl::StrCat(TestNetwork::kPrefix, node, "-h");
}

// The sum of the packet counts of the DROP rows in `iptables -nvxL CHAIN`.
uint64_t SumDropped(const std::string& listing) {
  uint64_t sum = 0;
  for (absl::string_view line : absl::StrSplit(listing, '\n')) {
    std::vector<absl::string_view> cols =
        absl::StrSplit(line, ' ', absl::SkipWhitespace());
    uint64_t packets = 0;
    if (cols.size() > 2 && cols[2] == "DROP" &&
        absl::SimpleAtoi(cols[0], &packets)) {
      sum += packets;
    }
  }
  return sum;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestNetwork>> TestNetwork::Open(
    const std::filesystem::path& log_dir, Deadline lock_deadline) {
  if (geteuid() != 0) {
    return absl::FailedPreconditionError(
        "not root: the fault tests need ip netns, veth, a bridge and iptables");
  }
  const std::string ip = FindProgram("ip");
  if (ip.empty()) {
    return absl::FailedPreconditionError("no `ip` program (iproute2)");
  }
  const int fd = open(kLockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("open ", kLockFile, ": ", strerror(errno)));
  }
  // Another suite's network on this machine would share our names and
  // subnet: wait for it to finish.
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (Clock::now() >= lock_deadline) {
      close(fd);
      return absl::DeadlineExceededError(
          absl::StrCat("another fault suite holds ", kLockFile));
    }
    std::this_thread::sleep_for(100ms);
  }
  std::unique_ptr<TestNetwork> net(new TestNetwork(log_dir, fd, ip));
  net->Sweep();
  // Whether this machine lets us make namespaces at all.
  const std::string probe = Namespace("probe");
  if (absl::Status s = net->Run({ip, "netns", "add", probe}); !s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("`ip netns add` fails here: ", s.message()));
  }
  if (absl::Status s = net->Run({ip, "netns", "del", probe}); !s.ok()) return s;
  if (absl::Status s = net->MakeBridge(); !s.ok()) return s;
  return net;
}

TestNetwork::TestNetwork(std::filesystem::path log_dir, int lock_fd,
                         std::string ip)
    : log_dir_(std::move(log_dir)),
      lock_fd_(lock_fd),
      ip_(std::move(ip)),
      iptables_(FindProgram("iptables")) {}

TestNetwork::~TestNetwork() {
  // Deleting a namespace deletes its veth end (and so the pair) and its
  // iptables rules. The sweep then catches anything a failed step left.
  for (const auto& [name, unused] : nodes_) {
    (void)Run({ip_, "netns", "del", Namespace(name)});
  }
  if (bridge_) (void)Run({ip_, "link", "del", kBridge});
  Sweep();
  close(lock_fd_);  // releases the lock
}

std::string TestNetwork::HostAddress() { return absl::StrCat(kSubnet, ".1"); }

absl::Status TestNetwork::Run(std::vector<std::string> argv, std::string* out) {
  const std::string command = absl::StrJoin(argv, " ");
  absl::StatusOr<std::unique_ptr<Process>> p =
      Process::Start(absl::StrCat("net-", ++runs_), std::move(argv), log_dir_);
  if (!p.ok()) return p.status();
  std::optional<integration::ExitStatus> status = (*p)->Wait(DeadlineIn(20s));
  if (!status) {
    (*p)->Kill();
    return absl::DeadlineExceededError(absl::StrCat("`", command, "` hung"));
  }
  if (out != nullptr) *out = (*p)->ReadStdout();
  if (!status->exited() || status->code() != 0) {
    return absl::InternalError(absl::StrCat("`", command,
                                            "`: ", status->ToString(), ": ",
                                            Tail((*p)->ReadStderr(), 5)));
  }
  return absl::OkStatus();
}

absl::Status TestNetwork::RunIn(const std::string& name,
                                std::vector<std::string> argv,
                                std::string* out) {
  std::vector<std::string> full = ExecPrefix(name);
  full.insert(full.end(), argv.begin(), argv.end());
  return Run(std::move(full), out);
}

void TestNetwork::Sweep() {
  std::string namespaces, links;
  if (Run({ip_, "netns", "list"}, &namespaces).ok()) {
    for (absl::string_view line : absl::StrSplit(namespaces, '\n')) {
      // "qf-w1 (id: 3)"
      const std::string name(line.substr(0, line.find(' ')));
      if (absl::StartsWith(name, kPrefix)) {
        (void)Run({ip_, "netns", "del", name});
      }
    }
  }
  if (Run({ip_, "-o", "link", "show"}, &links).ok()) {
    for (absl::string_view line : absl::StrSplit(links, '\n')) {
      // "7: qf-w1-h@if2: <BROADCAST,..."
      std::vector<absl::string_view> cols = absl::StrSplit(line, ": ");
      if (cols.size() < 2) continue;
      const std::string name(cols[1].substr(0, cols[1].find('@')));
      if (absl::StartsWith(name, kPrefix)) {
        (void)Run({ip_, "link", "del", name});
      }
    }
  }
}

absl::Status TestNetwork::MakeBridge() {
  if (absl::Status s = Run({ip_, "link", "add", kBridge, "type", "bridge"});
      !s.ok()) {
    return s;
  }
  bridge_ = true;
  if (absl::Status s =
          Run({ip_, "addr", "add", HostAddress() + "/24", "dev", kBridge});
      !s.ok()) {
    return s;
  }
  return Run({ip_, "link", "set", kBridge, "up"});
}

absl::StatusOr<std::string> TestNetwork::AddHostAddress(int last_byte) {
  if (last_byte < 2 || last_byte >= kFirstNode) {
    return absl::InvalidArgumentError(absl::StrCat(
        "host address byte ", last_byte, " is not in [2, ", kFirstNode, ")"));
  }
  const std::string address = absl::StrCat(kSubnet, ".", last_byte);
  if (absl::Status s =
          Run({ip_, "addr", "add", address + "/24", "dev", kBridge});
      !s.ok()) {
    return s;
  }
  return address;
}

absl::Status TestNetwork::AddNode(const std::string& name) {
  if (nodes_.count(name)) return absl::OkStatus();
  if (name.empty() || name.size() > 10) {
    return absl::InvalidArgumentError("node name of 1-10 characters: " + name);
  }
  const int host = kFirstNode + static_cast<int>(nodes_.size());
  if (host > kLastNode) return absl::ResourceExhaustedError("no address left");
  const std::string ns = Namespace(name), link = HostLink(name);
  if (absl::Status s = Run({ip_, "netns", "add", ns}); !s.ok()) return s;
  nodes_[name] = host;  // from here on the destructor deletes it
  const std::vector<std::vector<std::string>> steps = {
      {ip_, "link", "add", link, "type", "veth", "peer", "name", kNodeDevice,
       "netns", ns},
      {ip_, "link", "set", link, "master", kBridge, "up"},
      {ip_, "-n", ns, "addr", "add", absl::StrCat(kSubnet, ".", host, "/24"),
       "dev", kNodeDevice},
      {ip_, "-n", ns, "link", "set", kNodeDevice, "up"},
      {ip_, "-n", ns, "link", "set", "lo", "up"},
  };
  for (const auto& step : steps) {
    if (absl::Status s = Run(step); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<std::string> TestNetwork::ExecPrefix(
    const std::string& name) const {
  return {ip_, "netns", "exec", Namespace(name)};
}

absl::Status TestNetwork::CheckIptables() {
  if (iptables_.empty()) {
    return absl::FailedPreconditionError(
        "no `iptables` program: apt-get install iptables");
  }
  return absl::OkStatus();
}

absl::Status TestNetwork::Cut(const std::string& name) {
  if (absl::Status s = CheckIptables(); !s.ok()) return s;
  if (!nodes_.count(name)) return absl::NotFoundError("no node " + name);
  if (IsCut(name)) return absl::OkStatus();
  for (const auto& rule : std::vector<std::vector<std::string>>{
           {iptables_, "-w", "-A", "INPUT", "-i", kNodeDevice, "-j", "DROP"},
           {iptables_, "-w", "-A", "OUTPUT", "-o", kNodeDevice, "-j",
            "DROP"}}) {
    if (absl::Status s = RunIn(name, rule); !s.ok()) return s;
  }
  cut_[name] = true;
  return absl::OkStatus();
}

absl::Status TestNetwork::Heal(const std::string& name) {
  if (!IsCut(name)) return absl::OkStatus();
  // The counters go with the rules: keep what they counted.
  absl::StatusOr<uint64_t> counted = RuleDrops(name);
  if (!counted.ok()) return counted.status();
  dropped_[name] += *counted;
  for (const auto& rule : std::vector<std::vector<std::string>>{
           {iptables_, "-w", "-D", "INPUT", "-i", kNodeDevice, "-j", "DROP"},
           {iptables_, "-w", "-D", "OUTPUT", "-o", kNodeDevice, "-j",
            "DROP"}}) {
    if (absl::Status s = RunIn(name, rule); !s.ok()) return s;
  }
  cut_[name] = false;
  return absl::OkStatus();
}

bool TestNetwork::IsCut(const std::string& name) const {
  auto it = cut_.find(name);
  return it != cut_.end() && it->second;
}

absl::StatusOr<uint64_t> TestNetwork::DroppedPackets(const std::string& name) {
  uint64_t now = 0;
  if (IsCut(name)) {
    absl::StatusOr<uint64_t> counted = RuleDrops(name);
    if (!counted.ok()) return counted.status();
    now = *counted;
  }
  auto it = dropped_.find(name);
  return now + (it == dropped_.end() ? 0 : it->second);
}

absl::StatusOr<uint64_t> TestNetwork::RuleDrops(const std::string& name) {
  uint64_t sum = 0;
  for (const char* chain : {"INPUT", "OUTPUT"}) {
    std::string listing;
    if (absl::Status s =
            RunIn(name, {iptables_, "-w", "-nvxL", chain}, &listing);
        !s.ok()) {
      return s;
    }
    sum += SumDropped(listing);
  }
  return sum;
}

}  // namespace quark::fault
