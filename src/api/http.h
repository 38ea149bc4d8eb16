// Requests, responses and routing, private to the API area. No Beast: handlers see only these.
#ifndef VERSO_API_HTTP_H_
#define VERSO_API_HTTP_H_

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/api.h"
#include "api/json.h"
#include "auth/auth.h"
#include "mt/mt.h"
#include "qa/qa.h"
#include "qe/qe.h"
#include "resilience/resilience.h"

namespace verso::mt {
struct SegmentResult;
}  // namespace verso::mt

namespace verso::api {

struct Request {
  std::string method;
  std::string path;                                          // percent-decoded
  std::vector<std::pair<std::string, std::string>> query;    // decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;                                          // JSON routes
  std::string body_file;                                     // upload routes: the streamed body
  std::string request_id;
  std::string remote;  // the client's address ("127.0.0.1")
  // Route::Exec::kTryInline's first attempt, on the I/O thread: the handler must not wait
  // (services are called with their nonblocking options).
  bool nonblocking = false;
  std::map<std::string, std::string> params;  // path parameters
  auth::Principal principal;                  // authenticated routes

  std::string_view Header(std::string_view lower_name) const;
  std::optional<std::string> Query(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string file;          // when set, the body is this file
  bool delete_file = false;  // remove `file` once sent
  std::vector<std::pair<std::string, std::string>> headers;
  // The handler could not answer without waiting (ErrorResponse of a WouldBlock status): the
  // server runs it again where it may wait.
  bool would_block = false;
  // A WebSocket upgrade the route accepted (GET /v1/jobs/{id}/live): the server hands the
  // connection to the live hub as this editor on this job instead of writing the response.
  struct Upgrade {
    std::string job_id;
    std::string editor_id;  // Principal::id()
    std::string editor_name;
  };
  std::shared_ptr<const Upgrade> upgrade;
};

// Whether the request asks for a WebSocket (Upgrade: websocket).
bool IsWebSocketUpgrade(const Request& req);

Response JsonResponse(int status, const Json& body);
// An error in the API's shape; the status code follows `status`'s code (see StatusToHttp).
Response ErrorResponse(const absl::Status& status);
Response ErrorResponse(int http_status, std::string_view code, std::string_view message);
// InvalidArgument and OutOfRange -> 422 (400 for BadRequest), NotFound 404, AlreadyExists,
// FailedPrecondition and Aborted 409, PermissionDenied 403, Unauthenticated 401,
// ResourceExhausted 413 (429 when IsThrottled), Unavailable, Cancelled and DeadlineExceeded 503,
// everything else 500.
int StatusToHttp(const absl::Status& status);
// A Retry-After value: `d` in whole seconds, rounded up, at least 1.
std::string RetryAfterSeconds(absl::Duration d);
// A 429 in the API's shape with Retry-After.
Response RetryLater(std::string_view code, std::string_view message, absl::Duration retry);
std::string_view ErrorCodeName(int http_status);

// A Content-Disposition value for a download named `file_name` (RFC 6266): an ASCII fallback
// in `filename` (quotes, backslashes and controls replaced) and the exact name in `filename*`
// (RFC 8187, UTF-8, percent-encoded). Nothing in the name can end the header.
std::string AttachmentDisposition(std::string_view file_name);

struct Route {
  enum class Body { kNone, kJson, kUpload };
  // Where the handler runs. The I/O threads must never wait on storage, or one tenant's import
  // stalls every connection of that thread (/healthz included).
  enum class Exec {
    kInline,     // on the I/O thread: touches neither storage nor a lock storage work holds
    kTryInline,  // on the I/O thread with Request::nonblocking; again on the storage pool when
                 // it answers would_block (TM lookups: memory almost always has the answer)
    kStorage,    // the storage pool: short reads and writes
    kLong,       // the long-work pool (uploads, exports, submissions), a few per tenant at once
    kWaits,      // the waiting pool: waits on other services (machine translation)
  };
  std::string method;
  std::string pattern;  // "/v1/tm/{store}/segments/{id}"
  std::string scope;    // required scope; empty: no authentication
  Body body = Body::kNone;
  // Media types the body may have (checked before it is read); empty: any.
  std::vector<std::string> content_types;
  Exec exec = Exec::kStorage;
  // kTryInline: where a request that would block runs (kStorage or kWaits).
  Exec retry = Exec::kStorage;
  // Its answer, or an error the server answers in the API's shape (ErrorResponse).
  std::function<absl::StatusOr<Response>(Request&)> handler;
  // The largest body this route takes (0: the server's limit for its kind). A declared
  // Content-Length over it is refused before any byte is read; a chunked body is cut there.
  // JSON bodies (Content-Type application/json) never exceed the server's JSON limit.
  int64_t max_body = 0;
  // Compatibility APIs: how the key is sent (default "Authorization: Bearer KEY") and what an
  // authentication failure looks like (default verso's error shape). Both run before the body
  // is read.
  std::function<std::string(const Request&)> token;
  std::function<Response(const absl::Status&, absl::Duration retry_after)> auth_error;
  // The query parameters the route takes; any other is refused (400) before the handler runs,
  // like an unknown JSON field. {"*"}: any (the compatibility APIs, which read their parameters
  // from the query or the body as their originals do).
  std::vector<std::string> query;
  // A successful POST, PUT, PATCH or DELETE goes to the audit log (who, what, request id)
  // unless the route changes nothing (a lookup, a translation) or only a draft.
  bool audited = true;
};

// A handler that is a named function of `context` (what a group of routes uses), for route
// tables: {.method = "GET", .pattern = "/v1/tm", .handler = Bind(c, ListStores)}.
template <typename Context>
std::function<absl::StatusOr<Response>(Request&)> Bind(
    std::shared_ptr<const Context> context,
    absl::StatusOr<Response> (*fn)(const Context&, Request&)) {
  return [context = std::move(context), fn](Request& req) { return fn(*context, req); };
}

// The query parameter of `req` that `route` does not take, if any.
std::optional<std::string> UnknownQueryParameter(const Route& route, const Request& req);

// ---- Pagination: ?limit=N&cursor=C on every list ------------------------------------------
// A list answers its items in a fixed order and "next_cursor": an opaque string to pass as
// ?cursor= for the items after the last one (null on the last page).
struct Page {
  int limit = 50;
  std::string after;  // the decoded cursor: the key of the last item seen ("" on the first page)
};
// Reads ?limit (1..max_limit, default `default_limit`) and ?cursor; 400 naming the bad one.
absl::StatusOr<Page> ReadPage(const Request& req, int default_limit, int max_limit = 1000);
// A key that sorts numbers in numeric order as strings (zero-padded).
std::string SortableNumber(int64_t n);

// The items of `all` after `page.after` in the order of `key` (a std::string per item), at
// most page.limit; *next_cursor is the cursor of the following page, or null.
template <typename T, typename KeyFn>
std::vector<const T*> PageOf(const std::vector<T>& all, const Page& page, KeyFn key,
                             Json* next_cursor) {
  std::vector<std::pair<std::string, const T*>> keyed;
  for (const T& item : all) {
    std::string k = key(item);
    if (page.after.empty() || k > page.after) keyed.emplace_back(std::move(k), &item);
  }
  std::sort(keyed.begin(), keyed.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const T*> out;
  for (size_t i = 0; i < keyed.size() && out.size() < static_cast<size_t>(page.limit); ++i) {
    out.push_back(keyed[i].second);
  }
  *next_cursor = keyed.size() > out.size() && !out.empty()
                     ? Json(EncodeCursor(keyed[out.size() - 1].first))
                     : Json(nullptr);
  return out;
}

class Router {
 public:
  void Add(Route route);
  struct Found {
    const Route* route = nullptr;      // null: no route
    std::vector<std::string> allowed;  // methods of the path when the method does not match
  };
  Found Find(std::string_view method, std::string_view path,
             std::map<std::string, std::string>* params) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> patterns_;  // routes_[i].pattern split at '/'
};

// "a=1&b=x%20y" (a query string or a form body) -> {{"a","1"},{"b","x y"}}; nullopt for a
// bad % escape.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseFormPairs(std::string_view s);

// One part of a multipart/form-data body (RFC 7578).
struct FormPart {
  std::string name;
  std::string filename;  // file parts
  std::string content_type;
  std::string data;
};
// The parts of a multipart/form-data body; `content_type` is the request's header (with its
// boundary). A malformed body is a 400 naming what is wrong.
absl::StatusOr<std::vector<FormPart>> ParseMultipart(std::string_view body,
                                                     std::string_view content_type);

// Workbench users: sign in and out (POST/DELETE /v1/session, a session cookie), who is signed in
// (GET /v1/session) and the tenant's users (/v1/users: admin keys and managers).
void AddUserRoutes(Router* router, const Services& services);
// The cookie that carries a workbench session, and its value in `req` ("" when absent).
inline constexpr std::string_view kSessionCookie = "verso_session";
std::string SessionCookie(const Request& req);

void AddTmRoutes(Router* router, const Services& services);
// A TM node's routes for its peers (Services::tm_node).
void AddPeerRoutes(Router* router, const Services& services);
// Jobs and post-editing (jobs_handlers.cc).
void AddJobRoutes(Router* router, const Services& services);
void AddOpsRoutes(Router* router, const Services& services);
// The workbench's browser app at /editor (Services::editor_dir; editor_handlers.cc).
void AddEditorRoutes(Router* router, const Services& services);
void AddMtRoutes(Router* router, const Services& services);
// A language field of a request in canonical form ("eng" -> "en", "PT-BR" -> "pt-BR"); 422
// naming `field` when it is no tag.
absl::StatusOr<std::string> LanguageTag(std::string_view field, const std::string& code);
// The degradation level as answers carry it: {"level", "name", "message"}.
Json LevelJson(const resilience::LevelInfo& level);
// One segment of a /v1/translate answer: the translation and where it came from, with its
// review's members (ReviewMembers: "qa", "qe" and "terms", which sort between "origin" and
// "text"), keys in order as nlohmann writes them. `plain`: the text as plain text.
void WriteTranslation(JsonWriter& w, const mt::SegmentResult& segment, bool plain,
                      std::string_view review);

// Glossaries, /v1/qe and /v1/qa/check (quality_handlers.cc).
void AddQualityRoutes(Router* router, const Services& services);

// The quality annotations of translated segments (QA warnings, glossary hits, QE score and
// auto-approval), for /v1/translate, /v1/qe and /v1/qa/check.
struct QualityRequest : qe::ReviewOptions {
  bool plain = true;
};
using SegmentToAnnotate = qe::ReviewSegment;
// A review as answers carry it: {"qa": [...], "terms": [...], "qe": {...} or null}.
Json ReviewJson(const qe::Review& review, double threshold);
// Reviews /v1/translate made, kept as the JSON text of their members (ReviewMembers), so that a
// cached translation is neither reviewed nor serialized again on every hit. Keyed by everything
// a review depends on: the request's options (QA options, threshold, scoring), the segment
// (source, translation, origin, engine, unknown words), the degradation level and the
// glossary's version (GlossaryService::Version). Reviews that depend on more are not kept:
// against a TM store (its content), with a round trip (an engine's answer) or with a
// provisional score. Bounded in bytes (LRU); thread-safe.
class ReviewCache {
 public:
  ReviewCache(size_t max_bytes, const Clock* clock);
  ~ReviewCache();

 private:
  friend absl::StatusOr<std::vector<std::shared_ptr<const std::string>>> ReviewMembers(
      const Services&, const QualityRequest&, const std::vector<SegmentToAnnotate>&, ReviewCache*,
      bool);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
// One JSON object per segment (ReviewJson), reviewed by qe::Reviewer.
absl::StatusOr<std::vector<Json>> AnnotateSegments(const Services& services,
                                                   const QualityRequest& request,
                                                   const std::vector<SegmentToAnnotate>& segments);
// The same reviews as the members of each segment's ReviewJson object in JSON text
// ("qa":[...],"qe":{...},"terms":[...], keys in order, no braces), taken from `cache` (may be
// null) where it holds them. `nonblocking` (an I/O thread): only from the cache, else
// WouldBlock.
using ReviewText = std::shared_ptr<const std::string>;
absl::StatusOr<std::vector<ReviewText>> ReviewMembers(
    const Services& services, const QualityRequest& request,
    const std::vector<SegmentToAnnotate>& segments, ReviewCache* cache, bool nonblocking);
// QA options of a request: the stored profile "qa_profile" names (if any), plus the request's
// "disabled_checks" (may be null); its "max_length" (> 0) wins over the profile's. Errors name
// the field; an unknown profile is NotFound.
absl::StatusOr<qa::Options> ParseQaOptions(const Services& services, const std::string& tenant,
                                           const std::string& qa_profile,
                                           const Json* disabled_checks, int64_t max_length);
// The glossary's target terms for the terms found in `texts` (for LLM prompts); `nonblocking`
// as for GlossaryService::Find.
absl::StatusOr<std::vector<mt::GlossaryTerm>> GlossaryPromptTerms(
    const Services& services, const std::string& tenant, const std::string& glossary,
    const std::string& source_lang, const std::string& target_lang,
    const std::vector<std::string>& texts, bool nonblocking = false);

}  // namespace verso::api

#endif  // VERSO_API_HTTP_H_
