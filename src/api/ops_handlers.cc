// Health, readiness, metrics and the OpenAPI document: unauthenticated.
#include <algorithm>
#include <memory>
#include <tuple>

#include "absl/synchronization/mutex.h"
#include "api/http.h"
#include "cache/redis.h"
#include "common/clock.h"
#include "jobs/jobs.h"
#include "ops/ops.h"
#include "storage/storage.h"
#include "tm/tm.h"

namespace verso::api {
namespace {

absl::StatusOr<Response> Health(const Services&, Request&) {
  return JsonResponse(200, Json{{"status", "ok"}});
}

absl::StatusOr<Response> Ready(const Services& s, Request&) {
  absl::Status storage = s.db->Ping();
  bool indexes = !s.indexes_loaded || s.indexes_loaded();
  Json checks = {{"storage", storage.ok() ? "ok" : std::string(storage.message())},
                 {"indexes", indexes ? "loaded" : "loading"}};
  bool ready = storage.ok() && indexes;
  return JsonResponse(ready ? 200 : 503,
                      Json{{"status", ready ? "ready" : "not_ready"}, {"checks", checks}});
}

absl::StatusOr<Response> Metrics(const Services& s, Request&) {
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = s.metrics->Render();
  return r;
}

absl::StatusOr<Response> OpenApi(const Services&, Request&) {
  Response r;
  r.body = OpenApiDocument();
  return r;
}

// The queues autoscaling reads (the spec's "queue age > 5 min", "queue depth > 1000"): job tasks
// waiting and the oldest one's age, job segments waiting for a post-editor. Read from the
// database at most once a second, however many scrapes and series ask.
void AddQueueMetrics(const Services& s) {
  struct QueueCache {
    absl::Mutex mu;
    absl::Time read_at ABSL_GUARDED_BY(mu) = absl::InfinitePast();
    storage::QueueStats stats ABSL_GUARDED_BY(mu);
    bool ok ABSL_GUARDED_BY(mu) = false;
  };
  auto cache = std::make_shared<QueueCache>();
  auto read = [cache, db = s.db, clock = s.clock]() {
    absl::MutexLock lock(&cache->mu);
    const absl::Time now = clock->Now();
    if (now - cache->read_at >= absl::Seconds(1)) {
      auto stats = db->jobs().GetQueueStats();
      cache->ok = stats.ok();
      if (stats.ok()) cache->stats = *stats;
      cache->read_at = now;
    }
    return std::make_tuple(cache->ok, cache->stats, now);
  };
  s.metrics->AddGauge(
      "verso_queue_depth",
      "Work waiting: job tasks queued (tasks), job segments awaiting a post-editor (post_edit).",
      {"queue"}, [read] {
        auto [ok, q, now] = read();
        if (!ok) return ops::Registry::GaugeSeries{};
        return ops::Registry::GaugeSeries{
            {{"tasks"}, static_cast<double>(q.queued)},
            {{"post_edit"}, static_cast<double>(q.awaiting_post_edit)}};
      });
  s.metrics->AddGauge(
      "verso_queue_oldest_seconds", "Age of the oldest queued job task (0: none queued).",
      {"queue"}, [read] {
        auto [ok, q, now] = read();
        if (!ok) return ops::Registry::GaugeSeries{};
        const double age =
            q.queued == 0 ? 0 : std::max(0.0, absl::ToDoubleSeconds(now - q.oldest_queued));
        return ops::Registry::GaugeSeries{{{"tasks"}, age}};
      });
}

}  // namespace

void AddOpsRoutes(Router* router, const Services& s) {
  // Totals only: /metrics is unauthenticated, and no tenant's store ids or sizes may show there
  // (a tenant sees its own stores' figures in GET /v1/tm/{store}).
  s.metrics->AddGauge("verso_tm_stores", "TM stores, and those whose index is built.", {"index"},
                      [tms = s.tm] {
                        double all = 0, built = 0;
                        for (const auto& size : tms->IndexSizes()) {
                          ++all;
                          built += size.built;
                        }
                        return ops::Registry::GaugeSeries{{{"any"}, all}, {{"built"}, built}};
                      });
  s.metrics->AddGauge("verso_tm_index_segments", "Segments in the in-memory indexes.", {},
                      [tms = s.tm] {
                        double n = 0;
                        for (const auto& size : tms->IndexSizes()) n += size.segments;
                        return ops::Registry::GaugeSeries{{{}, n}};
                      });
  s.metrics->AddGauge("verso_tm_index_bytes", "Memory of the in-memory indexes.", {}, [tms = s.tm] {
    double n = 0;
    for (const auto& size : tms->IndexSizes()) n += size.bytes;
    return ops::Registry::GaugeSeries{{{}, n}};
  });

  s.metrics->AddGauge(
      "verso_tm_result_cache",
      "Cached TM lookup results: answered from L1 or L2, computed (miss), bypassed (a write of "
      "this process not read back yet); entries and bytes in L1.",
      {"what"}, [tms = s.tm] {
        tm::ResultCacheStats st = tms->CacheStats();
        return ops::Registry::GaugeSeries{{{"l1_hits"}, static_cast<double>(st.l1_hits)},
                                          {{"l2_hits"}, static_cast<double>(st.l2_hits)},
                                          {{"misses"}, static_cast<double>(st.misses)},
                                          {{"bypassed"}, static_cast<double>(st.bypassed)},
                                          {{"entries"}, static_cast<double>(st.l1_entries)},
                                          {{"bytes"}, static_cast<double>(st.l1_bytes)}};
      });

  if (!s.tm_node) AddQueueMetrics(s);
  if (s.jobs != nullptr) {
    s.metrics->AddGauge(
        "verso_job_status_cache",
        "The job-status cache in Redis (jobs.status_cache_ttl): statuses answered from it (hits), "
        "read from storage (misses), and job changes that made entries stale (changes).",
        {"what"}, [jobs = s.jobs] {
          jobs::StatusCacheCounts st = jobs->StatusCacheStats();
          return ops::Registry::GaugeSeries{{{"hits"}, static_cast<double>(st.hits)},
                                            {{"misses"}, static_cast<double>(st.misses)},
                                            {{"changes"}, static_cast<double>(st.changes)}};
        });
  }

  // The read replicas: lag and whether reads go there (the spec's degradation policy).
  s.metrics->AddGauge("verso_db_replica_lag_seconds",
                      "Replication lag of each read replica (-1: unreachable).", {"replica"},
                      [db = s.db] {
                        ops::Registry::GaugeSeries series;
                        for (const auto& r : db->Replicas()) {
                          series.push_back({{r.name}, r.lag_seconds});
                        }
                        return series;
                      });
  s.metrics->AddGauge("verso_db_replica_in_rotation",
                      "1 when reads may go to the replica, 0 when it is out of rotation.",
                      {"replica"}, [db = s.db] {
                        ops::Registry::GaugeSeries series;
                        for (const auto& r : db->Replicas()) {
                          series.push_back({{r.name}, r.in_rotation ? 1.0 : 0.0});
                        }
                        return series;
                      });

  // The L2 cache (Redis), when configured.
  if (s.redis != nullptr) {
    s.metrics->AddGauge(
        "verso_l2_cache", "The Redis L2 cache: hits, misses, errors, bypassed calls.", {"what"},
        [r = s.redis] {
          cache::RedisStats st = r->Stats();
          return ops::Registry::GaugeSeries{{{"hits"}, static_cast<double>(st.hits)},
                                            {{"misses"}, static_cast<double>(st.misses)},
                                            {{"errors"}, static_cast<double>(st.errors)},
                                            {{"bypassed"}, static_cast<double>(st.bypassed)}};
        });
    s.metrics->AddGauge(
        "verso_l2_cache_breaker",
        "The Redis breaker: 0 closed, 1 half open, 2 open (the cache bypassed).", {},
        [r = s.redis] {
          const auto state = r->Stats().breaker;
          return ops::Registry::GaugeSeries{{{},
                                             state == resilience::BreakerState::kClosed     ? 0.0
                                             : state == resilience::BreakerState::kHalfOpen ? 1.0
                                                                                            : 2.0}};
        });
  }

  auto c = std::make_shared<const Services>(s);
  // clang-format off
  const std::vector<Route> routes = {
    {.method = "GET", .pattern = "/healthz", .exec = Route::Exec::kInline, .handler = Bind(c, Health)},
    {.method = "GET", .pattern = "/readyz", .handler = Bind(c, Ready)},
    {.method = "GET", .pattern = "/metrics", .handler = Bind(c, Metrics)},
    {.method = "GET", .pattern = "/v1/openapi.json", .exec = Route::Exec::kInline, .handler = Bind(c, OpenApi)},
  };
  // clang-format on
  for (const Route& r : routes) router->Add(r);
}

}  // namespace verso::api
