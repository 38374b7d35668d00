#include "controller/scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/health.h"
#include "common/kinds.h"
#include "common/log.h"
#include "common/numbers.h"
#include "common/partial.h"
#include "common/sieve_cost.h"
#include "common/states.h"
#include "common/transport.h"
#include "controller/scheduler_internal.h"

namespace quark {
namespace {

// Whether a node with `budget` bytes can sieve a task ending at `hi` at
// all: one thread in the narrowest slices (common/sieve_cost.h). A node
// that told no budget can.
bool Holds(uint64_t budget, uint64_t hi) {
  return budget == 0 || MinTaskBytes(hi) <= budget;
}

// An idle node's rate falls by e every this many seconds.
constexpr double kRateDecaySeconds = 10;

uint64_t MillisAgo(absl::Time then, absl::Time now) {
  return static_cast<uint64_t>(
      std::max<int64_t>(absl::ToInt64Milliseconds(now - then), 0));
}

}  // namespace

namespace {

using scheduler_internal::UnixMillis;
using scheduler_internal::ValidKind;

// How long a node of `speed` (SieveWork per second; 0: not measured yet)
// and `threads` should take for [lo, hi]; unmeasured, as slow as a Pi.
absl::Duration ExpectedTime(double speed, uint32_t threads, uint64_t lo,
                            uint64_t hi) {
  if (speed <= 0)
    speed = kUnmeasuredSpeedPerThread * std::max<uint32_t>(threads, 1);
  return absl::Seconds(SieveWork(lo, hi) / speed);
}

uint64_t SessionOf(const proto::ControlMsg& msg) {
  switch (msg.body_case()) {
    case proto::ControlMsg::kReady:
      return msg.ready().session();
    case proto::ControlMsg::kHeartbeat:
      return msg.heartbeat().session();
    case proto::ControlMsg::kGoodbye:
      return msg.goodbye().session();
    default:
      return 0;
  }
}

}  // namespace

Scheduler::Scheduler(SchedulerOptions options)
    : options_(std::move(options)),
      next_session_(options_.first_session),
      next_lease_(options_.first_lease),
      draws_(options_.verify_seed) {}

Scheduler::~Scheduler() = default;

// ------------------------------------------------------------- control

std::vector<Outbound> Scheduler::OnControl(const std::string& peer,
                                           const proto::ControlMsg& msg,
                                           absl::Time now,
                                           const std::string& key) {
  if (msg.has_hello()) return OnHello(peer, msg.hello(), now, key);
  std::vector<Outbound> out;
  const uint64_t session = SessionOf(msg);
  if (session == 0) {
    ++refused_;
    QLOG(kWarning) << "unexpected control message peer=" << Printable(peer)
                   << " type=" << msg.body_case();
    return out;
  }
  auto it = nodes_.find(session);
  if (it == nodes_.end() || it->second->name != peer) {
    ++refused_;
    QLOG(kInfo) << "unknown session, asking to re-register peer="
                << Printable(peer) << " session=" << session;
    Outbound reject =
        Reject(peer, absl::StrCat("unknown session ", session), true);
    reject.msg.mutable_reject()->set_session(session);
    out.push_back(std::move(reject));
    return out;
  }
  Node& node = *it->second;
  node.last_heard = now;
  if (!node.leases.empty() || node.sieving) node.last_busy = now;
  switch (msg.body_case()) {
    case proto::ControlMsg::kReady:
      OnReady(node, msg.ready(), &out);
      // Only this node's credits changed: the last Dispatch left no other
      // node with both credit and work, so there is no one else to consider.
      DispatchTo(node, now, &out);
      break;
    case proto::ControlMsg::kGoodbye:
      RemoveNode(session, proto::LEFT, /*crashed=*/false, now, &out);
      Dispatch(now, &out);  // its work, back in the queue, goes out at once
      break;
    case proto::ControlMsg::kHeartbeat:
      node.sieving = msg.heartbeat().sieving();
      if (node.sieving) node.last_busy = now;
      node.health = msg.heartbeat().health();
      break;
    default:
      break;
  }
  return out;
}

std::vector<Outbound> Scheduler::Evict(const std::string& name,
                                       absl::Time now) {
  std::vector<Outbound> out;
  if (Node* node = FindNode(name)) {
    RemoveNode(node->session, proto::EVICTED, /*crashed=*/false, now, &out);
    Dispatch(now, &out);  // its work, back in the queue, goes out at once
  }
  return out;
}

std::vector<Outbound> Scheduler::OnHello(const std::string& peer,
                                         const proto::Hello& hello,
                                         absl::Time now,
                                         const std::string& key) {
  std::vector<Outbound> out;
  if (hello.protocol_version() != kProtocolVersion) {
    ++refused_;
    const std::string reason = absl::StrCat(
        "protocol version ", hello.protocol_version(),
        " is not supported: this controller speaks version ", kProtocolVersion);
    QLOG(kWarning) << "refused worker peer=" << Printable(peer) << " reason=\""
                   << reason << "\"";
    out.push_back(Reject(peer, reason, false));
    return out;
  }
  if (!ValidNodeName(hello.node()) || hello.node() != peer) {
    ++refused_;
    const std::string reason =
        "node name must be 1-64 characters of [A-Za-z0-9._-] and equal the "
        "socket's routing id";
    QLOG(kWarning) << "refused worker peer=" << Printable(peer) << " reason=\""
                   << reason << "\"";
    out.push_back(Reject(peer, reason, false));
    return out;
  }
  if (Node* old = FindNode(hello.node())) {
    // A new incarnation is a new process: the old one died. The same one
    // says Hello again after losing touch, which is no crash.
    const bool restarted = old->incarnation != hello.incarnation();
    RemoveNode(old->session, proto::NODE_STATE_UNSPECIFIED, restarted, now,
               &out, restarted ? "restarted" : "registered again");
  }
  // Back: no longer listed as gone.
  departed_.erase(std::remove_if(departed_.begin(), departed_.end(),
                                 [&](const Departed& d) {
                                   return d.view.name() == hello.node();
                                 }),
                  departed_.end());
  auto node = std::make_unique<Node>();
  node->session = next_session_++;
  node->name = hello.node();
  node->incarnation = hello.incarnation();
  node->key = key;
  node->cores = hello.cores();
  node->threads = hello.threads();
  node->memory_budget = hello.memory_budget();
  node->last_heard = now;
  QLOG(kNotice) << "node joined node=" << node->name
                << " session=" << node->session << " cores=" << node->cores
                << " threads=" << node->threads
                << " memory_budget=" << node->memory_budget;

  proto::ControlMsg welcome;
  auto* w = welcome.mutable_welcome();
  w->set_protocol_version(kProtocolVersion);
  w->set_session(node->session);
  w->set_heartbeat_ms(static_cast<uint32_t>(
      absl::ToInt64Milliseconds(options_.heartbeat_interval)));
  w->set_liveness(static_cast<uint32_t>(options_.liveness));
  w->set_collector(options_.collector_endpoint);
  out.push_back({peer, std::move(welcome)});
  if (drained_.count(node->name)) {
    proto::ControlMsg drain;
    drain.mutable_drain()->set_drain(true);
    out.push_back({peer, std::move(drain)});
  }
  nodes_.emplace(node->session, std::move(node));
  CountNodesTakingWork();
  return out;
}

void Scheduler::OnReady(Node& node, const proto::Ready& ready,
                        std::vector<Outbound>* out) {
  (void)out;
  const uint64_t total = uint64_t{node.credits} + ready.credits();
  if (ready.credits() == 0 || total > options_.max_credits) {
    ++refused_;
    QLOG(kWarning) << "ignored absurd credits node=" << node.name
                   << " credits=" << ready.credits()
                   << " held=" << node.credits;
    return;
  }
  node.credits = static_cast<uint32_t>(total);
}

Outbound Scheduler::Reject(const std::string& peer, const std::string& reason,
                           bool reregister) {
  proto::ControlMsg msg;
  auto* r = msg.mutable_reject();
  r->set_reason(reason);
  r->set_reregister(reregister);
  r->set_protocol_version(kProtocolVersion);
  return {peer, std::move(msg)};
}

Scheduler::Node* Scheduler::FindNode(const std::string& name) {
  for (auto& [session, node] : nodes_) {
    if (node->name == name) return node.get();
  }
  return nullptr;
}

bool Scheduler::HasNode(const std::string& name) const {
  for (const auto& [session, node] : nodes_) {
    if (node->name == name) return true;
  }
  return false;
}

void Scheduler::RemoveNode(uint64_t session, proto::NodeState gone,
                           bool crashed, absl::Time now,
                           std::vector<Outbound>* out, const char* why) {
  auto it = nodes_.find(session);
  if (it == nodes_.end()) return;
  Node& node = *it->second;
  if (why == nullptr) why = NodeStateWord(gone);  // as `quark nodes` says it
  // A worker runs its leases in the order given, so its oldest is the one
  // it was sieving when it died.
  if (crashed && !node.leases.empty()) {
    const LeaseInfo& running = leases_.at(*node.leases.begin());
    Job& job = *jobs_.at(running.job);
    auto task = job.open.find(running.task);
    if (task != job.open.end() &&
        ++task->second.crashes >= options_.max_task_crashes) {
      FailJob(job,
              absl::StrCat("task ", task->second.id, " [", task->second.lo,
                           ", ", task->second.hi, "] was running on ",
                           task->second.crashes,
                           " workers that died (the last: ", node.name,
                           "); giving up on it"),
              now, out);
    }
  }
  int requeued = 0;
  for (uint64_t lease : std::set<uint64_t>(node.leases)) {
    requeued += ReleaseLease(lease, /*requeue=*/true) ? 1 : 0;
  }
  QLOG(kNotice) << "node " << why << " node=" << node.name
                << " session=" << session << " requeued=" << requeued;
  if (gone != proto::NODE_STATE_UNSPECIFIED) {
    Departed departed{NodeView(node, now), now, node.last_heard};
    departed.view.set_state(gone);
    departed.view.set_leases(0);
    departed.view.set_sieving(false);
    departed.view.set_rate(0);
    departed_.push_front(std::move(departed));
    if (departed_.size() > options_.keep_departed) departed_.pop_back();
  }
  nodes_.erase(it);
  CountNodesTakingWork();
}

// Forgets a lease. With `requeue`, a task left with no live lease goes
// back to the front of its job's queue; returns whether that happened.
bool Scheduler::ReleaseLease(uint64_t lease_id, bool requeue) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end()) return false;
  const LeaseInfo lease = it->second;
  leases_.erase(it);
  auto node = nodes_.find(lease.session);
  if (node != nodes_.end()) node->second->leases.erase(lease_id);
  auto job = jobs_.find(lease.job);
  if (job == jobs_.end()) return false;
  auto task = job->second->open.find(lease.task);
  if (task == job->second->open.end()) return false;
  task->second.leases.erase(lease_id);
  if (!requeue || task->second.queued) return false;
  Want(*job->second, task->second, /*front=*/true);
  return task->second.queued;
}

