// How quark prints replies: human text and JSON. Pure functions of the
// reply (and of a time zone for timestamps); every result ends with a
// newline unless said otherwise.
#ifndef QUARK_CLI_FORMAT_H_
#define QUARK_CLI_FORMAT_H_

#include <google/protobuf/message.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/rate.h"
#include "proto/quark.pb.h"

namespace quark {

// "count", "twins", "gaps", "sum"; "?" for anything else.
std::string KindName(proto::Kind kind);
// "queued", "running", "done", "failed", "cancelled".
std::string JobStateName(proto::JobState state);
// "active", "draining", "lost", "left", "evicted".
std::string NodeStateName(proto::NodeState state);
// "drained" for a draining node that holds no work (safe to remove), "lost
// 12s ago" for one gone, else NodeStateName: the words the controller's log
// uses too.
std::string NodeStateText(const proto::Node& node);

// The answer of a DONE job without newline: the bare number for count,
// twins, sum and the tuplets; "max_gap=G start=P" for gaps.
std::string FormatResult(const proto::Job& job);

// What a CANCELLED or FAILED job finished, without newline: "4118054 for
// 0..99999999 (partial: the first 43.0% of the range)"; "" when it has no
// partial result (its first task was not finished).
std::string FormatPartial(const proto::Job& job);

// The share of `range` that [range.lo, up_to] is.
double RangeFraction(const proto::Range& range, uint64_t up_to);

// "job 7\n": the reply to a submit without --wait.
std::string FormatSubmitted(const proto::Job& job);

// `key: value` lines: id, kind, range, priority, state, progress, tasks,
// duplicates, result or error, submitted, finished. Times in `zone`.
// How the job's tasks were checked: "5.1% of tasks on other nodes (12 of
// 235), 0 disagreements; count checked by primecount".
std::string FormatVerification(const proto::Job& job);

std::string FormatJob(const proto::Job& job, absl::TimeZone zone);
// The job's wall time, its tasks' time on the nodes and in CPU, and its
// speed-up: the lines of `quark job` that are known, each ending in '\n'.
std::string FormatJobTimes(const proto::Job& job);

// A finished gaps job's maximal gaps as a table (GAP START NEXT PRIME) and
// how many gap sizes its table of first occurrences has; empty for any
// other job.
std::string FormatGapTable(const proto::Job& job);

// A table with header ID KIND RANGE PRIO STATE PROGRESS RESULT, or the
// header and "(no jobs)".
std::string FormatJobList(const proto::JobList& jobs);

// A table with header NAME STATE CORES THREADS LEASES SIEVE TASKS RATE
// LAST_HEARD KEY, the connected nodes and then those gone lately, and a
// total line ("total: 2 nodes, 7 threads, 1 working, 3.1e9/s; gone lately:
// 1 lost"); or the header and "(no nodes)".
std::string FormatNodeList(const proto::NodeList& nodes);

// "job 7 cancelled at 43.1%", "; " and FormatPartial if any (or "job 7 is
// done\n" should the job not be).
std::string FormatCancelled(const proto::Job& job);

// "node pi1 draining\n" or "node pi1 active\n".
std::string FormatNodeState(const proto::Node& node);

// A one-line progress report for a job being waited on, without newline:
// "job 7: running 42.0%, 3 tasks running".
std::string FormatProgress(const proto::Job& job);

// The progress line of a --wait on a terminal, with the rate the job goes
// at and when it will end at that rate: "job 7: running 42.0%, 3 tasks
// running, 2.9e9/s, ETA 1m23s". The rate is the slope of its progress over
// the last minute of lines (at least 2 s of them), so a stall shows at
// once and the first seconds' noise does not.
class ProgressMeter;

// One frame of `quark top` at `now`: a summary line, the nodes, the
// unfinished jobs each with a bar, rate and ETA (`meters`, kept across
// frames, by job id), and the newest jobs that ended.
std::string FormatTop(const proto::NodeList& nodes, const proto::JobList& jobs,
                      absl::Time now, absl::TimeZone zone,
                      std::map<uint64_t, ProgressMeter>* meters);

class ProgressMeter {
 public:
  std::string Line(const proto::Job& job, absl::Time now);

 private:
  WindowRate merged_;  // numbers merged
};

// "active", "expired", "used up", "revoked".
std::string TokenStateName(proto::TokenState state);

// A token's lifetime: "90s", "1h30m", "24h" under two days, else whole
// days and the rest: "7d", "3d12h".
std::string FormatTtl(absl::Duration ttl);

// The notes for the operator on a token just made, for stderr (stdout has
// the bare token, for scripts):
//   token 3fk2abcd: expires 2026-12-02 07:40 UTC (in 24h), unlimited uses
//   on each node: sudo quark-worker join qk1_...
// "never expires" without an expiry; ", nodes wait for `quark approve
// NAME`" for an approval token. The expiry in `zone`.
std::string FormatCreatedToken(const proto::Token& token, absl::TimeZone zone);

// A table with header ID CREATED EXPIRES USED USES_LEFT APPROVE STATE, or the
// header and "(no tokens)". Times in `zone`; no secrets.
std::string FormatTokenList(const proto::TokenList& tokens,
                            absl::TimeZone zone);

// "token ID revoked: it lets no more nodes join; ...".
std::string FormatRevoked(const proto::Token& token);

// A table with header NAME KEY ADDRESS TOKEN REQUESTED and a last line
// saying how to approve or reject, or the header and "(no pending nodes)".
// Times in `zone`.
std::string FormatPendingList(const proto::EnrolledList& nodes,
                              absl::TimeZone zone);

// "node NAME approved: it joins at its next attempt".
std::string FormatApproved(const proto::EnrolledNode& node);
// "node NAME rejected: its key is refused from now on".
std::string FormatRejected(const proto::EnrolledNode& node);

// "0/s", "950/s", "3.1e9/s".
std::string FormatRate(double numbers_per_second);
// "0.4s ago", "2m5s ago".
std::string FormatAgo(uint64_t ms);
// "0..1000" for the inclusive range [0, 1000].
std::string FormatRange(const proto::Range& range);
// The same in the short forms people type ("1e12..2^64-1", common/numbers.h
// ShortNumber), for tables: one range near 2^64 would widen every row.
std::string ShortRange(const proto::Range& range);

// The message as one JSON document with the proto field names and every
// field, default values included.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message);
// A job, or a list of them, as above, except that a result holds only the
// fields of its job's kind ({"count":"9592"} for COUNT, max_gap and
// max_gap_start for GAPS, ...), and only once the job is DONE.
absl::StatusOr<std::string> ToJson(const proto::Job& job);
absl::StatusOr<std::string> ToJson(const proto::JobList& list);

// A failed command under --json, as one JSON document for the script that
// reads stdout: {"error":{"message":"...","exit_code":2}}.
std::string ErrorJson(const absl::Status& status, int exit_code);

}  // namespace quark

#endif  // QUARK_CLI_FORMAT_H_
