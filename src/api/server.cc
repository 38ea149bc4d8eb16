// The HTTP server: Boost.Beast over Asio, one coroutine per connection, one single-threaded
// io_context per core (connections are dealt out round robin, so a connection lives on one
// thread and nothing wakes other threads). A request goes through named steps: framing checks,
// routing, authentication (before the body), the body (limits from Content-Length, a minimum
// rate for uploads), then the handler on the pool its route names (Route::Exec): only handlers
// that touch no storage run on the I/O thread.
//
// Boost 1.74's Asio coroutines need <utility> before <boost/asio/awaitable.hpp> with g++ 12.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "api/admission.h"
#include "api/api.h"
#include "api/http.h"
#include "api/live_socket.h"
#include "auth/auth.h"
#include "auth/users.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/json.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "ops/ops.h"
#include "text/text.h"

namespace verso::api {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::nanoseconds(absl::ToInt64Nanoseconds(d));
}

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7F) return false;
  }
  return true;
}

// Request ids need no reproducibility: one generator per I/O thread avoids a shared lock.
std::string NewRequestId(const Clock& clock) {
  thread_local IdGenerator ids(clock);
  return ids.Next("req");
}

// The media type without parameters, lower case: "Application/JSON; charset=utf-8" ->
// "application/json".
std::string MediaType(std::string_view header) {
  std::string_view t = header.substr(0, header.find(';'));
  return AsciiLower(StripAsciiWhitespace(t));
}

}  // namespace

// A connection as shutdown sees it. `executor` is fixed at creation; the rest is touched only on
// that executor (the connection's single-threaded io_context).
struct SessionState {
  explicit SessionState(net::any_io_executor ex) : executor(std::move(ex)) {}
  net::any_io_executor executor;
  beast::tcp_stream* stream = nullptr;  // null once the session ended
  bool busy = false;                    // handling a request (not waiting for one)
  bool close_after = false;             // shutting down: close once the current request is done
};

// How many long requests (Route::Exec::kLong) each tenant has running. Thread-safe.
class TenantSlots {
 public:
  bool TryAcquire(const std::string& tenant, int max) {
    std::lock_guard<std::mutex> lock(mu_);
    int& n = running_[tenant];
    if (n >= max) return false;
    ++n;
    return true;
  }
  void Release(const std::string& tenant) {
    std::lock_guard<std::mutex> lock(mu_);
    if (--running_[tenant] <= 0) running_.erase(tenant);
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> running_;  // GUARDED_BY(mu_)
};

struct Server::Impl {
  ServerOptions options;
  Services services;
  Router router;
  // Admission to each pool (api/admission.h). Declared before the io_contexts and pools so that
  // it outlives them: a request's coroutine frame still suspended when they are destroyed (a
  // drain that timed out) leaves its slot on destruction.
  std::unique_ptr<Admission> admit_storage, admit_longs, admit_waiting;
  std::vector<std::unique_ptr<net::io_context>> iocs;  // one per I/O thread
  std::unique_ptr<tcp::acceptor> acceptor;             // on iocs[0]
  size_t next_ioc = 0;
  std::unique_ptr<net::thread_pool> storage;  // Route::Exec::kStorage, and key look-ups
  std::unique_ptr<net::thread_pool> longs;    // Route::Exec::kLong
  std::unique_ptr<net::thread_pool> waiting;  // Route::Exec::kWaits
  TenantSlots long_slots;
  std::unique_ptr<auth::RateLimiter> auth_failures;  // per client address
  std::vector<std::thread> threads;
  std::atomic<int> connections{0};
  std::atomic<bool> draining{false};
  bool stopped = false;
  std::mutex mu;  // sessions, and the drain wait
  std::condition_variable drained;
  std::set<std::shared_ptr<SessionState>> sessions;
  // Metrics series, looked up once: per route its latency histogram, and its request counters
  // by status.
  ops::Counter* rejected_connections = nullptr;
  ops::Counter* slow_uploads = nullptr;
  ops::Counter* retried_off_thread = nullptr;  // kTryInline requests that had to wait
  std::map<const Route*, ops::Histogram*> latency;
  std::mutex counters_mu;
  std::map<std::pair<const Route*, int>, ops::Counter*> counters;

  explicit Impl(int threads) {
    for (int i = 0; i < threads; ++i) iocs.push_back(std::make_unique<net::io_context>(1));
    acceptor = std::make_unique<tcp::acceptor>(*iocs[0]);
  }

