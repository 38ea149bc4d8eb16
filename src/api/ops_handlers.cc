// Health, readiness, metrics and the OpenAPI document: unauthenticated.
#include "api/http.h"
#include "ops/ops.h"
#include "storage/storage.h"
#include "tm/tm.h"

namespace verso::api {

void AddOpsRoutes(Router* router, const Services& s) {
  s.metrics->AddGauge("verso_tm_index_segments", "Segments in a store's in-memory index.",
                      {"store"}, [tms = s.tm] {
                        ops::Registry::GaugeSeries series;
                        for (const auto& size : tms->IndexSizes()) {
                          series.push_back({{size.store_id}, static_cast<double>(size.segments)});
                        }
                        return series;
                      });
  s.metrics->AddGauge("verso_tm_index_bytes", "Memory of a store's in-memory index.", {"store"},
                      [tms = s.tm] {
                        ops::Registry::GaugeSeries series;
                        for (const auto& size : tms->IndexSizes()) {
                          series.push_back({{size.store_id}, static_cast<double>(size.bytes)});
                        }
                        return series;
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
