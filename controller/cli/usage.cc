#include "controller/cli/usage.h"

#include "absl/strings/str_cat.h"

namespace quark {
namespace {

constexpr char kOverview[] = R"(Usage: quark [OPTIONS] COMMAND [ARGS]

Operate a Quark prime-search cluster through its controller.

Commands:
  submit KIND [LO] HI   submit a job over the inclusive range [LO, HI]
  jobs                  list the jobs
  job ID                show one job (--wait: until it ends)
  cancel ID             cancel a job
  nodes                 list the worker nodes
  drain NODE            give a node no new work
  undrain NODE          give a drained node work again
  keygen NAME           write a CURVE key pair NAME.key and NAME.pub
  help [COMMAND]        show this text or the usage of COMMAND
)";

constexpr char kGlobalOptions[] = R"(
Options (before or after the command, as --opt=value or --opt value):
  --controller EP   the controller's api endpoint; default: $QUARK_CONTROLLER,
                    else tcp://127.0.0.1:7702
  --timeout D       how long the controller may stay silent before quark
                    gives up: 5s (default), 500ms, 2m, or a bare number of
                    seconds. Meanwhile requests other than submit and cancel
                    are sent again, about each second, so a controller that
                    restarts within it goes unnoticed
  --key FILE        this operator's CURVE secret key (quark keygen), for a
                    controller whose API takes operator keys; default:
                    $QUARK_KEY. Needs --controller_key
  --controller_key FILE
                    the controller's public key (its controller.pub);
                    default: $QUARK_CONTROLLER_KEY
  --json            print the reply as one JSON document
  -h, --help        show the usage
  --version         print the version
)";

constexpr char kExitCodes[] = R"(
Exit codes:
  0  success (with --wait: the job is DONE)
  1  the job FAILED or was CANCELLED (with --wait), or the controller
     refused the request in the job's or node's present state
  2  bad usage or bad input: unknown command, kind or option, a bad number,
     an unknown job or node, a protocol version mismatch, or a key the
     controller refused (or keys that do not fit)
  3  the controller is unreachable (silent for --timeout)
)";

constexpr char kSubmit[] =
    R"(Usage: quark submit KIND [LO] HI [--priority N] [--wait] [--json]

Submits a job over the inclusive range [LO, HI]: both ends count, as with
the primesieve command: `quark submit count 1 100` counts the 25 primes up to
100. LO defaults to 0; LO must not exceed HI; both are below 2^64.

KIND:
  count   the number of primes
  twins   the number of twin pairs (p, p + 2), both in the range
  gaps    the largest gap between consecutive primes: max_gap=G start=P
  sum     the sum of the primes (exact, may exceed 2^64)

Numbers: 100000, 1e10, 1.5e9 (when the value is an integer), 10^12,
and sums or differences such as 2^64-1 or 1e12+1000. No digit
separators ("1,000") and no negative numbers.

  --priority N   higher runs first (-2147483648 to 2147483647; default 0)
  --wait         wait for the job to end and print its result: the bare
                 number for count, twins and sum; for gaps, max_gap=G start=P
  --json         print the Job as JSON (with --wait: the final Job)

Without --wait it prints `job ID`.
)";

constexpr char kJobs[] = R"(Usage: quark jobs [--json]

Lists the jobs: ID KIND RANGE PRIO STATE PROGRESS RESULT. Ranges are
inclusive.
)";

constexpr char kJob[] = R"(Usage: quark job ID [--wait] [--json]

Shows one job as `key: value` lines. With --wait, waits for it to end and
prints its result as `quark submit --wait` does; the exit code then tells
how it ended (0 DONE, 1 FAILED or CANCELLED).
)";

constexpr char kCancel[] = R"(Usage: quark cancel ID [--json]

Cancels a queued or running job; prints `job ID cancelled`. A job that has
already ended cannot be cancelled (exit code 1).
)";

constexpr char kNodes[] = R"(Usage: quark nodes [--json]

Lists the worker nodes: NAME STATE CORES THREADS LEASES TASKS RATE
LAST_HEARD KEY. RATE is in numbers sieved per second; KEY is the start of
the CURVE public key the node authenticated with ("-" without CURVE; the
whole key is in --json).
)";

constexpr char kKeygen[] = R"(Usage: quark keygen NAME [--dir DIR]

Writes a new CURVE key pair for a node, an operator or the controller:
DIR/NAME.key holds the secret key (mode 0600; keep it on that machine) and
DIR/NAME.pub the public key as the line `NAME KEY`, which is what the
controller's authorized_workers and authorized_operators files take:
  cat NAME.pub >> /etc/quark/authorized_workers
Refuses to overwrite either file. DIR defaults to the current directory.
See docs/security.md.
)";

constexpr char kDrain[] = R"(Usage: quark drain NODE [--json]

Gives NODE no new work; the tasks it holds finish. Prints `node NODE
draining`. `quark undrain NODE` reverses it.
)";

constexpr char kUndrain[] = R"(Usage: quark undrain NODE [--json]

Gives a drained NODE work again. Prints `node NODE active`.
)";

constexpr char kHelp[] = R"(Usage: quark help [COMMAND]

Shows the overview, or the usage of COMMAND (same as `quark COMMAND --help`).
)";

}  // namespace

std::string UsageText(absl::string_view command) {
  const char* text = nullptr;
  if (command == "submit") text = kSubmit;
  if (command == "jobs") text = kJobs;
  if (command == "job") text = kJob;
  if (command == "cancel") text = kCancel;
  if (command == "nodes") text = kNodes;
  if (command == "drain") text = kDrain;
  if (command == "undrain") text = kUndrain;
  if (command == "keygen") text = kKeygen;
  if (command == "help") text = kHelp;
  if (text == nullptr)
    return absl::StrCat(kOverview, kGlobalOptions, kExitCodes);
  return absl::StrCat(text, kGlobalOptions, kExitCodes);
}

}  // namespace quark
