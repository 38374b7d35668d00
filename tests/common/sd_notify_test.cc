#include "common/sd_notify.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

// Sets (or, with nullptr, unsets) an environment variable for one test and
// restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A datagram socket standing in for systemd's notification socket: a file
// in a fresh temporary directory, or an abstract name.
class FakeSystemd {
 public:
  explicit FakeSystemd(bool abstract) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0) << std::strerror(errno);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::string path;
    if (abstract) {
      name_ = absl::StrCat("@quark-sd-notify-test-", getpid(), "-", ++count_);
      path = name_;
      path[0] = '\0';
    } else {
      char dir[] = "/tmp/quark-sd-notify-XXXXXX";
      EXPECT_NE(mkdtemp(dir), nullptr) << std::strerror(errno);
      dir_ = dir;
      name_ = path = dir_ + "/notify";
    }
    std::memcpy(address.sun_path, path.data(), path.size());
    const auto length =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), length), 0)
        << std::strerror(errno);
  }
  ~FakeSystemd() {
    close(fd_);
    if (!dir_.empty()) {
      unlink(name_.c_str());
      rmdir(dir_.c_str());
    }
  }

  // What $NOTIFY_SOCKET should say.
  const std::string& name() const { return name_; }

  // The next datagram, waiting up to 5 s; nullopt when none came.
  std::optional<std::string> Receive(int timeout_ms = 5000) {
    pollfd item{fd_, POLLIN, 0};
    if (poll(&item, 1, timeout_ms) != 1) return std::nullopt;
    char buffer[4096];
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<size_t>(n));
  }

  // Every datagram already queued, without waiting.
  std::vector<std::string> Drain() {
    std::vector<std::string> out;
    while (auto message = Receive(0)) out.push_back(*message);
    return out;
  }

 private:
  static inline int count_ = 0;
  int fd_ = -1;
  std::string dir_;
  std::string name_;
};

const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(SdNotifyTest, SendsVerbatimToPathAndAbstractSockets) {
  for (bool abstract : {false, true}) {
    SCOPED_TRACE(abstract ? "abstract" : "path");
    FakeSystemd systemd(abstract);
    ScopedEnv socket("NOTIFY_SOCKET", systemd.name().c_str());
    ScopedEnv usec("WATCHDOG_USEC", "2000000");
    ScopedEnv pid("WATCHDOG_PID", nullptr);
    auto notifier = SystemdNotifier::FromEnvironment();
    ASSERT_TRUE(notifier->enabled());
    EXPECT_EQ(notifier->watchdog(), absl::Seconds(2));

    notifier->Ready();
    EXPECT_EQ(systemd.Receive(), "READY=1");
    notifier->SetStatus("registered to tcp://ctl:7700; 1 task running", kStart);
    EXPECT_EQ(systemd.Receive(),
              "STATUS=registered to tcp://ctl:7700; 1 task running");
    notifier->Tick(kStart);
    EXPECT_EQ(systemd.Receive(), "WATCHDOG=1");
    notifier->Stopping();
    EXPECT_EQ(systemd.Receive(), "STOPPING=1");
    EXPECT_TRUE(systemd.Drain().empty());
  }
}

TEST(SdNotifyTest, WatchdogEveryHalfInterval) {
  FakeSystemd systemd(false);
  auto notifier = SystemdNotifier::Create(
      {.socket = systemd.name(), .watchdog = absl::Seconds(10)});
  // The first ping is due at once.
  EXPECT_EQ(notifier->NextDeadline(), absl::InfinitePast());
  notifier->Tick(kStart);
  EXPECT_EQ(systemd.Receive(), "WATCHDOG=1");
  EXPECT_EQ(notifier->NextDeadline(), kStart + absl::Seconds(5));

  notifier->Tick(kStart + absl::Milliseconds(4999));
  EXPECT_TRUE(systemd.Drain().empty());
  notifier->Tick(kStart + absl::Seconds(5));
  EXPECT_EQ(systemd.Receive(), "WATCHDOG=1");
  // Counted from the ping actually sent, so a late turn does not bunch up.
  notifier->Tick(kStart + absl::Seconds(12));
  EXPECT_EQ(systemd.Receive(), "WATCHDOG=1");
  EXPECT_EQ(notifier->NextDeadline(), kStart + absl::Seconds(17));
  EXPECT_TRUE(systemd.Drain().empty());
}

TEST(SdNotifyTest, NextWatchdogPing) {
  EXPECT_EQ(NextWatchdogPing(absl::InfinitePast(), absl::Seconds(4)),
            absl::InfinitePast());
  EXPECT_EQ(NextWatchdogPing(kStart, absl::Seconds(4)),
            kStart + absl::Seconds(2));
  EXPECT_EQ(NextWatchdogPing(kStart, absl::Microseconds(3)),
            kStart + absl::Nanoseconds(1500));
  EXPECT_EQ(NextWatchdogPing(kStart, absl::ZeroDuration()),
            absl::InfiniteFuture());
}

