#include "common/command_line.h"

#include <algorithm>
#include <map>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/numbers.h"

namespace quark {
namespace {

constexpr size_t kHelpWidth = 78;
constexpr absl::string_view kHelpIndent = "      ";

// `text` wrapped to kHelpWidth, each line indented by kHelpIndent.
std::string Wrapped(absl::string_view text) {
  std::string out;
  std::string line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() &&
        kHelpIndent.size() + line.size() + 1 + word.size() > kHelpWidth) {
      absl::StrAppend(&out, kHelpIndent, line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  if (!line.empty()) absl::StrAppend(&out, kHelpIndent, line, "\n");
  return out;
}

std::string FlagHelp(const absl::CommandLineFlag& flag) {
  const std::string value = flag.DefaultValue();
  return absl::StrCat("  --", flag.Name(), value.empty() ? "" : "=", value,
                      "\n", Wrapped(flag.Help()));
}

// What went wrong with one argument, and the way out.
CommandLine Refused(CommandLine parsed, const CommandLineSpec& spec,
                    const std::string& message, std::FILE* err) {
  std::fprintf(err, "%s: %s (%s --help lists the flags)\n",
               spec.program.c_str(), message.c_str(), spec.program.c_str());
  parsed.exit = 2;
  return parsed;
}

// What a value of `flag`'s type looks like, for an error.
std::string Wanted(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<bool>()) return "true or false";
  if (flag.IsOfType<int>() || flag.IsOfType<int64_t>()) return "a whole number";
  if (flag.IsOfType<uint32_t>() || flag.IsOfType<uint64_t>()) {
    return "a whole number, 0 or more";
  }
  if (flag.IsOfType<double>()) return "a number";
  if (flag.IsOfType<absl::Duration>()) return kDurationForms;
  return "";
}

}  // namespace

absl::CommandLineFlag* FindSetting(absl::string_view name) {
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr || flag->IsRetired() ||
      absl::StrContains(flag->Filename(), "absl/flags/")) {
    return nullptr;
  }
  return flag;
}

bool SetFlagFromText(absl::CommandLineFlag& flag, absl::string_view value,
                     std::string* error) {
  std::string text(value);
  absl::Duration duration;
  if (flag.IsOfType<absl::Duration>() && ParseDurationText(value, &duration)) {
    text = absl::FormatDuration(duration);
  }
  std::string absl_error;
  if (flag.ParseFrom(text, &absl_error)) return true;
  const std::string wanted = Wanted(flag);
  // absl's own text repeats the value and the flag's name; its reason, if
  // any, follows a "; ".
  const size_t reason = absl_error.find("; ");
  *error = !wanted.empty()               ? absl::StrCat("expected ", wanted)
           : reason != std::string::npos ? absl_error.substr(reason + 2)
                                         : absl_error;
  return false;
}

std::string HelpText(const CommandLineSpec& spec) {
  std::string out = spec.usage;
  std::set<std::string> shown;
  for (const FlagGroup& group : spec.groups) {
    absl::StrAppend(&out, "\n", group.title, ":\n");
    for (const std::string& name : group.flags) {
      const absl::CommandLineFlag* flag = FindSetting(name);
      if (flag == nullptr || !shown.insert(name).second) continue;
      absl::StrAppend(&out, FlagHelp(*flag));
    }
  }
  // Sorted, so that the text is the same from run to run.
  std::map<std::string, const absl::CommandLineFlag*> rest;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (shown.count(std::string(name)) == 0 && FindSetting(name) != nullptr) {
      rest.emplace(std::string(name), flag);
    }
  }
  if (!rest.empty()) {
    absl::StrAppend(&out, "\nOther:\n");
    for (const auto& [name, flag] : rest)
      absl::StrAppend(&out, FlagHelp(*flag));
  }
  return out;
}

CommandLine ParseCommandLine(int argc, char** argv, const CommandLineSpec& spec,
                             std::FILE* out, std::FILE* err) {
  CommandLine parsed;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) parsed.args.emplace_back(argv[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      parsed.args.emplace_back(arg);
      continue;
    }
    absl::ConsumePrefix(&arg, "-");
    absl::ConsumePrefix(&arg, "-");
    const size_t eq = arg.find('=');
    const std::string name(arg.substr(0, eq));
    std::optional<std::string> value;
    if (eq != absl::string_view::npos) value = std::string(arg.substr(eq + 1));

    if (name == "help" || name == "helpfull" || name == "helpshort") {
      std::fputs(HelpText(spec).c_str(), out);
      parsed.exit = 0;
      return parsed;
    }
    if (name == "version") {
      std::fprintf(out, "%s %s\n", spec.program.c_str(), spec.version.c_str());
      parsed.exit = 0;
      return parsed;
    }
    absl::CommandLineFlag* flag = FindSetting(name);
    std::string key = name;
    if (flag == nullptr && absl::StartsWith(name, "no")) {
      // --noboot: boot=false, for a bool flag only.
      absl::CommandLineFlag* negated = FindSetting(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        if (value.has_value()) {
          return Refused(std::move(parsed), spec,
                         absl::StrCat("--", name, " takes no value"), err);
        }
        flag = negated;
        key = name.substr(2);
        value = "false";
      }
    }
    if (flag == nullptr) {
      return Refused(std::move(parsed), spec,
                     absl::StrCat("unknown flag --", name), err);
    }
    if (!value.has_value()) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return Refused(std::move(parsed), spec,
                       absl::StrCat("--", name, " needs a value"), err);
      }
    }
    std::string error;
    if (!SetFlagFromText(*flag, *value, &error)) {
      return Refused(
          std::move(parsed), spec,
          absl::StrCat("bad value '", *value, "' for --", key, ": ", error),
          err);
    }
    parsed.given.insert(key);
  }
  return parsed;
}

}  // namespace quark