  net::awaitable<void> Accept();
  net::awaitable<void> Session(tcp::socket socket, std::shared_ptr<SessionState> state);
  net::awaitable<void> Reject(tcp::socket socket);
  // Routes, authenticates, reads the body (if any) and runs the route; fills `res` and says
  // whether the connection must close afterwards (e.g. a body that was not read).
  net::awaitable<bool> Handle(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                              http::request_parser<http::empty_body>& head, Request& req,
                              Response& res, const Route*& route);
  // Who is calling and may they: fills req.principal, or `res` with the refusal (false).
  net::awaitable<bool> Authenticate(const Route& route, Request& req, Response& res);
  // The largest body `route` takes for this request's media type.
  int64_t BodyLimit(const Route& route, const Request& req) const;
  // Streams an upload into a file under upload_dir (req.body_file), at the minimum rate.
  net::awaitable<bool> ReadUpload(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                  http::request_parser<http::empty_body>& head, int64_t limit,
                                  Request& req, Response& res);
  // Reads a small body into req.body within the request timeout.
  net::awaitable<bool> ReadBody(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                http::request_parser<http::empty_body>& head, int64_t limit,
                                Request& req, Response& res);
  // Runs the handler on the pool its route names, once admitted to it.
  net::awaitable<Response> Run(const Route& route, Request& req);
  // A slot on `admission`'s pool at once or after a wait (true), or shed (false).
  net::awaitable<bool> Admit(Admission& admission, const Route& route, const Request& req);
  Response Overloaded(const Admission& admission, const Route& route) const;
  // Appends a successful change's record to the audit log (Route::audited).
  void Audit(const Route& route, const Request& req, const Response& res);
  net::awaitable<void> Write(beast::tcp_stream& stream, Request& req, Response& res,
                             bool keep_alive);
  void Record(const Request& req, const Route* route, const Response& res, absl::Duration took,
              size_t bytes);
};

net::awaitable<void> Server::Impl::Accept() {
  for (;;) {
    boost::system::error_code ec;
    net::io_context& target = *iocs[next_ioc++ % iocs.size()];
    tcp::socket socket =
        co_await acceptor->async_accept(target, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) co_return;
      log::Warn("http.accept", {{"error", ec.message()}});
      continue;
    }
    if (connections.load() >= options.max_connections) {
      rejected_connections->Inc();
      net::co_spawn(socket.get_executor(), Reject(std::move(socket)), net::detached);
      continue;
    }
    ++connections;
    auto executor = socket.get_executor();
    auto state = std::make_shared<SessionState>(executor);
    {
      std::lock_guard<std::mutex> lock(mu);
      sessions.insert(state);
    }
    net::co_spawn(executor, Session(std::move(socket), state), net::detached);
  }
}

net::awaitable<void> Server::Impl::Reject(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(std::chrono::seconds(2));
  http::response<http::string_body> res{http::status::service_unavailable, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::connection, "close");
  res.set(http::field::retry_after, "1");
  res.body() =
      R"({"error":{"code":"unavailable","message":"too many connections","request_id":""}})";
  res.prepare_payload();
  boost::system::error_code ec;
  co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

namespace {

// The request target's path and query into `req` (percent-decoded, valid UTF-8), or the 400.
std::optional<Response> ReadTarget(std::string_view target, std::string_view raw_path,
                                   Request* req) {
  std::optional<std::string> path = PercentDecode(raw_path, false);
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    auto query = ParseFormPairs(target.substr(q + 1));
    if (!query) path.reset();
    if (query) req->query = std::move(*query);
  }
  if (!path) {
    return ErrorResponse(400, "bad_request", "malformed percent-encoding in the request target");
  }
  bool utf8 = text::IsValidUtf8(*path);
  for (const auto& [k, v] : req->query) utf8 = utf8 && text::IsValidUtf8(k) && text::IsValidUtf8(v);
  if (!utf8) {
    return ErrorResponse(400, "bad_request", "the request target is not valid UTF-8 once decoded");
  }
  req->path = std::move(*path);
  return std::nullopt;
}

}  // namespace

