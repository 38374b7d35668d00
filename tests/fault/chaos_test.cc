// A seeded chaos run: jobs counting the primes in [0, 2e10] run back to
// back on a few workers while a random schedule kills (kill -9, SIGTERM),
// freezes (SIGSTOP, SIGCONT later), cuts off (iptables DROP, healed later),
// restarts and adds workers, and kills (kill -9) and restarts the controller
// on its state dir. Every job must end with the exact answer, and the
// controller must never die by itself.
//
//   QUARK_CHAOS_SEED=N      the schedule's seed (default kDefaultSeed)
//   QUARK_CHAOS_SECONDS=N   how long the schedule runs (default 25)
//   QUARK_CHAOS_CONTROLLER=0  leave the controller alone (it is restarted
//                           by default since the controller state is durable)
//
// Every action is printed with its time and the seed, so a failing run can
// be replayed (the timings differ, the sequence of choices does not).
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/fault/fault_test.h"
#include "tests/integration/reference.h"

namespace quark::fault {
namespace {

using integration::Clock;
using integration::MatchesReference;

constexpr uint64_t kChaosHi = 20'000'000'000ull;
constexpr uint32_t kDefaultSeed = 20260611;
constexpr int kDefaultSeconds = 25;
constexpr int kMaxWorkers = 4;  // alive at once, on 2 cores
constexpr int kMaxAdded = 3;

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  uint64_t value = 0;
  if (text == nullptr || !absl::SimpleAtoi(text, &value)) return fallback;
  return value;
}

class Chaos {
 public:
  enum class State { kUp, kFrozen, kLeaving, kDead };
  struct Worker {
    State state = State::kUp;
    Clock::time_point thaw_at, heal_at;  // for frozen or cut workers
  };

  Chaos(FaultTest* test, uint32_t seed, bool restart_controller)
      : test_(test), rng_(seed), restart_controller_(restart_controller) {}

  void Add(const std::string& name) { workers_[name] = Worker{}; }

  // Undoes the freezes and cuts whose time has come; then, if the next
  // action is due, does one random action.
  void Step(Clock::time_point now) {
    Undo(now);
    if (now < next_action_) return;
    Act();
    next_action_ = now + Millis(300, 1500);
  }

  // Heals every cut, resumes every frozen worker and restarts the dead
  // ones, so that the jobs can finish.
  void Repair() {
    for (auto& [name, w] : workers_) {
      if (test_->net().IsCut(name)) Note(Heal(name), "heal", name);
      if (w.state == State::kFrozen) Note(Cont(name), "cont", name);
      if (w.state == State::kLeaving) {
        Process* p = test_->cluster().worker(name);
        if (p->Wait(integration::DeadlineIn(40s)).has_value()) {
          w.state = State::kDead;
        }
      }
      if (w.state == State::kDead) Note(Restart(name), "restart", name);
    }
  }

  int actions() const { return actions_; }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  Clock::duration Millis(int lo, int hi) {
    return std::chrono::milliseconds(
        std::uniform_int_distribution<int>(lo, hi)(rng_));
  }

  void Log(const std::string& what) {
    const double t =
        std::chrono::duration<double>(Clock::now() - start_).count();
    std::cout << "chaos t=" << t << "s " << what << "\n" << std::flush;
  }
  void Note(bool ok, const char* action, const std::string& name) {
    Log(absl::StrCat(action, " ", name, ok ? "" : " FAILED"));
    if (!ok) errors_.push_back(absl::StrCat(action, " ", name));
  }

  void Undo(Clock::time_point now) {
    for (auto& [name, w] : workers_) {
      if (w.state == State::kFrozen && now >= w.thaw_at) {
        Note(Cont(name), "cont", name);
      }
      if (test_->net().IsCut(name) && now >= w.heal_at) {
        Note(Heal(name), "heal", name);
      }
      if (w.state == State::kLeaving &&
          !test_->cluster().worker(name)->Running()) {
        w.state = State::kDead;
        Log("left " + name);
      }
    }
  }

