#include "common/config.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/command_line.h"
#include "common/log.h"
#include "common/status.h"

namespace quark {
namespace {

absl::Status LineError(absl::string_view path, int line,
                       absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ":", line, ": ", message));
}

bool ValidKey(absl::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

// `quoted` starts with '"'. Returns the text between the quotes with \" and
// \\ unescaped, or an error message in `error`.
bool Unquote(absl::string_view quoted, std::string* out, std::string* error) {
  out->clear();
  size_t i = 1;
  for (; i < quoted.size() && quoted[i] != '"'; ++i) {
    if (quoted[i] == '\\' && i + 1 < quoted.size() &&
        (quoted[i + 1] == '"' || quoted[i + 1] == '\\')) {
      ++i;
    }
    out->push_back(quoted[i]);
  }
  if (i >= quoted.size()) {
    *error = "unterminated quote";
    return false;
  }
  if (i + 1 != quoted.size()) {
    *error = "text after the closing quote";
    return false;
  }
  return true;
}

absl::StatusOr<ConfigEntry> ParseLine(absl::string_view text,
                                      absl::string_view path, int line) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return LineError(path, line, "expected 'key = value'");
  }
  ConfigEntry entry;
  entry.line = line;
  entry.key = std::string(absl::StripAsciiWhitespace(text.substr(0, eq)));
  if (!ValidKey(entry.key)) {
    return LineError(path, line,
                     "expected 'key = value' with a flag name as key "
                     "(letters, digits, '_'; no dashes)");
  }
  const absl::string_view value =
      absl::StripAsciiWhitespace(text.substr(eq + 1));
  if (absl::StartsWith(value, "\"")) {
    std::string error;
    if (!Unquote(value, &entry.value, &error)) {
      return LineError(path, line,
                       absl::StrCat(error, " in '", entry.key, "'"));
    }
  } else if (absl::StrContains(value, '#')) {
    return LineError(path, line,
                     absl::StrCat("'#' in the value of '", entry.key,
                                  "': comments go on their own line; quote "
                                  "the value to keep a '#'"));
  } else {
    entry.value = std::string(value);
  }
  return entry;
}

// Where each flag set from a file was set: "PATH:LINE".
std::map<std::string, std::string>& Origins() {
  static auto* origins = new std::map<std::string, std::string>;
  return *origins;
}

}  // namespace

absl::StatusOr<std::vector<ConfigEntry>> ParseConfig(absl::string_view text,
                                                     absl::string_view path) {
  std::vector<ConfigEntry> entries;
  absl::flat_hash_map<std::string, int> first_line;
  int line = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++line;
    const absl::string_view stripped = absl::StripAsciiWhitespace(raw);
    if (stripped.empty() || stripped[0] == '#') continue;
    ASSIGN_OR_RETURN(ConfigEntry entry, ParseLine(stripped, path, line));
    const auto [it, inserted] = first_line.emplace(entry.key, line);
    if (!inserted) {
      return LineError(
          path, line,
          absl::StrCat("'", entry.key, "' already set on line ", it->second));
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::Status ApplyConfig(const std::vector<ConfigEntry>& entries,
                         absl::string_view path,
                         const std::set<std::string>& on_command_line) {
  for (const ConfigEntry& entry : entries) {
    if (entry.key == "config") {
      return LineError(path, entry.line,
                       "'config' cannot be set in a config file");
    }
    absl::CommandLineFlag* flag = FindSetting(entry.key);
    if (flag == nullptr) {
      return LineError(path, entry.line,
                       absl::StrCat("unknown setting '", entry.key, "'"));
    }
    if (on_command_line.count(entry.key) != 0) continue;
    std::string error;
    if (!SetFlagFromText(*flag, entry.value, &error)) {
      return LineError(
          path, entry.line,
          absl::StrCat("bad value for '", entry.key, "': ", error));
    }
    Origins()[entry.key] = absl::StrCat(path, ":", entry.line);
  }
  return absl::OkStatus();
}

std::string ConfigOrigin(absl::string_view flag) {
  auto it = Origins().find(std::string(flag));
  return it == Origins().end() ? std::string() : it->second;
}

absl::Status WithConfigOrigin(const absl::Status& status) {
  absl::string_view message = status.message();
  if (!absl::StartsWith(message, "--")) return status;
  size_t end = 2;
  while (end < message.size() &&
         (absl::ascii_isalnum(static_cast<unsigned char>(message[end])) ||
          message[end] == '_')) {
    ++end;
  }
  const std::string origin = ConfigOrigin(message.substr(2, end - 2));
  if (origin.empty()) return status;
  return absl::Status(status.code(), absl::StrCat(origin, ": ", message));
}

absl::Status LoadConfigFile(const std::string& path, bool required,
                            const std::set<std::string>& on_command_line) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    if (errno == ENOENT && !required) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    text.append(buffer, n);
  }
  // A directory opens but does not read (EISDIR).
  const int error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read: ", std::strerror(error)));
  }
  ASSIGN_OR_RETURN(std::vector<ConfigEntry> entries, ParseConfig(text, path));
  return ApplyConfig(entries, path, on_command_line);
}

CommandLine LoadDaemonSettings(int argc, char** argv,
                               const CommandLineSpec& spec) {
  CommandLine command_line = ParseCommandLine(argc, argv, spec);
  if (command_line.exit.has_value()) return command_line;
  auto fail = [&](absl::string_view message) {
    std::fprintf(stderr, "%s: %s\n", spec.program.c_str(),
                 std::string(message).c_str());
    command_line.exit = 2;
    return command_line;
  };
  const absl::CommandLineFlag* config = FindSetting("config");
  const absl::CommandLineFlag* log_level = FindSetting("log_level");
  if (config == nullptr || log_level == nullptr) {
    return fail("internal error: no --config or --log_level flag");
  }
  // The command line first, to learn where the file is; then the file
  // fills in what the command line left alone.
  if (absl::Status s = LoadConfigFile(config->CurrentValue(),
                                      command_line.given.count("config") != 0,
                                      command_line.given);
      !s.ok()) {
    return fail(s.message());
  }
  LogLevel level;
  if (!ParseLogLevel(log_level->CurrentValue(), &level)) {
    return fail(WithConfigOrigin(
                    absl::InvalidArgumentError(absl::StrCat(
                        "--log_level '", log_level->CurrentValue(),
                        "' must be error, warning, notice, info or debug")))
                    .message());
  }
  SetLogLevel(level);
  return command_line;
}

}  // namespace quark