net::awaitable<void> Server::Impl::Session(tcp::socket socket,
                                           std::shared_ptr<SessionState> state) {
  beast::tcp_stream stream(std::move(socket));
  state->stream = &stream;
  beast::flat_buffer buffer;
  bool first = true;
  boost::system::error_code remote_ec;
  const std::string remote = stream.socket().remote_endpoint(remote_ec).address().to_string();
  bool unread_body = false;  // the last response went out before its request's body was read
  try {
    for (;;) {
      state->busy = false;
      if (draining || state->close_after) break;
      http::request_parser<http::empty_body> head;
      head.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      head.body_limit(
          std::numeric_limits<std::uint64_t>::max());  // set per route once the head is read
      stream.expires_after(ToChrono(first ? options.header_timeout : options.idle_timeout));
      boost::system::error_code ec;
      co_await http::async_read_header(stream, buffer, head,
                                       net::redirect_error(net::use_awaitable, ec));
      if (ec == http::error::header_limit) {
        Request req;
        req.request_id = NewRequestId(*services.clock);
        Response res =
            ErrorResponse(413, "payload_too_large",
                          StrCat("the request head exceeds ", options.max_header_bytes, " bytes"));
        state->busy = true;
        co_await Write(stream, req, res, /*keep_alive=*/false);
        break;
      }
      if (ec) {  // closed, timed out, cancelled by shutdown, or garbage
        if (ec != http::error::end_of_stream && ec != beast::error::timeout &&
            ec != net::error::operation_aborted) {
          log::Debug("http.read_header", {{"error", ec.message()}});
        }
        break;
      }
      state->busy = true;
      first = false;
      absl::Time start = services.clock->MonotonicNow();
      Request req;
      const auto& h = head.get();
      // Handle() may move the parsed head into a body parser: read what we need first.
      const bool client_keep_alive = h.keep_alive();
      req.method = std::string(h.method_string());
      std::string_view target(h.target().data(), h.target().size());
      std::string_view raw_path = target.substr(0, target.find('?'));
      for (const auto& field : h) {
        req.headers.emplace_back(AsciiLower(std::string(field.name_string())),
                                 std::string(field.value()));
      }
      req.remote = remote;
      std::string_view given_id = req.Header("x-request-id");
      req.request_id =
          ValidRequestId(given_id) ? std::string(given_id) : NewRequestId(*services.clock);
      Response res;
      const Route* route = nullptr;
      bool must_close = false;
      if (auto bad = ReadTarget(target, raw_path, &req)) {
        res = std::move(*bad);
        must_close = true;  // any body is unread
      } else {
        must_close = co_await Handle(stream, buffer, head, req, res, route);
      }
      if (res.upgrade != nullptr && (draining || state->close_after || must_close)) {
        res = ErrorResponse(503, "unavailable", "the server is shutting down");
      } else if (res.upgrade != nullptr) {
        res.status = 101;
        Record(req, route, res, services.clock->MonotonicNow() - start, 0);
        state->busy = false;  // shutdown cancels the stream, which ends the socket
        co_await ServeLive(stream, head.get(), services.live, *res.upgrade, LiveSocketOptions{});
        break;
      }
      bool keep_alive = client_keep_alive && !must_close && !draining && !state->close_after;
      unread_body = must_close;
      // Recorded before the response goes out, so that a client that has its answer also sees it
      // counted (the time excludes writing the response).
      Record(req, route, res, services.clock->MonotonicNow() - start, res.body.size());
      co_await Write(stream, req, res, keep_alive);
      if (!keep_alive) break;
    }
  } catch (const std::exception& e) {
    log::Warn("http.session", {{"error", e.what()}});
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  // A lingering close: a client still sending the body of a refused request (a full disk, a
  // body over the limit) would get a reset if the socket closed with that data unread, and a
  // reset can destroy the response on its way. Read and drop the rest for a moment first.
  if (unread_body && !draining) {
    constexpr size_t kLingerBytes = 16 << 20;
    stream.expires_after(std::chrono::seconds(2));
    std::vector<char> sink(64 << 10);
    size_t dropped = 0;
    boost::system::error_code ec;
    while (!ec && dropped < kLingerBytes) {
      dropped += co_await stream.async_read_some(net::buffer(sink),
                                                 net::redirect_error(net::use_awaitable, ec));
    }
  }
  state->stream = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(state);
    --connections;
  }
  drained.notify_all();
}

namespace {

// RFC 9112 6.1 and 6.3: a request with Transfer-Encoding other than exactly "chunked", or with
// both Transfer-Encoding and Content-Length, is refused (request smuggling starts there).
std::optional<std::string> BadFraming(const http::request_parser<http::empty_body>& head) {
  const auto& h = head.get();
  if (h.count(http::field::transfer_encoding) == 0) return std::nullopt;
  if (h.count(http::field::content_length) > 0) {
    return "a request may not have both Transfer-Encoding and Content-Length";
  }
  if (h.count(http::field::transfer_encoding) > 1 ||
      !beast::iequals(StripAsciiWhitespace(std::string_view(h[http::field::transfer_encoding])),
                      "chunked")) {
    return "Transfer-Encoding: only \"chunked\" is accepted";
  }
  return std::nullopt;
}

Response TooLarge(int64_t limit, std::string_view what) {
  return ErrorResponse(413, "payload_too_large", StrCat(what, " are limited to ", limit, " bytes"));
}

}  // namespace