// ------------------------------------------------------------- results

absl::Status Scheduler::OnResult(const proto::ResultMsg& result, absl::Time now,
                                 std::vector<Outbound>* out) {
  absl::StatusOr<Job*> found = JobOf(result);
  if (!found.ok()) {
    ++refused_;
    return found.status();
  }
  Job& job = **found;
  auto task_it = job.open.find(result.task());
  if (task_it == job.open.end()) return OnLateResult(job, result);
  Task& task = task_it->second;
  if (result.range().lo() != task.lo || result.range().hi() != task.hi) {
    ++refused_;
    // Acked and so forgotten by the worker: its lease must not hold the
    // task hostage.
    ReleaseLeaseOf(result, /*requeue=*/true);
    return absl::InvalidArgumentError(absl::StrCat(
        "result range [", result.range().lo(), ", ", result.range().hi(),
        "] does not match task ", task.id, " [", task.lo, ", ", task.hi, "]"));
  }
  if (!result.error().empty()) {
    TaskFailed(job, task, result, now, out);
    return absl::OkStatus();
  }
  // Who computed it: its session's node (whose name CURVE vouches for),
  // else the name it came under (its key's, with CURVE: Inbound).
  auto node = nodes_.find(result.session());
  const std::string name =
      node != nodes_.end() ? node->second->name : result.node();
  if (suspects_.count(name) != 0) {
    // Its results count for nothing until it is trusted again: the task
    // is computed elsewhere.
    QLOG(kInfo) << "result of a suspect node set aside node=" << name
                << " job=" << job.id << " task=" << task.id;
    ReleaseLeaseOf(result, /*requeue=*/true);
    return absl::OkStatus();
  }
  const KindSpec& kind = *FindKind(job.kind);
  if (absl::Status s = CheckPartial(kind, task.lo, task.hi, result.partial());
      !s.ok()) {
    // Not a result of this task at all: the node computes wrongly.
    ++refused_;
    ReleaseLeaseOf(result, /*requeue=*/true);
    MakeSuspect(name, std::string(s.message()), &job, now, out);
    return s;
  }
  if (std::any_of(task.votes.begin(), task.votes.end(),
                  [&](const Vote& v) { return v.node == name; })) {
    // The same node's result again: a copy sent twice, or the results of
    // its lives before and after a freeze (a worker sends what it kept
    // under its new session). One vote; another node must give the next.
    return OnLateResult(job, result, /*requeue=*/true);
  }
  const double seconds = static_cast<double>(result.compute_us()) / 1e6;
  job.task_seconds += seconds;  // merged or not: the work was done
  dirty_jobs_.insert(job.id);
  job.cpu_seconds +=
      seconds *
      (node != nodes_.end() ? std::max(node->second->threads, 1u) : 1);
  if (node != nodes_.end()) {
    CountTaskDone(*node->second, job.kind, task, result, now);
    // A node just come, or computing under-voltage or throttled, is
    // checked by another.
    const bool new_node = ++node->second->results <=
                          static_cast<uint64_t>(options_.verify_first_tasks);
    if (job.verify == proto::VERIFY_SAMPLE &&
        (new_node || (result.throttled_bits() & kNowBits) != 0)) {
      task.quorum = std::max(task.quorum, 2);
    }
  }
  ReleaseLeaseOf(result, /*requeue=*/false);
  if (node != nodes_.end() && node->second->leases.empty() &&
      drained_.count(node->second->name) != 0) {
    QLOG(kNotice) << "node drained node=" << node->second->name
                  << " hint=\"no work left on it: safe to remove\"";
  }
  if (task.votes.empty()) task.first_vote = now;
  task.votes.push_back({name, KeepKindFields(kind, result.partial())});
  Decide(job, task, now, out);
  return absl::OkStatus();
}

