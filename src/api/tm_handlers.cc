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

// What the TM handlers use.
struct TmRoutes {
  tm::TmService* tms;
  const Clock* clock;
  TmMetrics metrics;
  std::string upload_dir;
  IdGenerator* ids;
  int64_t sync_import_max_bytes;
};

// ---- Stores ----

absl::StatusOr<Response> CreateStore(const TmRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  std::string name, source, target;
  f.String("name", &name, true);
  f.String("source_lang", &source, true);
  f.String("target_lang", &target, true);
  VERSO_RETURN_IF_ERROR(f.Finish());
  VERSO_ASSIGN_OR_RETURN(tm::StoreInfo store,
                         c.tms->CreateStore(req.principal.tenant, name, source, target));
  Response r = Created(StoreJson(store));
  r.headers.emplace_back("Location", StrCat("/v1/tm/", store.record.id));
  return r;
}

absl::StatusOr<Response> ListStores(const TmRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Page page, ReadPage(req, 100));
  VERSO_ASSIGN_OR_RETURN(std::vector<tm::StoreInfo> stores,
                         c.tms->ListStores(req.principal.tenant));
  Json next;
  Json arr = Json::array();
  for (const tm::StoreInfo* st : PageOf(
           stores, page, [](const tm::StoreInfo& x) { return x.record.id; }, &next)) {
    arr.push_back(StoreJson(*st));
  }
  return JsonResponse(200, Json{{"stores", arr}, {"next_cursor", next}});
}

absl::StatusOr<Response> GetStore(const TmRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(tm::StoreInfo store,
                         c.tms->GetStore(req.principal.tenant, req.params.at("store")));
  return JsonResponse(200, StoreJson(store));
}

absl::StatusOr<Response> DeleteStore(const TmRoutes& c, Request& req) {
  VERSO_RETURN_IF_ERROR(c.tms->DeleteStore(req.principal.tenant, req.params.at("store")));
  return NoContent();
}

// ---- Segments ----

absl::StatusOr<Response> AddSegment(const TmRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  // text_format sits beside the segment's fields.
  Fields f(body);
  VERSO_ASSIGN_OR_RETURN(bool plain, ReadPlain(f));
  body.erase("text_format");
  VERSO_ASSIGN_OR_RETURN(tm::SegmentRecord segment, ParseSegment(body, "", plain));
  VERSO_ASSIGN_OR_RETURN(std::vector<tm::SegmentRecord> added,
                         c.tms->AddSegments(req.principal.tenant, req.params.at("store"),
                                            {std::move(segment)}, req.principal.id()));
  return Created(SegmentJson(added[0], plain));
}

absl::StatusOr<Response> AddSegments(const TmRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  auto plain = ReadPlain(f);
  const Json* list = f.Array("segments", true);
  VERSO_RETURN_IF_ERROR(f.Finish());
  VERSO_RETURN_IF_ERROR(plain.status());
  if (list->empty() || list->size() > kMaxBatch) {
    return BadRequest(
        StrCat("segments: must hold 1 to ", kMaxBatch, " segments (got ", list->size(), ")"));
  }
  std::vector<tm::SegmentRecord> segments;
  for (size_t i = 0; i < list->size(); ++i) {
    if (!(*list)[i].is_object()) return BadRequest(StrCat("segments[", i, "]: expected an object"));
    VERSO_ASSIGN_OR_RETURN(tm::SegmentRecord seg,
                           ParseSegment((*list)[i], StrCat("segments[", i, "]."), *plain));
    segments.push_back(std::move(seg));
  }
  VERSO_ASSIGN_OR_RETURN(std::vector<tm::SegmentRecord> added,
                         c.tms->AddSegments(req.principal.tenant, req.params.at("store"),
                                            std::move(segments), req.principal.id()));
  Json arr = Json::array();
  for (const auto& seg : added) arr.push_back(SegmentJson(seg, *plain));
  return JsonResponse(200, Json{{"segments", arr}});
}

