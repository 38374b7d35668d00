// The controller's status page (GET / on --http) rendered by a real
// browser: Debian's chromium, headless, runs the page's script against a
// running cluster, and the test reads the DOM it ends with. scripts/deps.sh
// installs chromium; without it the test fails, saying so.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/cluster_test.h"
#include "tests/integration/process.h"
#include "tests/integration/reference.h"
#include "tests/testutil/fake_tree.h"

namespace quark::integration {
namespace {

constexpr char kChromium[] = "/usr/bin/chromium";

// What chromium prints with `mode` (--dump-dom, or --screenshot=FILE) for
// `url` once the page's script has run (its first fetch answered): virtual
// time runs ahead while the page waits on nothing but timers.
std::string Render(Cluster& cluster, const std::string& url,
                   const std::string& mode) {
  if (!std::filesystem::exists(kChromium)) {
    ADD_FAILURE() << kChromium << " is missing: apt-get install chromium"
                  << " (scripts/deps.sh installs it)";
    return "";
  }
  const std::filesystem::path profile = cluster.dir() / "chromium-profile";
  absl::StatusOr<std::string> out =
      RunToEnd("chromium",
               {kChromium, "--headless", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--disable-extensions",
                "--window-size=1280,900", "--user-data-dir=" + profile.string(),
                "--virtual-time-budget=5000", mode, url},
               cluster.dir(), DeadlineIn(60s));
  if (!out.ok()) {
    ADD_FAILURE() << out.status();
    return "";
  }
  return *std::move(out);
}

// The part of `dom` from the element whose opening tag contains `marker`
// to the end of that table row.
std::string Row(const std::string& dom, const std::string& marker) {
  const size_t start = dom.find(marker);
  if (start == std::string::npos) return "";
  const size_t end = dom.find("</tr>", start);
  return dom.substr(start, end == std::string::npos ? end : end - start);
}

TEST_F(ClusterTest, StatusPageShowsNodesHealthAndJobsInABrowser) {
  testutil::FakeTree pi;
  pi.Write("sys/class/thermal/thermal_zone0/temp", "71500\n");
  // Under-voltage and throttled now (bits 0, 2) and since boot (16, 18).
  pi.Write("sys/devices/platform/soc/soc:firmware/get_throttled", "50005\n");
  ASSERT_OK(cluster().StartController(DeadlineIn(20s)));
  ASSERT_OK(
      cluster()
          .StartWorker("pi", {"--sysfs_root=" + pi.Dir("sys"), "--threads=1"})
          .status());
  ASSERT_OK(cluster().WaitRegistered("pi", DeadlineIn(20s)));
  // One job done, exactly, and one that runs while the page is read.
  ASSERT_OK_AND_ASSIGN(proto::Job done,
                       cluster().SubmitAndWait(proto::COUNT, 0, 1e9, 60s));
  ASSERT_TRUE(MatchesReference(done, proto::COUNT, 0, 1e9));
  ASSERT_OK_AND_ASSIGN(proto::Job running,
                       cluster().Submit(proto::COUNT, 1e12, 1e13));
  ASSERT_OK(cluster()
                .WaitForJob(
                    running.job_id(),
                    [](const proto::Job& j) { return j.progress() > 0; },
                    DeadlineIn(60s))
                .status());
  // Published once a second: give the page a second and its rate two.
  usleep(2500000);

  const std::string url =
      absl::StrCat("http://", cluster().http_address(), "/");
  const std::string dom = Render(cluster(), url, "--dump-dom");
  ASSERT_FALSE(dom.empty());
  EXPECT_TRUE(absl::StrContains(dom, "1 node, 1 running, 0 queued")) << dom;
  EXPECT_TRUE(absl::StrContains(dom, "1 under-voltage or throttled")) << dom;

  const std::string node = Row(dom, "data-node=\"pi\"");
  EXPECT_TRUE(absl::StrContains(node, "<td class=\"state\">active</td>"))
      << node;
  EXPECT_TRUE(absl::StrContains(node, "71.5 \u00b0C")) << node;
  EXPECT_TRUE(absl::StrContains(
      node, "<span class=\"badge bad\">under-voltage,throttled</span>"))
      << node;

  const std::string job =
      Row(dom, absl::StrCat("data-job=\"", running.job_id(), "\""));
  EXPECT_TRUE(absl::StrContains(job, "data-state=\"running\"")) << job;
  EXPECT_TRUE(absl::StrContains(job, "class=\"bar\" data-progress=\"0.0"))
      << job;  // under 10% of [1e12, 1e13] in a few seconds
  EXPECT_FALSE(absl::StrContains(job, "data-progress=\"0.0000\"")) << job;
  EXPECT_TRUE(absl::StrContains(job, "<td>1e12..1e13</td>")) << job;
  // Its rate and ETA, known after a few pages' worth of progress.
  EXPECT_TRUE(absl::StrContains(job, "/s</td>")) << job;
  EXPECT_FALSE(absl::StrContains(job, "<td class=\"num rate\">-</td>")) << job;
  EXPECT_FALSE(absl::StrContains(job, "<td class=\"num eta\">-</td>")) << job;

  const std::string ended =
      Row(dom, absl::StrCat("data-job=\"", done.job_id(), "\""));
  EXPECT_TRUE(absl::StrContains(ended, "data-state=\"done\"")) << ended;
  EXPECT_TRUE(absl::StrContains(
      ended,
      absl::StrCat("<td class=\"result\">", ReferenceCount(0, 1e9), "</td>")))
      << ended;
  EXPECT_TRUE(absl::StrContains(ended, "x</td>")) << ended;  // its speed-up

  // A picture for a person to look at: kept in $QUARK_SCREENSHOT_DIR when
  // set (the test's directory goes with it).
  const std::filesystem::path png = cluster().dir() / "status-page.png";
  Render(cluster(), url, "--screenshot=" + png.string());
  EXPECT_TRUE(std::filesystem::exists(png));
  if (const char* keep = std::getenv("QUARK_SCREENSHOT_DIR")) {
    std::filesystem::copy_file(
        png, std::filesystem::path(keep) / png.filename(),
        std::filesystem::copy_options::overwrite_existing);
  }

  EXPECT_EQ(
      cluster().RunCli({"cancel", absl::StrCat(running.job_id())}).exit_code,
      0);
}

}  // namespace
}  // namespace quark::integration