net::awaitable<bool> Server::Impl::Handle(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                          http::request_parser<http::empty_body>& head,
                                          Request& req, Response& res, const Route*& route) {
  const bool has_body = head.content_length().value_or(0) > 0 || head.chunked();
  if (auto bad = BadFraming(head)) {
    res = ErrorResponse(400, "bad_request", *bad);
    co_return true;
  }
  Router::Found found = router.Find(req.method, req.path, &req.params);
  if (found.route == nullptr) {
    if (found.allowed.empty()) {
      res = ErrorResponse(404, "not_found", StrCat("no resource at ", Abbreviate(req.path, 200)));
    } else {
      res = ErrorResponse(405, "method_not_allowed",
                          StrCat(req.method, " is not allowed on ", Abbreviate(req.path, 200)));
      res.headers.emplace_back("Allow", Join(found.allowed, ", "));
    }
    co_return has_body;  // an unread body: close
  }
  route = found.route;
  if (!route->scope.empty() && !co_await Authenticate(*route, req, res)) co_return has_body;
  if (auto unknown = UnknownQueryParameter(*route, req)) {
    res = ErrorResponse(400, "bad_request",
                        route->query.empty()
                            ? StrCat("unknown query parameter \"", Abbreviate(*unknown, 64),
                                     "\": this route takes none")
                            : StrCat("unknown query parameter \"", Abbreviate(*unknown, 64),
                                     "\" (this route takes ", Join(route->query, ", "), ")"));
    co_return has_body;
  }

  if (has_body && !route->content_types.empty()) {
    std::string type = MediaType(req.Header("content-type"));
    if (std::find(route->content_types.begin(), route->content_types.end(), type) ==
        route->content_types.end()) {
      res =
          ErrorResponse(415, "unsupported_media_type",
                        StrCat("Content-Type \"", Abbreviate(type, 100),
                               "\" is not accepted here (", Join(route->content_types, ", "), ")"));
      co_return true;
    }
  }
  const int64_t limit = BodyLimit(*route, req);
  if (head.content_length().value_or(0) > static_cast<std::uint64_t>(limit)) {
    res = TooLarge(limit, "request bodies on this route");
    co_return true;
  }
  if (route->body == Route::Body::kUpload && !has_body) {
    res = ErrorResponse(400, "bad_request", "the request has no body to import");
    co_return false;
  }
  // Long work holds a slot of its tenant from before the upload until the answer.
  struct Slot {
    TenantSlots* slots = nullptr;
    std::string tenant;
    ~Slot() {
      if (slots != nullptr) slots->Release(tenant);
    }
  } slot;
  if (route->exec == Route::Exec::kLong) {
    if (!long_slots.TryAcquire(req.principal.tenant, options.tenant_long_requests)) {
      res = RetryLater("rate_limited",
                       StrCat("this tenant already runs ", options.tenant_long_requests,
                              " uploads, exports or submissions; retry when one has ended"),
                       absl::Seconds(1));
      co_return has_body;
    }
    slot.slots = &long_slots;
    slot.tenant = req.principal.tenant;
  }
  if (has_body && beast::iequals(head.get()[http::field::expect], "100-continue")) {
    http::response<http::empty_body> cont{http::status::continue_, 11};
    co_await http::async_write(stream, cont, net::use_awaitable);
  }
  if (has_body) {
    const bool read = route->body == Route::Body::kUpload
                          ? co_await ReadUpload(stream, buffer, head, limit, req, res)
                          : co_await ReadBody(stream, buffer, head, limit, req, res);
    if (!read) co_return true;
  }
  res = co_await Run(*route, req);
  co_return false;
}

// Why a request carrying a session cookie may come from another site's page: a method that
// changes something, or opens a WebSocket, with an Origin (or Sec-Fetch-Site) that is not this
// site. Browsers send
// Origin with every such request; a client without one (curl) is no browser carrying a cookie
// it did not mean to send.
static std::optional<std::string> CrossSite(const Request& req) {
  // A WebSocket is opened with a GET, but what goes over it changes things: it is checked too
  // (browsers send Origin with every WebSocket).
  if ((req.method == "GET" || req.method == "HEAD") && !IsWebSocketUpgrade(req)) {
    return std::nullopt;
  }
  const std::string_view fetch_site = req.Header("sec-fetch-site");
  if (!fetch_site.empty() && fetch_site != "same-origin" && fetch_site != "none") {
    return StrCat("a ", Abbreviate(fetch_site, 20),
                  " request may not use the session cookie (sign in on this site)");
  }
  const std::string_view origin = req.Header("origin");
  if (origin.empty()) return std::nullopt;
  const size_t scheme = origin.find("://");
  const std::string_view host = req.Header("host");
  if (origin == "null" || scheme == std::string_view::npos || host.empty() ||
      origin.substr(scheme + 3) != host) {
    return StrCat("Origin ", Abbreviate(origin, 100),
                  " is not this site: the session cookie is refused");
  }
  return std::nullopt;
}

// A 500 tells the client nothing of the cause (ErrorResponse): the log does, with the request id.
static void LogInternal(const Route& route, const Request& req, const absl::Status& status) {
  if (StatusToHttp(status) != 500 || IsWouldBlock(status)) return;
  log::Error("http.internal", {{"route", route.pattern},
                               {"request_id", req.request_id},
                               {"error", std::string(status.message())}});
}

