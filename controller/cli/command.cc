#include "controller/cli/command.h"

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/numbers.h"
#include "common/status.h"
#include "common/transport.h"

namespace quark {
namespace {

constexpr char kHintPayload[] = "quark/usage-hint";

struct VerbInfo {
  absl::string_view name;
  Verb verb;
  size_t min_args;  // positional arguments after the command name
  size_t max_args;
  absl::string_view args_text;  // for "needs ..." messages
};

constexpr VerbInfo kVerbs[] = {
    {"submit", Verb::kSubmit, 2, 3, "KIND [LO] HI"},
    {"jobs", Verb::kJobs, 0, 0, ""},
    {"job", Verb::kJob, 1, 1, "ID"},
    {"cancel", Verb::kCancel, 1, 1, "ID"},
    {"nodes", Verb::kNodes, 0, 0, ""},
    {"drain", Verb::kDrain, 1, 1, "NODE"},
    {"undrain", Verb::kUndrain, 1, 1, "NODE"},
    {"keygen", Verb::kKeygen, 1, 1, "NAME"},
    {"help", Verb::kHelp, 0, 1, "[COMMAND]"},
};

const VerbInfo* FindVerb(absl::string_view name) {
  for (const VerbInfo& info : kVerbs) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

struct OptionInfo {
  absl::string_view name;
  bool takes_value;
};

constexpr OptionInfo kOptions[] = {
    {"controller", true}, {"timeout", true},  {"json", false},
    {"help", false},      {"version", false}, {"wait", false},
    {"priority", true},   {"key", true},      {"controller_key", true},
    {"dir", true},
};

const OptionInfo* FindOption(absl::string_view name) {
  for (const OptionInfo& info : kOptions) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

// A usage error: `message`, and a hint naming the help of `command`.
absl::Status UsageError(absl::StatusCode code, absl::string_view message,
                        absl::string_view command) {
  absl::Status status(code, message);
  status.SetPayload(
      kHintPayload,
      absl::Cord(command.empty()
                     ? std::string("see 'quark --help'")
                     : absl::StrCat("see 'quark ", command, " --help'")));
  return status;
}

absl::Status UsageError(absl::string_view message, absl::string_view command) {
  return UsageError(absl::StatusCode::kInvalidArgument, message, command);
}

// The command line split into positional arguments and options, before
// anything is interpreted. The first malformed option is kept in `error`
// so that `--help` can still win over it.
struct Scanned {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;  // name, value
  bool help = false;
  bool version = false;
  std::string error;
};

bool LooksLikeOption(const std::string& arg) {
  // "-5" is a (negative) number for ParseNumber to refuse; "-" is positional.
  return arg.size() > 1 && arg[0] == '-' &&
         !absl::ascii_isdigit(static_cast<unsigned char>(arg[1]));
}

Scanned Scan(const std::vector<std::string>& args) {
  Scanned s;
  auto fail = [&s](std::string message) {
    if (s.error.empty()) s.error = std::move(message);
  };
  bool options_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_ended || !LooksLikeOption(arg)) {
      s.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    if (arg == "-h") {
      s.help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      fail(absl::StrCat("unknown option '", arg, "'"));
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string name =
        arg.substr(2, eq == std::string::npos ? eq : eq - 2);
    const OptionInfo* info = FindOption(name);
    if (info == nullptr) {
      fail(absl::StrCat("unknown option '--", name, "'"));
    } else if (!info->takes_value) {
      if (eq != std::string::npos) {
        fail(absl::StrCat("option '--", name, "' takes no value"));
      } else if (name == "help") {
        s.help = true;
      } else if (name == "version") {
        s.version = true;
      } else {
        s.options.emplace_back(name, "");
      }
    } else if (eq != std::string::npos) {
      s.options.emplace_back(name, arg.substr(eq + 1));
    } else if (i + 1 < args.size()) {
      s.options.emplace_back(name, args[++i]);
    } else {
      fail(absl::StrCat("option '--", name, "' needs a value"));
    }
  }
  return s;
}

absl::StatusOr<proto::Kind> ParseKind(const std::string& text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "count") return proto::COUNT;
  if (lower == "twins") return proto::TWINS;
  if (lower == "gaps") return proto::GAPS;
  if (lower == "sum") return proto::SUM;
  return UsageError(absl::StrCat("unknown kind '", text,
                                 "' (expected count, twins, gaps or sum)"),
                    "submit");
}

// ParseNumber's error, prefixed with what the number was for.
absl::StatusOr<uint64_t> ParseArgNumber(const std::string& text,
                                        absl::string_view what,
                                        absl::string_view command) {
  auto value = ParseNumber(text);
  if (value.ok()) return value;
  return UsageError(
      value.status().code(),
      absl::StrCat("invalid ", what, ": ", value.status().message()), command);
}

// Applies one option to `command`; `verb` says which ones apply.
absl::Status ApplyOption(const std::string& name, const std::string& value,
                         const VerbInfo& verb, Command* command) {
  auto not_for = [&] {
    return UsageError(absl::StrCat("option '--", name, "' does not apply to '",
                                   verb.name, "'"),
                      verb.name);
  };
  if (name == "controller") {
    if (value.empty()) {
      return UsageError("option '--controller' needs an endpoint", verb.name);
    }
    command->controller = value;
  } else if (name == "timeout") {
    auto timeout = ParseTimeout(value);
    if (!timeout.ok()) return UsageError(timeout.status().message(), verb.name);
    command->timeout = *timeout;
  } else if (name == "key" || name == "controller_key") {
    if (value.empty()) {
      return UsageError(absl::StrCat("option '--", name, "' needs a file"),
                        verb.name);
    }
    (name == "key" ? command->key : command->controller_key) = value;
  } else if (name == "dir") {
    if (verb.verb != Verb::kKeygen) return not_for();
    if (value.empty()) return UsageError("option '--dir' needs a directory", verb.name);
    command->dir = value;
  } else if (name == "json") {
    command->json = true;
  } else if (name == "wait") {
    if (verb.verb != Verb::kSubmit && verb.verb != Verb::kJob) return not_for();
    command->wait = true;
  } else if (name == "priority") {
    if (verb.verb != Verb::kSubmit) return not_for();
    if (!absl::SimpleAtoi(value, &command->priority)) {
      return UsageError(absl::StrCat("invalid --priority '", value,
                                     "': expected an integer from -2147483648 "
                                     "to 2147483647"),
                        verb.name);
    }
  }
  return absl::OkStatus();
}

absl::Status ParseSubmitArgs(const std::vector<std::string>& args,
                             Command* command) {
  ASSIGN_OR_RETURN(command->kind, ParseKind(args[0]));
  if (args.size() == 3) {
    ASSIGN_OR_RETURN(command->lo, ParseArgNumber(args[1], "LO", "submit"));
  }
  ASSIGN_OR_RETURN(command->hi, ParseArgNumber(args.back(), "HI", "submit"));
  if (command->lo > command->hi) {
    return UsageError(
        absl::StrCat("LO (", command->lo, ") is greater than HI (", command->hi,
                     "); the range [LO, HI] is inclusive"),
        "submit");
  }
  return absl::OkStatus();
}

// Fills the command's own arguments; `args` excludes the command name.
absl::Status ParseVerbArgs(const VerbInfo& verb,
                           const std::vector<std::string>& args,
                           Command* command) {
  if (args.size() < verb.min_args) {
    return UsageError(absl::StrCat("'", verb.name, "' needs ", verb.args_text),
                      verb.name);
  }
  if (args.size() > verb.max_args) {
    return UsageError(absl::StrCat("too many arguments for '", verb.name,
                                   "': '", args[verb.max_args], "'"),
                      verb.name);
  }
  switch (verb.verb) {
    case Verb::kSubmit:
      return ParseSubmitArgs(args, command);
    case Verb::kJob:
    case Verb::kCancel: {
      ASSIGN_OR_RETURN(command->job_id,
                       ParseArgNumber(args[0], "job ID", verb.name));
      return absl::OkStatus();
    }
    case Verb::kDrain:
    case Verb::kUndrain:
      if (args[0].empty()) return UsageError("empty node name", verb.name);
      command->node = args[0];
      return absl::OkStatus();
    case Verb::kKeygen:
      if (!ValidNodeName(args[0])) {
        return UsageError(absl::StrCat("invalid key name '", args[0],
                                       "': 1-64 characters of [A-Za-z0-9._-]"),
                          verb.name);
      }
      command->name = args[0];
      return absl::OkStatus();
    case Verb::kHelp:
      if (!args.empty() && FindVerb(args[0]) == nullptr) {
        return UsageError(absl::StrCat("unknown command '", args[0], "'"), "");
      }
      command->topic = args.empty() ? "" : args[0];
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text) {
  absl::Duration d;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds) && !text.empty() &&
      absl::ascii_isdigit(static_cast<unsigned char>(text.back()))) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &d)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --timeout '", text,
                     "': expected a duration such as 5s, 500ms or 2m"));
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid --timeout '", text, "': must be positive and finite"));
  }
  return d;
}

