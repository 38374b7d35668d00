// The controller's brain: membership, the job queue, leases and merging, as
// a pure state machine.
//
// Every call takes an event and `now` and returns the control messages to
// send; the scheduler owns no socket, reads no clock and starts no thread
// (the server loop in server.h does all I/O). That makes every scheduling
// decision testable with a fake clock.
//
// Guarantees (docs/protocol.md):
//  - a node never holds more leases than the credits it granted;
//  - a lost or departed node's leases go back to the queue at once;
//  - a task's partial is merged exactly once: the first valid result, or,
//    when the task is verified, the result two distinct nodes agree on
//    (docs/security.md); later copies are counted as duplicates;
//  - a rejected request or message changes nothing.
//
// Not thread-safe: one thread (the server loop) drives it.
#ifndef QUARK_CONTROLLER_SCHEDULER_H_
#define QUARK_CONTROLLER_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/chunk_policy.h"
#include "controller/range_accumulator.h"
#include "controller/store.h"
#include "proto/quark.pb.h"
#include "proto/store.pb.h"

namespace quark {

struct SchedulerOptions {
  // Heartbeats go out every interval; a node silent for `liveness`
  // intervals is lost.
  absl::Duration heartbeat_interval = absl::Seconds(1);
  int liveness = 3;
  // Advertised to workers in Welcome: where to push results.
  std::string collector_endpoint = "tcp://*:7701";
  // Backup tasks (MapReduce): when a job has nothing left to hand out, an
  // idle node gets a second copy of the task whose lease is oldest, if that
  // lease is older than this. The first result wins; the other is cancelled.
  absl::Duration backup_after = absl::Seconds(4);
  // A job whose next task no node taking work has the memory for fails
  // after this long (nodes may still be joining); 0 fails it at once.
  absl::Duration unplaceable_after = absl::Seconds(10);
  // A task running on this many workers that died (lost, or restarted as a
  // new process) fails its job instead of taking down node after node.
  int max_task_crashes = 3;
  // Finished jobs kept (listed, and on disk) before the oldest is
  // forgotten: memory and the state file grow with this, not with history.
  size_t keep_finished = 10000;
  // Nodes gone (lost, left, evicted) stay listed this long, at most this
  // many, so that the operator sees what became of them.
  absl::Duration forget_departed_after = absl::Minutes(10);
  size_t keep_departed = 100;
  // Credits a node may hold at once; more is refused as absurd.
  uint32_t max_credits = 64;
  // First session and lease ids; the server seeds them randomly so that a
  // restarted controller never mistakes an old session or lease for a new
  // one.
  uint64_t first_session = 1;
  uint64_t first_lease = 1;
  ChunkOptions chunk;
  // Verification (docs/security.md). Of a VERIFY_SAMPLE job, the share of
  // tasks drawn at random to be computed again on another node; and, in
  // any case, a node's first `verify_first_tasks` results after it joins
  // (or is trusted again) and every result computed under-voltage or
  // throttled. The draws come from `verify_seed` (the server seeds it
  // randomly).
  double verify_fraction = 0.05;
  int verify_first_tasks = 3;
  uint64_t verify_seed = 1;
  // Results of one task that may all differ before its job fails.
  int max_votes = 5;
  // A task whose second result has not come this long after its first is
  // taken as its first node computed it (counted unverified): a verifier
  // that stalls (a frozen or cut-off node that is not lost yet, or one
  // stuck on other work) does not hold its job for ever.
  absl::Duration verify_wait = absl::Seconds(20);
  // A count job (not --verify=none) up to this hi is cross-checked as a
  // whole by primecount (TakeCrossChecks, OnCrossCheck); 0: none.
  uint64_t cross_check_max = 0;
};

// A count to cross-check: pi(hi) - pi(lo - 1) by primecount.
struct CrossCheckRequest {
  uint64_t job = 0;
  uint64_t lo = 0, hi = 0;
};

// A control message for the worker named `node`. The scheduler knows
// workers by name only; Inbound (controller/inbound.h) sends it to the
// connection the node last spoke on.
struct Outbound {
  std::string node;
  proto::ControlMsg msg;
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // --- Worker events -----------------------------------------------------