net::awaitable<bool> Server::Impl::Authenticate(const Route& route, Request& req, Response& res) {
  auto refuse = [&](const absl::Status& status, absl::Duration retry) {
    LogInternal(route, req, status);
    if (route.auth_error) {
      res = route.auth_error(status, retry);
      return;
    }
    if (absl::IsResourceExhausted(status)) {
      res = RetryLater("rate_limited", ToStd(status.message()), retry);
      return;
    }
    res = ErrorResponse(status);
    if (res.status == 401) res.headers.emplace_back("WWW-Authenticate", "Bearer");
  };
  absl::Duration retry;
  // An address that keeps sending bad keys is refused before its key is even hashed.
  if (!auth_failures->WouldAllow(req.remote, &retry)) {
    refuse(Throttled("too many failed authentications from this address"), retry);
    co_return false;
  }
  std::string token;
  if (route.token) {
    token = route.token(req);
  } else {
    std::string_view authz = req.Header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (authz.substr(0, kBearer.size()) == kBearer) {
      token = std::string(StripAsciiWhitespace(authz.substr(kBearer.size())));
    }
  }
  absl::StatusOr<auth::Principal> who = absl::UnauthenticatedError(
      route.token ? "missing API key" : "send the API key as Authorization: Bearer <key>");
  if (token.empty() && !route.token && services.users != nullptr &&
      !(token = SessionCookie(req)).empty()) {
    // A browser's session: its cookie goes with every request to this site, so a request that
    // changes something must come from this site's pages (another site's form or script would
    // ride on it).
    if (auto forged = CrossSite(req)) {
      refuse(absl::PermissionDeniedError(*forged), absl::ZeroDuration());
      co_return false;
    }
    who = co_await net::co_spawn(
        storage->get_executor(),
        [&]() -> net::awaitable<absl::StatusOr<auth::Principal>> {
          co_return services.users->Authenticate(token);
        },
        net::use_awaitable);
  } else if (!token.empty()) {
    if (auto cached = services.keys->AuthenticateCached(token)) {
      who = std::move(*cached);
    } else {  // a look-up in storage: not on the I/O thread
      who = co_await net::co_spawn(
          storage->get_executor(),
          [&]() -> net::awaitable<absl::StatusOr<auth::Principal>> {
            co_return services.keys->Authenticate(token);
          },
          net::use_awaitable);
    }
  }
  if (!who.ok()) {
    if (absl::IsUnauthenticated(who.status())) {
      absl::Duration ignored;
      auth_failures->Allow(req.remote, &ignored);
    }
    refuse(who.status(), absl::ZeroDuration());
    co_return false;
  }
  if (!who->Has(route.scope)) {
    refuse(absl::PermissionDeniedError(
               who->user_id.empty()
                   ? StrCat("this key lacks the scope ", route.scope)
                   : StrCat("the role ", who->role, " may not do this (", route.scope, ")")),
           absl::ZeroDuration());
    co_return false;
  }
  bool allowed = true;
  if (services.limiter->shared()) {  // a round trip to Redis: not on the I/O thread
    allowed = co_await net::co_spawn(
        storage->get_executor(),
        [&]() -> net::awaitable<bool> { co_return services.limiter->Allow(who->id(), &retry); },
        net::use_awaitable);
  } else {
    allowed = services.limiter->Allow(who->id(), &retry);
  }
  if (!allowed) {
    refuse(Throttled("too many requests for this key"), retry);
    co_return false;
  }
  req.principal = std::move(*who);
  co_return true;
}

int64_t Server::Impl::BodyLimit(const Route& route, const Request& req) const {
  const int64_t json = static_cast<int64_t>(options.max_body_bytes);
  int64_t limit = json;
  switch (route.body) {
    case Route::Body::kNone:
      return 64 * 1024;  // read and ignored
    case Route::Body::kJson:
      limit = json;
      break;
    case Route::Body::kUpload:
      limit = options.max_upload_bytes;
      break;
  }
  if (route.max_body > 0) limit = std::min(limit, route.max_body);
  // JSON is parsed whole in memory: never more of it than the JSON limit, on any route.
  if (MediaType(req.Header("content-type")) == "application/json") limit = std::min(limit, json);
  return limit;
}