absl::StatusOr<Response> ListSegments(const TmRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Page page, ReadPage(req, 100));
  VERSO_ASSIGN_OR_RETURN(bool plain, QueryPlain(req));
  int64_t after = 0;
  if (!page.after.empty() && !ParseInt64(page.after, &after)) {
    return BadRequest("cursor: not a cursor of this list");
  }
  bool more = false;
  VERSO_ASSIGN_OR_RETURN(
      std::vector<tm::SegmentRecord> segments,
      c.tms->ListSegments(req.principal.tenant, req.params.at("store"), after, page.limit, &more));
  Json arr = Json::array();
  for (const auto& seg : segments) arr.push_back(SegmentJson(seg, plain));
  Json next = more ? Json(EncodeCursor(std::to_string(segments.back().id))) : Json(nullptr);
  return JsonResponse(200, Json{{"segments", arr}, {"next_cursor", next}});
}

absl::StatusOr<Response> GetSegment(const TmRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(int64_t id, SegmentId(req));
  VERSO_ASSIGN_OR_RETURN(bool plain, QueryPlain(req));
  VERSO_ASSIGN_OR_RETURN(tm::SegmentRecord seg,
                         c.tms->GetSegment(req.principal.tenant, req.params.at("store"), id));
  return JsonResponse(200, SegmentJson(seg, plain));
}

absl::StatusOr<Response> UpdateSegment(const TmRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(int64_t id, SegmentId(req));
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  VERSO_ASSIGN_OR_RETURN(bool plain, ReadPlain(f));
  body.erase("text_format");
  VERSO_ASSIGN_OR_RETURN(tm::SegmentRecord segment, ParseSegment(body, "", plain));
  segment.id = id;
  VERSO_ASSIGN_OR_RETURN(tm::SegmentRecord updated,
                         c.tms->UpdateSegment(req.principal.tenant, req.params.at("store"),
                                              std::move(segment), req.principal.id()));
  return JsonResponse(200, SegmentJson(updated, plain));
}

absl::StatusOr<Response> DeleteSegment(const TmRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(int64_t id, SegmentId(req));
  VERSO_RETURN_IF_ERROR(c.tms->DeleteSegment(req.principal.tenant, req.params.at("store"), id));
  return NoContent();
}

// ---- Lookups and concordance ----

absl::StatusOr<Response> Lookup(const TmRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  std::string source;
  f.String("source", &source, true);
  auto plain = ReadPlain(f);
  tm::LookupOptions options;
  ReadLookupOptions(f, &options);
  const Json* context = f.Object("context");
  VERSO_RETURN_IF_ERROR(f.Finish());
  VERSO_RETURN_IF_ERROR(plain.status());
  if (context) {
    VERSO_ASSIGN_OR_RETURN(options.context, ParseContext(*context, "context."));
  }
  options.nonblocking = req.nonblocking;
  absl::Time start = c.clock->MonotonicNow();
  VERSO_ASSIGN_OR_RETURN(tm::LookupResult result,
                         c.tms->Lookup(req.principal.tenant, req.params.at("store"),
                                       *plain ? text::EscapeText(source) : source, options));
  c.metrics.lookup_seconds->Observe(absl::ToDoubleSeconds(c.clock->MonotonicNow() - start));
  Response r;
  JsonWriter w(&r.body);
  w.BeginObject().Key("matches").BeginArray();
  for (const auto& m : result.matches) {
    c.metrics.bands[static_cast<int>(m.band)]->Inc();
    WriteMatch(w, m, *plain);
  }
  w.EndArray().EndObject();
  return r;
}

// A batch lookup's queries, each checked before any runs: (markup source, context).
absl::StatusOr<std::vector<std::pair<std::string, storage::SegmentContext>>> ReadLookupQueries(
    const Json& queries, bool plain) {
  if (queries.empty() || queries.size() > kMaxLookupBatch) {
    return BadRequest(
        StrCat("queries: must hold 1 to ", kMaxLookupBatch, " queries (got ", queries.size(), ")"));
  }
  std::vector<std::pair<std::string, storage::SegmentContext>> parsed;
  for (size_t i = 0; i < queries.size(); ++i) {
    const Json& q = queries[i];
    if (!q.is_object()) return BadRequest(StrCat("queries[", i, "]: expected an object"));
    Fields qf(q, StrCat("queries[", i, "]."));
    std::string source;
    qf.String("source", &source, true);
    const Json* context = qf.Object("context");
    VERSO_RETURN_IF_ERROR(qf.Finish());
    storage::SegmentContext sc;
    if (context) {
      VERSO_ASSIGN_OR_RETURN(sc, ParseContext(*context, StrCat("queries[", i, "].context.")));
    }
    parsed.emplace_back(plain ? text::EscapeText(source) : source, std::move(sc));
  }
  return parsed;
}

