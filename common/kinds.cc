#include "common/kinds.h"

#include <algorithm>
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

// [{"size":"1","start":"2"},...]: a list of gaps as JSON.
std::string GapsJson(
    const google::protobuf::RepeatedPtrField<proto::Gap>& gaps) {
  std::string out = "[";
  for (const proto::Gap& gap : gaps) {
    absl::StrAppend(&out, out.size() > 1 ? "," : "", "{",
                    Member("size", gap.size()), ",",
                    Member("start", gap.start()), "}");
  }
  return out + "]";
}

void GapsAnswer(const proto::Partial& w, proto::JobResult* r) {
  r->set_max_gap(w.max_gap());
  r->set_max_gap_start(w.max_gap_start());
  *r->mutable_first_gaps() = w.first_gaps();
  // A maximal gap is larger than every gap before it, so it is the first
  // of its size: the records of the table in order of start.
  std::vector<proto::Gap> by_start(w.first_gaps().begin(),
                                   w.first_gaps().end());
  std::sort(by_start.begin(), by_start.end(),
            [](const proto::Gap& a, const proto::Gap& b) {
              return a.start() < b.start();
            });
  uint64_t record = 0;
  for (const proto::Gap& gap : by_start) {
    if (gap.size() <= record) continue;
    record = gap.size();
    *r->add_maximal_gaps() = gap;
  }
}

constexpr char kTriplets[] = "triplets", kQuadruplets[] = "quadruplets",
               kQuintuplets[] = "quintuplets", kSextuplets[] = "sextuplets";

// The entry of the k-tuplet kind named kName, whose count is the result's
// field of that name (read with kGet, set with kSet).
template <const char* kName, uint64_t (proto::JobResult::*kGet)() const,
          void (proto::JobResult::*kSet)(uint64_t)>
constexpr KindSpec Tuplets(proto::Kind kind, const char* help, int k) {
  return {kind,
          kName,
          help,
          kTupletFields,
          /*counted=*/true,
          k,
          [](const proto::Partial& w, proto::JobResult* r) {
            (r->*kSet)(w.tuplets());
          },
          [](const proto::JobResult& r) { return absl::StrCat((r.*kGet)()); },
          [](const proto::JobResult& r) {
            return absl::StrCat("{", Member(kName, (r.*kGet)()), "}");
          }};
}

constexpr KindSpec kKinds[] = {
    {proto::COUNT, "count", "the number of primes", kCountField,
     /*counted=*/true, /*tuplet_size=*/0,
     [](const proto::Partial& w, proto::JobResult* r) {
       r->set_count(w.count());
     },
     [](const proto::JobResult& r) { return absl::StrCat(r.count()); },
     [](const proto::JobResult& r) {
       return absl::StrCat("{", Member("count", r.count()), "}");
     }},
    {proto::TWINS, "twins",
     "the number of twin pairs (p, p + 2), both in the range",
     kTwinsField | kEdgeFields, /*counted=*/true, /*tuplet_size=*/0,
     [](const proto::Partial& w, proto::JobResult* r) {
       r->set_twins(w.twins());
     },
     [](const proto::JobResult& r) { return absl::StrCat(r.twins()); },
     [](const proto::JobResult& r) {
       return absl::StrCat("{", Member("twins", r.twins()), "}");
     }},
    {proto::GAPS, "gaps",
     "the largest gap between consecutive primes, max_gap=G start=P, and "
     "the table of gaps: the first of each size and the maximal gaps",
     kCountField | kEdgeFields | kGapFields | kGapTableFields,
     /*counted=*/false, /*tuplet_size=*/0, GapsAnswer,
     [](const proto::JobResult& r) {
       return absl::StrCat("max_gap=", r.max_gap(),
                           " start=", r.max_gap_start());
     },
     [](const proto::JobResult& r) {
       return absl::StrCat("{", Member("max_gap", r.max_gap()), ",",
                           Member("max_gap_start", r.max_gap_start()),
                           ",\"first_gaps\":", GapsJson(r.first_gaps()),
                           ",\"maximal_gaps\":", GapsJson(r.maximal_gaps()),
                           "}");
     }},
    {proto::SUM, "sum", "the sum of the primes (exact, may exceed 2^64)",
     kCountField | kSumFields, /*counted=*/false, /*tuplet_size=*/0,
     [](const proto::Partial& w, proto::JobResult* r) {
       r->set_sum(Uint128ToString(PartialSum(w)));
     },
     SumText,
     [](const proto::JobResult& r) {
       return absl::StrCat("{\"sum\":\"", SumText(r), "\"}");
     }},
    Tuplets<kTriplets, &proto::JobResult::triplets,
            &proto::JobResult::set_triplets>(
        proto::TRIPLETS,
        "prime triplets (p, p+2, p+6) and (p, p+4, p+6), all in the range "
        "(as primesieve -c3)",
        3),
    Tuplets<kQuadruplets, &proto::JobResult::quadruplets,
            &proto::JobResult::set_quadruplets>(
        proto::QUADRUPLETS,
        "prime quadruplets (p, p+2, p+6, p+8), all in the range (-c4)", 4),
    Tuplets<kQuintuplets, &proto::JobResult::quintuplets,
            &proto::JobResult::set_quintuplets>(
        proto::QUINTUPLETS,
        "prime quintuplets (p, p+2, p+6, p+8, p+12) and (p, p+4, p+6, "
        "p+10, p+12), all in the range (-c5)",
        5),
    Tuplets<kSextuplets, &proto::JobResult::sextuplets,
            &proto::JobResult::set_sextuplets>(
        proto::SEXTUPLETS,
        "prime sextuplets (p, p+4, p+6, p+10, p+12, p+16), all in the "
        "range (-c6)",
        6),
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
  if (kind.fields & kTupletFields) {
    out.set_tuplet_size(p.tuplet_size());
    out.set_tuplets(p.tuplets());
    *out.mutable_head() = p.head();
    *out.mutable_tail() = p.tail();
  }
  if (kind.fields & kGapTableFields) {
    out.set_gap_table(p.gap_table());
    *out.mutable_first_gaps() = p.first_gaps();
  }
  return out;
}

