// Status propagation helpers. Abseil 20220623 (Debian bookworm) ships no
// status macros, so Quark keeps these two.
#ifndef QUARK_COMMON_STATUS_H_
#define QUARK_COMMON_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define QUARK_STATUS_CONCAT_INNER_(a, b) a##b
#define QUARK_STATUS_CONCAT_(a, b) QUARK_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status quark_status_ = (expr);         \
    if (!quark_status_.ok()) return quark_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, StatusOrExpr());` declares or assigns the value,
// or returns the error from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr)                                            \
  ASSIGN_OR_RETURN_IMPL_(QUARK_STATUS_CONCAT_(quark_statusor_, __LINE__), lhs, \
                         expr)
// `statusor` names a variable and `lhs` may declare one: neither can be put
// in parentheses.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                           \
  if (!statusor.ok()) return statusor.status();     \
  lhs = std::move(statusor).value()
// NOLINTEND(bugprone-macro-parentheses)

#endif  // QUARK_COMMON_STATUS_H_
