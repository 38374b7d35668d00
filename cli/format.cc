#include "cli/format.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/health.h"
#include "common/json.h"
#include "common/kinds.h"
#include "common/numbers.h"
#include "common/states.h"
#include "common/status.h"
#include "common/token.h"

namespace quark {
namespace {

using Row = std::vector<std::string>;

// Left-aligned columns two spaces apart, no trailing blanks.
std::string Table(const std::vector<Row>& rows) {
  std::vector<size_t> widths;
  for (const Row& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const Row& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line.append(widths[i - 1] - row[i - 1].size() + 2, ' ');
      line += row[i];
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string Percent(double fraction) {
  // Rounded down, so that 100.0% means the whole range is merged.
  const double tenths =
      std::floor(1000 * std::clamp(fraction, 0.0, 1.0) + 1e-9);
  return absl::StrFormat("%.1f%%", tenths / 10);
}

std::string Timestamp(uint64_t unix_ms, absl::TimeZone zone) {
  if (unix_ms == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S %Z",
                          absl::FromUnixMillis(static_cast<int64_t>(unix_ms)),
                          zone);
}

// 12 of a key's 40 Z85 characters tell the keys of a cluster apart;
// --json has all of it.
std::string ShortKey(const std::string& key) {
  return key.empty() ? "-" : key.substr(0, 12) + "...";
}

// "80ms", "12.3s", "2m5.1s": milliseconds only while they matter.
std::string Elapsed(uint64_t ms) {
  const absl::Duration took = absl::Milliseconds(ms);
  const absl::Duration unit =
      took < absl::Seconds(1) ? absl::Milliseconds(1) : absl::Milliseconds(100);
  const std::string text = absl::FormatDuration(absl::Trunc(took, unit));
  return text == "0" ? "0ms" : text;
}

// The answer in `r` of a job of `kind`, as FormatResult prints it.
std::string ResultText(proto::Kind kind, const proto::JobResult& r) {
  const KindSpec* spec = FindKind(kind);
  return spec == nullptr ? "?" : spec->text(r);
}

// What the RESULT column shows for any state.
std::string Outcome(const proto::Job& job) {
  if (job.state() == proto::DONE) return FormatResult(job);
  if (job.state() == proto::FAILED) return absl::StrCat("error: ", job.error());
  if (job.has_partial_range()) {
    return absl::StrCat("partial: ", ResultText(job.kind(), job.partial()),
                        " to ", ShortNumber(job.partial_range().hi()));
  }
  if (!job.waiting().empty()) return absl::StrCat("- (", job.waiting(), ")");
  return "-";
}

// "0s ago", "12s ago", "3m5s ago": when a node went.
std::string WholeSecondsAgo(uint64_t ms) {
  if (ms < 1000) return "0s ago";  // FormatDuration says "0"
  return absl::StrCat(absl::FormatDuration(absl::Seconds(ms / 1000)), " ago");
}

bool Departed(proto::NodeState state) {
  return state == proto::LOST || state == proto::LEFT ||
         state == proto::EVICTED;
}

}  // namespace

std::string KindName(proto::Kind kind) {
  const KindSpec* spec = FindKind(kind);
  return spec == nullptr ? "?" : spec->name;
}

std::string JobStateName(proto::JobState state) { return JobStateWord(state); }

std::string NodeStateText(const proto::Node& node) {
  if (Departed(node.state())) {
    return absl::StrCat(NodeStateName(node.state()), " ",
                        WholeSecondsAgo(node.departed_ms_ago()));
  }
  return NodeWord(node);
}

std::string NodeStateName(proto::NodeState state) {
  return NodeStateWord(state);
}

std::string FormatResult(const proto::Job& job) {
  return ResultText(job.kind(), job.result());
}

std::string FormatPartial(const proto::Job& job) {
  if (!job.has_partial_range()) return "";
  return absl::StrCat(
      ResultText(job.kind(), job.partial()), " for ",
      FormatRange(job.partial_range()), " (partial: the first ",
      Percent(RangeFraction(job.range(), job.partial_range().hi())),
      " of the range)");
}

std::string FormatSubmitted(const proto::Job& job) {
  return absl::StrCat("job ", job.job_id(), "\n");
}

double RangeFraction(const proto::Range& range, uint64_t up_to) {
  if (range.hi() <= range.lo()) return 1;
  return (static_cast<double>(up_to - range.lo()) + 1) /
         (static_cast<double>(range.hi() - range.lo()) + 1);
}

std::string ShortRange(const proto::Range& range) {
  return absl::StrCat(ShortNumber(range.lo()), "..", ShortNumber(range.hi()));
}

std::string FormatRange(const proto::Range& range) {
  return absl::StrCat(range.lo(), "..", range.hi());
}

std::string FormatJob(const proto::Job& job, absl::TimeZone zone) {
  std::string finished = Timestamp(job.finished_ms(), zone);
  if (job.finished_ms() != 0 && job.finished_ms() >= job.submitted_ms()) {
    absl::StrAppend(&finished, " (took ",
                    Elapsed(job.finished_ms() - job.submitted_ms()), ")");
  }
  const bool failed = job.state() == proto::FAILED;
  const bool ended_early = failed || job.state() == proto::CANCELLED;
  return absl::StrCat(
      "id: ", job.job_id(), "\n", "kind: ", KindName(job.kind()), "\n",
      "range: ", FormatRange(job.range()), "\n", "priority: ", job.priority(),
      "\n", "state: ", JobStateName(job.state()),
      job.waiting().empty() ? "" : absl::StrCat(" (", job.waiting(), ")"), "\n",
      "progress: ", Percent(job.progress()), "\n", "tasks: ", job.tasks_done(),
      " done, ", job.tasks_running(), " running\n",
      "duplicates: ", job.duplicates(), "\n", failed ? "error: " : "result: ",
      failed                       ? job.error()
      : job.state() == proto::DONE ? FormatResult(job)
                                   : "-",
      "\n",
      ended_early ? absl::StrCat("partial: ",
                                 job.has_partial_range()
                                     ? FormatPartial(job)
                                     : "- (its first task was not finished)",
                                 "\n")
                  : "",
      job.verification().mode() == proto::VERIFY_UNSPECIFIED
          ? ""  // a job of a controller from before verification
          : absl::StrCat("verified: ", FormatVerification(job), "\n"),
      "submitted: ", Timestamp(job.submitted_ms(), zone), "\n",
      "finished: ", finished, "\n", FormatJobTimes(job), FormatGapTable(job));
}

std::string FormatGapTable(const proto::Job& job) {
  const proto::JobResult& r = job.result();
  if (job.state() != proto::DONE || r.maximal_gaps().empty()) return "";
  std::vector<Row> rows = {{"GAP", "START", "NEXT PRIME"}};
  for (const proto::Gap& gap : r.maximal_gaps()) {
    rows.push_back({absl::StrCat(gap.size()), absl::StrCat(gap.start()),
                    absl::StrCat(gap.start() + gap.size())});
  }
  return absl::StrCat(
      "maximal gaps (each larger than every gap before it in the range):\n",
      Table(rows), "first occurrences: ", r.first_gaps_size(),
      r.first_gaps_size() == 1 ? " gap size" : " gap sizes",
      " (each with its first gap in --json: first_gaps)\n");
}

std::string FormatVerification(const proto::Job& job) {
  const proto::Verification& v = job.verification();
  if (v.mode() == proto::VERIFY_NONE) return "no (--verify=none)";
  if (v.mode() == proto::VERIFY_UNSPECIFIED) return "-";  // from before it
  std::string out;
  const uint64_t done = job.tasks_done();
  absl::StrAppend(
      &out,
      done == 0
          ? std::string("0%")
          : absl::StrFormat("%.1f%%",
                            100.0 * static_cast<double>(v.tasks_verified()) /
                                static_cast<double>(done)),
      " of tasks on other nodes (", v.tasks_verified(), " of ", done,
      v.mode() == proto::VERIFY_ALL ? ", --verify=all" : "", "), ",
      v.disagreements(),
      v.disagreements() == 1 ? " disagreement" : " disagreements");
  if (v.suspects_size() > 0) {
    absl::StrAppend(&out,
                    "; made suspect: ", absl::StrJoin(v.suspects(), ", "));
  }
  if (v.tasks_redone() > 0) {
    absl::StrAppend(&out, "; ", v.tasks_redone(), " tasks computed again");
  }
  if (v.tasks_unverified() > 0) {
    absl::StrAppend(&out, "; ", v.tasks_unverified(),
                    v.tasks_unverified() == 1 ? " task" : " tasks",
                    " not verified: no other node");
  }
  switch (v.cross_check()) {
    case proto::CROSS_CHECK_PENDING:
      absl::StrAppend(&out, "; primecount's cross-check ",
                      v.has_cross_check_count() ? "done" : "pending");
      break;
    case proto::CROSS_CHECK_AGREED:
      absl::StrAppend(&out, "; count checked by primecount");
      break;
    case proto::CROSS_CHECK_DISAGREED:
      absl::StrAppend(&out, "; count differs from primecount's ",
                      v.cross_check_count());
      break;
    default:
      break;
  }
  return out;
}

// Its wall time, what its tasks took on the nodes, and the speed-up, e.g.
// "wall: 12.3s from its first task to its end\ntask time: 47.1s on the
// nodes (188.4s of CPU)\nspeed-up: 3.8x over one node\n"; the lines that
// are known.
std::string FormatJobTimes(const proto::Job& job) {
  std::string out;
  if (job.started_ms() != 0 && job.finished_ms() >= job.started_ms()) {
    absl::StrAppend(&out,
                    "wall: ", Elapsed(job.finished_ms() - job.started_ms()),
                    " from its first task to its end\n");
  }
  if (job.task_seconds() > 0) {
    absl::StrAppend(&out, "task time: ",
                    Elapsed(static_cast<uint64_t>(job.task_seconds() * 1000)),
                    " on the nodes (",
                    Elapsed(static_cast<uint64_t>(job.cpu_seconds() * 1000)),
                    " of CPU)\n");
  }
  if (job.speedup() > 0) {
    absl::StrAppend(&out, "speed-up: ", absl::StrFormat("%.1fx", job.speedup()),
                    " over one node\n");
  }
  return out;
}

std::string FormatJobList(const proto::JobList& jobs) {
  std::vector<Row> rows = {
      {"ID", "KIND", "RANGE", "PRIO", "STATE", "PROGRESS", "RESULT"}};
  for (const proto::Job& job : jobs.jobs()) {
    rows.push_back({absl::StrCat(job.job_id()), KindName(job.kind()),
                    ShortRange(job.range()), absl::StrCat(job.priority()),
                    JobStateName(job.state()), Percent(job.progress()),
                    Outcome(job)});
  }
  std::string out = Table(rows);
  if (jobs.jobs().empty()) out += "(no jobs)\n";
  return out;
}

// "71.5C"; "-" when the node does not report it.
std::string FormatTemperature(const proto::Node& node) {
  if (!node.has_temperature_celsius()) return "-";
  return absl::StrFormat("%.1fC", node.temperature_celsius());
}

// HealthText, or "-" when the node cannot tell (not a Pi).
std::string FormatHealth(const proto::Node& node) {
  if (!node.has_throttled_bits()) return "-";
  return HealthText(node.throttled_bits());
}

std::string FormatNodeList(const proto::NodeList& nodes) {
  std::vector<Row> rows = {{"NAME", "STATE", "CORES", "THREADS", "LEASES",
                            "SIEVE", "TASKS", "RATE", "TEMP", "HEALTH",
                            "LAST_HEARD", "KEY"}};
  uint64_t threads = 0, busy = 0, under_voltage = 0, throttled = 0;
  double rate = 0;
  for (const proto::Node& node : nodes.nodes()) {
    threads += node.threads();
    busy += node.sieving() || node.leases() > 0;
    rate += node.rate();
    under_voltage += node.under_voltage();
    throttled += node.throttled();
    // What its sieve does, as its last heartbeat said: with no lease it is
    // stopping a task that was cancelled; with leases and an idle sieve
    // the first has not started yet (or the heartbeat saying so is due).
    const char* sieve = node.sieving()
                            ? (node.leases() == 0 ? "stopping" : "busy")
                            : (node.leases() == 0 ? "idle" : "starting");
    rows.push_back({node.name(), NodeStateText(node),
                    absl::StrCat(node.cores()), absl::StrCat(node.threads()),
                    absl::StrCat(node.leases()), sieve,
                    absl::StrCat(node.tasks_done()), FormatRate(node.rate()),
                    FormatTemperature(node), FormatHealth(node),
                    FormatAgo(node.last_heard_ms_ago()), ShortKey(node.key())});
  }
  std::map<std::string, int> gone;  // by state word
  for (const proto::Node& node : nodes.departed()) {
    ++gone[NodeStateName(node.state())];
    rows.push_back({node.name(), NodeStateText(node),
                    absl::StrCat(node.cores()), absl::StrCat(node.threads()),
                    "-", "-", absl::StrCat(node.tasks_done()), "-", "-", "-",
                    FormatAgo(node.last_heard_ms_ago()), ShortKey(node.key())});
  }
  std::string out = Table(rows);
  if (nodes.nodes().empty() && nodes.departed().empty())
    return out + "(no nodes)\n";
  const int count = nodes.nodes_size();
  absl::StrAppend(&out, "total: ", count, count == 1 ? " node, " : " nodes, ",
                  threads, threads == 1 ? " thread, " : " threads, ", busy,
                  " working, ", FormatRate(rate));
  if (under_voltage + throttled > 0) {
    std::vector<std::string> unwell;
    if (under_voltage > 0) {
      unwell.push_back(absl::StrCat(under_voltage, " under-voltage"));
    }
    if (throttled > 0) unwell.push_back(absl::StrCat(throttled, " throttled"));
    absl::StrAppend(&out, "; now ", absl::StrJoin(unwell, ", "));
  }
  std::vector<std::string> parts;
  for (const auto& [word, n] : gone)
    parts.push_back(absl::StrCat(n, " ", word));
  if (!parts.empty()) {
    absl::StrAppend(&out, "; gone lately: ", absl::StrJoin(parts, ", "));
  }
  return out + "\n";
}

std::string FormatCancelled(const proto::Job& job) {
  if (job.state() == proto::CANCELLED) {
    return absl::StrCat(
        "job ", job.job_id(), " cancelled at ", Percent(job.progress()),
        job.has_partial_range() ? "; " : "", FormatPartial(job), "\n");
  }
  return absl::StrCat("job ", job.job_id(), " is ", JobStateName(job.state()),
                      "\n");
}

std::string FormatNodeState(const proto::Node& node) {
  const std::string state = NodeStateText(node);
  const char* hint =
      state == "drained"    ? ": no work left on it, safe to remove"
      : state == "draining" ? ": its tasks finish, then it is drained"
      : state == "suspect"  ? ": it gets no work until `quark trust`"
                            : "";
  return absl::StrCat("node ", node.name(), " ", state, hint, "\n");
}

std::string FormatProgress(const proto::Job& job) {
  if (!job.waiting().empty()) {
    return absl::StrCat("job ", job.job_id(), ": ",
                        job.state() == proto::QUEUED
                            ? absl::StrCat("queued, ", job.waiting())
                            : absl::StrCat(JobStateName(job.state()),
                                           ", waiting for ", job.waiting()));
  }
  return absl::StrCat(
      "job ", job.job_id(), ": ", JobStateName(job.state()), " ",
      Percent(job.progress()), ", ", job.tasks_running(),
      job.tasks_running() == 1 ? " task running" : " tasks running");
}

std::string ProgressMeter::Line(const proto::Job& job, absl::Time now) {
  std::string line = FormatProgress(job);
  if (!job.waiting().empty() || IsFinished(job.state())) return line;
  const double width =
      static_cast<double>(job.range().hi() - job.range().lo()) + 1;
  const double merged = job.progress() * width;
  merged_.Add(now, merged);
  const std::optional<double> rate = merged_.rate();
  if (!rate) return line;
  absl::StrAppend(&line, ", ", FormatRate(*rate));
  if (*rate > 0) {
    const double seconds = (width - merged) / *rate;
    absl::StrAppend(&line, ", ETA ",
                    seconds < 1e7
                        ? Elapsed(static_cast<uint64_t>(seconds) * 1000)
                        : "months");
  }
  return line;
}

std::string FormatTop(const proto::NodeList& nodes, const proto::JobList& jobs,
                      absl::Time now, absl::TimeZone zone,
                      std::map<uint64_t, ProgressMeter>* meters) {
  int running = 0, queued = 0;
  for (const proto::Job& job : jobs.jobs()) {
    running += job.state() == proto::RUNNING;
    queued += job.state() == proto::QUEUED;
  }
  std::string out = absl::StrCat(
      "quark top, ", absl::FormatTime("%H:%M:%S", now, zone), ": ",
      nodes.nodes_size(), nodes.nodes_size() == 1 ? " node, " : " nodes, ",
      running, " job", running == 1 ? "" : "s", " running, ", queued,
      " queued\n\n", FormatNodeList(nodes), "\n");
  std::map<uint64_t, ProgressMeter> seen;
  std::vector<const proto::Job*> ended;
  for (const proto::Job& job : jobs.jobs()) {
    if (IsFinished(job.state())) {
      ended.push_back(&job);
      continue;
    }
    // A bar of 20: one # per 5% merged.
    const int filled =
        static_cast<int>(std::clamp(job.progress(), 0.0, 1.0) * 20);
    ProgressMeter& meter = seen[job.job_id()];
    if (auto it = meters->find(job.job_id()); it != meters->end()) {
      meter = std::move(it->second);
    }
    absl::StrAppend(&out, "[", std::string(filled, '#'),
                    std::string(20 - filled, '.'), "] ", meter.Line(job, now),
                    "\n");
  }
  *meters = std::move(seen);  // those that ended are forgotten
  if (running + queued == 0) out += "(no job running or queued)\n";
  // The newest few that ended (the list is oldest first).
  const size_t shown = std::min<size_t>(ended.size(), 5);
  if (shown > 0) out += "\nended lately:\n";
  for (size_t i = ended.size() - shown; i < ended.size(); ++i) {
    const proto::Job& job = *ended[i];
    absl::StrAppend(
        &out, "job ", job.job_id(), " ", KindName(job.kind()), " ",
        FormatRange(job.range()), ": ", JobStateName(job.state()),
        job.state() == proto::DONE ? absl::StrCat(" ", FormatResult(job))
                                   : std::string(),
        job.speedup() > 0 ? absl::StrFormat(", speed-up %.1fx", job.speedup())
                          : std::string(),
        "\n");
  }
  return out;
}

std::string TokenStateName(proto::TokenState state) {
  switch (state) {
    case proto::TOKEN_ACTIVE:
      return "active";
    case proto::TOKEN_EXPIRED:
      return "expired";
    case proto::TOKEN_USED_UP:
      return "used up";
    case proto::TOKEN_REVOKED:
      return "revoked";
    default:
      return "?";
  }
}

std::string FormatTtl(absl::Duration ttl) {
  ttl = absl::Trunc(ttl, absl::Seconds(1));
  const absl::Duration day = absl::Hours(24);
  if (ttl < 2 * day) return absl::FormatDuration(ttl);
  const int64_t days = absl::IDivDuration(ttl, day, &ttl);
  return absl::StrCat(
      days, "d", ttl == absl::ZeroDuration() ? "" : absl::FormatDuration(ttl));
}

std::string FormatCreatedToken(const proto::Token& token, absl::TimeZone zone) {
  std::string expiry = "never expires";
  if (token.expires_ms() != 0) {
    expiry = absl::StrCat(
        "expires ",
        absl::FormatTime(
            "%Y-%m-%d %H:%M %Z",
            absl::FromUnixMillis(static_cast<int64_t>(token.expires_ms())),
            zone));
    if (token.created_ms() != 0 && token.expires_ms() > token.created_ms()) {
      absl::StrAppend(&expiry, " (in ",
                      FormatTtl(absl::Milliseconds(token.expires_ms() -
                                                   token.created_ms())),
                      ")");
    }
  }
  const std::string uses =
      token.uses() == 0
          ? "unlimited uses"
          : absl::StrCat(token.uses(), token.uses() == 1 ? " use" : " uses");
  // The fingerprint `quark-worker join` prints, to compare.
  const std::string fingerprint = KeyFingerprint(token.controller_key());
  return absl::StrCat(
      "token ", token.id(), ": ", expiry, ", ", uses,
      token.approve() ? ", nodes wait for `quark approve NAME`" : "",
      fingerprint.empty() ? "" : absl::StrCat("; controller key ", fingerprint),
      "\n", "on each node: sudo quark-worker join ", token.token(), "\n");
}

std::string FormatTokenList(const proto::TokenList& tokens,
                            absl::TimeZone zone) {
  std::vector<Row> rows = {
      {"ID", "CREATED", "EXPIRES", "USED", "USES_LEFT", "APPROVE", "STATE"}};
  for (const proto::Token& token : tokens.tokens()) {
    rows.push_back(
        {token.id(), Timestamp(token.created_ms(), zone),
         token.expires_ms() == 0 ? "never"
                                 : Timestamp(token.expires_ms(), zone),
         absl::StrCat(token.used()),
         token.has_uses_left() ? absl::StrCat(token.uses_left()) : "unlimited",
         token.approve() ? "yes" : "no", TokenStateName(token.state())});
  }
  std::string out = Table(rows);
  if (tokens.tokens().empty()) out += "(no tokens)\n";
  return out;
}

std::string FormatRevoked(const proto::Token& token) {
  return absl::StrCat("token ", token.id(),
                      " revoked: it lets no more nodes join; nodes that "
                      "joined with it stay (quark reject NAME removes one)\n");
}

std::string FormatPendingList(const proto::EnrolledList& nodes,
                              absl::TimeZone zone) {
  std::vector<Row> rows = {{"NAME", "KEY", "ADDRESS", "TOKEN", "REQUESTED"}};
  for (const proto::EnrolledNode& node : nodes.nodes()) {
    rows.push_back({node.name(), ShortKey(node.key()),
                    node.address().empty() ? "-" : node.address(),
                    node.token_id().empty() ? "-" : node.token_id(),
                    Timestamp(node.requested_ms(), zone)});
  }
  std::string out = Table(rows);
  if (nodes.nodes().empty()) {
    out += "(no pending nodes)\n";
  } else {
    out += "approve with: quark approve NAME   (or quark reject NAME)\n";
  }
  return out;
}

std::string FormatApproved(const proto::EnrolledNode& node) {
  return absl::StrCat("node ", node.name(),
                      " approved: it joins at its next attempt\n");
}

std::string FormatRejected(const proto::EnrolledNode& node) {
  return absl::StrCat("node ", node.name(),
                      " rejected: its key is refused from now on\n");
}

std::string FormatRate(double numbers_per_second) {
  if (!(numbers_per_second >= 0)) return "-";  // also NaN
  if (numbers_per_second < 1000) {
    return absl::StrFormat("%.0f/s", numbers_per_second);
  }
  // "%.1e" gives "3.1e+09"; the operator reads "3.1e9".
  const std::string scientific = absl::StrFormat("%.1e", numbers_per_second);
  const std::vector<std::string> parts = absl::StrSplit(scientific, 'e');
  int exponent = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &exponent)) {
    return scientific + "/s";
  }
  return absl::StrCat(parts[0], "e", exponent, "/s");
}

std::string FormatAgo(uint64_t ms) {
  if (ms < 60000)
    return absl::StrFormat("%.1fs ago", static_cast<double>(ms) / 1000);
  return absl::StrCat(absl::FormatDuration(absl::Seconds(ms / 1000)), " ago");
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message) {
  ASSIGN_OR_RETURN(std::string json, MessageJson(message));
  return json + "\n";
}

namespace {

// The result as JSON with the fields its kind answers and no other, so that
// no script reads a gaps job's unset count as zero primes; none before the
// job is DONE. Numbers are strings, as protobuf prints 64-bit integers.
std::string ResultJson(proto::Kind kind, const proto::JobResult& r) {
  const KindSpec* spec = FindKind(kind);
  return spec == nullptr ? "{}" : spec->json(r);
}

// The job as one JSON object, without a trailing newline.
absl::StatusOr<std::string> JobObject(const proto::Job& job) {
  proto::Job rest = job;
  rest.clear_result();
  rest.clear_partial();
  ASSIGN_OR_RETURN(std::string json,
                   ToJson(static_cast<const google::protobuf::Message&>(rest)));
  json.pop_back();  // "\n"
  if (job.state() != proto::DONE && !job.has_partial_range()) return json;
  json.pop_back();  // "}"
  if (job.state() == proto::DONE) {
    return absl::StrCat(
        json, ",\"result\":", ResultJson(job.kind(), job.result()), "}");
  }
  return absl::StrCat(
      json, ",\"partial\":", ResultJson(job.kind(), job.partial()), "}");
}

}  // namespace

namespace {

// `text` as a JSON string, quotes included.
std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(&out,
                          absl::StrFormat("\\u%04x", static_cast<int>(c)));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace

std::string ErrorJson(const absl::Status& status, int exit_code) {
  return absl::StrCat("{\"error\":{\"message\":", JsonQuote(status.message()),
                      ",\"exit_code\":", exit_code, "}}\n");
}

absl::StatusOr<std::string> ToJson(const proto::Job& job) {
  ASSIGN_OR_RETURN(std::string json, JobObject(job));
  return json + "\n";
}

absl::StatusOr<std::string> ToJson(const proto::JobList& list) {
  std::vector<std::string> jobs;
  for (const proto::Job& job : list.jobs()) {
    ASSIGN_OR_RETURN(std::string json, JobObject(job));
    jobs.push_back(std::move(json));
  }
  return absl::StrCat("{\"jobs\":[", absl::StrJoin(jobs, ","), "]}\n");
}

}  // namespace quark
