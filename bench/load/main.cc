// quark-loadgen: N simulated Quark workers in one process and one thread,
// with the sieve faked, to load-test a controller (bench/load/load_test.sh).
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "bench/load/fleet.h"
#include "common/log.h"

ABSL_FLAG(std::string, controller, "tcp://127.0.0.1:7700",
          "The controller's control endpoint.");
ABSL_FLAG(std::string, collect_host, "",
          "Host to reach the collector on when the Welcome names a bind "
          "address (tcp://*:PORT); default: the --controller host.");
ABSL_FLAG(int, workers, 1000, "Simulated workers (one DEALER each).");
ABSL_FLAG(std::string, name_prefix, "sim-",
          "Node names are PREFIX0001, PREFIX0002, ...");
ABSL_FLAG(int, credits, 2, "Credits each worker grants (1 to 64).");
ABSL_FLAG(int, fake_task_ms, 0,
          "Wall time each assignment takes; a worker runs one at a time.");
ABSL_FLAG(int, fake_task_max_ms, 0,
          "Above --fake_task_ms: each assignment takes a time drawn uniformly "
          "from [--fake_task_ms, --fake_task_max_ms].");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the task time draws.");
ABSL_FLAG(int, reported_ms, -1,
          "compute_us reported per task, in ms; -1: --fake_task_ms. A slow "
          "reported rate keeps the controller's tasks at their minimum size.");
ABSL_FLAG(int, warmup_s, 0,
          "Seconds at the start whose acks the final line leaves out.");
ABSL_FLAG(int, duration, 0, "Seconds to run; 0: until SIGTERM or SIGINT.");
ABSL_FLAG(int, report_s, 5, "Seconds between progress lines on stdout.");
ABSL_FLAG(std::string, log_level, "notice",
          "error, warning, notice, info or debug.");

namespace quark {
namespace {

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "quark-loadgen: simulated workers with a fake sieve, to load-test a "
      "controller.\nUsage: quark-loadgen --controller=tcp://HOST:7700 "
      "[--workers=1000] [--credits=2] [--fake_task_ms=0] "
      "[--fake_task_max_ms=0] [--duration=0] [--warmup_s=0]");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "quark-loadgen: unexpected argument '%s'\n", rest[1]);
    return 2;
  }
  LogLevel level;
  if (!ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    std::fprintf(stderr, "quark-loadgen: bad --log_level\n");
    return 2;
  }
  SetLogLevel(level);
  FleetOptions options;
  options.controller = absl::GetFlag(FLAGS_controller);
  options.collect_host = absl::GetFlag(FLAGS_collect_host);
  options.workers = absl::GetFlag(FLAGS_workers);
  options.name_prefix = absl::GetFlag(FLAGS_name_prefix);
  const int credits = absl::GetFlag(FLAGS_credits);
  const int fake_ms = absl::GetFlag(FLAGS_fake_task_ms);
  const int fake_max_ms = absl::GetFlag(FLAGS_fake_task_max_ms);
  const int warmup_s = absl::GetFlag(FLAGS_warmup_s);
  const int duration = absl::GetFlag(FLAGS_duration);
  const int report_s = absl::GetFlag(FLAGS_report_s);
  if (options.workers < 1 || options.workers > 100000 || credits < 1 ||
      credits > 64 || fake_ms < 0 || fake_max_ms < 0 || duration < 0 ||
      report_s < 1 || warmup_s < 0) {
    std::fprintf(stderr,
                 "quark-loadgen: need --workers in [1, 100000], --credits in "
                 "[1, 64], --fake_task_ms >= 0, --fake_task_max_ms >= 0, "
                 "--duration >= 0, --report_s >= 1, --warmup_s >= 0\n");
    return 2;
  }
  options.credits = static_cast<uint32_t>(credits);
  options.fake_task = absl::Milliseconds(fake_ms);
  options.fake_task_max = absl::Milliseconds(fake_max_ms);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.warmup = absl::Seconds(warmup_s);
  options.reported_compute =
      absl::Milliseconds(absl::GetFlag(FLAGS_reported_ms));
  options.duration = absl::Seconds(duration);
  options.report_every = absl::Seconds(report_s);
  Fleet fleet(options);
  if (absl::Status s = fleet.Start(); !s.ok()) {
    QLOG(kError) << s.message();
    return 1;
  }
  if (absl::Status s = fleet.Run(); !s.ok()) {
    QLOG(kError) << s.message();
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace quark

int main(int argc, char** argv) { return quark::Main(argc, argv); }
