#include "common/kinds.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/partial.h"

namespace quark {
namespace {

// "\"count\":\"9592\"": one JSON member with a 64-bit number as a string.
std::string Member(absl::string_view name, uint64_t value) {
  return absl::StrCat("\"", name, "\":\"", value, "\"");
}

std::string SumText(const proto::JobResult& r) {
  return r.sum().empty() ? "0" : r.sum();
}

constexpr KindSpec kKinds[] = {
    {proto::COUNT, "count", "the number of primes", kCountField,
     /*counted=*/true,
     [](const proto::Partial& w, proto::JobResult* r) {
       r->set_count(w.count());
     },
     [](const proto::JobResult& r) { return absl::StrCat(r.count()); },
     [](const proto::JobResult& r) {
       return absl::StrCat("{", Member("count", r.count()), "}");
     }},
    {proto::TWINS, "twins",
     "the number of twin pairs (p, p + 2), both in the range",
     kTwinsField | kEdgeFields, /*counted=*/true,
     [](const proto::Partial& w, proto::JobResult* r) {
       r->set_twins(w.twins());
     },
     [](const proto::JobResult& r) { return absl::StrCat(r.twins()); },
     [](const proto::JobResult& r) {
       return absl::StrCat("{", Member("twins", r.twins()), "}");
     }},
    {proto::GAPS, "gaps",
     "the largest gap between consecutive primes: max_gap=G start=P",
     kCountField | kEdgeFields | kGapFields, /*counted=*/false,
     [](const proto::Partial& w, proto::JobResult* r) {
       r->set_max_gap(w.max_gap());
       r->set_max_gap_start(w.max_gap_start());
     },
     [](const proto::JobResult& r) {
       return absl::StrCat("max_gap=", r.max_gap(),
                           " start=", r.max_gap_start());
     },
     [](const proto::JobResult& r) {
       return absl::StrCat("{", Member("max_gap", r.max_gap()), ",",
                           Member("max_gap_start", r.max_gap_start()), "}");
     }},
    {proto::SUM, "sum", "the sum of the primes (exact, may exceed 2^64)",
     kCountField | kSumFields, /*counted=*/false,
     [](const proto::Partial& w, proto::JobResult* r) {
       r->set_sum(Uint128ToString(PartialSum(w)));
     },
     SumText,
     [](const proto::JobResult& r) {
       return absl::StrCat("{\"sum\":\"", SumText(r), "\"}");
     }},
};

}  // namespace

absl::Span<const KindSpec> Kinds() { return kKinds; }

const KindSpec* FindKind(proto::Kind kind) {
  for (const KindSpec& spec : kKinds) {
    if (spec.kind == kind) return &spec;
  }
  return nullptr;
}

const KindSpec* FindKind(absl::string_view name) {
  for (const KindSpec& spec : kKinds) {
    if (absl::EqualsIgnoreCase(spec.name, name)) return &spec;
  }
  return nullptr;
}

std::string KindNames() {
  std::vector<absl::string_view> names;
  for (const KindSpec& spec : kKinds) names.push_back(spec.name);
  const absl::string_view last = names.back();
  names.pop_back();
  return absl::StrCat(absl::StrJoin(names, ", "), " or ", last);
}

proto::Partial KeepKindFields(const KindSpec& kind, const proto::Partial& p) {
  proto::Partial out;
  if (kind.fields & kCountField) out.set_count(p.count());
  if (kind.fields & kTwinsField) out.set_twins(p.twins());
  if (kind.fields & kEdgeFields) {
    out.set_first_prime(p.first_prime());
    out.set_last_prime(p.last_prime());
  }
  if (kind.fields & kGapFields) {
    out.set_max_gap(p.max_gap());
    out.set_max_gap_start(p.max_gap_start());
  }
  if (kind.fields & kSumFields) {
    out.set_sum_lo(p.sum_lo());
    out.set_sum_hi(p.sum_hi());
  }
  return out;
}

proto::JobResult ToJobResult(proto::Kind kind, const proto::Partial& whole) {
  proto::JobResult result;
  if (const KindSpec* spec = FindKind(kind)) spec->answer(whole, &result);
  return result;
}

}  // namespace quark
