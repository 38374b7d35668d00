// How much memory the worker may sieve with, so that a task never gets it
// OOM-killed: from --memory_limit when the operator gives one, else from
// what the kernel says is available (MemAvailable in /proc/meminfo) and
// the limit of the worker's cgroup (v2 memory.max, v1
// memory.limit_in_bytes, the smallest along its path), less a margin.
//
// The readings take their roots as arguments, so that tests read a fake
// tree. Pure but for ReadMemory's file reads; thread-safe.
#ifndef QUARK_WORKER_MEMORY_BUDGET_H_
#define QUARK_WORKER_MEMORY_BUDGET_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quark {

struct MemoryReading {
  std::optional<uint64_t> available;     // MemAvailable, bytes
  std::optional<uint64_t> cgroup_limit;  // bytes; none when unlimited
  std::optional<uint64_t> resident;      // this process's VmRSS, bytes
};

// Reads <proc_root>/meminfo, <proc_root>/self/cgroup and status, and the
// memory controller's files under cgroup_root (/sys/fs/cgroup). What
// cannot be read stays unset: never an error.
MemoryReading ReadMemory(const std::string& proc_root,
                         const std::string& cgroup_root);

struct MemoryBudget {
  uint64_t bytes = 0;  // for the sieve; 0 when nothing is known (no limit)
  std::string source;  // how it was found, for the log
};

// With `limit` (--memory_limit): the limit less what the process holds
// already, capped by the cgroup's limit (a larger one would get the worker
// killed by it). Without: 90% of the smaller of MemAvailable and the
// cgroup's limit, less 64 MiB and what the process holds.
MemoryBudget SieveBudget(const MemoryReading& reading,
                         std::optional<uint64_t> limit);

}  // namespace quark

#endif  // QUARK_WORKER_MEMORY_BUDGET_H_