  // A control message from the worker `peer`: its authorized name with
  // CURVE, its routing id without (which a worker sets to its name, and a
  // Hello must say). `key` is the CURVE public key the worker
  // authenticated with (empty without CURVE); a Hello records it for
  // ListNodes.
  std::vector<Outbound> OnControl(const std::string& peer,
                                  const proto::ControlMsg& msg, absl::Time now,
                                  const std::string& key = {});

  // The node's key was revoked: it is removed as if it had left, its
  // leases go back to the queue and to the other nodes. Nothing is sent
  // to it; the server tells it why.
  std::vector<Outbound> Evict(const std::string& name, absl::Time now);

  // A result from the collector. Invalid results are rejected (returned
  // as an error) and change nothing.
  absl::Status OnResult(const proto::ResultMsg& result, absl::Time now,
                        std::vector<Outbound>* out);

  // Time passes: expires silent nodes, sends heartbeats, hands out work.
  std::vector<Outbound> OnTick(absl::Time now);

  // --- Operator requests (the API) -----------------------------------------

  absl::StatusOr<proto::Job> Submit(const proto::Submit& submit, absl::Time now,
                                    std::vector<Outbound>* out);
  absl::StatusOr<proto::Job> CancelJob(uint64_t job_id, absl::Time now,
                                       std::vector<Outbound>* out);
  absl::StatusOr<proto::Node> Drain(const std::string& name, bool drain,
                                    absl::Time now, std::vector<Outbound>* out);
  // Clears the suspect mark of node `name` (connected or not).
  absl::StatusOr<proto::Node> Trust(const std::string& name, absl::Time now,
                                    std::vector<Outbound>* out);

  // --- Cross-checks ----------------------------------------------------------

  // Counts to compute with primecount, each asked for once (after a
  // Restore, again for the jobs still waiting).
  std::vector<CrossCheckRequest> TakeCrossChecks();
  // primecount's answer for job `job_id`'s range (none: it could not
  // count, and the job goes without the check). A job whose tasks are
  // all merged waits for it; if the sieve's count differs, every task not
  // confirmed by a second node is computed again on one, and if the count
  // still differs the job fails.
  void OnCrossCheck(uint64_t job_id, std::optional<uint64_t> count,
                    absl::Time now, std::vector<Outbound>* out);

  absl::StatusOr<proto::Job> GetJob(uint64_t job_id) const;
  std::vector<proto::Job> ListJobs() const;
  // What the metrics, the status page and systemd's status line need once
  // a second, without a proto for each of the keep_finished jobs kept:
  // the jobs in each state, the unfinished ones (by id) and the `ended`
  // that finished last (newest first).
  struct JobSummary {
    std::map<proto::JobState, uint64_t> by_state;
    std::vector<proto::Job> unfinished;
    std::vector<proto::Job> ended;
  };
  JobSummary SummarizeJobs(size_t ended) const;
  std::vector<proto::Node> ListNodes(absl::Time now) const;
  // Nodes gone (lost, left, evicted) within forget_departed_after, most
  // recent first; not kept on disk.
  std::vector<proto::Node> ListDeparted(absl::Time now) const;
  // Whether a node of that name is registered.
  bool HasNode(const std::string& name) const;

  // Messages refused since start (bad frames, unknown sessions, ...), as
  // Inbound::refused and Authenticator::refused count theirs.
  uint64_t refused() const { return refused_; }
  // Since this controller started: tasks merged, and results ignored as
  // duplicates (every job's, forgotten ones too).
  uint64_t tasks_merged() const { return tasks_merged_; }
  // Numbers in the tasks merged: the cluster's throughput (status page).
  uint64_t numbers_merged() const { return numbers_merged_; }
  uint64_t duplicates() const { return duplicates_; }
  // Since this controller started: tasks whose result two nodes or more
  // agreed on, and tasks whose results differed.
  uint64_t tasks_verified() const { return tasks_verified_; }
  uint64_t disagreements() const { return disagreements_; }
  // Nodes marked suspect now, connected or not.
  size_t suspects() const { return suspects_.size(); }

