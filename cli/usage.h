// The help texts of the quark command, one per command.
#ifndef QUARK_CLI_USAGE_H_
#define QUARK_CLI_USAGE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace quark {

// The usage of `command` ("submit", "jobs", ...), or the overview when
// `command` is empty or unknown. Ends with a newline.
std::string UsageText(absl::string_view command);

}  // namespace quark

#endif  // QUARK_CLI_USAGE_H_
