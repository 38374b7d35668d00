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

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "proto/quark.pb.h"

namespace quark {

// Fields of proto::Partial, as a set.
enum PartialField : uint32_t {
  kCountField = 1u << 0,
  kTwinsField = 1u << 1,
  kEdgeFields = 1u << 2,      // first_prime and last_prime: what a merge needs
  kGapFields = 1u << 3,       // max_gap and max_gap_start
  kSumFields = 1u << 4,       // sum_lo and sum_hi
  kTupletFields = 1u << 5,    // tuplet_size, tuplets, head and tail
  kGapTableFields = 1u << 6,  // first_gaps and gap_table
};

struct KindSpec {
  proto::Kind kind;
  const char* name;  // the CLI's word: "count"
  const char* help;  // what a job of it answers, for `quark submit --help`
  uint32_t fields;   // the PartialFields a task's result carries
  // primesieve's own counters answer it (count_primes, count_twins,
  // count_triplets ...), so a worker need not visit every prime.
  bool counted;
  int tuplet_size;  // k for the k-tuplet kinds (Partial.tuplet_size); else 0
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

// "count, twins, ... or sum": the kinds' names for a message.
std::string KindNames();

// Whether `partial`'s fields of `kind` (those KeepKindFields keeps) can be
// the result of a task [lo, hi]: primes inside the range and in order, a
// head and tail of the right length, a gap table in order of size. The
// controller refuses a worker's result that cannot (a merge would be
// taken apart by it). Says nothing of whether the numbers are right: that
// is verification's.
absl::Status CheckPartial(const KindSpec& kind, uint64_t lo, uint64_t hi,
                          const proto::Partial& partial);

// `partial` with only the fields `kind` carries.
proto::Partial KeepKindFields(const KindSpec& kind,
                              const proto::Partial& partial);

// The job's answer from the partial of the whole range; empty for no kind.
proto::JobResult ToJobResult(proto::Kind kind, const proto::Partial& whole);

}  // namespace quark

#endif  // QUARK_COMMON_KINDS_H_
