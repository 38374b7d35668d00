#include "worker/unacked_results.h"

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'000'000);

proto::ResultMsg Result(uint64_t lease, uint64_t session = 1) {
  proto::ResultMsg r;
  r.set_lease(lease);
  r.set_session(session);
  r.set_task(lease * 10);
  return r;
}

std::vector<uint64_t> Leases(const std::vector<proto::ResultMsg>& results) {
  std::vector<uint64_t> leases;
  for (const proto::ResultMsg& r : results) leases.push_back(r.lease());
  return leases;
}

TEST(UnackedResultsTest, KeptUntilAckedAndDueAfterTheWait) {
  UnackedResults kept(8);
  EXPECT_EQ(kept.NextDue(absl::Seconds(5)), absl::InfiniteFuture());
  EXPECT_TRUE(kept.Add(Result(1), kT0).empty());
  EXPECT_TRUE(kept.Add(Result(2), kT0 + absl::Seconds(1)).empty());
  EXPECT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept.NextDue(absl::Seconds(5)), kT0 + absl::Seconds(5));
  EXPECT_TRUE(kept.Ack(1));
  EXPECT_FALSE(kept.Ack(1)) << "acked twice";
  EXPECT_FALSE(kept.Ack(99)) << "never kept";
  EXPECT_EQ(kept.NextDue(absl::Seconds(5)), kT0 + absl::Seconds(6));
  EXPECT_TRUE(kept.Ack(2));
  EXPECT_TRUE(kept.empty());
}

TEST(UnackedResultsTest, RepushTakesTheDueOnesOldestFirstUnderTheNewSession) {
  UnackedResults kept(8);
  kept.Add(Result(1), kT0);
  kept.Add(Result(2), kT0 + absl::Seconds(2));
  kept.Add(Result(3), kT0 + absl::Seconds(4));
  const absl::Time now = kT0 + absl::Seconds(7);
  // Pushed at or before now - 5 s: leases 1 and 2, not 3.
  std::vector<proto::ResultMsg> again =
      kept.Repush(now - absl::Seconds(5), 42, now);
  EXPECT_EQ(Leases(again), (std::vector<uint64_t>{1, 2}));
  for (const proto::ResultMsg& r : again) EXPECT_EQ(r.session(), 42u);
  // They count as pushed now: due again 5 s from now; 3 is due first.
  EXPECT_EQ(kept.NextDue(absl::Seconds(5)), kT0 + absl::Seconds(9));
  EXPECT_TRUE(kept.Repush(now - absl::Seconds(5), 42, now).empty());
  // After a Welcome everything goes again, in the order first pushed.
  EXPECT_EQ(Leases(kept.Repush(absl::InfiniteFuture(), 43, now)),
            (std::vector<uint64_t>{1, 2, 3}));
}

TEST(UnackedResultsTest, ASecondResultForALeaseReplacesTheFirst) {
  UnackedResults kept(8);
  kept.Add(Result(1), kT0);
  kept.Add(Result(2), kT0);
  proto::ResultMsg newer = Result(1);
  newer.set_compute_us(77);
  kept.Add(newer, kT0 + absl::Seconds(1));
  EXPECT_EQ(kept.size(), 2u);
  const std::vector<proto::ResultMsg> all =
      kept.Repush(absl::InfiniteFuture(), 1, kT0);
  ASSERT_EQ(all.size(), 2u);
  const proto::ResultMsg& one = all[0].lease() == 1 ? all[0] : all[1];
  EXPECT_EQ(one.compute_us(), 77u);
}

TEST(UnackedResultsTest, BeyondCapacityTheOldestAreDroppedAndReturned) {
  UnackedResults kept(2);
  kept.Add(Result(1), kT0);
  kept.Add(Result(2), kT0);
  EXPECT_EQ(Leases(kept.Add(Result(3), kT0)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(kept.size(), 2u);
  EXPECT_FALSE(kept.Ack(1));
  EXPECT_TRUE(kept.Ack(2));

  UnackedResults none(0);
  EXPECT_EQ(Leases(none.Add(Result(5), kT0)), (std::vector<uint64_t>{5}));
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace quark