absl::Status CheckPartial(const KindSpec& kind, uint64_t lo, uint64_t hi,
                          const proto::Partial& partial) {
  const proto::Partial p = KeepKindFields(kind, partial);
  auto inside = [&](uint64_t n) { return n >= lo && n <= hi; };
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a ", kind.name, " result for [", lo, ", ", hi, "] ", what));
  };
  const uint128 width = static_cast<uint128>(hi - lo) + 1;
  if (p.count() > width || p.twins() > width || p.tuplets() > width) {
    return bad("counts more primes than the range has numbers");
  }
  if ((p.first_prime() != 0 && !inside(p.first_prime())) ||
      (p.last_prime() != 0 && !inside(p.last_prime())) ||
      p.last_prime() < p.first_prime() ||
      (p.max_gap() != 0 &&
       (!inside(p.max_gap_start()) || p.max_gap() > hi - p.max_gap_start()))) {
    return bad("has a prime or gap outside its range");
  }
  if (kind.fields & kTupletFields) {
    const size_t edge = static_cast<size_t>(kind.tuplet_size - 1);
    auto ordered = [&](const google::protobuf::RepeatedField<uint64_t>& v) {
      for (int i = 0; i < v.size(); ++i) {
        if (!inside(v[i]) || (i > 0 && v[i] <= v[i - 1])) return false;
      }
      return true;
    };
    if (p.tuplet_size() != static_cast<uint32_t>(kind.tuplet_size) ||
        static_cast<size_t>(p.head().size()) > edge ||
        p.tail().size() != p.head().size() || !ordered(p.head()) ||
        !ordered(p.tail()) || (!p.head().empty() && p.tail(0) < p.head(0))) {
      return bad("has no valid head and tail of primes");
    }
  }
  if (kind.fields & kGapTableFields) {
    bool valid = p.gap_table();
    for (int i = 0; valid && i < p.first_gaps().size(); ++i) {
      const proto::Gap& gap = p.first_gaps(i);
      valid = gap.size() != 0 && inside(gap.start()) &&
              gap.size() <= hi - gap.start() &&
              (i == 0 || gap.size() > p.first_gaps(i - 1).size());
    }
    if (!valid) return bad("has no valid gap table");
  }
  return absl::OkStatus();
}

proto::JobResult ToJobResult(proto::Kind kind, const proto::Partial& whole) {
  proto::JobResult result;
  if (const KindSpec* spec = FindKind(kind)) spec->answer(whole, &result);
  return result;
}

}  // namespace quark