// `task`'s votes by result: the indexes of the votes of each distinct
// partial, in the order first seen.
std::vector<std::vector<size_t>> Scheduler::GroupVotes(const Task& task) {
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < task.votes.size(); ++i) {
    auto same = std::find_if(groups.begin(), groups.end(), [&](const auto& g) {
      return SamePartial(task.votes[g.front()].partial, task.votes[i].partial);
    });
    if (same == groups.end()) {
      groups.push_back({i});
    } else {
      same->push_back(i);
    }
  }
  return groups;
}

// Groups `task`'s votes by result and merges the one that has its quorum,
// making the nodes it outvotes suspect; or asks for another result.
void Scheduler::Decide(Job& job, Task& task, absl::Time now,
                       std::vector<Outbound>* out) {
  const std::vector<std::vector<size_t>> groups = GroupVotes(task);
  const auto best = std::max_element(
      groups.begin(), groups.end(),
      [](const auto& a, const auto& b) { return a.size() < b.size(); });
  if (groups.size() > 1 && !task.disputed) {
    task.disputed = true;
    task.quorum = std::max(task.quorum, 2);
    job.verification.set_disagreements(job.verification.disagreements() + 1);
    ++disagreements_;
    std::string nodes;
    for (const Vote& v : task.votes)
      absl::StrAppend(&nodes, nodes.empty() ? "" : ",", v.node);
    QLOG(kWarning) << "results disagree job=" << job.id << " task=" << task.id
                   << " lo=" << task.lo << " hi=" << task.hi
                   << " nodes=" << nodes << " hint=\"another node decides\"";
  }
  if (best != groups.end() &&
      best->size() >= static_cast<size_t>(task.quorum)) {
    Accept(job, task, *best, now, out);
    return;
  }
  if (task.votes.size() >= static_cast<size_t>(options_.max_votes)) {
    FailJob(job,
            absl::StrCat("task ", task.id, " [", task.lo, ", ", task.hi,
                         "]: ", task.votes.size(), " nodes gave ",
                         groups.size(), " different results and no two agree"),
            now, out);
    return;
  }
  const bool overdue = now - task.first_vote >= options_.verify_wait;
  if (overdue || !Verifiable(task)) {
    if (groups.size() == 1 && !task.votes.empty()) {
      // One node taking work, or none that answered in time: nothing to
      // check it against.
      job.verification.set_tasks_unverified(
          job.verification.tasks_unverified() + 1);
      QLOG(kInfo) << (overdue ? "no other node verified in time"
                              : "no other node to verify on")
                  << " job=" << job.id << " task=" << task.id
                  << " node=" << task.votes[0].node;
      Accept(job, task, *best, now, out);
      return;
    }
    // Results that differ, and none to decide: it waits for a node.
  }
  Want(job, task, /*front=*/false);
}

// Merges the result the votes `agreeing` share; the nodes whose results
// differ from it become suspect.
void Scheduler::Accept(Job& job, Task& task,
                       const std::vector<size_t>& agreeing, absl::Time now,
                       std::vector<Outbound>* out) {
  const proto::Partial partial = task.votes[agreeing.front()].partial;
  const std::string first = task.votes[agreeing.front()].node;
  std::vector<std::string> outvoted, winners;
  for (size_t i = 0; i < task.votes.size(); ++i) {
    const bool agrees =
        std::find(agreeing.begin(), agreeing.end(), i) != agreeing.end();
    (agrees ? winners : outvoted).push_back(task.votes[i].node);
  }
  if (absl::Status s = job.acc.Add(task.lo, task.hi, partial); !s.ok()) {
    // Open tasks are never in the accumulator: a bug, not an input.
    QLOG(kError) << "task not merged job=" << job.id << " task=" << task.id
                 << " error=\"" << s.message() << "\"";
    return;
  }
  const bool confirmed = winners.size() >= 2;
  if (confirmed) {
    job.verification.set_tasks_verified(job.verification.tasks_verified() + 1);
    ++tasks_verified_;
    for (const std::string& name : winners) {
      if (Node* n = FindNode(name)) ++n->tasks_confirmed;
    }
  }
  const uint64_t task_id = task.id;
  job.merged[task_id] = {task.lo, task.hi, partial, first, confirmed};
  EndLeases(task, 0, out);
  MergeTask(job, task, partial, first, confirmed);  // `task` is gone
  for (const std::string& name : outvoted) {
    if (Node* n = FindNode(name)) ++n->tasks_outvoted;
    MakeSuspect(
        name,
        absl::StrCat("its result for task ", task_id, " of job ", job.id,
                     " differs from that of ", absl::StrJoin(winners, " and ")),
        &job, now, out);
  }
  CompleteIfDone(job, now, out);
}

// The job `result` is for, if it is of this protocol, names a job and lies
// within it; what is wrong with it if not.
absl::StatusOr<Scheduler::Job*> Scheduler::JobOf(
    const proto::ResultMsg& result) {
  if (result.protocol_version() != kProtocolVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("result of protocol version ", result.protocol_version(),
                     ", expected ", kProtocolVersion));
  }
  auto it = jobs_.find(result.job());
  if (it == jobs_.end()) {
    return absl::NotFoundError(
        absl::StrCat("result for unknown job ", result.job()));
  }
  Job& job = *it->second;
  const uint64_t lo = result.range().lo(), hi = result.range().hi();
  if (lo > hi || lo < job.lo || hi > job.hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("result range [", lo, ", ", hi, "] is not within job ",
                     job.id, " [", job.lo, ", ", job.hi, "]"));
  }
  return &job;
}

// A result for a task of `job` that is not open: merged already (a backup
// lease's, or one sent again after a lost ack) or its job ended. Exactly
// once means it is counted and ignored, and its lease is forgotten.
absl::Status Scheduler::OnLateResult(Job& job, const proto::ResultMsg& result,
                                     bool requeue) {
  if (result.task() == 0 || result.task() >= next_task_) {
    ++refused_;
    return absl::NotFoundError(absl::StrCat("result for unknown task ",
                                            result.task(), " of job ", job.id));
  }
  ++job.duplicates;
  ++duplicates_;
  ++job.version;
  dirty_jobs_.insert(job.id);
  ReleaseLeaseOf(result, requeue);
  return absl::OkStatus();
}

// Forgets the lease `result` came under, if that lease is for its task.
void Scheduler::ReleaseLeaseOf(const proto::ResultMsg& result, bool requeue) {
  auto lease = leases_.find(result.lease());
  if (lease != leases_.end() && lease->second.task == result.task()) {
    ReleaseLease(result.lease(), requeue);
  }
}

// What `node` finishing `task` (of a job of `kind`) tells of it: one more
// task done, how fast it goes, and whether it ran under-voltage or
// throttled.
void Scheduler::CountTaskDone(Node& node, proto::Kind kind, const Task& task,
                              const proto::ResultMsg& result, absl::Time now) {
  ++node.tasks_done;
  node.numbers_done += task.hi - task.lo + 1;
  node.last_busy = now;
  if (const uint32_t bits = result.throttled_bits() & kNowBits; bits != 0) {
    ++node.tasks_throttled;
    QLOG(kNotice) << "task computed while " << HealthWords(bits)
                  << " node=" << node.name << " job=" << task.job
                  << " task=" << task.id;
  }
  const double seconds = static_cast<double>(result.compute_us()) / 1e6;
  RateEstimate& rate = node.rate[kind];
  rate.Add(static_cast<double>(task.hi - task.lo) + 1, seconds);
  node.last_rate = rate.value();
  node.speed.Add(SieveWork(task.lo, task.hi), seconds);
}

