#include "cli/command.h"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/kinds.h"
#include "common/numbers.h"
#include "common/status.h"
#include "common/token.h"
#include "common/transport.h"

namespace quark {
namespace {

constexpr char kHintPayload[] = "quark/usage-hint";

// One entry per command. A subcommand is named with its group, as in
// "token create"; the group ("token") is then what `help` and the usage
// hints name.
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
    {"trust", Verb::kTrust, 1, 1, "NODE"},
    {"approve", Verb::kApprove, 1, 1, "NAME"},
    {"reject", Verb::kReject, 1, 1, "NAME"},
    {"token create", Verb::kTokenCreate, 0, 0, ""},
    {"token list", Verb::kTokenList, 0, 0, ""},
    {"token revoke", Verb::kTokenRevoke, 1, 1, "ID"},
    {"keygen", Verb::kKeygen, 1, 1, "NAME"},
    {"top", Verb::kTop, 0, 0, ""},
    {"help", Verb::kHelp, 0, 2, "[COMMAND]"},
};

const VerbInfo* FindVerb(absl::string_view name) {
  for (const VerbInfo& info : kVerbs) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

// "token" for "token create", else the name itself.
absl::string_view GroupOf(absl::string_view name) {
  return name.substr(0, name.find(' '));
}

// The help topic and usage hint of a command: its group.
absl::string_view Topic(const VerbInfo& verb) { return GroupOf(verb.name); }

// Whether `name` is a command or a group of subcommands.
bool IsCommand(absl::string_view name) {
  for (const VerbInfo& info : kVerbs) {
    if (GroupOf(info.name) == name) return true;
  }
  return false;
}

// "running" for --state; nullopt for a word that names no state.
std::optional<proto::JobState> ParseJobState(absl::string_view word) {
  constexpr std::pair<absl::string_view, proto::JobState> kStates[] = {
      {"queued", proto::QUEUED},
      {"running", proto::RUNNING},
      {"done", proto::DONE},
      {"failed", proto::FAILED},
      {"cancelled", proto::CANCELLED}};
  for (const auto& [name, state] : kStates) {
    if (absl::EqualsIgnoreCase(word, name)) return state;
  }
  return std::nullopt;
}

// Levenshtein distance, for the command a typo was meant to be.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "create, list or revoke" for the group "token".
std::string SubcommandList(absl::string_view group) {
  std::vector<absl::string_view> subs;
  for (const VerbInfo& info : kVerbs) {
    if (GroupOf(info.name) == group && info.name != group) {
      subs.push_back(info.name.substr(group.size() + 1));
    }
  }
  std::string text;
  for (size_t i = 0; i < subs.size(); ++i) {
    if (i > 0) text += i + 1 == subs.size() ? " or " : ", ";
    absl::StrAppend(&text, subs[i]);
  }
  return text;
}

constexpr uint32_t Bit(Verb verb) { return 1u << static_cast<unsigned>(verb); }
constexpr uint32_t kEveryVerb = ~0u;

// One entry per option, with the commands it applies to.
struct OptionInfo {
  absl::string_view name;
  bool takes_value;
  uint32_t verbs;  // Bit()s of the commands it applies to
};

constexpr OptionInfo kOptions[] = {
    {"controller", true, kEveryVerb},
    {"timeout", true, kEveryVerb},
    {"json", false, kEveryVerb},
    {"help", false, kEveryVerb},
    {"version", false, kEveryVerb},
    {"key", true, kEveryVerb},
    {"controller_key", true, kEveryVerb},
    {"wait", false, Bit(Verb::kSubmit) | Bit(Verb::kJob)},
    {"priority", true, Bit(Verb::kSubmit)},
    {"verify", true, Bit(Verb::kSubmit)},
    {"yes", false, Bit(Verb::kSubmit)},
    {"dir", true, Bit(Verb::kKeygen)},
    {"pending", false, Bit(Verb::kNodes)},
    {"limit", true, Bit(Verb::kJobs)},
    {"state", true, Bit(Verb::kJobs)},
    {"ttl", true, Bit(Verb::kTokenCreate)},
    {"uses", true, Bit(Verb::kTokenCreate)},
    {"approve", false, Bit(Verb::kTokenCreate)},
    {"interval", true, Bit(Verb::kTop)},
    {"iterations", true, Bit(Verb::kTop)},
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

// "unknown command 'node'; did you mean 'nodes'?": the nearest command
// within two edits, when one is that near.
absl::Status UnknownCommand(absl::string_view name) {
  absl::string_view best;
  size_t best_distance = 3;
  for (const VerbInfo& info : kVerbs) {
    const absl::string_view group = GroupOf(info.name);
    const size_t distance = EditDistance(name, group);
    if (distance < best_distance) {
      best = group;
      best_distance = distance;
    }
  }
  return UsageError(
      absl::StrCat(
          "unknown command '", name, "'",
          best.empty() ? "" : absl::StrCat("; did you mean '", best, "'?")),
      "");
}

// The command named by the first positional arguments: one word, or a
// group and its subcommand ("token create"). Sets `used` to how many
// arguments named it. The first word is known to be a command or group.
absl::StatusOr<const VerbInfo*> ResolveVerb(
    const std::vector<std::string>& positional, size_t* used) {
  const std::string& name = positional[0];
  *used = 1;
  if (const VerbInfo* verb = FindVerb(name); verb != nullptr) return verb;
  if (positional.size() < 2) {
    return UsageError(
        absl::StrCat("'", name, "' needs a subcommand: ", SubcommandList(name)),
        name);
  }
  const VerbInfo* verb = FindVerb(absl::StrCat(name, " ", positional[1]));
  if (verb == nullptr) {
    return UsageError(
        absl::StrCat("unknown subcommand '", name, " ", positional[1],
                     "' (expected ", SubcommandList(name), ")"),
        name);
  }
  *used = 2;
  return verb;
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
  if (const KindSpec* spec = FindKind(text)) return spec->kind;
  return UsageError(
      absl::StrCat("unknown kind '", text, "' (expected ", KindNames(), ")"),
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

// --uses: 1 to kMaxTokenUses enrollments.
constexpr uint32_t kMaxUses = kMaxTokenUses;

absl::Status ParseUses(const std::string& text, Command* command) {
  const bool digits =
      !text.empty() && text.size() <= 7 &&
      std::all_of(text.begin(), text.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      });
  uint32_t uses = 0;
  if (!digits || !absl::SimpleAtoi(text, &uses) || uses > kMaxUses) {
    return UsageError(
        absl::StrCat("invalid --uses '", text,
                     "': expected an integer from 1 to ", kMaxUses,
                     " (leave --uses out for unlimited uses)"),
        "token");
  }
  if (uses == 0) {
    return UsageError(
        "invalid --uses '0': a token needs at least 1 use "
        "(leave --uses out for unlimited uses)",
        "token");
  }
  command->uses = uses;
  return absl::OkStatus();
}

// Applies one option to `command`; the option table says which commands
// take it.
absl::Status ApplyOption(const std::string& name, const std::string& value,
                         const VerbInfo& verb, Command* command) {
  const absl::string_view topic = Topic(verb);
  const OptionInfo* info = FindOption(name);
  if (info == nullptr || (info->verbs & Bit(verb.verb)) == 0) {
    return UsageError(absl::StrCat("option '--", name, "' does not apply to '",
                                   verb.name, "'"),
                      topic);
  }
  if (name == "controller") {
    if (value.empty()) {
      return UsageError("option '--controller' needs an endpoint", topic);
    }
    command->controller = value;
    command->controller_from_flag = true;
  } else if (name == "timeout") {
    auto timeout = ParseTimeout(value);
    if (!timeout.ok()) return UsageError(timeout.status().message(), topic);
    command->timeout = *timeout;
  } else if (name == "key" || name == "controller_key") {
    if (value.empty()) {
      return UsageError(absl::StrCat("option '--", name, "' needs a file"),
                        topic);
    }
    (name == "key" ? command->key : command->controller_key) = value;
  } else if (name == "dir") {
    if (value.empty()) {
      return UsageError("option '--dir' needs a directory", topic);
    }
    command->dir = value;
  } else if (name == "json") {
    command->json = true;
  } else if (name == "wait") {
    command->wait = true;
  } else if (name == "yes") {
    command->yes = true;
  } else if (name == "interval") {
    absl::StatusOr<absl::Duration> interval = ParseTimeout(value);
    if (!interval.ok() || *interval < absl::Milliseconds(100) ||
        *interval > absl::Hours(1)) {
      return UsageError(
          absl::StrCat("invalid --interval '", value,
                       "': expected a duration from 100ms to 1h, e.g. 2s"),
          topic);
    }
    command->interval = *interval;
  } else if (name == "iterations") {
    int iterations = 0;
    if (!absl::SimpleAtoi(value, &iterations) || iterations < 0) {
      return UsageError(absl::StrCat("invalid --iterations '", value,
                                     "': expected a count, 0 for until Ctrl-C"),
                        topic);
    }
    command->iterations = iterations;
  } else if (name == "limit") {
    int limit = 0;
    if (!absl::SimpleAtoi(value, &limit) || limit < 0) {
      return UsageError(absl::StrCat("invalid --limit '", value,
                                     "': a number of jobs, 0 for all"),
                        topic);
    }
    command->limit = limit;
  } else if (name == "state") {
    for (absl::string_view word : absl::StrSplit(value, ',')) {
      std::optional<proto::JobState> state = ParseJobState(word);
      if (!state.has_value()) {
        return UsageError(absl::StrCat("invalid --state '", word,
                                       "': queued, running, done, failed or "
                                       "cancelled (several: done,failed)"),
                          topic);
      }
      command->states.insert(*state);
    }
  } else if (name == "pending") {
    command->pending = true;
  } else if (name == "approve") {
    command->approve = true;
  } else if (name == "ttl") {
    auto ttl = ParseTokenTtl(value);
    if (!ttl.ok()) return UsageError(ttl.status().message(), topic);
    command->ttl = *ttl;
  } else if (name == "uses") {
    return ParseUses(value, command);
  } else if (name == "verify") {
    if (value == "sample") {
      command->verify = proto::VERIFY_SAMPLE;
    } else if (value == "all") {
      command->verify = proto::VERIFY_ALL;
    } else if (value == "none") {
      command->verify = proto::VERIFY_NONE;
    } else {
      return UsageError(absl::StrCat("invalid --verify '", value,
                                     "': expected sample, all or none"),
                        topic);
    }
  } else if (name == "priority") {
    if (!absl::SimpleAtoi(value, &command->priority)) {
      return UsageError(absl::StrCat("invalid --priority '", value,
                                     "': expected an integer from -2147483648 "
                                     "to 2147483647"),
                        topic);
    }
  }
  return absl::OkStatus();
}

// A token id as `quark token list` shows it; upper case is taken too.
absl::Status ParseTokenId(const std::string& text, Command* command) {
  const std::string id = absl::AsciiStrToLower(text);
  if (!ValidTokenId(id)) {
    return UsageError(absl::StrCat("invalid token ID '", text,
                                   "': expected 8 characters of a-z and 2-7, "
                                   "as 'quark token list' shows"),
                      "token");
  }
  command->token_id = id;
  return absl::OkStatus();
}

absl::Status ParseName(const std::string& text, absl::string_view what,
                       const VerbInfo& verb, std::string* name) {
  if (!ValidNodeName(text)) {
    return UsageError(absl::StrCat("invalid ", what, " name '", text,
                                   "': 1-64 characters of [A-Za-z0-9._-]"),
                      Topic(verb));
  }
  *name = text;
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
                      Topic(verb));
  }
  if (args.size() > verb.max_args) {
    return UsageError(absl::StrCat("too many arguments for '", verb.name,
                                   "': '", args[verb.max_args], "'"),
                      Topic(verb));
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
    case Verb::kTrust:
      if (args[0].empty()) return UsageError("empty node name", verb.name);
      command->node = args[0];
      return absl::OkStatus();
    case Verb::kApprove:
    case Verb::kReject:
      return ParseName(args[0], "node", verb, &command->node);
    case Verb::kTokenRevoke:
      return ParseTokenId(args[0], command);
    case Verb::kKeygen:
      return ParseName(args[0], "key", verb, &command->name);
    case Verb::kHelp: {
      if (args.empty()) return absl::OkStatus();
      if (!IsCommand(args[0])) {
        return UnknownCommand(args[0]);
      }
      size_t used = 1;  // `help token create` is `help token`
      if (args.size() > 1) RETURN_IF_ERROR(ResolveVerb(args, &used).status());
      if (used < args.size()) {
        return UsageError(
            absl::StrCat("too many arguments for 'help': '", args[used], "'"),
            verb.name);
      }
      command->topic = args[0];
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

// A --ttl in one of its forms, before its range is checked; nullopt for
// none of them. Numbers too large for a Duration come out as 1e12 seconds,
// which the caller refuses as too long rather than as infinite.
std::optional<absl::Duration> ParseTtlForms(absl::string_view text) {
  constexpr double kHuge = 1e12;
  double number = 0;
  if (AllDigits(text)) {
    if (!absl::SimpleAtod(text, &number)) return std::nullopt;
    return absl::Seconds(std::min(number, kHuge));
  }
  absl::Duration days;
  const size_t d = text.find('d');
  if (d != absl::string_view::npos) {
    // absl::ParseDuration has no days: "1d12h" is 1 day and "12h".
    if (!AllDigits(text.substr(0, d)) ||
        !absl::SimpleAtod(text.substr(0, d), &number)) {
      return std::nullopt;
    }
    days = absl::Hours(24 * std::min(number, kHuge / 86400));
    text.remove_prefix(d + 1);
    if (text.empty()) return days;
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[0]))) {
      return std::nullopt;  // no sign, no second "d"
    }
  }
  absl::Duration rest;
  if (!absl::ParseDuration(text, &rest)) return std::nullopt;
  return days + rest;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text) {
  absl::Duration d;
  if (!ParseDurationText(text, &d)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid --timeout '", text, "': expected ", kDurationForms));
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid --timeout '", text, "': must be positive and finite"));
  }
  return d;
}

absl::StatusOr<absl::Duration> ParseTokenTtl(const std::string& text) {
  auto invalid = [&text](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --ttl '", text, "': ", why));
  };
  if (text.find('-') != std::string::npos) {
    return invalid("must not be negative (0 means it never expires)");
  }
  const std::optional<absl::Duration> ttl = ParseTtlForms(text);
  if (!ttl.has_value()) {
    return invalid(
        "expected seconds (3600), a duration such as 90s, 30m, 24h or "
        "1h30m, days such as 7d or 1d12h, or 0 for never");
  }
  if (*ttl == absl::InfiniteDuration()) {
    return invalid("must be finite (0 means it never expires)");
  }
  if (*ttl > absl::ZeroDuration() && *ttl < absl::Seconds(1)) {
    return invalid("too short: at least 1s (0 means it never expires)");
  }
  if (*ttl > kMaxTokenTtl) {
    return invalid(
        "too long: at most 3650d, about 10 years (0 means it never expires)");
  }
  return *ttl;
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
  if (!IsCommand(name)) {
    return UnknownCommand(name);
  }
  if (scanned.help) {
    command.topic = name;
    return command;
  }
  size_t used = 0;
  ASSIGN_OR_RETURN(const VerbInfo* verb,
                   ResolveVerb(scanned.positional, &used));
  if (!scanned.error.empty()) return UsageError(scanned.error, Topic(*verb));
  command.verb = verb->verb;
  for (const auto& [option, value] : scanned.options) {
    RETURN_IF_ERROR(ApplyOption(option, value, *verb, &command));
  }
  const std::vector<std::string> rest(
      scanned.positional.begin() + static_cast<std::ptrdiff_t>(used),
      scanned.positional.end());
  RETURN_IF_ERROR(ParseVerbArgs(*verb, rest, &command));
  // HOST or HOST:PORT for tcp://HOST:PORT, from the flag or the environment.
  auto endpoint = ConnectEndpoint(command.controller, kDefaultApiPort);
  if (!endpoint.ok()) {
    return UsageError(
        absl::StrCat(
            command.controller_from_flag ? "--controller" : "QUARK_CONTROLLER",
            ": ", endpoint.status().message()),
        Topic(*verb));
  }
  command.controller = *std::move(endpoint);
  if (command.verb != Verb::kKeygen &&
      command.key.empty() != command.controller_key.empty()) {
    return UsageError(
        "--key and --controller_key go together: CURVE needs this operator's "
        "secret key and the controller's public key",
        Topic(*verb));
  }
  return command;
}

std::string UsageHint(const absl::Status& status) {
  const auto hint = status.GetPayload(kHintPayload);
  return hint.has_value() ? std::string(*hint) : "";
}

}  // namespace quark
