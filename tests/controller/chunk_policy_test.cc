#include "controller/chunk_policy.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace quark {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(ChunkPolicyTest, MinimumIsTenMillionOrThousandRootHi) {
  ChunkOptions o;
  EXPECT_EQ(MinTaskNumbers(o, 1000), 10'000'000u);
  EXPECT_EQ(MinTaskNumbers(o, 100'000'000'000'000ull), 10'000'000'000u);
  // sqrt(2^64) = 2^32.
  EXPECT_NEAR(static_cast<double>(MinTaskNumbers(o, kMax)),
              1000.0 * 4294967296.0, 1e6);
}

struct Case {
  const char* name;
  ChunkRequest request;
  uint64_t want;
};

class ChooseTest : public testing::TestWithParam<Case> {};

TEST_P(ChooseTest, Size) {
  EXPECT_EQ(ChooseTaskNumbers(ChunkOptions(), GetParam().request),
            GetParam().want)
      << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ChooseTest,
    testing::Values(
        // Unknown rate: the minimum task.
        Case{"unknown", {0, 100'000'000, 0, 1}, 10'000'000},
        // Known rate: about task_seconds worth.
        Case{"rate", {0, 100'000'000'000, 1e9, 1}, 2'000'000'000},
        // Never below the minimum however slow the node.
        Case{"slow", {0, 100'000'000, 10, 1}, 10'000'000},
        // The minimum follows the task's own top, not the job's: from 0
        // it is 1e7 however high the job ends.
        Case{"own_top", {0, 99'999'999'999, 10, 1}, 10'000'000},
        Case{"own_top_2_64", {0, kMax, 0, 1}, 10'000'000},
        // The tail: remaining / (2 x nodes), here 1e12 / 4.
        Case{"tail", {0, 999'999'999'999, 1e12, 2}, 250'000'000'000},
        // ...and not below the minimum, 1000 x sqrt(its own top), while
        // the tail leaves the minimum to cut...
        Case{"tailmin",
             {99'000'000'000'000, 99'999'999'999'999, 1e9, 2},
             9'950'374'383},
        // ...but below it, down to 10 x sqrt(top), when less than the
        // minimum is left for each node: 1e12 numbers at 1e18 (one
        // minimum task) on 3 nodes is cut into sixths, not sieved by one.
        Case{"tail_at_height",
             {1'000'000'000'000'000'000, 1'000'000'999'999'999'999, 1e9, 3},
             166'666'666'666},
        // A node alone keeps the minimum: no one would share the pieces.
        Case{"tail_alone",
             {1'000'000'000'000'000'000, 1'000'000'999'999'999'999, 1e9, 1},
             1'000'000'000'000},
        // Never below 10 x sqrt(its own top): 1e10 at 1e18, of 3e10 on 8 nodes.
        Case{"tail_floor",
             {1'000'000'000'000'000'000, 1'000'000'029'999'999'999, 1e9, 8},
             10'000'000'050},
        // A remainder below the minimum joins this task.
        Case{"fold", {0, 15'000'000, 0, 1}, 15'000'001},
        // Less than the minimum left: all of it.
        Case{"last", {100, 200, 1e9, 4}, 101},
        // Slow start: at most 4x the node's previous task.
        Case{"growth", {0, 100'000'000'000, 1e9, 1, 100'000'000}, 400'000'000},
        // A single number.
        Case{"one", {7, 7, 0, 1}, 1},
        // The whole 64-bit range: half of it (the tail rule), no overflow.
        Case{"everything", {0, kMax, 1e30, 1}, uint64_t{1} << 63}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ChunkPolicyTest, MinimumFromIsTheFixedPointOfTheRootRule) {
  ChunkOptions o;
  for (uint64_t next :
       {uint64_t{0}, uint64_t{1'000'000'000'000}, uint64_t{99'000'000'000'000},
        uint64_t{1'000'000'000'000'000'000}, kMax - 5'000'000'000'000}) {
    const uint64_t m = MinTaskNumbersFrom(o, next);
    const double top = static_cast<double>(next) + static_cast<double>(m - 1);
    const double rule = std::max(1e7, 1000.0 * std::sqrt(top));
    // At least the rule for its own top, and not more than a number above.
    EXPECT_GE(static_cast<double>(m) + 1, rule) << next;
    EXPECT_LE(static_cast<double>(m), rule + 2) << next;
  }
  // Near 2^64 a task's top may be 2^64 - 1 itself: no overflow.
  EXPECT_GT(MinTaskNumbersFrom(o, kMax), 4'000'000'000'000u);
}

// A job [lo, lo + width) given out as the scheduler does (to the node with
// the fewest tasks, up to `credits` each, sized by the node's measured rate
// and previous task) to `nodes` equal nodes that sieve `rate` numbers a
// second and pay 0.5 x sqrt(hi) numbers' time of set-up per task.
struct TailRun {
  double seconds = 0;  // until the last result
  double ideal = 0;    // width / (nodes x rate)
  double idle = 0;     // node-seconds with nothing to do before the end
  int tasks = 0;
};

TailRun SimulateJob(const ChunkOptions& o, uint64_t lo, uint64_t width,
                    int nodes, double rate, int credits) {
  struct Node {
    std::vector<uint64_t> queue;  // task sizes; the first is running
    std::vector<uint64_t> tops;
    double busy_until = 0;  // when the running task ends
    double measured = 0;
    uint64_t last = 0;
    double free_since = 0;
  };
  std::vector<Node> ns(nodes);
  const uint64_t hi = lo + (width - 1);
  uint64_t next = lo;
  bool cut_all = false;
  TailRun run;
  run.ideal = static_cast<double>(width) / (nodes * rate);
  auto start = [&](Node& n, double now) {
    const double top = static_cast<double>(n.tops.front());
    n.busy_until = now + 0.5 * std::sqrt(top) / rate +
                   static_cast<double>(n.queue.front()) / rate;
  };
  auto dispatch = [&](double now) {
    while (!cut_all) {
      Node* best = nullptr;
      for (Node& n : ns) {
        if (static_cast<int>(n.queue.size()) < credits &&
            (best == nullptr || n.queue.size() < best->queue.size())) {
          best = &n;
        }
      }
      if (best == nullptr) return;
      const uint64_t size =
          ChooseTaskNumbers(o, {next, hi, best->measured, nodes, best->last});
      best->queue.push_back(size);
      best->tops.push_back(next + (size - 1));
      best->last = size;
      ++run.tasks;
      if (best->queue.size() == 1) {
        run.idle += now - best->free_since;
        start(*best, now);
      }
      if (size - 1 == hi - next)
        cut_all = true;
      else
        next += size;
    }
  };
  dispatch(0);
  while (true) {
    Node* done = nullptr;
    for (Node& n : ns) {
      if (!n.queue.empty() &&
          (done == nullptr || n.busy_until < done->busy_until)) {
        done = &n;
      }
    }
    if (done == nullptr) break;
    const double now = done->busy_until;
    run.seconds = now;
    done->measured = rate;
    done->queue.erase(done->queue.begin());
    done->tops.erase(done->tops.begin());
    if (!done->queue.empty())
      start(*done, now);
    else
      done->free_since = now;
    dispatch(now);
  }
  for (const Node& n : ns) run.idle += run.seconds - n.free_since;
  return run;
}

// At 1e18 a minimum task is 1e12 numbers, five minutes of a 2-core x86 node
// (3.3e9 numbers a second) and about twenty of a Pi 4 (8e8). A job of a few
// minimum tasks on a few nodes used to end with most nodes idle while one
// sieved the last minimum task; the tail now splits it.
TEST(ChunkPolicyTest, TailAtHeightLeavesNodesLittleIdle) {
  const uint64_t lo = 1'000'000'000'000'000'000;
  ChunkOptions before;
  before.tail_sqrt_factor = before.sqrt_factor;  // the rule until 2026-12-01
  for (double rate : {3.3e9, 8e8}) {
    for (int nodes : {2, 3, 4, 8}) {
      for (uint64_t width :
           {uint64_t{1'000'000'000'000}, uint64_t{4'000'000'000'000},
            uint64_t{20'000'000'000'000}}) {
        const TailRun now =
            SimulateJob(ChunkOptions(), lo, width, nodes, rate, 2);
        const TailRun old = SimulateJob(before, lo, width, nodes, rate, 2);
        std::printf(
            "rate %.1e nodes %d width %.0e: before %.0f s (%.2f x ideal, idle "
            "%.0f "
            "node-s), now %.0f s (%.2f x ideal, idle %.0f node-s, %d tasks)\n",
            rate, nodes, static_cast<double>(width), old.seconds,
            old.seconds / old.ideal, old.idle, now.seconds,
            now.seconds / now.ideal, now.idle, now.tasks);
        EXPECT_LE(now.seconds, old.seconds * 1.001) << nodes << " " << width;
        EXPECT_LE(now.seconds, 1.25 * now.ideal) << nodes << " " << width;
      }
    }
  }
}

TEST(ChunkPolicyTest, TasksTileTheRangeExactly) {
  // Cutting [lo, hi] repeatedly covers it with no gap and no overlap.
  for (uint64_t hi : {uint64_t{1'000'000'000}, kMax}) {
    const uint64_t lo = hi == kMax ? kMax - 123'456'789'012'345 : 0;
    uint64_t next = lo;
    int tasks = 0;
    while (true) {
      const uint64_t n = ChooseTaskNumbers(ChunkOptions(), {next, hi, 1e12, 3});
      ASSERT_GE(n, 1u);
      ASSERT_LE(n - 1, hi - next);
      ++tasks;
      if (n - 1 == hi - next) break;
      next += n;
    }
    EXPECT_GT(tasks, 1);
  }
}

}  // namespace
}  // namespace quark