  std::vector<std::string> Having(State state) {
    std::vector<std::string> names;
    for (const auto& [name, w] : workers_) {
      if (w.state == state) names.push_back(name);
    }
    return names;
  }
  std::string Pick(const std::vector<std::string>& names) {
    return names[std::uniform_int_distribution<size_t>(0,
                                                       names.size() - 1)(rng_)];
  }
  int Alive() {
    int n = 0;
    for (const auto& [name, w] : workers_) n += w.state != State::kDead;
    return n;
  }

  void Act() {
    // Draw the action first, then a target that fits it; an action with no
    // target is skipped (the draw still advances the seeded sequence).
    enum { kKill, kTerm, kFreeze, kCut, kRestart, kAdd, kController, kCount };
    const int weights[kCount] = {3, 1, 3, 3, 3, 1, restart_controller_ ? 1 : 0};
    std::discrete_distribution<int> pick(std::begin(weights),
                                         std::end(weights));
    const int action = pick(rng_);
    const std::vector<std::string> up = Having(State::kUp);
    const std::vector<std::string> dead = Having(State::kDead);
    ++actions_;
    switch (action) {
      case kKill: {
        std::vector<std::string> targets = up;
        for (const std::string& n : Having(State::kFrozen))
          targets.push_back(n);
        if (targets.empty()) break;
        const std::string name = Pick(targets);
        Process* p = test_->cluster().worker(name);
        const bool ok = p->Signal(SIGKILL);
        p->Wait(integration::DeadlineIn(10s));
        workers_[name].state = State::kDead;
        Note(ok, "kill -9", name);
        break;
      }
      case kTerm: {
        if (up.size() < 2) break;  // keep one worker that is not leaving
        const std::string name = Pick(up);
        workers_[name].state = State::kLeaving;
        Note(test_->cluster().worker(name)->Signal(SIGTERM), "sigterm", name);
        break;
      }
      case kFreeze: {
        if (up.empty()) break;
        const std::string name = Pick(up);
        workers_[name].state = State::kFrozen;
        workers_[name].thaw_at = Clock::now() + Millis(200, 2000);
        Note(test_->cluster().worker(name)->Signal(SIGSTOP), "sigstop", name);
        break;
      }
      case kCut: {
        std::vector<std::string> targets;
        for (const auto& [name, w] : workers_) {
          if (w.state != State::kDead && !test_->net().IsCut(name)) {
            targets.push_back(name);
          }
        }
        if (targets.empty()) break;
        const std::string name = Pick(targets);
        workers_[name].heal_at = Clock::now() + Millis(200, 2500);
        Note(test_->net().Cut(name).ok(), "cut", name);
        break;
      }
      case kRestart: {
        if (dead.empty()) break;
        const std::string name = Pick(dead);
        Note(Restart(name), "restart", name);
        break;
      }
      case kAdd: {
        if (Alive() >= kMaxWorkers || added_ >= kMaxAdded) break;
        const std::string name = absl::StrCat("a", ++added_);
        Add(name);
        Note(Restart(name), "add", name);
        break;
      }
      case kController: {
        Process* c = test_->cluster().controller();
        if (!c->Running()) {
          Note(false, "controller already dead before kill -9", "");
          break;
        }
        c->Signal(SIGKILL);
        c->Wait(integration::DeadlineIn(10s));
        Note(
            test_->cluster().StartController(integration::DeadlineIn(20s)).ok(),
            "restart controller", "");
        break;
      }
    }
  }

  bool Cont(const std::string& name) {
    workers_[name].state = State::kUp;
    return test_->cluster().worker(name)->Signal(SIGCONT);
  }
  bool Heal(const std::string& name) { return test_->net().Heal(name).ok(); }
  bool Restart(const std::string& name) {
    workers_[name].state = State::kUp;
    return test_->StartWorker(name).ok();
  }

