#include "cli/usage.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/kinds.h"

namespace quark {
namespace {

constexpr char kOverview[] = R"(Usage: quark [OPTIONS] COMMAND [ARGS]

Operate a Quark prime-search cluster through its controller.

Commands:
  submit KIND [LO] HI   submit a job over the inclusive range [LO, HI]
  jobs                  list the jobs
  job ID                show one job (--wait: until it ends)
  cancel ID             cancel a job
  nodes                 list the worker nodes (--pending: the nodes waiting
                        for approval)
  top                   nodes and jobs, refreshed until Ctrl-C
  drain NODE            give a node no new work
  undrain NODE          give a drained node work again
  trust NODE            count a suspect node's results again
  token create          make a join token: one line lets a new node join
  token list            list the join tokens
  token revoke ID       let no more nodes join with a token
  approve NAME          let in a node that waits for approval
  reject NAME           refuse a waiting node, or remove a joined one
  keygen NAME           write a CURVE key pair NAME.key and NAME.pub
  help [COMMAND]        show this text or the usage of COMMAND
)";

constexpr char kGlobalOptions[] = R"(
Options (before or after the command, as --opt=value or --opt value):
  --controller EP   the controller's api endpoint: HOST, HOST:PORT or
                    tcp://HOST:PORT (port 7702 when not given); default:
                    $QUARK_CONTROLLER, else tcp://127.0.0.1:7702
  --timeout D       how long the controller may stay silent before quark
                    gives up: 5s (default), 500ms, 2m, or a bare number of
                    seconds. Meanwhile queries, drain and undrain are sent
                    again, about each second, so a controller that restarts
                    within it goes unnoticed; other requests are sent once
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
     an unknown job, node or token, a protocol version mismatch, or a key the
     controller refused (or keys that do not fit)
  3  the controller is unreachable (silent for --timeout)
)";

constexpr char kSubmit[] =
    R"(Usage: quark submit KIND [LO] HI [--priority N] [--verify=MODE] [--wait]
                    [--yes] [--json]

Submits a job over the inclusive range [LO, HI]: both ends count, as with
the primesieve command: `quark submit count 1 100` counts the 25 primes up to
100. LO defaults to 0; LO must not exceed HI; both are below 2^64.

KIND:
{KINDS}
Numbers: 100000, 1e10, 1.5e9 (when the value is an integer), 10^12,
and sums or differences such as 2^64-1 or 1e12+1000. No digit
separators ("1,000") and no negative numbers.

  --priority N   higher runs first (-2147483648 to 2147483647; default 0)
  --verify MODE  how results are checked by computing them again on another
                 node (docs/security.md): sample (default) checks a share of
                 the tasks drawn at random (the controller's
                 --verify_fraction, 5%), a node's first tasks, and tasks
                 computed under-voltage or throttled; all runs every task on
                 two nodes (twice the work); none trusts every result.
                 When two results differ a third node decides, and the node
                 outvoted becomes suspect. A count up to 1e14 is also
                 checked as a whole by primecount on the controller
  --wait         wait for the job to end and print its result: the bare
                 number for count, twins, sum and the tuplets; for gaps,
                 max_gap=G start=P (quark job ID prints the table of gaps)
  --json         print the Job as JSON (with --wait: the final Job)
  --yes          submit a job the cluster would need more than a day for
                 without asking (accepted, and harmless, for any job)

Without --wait it prints `job ID`.

A job the cluster would need more than a day for (estimated from the
nodes' measured speeds and the range's height) is first shown with its
estimate: on a terminal quark asks before submitting it; otherwise it is
submitted and the estimate is printed on stderr beside the job id.
)";

constexpr char kJobs[] =
    R"(Usage: quark jobs [--limit N] [--state S[,S...]] [--json]

Lists the jobs the controller keeps, oldest first: ID KIND RANGE PRIO STATE
PROGRESS RESULT. Ranges are inclusive.
  --limit N   the newest N jobs; 0 for all. Default: 20 when the output is
              a terminal (a last line says how many older ones it left out),
              all otherwise
  --state S   only jobs in state S: queued, running, done, failed or
              cancelled; several with commas (--state failed,cancelled)
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

