// The controller's read-only HTTP server (--http): GET /metrics and the
// status page, from pages that the event loop publishes.
//
// libmicrohttpd (Debian's libmicrohttpd12) runs it on its own thread, one
// epoll or poll loop over every connection, so that a slow client never
// holds another up; each connection has a timeout, a memory limit, and a
// cap on how many one address may open, and the server a cap on them all
// (past it, new connections are refused at once). A request is answered
// from the last published page without waiting for anything: the loop
// calls Publish(), the HTTP thread only reads, and neither blocks the
// other longer than a pointer swap. Only GET and HEAD are served (405
// otherwise), a path never published is 404, and a request with a body is
// refused. docs/architecture.md says why this library.
#ifndef QUARK_CONTROLLER_HTTP_SERVER_H_
#define QUARK_CONTROLLER_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

struct MHD_Daemon;

namespace quark {

struct HttpOptions {
  // "HOST:PORT": HOST an IPv4 address, "localhost" or "*" (every
  // interface); PORT 0 picks a free one (port() says which).
  std::string listen = "127.0.0.1:7780";
  unsigned connection_limit = 64;       // all clients together
  unsigned per_address_limit = 16;      // from one IP address
  unsigned timeout_seconds = 10;        // idle connection, slow request
  size_t connection_memory = 64 << 10;  // request headers and buffers
};

class HttpServer {
 public:
  // Binds and starts serving (every path 404 until published). Fails,
  // naming the address, when it cannot bind or `listen` is malformed.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpOptions& options);
  ~HttpServer();  // stops the thread; a request in progress is finished
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // From now on GET `path` answers `body` with `content_type`.
  // Thread-safe; the previous page stays alive until its last reader ends.
  void Publish(const std::string& path, std::string content_type,
               std::string body);
  // The same, with the body made by `render` on the HTTP thread at the
  // first request for this page, once: publishing costs the caller only
  // the snapshot that `render` holds, and a page nobody asks for nothing
  // more.
  void Publish(const std::string& path, std::string content_type,
               std::function<std::string()> render);

  uint16_t port() const { return port_; }
  // Requests answered and refused so far (for the controller's metrics).
  uint64_t requests() const;

  class Page {
   public:
    Page(std::string content_type, std::string body,
         std::function<std::string()> render)
        : content_type_(std::move(content_type)),
          body_(std::move(body)),
          render_(std::move(render)) {}
    const std::string& content_type() const { return content_type_; }
    // Made on the first call when it was published with a render.
    const std::string& body() const {
      absl::call_once(once_, [this] {
        if (render_) body_ = render_();
      });
      return body_;
    }

   private:
    std::string content_type_;
    mutable absl::once_flag once_;
    mutable std::string body_;
    std::function<std::string()> render_;
  };
  // What GET `path` answers now; null when nothing was published there.
  // Counts the request.
  std::shared_ptr<const Page> Find(const std::string& path);

 private:
  HttpServer() = default;

  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const Page>> pages_
      ABSL_GUARDED_BY(mu_);
  uint64_t requests_ ABSL_GUARDED_BY(mu_) = 0;
};

// Parses HttpOptions::listen; InvalidArgument naming what is wrong.
absl::StatusOr<std::pair<std::string, uint16_t>> ParseHttpListen(
    const std::string& listen);

}  // namespace quark

#endif  // QUARK_CONTROLLER_HTTP_SERVER_H_