absl::StatusOr<Response> LookupBatch(const TmRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  auto plain = ReadPlain(f);
  tm::LookupOptions options;
  ReadLookupOptions(f, &options);
  const Json* queries = f.Array("queries", true);
  VERSO_RETURN_IF_ERROR(f.Finish());
  VERSO_RETURN_IF_ERROR(plain.status());
  VERSO_ASSIGN_OR_RETURN(auto parsed, ReadLookupQueries(*queries, *plain));
  // Every lookup first, then the answer and the metrics: a lookup that would block sends the
  // whole batch to the storage pool, and nothing may have been counted by then.
  options.nonblocking = req.nonblocking;
  std::vector<tm::TmService::BatchQuery> batch;
  for (const auto& [source, context] : parsed) batch.push_back({source, context});
  const absl::Time start = c.clock->MonotonicNow();
  size_t failed = 0;
  // One request to the TM node holding the store when a node holds it.
  auto many =
      c.tms->LookupMany(req.principal.tenant, req.params.at("store"), batch, options, &failed);
  if (!many.ok()) {
    absl::Status st = many.status();
    // A bad query text names its query; bad options are the batch's.
    if (absl::IsInvalidArgument(st) && st.message().substr(0, 6) == "source") {
      st = absl::InvalidArgumentError(StrCat("queries[", failed, "].", st.message()));
    }
    return st;
  }
  std::vector<tm::LookupResult>& results = *many;
  const double each = absl::ToDoubleSeconds(c.clock->MonotonicNow() - start) /
                      static_cast<double>(std::max<size_t>(1, results.size()));
  std::vector<double> seconds(results.size(), each);
  Response response;
  JsonWriter w(&response.body);
  w.BeginObject().Key("results").BeginArray();
  for (size_t i = 0; i < results.size(); ++i) {
    c.metrics.lookup_seconds->Observe(seconds[i]);
    w.BeginObject().Key("matches").BeginArray();
    for (const auto& m : results[i].matches) {
      c.metrics.bands[static_cast<int>(m.band)]->Inc();
      WriteMatch(w, m, *plain);
    }
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
  return response;
}

absl::StatusOr<Response> Concordance(const TmRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(tm::ConcordanceOptions options, ReadConcordanceOptions(req));
  VERSO_ASSIGN_OR_RETURN(bool plain, QueryPlain(req));
  VERSO_ASSIGN_OR_RETURN(tm::ConcordanceResult result,
                         c.tms->Concordance(req.principal.tenant, req.params.at("store"),
                                            text::EscapeText(*req.Query("q")), options));
  return JsonResponse(200, ConcordanceJson(result, plain));
}

// ---- Imports and export ----

// ?format of an import, or what the upload's Content-Type says.
absl::StatusOr<std::string> ImportFormat(const Request& req) {
  std::string format = req.Query("format").value_or("");
  std::string_view type = req.Header("content-type");
  type = type.substr(0, type.find(';'));
  if (format.empty()) {
    if (type.find("po") != std::string_view::npos || type == "text/x-gettext-translation") {
      format = "po";
    } else if (type == "application/octet-stream") {
      return BadRequest("format: say ?format=tmx or ?format=po for an octet stream");
    } else {
      format = "tmx";
    }
  }
  if (format != "tmx" && format != "po") {
    return BadRequest(StrCat("format: \"", format, "\" is not tmx or po"));
  }
  return format;
}

absl::StatusOr<Response> StartImportOf(const TmRoutes& c, Request& req, const std::string& format,
                                       int64_t size) {
  const std::string strict = req.Query("strict").value_or("false");
  if (strict != "true" && strict != "false") return BadRequest("strict: true or false");
  const int64_t sync_max = c.sync_import_max_bytes;
  if (strict == "true" && (size < 0 || size > sync_max)) {
    return absl::InvalidArgumentError(
        StrCat("strict: only for files up to ", sync_max >> 20,
               " MiB, which import at once; a larger file imports in the background, "
               "where invalid units are skipped and listed in the report"));
  }
  const std::string& store = req.params.at("store");
  if (size >= 0 && size <= sync_max) {
    tm::ImportOptions options;
    options.strict = strict == "true";
    options.user = req.principal.id();
    options.source_name = "upload";
    VERSO_ASSIGN_OR_RETURN(
        tm::ImportReport report,
        format == "po" ? c.tms->ImportPo(req.principal.tenant, store, req.body_file, options)
                       : c.tms->ImportTmx(req.principal.tenant, store, req.body_file, options));
    return JsonResponse(200, Json{{"status", report.skipped > 0 ? "partial" : "succeeded"},
                                  {"report", ReportJson(report)}});
  }
  VERSO_ASSIGN_OR_RETURN(
      tm::ImportInfo info,
      c.tms->StartImport(req.principal.tenant, store, req.body_file, format, req.principal.id()));
  req.body_file.clear();  // the background import owns the file now
  Response r = JsonResponse(202, ImportJson(info));
  r.headers.emplace_back("Location", StrCat("/v1/tm/", info.store_id, "/imports/", info.id));
  return r;
}

absl::StatusOr<Response> Import(const TmRoutes& c, Request& req) {
  // The upload is removed whatever the answer, unless a background import took it.
  struct Cleanup {
    Request& req;
    ~Cleanup() {
      std::error_code ec;
      if (!req.body_file.empty()) std::filesystem::remove(req.body_file, ec);
    }
  } cleanup{req};
  VERSO_ASSIGN_OR_RETURN(std::string format, ImportFormat(req));
  std::error_code ec;
  int64_t size = static_cast<int64_t>(std::filesystem::file_size(req.body_file, ec));
  return StartImportOf(c, req, format, ec ? -1 : size);
}

absl::StatusOr<Response> GetImport(const TmRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(
      tm::ImportInfo info,
      c.tms->GetImport(req.principal.tenant, req.params.at("store"), req.params.at("import")));
  return JsonResponse(200, ImportJson(info));
}

absl::StatusOr<Response> ExportTmx(const TmRoutes& c, Request& req) {
  std::string file = StrCat(c.upload_dir, "/", c.ids->Next("export"), ".tmx");
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) return absl::UnavailableError("cannot write the export");
  auto units = c.tms->ExportTmx(req.principal.tenant, req.params.at("store"), &out);
  out.close();
  if (!units.ok()) {
    std::error_code ec;
    std::filesystem::remove(file, ec);
    return units.status();
  }
  Response r;
  r.content_type = "application/x-tmx+xml";
  r.file = file;
  r.delete_file = true;
  r.headers.emplace_back("Content-Disposition",
                         AttachmentDisposition(StrCat(req.params.at("store"), ".tmx")));
  return r;
}

}  // namespace