  FaultTest* test_;
  std::mt19937 rng_;
  bool restart_controller_;
  std::map<std::string, Worker> workers_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point next_action_ = Clock::now() + 500ms;
  int actions_ = 0;
  int added_ = 0;
  std::vector<std::string> errors_;
};

class ChaosTest : public FaultTest {};

// `quark job ID` with a short reply timeout, so that a controller being
// restarted does not stall the schedule.
absl::StatusOr<proto::Job> PollJob(Cluster& cluster, uint64_t id) {
  const integration::CliResult r =
      cluster.RunCli({"--json", "--timeout=1s", "job", absl::StrCat(id)}, 3s);
  if (r.exit_code != 0) return absl::UnavailableError(r.ToString());
  proto::Job job;
  if (absl::Status s = integration::ParseJson(r.out, &job); !s.ok()) return s;
  return job;
}

TEST_F(ChaosTest, SeededScheduleKeepsEveryAnswerExact) {
  if (!HaveIptables()) GTEST_SKIP() << net().CheckIptables().message();
  const auto seed =
      static_cast<uint32_t>(EnvNumber("QUARK_CHAOS_SEED", kDefaultSeed));
  const auto seconds =
      std::chrono::seconds(EnvNumber("QUARK_CHAOS_SECONDS", kDefaultSeconds));
  const bool restart_controller = EnvNumber("QUARK_CHAOS_CONTROLLER", 1) != 0;
  std::cout << "chaos seed=" << seed << " seconds=" << seconds.count()
            << " controller_restarts=" << restart_controller << "\n";
  cluster().options().drain_timeout = "5s";
  ASSERT_OK(Start(3, DeadlineIn(20s)));

  Chaos chaos(this, seed, restart_controller);
  for (const char* name : {"w1", "w2", "w3"}) chaos.Add(name);
  std::vector<uint64_t> jobs;
  ASSERT_OK_AND_ASSIGN(proto::Job first,
                       cluster().Submit(proto::COUNT, 0, kChaosHi));
  jobs.push_back(first.job_id());

  // While the schedule runs, a job that has ended is followed by the next.
  int actions_during_jobs = 0;
  const auto end = Clock::now() + seconds;
  auto next_poll = Clock::now();
  bool running = true;
  while (Clock::now() < end) {
    const int before = chaos.actions();
    chaos.Step(Clock::now());
    if (running) actions_during_jobs += chaos.actions() - before;
    // A restart happens within Step, so here the controller always runs.
    ASSERT_TRUE(cluster().controller()->Running())
        << "the controller died by itself (seed " << seed << ")";
    if (Clock::now() >= next_poll) {
      next_poll = Clock::now() + 250ms;
      // The controller may be down for a moment: try again next time.
      absl::StatusOr<proto::Job> job = PollJob(cluster(), jobs.back());
      running = !job.ok() ||
                (job->state() != proto::DONE && job->state() != proto::FAILED);
      if (!running) {
        absl::StatusOr<proto::Job> next =
            cluster().Submit(proto::COUNT, 0, kChaosHi);
        if (next.ok()) {
          jobs.push_back(next->job_id());
          running = true;
        }
      }
    }
    std::this_thread::sleep_for(20ms);
  }
  chaos.Repair();
  EXPECT_TRUE(chaos.errors().empty())
      << "a chaos action could not be done: " << chaos.errors().front();
  EXPECT_GT(actions_during_jobs, 0) << "no fault hit a running job";

  for (uint64_t id : jobs) {
    absl::StatusOr<proto::Job> done = cluster().WaitJob(id, 150s);
    ASSERT_TRUE(done.ok()) << "job " << id << ": " << done.status();
    EXPECT_TRUE(MatchesReference(*done, proto::COUNT, 0, kChaosHi))
        << "job " << id << " (seed " << seed << ")";
    std::cout << "chaos job=" << id << " duplicates=" << done->duplicates()
              << " tasks=" << done->tasks_done() << "\n";
  }
  std::cout << "chaos actions=" << chaos.actions()
            << " during_jobs=" << actions_during_jobs << " jobs=" << jobs.size()
            << "\n";
}

}  // namespace
}  // namespace quark::fault