net::awaitable<bool> Server::Impl::ReadUpload(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                              http::request_parser<http::empty_body>& head,
                                              int64_t limit, Request& req, Response& res) {
  std::string file = StrCat(services.upload_dir, "/", services.ids->Next("upload"));
  http::request_parser<http::file_body> parser{std::move(head)};
  parser.body_limit(static_cast<std::uint64_t>(limit));
  boost::system::error_code ec;
  parser.get().body().open(file.c_str(), beast::file_mode::write, ec);
  if (ec) {
    res = ErrorResponse(absl::UnavailableError("cannot store the upload"));
    co_return false;
  }
  // The body must arrive at options.min_upload_rate on average after the grace period: the
  // deadline moves with every byte received, never further than the idle timeout.
  const auto start = std::chrono::steady_clock::now();
  const double rate = static_cast<double>(std::max<int64_t>(1, options.min_upload_rate));
  uint64_t received = 0;
  bool slow = false;
  while (!parser.is_done()) {
    const auto due = start + ToChrono(options.upload_grace) +
                     std::chrono::microseconds(static_cast<int64_t>(received / rate * 1e6));
    const auto now = std::chrono::steady_clock::now();
    if (due <= now) {
      slow = true;
      break;
    }
    stream.expires_after(
        std::min<std::chrono::steady_clock::duration>(due - now, ToChrono(options.idle_timeout)));
    received += co_await http::async_read_some(stream, buffer, parser,
                                               net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
  }
  parser.get().body().close();
  if (ec || slow) {
    std::filesystem::remove(file);
    if (ec == http::error::body_limit) {
      res = TooLarge(limit, "request bodies on this route");
    } else if (slow || ec == beast::error::timeout) {
      slow_uploads->Inc();
      res = ErrorResponse(
          408, "request_timeout",
          StrCat("the upload was slower than ", options.min_upload_rate, " bytes per second"));
    } else if (ec == boost::system::errc::no_space_on_device) {
      res = ErrorResponse(DiskFull("the server's disk is full: the upload cannot be stored"));
    } else {
      res = ErrorResponse(400, "bad_request", StrCat("the upload was cut: ", ec.message()));
    }
    co_return false;
  }
  req.body_file = file;
  co_return true;
}

net::awaitable<bool> Server::Impl::ReadBody(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                            http::request_parser<http::empty_body>& head,
                                            int64_t limit, Request& req, Response& res) {
  http::request_parser<http::string_body> parser{std::move(head)};
  parser.body_limit(static_cast<std::uint64_t>(limit));
  stream.expires_after(ToChrono(options.request_timeout));
  boost::system::error_code ec;
  co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
  if (ec) {
    if (ec == http::error::body_limit) {
      res = TooLarge(limit, "request bodies on this route");
    } else {
      res = ErrorResponse(400, "bad_request", StrCat("the request body was cut: ", ec.message()));
    }
    co_return false;
  }
  req.body = std::move(parser.get().body());
  co_return true;
}

void Server::Impl::Audit(const Route& route, const Request& req, const Response& res) {
  if (!route.audited || services.db == nullptr || res.status < 200 || res.status >= 300 ||
      route.method == "GET" || route.method == "HEAD") {
    return;
  }
  storage::AuditRecord r;
  r.at = services.clock->Now();
  r.tenant = req.principal.tenant;
  r.actor = req.principal.Actor();
  r.action = StrCat(route.method, " ", route.pattern);
  for (const auto& [name, value] : req.params) {
    StrAppend(&r.target, r.target.empty() ? "" : " ", name, "=", value);
  }
  // What the call made (a store, a job, a key): its id from the answer.
  if ((res.status == 201 || res.status == 202) && res.file.empty() && res.body.size() < 65536) {
    Json made = Json::parse(res.body, nullptr, false);
    if (made.is_object() && made.contains("id") && made["id"].is_string()) {
      StrAppend(&r.target, r.target.empty() ? "" : " ", "id=", made["id"].get<std::string>());
    } else if (made.is_object() && made.contains("id") && made["id"].is_number_integer()) {
      StrAppend(&r.target, r.target.empty() ? "" : " ", "id=", made["id"].get<int64_t>());
    }
  }
  r.detail = StrCat(res.status);
  r.request_id = req.request_id;
  if (absl::Status s = services.db->audit().AppendAudit({std::move(r)}); !s.ok()) {
    log::Error("audit.append", {{"route", route.pattern},
                                {"request_id", req.request_id},
                                {"error", std::string(s.message())}});
  }
}

net::awaitable<Response> Server::Impl::Run(const Route& route, Request& req) {
  auto run = [this, &route, &req]() -> Response {
    try {
      absl::StatusOr<Response> answer = route.handler(req);
      if (answer.ok() && !req.nonblocking) Audit(route, req, *answer);
      if (!answer.ok()) LogInternal(route, req, answer.status());
      return answer.ok() ? *std::move(answer) : ErrorResponse(answer.status());
    } catch (const std::exception& e) {
      log::Error("http.handler",
                 {{"route", route.pattern}, {"request_id", req.request_id}, {"error", e.what()}});
      return ErrorResponse(500, "internal", "internal error");
    }
  };
  net::thread_pool* pool = nullptr;
  Admission* admission = nullptr;
  switch (route.exec) {
    case Route::Exec::kInline:
      co_return run();
    case Route::Exec::kTryInline: {
      req.nonblocking = true;
      Response r = run();
      req.nonblocking = false;
      if (!r.would_block) co_return r;
      retried_off_thread->Inc();
      const bool waits = route.retry == Route::Exec::kWaits;
      pool = waits ? waiting.get() : storage.get();
      admission = waits ? admit_waiting.get() : admit_storage.get();
      break;
    }
    case Route::Exec::kStorage:
      pool = storage.get();
      admission = admit_storage.get();
      break;
    case Route::Exec::kLong:
      pool = longs.get();
      admission = admit_longs.get();
      break;
    case Route::Exec::kWaits:
      pool = waiting.get();
      admission = admit_waiting.get();
      break;
  }
  if (!co_await Admit(*admission, route, req)) co_return Overloaded(*admission, route);
  struct Leave {
    Admission* admission;
    ~Leave() { admission->Leave(); }
  } leave{admission};
  co_return co_await net::co_spawn(
      pool->get_executor(), [&]() -> net::awaitable<Response> { co_return run(); },
      net::use_awaitable);
}

net::awaitable<bool> Server::Impl::Admit(Admission& admission, const Route& route,
                                         const Request& req) {
  const auto executor = co_await net::this_coro::executor;
  auto timer =
      std::make_shared<net::steady_timer>(executor, ToChrono(admission.options().max_wait));
  // Woken from whichever thread frees a slot or sheds this request: the timer is cancelled on
  // its own thread.
  Admission::Entry entry =
      admission.Enter(req.principal.tenant, services.clock->Now(),
                      [executor, timer] { net::post(executor, [timer] { timer->cancel(); }); });
  Admission::Outcome outcome = entry.outcome;
  if (outcome == Admission::Outcome::kQueued) {
    boost::system::error_code ec;
    co_await timer->async_wait(net::redirect_error(net::use_awaitable, ec));
    outcome = admission.Settle(entry.ticket);
  }
  co_return outcome == Admission::Outcome::kRun;
}

Response Server::Impl::Overloaded(const Admission& admission, const Route& route) const {
  const absl::Status status = absl::UnavailableError(
      StrCat("the server is overloaded (", admission.options().queue,
             " requests already wait for its workers, or this one waited ",
             absl::FormatDuration(admission.options().max_wait), "); retry after a second"));
  if (route.auth_error) return route.auth_error(status, absl::Seconds(1));
  Response res = ErrorResponse(503, "overloaded", ToStd(status.message()));
  res.headers.emplace_back("Retry-After", "1");
  return res;
}

net::awaitable<void> Server::Impl::Write(beast::tcp_stream& stream, Request& req, Response& res,
                                         bool keep_alive) {
  // No header a handler sets may carry a line break (the response would split): such a
  // response is a bug, answered as one.
  const auto bad = std::find_if(res.headers.begin(), res.headers.end(), [](const auto& h) {
    return h.first.find_first_of("\r\n:") != std::string::npos ||
           h.second.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos;
  });
  if (bad != res.headers.end()) {
    log::Error("http.bad_header", {{"request_id", req.request_id}, {"header", bad->first}});
    if (res.delete_file) std::filesystem::remove(res.file);
    res = ErrorResponse(500, "internal", "internal error");
  }
  // Errors carry the request id inside the body too.
  if (res.status >= 400 && res.content_type == "application/json") {
    Json body = Json::parse(res.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_object() && body.contains("error")) {
      body["error"]["request_id"] = req.request_id;
      res.body = DumpJson(body);
    }
  }
  auto fill = [&](auto& msg) {
    msg.version(11);
    msg.result(static_cast<unsigned>(res.status));
    msg.set(http::field::server, "verso");
    msg.set("X-Request-Id", req.request_id);
    if (!res.content_type.empty()) msg.set(http::field::content_type, res.content_type);
    for (const auto& [k, v] : res.headers) msg.set(k, v);
    msg.keep_alive(keep_alive);
  };
  stream.expires_after(ToChrono(options.request_timeout));
  boost::system::error_code ec;
  if (!res.file.empty()) {
    http::response<http::file_body> msg;
    fill(msg);
    msg.body().open(res.file.c_str(), beast::file_mode::scan, ec);
    if (!ec) {
      msg.prepare_payload();
      co_await http::async_write(stream, msg, net::redirect_error(net::use_awaitable, ec));
    }
    if (res.delete_file) std::filesystem::remove(res.file);
  } else {
    http::response<http::string_body> msg;
    fill(msg);
    msg.body() = std::move(res.body);
    msg.prepare_payload();
    co_await http::async_write(stream, msg, net::redirect_error(net::use_awaitable, ec));
    res.body = std::move(msg.body());
  }
}

void Server::Impl::Record(const Request& req, const Route* route, const Response& res,
                          absl::Duration took, size_t bytes) {
  const std::string_view route_name = route ? std::string_view(route->pattern) : "unmatched";
  ops::Counter* counter;
  {
    std::lock_guard<std::mutex> lock(counters_mu);
    ops::Counter*& slot = counters[{route, route ? res.status : -res.status}];
    if (slot == nullptr || route == nullptr) {
      // Unmatched requests carry any method a client makes up: one series per standard method
      // and "other", so that clients cannot grow the registry without bound.
      static const std::set<std::string> kMethods = {
          "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"};
      const std::string method = kMethods.count(req.method) ? req.method : "other";
      slot = services.metrics->GetCounter(
          "verso_http_requests_total", "HTTP requests by route, method and status.",
          {"route", "method", "status"}, {std::string(route_name), method, StrCat(res.status)});
    }
    counter = slot;
  }
  counter->Inc();
  latency.at(route)->Observe(absl::ToDoubleSeconds(took));
  if (options.access_log) {
    // Never the Authorization header or the body: only who (key id), what and how it went.
    log::Info("http.request", {{"method", req.method},
                               {"path", req.path},
                               {"route", route_name},
                               {"status", res.status},
                               {"ms", absl::ToDoubleMilliseconds(took)},
                               {"bytes", static_cast<int64_t>(bytes)},
                               {"tenant", req.principal.tenant},
                               {"key", req.principal.key_id},
                               {"user", req.principal.user_id},
                               {"request_id", req.request_id}});
  }
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Shutdown(absl::Seconds(5)); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                                      const Services& services) {
  int threads =
      options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  auto impl = std::make_unique<Impl>(threads);
  impl->options = options;
  impl->waiting = std::make_unique<net::thread_pool>(std::max(1, options.waiting_threads));
  impl->storage = std::make_unique<net::thread_pool>(std::max(1, options.storage_threads));
  impl->longs = std::make_unique<net::thread_pool>(std::max(1, options.long_threads));
  auto admission = [&](int threads, absl::Duration max_wait) {
    return std::make_unique<Admission>(
        Admission::Options{std::max(1, threads), options.max_queued, max_wait});
  };
  impl->admit_storage = admission(options.storage_threads, options.max_queue_wait);
  // Long work waits for other long work (an upload for another tenant's), and its body has been
  // read already: it may wait as long as a request may take.
  impl->admit_longs =
      admission(options.long_threads, std::max(options.max_queue_wait, options.request_timeout));
  impl->admit_waiting = admission(options.waiting_threads, options.max_queue_wait);
  impl->auth_failures = std::make_unique<auth::RateLimiter>(
      services.clock, options.auth_failure_rate, options.auth_failure_burst);
  impl->services = services;
  impl->rejected_connections = services.metrics->GetCounter(
      "verso_http_rejected_connections_total", "Connections refused over the cap.", {}, {});
  impl->retried_off_thread = services.metrics->GetCounter(
      "verso_http_requests_off_thread_total",
      "Requests tried on an I/O thread that had to wait, run again on the storage pool.", {}, {});
  impl->slow_uploads = services.metrics->GetCounter(
      "verso_http_slow_uploads_total", "Uploads cut for arriving below the minimum rate.", {}, {});
  Impl* gauge_source = impl.get();
  services.metrics->AddGauge("verso_http_connections", "Open client connections.", {},
                             [gauge_source] {
                               return ops::Registry::GaugeSeries{
                                   {{}, static_cast<double>(gauge_source->connections.load())}};
                             });
  services.metrics->AddGauge(
      "verso_admission",
      "Admission to each worker pool: requests running and waiting now; admitted, shed because "
      "the queue was full, shed after waiting server.max_queue_wait (since start).",
      {"pool", "what"}, [gauge_source] {
        ops::Registry::GaugeSeries out;
        for (const auto& [name, a] :
             {std::pair<const char*, Admission*>{"storage", gauge_source->admit_storage.get()},
              {"long", gauge_source->admit_longs.get()},
              {"waiting", gauge_source->admit_waiting.get()}}) {
          const Admission::Stats st = a->GetStats();
          out.push_back({{name, "running"}, static_cast<double>(st.running)});
          out.push_back({{name, "queued"}, static_cast<double>(st.queued)});
          out.push_back({{name, "admitted"}, static_cast<double>(st.admitted)});
          out.push_back({{name, "shed_full"}, static_cast<double>(st.shed_full)});
          out.push_back({{name, "shed_wait"}, static_cast<double>(st.shed_wait)});
        }
        return out;
      });
  std::error_code fs_ec;
  std::filesystem::create_directories(services.upload_dir, fs_ec);
  if (fs_ec) {
    return absl::UnavailableError(
        StrCat("upload directory ", services.upload_dir, ": ", fs_ec.message()));
  }
  AddOpsRoutes(&impl->router, services);
  if (services.tm_node) {
    AddPeerRoutes(&impl->router, services);
  } else {
    AddTmRoutes(&impl->router, services);
    if (services.translate != nullptr) AddMtRoutes(&impl->router, services);
    AddQualityRoutes(&impl->router, services);
    AddJobRoutes(&impl->router, services);
    AddUserRoutes(&impl->router, services);
    AddEditorRoutes(&impl->router, services);
  }
  for (const Route* route : [&] {
         std::vector<const Route*> all{nullptr};
         for (const Route& r : impl->router.routes()) all.push_back(&r);
         return all;
       }()) {
    impl->latency[route] = services.metrics->GetHistogram(
        "verso_http_request_duration_seconds", "HTTP request latency by route.", {"route"},
        {route ? route->pattern : "unmatched"});
  }

  boost::system::error_code ec;
  auto address = net::ip::make_address(options.host, ec);
  if (ec)
    return absl::InvalidArgumentError(
        StrCat("server.host: \"", options.host, "\" is not an IP address"));
  tcp::endpoint endpoint(address, static_cast<unsigned short>(options.port));
  tcp::acceptor& acceptor = *impl->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        StrCat("cannot listen on ", options.host, ":", options.port, ": ", ec.message()));
  }
  Impl* raw = impl.get();
  net::co_spawn(*impl->iocs[0], raw->Accept(), net::detached);
  for (int i = 0; i < threads; ++i) {
    // A work guard keeps a thread's loop running while it has no connection yet.
    impl->threads.emplace_back([raw, i] {
      auto guard = net::make_work_guard(*raw->iocs[i]);
      raw->iocs[i]->run();
    });
  }
  log::Info("http.listening", {{"host", options.host},
                               {"port", static_cast<int64_t>(acceptor.local_endpoint().port())},
                               {"threads", threads}});
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::port() const {
  boost::system::error_code ec;
  auto endpoint = impl_->acceptor->local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void Server::Shutdown(absl::Duration deadline) {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.stopped) return;
    s.stopped = true;
  }
  s.draining = true;
  net::post(*s.iocs[0], [&s] {
    boost::system::error_code ec;
    s.acceptor->close(ec);
  });
  // Idle connections close now; busy ones after their current response.
  std::vector<std::shared_ptr<SessionState>> sessions;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    sessions.assign(s.sessions.begin(), s.sessions.end());
  }
  for (const auto& state : sessions) {
    // A session's stream lives on its own thread's io_context; touch it only there.
    net::post(state->executor, [state] {
      if (state->stream == nullptr) return;
      if (state->busy) {
        state->close_after = true;
      } else {
        state->stream->cancel();
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock(s.mu);
    s.drained.wait_for(lock, std::chrono::nanoseconds(absl::ToInt64Nanoseconds(deadline)),
                       [&s] { return s.connections.load() == 0; });
  }
  int left = s.connections.load();
  if (left > 0) log::Warn("http.drain_timeout", {{"connections", left}});
  for (auto& ioc : s.iocs) ioc->stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  for (auto* pool : {s.storage.get(), s.longs.get(), s.waiting.get()}) {
    if (pool != nullptr) pool->join();
  }
  for (auto* admission : {s.admit_storage.get(), s.admit_longs.get(), s.admit_waiting.get()}) {
    if (admission != nullptr) admission->Close();
  }
  log::Info("http.stopped", {{"unfinished", left}});
}

}  // namespace verso::api
