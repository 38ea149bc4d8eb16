// The TM resources of API v1. Handlers parse, validate, call one TmService method, map the
// status and serialize; nothing else.
#include <filesystem>
#include <fstream>

#include "api/http.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/status.h"
#include "common/strings.h"
#include "ops/ops.h"
#include "text/text.h"
#include "tm/tm.h"

namespace verso::api {
namespace {

constexpr int kMaxBatch = 1000;       // segments per batch add
constexpr int kMaxLookupBatch = 100;  // queries per batch lookup

struct TmMetrics {
  ops::Histogram* lookup_seconds;
  ops::Counter* bands[7];
};

TmMetrics MakeMetrics(ops::Registry* r) {
  TmMetrics m;
  m.lookup_seconds = r->GetHistogram("verso_tm_lookup_duration_seconds",
                                     "TM lookup latency (index and record fetch).", {}, {});
  for (int b = 0; b < 7; ++b) {
    m.bands[b] = r->GetCounter("verso_tm_lookup_matches_total", "TM matches returned, by band.",
                               {"band"}, {std::string(tm::BandName(static_cast<tm::Band>(b)))});
  }
  return m;
}

// text_format: "plain" (default: escaped for you, and answered as plain text) or "markup"
// (tagged text both ways).
absl::StatusOr<bool> QueryPlain(const Request& req) {
  const std::string format = req.Query("text_format").value_or("plain");
  if (format != "markup" && format != "plain") {
    return BadRequest(StrCat("text_format: \"", format, "\" is not markup or plain"));
  }
  return format == "plain";
}

// ?q, in, match, limit and cursor of GET /v1/tm/{store}/concordance.
absl::StatusOr<tm::ConcordanceOptions> ReadConcordanceOptions(const Request& req) {
  std::optional<std::string> q = req.Query("q");
  if (!q || q->empty()) return BadRequest("q: is required");
  tm::ConcordanceOptions options;
  std::string in = req.Query("in").value_or("source");
  if (in != "source" && in != "target" && in != "both") {
    return BadRequest(StrCat("in: \"", Abbreviate(in, 40), "\" is not source, target or both"));
  }
  options.source = in != "target";
  options.target = in != "source";
  VERSO_ASSIGN_OR_RETURN(options.match,
                         ParseConcordanceMatch(req.Query("match").value_or("words")));
  VERSO_ASSIGN_OR_RETURN(Page page, ReadPage(req, 20));
  options.limit = page.limit;
  if (auto cursor = req.Query("cursor")) {
    VERSO_RETURN_IF_ERROR(ApplyConcordanceCursor(*cursor, &options));
  }
  return options;
}

absl::StatusOr<bool> ReadPlain(Fields& f) {
  std::string format = "plain";
  f.String("text_format", &format);
  if (format != "markup" && format != "plain") {
    return BadRequest(StrCat(f.path(), "text_format: \"", format, "\" is not markup or plain"));
  }
  return format == "plain";
}

absl::StatusOr<int64_t> SegmentId(const Request& req) {
  int64_t id;
  if (!ParseInt64(req.params.at("id"), &id) || id <= 0) {
    return absl::NotFoundError(StrCat("segment ", req.params.at("id"), " not found"));
  }
  return id;
}

Response Created(const Json& body) { return JsonResponse(201, body); }

Response NoContent() {
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

// Lookup options common to single and batch lookups; TmService checks their ranges.
void ReadLookupOptions(Fields& f, tm::LookupOptions* o) {
  int64_t min_score = o->min_score, max_results = o->max_results;
  f.Int("min_score", &min_score);
  f.Int("max_results", &max_results);
  o->min_score = static_cast<int>(std::clamp<int64_t>(min_score, -1, 1000));
  o->max_results = static_cast<int>(std::clamp<int64_t>(max_results, -1, 1000));
}

}  // namespace

void AddTmRoutes(Router* router, const Services& s) {
  tm::TmService* tms = s.tm;
  auto metrics = std::make_shared<TmMetrics>(MakeMetrics(s.metrics));
  const std::vector<std::string> json = {"application/json"};
  const std::string read = "tm:read", write = "tm:write";

  router->Add({"POST", "/v1/tm", write, Route::Body::kJson, json, Route::Exec::kStorage,
               [tms](Request& req) {
                 auto body = ParseObject(req.body);
                 if (!body.ok()) return ErrorResponse(body.status());
                 Fields f(*body);
                 std::string name, source, target;
                 f.String("name", &name, true);
                 f.String("source_lang", &source, true);
                 f.String("target_lang", &target, true);
                 if (absl::Status st = f.Finish(); !st.ok()) return ErrorResponse(st);
                 auto store = tms->CreateStore(req.principal.tenant, name, source, target);
                 if (!store.ok()) return ErrorResponse(store.status());
                 Response r = Created(StoreJson(*store));
                 r.headers.emplace_back("Location", StrCat("/v1/tm/", store->record.id));
                 return r;
               }});

  router->Add(WithQuery(
      {"limit", "cursor"},
      {"GET", "/v1/tm", read, Route::Body::kNone, {}, Route::Exec::kStorage, [tms](Request& req) {
         auto page = ReadPage(req, 100);
         if (!page.ok()) return ErrorResponse(page.status());
         auto stores = tms->ListStores(req.principal.tenant);
         if (!stores.ok()) return ErrorResponse(stores.status());
         Json next;
         Json arr = Json::array();
         for (const tm::StoreInfo* st : PageOf(
                  *stores, *page, [](const tm::StoreInfo& x) { return x.record.id; }, &next)) {
           arr.push_back(StoreJson(*st));
         }
         return JsonResponse(200, Json{{"stores", arr}, {"next_cursor", next}});
       }}));

  router->Add({"GET",
               "/v1/tm/{store}",
               read,
               Route::Body::kNone,
               {},
               Route::Exec::kStorage,
               [tms](Request& req) {
                 auto store = tms->GetStore(req.principal.tenant, req.params.at("store"));
                 if (!store.ok()) return ErrorResponse(store.status());
                 return JsonResponse(200, StoreJson(*store));
               }});

  router->Add({"DELETE",
               "/v1/tm/{store}",
               "admin",
               Route::Body::kNone,
               {},
               Route::Exec::kStorage,
               [tms](Request& req) {
                 absl::Status st = tms->DeleteStore(req.principal.tenant, req.params.at("store"));
                 return st.ok() ? NoContent() : ErrorResponse(st);
               }});

  router->Add({"POST", "/v1/tm/{store}/segments", write, Route::Body::kJson, json,
               Route::Exec::kStorage, [tms](Request& req) {
                 auto body = ParseObject(req.body);
                 if (!body.ok()) return ErrorResponse(body.status());
                 // text_format sits beside the segment's fields.
                 Json copy = *body;
                 Fields f(copy);
                 auto plain = ReadPlain(f);
                 if (!plain.ok()) return ErrorResponse(plain.status());
                 copy.erase("text_format");
                 auto segment = ParseSegment(copy, "", *plain);
                 if (!segment.ok()) return ErrorResponse(segment.status());
                 auto added = tms->AddSegments(req.principal.tenant, req.params.at("store"),
                                               {std::move(*segment)}, req.principal.key_id);
                 if (!added.ok()) return ErrorResponse(added.status());
                 return Created(SegmentJson((*added)[0], *plain));
               }});

  router->Add({"POST", "/v1/tm/{store}/segments/batch", write, Route::Body::kJson, json,
               Route::Exec::kStorage, [tms](Request& req) {
                 auto body = ParseObject(req.body);
                 if (!body.ok()) return ErrorResponse(body.status());
                 Fields f(*body);
                 auto plain = ReadPlain(f);
                 const Json* list = f.Array("segments", true);
                 if (absl::Status st = f.Finish(); !st.ok()) return ErrorResponse(st);
                 if (!plain.ok()) return ErrorResponse(plain.status());
                 if (list->empty() || list->size() > kMaxBatch) {
                   return ErrorResponse(BadRequest(StrCat("segments: must hold 1 to ", kMaxBatch,
                                                          " segments (got ", list->size(), ")")));
                 }
                 std::vector<tm::SegmentRecord> segments;
                 for (size_t i = 0; i < list->size(); ++i) {
                   std::string path = StrCat("segments[", i, "].");
                   if (!(*list)[i].is_object()) {
                     return ErrorResponse(
                         BadRequest(StrCat("segments[", i, "]: expected an object")));
                   }
                   auto seg = ParseSegment((*list)[i], path, *plain);
                   if (!seg.ok()) return ErrorResponse(seg.status());
                   segments.push_back(std::move(*seg));
                 }
                 auto added = tms->AddSegments(req.principal.tenant, req.params.at("store"),
                                               std::move(segments), req.principal.key_id);
                 if (!added.ok()) return ErrorResponse(added.status());
                 Json arr = Json::array();
                 for (const auto& seg : *added) arr.push_back(SegmentJson(seg, *plain));
                 return JsonResponse(200, Json{{"segments", arr}});
               }});

  router->Add(WithQuery(
      {"limit", "cursor", "text_format"},
      {"GET",
       "/v1/tm/{store}/segments",
       read,
       Route::Body::kNone,
       {},
       Route::Exec::kStorage,
       [tms](Request& req) {
         auto page = ReadPage(req, 100);
         if (!page.ok()) return ErrorResponse(page.status());
         auto plain = QueryPlain(req);
         if (!plain.ok()) return ErrorResponse(plain.status());
         int64_t after = 0;
         if (!page->after.empty() && !ParseInt64(page->after, &after)) {
           return ErrorResponse(BadRequest("cursor: not a cursor of this list"));
         }
         bool more = false;
         auto segments = tms->ListSegments(req.principal.tenant, req.params.at("store"), after,
                                           page->limit, &more);
         if (!segments.ok()) return ErrorResponse(segments.status());
         Json arr = Json::array();
         for (const auto& seg : *segments) arr.push_back(SegmentJson(seg, *plain));
         Json next = more ? Json(EncodeCursor(std::to_string(segments->back().id))) : Json(nullptr);
         return JsonResponse(200, Json{{"segments", arr}, {"next_cursor", next}});
       }}));

  router->Add(WithQuery({"text_format"}, {"GET",
                                          "/v1/tm/{store}/segments/{id}",
                                          read,
                                          Route::Body::kNone,
                                          {},
                                          Route::Exec::kStorage,
                                          [tms](Request& req) {
                                            auto id = SegmentId(req);
                                            if (!id.ok()) return ErrorResponse(id.status());
                                            auto plain = QueryPlain(req);
                                            if (!plain.ok()) return ErrorResponse(plain.status());
                                            auto seg = tms->GetSegment(req.principal.tenant,
                                                                       req.params.at("store"), *id);
                                            if (!seg.ok()) return ErrorResponse(seg.status());
                                            return JsonResponse(200, SegmentJson(*seg, *plain));
                                          }}));

  router->Add({"PUT", "/v1/tm/{store}/segments/{id}", write, Route::Body::kJson, json,
               Route::Exec::kStorage, [tms](Request& req) {
                 auto id = SegmentId(req);
                 if (!id.ok()) return ErrorResponse(id.status());
                 auto body = ParseObject(req.body);
                 if (!body.ok()) return ErrorResponse(body.status());
                 Json copy = *body;
                 Fields f(copy);
                 auto plain = ReadPlain(f);
                 if (!plain.ok()) return ErrorResponse(plain.status());
                 copy.erase("text_format");
                 auto segment = ParseSegment(copy, "", *plain);
                 if (!segment.ok()) return ErrorResponse(segment.status());
                 segment->id = *id;
                 auto updated = tms->UpdateSegment(req.principal.tenant, req.params.at("store"),
                                                   std::move(*segment), req.principal.key_id);
                 if (!updated.ok()) return ErrorResponse(updated.status());
                 return JsonResponse(200, SegmentJson(*updated, *plain));
               }});

  router->Add({"DELETE",
               "/v1/tm/{store}/segments/{id}",
               write,
               Route::Body::kNone,
               {},
               Route::Exec::kStorage,
               [tms](Request& req) {
                 auto id = SegmentId(req);
                 if (!id.ok()) return ErrorResponse(id.status());
                 absl::Status st =
                     tms->DeleteSegment(req.principal.tenant, req.params.at("store"), *id);
                 return st.ok() ? NoContent() : ErrorResponse(st);
               }});

  router->Add({"POST", "/v1/tm/{store}/lookup", read, Route::Body::kJson, json,
               Route::Exec::kTryInline, [tms, metrics, clock = s.clock](Request& req) {
                 auto body = ParseObject(req.body);
                 if (!body.ok()) return ErrorResponse(body.status());
                 Fields f(*body);
                 std::string source;
                 f.String("source", &source, true);
                 auto plain = ReadPlain(f);
                 tm::LookupOptions options;
                 ReadLookupOptions(f, &options);
                 const Json* context = f.Object("context");
                 if (absl::Status st = f.Finish(); !st.ok()) return ErrorResponse(st);
                 if (!plain.ok()) return ErrorResponse(plain.status());
                 if (context) {
                   auto c = ParseContext(*context, "context.");
                   if (!c.ok()) return ErrorResponse(c.status());
                   options.context = std::move(*c);
                 }
                 options.nonblocking = req.nonblocking;
                 absl::Time start = clock->MonotonicNow();
                 auto result = tms->Lookup(req.principal.tenant, req.params.at("store"),
                                           *plain ? text::EscapeText(source) : source, options);
                 if (!result.ok()) return ErrorResponse(result.status());
                 metrics->lookup_seconds->Observe(
                     absl::ToDoubleSeconds(clock->MonotonicNow() - start));
                 Response r;
                 JsonWriter w(&r.body);
                 w.BeginObject().Key("matches").BeginArray();
                 for (const auto& m : result->matches) {
                   metrics->bands[static_cast<int>(m.band)]->Inc();
                   WriteMatch(w, m, *plain);
                 }
                 w.EndArray().EndObject();
                 return r;
               }});

  router->Add(
      {"POST", "/v1/tm/{store}/lookup/batch", read, Route::Body::kJson, json,
       Route::Exec::kTryInline, [tms, metrics, clock = s.clock](Request& req) {
         auto body = ParseObject(req.body);
         if (!body.ok()) return ErrorResponse(body.status());
         Fields f(*body);
         auto plain = ReadPlain(f);
         tm::LookupOptions options;
         ReadLookupOptions(f, &options);
         const Json* queries = f.Array("queries", true);
         if (absl::Status st = f.Finish(); !st.ok()) return ErrorResponse(st);
         if (!plain.ok()) return ErrorResponse(plain.status());
         if (queries->empty() || queries->size() > kMaxLookupBatch) {
           return ErrorResponse(BadRequest(StrCat("queries: must hold 1 to ", kMaxLookupBatch,
                                                  " queries (got ", queries->size(), ")")));
         }
         // Validate every query before running any.
         std::vector<std::pair<std::string, storage::SegmentContext>> parsed;
         for (size_t i = 0; i < queries->size(); ++i) {
           const Json& q = (*queries)[i];
           if (!q.is_object()) {
             return ErrorResponse(BadRequest(StrCat("queries[", i, "]: expected an object")));
           }
           Fields qf(q, StrCat("queries[", i, "]."));
           std::string source;
           qf.String("source", &source, true);
           const Json* context = qf.Object("context");
           if (absl::Status st = qf.Finish(); !st.ok()) return ErrorResponse(st);
           storage::SegmentContext c;
           if (context) {
             auto pc = ParseContext(*context, StrCat("queries[", i, "].context."));
             if (!pc.ok()) return ErrorResponse(pc.status());
             c = std::move(*pc);
           }
           parsed.emplace_back(*plain ? text::EscapeText(source) : source, std::move(c));
         }
         // Every lookup first, then the answer and the metrics: a lookup that would block sends
         // the whole batch to the storage pool, and nothing may have been counted by then.
         options.nonblocking = req.nonblocking;
         std::vector<tm::LookupResult> results;
         std::vector<double> seconds;
         for (size_t i = 0; i < parsed.size(); ++i) {
           options.context = parsed[i].second;
           absl::Time start = clock->MonotonicNow();
           auto result =
               tms->Lookup(req.principal.tenant, req.params.at("store"), parsed[i].first, options);
           if (!result.ok()) {
             absl::Status st = result.status();
             // A bad query text names its query; bad options are the batch's.
             if (absl::IsInvalidArgument(st) && st.message().substr(0, 6) == "source") {
               st = absl::InvalidArgumentError(StrCat("queries[", i, "].", st.message()));
             }
             return ErrorResponse(st);
           }
           seconds.push_back(absl::ToDoubleSeconds(clock->MonotonicNow() - start));
           results.push_back(std::move(*result));
         }
         Response response;
         JsonWriter w(&response.body);
         w.BeginObject().Key("results").BeginArray();
         for (size_t i = 0; i < results.size(); ++i) {
           metrics->lookup_seconds->Observe(seconds[i]);
           w.BeginObject().Key("matches").BeginArray();
           for (const auto& m : results[i].matches) {
             metrics->bands[static_cast<int>(m.band)]->Inc();
             WriteMatch(w, m, *plain);
           }
           w.EndArray().EndObject();
         }
         w.EndArray().EndObject();
         return response;
       }});

  router->Add(WithQuery({"q", "in", "match", "limit", "cursor", "text_format"},
                        {"GET",
                         "/v1/tm/{store}/concordance",
                         read,
                         Route::Body::kNone,
                         {},
                         Route::Exec::kStorage,
                         [tms](Request& req) {
                           auto options = ReadConcordanceOptions(req);
                           if (!options.ok()) return ErrorResponse(options.status());
                           auto plain = QueryPlain(req);
                           if (!plain.ok()) return ErrorResponse(plain.status());
                           auto result =
                               tms->Concordance(req.principal.tenant, req.params.at("store"),
                                                text::EscapeText(*req.Query("q")), *options);
                           if (!result.ok()) return ErrorResponse(result.status());
                           return JsonResponse(200, ConcordanceJson(*result, *plain));
                         }}));

  const std::vector<std::string> uploads = {"application/x-tmx+xml",
                                            "application/xml",
                                            "text/xml",
                                            "text/x-po",
                                            "text/x-gettext-translation",
                                            "application/x-po",
                                            "application/octet-stream"};
  router->Add(WithQuery(
      {"format", "strict"},
      {"POST", "/v1/tm/{store}/imports", write, Route::Body::kUpload, uploads, Route::Exec::kLong,
       [tms, sync_max = s.sync_import_max_bytes](Request& req) {
         std::string format = req.Query("format").value_or("");
         std::string_view type = req.Header("content-type");
         type = type.substr(0, type.find(';'));
         if (format.empty()) {
           if (type.find("po") != std::string_view::npos || type == "text/x-gettext-translation") {
             format = "po";
           } else if (type == "application/octet-stream") {
             std::filesystem::remove(req.body_file);
             return ErrorResponse(
                 BadRequest("format: say ?format=tmx or ?format=po for an octet stream"));
           } else {
             format = "tmx";
           }
         }
         if (format != "tmx" && format != "po") {
           std::filesystem::remove(req.body_file);
           return ErrorResponse(BadRequest(StrCat("format: \"", format, "\" is not tmx or po")));
         }
         std::error_code ec;
         int64_t size = static_cast<int64_t>(std::filesystem::file_size(req.body_file, ec));
         const std::string strict = req.Query("strict").value_or("false");
         if (strict != "true" && strict != "false") {
           std::filesystem::remove(req.body_file, ec);
           return ErrorResponse(BadRequest("strict: true or false"));
         }
         if (strict == "true" && (ec || size > sync_max)) {
           std::filesystem::remove(req.body_file, ec);
           return ErrorResponse(absl::InvalidArgumentError(
               StrCat("strict: only for files up to ", sync_max >> 20,
                      " MiB, which import at once; a larger file imports in the background, "
                      "where invalid units are skipped and listed in the report")));
         }
         if (!ec && size <= sync_max) {
           tm::ImportOptions options;
           options.strict = strict == "true";
           options.user = req.principal.key_id;
           options.source_name = "upload";
           auto report = format == "po"
                             ? tms->ImportPo(req.principal.tenant, req.params.at("store"),
                                             req.body_file, options)
                             : tms->ImportTmx(req.principal.tenant, req.params.at("store"),
                                              req.body_file, options);
           std::filesystem::remove(req.body_file, ec);
           if (!report.ok()) return ErrorResponse(report.status());
           return JsonResponse(200, Json{{"status", report->skipped > 0 ? "partial" : "succeeded"},
                                         {"report", ReportJson(*report)}});
         }
         auto info = tms->StartImport(req.principal.tenant, req.params.at("store"), req.body_file,
                                      format, req.principal.key_id);
         if (!info.ok()) {
           std::filesystem::remove(req.body_file, ec);
           return ErrorResponse(info.status());
         }
         Response r = JsonResponse(202, ImportJson(*info));
         r.headers.emplace_back("Location",
                                StrCat("/v1/tm/", info->store_id, "/imports/", info->id));
         return r;
       }}));

  router->Add({"GET",
               "/v1/tm/{store}/imports/{import}",
               read,
               Route::Body::kNone,
               {},
               Route::Exec::kStorage,
               [tms](Request& req) {
                 auto info = tms->GetImport(req.principal.tenant, req.params.at("store"),
                                            req.params.at("import"));
                 if (!info.ok()) return ErrorResponse(info.status());
                 return JsonResponse(200, ImportJson(*info));
               }});

  router->Add({"GET",
               "/v1/tm/{store}/tmx",
               read,
               Route::Body::kNone,
               {},
               Route::Exec::kLong,
               [tms, dir = s.upload_dir, ids = s.ids](Request& req) {
                 std::string file = StrCat(dir, "/", ids->Next("export"), ".tmx");
                 std::ofstream out(file, std::ios::binary | std::ios::trunc);
                 if (!out) return ErrorResponse(absl::UnavailableError("cannot write the export"));
                 auto units = tms->ExportTmx(req.principal.tenant, req.params.at("store"), &out);
                 out.close();
                 if (!units.ok()) {
                   std::error_code ec;
                   std::filesystem::remove(file, ec);
                   return ErrorResponse(units.status());
                 }
                 Response r;
                 r.content_type = "application/x-tmx+xml";
                 r.file = file;
                 r.delete_file = true;
                 r.headers.emplace_back(
                     "Content-Disposition",
                     AttachmentDisposition(StrCat(req.params.at("store"), ".tmx")));
                 return r;
               }});
}

}  // namespace verso::api
