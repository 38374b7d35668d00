#include "tests/integration/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace quark::integration {
namespace {

// How often Wait and WaitForLog look again. Short enough that a test never
// waits noticeably longer than the condition takes.
constexpr auto kWaitPoll = std::chrono::milliseconds(5);
constexpr auto kLogPoll = std::chrono::milliseconds(20);

// In the child, between fork and execv: only async-signal-safe calls.
[[noreturn]] void ExecChild(char* const* argv, const char* out, const char* err,
                            pid_t parent, int report_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died before prctl: then nobody would reap us.
  if (getppid() != parent) _exit(127);
  // O_CLOEXEC: only the dup2 copies (0, 1, 2) reach the new program.
  int in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out_fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err_fd = open(err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (in_fd < 0 || out_fd < 0 || err_fd < 0 || dup2(in_fd, 0) < 0 ||
      dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) {
    int e = errno;
    (void)!write(report_fd, &e, sizeof e);
    _exit(127);
  }
  // Blocked or ignored signals survive execv: a daemon under test must see
  // SIGTERM and SIGINT as if started from a shell.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE})
    sigaction(sig, &dfl, nullptr);
  execv(argv[0], argv);
  int e = errno;
  (void)!write(report_fd, &e, sizeof e);
  _exit(127);
}

}  // namespace

bool ExitStatus::exited() const { return WIFEXITED(raw_); }
int ExitStatus::code() const {
  return WIFEXITED(raw_) ? WEXITSTATUS(raw_) : -1;
}
bool ExitStatus::signaled() const { return WIFSIGNALED(raw_); }
int ExitStatus::signal() const {
  return WIFSIGNALED(raw_) ? WTERMSIG(raw_) : 0;
}

std::string ExitStatus::ToString() const {
  if (exited()) return absl::StrCat("exit ", code());
  if (signaled()) {
    return absl::StrCat("signal ", signal(), " (", strsignal(signal()), ")");
  }
  return absl::StrCat("wait status ", raw_);
}

std::ostream& operator<<(std::ostream& os, const ExitStatus& s) {
  return os << s.ToString();
}

absl::StatusOr<std::unique_ptr<Process>> Process::Start(
    std::string name, std::vector<std::string> argv,
    const std::filesystem::path& log_dir) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  const std::filesystem::path out = log_dir / (name + ".out");
  const std::filesystem::path err = log_dir / (name + ".err");
  // Everything the child needs is prepared before fork.
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const std::string out_s = out.string(), err_s = err.string();

  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(report[0]);
    close(report[1]);
    return absl::InternalError(absl::StrCat("fork: ", strerror(e)));
  }
  if (pid == 0)
    ExecChild(args.data(), out_s.c_str(), err_s.c_str(), parent, report[1]);

  close(report[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n > 0) {
    int status;
    waitpid(pid, &status, 0);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start ", argv[0], ": ", strerror(child_errno)));
  }
  return std::unique_ptr<Process>(new Process(std::move(name), pid, out, err));
}

Process::Process(std::string name, pid_t pid, std::filesystem::path out,
                 std::filesystem::path err)
    : name_(std::move(name)),
      pid_(pid),
      out_path_(std::move(out)),
      err_path_(std::move(err)) {}

Process::~Process() { Kill(); }

bool Process::Signal(int sig) {
  if (!Running()) return false;
  return kill(pid_, sig) == 0;
}

bool Process::Running() {
  if (status_) return false;
  int raw;
  pid_t r;
  do {
    r = waitpid(pid_, &raw, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    status_ = ExitStatus(raw);
    return false;
  }
  // r < 0 (ECHILD) cannot happen for our own unreaped child; treat it as
  // running so that the caller's deadline still bounds the wait.
  return true;
}

std::optional<ExitStatus> Process::Wait(Deadline deadline) {
  while (Running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kWaitPoll);
  }
  return status_;
}

ExitStatus Process::Kill() {
  if (!status_) {
    // Our child is not reaped yet, so pid_ is still ours (a zombie at worst).
    kill(pid_, SIGKILL);
    int raw = 0;
    pid_t r;
    do {
      r = waitpid(pid_, &raw, 0);
    } while (r < 0 && errno == EINTR);
    status_ = ExitStatus(raw);
  }
  return *status_;
}

std::string Process::ReadStdout() const { return ReadFile(out_path_); }
std::string Process::ReadStderr() const { return ReadFile(err_path_); }

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::string> RunToEnd(const std::string& name,
                                     std::vector<std::string> argv,
                                     const std::filesystem::path& dir,
                                     Deadline deadline) {
  absl::StatusOr<std::unique_ptr<Process>> process =
      Process::Start(name, std::move(argv), dir);
  if (!process.ok()) return process.status();
  const std::optional<ExitStatus> status = (*process)->Wait(deadline);
  std::string out = ReadFile((*process)->stdout_path());
  // The next run of the same name starts from an empty file.
  std::filesystem::remove((*process)->stdout_path());
  if (!status || !status->exited() || status->code() != 0) {
    std::ostringstream why;
    if (status) {
      why << *status;
    } else {
      why << "still running at the deadline";
    }
    return absl::InternalError(
        absl::StrCat(name, " failed (", why.str(),
                     "): ", Tail(ReadFile((*process)->stderr_path()), 20)));
  }
  return out;
}

std::string Tail(const std::string& text, int lines) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  while (pos > 0) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    if (--lines == 0) return text.substr(nl + 1);
    pos = nl;
  }
  return text;
}

bool WaitForLog(Process& process, const std::string& needle,
                Deadline deadline) {
  while (true) {
    // Read the status first: output written before exit is then on disk.
    const bool running = process.Running();
    if (process.ReadStderr().find(needle) != std::string::npos ||
        process.ReadStdout().find(needle) != std::string::npos) {
      return true;
    }
    if (!running || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kLogPoll);
  }
}

bool WaitForLogCount(Process& process, const std::string& needle, int count,
                     Deadline deadline) {
  while (true) {
    const bool running = process.Running();
    if (CountOccurrences(process.ReadStderr(), needle) >= count) return true;
    if (!running || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kLogPoll);
  }
}

int CountOccurrences(const std::string& text, const std::string& needle) {
  if (needle.empty()) return 0;
  int n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

}  // namespace quark::integration