void AddTmRoutes(Router* router, const Services& s) {
  auto c = std::make_shared<const TmRoutes>(TmRoutes{s.tm, s.clock, MakeMetrics(s.metrics),
                                                     s.upload_dir, s.ids, s.sync_import_max_bytes});
  const std::vector<std::string> json = {"application/json"};
  const std::vector<std::string> uploads = {"application/x-tmx+xml",
                                            "application/xml",
                                            "text/xml",
                                            "text/x-po",
                                            "text/x-gettext-translation",
                                            "application/x-po",
                                            "application/octet-stream"};
  const std::string read = "tm:read", write = "tm:write";
  using B = Route::Body;
  using E = Route::Exec;
  const std::vector<std::string> page = {"limit", "cursor"};
  const std::vector<std::string> page_text = {"limit", "cursor", "text_format"};
  // clang-format off
  const std::vector<Route> routes = {
    {.method = "POST",   .pattern = "/v1/tm", .scope = write, .body = B::kJson, .content_types = json, .handler = Bind(c, CreateStore)},
    {.method = "GET",    .pattern = "/v1/tm", .scope = read, .handler = Bind(c, ListStores), .query = page},
    {.method = "GET",    .pattern = "/v1/tm/{store}", .scope = read, .handler = Bind(c, GetStore)},
    {.method = "DELETE", .pattern = "/v1/tm/{store}", .scope = "admin", .handler = Bind(c, DeleteStore)},
    {.method = "POST",   .pattern = "/v1/tm/{store}/segments", .scope = write, .body = B::kJson, .content_types = json, .handler = Bind(c, AddSegment)},
    {.method = "GET",    .pattern = "/v1/tm/{store}/segments", .scope = read, .handler = Bind(c, ListSegments), .query = page_text},
    {.method = "POST",   .pattern = "/v1/tm/{store}/segments/batch", .scope = write, .body = B::kJson, .content_types = json, .handler = Bind(c, AddSegments)},
    {.method = "GET",    .pattern = "/v1/tm/{store}/segments/{id}", .scope = read, .handler = Bind(c, GetSegment), .query = {"text_format"}},
    {.method = "PUT",    .pattern = "/v1/tm/{store}/segments/{id}", .scope = write, .body = B::kJson, .content_types = json, .handler = Bind(c, UpdateSegment)},
    {.method = "DELETE", .pattern = "/v1/tm/{store}/segments/{id}", .scope = write, .handler = Bind(c, DeleteSegment)},
    {.method = "POST",   .pattern = "/v1/tm/{store}/lookup", .scope = read, .body = B::kJson, .content_types = json, .exec = E::kTryInline, .handler = Bind(c, Lookup), .audited = false},
    {.method = "POST",   .pattern = "/v1/tm/{store}/lookup/batch", .scope = read, .body = B::kJson, .content_types = json, .exec = E::kTryInline, .handler = Bind(c, LookupBatch), .audited = false},
    {.method = "GET",    .pattern = "/v1/tm/{store}/concordance", .scope = read, .handler = Bind(c, Concordance), .query = {"q", "in", "match", "limit", "cursor", "text_format"}},
    {.method = "POST",   .pattern = "/v1/tm/{store}/imports", .scope = write, .body = B::kUpload, .content_types = uploads, .exec = E::kLong, .handler = Bind(c, Import), .query = {"format", "strict"}},
    {.method = "GET",    .pattern = "/v1/tm/{store}/imports/{import}", .scope = read, .handler = Bind(c, GetImport)},
    {.method = "GET",    .pattern = "/v1/tm/{store}/tmx", .scope = read, .exec = E::kLong, .handler = Bind(c, ExportTmx)},
  };
  // clang-format on
  for (const Route& r : routes) router->Add(r);
}

void AddPeerRoutes(Router* router, const Services& s) {
  // Peers are other verso processes: the secret they share, checked before anything else; the
  // answer is TmService's text (tm/peers.cc), errors in the API's shape (409: not held here).
  auto answer = [tms = s.tm, authorized = s.peer_authorized](
                    std::string method, Request& req) -> absl::StatusOr<Response> {
    if (!authorized || !authorized(req.Header("authorization"))) {
      return absl::UnauthenticatedError("peers send the cluster's secret");
    }
    VERSO_ASSIGN_OR_RETURN(std::string body,
                           tms->AnswerPeer(method, req.Query("store").value_or(""), req.body));
    Response r;
    r.content_type = "application/octet-stream";
    r.body = std::move(body);
    return r;
  };
  const std::vector<std::string> octets = {"application/octet-stream"};
  for (const char* method : {"lookup", "lookups", "concordance", "ready"}) {
    router->Add(
        {.method = "POST",
         .pattern = StrCat("/internal/tm/", method),
         .body = Route::Body::kJson,
         .content_types = octets,
         .handler = [answer, m = std::string(method)](Request& req) { return answer(m, req); },
         .query = {"store"},
         .audited = false});
  }
}

}  // namespace verso::api
