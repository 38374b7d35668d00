#include "common/kinds.h"

#include <primesieve.hpp>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/states.h"
#include "gtest/gtest.h"
#include "tests/testutil/reference_partial.h"

namespace quark {
namespace {

TEST(KindsTest, EveryKindOfTheProtocolHasOneEntry) {
  const google::protobuf::EnumDescriptor* kinds = proto::Kind_descriptor();
  std::set<std::string> names;
  for (int i = 0; i < kinds->value_count(); ++i) {
    const auto kind = static_cast<proto::Kind>(kinds->value(i)->number());
    const KindSpec* spec = FindKind(kind);
    if (kind == proto::KIND_UNSPECIFIED) {
      EXPECT_EQ(spec, nullptr);
      continue;
    }
    ASSERT_NE(spec, nullptr)
        << kinds->value(i)->name() << " has no entry in common/kinds.cc";
    EXPECT_EQ(spec->kind, kind);
    EXPECT_EQ(absl::AsciiStrToLower(kinds->value(i)->name()), spec->name);
    EXPECT_NE(std::string(spec->help), "");
    EXPECT_NE(spec->fields, 0u);
    EXPECT_TRUE(names.insert(spec->name).second) << spec->name;
  }
  EXPECT_EQ(Kinds().size(), names.size());
  EXPECT_EQ(FindKind(static_cast<proto::Kind>(99)), nullptr);
}

TEST(KindsTest, FoundByNameInAnyCase) {
  ASSERT_NE(FindKind("Twins"), nullptr);
  EXPECT_EQ(FindKind("Twins")->kind, proto::TWINS);
  EXPECT_EQ(FindKind("SUM")->kind, proto::SUM);
  EXPECT_EQ(FindKind("prime"), nullptr);
  EXPECT_EQ(FindKind(""), nullptr);
  EXPECT_EQ(FindKind("Sextuplets")->kind, proto::SEXTUPLETS);
  EXPECT_EQ(KindNames(),
            "count, twins, gaps, sum, triplets, quadruplets, quintuplets or "
            "sextuplets");
}

TEST(KindsTest, ATaskCarriesOnlyTheFieldsOfItsKind) {
  const proto::Partial whole = testutil::ReferencePartial(0, 100000);
  const proto::Partial count = KeepKindFields(*FindKind(proto::COUNT), whole);
  EXPECT_EQ(count.count(), 9592u);
  EXPECT_EQ(count.first_prime() + count.last_prime() + count.twins() +
                count.sum_lo() + count.max_gap(),
            0u);
  const proto::Partial twins = KeepKindFields(*FindKind(proto::TWINS), whole);
  EXPECT_EQ(twins.twins(), primesieve::count_twins(0, 100000));
  EXPECT_EQ(twins.first_prime(), 2u);
  EXPECT_EQ(twins.last_prime(), 99991u);
  EXPECT_EQ(twins.count(), 0u);
  const proto::Partial gaps = KeepKindFields(*FindKind(proto::GAPS), whole);
  EXPECT_EQ(gaps.max_gap(), 72u);
  EXPECT_EQ(gaps.max_gap_start(), 31397u);
  EXPECT_EQ(gaps.sum_lo(), 0u);
  const proto::Partial sum = KeepKindFields(*FindKind(proto::SUM), whole);
  EXPECT_EQ(sum.sum_lo(), 454396537u);
  EXPECT_EQ(sum.max_gap(), 0u);
}

TEST(KindsTest, TheAnswerAsTextAndJson) {
  const proto::Partial whole = testutil::ReferencePartial(0, 100000);
  const std::pair<proto::Kind, std::pair<const char*, const char*>> want[] = {
      {proto::COUNT, {"9592", R"({"count":"9592"})"}},
      {proto::TWINS, {"1224", R"({"twins":"1224"})"}},
      {proto::SUM, {"454396537", R"({"sum":"454396537"})"}},
  };
  for (const auto& [kind, texts] : want) {
    const KindSpec& spec = *FindKind(kind);
    const proto::JobResult result = ToJobResult(kind, whole);
    EXPECT_EQ(spec.text(result), texts.first);
    EXPECT_EQ(spec.json(result), texts.second);
  }
  // Primes to 30: 2 3 5 7 11 13 17 19 23 29, gaps 1 2 2 4 2 4 2 4 6.
  const proto::JobResult gaps =
      ToJobResult(proto::GAPS, testutil::ReferenceGaps(0, 30));
  EXPECT_EQ(FindKind(proto::GAPS)->text(gaps), "max_gap=6 start=23");
  const std::string table =
      R"([{"size":"1","start":"2"},{"size":"2","start":"3"},)"
      R"({"size":"4","start":"7"},{"size":"6","start":"23"}])";
  EXPECT_EQ(FindKind(proto::GAPS)->json(gaps),
            absl::StrCat(R"({"max_gap":"6","max_gap_start":"23","first_gaps":)",
                         table, R"(,"maximal_gaps":)", table, "}"));
  const std::pair<int, const char*> tuplets[] = {{3, R"({"triplets":"8"})"},
                                                 {4, R"({"quadruplets":"2"})"},
                                                 {5, R"({"quintuplets":"3"})"},
                                                 {6, R"({"sextuplets":"1"})"}};
  for (const auto& [k, json] : tuplets) {
    const KindSpec& spec = Kinds()[static_cast<size_t>(k + 1)];  // in order
    ASSERT_EQ(spec.tuplet_size, k);
    const proto::Partial ref = testutil::ReferenceTuplets(k, 0, 100);
    const proto::JobResult r = ToJobResult(spec.kind, ref);
    EXPECT_EQ(spec.json(r), json);  // primesieve -c3 .. -c6 100
    EXPECT_EQ(spec.text(r), absl::StrCat(ref.tuplets()));
  }
  EXPECT_EQ(FindKind(proto::SUM)->text(proto::JobResult()), "0");
  EXPECT_EQ(ToJobResult(proto::KIND_UNSPECIFIED, whole).ByteSizeLong(), 0u);
}

TEST(KindsTest, AResultThatCannotBeOfItsTaskIsRefused) {
  const KindSpec& triplets = *FindKind(proto::TRIPLETS);
  const KindSpec& gaps = *FindKind(proto::GAPS);
  const proto::Partial t = testutil::ReferenceTuplets(3, 1000, 2000);
  const proto::Partial g = testutil::ReferenceGaps(1000, 2000);
  EXPECT_TRUE(CheckPartial(triplets, 1000, 2000, t).ok());
  EXPECT_TRUE(CheckPartial(gaps, 1000, 2000, g).ok());
  // Fields of other kinds are no matter: they are dropped.
  EXPECT_TRUE(CheckPartial(*FindKind(proto::COUNT), 1000, 2000, t).ok());
  auto refused = [](const KindSpec& kind, const proto::Partial& p) {
    return CheckPartial(kind, 1000, 2000, p).code() ==
           absl::StatusCode::kInvalidArgument;
  };
  proto::Partial bad = t;
  bad.set_tuplet_size(100);
  EXPECT_TRUE(refused(triplets, bad));
  bad = t;
  bad.add_head(1999);  // three primes in a head of two
  EXPECT_TRUE(refused(triplets, bad));
  bad = t;
  bad.set_head(0, 5);  // outside the range
  EXPECT_TRUE(refused(triplets, bad));
  bad = t;
  bad.set_tail(1, bad.tail(0));  // not increasing
  EXPECT_TRUE(refused(triplets, bad));
  bad = t;
  bad.set_tuplets(5000);  // more than the numbers
  EXPECT_TRUE(refused(triplets, bad));
  bad = g;
  bad.set_gap_table(false);
  EXPECT_TRUE(refused(gaps, bad));
  bad = g;
  bad.mutable_first_gaps()->SwapElements(0, 1);  // not by size
  EXPECT_TRUE(refused(gaps, bad));
  bad = g;
  bad.mutable_first_gaps(0)->set_start(3000);
  EXPECT_TRUE(refused(gaps, bad));
  bad = g;
  bad.set_max_gap_start(10);
  EXPECT_TRUE(refused(gaps, bad));
  bad = g;
  bad.set_last_prime(bad.first_prime() - 1);
  EXPECT_TRUE(refused(gaps, bad));
}

TEST(KindsTest, FinishedStates) {
  EXPECT_TRUE(IsFinished(proto::DONE));
  EXPECT_TRUE(IsFinished(proto::FAILED));
  EXPECT_TRUE(IsFinished(proto::CANCELLED));
  EXPECT_FALSE(IsFinished(proto::QUEUED));
  EXPECT_FALSE(IsFinished(proto::RUNNING));
}

}  // namespace
}  // namespace quark
