#include "cli/run.h"

#include <algorithm>
#include <map>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/format.h"
#include "cli/usage.h"
#include "common/keys.h"
#include "common/sieve_cost.h"
#include "common/states.h"
#include "common/status.h"

namespace quark {
namespace {

absl::Status Unexpected(const proto::ApiReply& reply) {
  return absl::InternalError(
      absl::StrCat("unexpected reply from the controller (body case ",
                   reply.body_case(), ")"));
}

absl::StatusOr<proto::Job> CallForJob(ApiCaller& api,
                                      const proto::ApiRequest& request,
                                      absl::Duration timeout) {
  ASSIGN_OR_RETURN(proto::ApiReply reply, api.Call(request, timeout));
  if (!reply.has_job()) return Unexpected(reply);
  return std::move(*reply.mutable_job());
}

bool Ended(const proto::Job& job) { return IsFinished(job.state()); }

// `status`, from a wait on job `id` that stopped before the job ended, with
// what became of the job and the commands to go on: it runs on, whatever
// this process does.
absl::Status JobGoesOn(const absl::Status& status, uint64_t id) {
  const std::string follow =
      absl::StrCat("`quark job ", id, " --wait` follows it");
  if (absl::IsCancelled(status)) {
    return absl::CancelledError(
        absl::StrCat("interrupted; job ", id, " goes on: ", follow,
                     ", `quark cancel ", id, "` stops it"));
  }
  if (absl::IsDeadlineExceeded(status) || absl::IsUnavailable(status)) {
    return absl::Status(status.code(),
                        absl::StrCat(status.message(), "; job ", id,
                                     " goes on where the controller keeps it: ",
                                     follow, " again once it answers"));
  }
  return status;
}

// Long-polls the job until it ends; returns it as it ended.
absl::StatusOr<proto::Job> WaitForEnd(proto::Job job, const Command& command,
                                      ApiCaller& api,
                                      const RunOptions& options) {
  while (!Ended(job)) {
    if (options.progress) options.progress(job);
    proto::ApiRequest request;
    proto::Watch* watch = request.mutable_watch();
    watch->set_job_id(job.job_id());
    watch->set_after_version(job.version());
    watch->set_timeout_ms(static_cast<uint32_t>(
        absl::ToInt64Milliseconds(options.watch_interval)));
    absl::StatusOr<proto::Job> next =
        CallForJob(api, request, options.watch_interval + command.timeout);
    if (!next.ok()) return JobGoesOn(next.status(), job.job_id());
    job = *std::move(next);
  }
  if (options.progress) options.progress(job);
  return job;
}

// The output of a job that has ended, and the exit status it implies.
Outcome Ending(const proto::Job& job, bool json) {
  Outcome outcome;
  if (json) {
    auto text = ToJson(job);
    if (!text.ok()) return {"", text.status()};
    outcome.out = *text;
  }
  switch (job.state()) {
    case proto::DONE:
      if (!json) outcome.out = FormatResult(job) + "\n";
      break;
    case proto::FAILED:
      outcome.status = absl::AbortedError(absl::StrCat(
          "job ", job.job_id(), " failed: ", job.error(),
          job.has_partial_range() ? "; " : "", FormatPartial(job)));
      break;
    default:
      outcome.status = absl::AbortedError(absl::StrCat(
          "job ", job.job_id(), " was cancelled",
          job.has_partial_range() ? "; " : "", FormatPartial(job)));
      break;
  }
  return outcome;
}

// `human` applied to the reply's message, or its JSON.
template <typename Message>
Outcome Print(
    const Message& message, bool json,
    const std::type_identity_t<std::function<std::string(const Message&)>>&
        human) {
  if (!json) return {human(message), absl::OkStatus()};
  auto text = ToJson(message);
  if (!text.ok()) return {"", text.status()};
  return {*text, absl::OkStatus()};
}

Outcome JobOutcome(proto::Job job, const Command& command, ApiCaller& api,
                   const RunOptions& options);

// A job this long is shown with its estimate before it is submitted.
constexpr double kLongJobSeconds = 24 * 3600;
// No node is slower than this: below kLongJobSeconds x this much work no
// job can take a day, and the submit asks the controller nothing more.
constexpr double kSlowestSpeed = 0.1;

std::string FormatDuration(double seconds) {
  if (seconds >= 2 * 86400)
    return absl::StrFormat("%.1f days", seconds / 86400);
  return absl::StrFormat("%.0f hours", seconds / 3600);
}

// The question or note for a submit the cluster would need more than a day
// for, from the nodes' measured speeds and the range's height; nullopt for
// a shorter job, or with no node to tell.
std::optional<std::string> LongJobEstimate(const Command& command,
                                           ApiCaller& api) {
  const double work = SieveWork(command.lo, command.hi);
  if (work < kLongJobSeconds * kSlowestSpeed) return std::nullopt;
  proto::ApiRequest request;
  request.mutable_list_nodes();
  auto reply = api.Call(request, command.timeout);
  if (!reply.ok() || !reply->has_nodes()) return std::nullopt;
  double speed = 0;
  int nodes = 0;
  bool assumed = false;
  for (const proto::Node& node : reply->nodes().nodes()) {
    if (node.state() != proto::ACTIVE) continue;
    ++nodes;
    if (node.speed() > 0) {
      speed += node.speed();
    } else {
      speed +=
          kUnmeasuredSpeedPerThread * std::max<uint32_t>(node.threads(), 1);
      assumed = true;
    }
  }
  if (nodes == 0) return std::nullopt;
  const double seconds = work / speed;
  if (seconds < kLongJobSeconds) return std::nullopt;
  return absl::StrCat(
      "this job would take about ", FormatDuration(seconds), " on the ", nodes,
      nodes == 1 ? " node" : " nodes", " taking work now",
      assumed ? " (some not measured yet: assumed as slow as a Pi)" : "");
}

Outcome RunJobCommand(const Command& command, ApiCaller& api,
                      const RunOptions& options) {
  std::optional<std::string> estimate;
  if (command.verb == Verb::kSubmit && !command.yes) {
    estimate = LongJobEstimate(command, api);
    if (estimate && options.confirm &&
        !options.confirm(absl::StrCat(*estimate, ". Submit it? [y/N] "))) {
      return {"", absl::CancelledError(
                      "not submitted (--yes submits without asking)")};
    }
  }
  auto job = CallForJob(api, BuildRequest(command), command.timeout);
  if (!job.ok()) return {"", job.status()};
  // Not on a terminal: no one to ask; whoever reads the log learns it,
  // before a --wait of days rather than after.
  std::string note;
  if (estimate && !options.confirm) {
    note = absl::StrCat("note: job ", job->job_id(), ": ", *estimate, "\n");
    if (options.note) {
      options.note(note);
      note.clear();
    }
  }
  Outcome outcome = JobOutcome(*std::move(job), command, api, options);
  outcome.err = note + outcome.err;
  return outcome;
}

// What a job command prints once the controller answered with `job`.
Outcome JobOutcome(proto::Job job, const Command& command, ApiCaller& api,
                   const RunOptions& options) {
  if (command.wait) {
    auto ended = WaitForEnd(std::move(job), command, api, options);
    if (!ended.ok()) return {"", ended.status()};
    return Ending(*ended, command.json);
  }
  std::function<std::string(const proto::Job&)> human;
  switch (command.verb) {
    case Verb::kSubmit:
      human = FormatSubmitted;
      break;
    case Verb::kCancel:
      human = FormatCancelled;
      break;
    default:
      human = [&options](const proto::Job& j) {
        return FormatJob(j, options.zone);
      };
  }
  return Print(job, command.json, human);
}

// The token alone on stdout, so that `TOKEN=$(quark token create)` works;
// what it allows goes to stderr, for the person at the terminal.
Outcome Created(const proto::Token& token, bool json, absl::TimeZone zone) {
  if (json) {
    auto text = ToJson(token);
    if (!text.ok()) return {"", text.status()};
    return {*text, absl::OkStatus()};
  }
  Outcome outcome;
  outcome.out = token.token() + "\n";
  outcome.err = FormatCreatedToken(token, zone);
  return outcome;
}

Outcome RunTokenCommand(const Command& command, const proto::ApiReply& reply,
                        absl::TimeZone zone) {
  if (command.verb == Verb::kTokenList) {
    if (!reply.has_tokens()) return {"", Unexpected(reply)};
    return Print<proto::TokenList>(
        reply.tokens(), command.json,
        [zone](const proto::TokenList& t) { return FormatTokenList(t, zone); });
  }
  if (!reply.has_token()) return {"", Unexpected(reply)};
  if (command.verb == Verb::kTokenRevoke) {
    return Print<proto::Token>(reply.token(), command.json, FormatRevoked);
  }
  if (reply.token().token().empty()) {
    return {"", absl::InternalError(
                    "the controller's reply to CreateToken has no token")};
  }
  return Created(reply.token(), command.json, zone);
}

Outcome RunEnrollCommand(const Command& command, const proto::ApiReply& reply,
                         absl::TimeZone zone) {
  if (command.verb == Verb::kNodes) {  // --pending
    if (!reply.has_enrolled()) return {"", Unexpected(reply)};
    return Print<proto::EnrolledList>(reply.enrolled(), command.json,
                                      [zone](const proto::EnrolledList& l) {
                                        return FormatPendingList(l, zone);
                                      });
  }
  if (!reply.has_enrolled_node()) return {"", Unexpected(reply)};
  return Print<proto::EnrolledNode>(
      reply.enrolled_node(), command.json,
      command.verb == Verb::kApprove ? FormatApproved : FormatRejected);
}

// Shown on a terminal when no --limit says otherwise.
constexpr int kTerminalJobs = 20;

// What `quark jobs` shows of `all`: the jobs in the states asked for, the
// newest `limit` of them (ids grow with submission), oldest first; `hidden`
// counts those the limit left out.
proto::JobList SelectJobs(const proto::JobList& all, const Command& command,
                          const RunOptions& options, size_t* hidden) {
  std::vector<const proto::Job*> picked;
  for (const proto::Job& job : all.jobs()) {
    if (command.states.empty() || command.states.count(job.state()) != 0) {
      picked.push_back(&job);
    }
  }
  std::sort(picked.begin(), picked.end(),
            [](const proto::Job* a, const proto::Job* b) {
              return a->job_id() < b->job_id();
            });
  const int limit = command.limit >= 0                  ? command.limit
                    : options.terminal && !command.json ? kTerminalJobs
                                                        : 0;
  *hidden = 0;
  if (limit > 0 && picked.size() > static_cast<size_t>(limit)) {
    *hidden = picked.size() - static_cast<size_t>(limit);
    picked.erase(picked.begin(),
                 picked.begin() + static_cast<ptrdiff_t>(*hidden));
  }
  proto::JobList out;
  for (const proto::Job* job : picked) *out.add_jobs() = *job;
  return out;
}

// `quark top`: a frame every interval, until Ctrl-C or --iterations. A
// controller that does not answer is said in the frame, and asked again
// at the next one: top outlives a controller restart.
Outcome RunTop(const Command& command, ApiCaller& api,
               const RunOptions& options) {
  Outcome outcome;
  std::map<uint64_t, ProgressMeter> meters;
  const int iterations = command.iterations >= 0 ? command.iterations
                         : options.terminal      ? 0
                                                 : 1;
  for (int i = 0; iterations == 0 || i < iterations; ++i) {
    if (i > 0 && options.pause && !options.pause(command.interval)) break;
    proto::ApiRequest nodes_request, jobs_request;
    nodes_request.mutable_list_nodes();
    jobs_request.mutable_list_jobs();
    absl::StatusOr<proto::ApiReply> nodes =
        api.Call(nodes_request, command.timeout);
    absl::StatusOr<proto::ApiReply> jobs =
        nodes.ok() ? api.Call(jobs_request, command.timeout) : nodes;
    std::string frame;
    if (!nodes.ok() || !jobs.ok()) {
      const absl::Status& error = nodes.ok() ? jobs.status() : nodes.status();
      if (absl::IsCancelled(error)) break;  // Ctrl-C during the call
      frame =
          absl::StrCat("quark top: ", error.message(), "; asking again every ",
                       absl::FormatDuration(command.interval), "\n");
    } else if (!nodes->has_nodes() || !jobs->has_jobs()) {
      frame = absl::StrCat(
          "quark top: ",
          Unexpected(!nodes->has_nodes() ? *nodes : *jobs).message(), "\n");
    } else {
      frame = FormatTop(nodes->nodes(), jobs->jobs(), absl::Now(), options.zone,
                        &meters);
    }
    if (options.show) {
      options.show(frame);
    } else {
      absl::StrAppend(&outcome.out, i > 0 ? "\n" : "", frame);
    }
  }
  return outcome;
}

Outcome RunOtherCommand(const Command& command, ApiCaller& api,
                        const RunOptions& options) {
  auto reply = api.Call(BuildRequest(command), command.timeout);
  if (!reply.ok()) return {"", reply.status()};
  switch (command.verb) {
    case Verb::kJobs: {
      if (!reply->has_jobs()) return {"", Unexpected(*reply)};
      size_t hidden = 0;
      const proto::JobList shown =
          SelectJobs(reply->jobs(), command, options, &hidden);
      Outcome outcome =
          Print<proto::JobList>(shown, command.json, FormatJobList);
      if (hidden > 0 && !command.json) {
        absl::StrAppend(&outcome.out, "(", hidden,
                        hidden == 1 ? " older job" : " older jobs",
                        " not shown: --limit 0 shows all)\n");
      }
      return outcome;
    }
    case Verb::kNodes:
      if (command.pending) {
        return RunEnrollCommand(command, *reply, options.zone);
      }
      if (!reply->has_nodes()) return {"", Unexpected(*reply)};
      return Print<proto::NodeList>(reply->nodes(), command.json,
                                    FormatNodeList);
    case Verb::kApprove:
    case Verb::kReject:
      return RunEnrollCommand(command, *reply, options.zone);
    case Verb::kTokenCreate:
    case Verb::kTokenList:
    case Verb::kTokenRevoke:
      return RunTokenCommand(command, *reply, options.zone);
    default:  // drain, undrain, trust
      if (!reply->has_node()) return {"", Unexpected(*reply)};
      return Print<proto::Node>(reply->node(), command.json, FormatNodeState);
  }
}

}  // namespace

proto::ApiRequest BuildRequest(const Command& command) {
  proto::ApiRequest request;
  switch (command.verb) {
    case Verb::kSubmit: {
      proto::Submit* submit = request.mutable_submit();
      submit->set_kind(command.kind);
      submit->mutable_range()->set_lo(command.lo);
      submit->mutable_range()->set_hi(command.hi);
      submit->set_priority(command.priority);
      submit->set_verify(command.verify);
      break;
    }
    case Verb::kJob:
      request.mutable_get_job()->set_job_id(command.job_id);
      break;
    case Verb::kCancel:
      request.mutable_cancel()->set_job_id(command.job_id);
      break;
    case Verb::kJobs:
      request.mutable_list_jobs();
      break;
    case Verb::kNodes:
      if (command.pending) {
        request.mutable_list_pending();
      } else {
        request.mutable_list_nodes();
      }
      break;
    case Verb::kDrain:
      request.mutable_drain()->set_node(command.node);
      break;
    case Verb::kUndrain:
      request.mutable_undrain()->set_node(command.node);
      break;
    case Verb::kTrust:
      request.mutable_trust()->set_node(command.node);
      break;
    case Verb::kTokenCreate: {
      proto::CreateToken* create = request.mutable_create_token();
      create->set_ttl_ms(
          static_cast<uint64_t>(absl::ToInt64Milliseconds(command.ttl)));
      create->set_uses(command.uses);
      create->set_approve(command.approve);
      break;
    }
    case Verb::kTokenList:
      request.mutable_list_tokens();
      break;
    case Verb::kTokenRevoke:
      request.mutable_revoke_token()->set_id(command.token_id);
      break;
    case Verb::kApprove:
      request.mutable_approve()->set_name(command.node);
      break;
    case Verb::kReject:
      request.mutable_reject()->set_name(command.node);
      break;
    case Verb::kHelp:
    case Verb::kVersion:
    case Verb::kKeygen:
    case Verb::kTop:  // asks for nodes and jobs itself (RunTop)
      break;
  }
  return request;
}

Outcome RunCommand(const Command& command, ApiCaller& api,
                   const RunOptions& options) {
  switch (command.verb) {
    case Verb::kHelp:
      return {UsageText(command.topic), absl::OkStatus()};
    case Verb::kVersion:
      return {absl::StrCat("quark ", options.version, "\n"), absl::OkStatus()};
    case Verb::kKeygen: {
      auto key = WriteKeyPair(command.dir, command.name);
      // Whatever went wrong is here, not at a controller: exit 2.
      if (!key.ok())
        return {"", absl::InvalidArgumentError(key.status().message())};
      const std::string base = absl::StrCat(command.dir, "/", command.name);
      return {absl::StrCat("wrote ", base, ".key (secret, mode 0600) and ",
                           base, ".pub\n", command.name, " ", *key, "\n"),
              absl::OkStatus()};
    }
    case Verb::kSubmit:
    case Verb::kJob:
    case Verb::kCancel:
      return RunJobCommand(command, api, options);
    case Verb::kTop:
      return RunTop(command, api, options);
    default:
      return RunOtherCommand(command, api, options);
  }
}

int ExitCode(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnimplemented:
      return 2;
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnavailable:
      return 3;
    default:
      return 1;
  }
}

}  // namespace quark
