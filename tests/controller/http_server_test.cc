#include "controller/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace quark {
namespace {

// A client socket to the server on loopback; -1 when refused.
int Connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) !=
      0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` and reads until the server closes (or 5 s pass).
std::string Exchange(uint16_t port, const std::string& request) {
  const int fd = Connect(port);
  if (fd < 0) return "";
  (void)!::write(fd, request.data(), request.size());
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
    response.append(buffer, n);
  ::close(fd);
  return response;
}

std::string Get(uint16_t port, const std::string& path,
                const char* method = "GET") {
  return Exchange(port, absl::StrCat(method, " ", path,
                                     " HTTP/1.1\r\nHost: x\r\n"
                                     "Connection: close\r\n\r\n"));
}

class HttpServerTest : public testing::Test {
 protected:
  void Start(HttpOptions options = {}) {
    options.listen = "127.0.0.1:0";
    auto server = HttpServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    server_->Publish("/metrics", "text/plain; version=0.0.4", "quark_up 1\n");
  }
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesWhatWasPublished) {
  Start();
  std::string r = Get(server_->port(), "/metrics");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200")) << r;
  EXPECT_TRUE(absl::StrContains(r, "Content-Type: text/plain; version=0.0.4"));
  EXPECT_TRUE(absl::EndsWith(r, "\r\n\r\nquark_up 1\n")) << r;
  server_->Publish("/metrics", "text/plain", "quark_up 2\n");
  EXPECT_TRUE(absl::EndsWith(Get(server_->port(), "/metrics"), "quark_up 2\n"));
  // A query string is not part of the path.
  EXPECT_TRUE(
      absl::StartsWith(Get(server_->port(), "/metrics?x=1"), "HTTP/1.1 200"));
  EXPECT_GE(server_->requests(), 3u);
}

// A page published with a render function is made on the HTTP thread at
// its first request, once, and not at all when nobody asks for it.
TEST_F(HttpServerTest, ARenderedPageIsMadeAtItsFirstRequestOnly) {
  Start();
  std::atomic<int> made{0};
  auto publish = [&](int n) {
    server_->Publish("/lazy", "text/plain",
                     std::function<std::string()>([&made, n] {
                       ++made;
                       return absl::StrCat("page ", n, "\n");
                     }));
  };
  publish(1);
  publish(2);  // replaces 1, which nobody asked for
  EXPECT_EQ(made, 0);
  EXPECT_TRUE(absl::EndsWith(Get(server_->port(), "/lazy"), "page 2\n"));
  EXPECT_TRUE(absl::EndsWith(Get(server_->port(), "/lazy"), "page 2\n"));
  EXPECT_EQ(made, 1);
  publish(3);
  EXPECT_TRUE(absl::EndsWith(Get(server_->port(), "/lazy"), "page 3\n"));
  EXPECT_EQ(made, 2);
}

TEST_F(HttpServerTest, OnlyGetAndHeadOfPublishedPaths) {
  Start();
  EXPECT_TRUE(
      absl::StartsWith(Get(server_->port(), "/nothing"), "HTTP/1.1 404"));
  const std::string post =
      Exchange(server_->port(),
               "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
               "Connection: close\r\n\r\nhello");
  EXPECT_TRUE(absl::StartsWith(post, "HTTP/1.1 405")) << post;
  EXPECT_TRUE(absl::StrContains(post, "Allow: GET, HEAD")) << post;
  const std::string head = Get(server_->port(), "/metrics", "HEAD");
  EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 200")) << head;
  EXPECT_FALSE(absl::StrContains(head, "quark_up")) << head;
}

TEST_F(HttpServerTest, GarbageGetsAnErrorAndTheServerGoesOn) {
  HttpOptions options;
  options.timeout_seconds = 1;  // what it does not answer, it closes
  Start(options);
  for (const std::string& junk :
       {std::string("\x00\x01\xff garbage\r\n\r\n", 15),
        std::string("GET\r\n\r\n"), std::string(20000, 'A') + "\r\n\r\n",
        std::string("GET /metrics HTTP/9.9\r\n\r\n")}) {
    const std::string r = Exchange(server_->port(), junk);
    EXPECT_FALSE(absl::StartsWith(r, "HTTP/1.1 200")) << r;
  }
  EXPECT_TRUE(
      absl::StartsWith(Get(server_->port(), "/metrics"), "HTTP/1.1 200"));
}

TEST_F(HttpServerTest, SlowAndIdleClientsHoldNoOneUp) {
  HttpOptions options;
  options.timeout_seconds = 1;
  Start(options);
  // Half a request each, then silence.
  std::vector<int> slow;
  for (int i = 0; i < 10; ++i) {
    slow.push_back(Connect(server_->port()));
    ASSERT_GE(slow.back(), 0);
    (void)!::write(slow.back(), "GET /metrics HTTP/1.1\r\n", 23);
  }
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(
      absl::StartsWith(Get(server_->port(), "/metrics"), "HTTP/1.1 200"));
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(500));
  // Past the timeout they are closed.
  char c;
  for (int fd : slow) {
    EXPECT_LE(::read(fd, &c, 1), 0);
    ::close(fd);
  }
}

TEST_F(HttpServerTest, AFloodIsCappedAndServingResumesAfterIt) {
  HttpOptions options;
  options.connection_limit = 8;
  options.per_address_limit = 4;
  Start(options);
  std::vector<int> flood;
  for (int i = 0; i < 40; ++i) flood.push_back(Connect(server_->port()));
  // Beyond the caps a request is refused at once, not left hanging.
  const auto start = std::chrono::steady_clock::now();
  const std::string r = Get(server_->port(), "/metrics");
  EXPECT_FALSE(absl::StartsWith(r, "HTTP/1.1 200")) << r;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  for (int fd : flood) {
    if (fd >= 0) ::close(fd);
  }
  std::string after;
  for (int i = 0; i < 50 && !absl::StartsWith(after, "HTTP/1.1 200"); ++i) {
    after = Get(server_->port(), "/metrics");
    if (!absl::StartsWith(after, "HTTP/1.1 200")) usleep(20000);
  }
  EXPECT_TRUE(absl::StartsWith(after, "HTTP/1.1 200")) << after;
}

TEST(HttpListenTest, HostAndPortAreChecked) {
  EXPECT_EQ(ParseHttpListen("127.0.0.1:7780")->first, "127.0.0.1");
  EXPECT_EQ(ParseHttpListen("localhost:80")->first, "127.0.0.1");
  EXPECT_EQ(ParseHttpListen("*:7780")->first, "0.0.0.0");
  EXPECT_EQ(ParseHttpListen("10.0.0.2:9")->second, 9);
  for (const char* bad : {"7780", "127.0.0.1:", "127.0.0.1:99999",
                          "pi.local:7780", "127.0.0.1:x", "[::1]:7780"}) {
    const auto parsed = ParseHttpListen(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_TRUE(absl::StrContains(parsed.status().message(), "--http"))
        << parsed.status();
  }
}

TEST(HttpServerStartTest, APortInUseIsAClearError) {
  HttpOptions options;
  options.listen = "127.0.0.1:0";
  auto first = HttpServer::Start(options);
  ASSERT_TRUE(first.ok());
  options.listen = absl::StrCat("127.0.0.1:", (*first)->port());
  auto second = HttpServer::Start(options);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::StrContains(second.status().message(), options.listen))
      << second.status();
}

}  // namespace
}  // namespace quark
