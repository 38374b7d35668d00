// Small files the daemons keep: keys, a node's enrollment, a saved token.
//
// Writes are atomic and durable: the text goes to a temporary file in the
// same directory, which is fsync'ed and renamed over the old one, and the
// directory is fsync'ed too. A crash leaves the old file or the new one,
// never half of either.
#ifndef QUARK_COMMON_FILES_H_
#define QUARK_COMMON_FILES_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace quark {

// The whole of `path`, at most `max_bytes`. NotFound when it does not
// exist; other errors name the file and the reason.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          size_t max_bytes = 1 << 20);

// Replaces `path` with `text`, mode `mode` (not widened by the umask and
// applied before the file has any content, so a secret is never readable
// by others, even for a moment).
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& text, mode_t mode);

// Makes `dir` and its missing parents; `dir` itself gets `mode` when it is
// made. OK when it exists already.
absl::Status MakeDirectory(const std::string& dir, mode_t mode);

}  // namespace quark

#endif  // QUARK_COMMON_FILES_H_