// `task`'s partial, already added to the job's accumulator, is recorded
// and the task closed.
void Scheduler::MergeTask(Job& job, Task& task, const proto::Partial& partial,
                          const std::string& node, bool confirmed) {
  MarkTask(task, &partial, node, confirmed);
  const uint64_t task_id = task.id;
  // `task` lives in job.open: read it before it goes.
  numbers_merged_ += task.hi - task.lo + 1;
  job.requeued.erase(
      std::remove(job.requeued.begin(), job.requeued.end(), task_id),
      job.requeued.end());
  job.open.erase(task_id);
  ++job.tasks_done;
  ++tasks_merged_;
  ++job.version;
  dirty_jobs_.insert(job.id);
}

void Scheduler::CompleteIfDone(Job& job, absl::Time now,
                               std::vector<Outbound>* out) {
  if (!job.Active() || !job.acc.Complete()) return;
  if (job.cross_checked()) {
    if (!job.verification.has_cross_check_count()) return;  // waits for it
    const uint64_t sieved = job.acc.Whole().count();
    const uint64_t expected = job.verification.cross_check_count();
    if (sieved != expected) {
      std::vector<uint64_t> unconfirmed;
      for (const auto& [id, merged] : job.merged) {
        if (!merged.confirmed) unconfirmed.push_back(id);
      }
      if (!job.escalated && !unconfirmed.empty()) {
        job.escalated = true;
        QLOG(kWarning) << "count differs from primecount's job=" << job.id
                       << " sieved=" << sieved << " primecount=" << expected
                       << " hint=\"computing every unconfirmed task again on "
                          "another node\" tasks="
                       << unconfirmed.size();
        Reopen(job, unconfirmed, /*keep_vote=*/true);
        Dispatch(now, out);
        return;
      }
      job.verification.set_cross_check(proto::CROSS_CHECK_DISAGREED);
      FailJob(job,
              absl::StrCat("the count ", sieved,
                           (unconfirmed.empty()
                                ? ", on which two nodes agreed for every task,"
                                : ""),
                           " differs from primecount's ", expected),
              now, out);
      return;
    }
    job.verification.set_cross_check(proto::CROSS_CHECK_AGREED);
  }
  job.result = ToJobResult(job.kind, job.acc.Whole());
  FinishJob(job, proto::DONE, now);
}

// A worker could not compute `task` (result.error says why): the lease
// goes, the task goes back to the queue, and the failure counts toward
// the task's poison limit like a crash.
void Scheduler::TaskFailed(Job& job, Task& task, const proto::ResultMsg& result,
                           absl::Time now, std::vector<Outbound>* out) {
  QLOG(kWarning) << "task failed on a worker node=" << result.node()
                 << " job=" << job.id << " task=" << task.id << " error=\""
                 << result.error() << "\"";
  if (++task.crashes >= options_.max_task_crashes) {
    FailJob(job,
            absl::StrCat("task ", task.id, " [", task.lo, ", ", task.hi,
                         "] failed on ", task.crashes,
                         " workers (the last said: ", result.error(), ")"),
            now, out);
    return;
  }
  ReleaseLeaseOf(result, /*requeue=*/true);
}

// Forgets every lease on `task`, telling each holder but `except_lease`'s
// to drop it.
void Scheduler::EndLeases(Task& task, uint64_t except_lease,
                          std::vector<Outbound>* out) {
  CancelLeases(task, except_lease, out);
  for (uint64_t lease : std::set<uint64_t>(task.leases)) {
    ReleaseLease(lease, /*requeue=*/false);
  }
}

// Tells every holder of a lease on `task`, but `except_lease`'s, to drop it.
void Scheduler::CancelLeases(Task& task, uint64_t except_lease,
                             std::vector<Outbound>* out) {
  for (uint64_t lease_id : task.leases) {
    if (lease_id == except_lease) continue;
    auto lease = leases_.find(lease_id);
    if (lease == leases_.end()) continue;
    auto node = nodes_.find(lease->second.session);
    if (node == nodes_.end()) continue;
    proto::ControlMsg cancel;
    cancel.mutable_cancel()->add_leases(lease_id);
    out->push_back({node->second->name, std::move(cancel)});
  }
}

void Scheduler::FailJob(Job& job, const std::string& error, absl::Time now,
                        std::vector<Outbound>* out) {
  job.error = error;
  QLOG(kError) << "job failed job=" << job.id << " error=\"" << error << "\"";
  StopJob(job, proto::FAILED, now, out);
}

// Ends an unfinished job: its leases are cancelled at their holders.
void Scheduler::StopJob(Job& job, proto::JobState state, absl::Time now,
                        std::vector<Outbound>* out) {
  for (auto& [id, task] : job.open) EndLeases(task, 0, out);
  FinishJob(job, state, now);
}

void Scheduler::FinishJob(Job& job, proto::JobState state, absl::Time now) {
  queue_.erase(job.QueueKey());
  if (state != proto::DONE) {
    // Its merged tasks are forgotten with it: keep what they add up to.
    job.final_progress = job.acc.Progress();
    const uint64_t frontier = job.acc.Frontier();
    if (!job.acc.Complete() && frontier > job.lo) {
      job.partial = ToJobResult(job.kind, job.acc.Whole());
      job.partial_hi = frontier - 1;
    }
  }
  job.state = state;
  job.finished = now;
  job.requeued.clear();
  job.open.clear();
  job.merged.clear();
  ++job.version;
  dirty_jobs_.insert(job.id);
  finished_.push_back(job.id);
  QLOG(kNotice) << "job finished job=" << job.id
                << " state=" << proto::JobState_Name(state)
                << " tasks=" << job.tasks_done
                << " duplicates=" << job.duplicates;
  ForgetOldJobs();
}

void Scheduler::ForgetOldJobs() {
  while (finished_.size() > options_.keep_finished) {
    const uint64_t id = finished_.front();
    finished_.pop_front();
    jobs_.erase(id);
    dirty_jobs_.erase(id);
    deleted_jobs_.push_back(id);
  }
}

// ---------------------------------------------------------- scheduling

std::vector<Outbound> Scheduler::OnTick(absl::Time now) {
  std::vector<Outbound> out;
  const absl::Duration limit = options_.heartbeat_interval * options_.liveness;
  std::vector<uint64_t> lost;
  for (const auto& [session, node] : nodes_) {
    if (now - node->last_heard > limit) lost.push_back(session);
  }
  for (uint64_t session : lost) {
    RemoveNode(session, proto::LOST, /*crashed=*/true, now, &out);
  }
  while (!departed_.empty() &&
         now - departed_.back().when > options_.forget_departed_after) {
    departed_.pop_back();
  }
  if (now - last_heartbeat_ >= options_.heartbeat_interval) {
    last_heartbeat_ = now;
    for (const auto& [session, node] : nodes_) {
      proto::ControlMsg hb;
      hb.mutable_heartbeat();
      out.push_back({node->name, std::move(hb)});
    }
  }
  // On the tick, not on every message: the decision waits seconds anyway.
  FailUnplaceableJobs(now, &out);
  SettleUnverifiable(now, &out);
  Dispatch(now, &out);
  return out;
}

