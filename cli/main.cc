// quark: the operator's command line for a Quark cluster. Parses the
// arguments, runs the command against the controller, prints, and maps the
// outcome to an exit code (see cli/run.h).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/format.h"
#include "cli/run.h"
#include "common/keys.h"

namespace {

// Set by SIGINT and SIGTERM: the wait for the controller's reply then ends
// with a word on what became of the job instead of a silent death.
volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void OnInterrupt(int) { g_interrupted = 1; }

// The shell's code for a death by SIGINT, which the interrupted command
// still owes its caller.
constexpr int kInterruptedExit = 130;

// One line, always: the problem, then where the usage is explained.
void PrintError(const absl::Status& status) {
  std::string text = absl::StrCat("quark: ", status.message());
  const std::string hint = quark::UsageHint(status);
  if (!hint.empty()) absl::StrAppend(&text, " (", hint, ")");
  std::fputs(absl::StrCat(text, "\n").c_str(), stderr);
}

// Progress on a terminal only: scripts reading stderr get no noise.
void ShowProgress(quark::ProgressMeter& meter, const quark::proto::Job& job) {
  std::fprintf(stderr, "\r\033[K%s", meter.Line(job, absl::Now()).c_str());
  std::fflush(stderr);
}

int Run(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return std::string(value == nullptr ? "" : value);
  };
  auto command =
      quark::ParseCommand(args, env("QUARK_CONTROLLER"), env("QUARK_KEY"),
                          env("QUARK_CONTROLLER_KEY"));
  if (!command.ok()) {
    PrintError(command.status());
    return quark::ExitCode(command.status());
  }

  quark::RunOptions options;
  options.zone = absl::LocalTimeZone();
  options.version = QUARK_VERSION;
  const bool tty = isatty(STDERR_FILENO) == 1;
  options.terminal = isatty(STDOUT_FILENO) == 1;
  bool progress_shown = false;
  if (tty) {
    options.progress = [&progress_shown,
                        meter = std::make_shared<quark::ProgressMeter>()](
                           const quark::proto::Job& job) {
      ShowProgress(*meter, job);
      progress_shown = true;
    };
  }

  if (isatty(STDIN_FILENO) == 1 && tty) {
    options.confirm = [](const std::string& question) {
      std::fputs(question.c_str(), stderr);
      std::fflush(stderr);
      char answer[16] = {0};
      if (std::fgets(answer, sizeof answer, stdin) == nullptr) return false;
      return answer[0] == 'y' || answer[0] == 'Y';
    };
  }

  // quark top: in place on a terminal, one frame after the other otherwise.
  options.show = [terminal = options.terminal](const std::string& frame) {
    std::fputs(terminal ? absl::StrCat("\033[H\033[2J", frame).c_str()
                        : absl::StrCat(frame, "\n").c_str(),
               stdout);
    std::fflush(stdout);
  };
  options.pause = [](absl::Duration wait) {
    const absl::Time until = absl::Now() + wait;
    while (g_interrupted == 0 && absl::Now() < until) {
      absl::SleepFor(std::min(absl::Milliseconds(50), until - absl::Now()));
    }
    return g_interrupted == 0;
  };

  options.note = [](const std::string& note) {
    std::fputs(note.c_str(), stderr);
    std::fflush(stderr);
  };

  quark::ApiClientOptions client_options;
  client_options.interrupted = [] { return g_interrupted != 0; };
  struct sigaction interrupt = {};
  interrupt.sa_handler = OnInterrupt;  // no SA_RESTART: the poll returns EINTR
  sigemptyset(&interrupt.sa_mask);
  sigaction(SIGINT, &interrupt, nullptr);
  sigaction(SIGTERM, &interrupt, nullptr);
  if (!command->key.empty() && command->verb != quark::Verb::kKeygen) {
    auto own = quark::ReadSecretKeyFile(command->key);
    auto server = own.ok() ? quark::ReadPublicKeyFile(command->controller_key)
                           : absl::StatusOr<std::string>(own.status());
    if (!server.ok()) {
      PrintError(absl::InvalidArgumentError(server.status().message()));
      return 2;
    }
    client_options.curve = quark::ApiClientOptions::Curve{*server, *own};
  }
  zmq::context_t context;
  quark::ApiClient client(&context, command->controller, client_options);
  const quark::Outcome outcome = quark::RunCommand(*command, client, options);
  if (progress_shown) std::fputs("\r\033[K", stderr);
  std::fputs(outcome.out.c_str(), stdout);
  std::fflush(stdout);
  std::fputs(outcome.err.c_str(), stderr);
  const int code = g_interrupted != 0 && absl::IsCancelled(outcome.status)
                       ? kInterruptedExit
                       : quark::ExitCode(outcome.status);
  if (!outcome.status.ok()) {
    // The script reading stdout gets a document either way.
    if (command->json && outcome.out.empty()) {
      std::fputs(quark::ErrorJson(outcome.status, code).c_str(), stdout);
    }
    PrintError(outcome.status);
  }
  return code;
}

}  // namespace

// What the command does not expect (zmq failing to make a context, memory
// running out) is one line and exit 1, not std::terminate's abort.
int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fputs(absl::StrCat("quark: ", e.what(), "\n").c_str(), stderr);
    return 1;
  }
}