  // --- Durability (controller/store.h) ---------------------------------------

  // Rebuilds the jobs of an earlier run. Call once, before anything else.
  // Tasks that were out on lease go back to the queue; merged ones stay
  // merged. Fails, changing nothing, on records that do not fit together.
  absl::Status Restore(const StoredState& state);

  // The records changed since the last call, to be committed before any
  // message produced since then is sent.
  StoreBatch TakeChanges();

 private:
  struct Task;
  struct Job;
  struct Node;
  struct LeaseInfo;
  struct Vote;
  struct Departed {
    proto::Node view;  // as it was when it went
    absl::Time when;
    absl::Time last_heard;
  };

  std::vector<Outbound> OnHello(const std::string& peer,
                                const proto::Hello& hello, absl::Time now,
                                const std::string& key);
  void OnReady(Node& node, const proto::Ready& ready,
               std::vector<Outbound>* out);
  // Forgets a node, its leases back in the queue. `gone` (LOST, LEFT,
  // EVICTED) lists it in ListDeparted for a while; NODE_STATE_UNSPECIFIED
  // when a new session replaces it. `why` is for the log (default: the
  // word for `gone`).
  void RemoveNode(uint64_t session, proto::NodeState gone, bool crashed,
                  absl::Time now, std::vector<Outbound>* out,
                  const char* why = nullptr);
  bool AssignBackup(Node& node, absl::Time now, std::vector<Outbound>* out);
  void Lease(Node& node, Job& job, Task& task, absl::Time now,
             std::vector<Outbound>* out);
  void FailJob(Job& job, const std::string& error, absl::Time now,
               std::vector<Outbound>* out);
  absl::StatusOr<Job*> JobOf(const proto::ResultMsg& result);
  // With `requeue`, a task left wanting a result goes back to the queue.
  absl::Status OnLateResult(Job& job, const proto::ResultMsg& result,
                            bool requeue = false);
  void CountTaskDone(Node& node, proto::Kind kind, const Task& task,
                     const proto::ResultMsg& result, absl::Time now);
  // Verification: the results so far of `task` decide it, or it waits
  // for another.
  void Decide(Job& job, Task& task, absl::Time now, std::vector<Outbound>* out);
  static std::vector<std::vector<size_t>> GroupVotes(const Task& task);
  void Accept(Job& job, Task& task, const std::vector<size_t>& agreeing,
              absl::Time now, std::vector<Outbound>* out);
  void MakeSuspect(const std::string& name, const std::string& reason, Job* job,
                   absl::Time now, std::vector<Outbound>* out);
  // Puts merged tasks of `job` back in the queue, their accumulator
  // rebuilt without them; with `keep_vote`, their result stays as one
  // vote and a second node must agree.
  void Reopen(Job& job, const std::vector<uint64_t>& ids, bool keep_vote);
  // Whether some node other than its voters is computing `task` or could.
  bool Verifiable(const Task& task) const;
  size_t FreshLeases(const Task& task) const;
  bool MayRun(const Node& node, const Task& task) const;
  bool TakesWork(const Node& node) const;
  // Queues `task` for another lease if it wants one.
  void Want(Job& job, Task& task, bool front);
  int FirstQuorum(const Job& job);
  // Tasks waiting for a verifier that no node can be any more (ticks).
  void SettleUnverifiable(absl::Time now, std::vector<Outbound>* out);
  void MergeTask(Job& job, Task& task, const proto::Partial& partial,
                 const std::string& node, bool confirmed);
  // DONE once every task is merged (and primecount agrees).
  void CompleteIfDone(Job& job, absl::Time now, std::vector<Outbound>* out);
  void TaskFailed(Job& job, Task& task, const proto::ResultMsg& result,
                  absl::Time now, std::vector<Outbound>* out);
  void Dispatch(absl::Time now, std::vector<Outbound>* out);
  void DispatchTo(Node& node, absl::Time now, std::vector<Outbound>* out);
  bool AssignOne(Node& node, absl::Time now, std::vector<Outbound>* out);
  Task* TakeTask(Job& job, Node& node);
  // The first task in `job`'s queue that `node` may run; null if none.
  const Task* QueuedFor(const Job& job, const Node& node) const;
  ChunkRequest RequestFor(const Job& job, const Node& node) const;
  // The last number of the task TakeTask would give `node` from `job`;
  // none when `job` has nothing `node` may run.
  std::optional<uint64_t> NextTaskHi(const Job& job, const Node& node) const;
  // Fails the jobs whose next task no node taking work has been able to
  // hold for unplaceable_after (called on ticks).
  void FailUnplaceableJobs(absl::Time now, std::vector<Outbound>* out);
  bool ReleaseLease(uint64_t lease_id, bool requeue);
  void ReleaseLeaseOf(const proto::ResultMsg& result, bool requeue);
  void CancelLeases(Task& task, uint64_t except_lease,
                    std::vector<Outbound>* out);
  void EndLeases(Task& task, uint64_t except_lease, std::vector<Outbound>* out);
  void StopJob(Job& job, proto::JobState state, absl::Time now,
               std::vector<Outbound>* out);
  void FinishJob(Job& job, proto::JobState state, absl::Time now);
  void ForgetOldJobs();
  void CountNodesTakingWork();
  proto::Job JobView(const Job& job) const;
  std::string WhyWaiting(const Job& job) const;
  std::string WhyStalled(const Job& job) const;
  proto::Node NodeView(const Node& node, absl::Time now) const;
  Node* FindNode(const std::string& name);
  Outbound Reject(const std::string& peer, const std::string& reason,
                  bool reregister);
  void MarkTask(const Task& task, const proto::Partial* partial,
                const std::string& node = {}, bool confirmed = false);
  proto::StoredJob Record(const Job& job) const;
  static absl::StatusOr<std::unique_ptr<Job>> FromRecord(
      const proto::StoredJob& r);
  absl::Status RestoreTask(Job& job, const StoredTask& t);

