// The HTTP API: `verso serve`. Boost.Beast and Asio are confined to this area's .cc files.
//
// HTTP/1.1 with keep-alive, one I/O thread per core, C++20 coroutines. Limits: header size and
// body size per route (413, from Content-Length before any byte is read), header, idle and
// request timeouts and a minimum upload rate, a cap on connections (503 beyond it), failed
// authentications per client address and long requests per tenant (429). The key is checked
// before any body is read. Handlers that touch storage never run on the I/O threads.
// Every response carries X-Request-Id; errors are {"error":{"code","message","request_id"}}.
// Shutdown stops accepting, lets requests in flight finish within a deadline, closes idle
// connections and stops the threads.
#ifndef VERSO_API_API_H_
#define VERSO_API_API_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace verso {
class Clock;
class IdGenerator;
namespace auth {
class KeyService;
class UserService;
class RateLimiter;
}  // namespace auth
namespace ops {
class Registry;
}  // namespace ops
namespace cache {
class RedisClient;
}
namespace storage {
class Database;
}  // namespace storage
namespace tm {
class TmService;
}  // namespace tm
namespace mt {
class Router;
class TranslateService;
}  // namespace mt
namespace terms {
class GlossaryService;
}  // namespace terms
namespace qe {
class QeService;
}  // namespace qe
namespace live {
class Hub;
}
namespace jobs {
class JobService;
}  // namespace jobs
namespace resilience {
class DegradationController;
}  // namespace resilience
}  // namespace verso

namespace verso::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  int threads = 0;  // 0: one per core
  // Threads for requests that wait on other services (translate requests): as many such
  // requests run at once; more queue.
  int waiting_threads = 32;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 10 * 1024 * 1024;             // JSON requests
  int64_t max_upload_bytes = 4LL * 1024 * 1024 * 1024;  // TMX/PO uploads
  int max_connections = 10000;
  absl::Duration header_timeout = absl::Seconds(10);  // a new connection's first request head
  absl::Duration idle_timeout = absl::Seconds(30);    // between requests, and between upload chunks
  absl::Duration request_timeout = absl::Seconds(60);  // reading a JSON body, writing a response
  // An upload must keep up this average rate (after `upload_grace`), or the connection is
  // closed: a client cannot hold a connection open with a trickle of bytes.
  int64_t min_upload_rate = 16 * 1024;  // bytes per second
  absl::Duration upload_grace = absl::Seconds(10);
  // Threads for handlers that read or write storage (Route::Exec::kStorage), and for long work
  // (Route::Exec::kLong: uploads, exports, submissions), of which one tenant may run at most
  // `tenant_long_requests` at once (more: 429).
  int storage_threads = 8;
  int long_threads = 4;
  int tenant_long_requests = 2;
  // Admission control per pool (api/admission.h): requests that may wait for a pool's threads,
  // and how long (long work: at least request_timeout); beyond, 503 with Retry-After (the oldest
  // waiter of the busiest tenant goes).
  int max_queued = 256;
  absl::Duration max_queue_wait = absl::Seconds(2);
  // Failed authentications per client address: `auth_failure_burst` at once, then one per
  // 1 / `auth_failure_rate` seconds; beyond, 429 before the key is even looked at.
  double auth_failure_rate = 1;
  double auth_failure_burst = 20;
  bool access_log = true;
};

// What the handlers use. Everything must outlive the server.
struct Services {
  tm::TmService* tm = nullptr;
  auth::KeyService* keys = nullptr;
  auth::UserService* users = nullptr;  // workbench users and sessions; null: no such routes
  auth::RateLimiter* limiter = nullptr;
  ops::Registry* metrics = nullptr;
  storage::Database* db = nullptr;
  cache::RedisClient* redis = nullptr;  // the L2 cache, when configured
  IdGenerator* ids = nullptr;
  const Clock* clock = nullptr;
  std::string upload_dir;                   // where uploads are streamed to
  int64_t sync_import_max_bytes = 1 << 20;  // larger uploads import in the background
  std::function<bool()> indexes_loaded;     // for /readyz
  // Machine translation (all three set, or none: no translate routes).
  mt::TranslateService* translate = nullptr;
  mt::Router* mt_router = nullptr;
  resilience::DegradationController* degradation = nullptr;
  absl::Duration translate_timeout = absl::Seconds(60);  // a translate request's deadline
  // Glossaries (routes /v1/glossaries...) and quality estimation (/v1/qe); /v1/translate
  // annotates its segments with QA warnings, glossary hits and, with `qe`, a QE score.
  terms::GlossaryService* glossaries = nullptr;
  qe::QeService* qe = nullptr;
  bool qe_round_trip = false;  // /v1/translate: back-translate for the QE round-trip signal
  size_t review_cache_bytes = 64 << 20;  // /v1/translate's reviews kept (ReviewCache); 0: none
  // Jobs and post-editing (/v1/jobs..., /v1/post-edits); null: no job routes.
  jobs::JobService* jobs = nullptr;
  // The workbench's live layer (GET /v1/jobs/{id}/live, locks checked on edits); null: none.
  live::Hub* live = nullptr;
  // The workbench's built files (index.html, assets/), served at /editor; "" or missing: none.
  std::string editor_dir;
  // A TM node (`serve --roles tm`) answers its peers at POST /internal/tm/{lookup,concordance,
  // ready}?store=ID (tm::TmService::AnswerPeer) when `peer_authorized` accepts the request's
  // Authorization header; it serves no other route but /healthz, /readyz and /metrics.
  bool tm_node = false;
  std::function<bool(std::string_view authorization)> peer_authorized;
  // With tm.index=nodes (/v1/status "tm_index"): live TM nodes, requests to them, retries,
  // failures. Unset: this process holds its indexes.
  struct TmNodesStatus {
    int64_t nodes = 0, asks = 0, retries = 0, failures = 0;
  };
  std::function<TmNodesStatus()> tm_nodes_status;
};

class Server {
 public:
  // Binds, starts the threads and returns; the server answers until Shutdown.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                                       const Services& services);
  ~Server();

  int port() const;
  // Stops accepting, lets requests in flight finish within `deadline`, closes idle connections,
  // then stops the I/O threads. Idempotent.
  void Shutdown(absl::Duration deadline);

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The OpenAPI 3 document served at /v1/openapi.json.
const char* OpenApiDocument();

}  // namespace verso::api

#endif  // VERSO_API_API_H_