TEST(SdNotifyTest, ParseWatchdogUsec) {
  EXPECT_EQ(*ParseWatchdogUsec("30000000"), absl::Seconds(30));
  EXPECT_EQ(*ParseWatchdogUsec("1"), absl::Microseconds(1));
  for (const char* bad : {"", "0", "-5", "+5", " 5", "5 ", "5s", "1e6", "0x10",
                          "99999999999999999999"}) {
    EXPECT_FALSE(ParseWatchdogUsec(bad).ok()) << '"' << bad << '"';
  }
}

TEST(SdNotifyTest, BadWatchdogUsecTurnsWatchdogOff) {
  FakeSystemd systemd(false);
  ScopedEnv socket("NOTIFY_SOCKET", systemd.name().c_str());
  ScopedEnv usec("WATCHDOG_USEC", "30s");
  ScopedEnv pid("WATCHDOG_PID", nullptr);
  auto notifier = SystemdNotifier::FromEnvironment();
  EXPECT_TRUE(notifier->enabled());
  EXPECT_EQ(notifier->watchdog(), absl::ZeroDuration());
  EXPECT_EQ(notifier->NextDeadline(), absl::InfiniteFuture());
  notifier->Tick(kStart);
  notifier->Ready();
  EXPECT_EQ(systemd.Receive(), "READY=1");  // the rest still works
  EXPECT_TRUE(systemd.Drain().empty());
}

TEST(SdNotifyTest, WatchdogPidOfAnotherProcessTurnsWatchdogOff) {
  FakeSystemd systemd(false);
  ScopedEnv socket("NOTIFY_SOCKET", systemd.name().c_str());
  ScopedEnv usec("WATCHDOG_USEC", "2000000");
  {
    ScopedEnv pid("WATCHDOG_PID", absl::StrCat(getpid() + 1).c_str());
    auto notifier = SystemdNotifier::FromEnvironment();
    EXPECT_EQ(notifier->watchdog(), absl::ZeroDuration());
    notifier->Tick(kStart);
    EXPECT_TRUE(systemd.Drain().empty());
  }
  {
    ScopedEnv pid("WATCHDOG_PID", absl::StrCat(getpid()).c_str());
    auto notifier = SystemdNotifier::FromEnvironment();
    EXPECT_EQ(notifier->watchdog(), absl::Seconds(2));
    notifier->Tick(kStart);
    EXPECT_EQ(systemd.Receive(), "WATCHDOG=1");
  }
}

TEST(SdNotifyTest, StatusOnChangeAtMostOncePerInterval) {
  FakeSystemd systemd(false);
  auto notifier = SystemdNotifier::Create({.socket = systemd.name()});
  ASSERT_TRUE(notifier->StatusDue(kStart));
  notifier->SetStatus("2 nodes, 1 job running", kStart);
  EXPECT_EQ(systemd.Receive(), "STATUS=2 nodes, 1 job running");
  EXPECT_FALSE(notifier->StatusDue(kStart + absl::Milliseconds(999)));
  ASSERT_TRUE(notifier->StatusDue(kStart + absl::Seconds(1)));
  notifier->SetStatus("2 nodes, 1 job running", kStart + absl::Seconds(1));
  EXPECT_TRUE(systemd.Drain().empty());  // unchanged: not sent again
  notifier->SetStatus("3 nodes,\n1 job running", kStart + absl::Seconds(2));
  EXPECT_EQ(systemd.Receive(), "STATUS=3 nodes, 1 job running");
}

TEST(SdNotifyTest, UnsetNotifySocketDoesNothing) {
  ScopedEnv socket("NOTIFY_SOCKET", nullptr);
  ScopedEnv usec("WATCHDOG_USEC", "2000000");
  auto notifier = SystemdNotifier::FromEnvironment();
  EXPECT_FALSE(notifier->enabled());
  EXPECT_EQ(notifier->NextDeadline(), absl::InfiniteFuture());
  EXPECT_FALSE(notifier->StatusDue(kStart));
  EXPECT_FALSE(notifier->Send("READY=1"));
  notifier->Tick(kStart);
  notifier->Stopping();
}

TEST(SdNotifyTest, UnusableSocketsNeverFail) {
  // Not absolute nor abstract: disabled.
  EXPECT_FALSE(SystemdNotifier::Create({.socket = "relative"})->enabled());
  EXPECT_FALSE(SystemdNotifier::Create({.socket = "/" + std::string(200, 'x')})
                   ->enabled());
  // Nobody listening: the send fails, and is only logged.
  char dir[] = "/tmp/quark-sd-notify-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  auto notifier =
      SystemdNotifier::Create({.socket = std::string(dir) + "/nobody"});
  ASSERT_TRUE(notifier->enabled());
  EXPECT_FALSE(notifier->Send("READY=1"));
  EXPECT_FALSE(notifier->Send("READY=1"));
  rmdir(dir);
}

}  // namespace
}  // namespace quark