// Spends credits on work, one assignment at a time to the node holding the
// fewest leases, so that work spreads over all nodes before any node gets
// a second task. A node for which nothing fits is passed over, not the end
// of the round: a smaller node may not hold what a larger one can.
void Scheduler::Dispatch(absl::Time now, std::vector<Outbound>* out) {
  std::set<uint64_t> passed;  // sessions that got nothing this round
  while (true) {
    Node* best = nullptr;
    for (auto& [session, node] : nodes_) {
      if (node->credits == 0 || !TakesWork(*node) || passed.count(session)) {
        continue;
      }
      if (best == nullptr || node->leases.size() < best->leases.size()) {
        best = node.get();
      }
    }
    if (best == nullptr) return;
    if (AssignOne(*best, now, out)) continue;
    if (best->leases.empty() && AssignBackup(*best, now, out)) continue;
    passed.insert(best->session);
  }
}

ChunkRequest Scheduler::RequestFor(const Job& job, const Node& node) const {
  ChunkRequest request;
  request.next = job.next;
  request.hi = job.hi;
  auto rate = node.rate.find(job.kind);
  request.rate = rate == node.rate.end() ? 0 : rate->second.value();
  request.nodes = taking_work_;
  auto last = node.last_task.find(job.kind);
  request.last = last == node.last_task.end() ? 0 : last->second;
  return request;
}

std::optional<uint64_t> Scheduler::NextTaskHi(const Job& job,
                                              const Node& node) const {
  if (const Task* task = QueuedFor(job, node)) return task->hi;
  if (job.cut_all) return std::nullopt;
  return job.next +
         (ChooseTaskNumbers(options_.chunk, RequestFor(job, node)) - 1);
}

const Scheduler::Task* Scheduler::QueuedFor(const Job& job,
                                            const Node& node) const {
  for (uint64_t id : job.requeued) {
    const Task& task = job.open.at(id);
    if (MayRun(node, task)) return &task;
  }
  return nullptr;
}

// A job whose next task is beyond the memory of every node taking work
// would wait for ever, or crash the workers it went to: after
// unplaceable_after (nodes may still be joining) it fails with the
// figures. Nodes that did not tell their budget hold anything; with no
// node taking work nothing is decided.
void Scheduler::FailUnplaceableJobs(absl::Time now,
                                    std::vector<Outbound>* out) {
  std::vector<Job*> doomed;
  for (const auto& key : queue_) {
    Job& job = *jobs_.at(std::get<2>(key));
    if (!job.HasWork()) continue;
    const Node* largest = nullptr;
    bool placeable = false;
    uint64_t hi = 0;
    for (const auto& [session, node] : nodes_) {
      if (!TakesWork(*node)) continue;
      const std::optional<uint64_t> next = NextTaskHi(job, *node);
      if (!next) continue;  // nothing it may run (a verifier is wanted)
      hi = *next;
      if (Holds(node->memory_budget, hi)) {
        placeable = true;
        break;
      }
      if (largest == nullptr || node->memory_budget > largest->memory_budget) {
        largest = node.get();
      }
    }
    if (placeable || largest == nullptr) {
      job.unplaceable_since = absl::InfiniteFuture();
      continue;
    }
    job.unplaceable_since = std::min(job.unplaceable_since, now);
    if (now - job.unplaceable_since >= options_.unplaceable_after) {
      job.error =
          absl::StrCat("no node can hold a task ending at ", hi,
                       ": it needs at least ", FormatSize(MinTaskBytes(hi)),
                       " (one thread), and the most any node "
                       "may use is ",
                       FormatSize(largest->memory_budget), " (", largest->name,
                       "); give a node more memory or a larger --memory_limit");
      doomed.push_back(&job);
    }
  }
  for (Job* job : doomed) FailJob(*job, job->error, now, out);
}

void Scheduler::DispatchTo(Node& node, absl::Time now,
                           std::vector<Outbound>* out) {
  if (!TakesWork(node)) return;
  while (node.credits > 0) {
    if (AssignOne(node, now, out)) continue;
    if (node.leases.empty()) AssignBackup(node, now, out);
    return;
  }
}

// Gives idle `node` a second copy of the task whose single lease is the
// oldest of those overdue: running for longer than backup_after and than
// twice what its node should take. A straggler (a throttled Pi, a node on
// a bad link) then no longer holds its job back, while a task that is long
// by nature (a minimum task at 1e18 is minutes) is not sieved twice.
bool Scheduler::AssignBackup(Node& node, absl::Time now,
                             std::vector<Outbound>* out) {
  Job* best_job = nullptr;
  Task* best_task = nullptr;
  absl::Time oldest = absl::InfiniteFuture();
  for (const auto& key : queue_) {
    Job& job = *jobs_.at(std::get<2>(key));
    for (auto& [id, task] : job.open) {
      if (task.leases.size() != 1 || !Holds(node.memory_budget, task.hi) ||
          !MayRun(node, task)) {
        continue;
      }
      const LeaseInfo& lease = leases_.at(*task.leases.begin());
      if (lease.session == node.session || lease.start >= oldest ||
          now - lease.start < options_.backup_after) {
        continue;
      }
      auto holder = nodes_.find(lease.session);
      if (holder != nodes_.end() &&
          now - lease.start < 2 * ExpectedTime(holder->second->speed.value(),
                                               holder->second->threads, task.lo,
                                               task.hi)) {
        continue;
      }
      oldest = lease.start;
      best_job = &job;
      best_task = &task;
    }
    if (best_task != nullptr) break;  // the best job with a straggler
  }
  if (best_task == nullptr) return false;
  QLOG(kInfo) << "backup task node=" << node.name << " job=" << best_job->id
              << " task=" << best_task->id
              << " running_for=" << absl::FormatDuration(now - oldest);
  Lease(node, *best_job, *best_task, now, out);
  return true;
}

// The first job with work whose next task `node` can hold.
bool Scheduler::AssignOne(Node& node, absl::Time now,
                          std::vector<Outbound>* out) {
  for (const auto& key : queue_) {
    Job& job = *jobs_.at(std::get<2>(key));
    if (!job.HasWork()) continue;
    const std::optional<uint64_t> hi = NextTaskHi(job, node);
    if (!hi || !Holds(node.memory_budget, *hi)) continue;
    Lease(node, job, *TakeTask(job, node), now, out);
    return true;
  }
  return false;
}

void Scheduler::Lease(Node& node, Job& job, Task& task, absl::Time now,
                      std::vector<Outbound>* out) {
  LeaseInfo lease{next_lease_++, job.id, task.id, node.session, now};
  leases_.emplace(lease.id, lease);
  node.leases.insert(lease.id);
  --node.credits;
  task.leases.insert(lease.id);
  ++task.attempts;
  Want(job, task, /*front=*/true);  // a second copy at once, if verified
  if (job.state != proto::RUNNING) dirty_jobs_.insert(job.id);
  if (job.started == absl::InfinitePast()) job.started = now;
  job.state = proto::RUNNING;
  ++job.version;

  proto::ControlMsg msg;
  auto* a = msg.mutable_assign();
  a->set_lease(lease.id);
  a->set_job(job.id);
  a->set_task(task.id);
  a->set_attempt(task.attempts);
  a->set_kind(job.kind);
  a->mutable_range()->set_lo(task.lo);
  a->mutable_range()->set_hi(task.hi);
  QLOG(kDebug) << "assign node=" << node.name << " job=" << job.id
               << " task=" << task.id << " lease=" << lease.id
               << " lo=" << task.lo << " hi=" << task.hi
               << " attempt=" << task.attempts;
  out->push_back({node.name, std::move(msg)});
}