  const SchedulerOptions options_;
  uint64_t next_session_;
  uint64_t next_job_ = 1;
  uint64_t next_task_ = 1;
  uint64_t next_lease_;
  uint64_t next_submit_seq_ = 0;
  uint64_t refused_ = 0;
  uint64_t tasks_merged_ = 0, duplicates_ = 0, numbers_merged_ = 0;
  uint64_t tasks_verified_ = 0, disagreements_ = 0;
  std::mt19937_64 draws_;  // which tasks are verified
  std::map<std::string, proto::StoredSuspect> suspects_;  // by node name
  std::vector<CrossCheckRequest> cross_checks_;           // not taken yet
  int taking_work_ = 1;  // registered nodes not drained, at least 1
  absl::Time last_heartbeat_ = absl::InfinitePast();

  std::map<uint64_t, std::unique_ptr<Job>> jobs_;  // by id
  // Jobs that may still get work, best first: (-priority, submit order).
  std::set<std::tuple<int64_t, uint64_t, uint64_t>> queue_;
  std::map<uint64_t, std::unique_ptr<Node>> nodes_;  // by session
  absl::flat_hash_map<uint64_t, LeaseInfo> leases_;  // by id
  std::set<std::string> drained_;                    // node names
  std::deque<Departed> departed_;                    // most recent first
  // Changed since the last TakeChanges().
  std::set<uint64_t> dirty_jobs_;
  std::vector<uint64_t> deleted_jobs_;
  std::vector<std::pair<std::string, bool>> dirty_drains_;
  std::vector<proto::StoredSuspect> dirty_suspects_;
  std::vector<std::string> dirty_trusted_;
  uint64_t stored_next_job_ = 0, stored_next_task_ = 0;
  std::deque<uint64_t> finished_;  // ids of finished jobs, oldest first
  std::map<uint64_t, StoredTask> dirty_tasks_;
};

}  // namespace quark

#endif  // QUARK_CONTROLLER_SCHEDULER_H_
