// Health, readiness, metrics and the OpenAPI document: unauthenticated.
#include "api/http.h"
#include "ops/ops.h"
#include "storage/storage.h"
#include "tm/tm.h"

namespace verso::api {

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

  router->Add({"GET", "/healthz", "", Route::Body::kNone, {}, Route::Exec::kInline, [](Request&) {
                 return JsonResponse(200, Json{{"status", "ok"}});
               }});

  router->Add({"GET", "/readyz", "", Route::Body::kNone, {}, Route::Exec::kStorage, [s](Request&) {
                 absl::Status storage = s.db->Ping();
                 bool indexes = !s.indexes_loaded || s.indexes_loaded();
                 Json checks = {{"storage", storage.ok() ? "ok" : std::string(storage.message())},
                                {"indexes", indexes ? "loaded" : "loading"}};
                 bool ready = storage.ok() && indexes;
                 return JsonResponse(
                     ready ? 200 : 503,
                     Json{{"status", ready ? "ready" : "not_ready"}, {"checks", checks}});
               }});

  router->Add({"GET",
               "/metrics",
               "",
               Route::Body::kNone,
               {},
               Route::Exec::kStorage,
               [registry = s.metrics](Request&) {
                 Response r;
                 r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                 r.body = registry->Render();
                 return r;
               }});

  router->Add(
      {"GET", "/v1/openapi.json", "", Route::Body::kNone, {}, Route::Exec::kInline, [](Request&) {
         Response r;
         r.body = OpenApiDocument();
         return r;
       }});
}

}  // namespace verso::api