absl::StatusOr<Command> ParseCommand(const std::vector<std::string>& args,
                                     const std::string& env_controller,
                                     const std::string& env_key,
                                     const std::string& env_controller_key) {
  const Scanned scanned = Scan(args);
  Command command;
  if (!env_controller.empty()) command.controller = env_controller;
  command.key = env_key;
  command.controller_key = env_controller_key;
  if (scanned.positional.empty()) {
    if (scanned.help) return command;  // the overview
    if (!scanned.error.empty()) return UsageError(scanned.error, "");
    if (scanned.version) {
      command.verb = Verb::kVersion;
      return command;
    }
    return UsageError("no command given", "");
  }
  if (scanned.version && !scanned.help) {
    command.verb = Verb::kVersion;
    return command;
  }
  const std::string& name = scanned.positional[0];
  const VerbInfo* verb = FindVerb(name);
  if (verb == nullptr) {
    return UsageError(absl::StrCat("unknown command '", name, "'"), "");
  }
  if (scanned.help) {
    command.topic = name;
    return command;
  }
  if (!scanned.error.empty()) return UsageError(scanned.error, verb->name);
  command.verb = verb->verb;
  for (const auto& [option, value] : scanned.options) {
    RETURN_IF_ERROR(ApplyOption(option, value, *verb, &command));
  }
  const std::vector<std::string> rest(scanned.positional.begin() + 1,
                                      scanned.positional.end());
  RETURN_IF_ERROR(ParseVerbArgs(*verb, rest, &command));
  if (command.verb != Verb::kKeygen &&
      command.key.empty() != command.controller_key.empty()) {
    return UsageError(
        "--key and --controller_key go together: CURVE needs this operator's "
        "secret key and the controller's public key",
        verb->name);
  }
  return command;
}

std::string UsageHint(const absl::Status& status) {
  const auto hint = status.GetPayload(kHintPayload);
  return hint.has_value() ? std::string(*hint) : "";
}

}  // namespace quark
