#include "common/kinds.h"

#include <primesieve.hpp>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
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
  EXPECT_EQ(KindNames(), "count, twins, gaps or sum");
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
      {proto::GAPS,
       {"max_gap=72 start=31397",
        R"({"max_gap":"72","max_gap_start":"31397"})"}},
      {proto::SUM, {"454396537", R"({"sum":"454396537"})"}},
  };
  for (const auto& [kind, texts] : want) {
    const KindSpec& spec = *FindKind(kind);
    const proto::JobResult result = ToJobResult(kind, whole);
    EXPECT_EQ(spec.text(result), texts.first);
    EXPECT_EQ(spec.json(result), texts.second);
  }
  EXPECT_EQ(FindKind(proto::SUM)->text(proto::JobResult()), "0");
  EXPECT_EQ(ToJobResult(proto::KIND_UNSPECIFIED, whole).ByteSizeLong(), 0u);
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
