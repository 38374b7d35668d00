// A child process for integration tests: started with fork/execv, its
// stdout and stderr captured to files, stopped by its own pid.
//
//   auto p = Process::Start("controller", {"/path/quark-controller", ...},
//   dir); p->Signal(SIGTERM); std::optional<ExitStatus> s =
//   p->Wait(DeadlineIn(5s));
//
// Every Process is stopped by its own pid: the destructor sends SIGKILL to a
// child that is still running and reaps it. The child also gets SIGKILL if
// the test process dies (PR_SET_PDEATHSIG), so a test killed by its ctest
// TIMEOUT leaves no daemon behind. Not thread-safe: use from one thread.
#ifndef QUARK_TESTS_INTEGRATION_PROCESS_H_
#define QUARK_TESTS_INTEGRATION_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace quark::integration {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline DeadlineIn(Clock::duration d) { return Clock::now() + d; }

// How a child ended, as reported by waitpid(2).
class ExitStatus {
 public:
  explicit ExitStatus(int raw) : raw_(raw) {}
  bool exited() const;           // normal exit; code() is valid
  int code() const;              // exit code, or -1 if killed by a signal
  bool signaled() const;         // killed; signal() is valid
  int signal() const;            // the signal, or 0 after a normal exit
  std::string ToString() const;  // "exit 0", "signal 9 (Killed)"

 private:
  int raw_;
};
std::ostream& operator<<(std::ostream& os, const ExitStatus& s);

class Process {
 public:
  // Starts argv[0] (an absolute path) with `argv`, stdin from /dev/null,
  // stdout to `<log_dir>/<name>.out` and stderr to `<log_dir>/<name>.err`
  // (appended: a name may be reused). Fails if the files cannot be opened
  // or execv fails (the errno is passed back through a close-on-exec pipe).
  static absl::StatusOr<std::unique_ptr<Process>> Start(
      std::string name, std::vector<std::string> argv,
      const std::filesystem::path& log_dir);

  ~Process();  // SIGKILL and reap if not yet reaped.
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& stdout_path() const { return out_path_; }
  const std::filesystem::path& stderr_path() const { return err_path_; }

  // Sends `sig` to this child only. False once the child has been reaped
  // (its pid may then belong to someone else).
  bool Signal(int sig);

  // Waits until the child exits or `deadline` passes; nullopt on timeout.
  // Once reaped, returns the same status again at once.
  std::optional<ExitStatus> Wait(Deadline deadline);

  // Reaps the child if it has exited; true while it is still running.
  bool Running();

  // SIGKILL (if running) and reap; returns the status.
  ExitStatus Kill();

  std::string ReadStdout() const;
  std::string ReadStderr() const;

 private:
  Process(std::string name, pid_t pid, std::filesystem::path out,
          std::filesystem::path err);

  std::string name_;
  pid_t pid_;
  std::filesystem::path out_path_;
  std::filesystem::path err_path_;
  std::optional<ExitStatus> status_;  // set once reaped
};

// Whole contents of `path`, or "" if it cannot be read.
std::string ReadFile(const std::filesystem::path& path);

// Runs `argv` (a tool the test uses: a parser, a browser) to its end in
// `dir` and returns what it wrote on stdout; an error naming it, with its
// exit status and the end of its stderr, when it fails or outlives
// `deadline` (then it is killed).
absl::StatusOr<std::string> RunToEnd(const std::string& name,
                                     std::vector<std::string> argv,
                                     const std::filesystem::path& dir,
                                     Deadline deadline);

// The last `lines` lines of `text`.
std::string Tail(const std::string& text, int lines);

// Polls the child's stderr and stdout until one contains `needle`. Returns
// false at `deadline`, or as soon as the child has exited without
// having written it.
bool WaitForLog(Process& process, const std::string& needle, Deadline deadline);

// As WaitForLog, until `needle` occurs at least `count` times in stderr.
bool WaitForLogCount(Process& process, const std::string& needle, int count,
                     Deadline deadline);

// Number of non-overlapping occurrences of `needle` in `text`.
int CountOccurrences(const std::string& text, const std::string& needle);

}  // namespace quark::integration

#endif  // QUARK_TESTS_INTEGRATION_PROCESS_H_