// A task for `node` from `job`: a lost one first, else a new one cut from
// the front of the range to the chunk policy's size.
Scheduler::Task* Scheduler::TakeTask(Job& job, Node& node) {
  if (const Task* queued = QueuedFor(job, node)) {
    Task& task = job.open.at(queued->id);
    job.requeued.erase(
        std::find(job.requeued.begin(), job.requeued.end(), task.id));
    task.queued = false;
    return &task;
  }
  const uint64_t size =
      ChooseTaskNumbers(options_.chunk, RequestFor(job, node));
  Task task;
  task.id = next_task_++;
  task.job = job.id;
  task.lo = job.next;
  task.hi = job.next + (size - 1);
  task.quorum = FirstQuorum(job);
  node.last_task[job.kind] = size;
  if (task.hi == job.hi) {
    job.cut_all = true;
  } else {
    job.next = task.hi + 1;
  }
  dirty_jobs_.insert(job.id);
  MarkTask(task, nullptr);
  return &job.open.emplace(task.id, std::move(task)).first->second;
}

void Scheduler::CountNodesTakingWork() {
  int n = 0;
  for (const auto& [session, node] : nodes_) {
    if (TakesWork(*node)) ++n;
  }
  taking_work_ = std::max(n, 1);
}

// ---------------------------------------------------------- verification

bool Scheduler::TakesWork(const Node& node) const {
  return drained_.count(node.name) == 0 && suspects_.count(node.name) == 0;
}

// Not a node that computed it already or is computing it.
bool Scheduler::MayRun(const Node& node, const Task& task) const {
  for (const Vote& vote : task.votes) {
    if (vote.node == node.name) return false;
  }
  for (uint64_t lease : task.leases) {
    if (leases_.at(lease).session == node.session) return false;
  }
  // A second copy goes to a node running as it should, when one can take it.
  if (!task.votes.empty() || !task.leases.empty()) {
    auto unwell = [](const Node& n) {
      return (n.health.throttled_bits() & kNowBits) != 0;
    };
    if (unwell(node)) {
      for (const auto& [session, other] : nodes_) {
        if (other.get() != &node && TakesWork(*other) && !unwell(*other) &&
            MayRun(*other, task)) {
          return false;
        }
      }
    }
  }
  return true;
}

// Leases on `task` whose holders have not voted on it: those whose result
// can still count.
size_t Scheduler::FreshLeases(const Task& task) const {
  size_t fresh = 0;
  for (uint64_t id : task.leases) {
    auto node = nodes_.find(leases_.at(id).session);
    const bool voted =
        node != nodes_.end() &&
        std::any_of(task.votes.begin(), task.votes.end(), [&](const Vote& v) {
          return v.node == node->second->name;
        });
    fresh += voted ? 0 : 1;
  }
  return fresh;
}

bool Scheduler::Verifiable(const Task& task) const {
  if (FreshLeases(task) > 0) return true;
  return std::any_of(nodes_.begin(), nodes_.end(), [&](const auto& entry) {
    return TakesWork(*entry.second) && MayRun(*entry.second, task);
  });
}

void Scheduler::Want(Job& job, Task& task, bool front) {
  if (task.queued || !job.Active()) return;
  size_t agreeing = 0;  // the largest group of equal results
  for (const auto& group : GroupVotes(task)) {
    agreeing = std::max(agreeing, group.size());
  }
  if (agreeing + FreshLeases(task) >= static_cast<size_t>(task.quorum)) {
    return;
  }
  if (front) {
    job.requeued.push_front(task.id);
  } else {
    job.requeued.push_back(task.id);
  }
  task.queued = true;
  ++job.version;
}

int Scheduler::FirstQuorum(const Job& job) {
  switch (job.verify) {
    case proto::VERIFY_ALL:
      return 2;
    case proto::VERIFY_NONE:
      return 1;
    default:
      return std::uniform_real_distribution<double>(0, 1)(draws_) <
                     options_.verify_fraction
                 ? 2
                 : 1;
  }
}

// A task waiting for a second result whose possible verifiers have all
// gone, or that has waited verify_wait, is taken as its one node computed
// it (Decide).
void Scheduler::SettleUnverifiable(absl::Time now, std::vector<Outbound>* out) {
  std::vector<std::pair<uint64_t, uint64_t>> settle;  // job, task
  for (const auto& key : queue_) {
    const Job& job = *jobs_.at(std::get<2>(key));
    for (const auto& [id, task] : job.open) {
      if (!task.votes.empty() &&
          (now - task.first_vote >= options_.verify_wait ||
           (task.queued && !Verifiable(task)))) {
        settle.emplace_back(job.id, id);
      }
    }
  }
  for (const auto& [job_id, task_id] : settle) {
    auto job = jobs_.find(job_id);
    if (job == jobs_.end() || !job->second->Active()) continue;
    auto task = job->second->open.find(task_id);
    if (task == job->second->open.end()) continue;
    Decide(*job->second, task->second, now, out);
  }
}

void Scheduler::MakeSuspect(const std::string& name, const std::string& reason,
                            Job* job, absl::Time now,
                            std::vector<Outbound>* out) {
  if (job != nullptr) {
    const auto& listed = job->verification.suspects();
    if (std::find(listed.begin(), listed.end(), name) == listed.end()) {
      job->verification.add_suspects(name);
      dirty_jobs_.insert(job->id);  // the list is stored with the job
    }
  }
  if (suspects_.count(name) != 0) return;
  proto::StoredSuspect& suspect = suspects_[name];
  suspect.set_node(name);
  suspect.set_since_ms(UnixMillis(now));
  suspect.set_reason(reason);
  // The latest word on a node wins on disk: the store writes suspects
  // before it deletes the trusted.
  std::erase(dirty_trusted_, name);
  dirty_suspects_.push_back(suspect);
  QLOG(kWarning) << "node suspect node=" << name << " reason=\"" << reason
                 << "\" hint=\"it gets no work until quark trust " << name
                 << "\"";
  if (Node* node = FindNode(name)) {
    // What it holds goes to others.
    proto::ControlMsg cancel;
    for (uint64_t lease : node->leases)
      cancel.mutable_cancel()->add_leases(lease);
    if (!node->leases.empty()) out->push_back({node->name, std::move(cancel)});
    for (uint64_t lease : std::set<uint64_t>(node->leases)) {
      ReleaseLease(lease, /*requeue=*/true);
    }
  }
  CountNodesTakingWork();
  // Its results that no other node confirmed are computed again, and its
  // votes on open tasks count no more.
  for (const auto& key :
       std::set<std::tuple<int64_t, uint64_t, uint64_t>>(queue_)) {
    Job& j = *jobs_.at(std::get<2>(key));
    std::vector<uint64_t> redo;
    for (const auto& [id, merged] : j.merged) {
      if (!merged.confirmed && merged.node == name) redo.push_back(id);
    }
    for (auto& [id, task] : j.open) {
      const size_t before = task.votes.size();
      std::erase_if(task.votes, [&](const Vote& v) { return v.node == name; });
      if (task.votes.size() != before) Want(j, task, /*front=*/true);
    }
    if (!redo.empty()) {
      QLOG(kNotice) << "computing a suspect's results again node=" << name
                    << " job=" << j.id << " tasks=" << redo.size();
      Reopen(j, redo, /*keep_vote=*/false);
    }
  }
  Dispatch(now, out);
}

