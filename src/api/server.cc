// The HTTP server: Boost.Beast over Asio, one coroutine per connection, one single-threaded
// io_context per core (connections are dealt out round robin, so a connection lives on one
// thread and nothing wakes other threads), handlers on the I/O thread unless their route is
// marked blocking (exports, synchronous imports), which run on a worker pool.
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
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "api/api.h"
#include "api/http.h"
#include "auth/auth.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
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

struct Server::Impl {
  ServerOptions options;
  Services services;
  Router router;
  std::vector<std::unique_ptr<net::io_context>> iocs;  // one per I/O thread
  std::unique_ptr<tcp::acceptor> acceptor;             // on iocs[0]
  size_t next_ioc = 0;
  net::thread_pool workers{2};
  std::unique_ptr<net::thread_pool> waiting;  // Route::waits
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
  // Reads the body (if any), authenticates and runs the route; fills `res` and says whether the
  // connection must close afterwards (e.g. a body that was not read).
  net::awaitable<bool> Handle(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                              http::request_parser<http::empty_body>& head, Request& req,
                              Response& res, const Route*& route);
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

net::awaitable<void> Server::Impl::Session(tcp::socket socket,
                                           std::shared_ptr<SessionState> state) {
  beast::tcp_stream stream(std::move(socket));
  state->stream = &stream;
  beast::flat_buffer buffer;
  bool first = true;
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
      std::string_view given_id = req.Header("x-request-id");
      req.request_id =
          ValidRequestId(given_id) ? std::string(given_id) : NewRequestId(*services.clock);
      Response res;
      const Route* route = nullptr;
      bool must_close = false;
      std::optional<std::string> path = PercentDecode(raw_path, false);
      bool query_ok = true;
      if (size_t q = target.find('?'); q != std::string_view::npos) {
        auto query = ParseFormPairs(target.substr(q + 1));
        query_ok = query.has_value();
        if (query_ok) req.query = std::move(*query);
      }
      bool utf8 = path && query_ok && text::IsValidUtf8(*path);
      for (const auto& [k, v] : req.query)
        utf8 = utf8 && text::IsValidUtf8(k) && text::IsValidUtf8(v);
      if (!path || !query_ok) {
        res = ErrorResponse(400, "bad_request", "malformed percent-encoding in the request target");
        must_close = true;  // any body is unread
      } else if (!utf8) {
        res =
            ErrorResponse(400, "bad_request", "the request target is not valid UTF-8 once decoded");
        must_close = true;
      } else {
        req.path = std::move(*path);
        must_close = co_await Handle(stream, buffer, head, req, res, route);
      }
      bool keep_alive = client_keep_alive && !must_close && !draining && !state->close_after;
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
  state->stream = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(state);
    --connections;
  }
  drained.notify_all();
}

