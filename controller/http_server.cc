#include "controller/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace quark {
namespace {

constexpr char kTextPlain[] = "text/plain; charset=utf-8";

MHD_Result Queue(MHD_Connection* connection, unsigned status,
                 MHD_Response* response) {
  const MHD_Result queued = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return queued;
}

// A short text answer (an error), copied into the response.
MHD_Result QueueText(MHD_Connection* connection, unsigned status,
                     const std::string& text) {
  MHD_Response* response = MHD_create_response_from_buffer(
      text.size(), const_cast<char*>(text.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, kTextPlain);
  return Queue(connection, status, response);
}

// libmicrohttpd's handler: called once per request with its headers read
// (and, for a request with a body, again for each piece of it).
MHD_Result Answer(void* cls, MHD_Connection* connection, const char* url,
                  const char* method, const char* /*version*/,
                  const char* /*upload_data*/, size_t* upload_data_size,
                  void** request) {
  auto* server = static_cast<HttpServer*>(cls);
  if (*request == nullptr) {
    // The first call: the request's own state is only this mark.
    static int seen;
    *request = &seen;
    const bool get = std::strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                     std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!get) {
      MHD_Response* response =
          MHD_create_response_from_buffer(0, nullptr, MHD_RESPMEM_PERSISTENT);
      if (response == nullptr) return MHD_NO;
      MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
      return Queue(connection, MHD_HTTP_METHOD_NOT_ALLOWED, response);
    }
  }
  if (*upload_data_size != 0) {
    return QueueText(connection, MHD_HTTP_CONTENT_TOO_LARGE,
                     "a GET has no body\n");
  }
  std::shared_ptr<const HttpServer::Page> page = server->Find(url);
  if (page == nullptr) {
    return QueueText(connection, MHD_HTTP_NOT_FOUND,
                     absl::StrCat("no page at ", url, "\n"));
  }
  // The response reads the page in place and keeps it alive until sent,
  // however many pages are published meanwhile.
  auto* keep = new std::shared_ptr<const HttpServer::Page>(std::move(page));
  MHD_Response* response =
      MHD_create_response_from_buffer_with_free_callback_cls(
          // Only read: libmicrohttpd's signature predates const.
          (*keep)->body().size(), const_cast<char*>((*keep)->body().data()),
          [](void* cls) {
            delete static_cast<std::shared_ptr<const HttpServer::Page>*>(cls);
          },
          keep);
  if (response == nullptr) {
    delete keep;
    return MHD_NO;
  }
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                          (*keep)->content_type().c_str());
  MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  return Queue(connection, MHD_HTTP_OK, response);
}

// libmicrohttpd's own complaints (a client that broke the protocol, say)
// go to the log at debug level: they are the clients' business.
void LogFromLibrary(void* /*cls*/, const char* format, va_list args) {
  char line[512];
  std::vsnprintf(line, sizeof line, format, args);
  std::string text(line);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  QLOG(kDebug) << "http: " << text;
}

}  // namespace

absl::StatusOr<std::pair<std::string, uint16_t>> ParseHttpListen(
    const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http '", listen, "' is not HOST:PORT (e.g. 127.0.0.1:7780)"));
  }
  std::string host = listen.substr(0, colon);
  uint32_t port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http '", listen, "': the port must be a number up to 65535"));
  }
  if (host == "localhost") host = "127.0.0.1";
  if (host == "*" || host.empty()) host = "0.0.0.0";
  in_addr address{};
  if (inet_pton(AF_INET, host.c_str(), &address) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http '", listen,
                     "': the host must be an IPv4 address, localhost or *"));
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpOptions& options) {
  absl::StatusOr<std::pair<std::string, uint16_t>> listen =
      ParseHttpListen(options.listen);
  if (!listen.ok()) return listen.status();
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(listen->second);
  inet_pton(AF_INET, listen->first.c_str(), &address.sin_addr);

  std::unique_ptr<HttpServer> server(new HttpServer());
  server->daemon_ = MHD_start_daemon(
      MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, listen->second, nullptr,
      nullptr, &Answer, server.get(),  //
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&address),
      MHD_OPTION_CONNECTION_LIMIT, options.connection_limit,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, options.per_address_limit,
      MHD_OPTION_CONNECTION_TIMEOUT, options.timeout_seconds,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, options.connection_memory,
      MHD_OPTION_EXTERNAL_LOGGER, &LogFromLibrary, nullptr,  //
      MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve HTTP on ", options.listen,
                     ": the address is in use or not this machine's (--http)"));
  }
  const MHD_DaemonInfo* info =
      MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr ? info->port : listen->second;
  return server;
}

HttpServer::~HttpServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

void HttpServer::Publish(const std::string& path, std::string content_type,
                         std::string body) {
  auto page = std::make_shared<const Page>(std::move(content_type),
                                           std::move(body), nullptr);
  absl::MutexLock lock(&mu_);
  pages_[path] = std::move(page);
}

void HttpServer::Publish(const std::string& path, std::string content_type,
                         std::function<std::string()> render) {
  auto page = std::make_shared<const Page>(std::move(content_type), "",
                                           std::move(render));
  absl::MutexLock lock(&mu_);
  pages_[path] = std::move(page);
}

std::shared_ptr<const HttpServer::Page> HttpServer::Find(
    const std::string& path) {
  absl::MutexLock lock(&mu_);
  ++requests_;
  auto it = pages_.find(path);
  return it == pages_.end() ? nullptr : it->second;
}

uint64_t HttpServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

}  // namespace quark