void Scheduler::Reopen(Job& job, const std::vector<uint64_t>& ids,
                       bool keep_vote) {
  for (uint64_t id : ids) {
    auto it = job.merged.find(id);
    if (it == job.merged.end()) continue;
    Task task;
    task.id = id;
    task.job = job.id;
    task.lo = it->second.lo;
    task.hi = it->second.hi;
    task.quorum = FirstQuorum(job);
    if (keep_vote) {
      task.votes.push_back({it->second.node, it->second.partial});
      task.quorum = 2;
    }
    job.merged.erase(it);
    MarkTask(task, nullptr);
    Task& open = job.open.emplace(id, std::move(task)).first->second;
    Want(job, open, /*front=*/true);
    --job.tasks_done;
    job.verification.set_tasks_redone(job.verification.tasks_redone() + 1);
  }
  job.acc = RangeAccumulator(job.lo, job.hi);
  for (const auto& [id, merged] : job.merged) {
    if (absl::Status s = job.acc.Add(merged.lo, merged.hi, merged.partial);
        !s.ok()) {
      QLOG(kError) << "merged task does not fit job=" << job.id
                   << " task=" << id << " error=\"" << s.message() << "\"";
    }
  }
  ++job.version;
  dirty_jobs_.insert(job.id);
}

// ------------------------------------------------------------ operator

absl::StatusOr<proto::Job> Scheduler::Submit(const proto::Submit& submit,
                                             absl::Time now,
                                             std::vector<Outbound>* out) {
  if (!ValidKind(submit.kind())) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown search kind ", static_cast<int>(submit.kind()),
                     ": expected ", KindNames()));
  }
  if (!submit.has_range()) {
    return absl::InvalidArgumentError("submit without a range");
  }
  const uint64_t lo = submit.range().lo(), hi = submit.range().hi();
  if (lo > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty range: lo ", lo, " is greater than hi ", hi));
  }
  if (!proto::Verify_IsValid(submit.verify())) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown verify mode ", static_cast<int>(submit.verify()),
                     ": expected sample, all or none"));
  }
  auto job = std::make_unique<Job>(lo, hi);
  job->id = next_job_++;
  job->kind = submit.kind();
  job->priority = submit.priority();
  job->verify = submit.verify() == proto::VERIFY_UNSPECIFIED
                    ? proto::VERIFY_SAMPLE
                    : submit.verify();
  job->verification.set_mode(job->verify);
  if (job->verify == proto::VERIFY_SAMPLE) {
    job->verification.set_fraction(options_.verify_fraction);
  }
  if (job->kind == proto::COUNT && job->verify != proto::VERIFY_NONE &&
      hi <= options_.cross_check_max) {
    job->verification.set_cross_check(proto::CROSS_CHECK_PENDING);
    cross_checks_.push_back({job->id, lo, hi});
  }
  job->seq = next_submit_seq_++;
  job->submitted = now;
  queue_.insert(job->QueueKey());
  QLOG(kNotice) << "job submitted job=" << job->id
                << " kind=" << proto::Kind_Name(job->kind) << " lo=" << lo
                << " hi=" << hi << " priority=" << job->priority
                << " verify=" << VerifyWord(job->verify);
  Job& ref = *job;
  dirty_jobs_.insert(job->id);
  jobs_.emplace(job->id, std::move(job));
  Dispatch(now, out);
  return JobView(ref);
}

absl::StatusOr<proto::Job> Scheduler::CancelJob(uint64_t job_id, absl::Time now,
                                                std::vector<Outbound>* out) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    return absl::NotFoundError(absl::StrCat("no job ", job_id));
  }
  Job& job = *it->second;
  if (!job.Active()) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", job_id, " has already ended: ",
                     absl::AsciiStrToLower(proto::JobState_Name(job.state))));
  }
  StopJob(job, proto::CANCELLED, now, out);
  return JobView(job);
}

absl::StatusOr<proto::Node> Scheduler::Drain(const std::string& name,
                                             bool drain, absl::Time now,
                                             std::vector<Outbound>* out) {
  Node* node = FindNode(name);
  if (node == nullptr) {
    return absl::NotFoundError(absl::StrCat("no node named '", name, "'"));
  }
  if (drain) {
    drained_.insert(name);
  } else {
    drained_.erase(name);
  }
  dirty_drains_.emplace_back(name, drain);
  CountNodesTakingWork();
  if (!drain) {
    QLOG(kNotice) << "node undrained node=" << name;
  } else if (node->leases.empty()) {
    QLOG(kNotice) << "node drained node=" << name
                  << " hint=\"no work left on it: safe to remove\"";
  } else {
    QLOG(kNotice) << "node draining node=" << name
                  << " leases=" << node->leases.size()
                  << " hint=\"drained once they finish\"";
  }
  proto::ControlMsg msg;
  msg.mutable_drain()->set_drain(drain);
  out->push_back({node->name, std::move(msg)});
  if (!drain) Dispatch(now, out);
  return NodeView(*node, now);
}

absl::StatusOr<proto::Node> Scheduler::Trust(const std::string& name,
                                             absl::Time now,
                                             std::vector<Outbound>* out) {
  Node* node = FindNode(name);
  if (suspects_.erase(name) == 0) {
    if (node == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no node named '", name, "' is connected or suspect"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("node ", name, " is not suspect"));
  }
  std::erase_if(dirty_suspects_, [&](const proto::StoredSuspect& s) {
    return s.node() == name;
  });
  dirty_trusted_.push_back(name);
  QLOG(kNotice) << "node trusted node=" << name
                << " hint=\"its next results are verified, as after a join\"";
  CountNodesTakingWork();
  if (node == nullptr) {
    proto::Node view;
    view.set_name(name);
    return view;
  }
  node->results = 0;
  Dispatch(now, out);
  return NodeView(*node, now);
}

std::vector<CrossCheckRequest> Scheduler::TakeCrossChecks() {
  return std::exchange(cross_checks_, {});
}

void Scheduler::OnCrossCheck(uint64_t job_id, std::optional<uint64_t> count,
                             absl::Time now, std::vector<Outbound>* out) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || !it->second->Active() ||
      !it->second->cross_checked() ||
      it->second->verification.has_cross_check_count()) {
    return;  // ended (cancelled, say) meanwhile
  }
  Job& job = *it->second;
  if (count) {
    job.verification.set_cross_check_count(*count);
    QLOG(kInfo) << "primecount's count job=" << job.id << " count=" << *count;
  } else {
    job.verification.set_cross_check(proto::CROSS_CHECK_UNSPECIFIED);
  }
  ++job.version;
  dirty_jobs_.insert(job.id);
  CompleteIfDone(job, now, out);
}

absl::StatusOr<proto::Job> Scheduler::GetJob(uint64_t job_id) const {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    return absl::NotFoundError(absl::StrCat("no job ", job_id));
  }
  return JobView(*it->second);
}

std::vector<proto::Job> Scheduler::ListJobs() const {
  std::vector<proto::Job> jobs;
  for (const auto& [id, job] : jobs_) jobs.push_back(JobView(*job));
  return jobs;
}