net::awaitable<bool> Server::Impl::Handle(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                          http::request_parser<http::empty_body>& head,
                                          Request& req, Response& res, const Route*& route) {
  const auto& h = head.get();
  const bool has_body = head.content_length().value_or(0) > 0 || head.chunked();
  Router::Found found = router.Find(req.method, req.path, &req.params);
  if (found.route == nullptr) {
    if (found.allowed.empty()) {
      res = ErrorResponse(404, "not_found", StrCat("no resource at ", req.path));
    } else {
      res = ErrorResponse(405, "method_not_allowed",
                          StrCat(req.method, " is not allowed on ", req.path));
      res.headers.emplace_back("Allow", Join(found.allowed, ", "));
    }
    co_return has_body;  // an unread body: close
  }
  route = found.route;

  // Who is calling, and may they? Before any body is read.
  if (!route->scope.empty()) {
    std::string_view authz = req.Header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    absl::StatusOr<auth::Principal> who =
        authz.substr(0, kBearer.size()) == kBearer
            ? services.keys->Authenticate(StripAsciiWhitespace(authz.substr(kBearer.size())))
            : absl::StatusOr<auth::Principal>(
                  absl::UnauthenticatedError("send the API key as Authorization: Bearer <key>"));
    if (!who.ok()) {
      res = ErrorResponse(who.status());
      if (res.status == 401) res.headers.emplace_back("WWW-Authenticate", "Bearer");
      co_return has_body;
    }
    if (!who->Has(route->scope)) {
      res = ErrorResponse(403, "permission_denied",
                          StrCat("this key lacks the scope ", route->scope));
      co_return has_body;
    }
    absl::Duration retry;
    if (!services.limiter->Allow(who->key_id, &retry)) {
      res = ErrorResponse(429, "rate_limited", "too many requests for this key");
      int64_t seconds =
          std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(retry, absl::Seconds(1))));
      res.headers.emplace_back("Retry-After", StrCat(seconds));
      co_return has_body;
    }
    req.principal = std::move(*who);
  }

  if (has_body && !route->content_types.empty()) {
    std::string type = MediaType(req.Header("content-type"));
    if (std::find(route->content_types.begin(), route->content_types.end(), type) ==
        route->content_types.end()) {
      res = ErrorResponse(415, "unsupported_media_type",
                          StrCat("Content-Type \"", type, "\" is not accepted here (",
                                 Join(route->content_types, ", "), ")"));
      co_return true;
    }
  }
  if (has_body && route->body != Route::Body::kNone &&
      beast::iequals(h[http::field::expect], "100-continue")) {
    http::response<http::empty_body> cont{http::status::continue_, 11};
    co_await http::async_write(stream, cont, net::use_awaitable);
  }

  boost::system::error_code ec;
  if (route->body == Route::Body::kUpload) {
    if (!has_body) {
      res = ErrorResponse(400, "bad_request", "the request has no body to import");
      co_return false;
    }
    std::string file = StrCat(services.upload_dir, "/", services.ids->Next("upload"));
    if (head.content_length().value_or(0) > static_cast<std::uint64_t>(options.max_upload_bytes)) {
      res = ErrorResponse(413, "payload_too_large",
                          StrCat("uploads are limited to ", options.max_upload_bytes, " bytes"));
      co_return true;
    }
    http::request_parser<http::file_body> parser{std::move(head)};
    parser.body_limit(static_cast<std::uint64_t>(options.max_upload_bytes));
    parser.get().body().open(file.c_str(), beast::file_mode::write, ec);
    if (ec) {
      res = ErrorResponse(absl::UnavailableError("cannot store the upload"));
      co_return true;
    }
    while (!parser.is_done()) {
      stream.expires_after(ToChrono(options.idle_timeout));
      co_await http::async_read_some(stream, buffer, parser,
                                     net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
    }
    parser.get().body().close();
    if (ec) {
      std::filesystem::remove(file);
      if (ec == http::error::body_limit) {
        res = ErrorResponse(413, "payload_too_large",
                            StrCat("uploads are limited to ", options.max_upload_bytes, " bytes"));
      } else {
        res = ErrorResponse(400, "bad_request", StrCat("the upload was cut: ", ec.message()));
      }
      co_return true;
    }
    req.body_file = file;
  } else if (has_body) {
    const size_t limit = route->body == Route::Body::kJson ? options.max_body_bytes : 64 * 1024;
    // Beast checks a declared length against the limit of the parser that read the head.
    if (head.content_length().value_or(0) > limit) {
      res = ErrorResponse(413, "payload_too_large",
                          StrCat("request bodies are limited to ", limit, " bytes"));
      co_return true;
    }
    http::request_parser<http::string_body> parser{std::move(head)};
    parser.body_limit(limit);
    stream.expires_after(ToChrono(options.request_timeout));
    co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      if (ec == http::error::body_limit) {
        res = ErrorResponse(
            413, "payload_too_large",
            StrCat("request bodies are limited to ", options.max_body_bytes, " bytes"));
      } else {
        res = ErrorResponse(400, "bad_request", StrCat("the request body was cut: ", ec.message()));
      }
      co_return true;
    }
    req.body = std::move(parser.get().body());
  }

  auto run = [this, route, &req]() -> Response {
    try {
      return route->handler(req);
    } catch (const std::exception& e) {
      log::Error("http.handler",
                 {{"route", route->pattern}, {"request_id", req.request_id}, {"error", e.what()}});
      return ErrorResponse(500, "internal", "internal error");
    }
  };
  if (route->waits) {
    res = co_await net::co_spawn(
        waiting->get_executor(), [&]() -> net::awaitable<Response> { co_return run(); },
        net::use_awaitable);
  } else if (route->blocking) {
    res = co_await net::co_spawn(
        workers.get_executor(), [&]() -> net::awaitable<Response> { co_return run(); },
        net::use_awaitable);
  } else {
    res = run();
  }
  co_return false;
}

net::awaitable<void> Server::Impl::Write(beast::tcp_stream& stream, Request& req, Response& res,
                                         bool keep_alive) {
  // Errors carry the request id inside the body too.
  if (res.status >= 400 && res.content_type == "application/json") {
    Json body = Json::parse(res.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_object() && body.contains("error")) {
      body["error"]["request_id"] = req.request_id;
      res.body = body.dump();
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
      // Unmatched requests carry any method: look the series up each time.
      slot = services.metrics->GetCounter(
          "verso_http_requests_total", "HTTP requests by route, method and status.",
          {"route", "method", "status"}, {std::string(route_name), req.method, StrCat(res.status)});
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
  impl->services = services;
  impl->rejected_connections = services.metrics->GetCounter(
      "verso_http_rejected_connections_total", "Connections refused over the cap.", {}, {});
  Impl* gauge_source = impl.get();
  services.metrics->AddGauge("verso_http_connections", "Open client connections.", {},
                             [gauge_source] {
                               return ops::Registry::GaugeSeries{
                                   {{}, static_cast<double>(gauge_source->connections.load())}};
                             });
  std::error_code fs_ec;
  std::filesystem::create_directories(services.upload_dir, fs_ec);
  if (fs_ec) {
    return absl::UnavailableError(
        StrCat("upload directory ", services.upload_dir, ": ", fs_ec.message()));
  }
  AddTmRoutes(&impl->router, services);
  AddOpsRoutes(&impl->router, services);
  if (services.translate != nullptr) AddMtRoutes(&impl->router, services);
  AddQualityRoutes(&impl->router, services);
  AddJobRoutes(&impl->router, services);
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
  s.workers.join();
  if (s.waiting) s.waiting->join();
  log::Info("http.stopped", {{"unfinished", left}});
}

}  // namespace verso::api