constexpr char kTop[] = R"(Usage: quark top [--interval=2s] [--iterations=N]

Shows the nodes (as `quark nodes`) and the jobs, refreshed in place every
--interval until Ctrl-C: each unfinished job with a bar, its progress,
rate and ETA, and the last five that ended with their result and
speed-up. When stdout is not a terminal it prints one frame, plain, and
exits (--iterations=N for N of them, a blank line between). A controller
that stops answering is said so in the frame, and asked again at the
next.

  --interval D     time between frames: 2s (default), 500ms, 1m (100ms
                   to 1h)
  --iterations N   stop after N frames; 0: until Ctrl-C. Default: until
                   Ctrl-C on a terminal, 1 otherwise
)";

constexpr char kNodes[] = R"(Usage: quark nodes [--pending] [--json]

Lists the worker nodes: NAME STATE CORES THREADS LEASES SIEVE TASKS RATE
TEMP HEALTH LAST_HEARD KEY. RATE is in numbers sieved per second. TEMP is
the node's hottest thermal zone. HEALTH is what a Raspberry Pi's firmware
says now: ok, under-voltage, capped, throttled or soft-temp-limit, with
(was under-voltage) after ok for what happened since boot; "-" on other
machines. KEY is the start of the CURVE public key the node authenticated
with ("-" without CURVE). --json has it all: the whole key,
temperature_celsius, under_voltage, throttled, the firmware's
throttled_bits, memory_available_bytes, load1 and tasks_throttled.

  --pending   list instead the nodes that joined with an --approve token
              and wait for `quark approve NAME` (or `quark reject NAME`):
              NAME KEY ADDRESS TOKEN REQUESTED. Default: off
  --json      print the NodeList (with --pending: the EnrolledList)
)";

constexpr char kToken[] =
    R"(Usage: quark token create [--ttl DURATION] [--uses N] [--approve] [--json]
       quark token list [--json]
       quark token revoke ID [--json]

A join token is the one line a new node needs to join a CURVE cluster:
  sudo quark-worker join TOKEN
It carries the controller's public key, so the node knows the controller
from its first contact. The controller keeps no copy of the token's
secret. See docs/security.md.

token create
  Makes a token and prints it alone on stdout, so that
  TOKEN=$(quark token create) works; what it allows goes to stderr. This
  is the only time the token is shown.

  --ttl DURATION  how long it lets nodes join: 24h (default), a number of
                  seconds (3600), 90s, 30m, 1h30m, 7d or 1d12h; at most
                  3650d. --ttl 0: it never expires, which trades safety for
                  convenience: a leaked token works until it is revoked
  --uses N        how many nodes may join with it, 1 to 1000000; default:
                  any number until it expires
  --approve       nodes that join with it wait for `quark approve NAME`
                  (see `quark nodes --pending`); default: they are let in
  --json          print the Token as one JSON object (id, token,
                  expires_ms, ...) and no notes

token list
  Lists the tokens: ID CREATED EXPIRES USED USES_LEFT APPROVE STATE. STATE is
  active, expired, used up or revoked. It never shows a token itself.

token revoke ID
  Lets no more nodes join with token ID (8 characters, as `quark token
  list` shows). Nodes that joined with it stay: `quark reject NAME`
  removes one.
)";

constexpr char kApprove[] = R"(Usage: quark approve NAME [--json]

Lets in NAME, a node that joined with an --approve token and waits for
approval (see `quark nodes --pending`). Prints `node NAME approved: it
joins at its next attempt`. `quark reject NAME` refuses it instead.
)";

constexpr char kReject[] = R"(Usage: quark reject NAME [--json]

Refuses NAME, a node waiting for approval, or removes a node that joined
with a token: its key is let in no more (a connected node is dropped) and
cannot join again. Prints `node NAME rejected: its key is refused from
now on`.
)";

constexpr char kKeygen[] = R"(Usage: quark keygen NAME [--dir DIR]

