#include "worker/join_command.h"

#include <pwd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/token.h"
#include "worker/identity.h"

namespace quark {
namespace {

void Say(const std::string& line) {
  std::fputs(absl::StrCat(line, "\n").c_str(), stdout);
  std::fflush(stdout);
}

void Complain(const std::string& line) {
  std::fputs(absl::StrCat("quark-worker: ", line, "\n").c_str(), stderr);
}

// The first line of `text` that is neither blank nor a comment.
std::string TokenLine(const std::string& text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty() && line.front() != '#') return std::string(line);
  }
  return "";
}

// The daemon runs as `user`: what root saves for it must be its own.
absl::Status GiveTo(const std::string& user, const std::string& state_dir) {
  if (::geteuid() != 0) return absl::OkStatus();
  const passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) return absl::OkStatus();  // run by hand, as root
  // lchown: the directory is the daemon user's, which could have put a
  // link to some other file where the token is.
  for (const std::string& path :
       {state_dir,
        (std::filesystem::path(state_dir) / "join-token").string()}) {
    if (::lchown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot chown ", path, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

// Runs a fixed command (never with the token in it) and returns what it
// printed; false when it failed.
bool Run(const std::string& command, std::string* out = nullptr) {
  FILE* pipe = ::popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  if (pipe == nullptr) return false;
  std::string text;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) text += buffer;
  const int rc = ::pclose(pipe);
  if (out != nullptr) *out = std::move(text);
  return rc == 0;
}

std::map<std::string, std::string> UnitProperties(const std::string& unit) {
  std::string out;
  Run(absl::StrCat(
          "systemctl show --property=InvocationID --property=ActiveState "
          "--property=SubState --property=StatusText "
          "--property=ExecMainStatus ",
          unit),
      &out);
  std::map<std::string, std::string> properties;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    properties[std::string(line.substr(0, eq))] =
        std::string(line.substr(eq + 1));
  }
  return properties;
}

// Restarts the unit and follows it until it has joined, waits for
// approval, or gave up.
int RestartAndFollow(const JoinCommandOptions& options) {
  const std::string before = UnitProperties(options.unit)["InvocationID"];
  Run(absl::StrCat("systemctl enable --quiet ", options.unit));
  std::string out;
  if (!Run(absl::StrCat("systemctl restart --no-block ", options.unit), &out)) {
    Complain(absl::StrCat("systemctl restart ", options.unit,
                          " failed: ", absl::StripAsciiWhitespace(out)));
    return 1;
  }
  Say(absl::StrCat("restarted ", options.unit, "; following it for ",
                   absl::FormatDuration(options.follow)));
  const absl::Time deadline = absl::Now() + options.follow;
  std::string said;
  bool started = false;
  while (absl::Now() < deadline) {
    std::map<std::string, std::string> p = UnitProperties(options.unit);
    // Until the new process runs, what the unit says is the old one's.
    started =
        started || (!p["InvocationID"].empty() && p["InvocationID"] != before);
    if (started) {
      const std::string& status = p["StatusText"];
      if (!status.empty() && status != said) {
        Say(absl::StrCat("  ", status));
        said = status;
      }
      const std::string state =
          absl::StrCat(p["ActiveState"], "/", p["SubState"]);
      if (state == "active/running") {
        Say("joined: the node is part of the cluster");
        return 0;
      }
      if (absl::StartsWith(status, "waiting for approval")) {
        Say("the node joins as soon as the operator approves it");
        return 0;
      }
      if (p["ActiveState"] == "failed" || p["ActiveState"] == "inactive") {
        Complain(absl::StrCat(options.unit, " stopped (exit status ",
                              p["ExecMainStatus"], "); see: journalctl -u ",
                              options.unit));
        return 1;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  Complain(absl::StrCat(
      "not joined yet after ", absl::FormatDuration(options.follow),
      (said.empty() ? std::string() : absl::StrCat(" (", said, ")")),
      "; it keeps trying: journalctl -fu ", options.unit));
  return 1;
}

}  // namespace

// The token from stdin: typed or pasted at a prompt (not echoed) on a
// terminal, else its first line. So it need not be on a command line,
// where sudo's log and `ps` would show it.
std::string ReadTokenFromStdin() {
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  termios saved;
  if (tty) {
    std::fputs("join token (from `quark token create` on the controller): ",
               stderr);
    std::fflush(stderr);
    if (::tcgetattr(STDIN_FILENO, &saved) == 0) {
      termios quiet = saved;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
  }
  std::string line;
  for (int c = std::getchar(); c != EOF && c != '\n' && line.size() < 4096;
       c = std::getchar()) {
    line.push_back(static_cast<char>(c));
  }
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::fputs("\n", stderr);
  }
  return line;
}

int RunJoinCommand(const JoinCommandOptions& options) {
  std::string text =
      options.token == "-" || (options.token.empty() && !options.boot)
          ? ReadTokenFromStdin()
          : options.token;
  std::string boot_file;
  if (options.boot) {
    for (const std::string& file : options.boot_files) {
      absl::StatusOr<std::string> read = ReadSmallFile(file, 4096);
      if (read.ok()) {
        text = TokenLine(*read);
        boot_file = file;
        break;
      }
    }
    if (boot_file.empty()) return 0;  // nothing left there: the usual case
  }
  absl::StatusOr<JoinToken> token = ParseJoinToken(text);
  if (!token.ok()) {
    Complain(
        absl::StrCat(boot_file.empty() ? "" : absl::StrCat(boot_file, ": "),
                     token.status().message()));
    // A bad file on the boot partition must not keep the worker from
    // starting: it is reported, and left for the operator to fix.
    return options.boot ? 0 : 2;
  }
  const std::string canonical = FormatJoinToken(*token);
  if (absl::Status s = SaveToken(options.state_dir, canonical); !s.ok()) {
    Complain(absl::StrCat(s.message(),
                          ::geteuid() != 0 ? " (run it with sudo)" : ""));
    return 1;
  }
  if (absl::Status s = GiveTo(options.user, options.state_dir); !s.ok()) {
    Complain(std::string(s.message()));
    return 1;
  }
  Say(absl::StrCat("token ", token->id, " for the controller with key ",
                   KeyFingerprint(token->controller_key), " saved in ",
                   options.state_dir, "/join-token"));
  if (options.boot) {
    if (::unlink(boot_file.c_str()) != 0) {
      Complain(absl::StrCat("cannot remove ", boot_file, ": ",
                            std::strerror(errno),
                            ": remove it by hand, everyone can read it"));
    } else {
      Say(absl::StrCat("removed ", boot_file,
                       ": the boot partition is readable by all"));
    }
    return 0;
  }
  struct stat st;
  if (::stat("/run/systemd/system", &st) != 0 || ::geteuid() != 0) {
    Say(absl::StrCat("start quark-worker",
                     options.state_dir == "/var/lib/quark-worker"
                         ? std::string()
                         : absl::StrCat(" --state_dir=", options.state_dir),
                     " and it joins"));
    return 0;
  }
  return RestartAndFollow(options);
}

}  // namespace quark
