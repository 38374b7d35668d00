// Protobuf messages as JSON, as Quark prints them everywhere (`quark ...
// --json`, the status page's /status.json): the .proto's field names, and
// every field, zeros and empty strings too; 64-bit numbers are strings.
#ifndef QUARK_COMMON_JSON_H_
#define QUARK_COMMON_JSON_H_

#include <google/protobuf/message.h>

#include <string>

#include "absl/status/statusor.h"

namespace quark {

// One line, without a trailing newline. Internal error (naming the type)
// only when protobuf cannot print it.
absl::StatusOr<std::string> MessageJson(
    const google::protobuf::Message& message);

}  // namespace quark

#endif  // QUARK_COMMON_JSON_H_