Writes a new CURVE key pair for a node, an operator or the controller:
DIR/NAME.key holds the secret key (mode 0600; keep it on that machine) and
DIR/NAME.pub the public key as the line `NAME KEY`, which is what the
controller's authorized_workers and authorized_operators files take:
  cat NAME.pub >> /etc/quark/authorized_workers
Refuses to overwrite either file. DIR defaults to the current directory and
is made (mode 0700) when missing.
See docs/security.md.
)";

constexpr char kDrain[] = R"(Usage: quark drain NODE [--json]

Gives NODE no new work; the tasks it holds finish. Prints `node NODE
draining`. `quark undrain NODE` reverses it.
)";

constexpr char kUndrain[] = R"(Usage: quark undrain NODE [--json]

Gives a drained NODE work again. Prints `node NODE active`.
)";

constexpr char kTrust[] = R"(Usage: quark trust NODE [--json]

Clears the suspect mark of NODE. A node is made suspect when another
node's result for a task differs from its own and a third agrees with the
other: it then gets no work, and its results that no other node confirmed
are computed again. Once the cause is fixed (a power supply, a cooler, a
reflashed card), `quark trust NODE` lets it work again; its next tasks are
verified, as after a join. Prints `node NODE active`.
)";

constexpr char kHelp[] = R"(Usage: quark help [COMMAND]

Shows the overview, or the usage of COMMAND (same as `quark COMMAND --help`).
)";

// What a command's own help says of the options and codes every command
// shares; `quark --help` explains them in full.
constexpr char kGlobalBrief[] = R"(
Global options (`quark --help` explains them): --controller EP, --timeout D,
--key FILE, --controller_key FILE, --json, --help, --version.
Exit codes: 0 success; 1 the job failed or was cancelled, or the controller
refused; 2 bad usage or bad input; 3 the controller is unreachable.
)";

// keygen asks no controller anything.
constexpr char kKeygenBrief[] = R"(
Exit codes: 0 the pair was written; 2 a bad name, a file that exists, or a
folder that cannot be made or written.
)";

// One help text per command; a group of subcommands ("token") has one.
struct Topic {
  absl::string_view command;
  const char* text;
};

constexpr Topic kTopics[] = {
    {"submit", kSubmit},   {"jobs", kJobs},   {"job", kJob},
    {"cancel", kCancel},   {"nodes", kNodes}, {"drain", kDrain},
    {"undrain", kUndrain}, {"trust", kTrust}, {"approve", kApprove},
    {"reject", kReject},   {"token", kToken}, {"keygen", kKeygen},
    {"top", kTop},         {"help", kHelp},
};

// "  count        the number of primes\n" and so on, from the table of
// kinds: the names in a column as wide as the longest, the help wrapped
// to 78 columns under itself.
std::string KindList() {
  size_t name_width = 0;
  for (const KindSpec& kind : Kinds()) {
    name_width = std::max(name_width, std::strlen(kind.name));
  }
  const size_t indent = 2 + name_width + 2;
  constexpr size_t kColumns = 78;
  std::string out;
  for (const KindSpec& kind : Kinds()) {
    std::string line = absl::StrFormat("  %-*s  ", name_width, kind.name);
    bool first = true;
    for (absl::string_view word : absl::StrSplit(kind.help, ' ')) {
      if (!first && line.size() + 1 + word.size() > kColumns) {
        absl::StrAppend(&out, line, "\n");
        line = std::string(indent, ' ');
        first = true;
      }
      absl::StrAppend(&line, first ? "" : " ", word);
      first = false;
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace

std::string UsageText(absl::string_view command) {
  for (const Topic& topic : kTopics) {
    if (topic.command == command) {
      return absl::StrCat(
          absl::StrReplaceAll(topic.text, {{"{KINDS}", KindList()}}),
          topic.command == "keygen" ? kKeygenBrief : kGlobalBrief);
    }
  }
  return absl::StrCat(kOverview, kGlobalOptions, kExitCodes);
}

}  // namespace quark