Scheduler::JobSummary Scheduler::SummarizeJobs(size_t ended) const {
  JobSummary summary;
  for (const auto& [id, job] : jobs_) {
    ++summary.by_state[job->state];
    if (job->Active()) summary.unfinished.push_back(JobView(*job));
  }
  for (auto it = finished_.rbegin();
       it != finished_.rend() && summary.ended.size() < ended; ++it) {
    if (auto job = jobs_.find(*it); job != jobs_.end()) {
      summary.ended.push_back(JobView(*job->second));
    }
  }
  return summary;
}

std::vector<proto::Node> Scheduler::ListNodes(absl::Time now) const {
  std::vector<const Node*> sorted;
  for (const auto& [session, node] : nodes_) sorted.push_back(node.get());
  std::sort(sorted.begin(), sorted.end(),
            [](const Node* a, const Node* b) { return a->name < b->name; });
  std::vector<proto::Node> nodes;
  for (const Node* node : sorted) nodes.push_back(NodeView(*node, now));
  return nodes;
}

std::vector<proto::Node> Scheduler::ListDeparted(absl::Time now) const {
  std::vector<proto::Node> nodes;
  for (const Departed& d : departed_) {
    if (now - d.when > options_.forget_departed_after) break;  // not pruned yet
    proto::Node view = d.view;
    view.set_last_heard_ms_ago(MillisAgo(d.last_heard, now));
    view.set_departed_ms_ago(MillisAgo(d.when, now));
    nodes.push_back(std::move(view));
  }
  return nodes;
}

proto::Job Scheduler::JobView(const Job& job) const {
  proto::Job view;
  view.set_job_id(job.id);
  view.set_kind(job.kind);
  view.mutable_range()->set_lo(job.lo);
  view.mutable_range()->set_hi(job.hi);
  view.set_priority(job.priority);
  view.set_state(job.state);
  if (job.state == proto::DONE) *view.mutable_result() = job.result;
  view.set_error(job.error);
  view.set_submitted_ms(UnixMillis(job.submitted));
  view.set_finished_ms(UnixMillis(job.finished));
  view.set_tasks_done(job.tasks_done);
  uint64_t running = 0;
  for (const auto& [id, task] : job.open)
    running += task.leases.empty() ? 0 : 1;
  view.set_tasks_running(running);
  view.set_duplicates(job.duplicates);
  view.set_progress(job.state == proto::DONE ? 1.0
                    : job.Active()           ? job.acc.Progress()
                                             : job.final_progress);
  if (job.partial) {
    *view.mutable_partial() = *job.partial;
    view.mutable_partial_range()->set_lo(job.lo);
    view.mutable_partial_range()->set_hi(job.partial_hi);
  }
  view.set_started_ms(
      job.started == absl::InfinitePast() ? 0 : UnixMillis(job.started));
  view.set_task_seconds(job.task_seconds);
  view.set_cpu_seconds(job.cpu_seconds);
  if (!job.Active() && job.started != absl::InfinitePast() &&
      job.task_seconds > 0) {
    const double wall = absl::ToDoubleSeconds(job.finished - job.started);
    if (wall > 0) view.set_speedup(job.task_seconds / wall);
  }
  *view.mutable_verification() = job.verification;
  view.set_version(job.version);
  if (job.state == proto::QUEUED) view.set_waiting(WhyWaiting(job));
  if (job.state == proto::RUNNING) view.set_waiting(WhyStalled(job));
  return view;
}

// Why queued `job` has no task yet: the first reason that holds, in the
// order Dispatch meets them.
std::string Scheduler::WhyWaiting(const Job& job) const {
  if (nodes_.empty()) return "no node is connected";
  if (std::all_of(nodes_.begin(), nodes_.end(), [this](const auto& entry) {
        return !TakesWork(*entry.second);
      })) {
    const bool any_suspect =
        std::any_of(nodes_.begin(), nodes_.end(), [this](const auto& entry) {
          return suspects_.count(entry.second->name) != 0;
        });
    return any_suspect ? "every node is drained or suspect"
                       : "every node is drained";
  }
  for (const auto& key : queue_) {
    const Job& ahead = *jobs_.at(std::get<2>(key));
    if (ahead.id == job.id) break;
    if (ahead.HasWork()) {
      return absl::StrCat("behind job ", ahead.id, " (priority ",
                          ahead.priority, ")");
    }
  }
  if (job.unplaceable_since != absl::InfiniteFuture()) {
    return "no node taking work can hold its next task (memory)";
  }
  return "every node is busy";
}

// What running `job` waits for that no node is computing: primecount, or
// a node to decide a disagreement; "" when it waits for nothing.
std::string Scheduler::WhyStalled(const Job& job) const {
  if (job.acc.Complete()) return "primecount's cross-check of the count";
  for (const auto& [id, task] : job.open) {
    if (!task.disputed || Verifiable(task)) continue;
    std::vector<std::string> nodes;
    for (const Vote& vote : task.votes) nodes.push_back(vote.node);
    return absl::StrCat("a node other than ", absl::StrJoin(nodes, " and "),
                        " to decide task ", id,
                        ", on which their results differ (start one, or "
                        "cancel the job)");
  }
  return "";
}

proto::Node Scheduler::NodeView(const Node& node, absl::Time now) const {
  proto::Node view;
  view.set_name(node.name);
  view.set_state(drained_.count(node.name) ? proto::DRAINING : proto::ACTIVE);
  view.set_cores(node.cores);
  view.set_threads(node.threads);
  view.set_tasks_done(node.tasks_done);
  view.set_numbers_done(node.numbers_done);
  view.set_rate(node.last_rate);
  if (node.leases.empty() && !node.sieving) {
    // Idle: what it did a while ago is not what it does now.
    const double idle = absl::ToDoubleSeconds(now - node.last_busy);
    const double decay = std::exp(-std::max(idle, 0.0) / kRateDecaySeconds);
    view.set_rate(decay < 1e-3 ? 0 : node.last_rate * decay);
  }
  view.set_last_heard_ms_ago(MillisAgo(node.last_heard, now));
  view.set_leases(static_cast<uint32_t>(node.leases.size()));
  view.set_session(node.session);
  view.set_key(node.key);
  view.set_memory_budget(node.memory_budget);
  view.set_speed(node.speed.value());
  view.set_sieving(node.sieving);
  const proto::Health& health = node.health;
  if (health.has_temperature_celsius()) {
    view.set_temperature_celsius(health.temperature_celsius());
  }
  if (health.has_throttled_bits()) {
    view.set_throttled_bits(health.throttled_bits());
    view.set_under_voltage(UnderVoltageNow(health.throttled_bits()));
    view.set_throttled(ThrottledNow(health.throttled_bits()));
  }
  if (health.has_memory_available_bytes()) {
    view.set_memory_available_bytes(health.memory_available_bytes());
  }
  if (health.has_load1()) view.set_load1(health.load1());
  view.set_tasks_throttled(node.tasks_throttled);
  if (auto suspect = suspects_.find(node.name); suspect != suspects_.end()) {
    view.set_suspect(true);
    view.set_suspect_reason(suspect->second.reason());
    view.set_suspect_ms_ago(MillisAgo(
        absl::FromUnixMillis(static_cast<int64_t>(suspect->second.since_ms())),
        now));
  }
  view.set_tasks_confirmed(node.tasks_confirmed);
  view.set_tasks_outvoted(node.tasks_outvoted);
  return view;
}

}  // namespace quark
