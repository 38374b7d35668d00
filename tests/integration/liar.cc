// quark-liar: a worker that returns wrong results, for the verification
// tests (docs/security.md). It is quark-worker's library with a filter on
// its results (WorkerOptions::result_filter) that adds 1 to the count and
// the twins of some tasks: honest for its first --lie_after tasks, then
// wrong on every --lie_every-th. Built as a test target only: nothing in
// the shipped binaries can lie on request.
//
// It takes the flags the integration cluster gives a worker (cluster.h),
// plain TCP only.
#include <atomic>
#include <cstdio>
#include <random>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "worker/worker.h"

ABSL_FLAG(std::string, controller, "tcp://127.0.0.1:7700", "control endpoint");
ABSL_FLAG(std::string, name, "liar", "node name");
ABSL_FLAG(int, threads, 1, "threads to sieve with");
ABSL_FLAG(int, credits, 2, "assignments held at once");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(30), "on SIGTERM");
ABSL_FLAG(std::string, state_dir, "", "ignored");
ABSL_FLAG(int, lie_after, 0, "honest tasks before the first lie");
ABSL_FLAG(int, lie_every, 1, "then a lie on every N-th task");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  quark::WorkerOptions options;
  options.controller = absl::GetFlag(FLAGS_controller);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.session.node = absl::GetFlag(FLAGS_name);
  options.session.cores = static_cast<uint32_t>(options.threads);
  options.session.threads = static_cast<uint32_t>(options.threads);
  options.session.credits = static_cast<uint32_t>(absl::GetFlag(FLAGS_credits));
  options.session.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  std::random_device random;
  options.session.incarnation = (uint64_t{random()} << 32 | random()) | 1;
  const int lie_after = absl::GetFlag(FLAGS_lie_after);
  const int lie_every = std::max(1, absl::GetFlag(FLAGS_lie_every));
  auto tasks = std::make_shared<std::atomic<int>>(0);
  options.result_filter = [=](const quark::proto::Assign& a,
                              quark::proto::Partial* partial) {
    const int n = ++*tasks;
    if (n <= lie_after || (n - lie_after) % lie_every != 0) return;
    partial->set_count(partial->count() + 1);
    partial->set_twins(partial->twins() + 1);
    QLOG(kNotice) << "lying job=" << a.job() << " task=" << a.task()
                  << " n=" << n;
  };
  quark::Worker worker(std::move(options));
  const absl::Status status = worker.Run();
  if (!status.ok()) {
    std::fprintf(stderr, "quark-liar: %s\n",
                 std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
