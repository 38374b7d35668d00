// The search kinds, in one table (as ninja keeps its tools in one, kTools
// in src/ninja.cc): a kind's name, its help line, the partial fields its
// tasks carry, and how its answer is made from the whole range's partial,
// printed and written as JSON. Adding a kind is an entry here, a value of
// proto::Kind, and its kernel (worker/kernels.cc); the controller, the
// worker and the CLI learn of it from this table alone.
//
// Partials merge alike whatever the kind (common/partial.h MergeAdjacent):
// a kind only says which fields it needs, so that a task's result carries
// no more than that.
#ifndef QUARK_COMMON_KINDS_H_
#define QUARK_COMMON_KINDS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "proto/quark.pb.h"

namespace quark {

// Fields of proto::Partial, as a set.
enum PartialField : uint32_t {
  kCountField = 1u << 0,
  kTwinsField = 1u << 1,
  kEdgeFields = 1u << 2,  // first_prime and last_prime: what a merge needs
  kGapFields = 1u << 3,   // max_gap and max_gap_start
  kSumFields = 1u << 4,   // sum_lo and sum_hi
};

struct KindSpec {
  proto::Kind kind;
  const char* name;  // the CLI's word: "count"
  const char* help;  // what a job of it answers, for `quark submit --help`
  uint32_t fields;   // the PartialFields a task's result carries
  // primesieve's own counters answer it (count_primes, count_twins), so a
  // worker need not visit every prime.
  bool counted;
  // The job's answer from the partial of the whole range.
  void (*answer)(const proto::Partial& whole, proto::JobResult* result);
  // The answer as the CLI prints it ("9592", "max_gap=72 start=31397").
  std::string (*text)(const proto::JobResult& result);
  // The answer as a JSON object of the kind's fields only, 64-bit numbers
  // as strings (as protobuf prints them): {"count":"9592"}.
  std::string (*json)(const proto::JobResult& result);
};

// Every kind, in the order of proto::Kind.
absl::Span<const KindSpec> Kinds();

// The entry of `kind`, or nullptr when it is no kind (unset or unknown).
const KindSpec* FindKind(proto::Kind kind);
// By name, case-insensitively; nullptr when there is none.
const KindSpec* FindKind(absl::string_view name);

// "count, twins, gaps or sum": the kinds' names for a message.
std::string KindNames();

// `partial` with only the fields `kind` carries.
proto::Partial KeepKindFields(const KindSpec& kind,
                              const proto::Partial& partial);

// The job's answer from the partial of the whole range; empty for no kind.
proto::JobResult ToJobResult(proto::Kind kind, const proto::Partial& whole);

}  // namespace quark

#endif  // QUARK_COMMON_KINDS_H_
