// Jobs and post-editing over HTTP: submit a document (multipart) or segments (JSON), follow the
// job, read its analysis, download the translation, post-edit what QE did not trust, and the
// webhook deliveries. Handlers parse, validate, call the job service, map the status, serialize.
#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "api/http.h"
#include "common/file.h"
#include "common/json.h"
#include "common/status.h"
#include "common/strings.h"
#include "jobs/jobs.h"
#include "live/live.h"

namespace verso::api {
namespace {

constexpr int64_t kMaxDocumentBytes = 256 << 20;

Json CountsJson(const jobs::Counts& c) {
  return Json{{"segments", c.segments},
              {"words", c.words},
              {"tm", c.tm},
              {"mt", c.mt},
              {"engines", c.engines},
              {"approved", c.approved},
              {"awaiting_post_edit", c.awaiting},
              {"confirmed", c.confirmed},
              {"reviewed", c.reviewed}};
}

Json JobJson(const jobs::JobInfo& info) {
  const storage::JobRecord& j = info.job;
  Json targets = Json::object();
  for (const auto& [lang, c] : info.by_target) targets[lang] = CountsJson(c);
  Json stages = Json::array();
  for (const jobs::Stage& s : info.stages) {
    stages.push_back(Json{{"name", s.name},
                          {"state", s.state},
                          {"done", s.done},
                          {"total", s.total},
                          {"seconds", std::round(s.seconds * 1000) / 1000}});
  }
  return Json{{"id", j.id},
              {"status", storage::EnumName(j.status)},
              {"source_lang", j.source_lang},
              {"target_langs", j.target_langs},
              {"format", j.format},
              {"file_name", j.file_name},
              {"tm_store", j.tm_store},
              {"glossary", j.glossary},
              {"engine_policy", j.engine_policy},
              {"qa_profile", j.qa_profile},
              {"qe_threshold", j.qe_threshold >= 0 ? Json(j.qe_threshold) : Json()},
              {"revision", j.revision},
              {"webhook_url", j.webhook_url},
              {"error", j.error},
              {"counts", CountsJson(info.counts)},
              {"targets", targets},
              {"stages", stages},
              {"messages", info.messages},
              {"created_at", Rfc3339(j.created_at)},
              {"updated_at", Rfc3339(j.updated_at)},
              {"finished_at",
               j.finished_at == absl::InfinitePast() ? Json() : Json(Rfc3339(j.finished_at))}};
}

// A segment as answers show it; `compact` (?view=compact, the workbench's grid) leaves out the
// review (its QA findings counted instead: the QE reasons and glossary terms come with the
// segment), the word count and the time of the last change.
Json SegmentJson(const storage::JobSegmentRecord& s, bool compact = false) {
  Json review = Json::parse(s.review.empty() ? "null" : s.review, nullptr, false);
  if (review.is_discarded() ||
      (review.is_object() && !review.contains("qa") && !review.contains("revision"))) {
    review = nullptr;
  }
  Json out{{"index", s.index},
           {"target_lang", s.target_lang},
           {"unit_id", s.unit_id},
           {"source", s.source},
           {"target", s.target},
           {"draft", s.draft},
           {"origin", storage::EnumName(s.origin)},
           {"state", storage::EnumName(s.state)},
           {"tm_score", s.tm_score},
           {"engine", s.engine},
           {"qe_score", s.qe_score >= 0 ? Json(std::round(s.qe_score * 10) / 10) : Json()},
           {"editor", s.editor},
           {"version", s.version}};
  // A reviewer's verdict (approved, or rejected with what to change), in both views: the grid
  // marks a segment sent back.
  out["revision"] = review.is_object() && review.contains("revision") ? review["revision"] : Json();
  if (compact) {
    out["qa_warnings"] = review.is_object() && review["qa"].is_array() ? review["qa"].size() : 0;
    return out;
  }
  out["repetition"] = s.repetition;
  out["words"] = s.words;
  out["review"] = std::move(review);
  out["updated_at"] = Rfc3339(s.updated_at);
  return out;
}

// A refused confirm: QA errors are 422 "qa_failed" with the findings beside the message.
absl::Status BadCursor() { return BadRequest("cursor: not a cursor of this list"); }

// GET /v1/jobs's cursor "CREATED_MICROS|JOB_ID": where the next page starts.
absl::StatusOr<std::pair<absl::Time, std::string>> JobsCursor(const Page& page) {
  if (page.after.empty()) return std::pair{absl::InfiniteFuture(), std::string()};
  std::vector<std::string_view> parts = Split(page.after, '|');
  int64_t micros = 0;
  if (parts.size() != 2 || !ParseInt64(parts[0], &micros)) return BadCursor();
  return std::pair{absl::FromUnixMicros(micros), std::string(parts[1])};
}

// GET /v1/post-edits's cursor "UPDATED_MICROS|JOB_ID|TARGET|INDEX": the last segment seen.
absl::StatusOr<storage::JobSegmentRecord> AwaitingCursor(const Page& page) {
  storage::JobSegmentRecord last;
  if (page.after.empty()) return last;
  std::vector<std::string_view> parts = Split(page.after, '|');
  int64_t micros = 0;
  if (parts.size() != 4 || !ParseInt64(parts[0], &micros) || !ParseInt64(parts[3], &last.index)) {
    return BadCursor();
  }
  last.updated_at = absl::FromUnixMicros(micros);
  last.job_id = std::string(parts[1]);
  last.target_lang = std::string(parts[2]);
  return last;
}

Response ConfirmError(const absl::Status& status) {
  const std::string findings = jobs::QaFindings(status);
  if (findings.empty()) return ErrorResponse(status);
  Json body = {
      {"error", {{"code", "qa_failed"}, {"message", status.message()}, {"request_id", ""}}}};
  body["error"]["qa"] = Json::parse(findings, nullptr, false);
  return JsonResponse(422, body);
}

// The submission's fields, from a JSON object or from multipart form fields.
absl::Status ReadOptions(const Json& object, jobs::SubmitRequest* r) {
  Json o = object;
  if (o.contains("qe_threshold") && o["qe_threshold"].is_null()) o.erase("qe_threshold");
  Fields f(o);
  f.String("source_lang", &r->source_lang);
  std::string target;
  f.String("target_lang", &target);
  const Json* targets = f.Array("target_langs");
  f.String("tm_store", &r->tm_store);
  f.String("glossary", &r->glossary);
  f.String("engine_policy", &r->engine_policy);
  f.String("qa_profile", &r->qa_profile);
  double threshold = -1;
  f.Number("qe_threshold", &threshold);
  f.Bool("revision", &r->revision);
  f.String("webhook_url", &r->webhook_url);
  std::string unsupported = "refuse";
  f.String("unsupported_pairs", &unsupported);
  f.String("format", &r->format);
  f.String("file_name", &r->file_name);
  const Json* segments = f.Array("segments");
  std::string text_format = "plain";
  f.String("text_format", &text_format);
  VERSO_RETURN_IF_ERROR(f.Finish());
  if (o.contains("qe_threshold")) r->qe_threshold = threshold;
  if (unsupported != "refuse" && unsupported != "human") {
    return absl::InvalidArgumentError(
        StrCat("unsupported_pairs: \"", unsupported, "\" is not refuse or human"));
  }
  r->unsupported_to_human = unsupported == "human";
  if (!target.empty()) r->target_langs.push_back(target);
  if (targets != nullptr) {
    for (size_t i = 0; i < targets->size(); ++i) {
      if (!(*targets)[i].is_string())
        return BadRequest(StrCat("target_langs[", i, "]: not a string"));
      r->target_langs.push_back((*targets)[i].get<std::string>());
    }
  }
  if (segments != nullptr) {
    VERSO_ASSIGN_OR_RETURN(bool plain, ParseTextFormat(text_format));
    r->plain_segments = plain;
    for (size_t i = 0; i < segments->size(); ++i) {
      VERSO_ASSIGN_OR_RETURN(std::string t,
                             ParseText((*segments)[i], StrCat("segments[", i, "]"), plain));
      r->segments.push_back(std::move(t));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<jobs::SubmitRequest> ParseSubmission(const Request& req) {
  jobs::SubmitRequest r;
  r.tenant = req.principal.tenant;
  r.user = req.principal.id();
  r.idempotency_key = std::string(req.Header("idempotency-key"));
  if (r.idempotency_key.size() > 255 ||
      std::any_of(r.idempotency_key.begin(), r.idempotency_key.end(),
                  [](char c) { return c < 0x21 || c > 0x7E; })) {
    return BadRequest("Idempotency-Key: at most 255 visible ASCII characters");
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(req.body_file, ec);
  if (ec || static_cast<int64_t>(size) > kMaxDocumentBytes) {
    return absl::ResourceExhaustedError(
        StrCat("a job's document may have at most ", kMaxDocumentBytes >> 20, " MiB"));
  }
  VERSO_ASSIGN_OR_RETURN(std::string body, ReadFile(req.body_file));
  std::string_view type = req.Header("content-type");
  if (AsciiLower(type).starts_with("application/json")) {
    VERSO_ASSIGN_OR_RETURN(Json o, ParseObject(body));
    VERSO_RETURN_IF_ERROR(ReadOptions(o, &r));
    return r;
  }
  VERSO_ASSIGN_OR_RETURN(std::vector<FormPart> parts, ParseMultipart(body, type));
  Json fields = Json::object();
  for (FormPart& p : parts) {
    if (p.name == "file") {
      r.document = std::move(p.data);
      if (r.file_name.empty()) r.file_name = p.filename;
    } else if (p.name == "target_langs") {
      for (std::string_view t : Split(p.data, ',')) {
        t = StripAsciiWhitespace(t);
        if (!t.empty()) r.target_langs.emplace_back(t);
      }
    } else if (p.name == "qe_threshold") {
      double v = 0;  // a decimal number as JSON writes it: no "nan", "inf" or "0x1p3"
      if (!ParseDecimal(StripAsciiWhitespace(p.data), &v)) {
        return BadRequest("qe_threshold: not a decimal number (0 to 101)");
      }
      r.qe_threshold = v;
    } else if (p.name == "revision") {
      const std::string_view v = StripAsciiWhitespace(p.data);
      if (v != "true" && v != "false") return BadRequest("revision: true or false");
      r.revision = v == "true";
    } else {
      fields[p.name] = p.data;
    }
  }
  if (r.document.empty()) return BadRequest("file: a multipart submission needs a \"file\" part");
  VERSO_RETURN_IF_ERROR(ReadOptions(fields, &r));
  return r;
}

absl::StatusOr<int64_t> Index(const Request& req) {
  int64_t index = 0;
  if (!ParseInt64(req.params.at("index"), &index) || index < 0) {
    return BadRequest("index: not a segment index");
  }
  return index;
}

std::string ContentType(std::string_view format) {
  if (format.starts_with("xliff")) return "application/xliff+xml";
  if (format == "po") return "text/x-gettext-translation";
  if (format == "json" || format == "segments") return "application/json";
  return "text/plain; charset=utf-8";
}

// What the job handlers use.
struct JobRoutes {
  jobs::JobService* jobs;
  storage::UserRepository* users;  // assignments; null: none kept (no database)
  live::Hub* live;                 // the workbench's live layer; null: none
};

// What a signed-in post-editor or reviewer may reach: a job without assignments is open to
// every user of the tenant (a small team needs no manager); once a manager assigns ranges of it,
// only the users assigned see the job and each edits only their ranges. Managers and API keys
// reach everything of their tenant. Keeps each job's assignments read for one request.
class Access {
 public:
  Access(const JobRoutes& c, const auth::Principal& who)
      : users_(c.users),
        user_(who.user_id),
        restricted_(c.users != nullptr && !who.user_id.empty() && who.role != "manager") {}

  bool restricted() const { return restricted_; }

  // Whether the user sees the job at all.
  absl::StatusOr<bool> SeesJob(const std::string& job) {
    if (!restricted_) return true;
    VERSO_ASSIGN_OR_RETURN(const std::vector<storage::AssignmentRecord>* list, Of(job));
    if (list->empty()) return true;
    for (const auto& a : *list) {
      if (a.user_id == user_) return true;
    }
    return false;
  }
  // NotFound (as for a job that does not exist) unless the user sees the job.
  absl::Status CheckJob(const std::string& job) {
    VERSO_ASSIGN_OR_RETURN(bool sees, SeesJob(job));
    return sees ? absl::OkStatus() : absl::NotFoundError(StrCat("job ", job, " not found"));
  }
  // Whether the user sees the segment (the job open to all, or a range of theirs holds it).
  absl::StatusOr<bool> SeesSegment(const std::string& job, std::string_view target, int64_t index) {
    if (!restricted_) return true;
    VERSO_ASSIGN_OR_RETURN(const std::vector<storage::AssignmentRecord>* list, Of(job));
    if (list->empty()) return true;
    for (const auto& a : *list) {
      if (a.user_id == user_ && a.target_lang == target && a.first <= index && index <= a.last) {
        return true;
      }
    }
    return false;
  }
  // PermissionDenied naming the segment unless the user may edit it (NotFound for a job they
  // do not see).
  absl::Status CheckSegment(const std::string& job, std::string_view target, int64_t index) {
    VERSO_RETURN_IF_ERROR(CheckJob(job));
    VERSO_ASSIGN_OR_RETURN(bool sees, SeesSegment(job, target, index));
    if (sees) return absl::OkStatus();
    return absl::PermissionDeniedError(
        StrCat("segment ", target, "/", index, " of job ", job, " is not assigned to you"));
  }

 private:
  absl::StatusOr<const std::vector<storage::AssignmentRecord>*> Of(const std::string& job) {
    auto it = cache_.find(job);
    if (it == cache_.end()) {
      VERSO_ASSIGN_OR_RETURN(std::vector<storage::AssignmentRecord> list,
                             users_->ListAssignments(job));
      it = cache_.emplace(job, std::move(list)).first;
    }
    return &it->second;
  }

  storage::UserRepository* users_;
  std::string user_;
  bool restricted_;
  std::map<std::string, std::vector<storage::AssignmentRecord>> cache_;
};

// Up to `want` items the caller sees, in the list's order after the cursor: batches of `want`
// are fetched (`fetch(n, last_fetched)`, the cursor's place when null) until enough are seen or
// the list ends.
template <typename T, typename Fetch, typename Sees>
absl::StatusOr<std::vector<T>> SeenPage(size_t want, Fetch fetch, Sees sees) {
  std::vector<T> out;
  std::optional<T> last;
  while (out.size() < want) {
    VERSO_ASSIGN_OR_RETURN(std::vector<T> batch,
                           fetch(static_cast<int>(want), last ? &*last : nullptr));
    const size_t fetched = batch.size();
    for (T& x : batch) {
      last = x;
      VERSO_ASSIGN_OR_RETURN(bool seen, sees(x));
      if (seen) out.push_back(std::move(x));
      if (out.size() == want) break;
    }
    if (fetched < want) break;
  }
  return out;
}

absl::StatusOr<Response> Submit(const JobRoutes& c, Request& req) {
  struct Cleanup {
    std::string path;
    ~Cleanup() { std::filesystem::remove(path); }
  } cleanup{req.body_file};
  VERSO_ASSIGN_OR_RETURN(jobs::SubmitRequest r, ParseSubmission(req));
  VERSO_ASSIGN_OR_RETURN(jobs::JobInfo info, c.jobs->Submit(r));
  Response resp = JsonResponse(202, JobJson(info));
  resp.headers.emplace_back("Location", StrCat("/v1/jobs/", info.job.id));
  if (info.replayed) resp.headers.emplace_back("Idempotent-Replayed", "true");
  return resp;
}

absl::StatusOr<Response> ListJobs(const JobRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Page page, ReadPage(req, 50));
  VERSO_ASSIGN_OR_RETURN(auto after, JobsCursor(page));
  // One more than asked tells whether a next page exists.
  Access access(c, req.principal);
  VERSO_ASSIGN_OR_RETURN(
      std::vector<jobs::JobInfo> list,
      SeenPage<jobs::JobInfo>(
          page.limit + 1,
          [&](int n, const jobs::JobInfo* last) {
            return last == nullptr
                       ? c.jobs->List(req.principal.tenant, n, after.first, after.second)
                       : c.jobs->List(req.principal.tenant, n, last->job.created_at, last->job.id);
          },
          [&](const jobs::JobInfo& j) { return access.SeesJob(j.job.id); }));
  Json next = nullptr;
  if (static_cast<int>(list.size()) > page.limit) {
    list.resize(page.limit);
    const storage::JobRecord& last = list.back().job;
    next = EncodeCursor(StrCat(absl::ToUnixMicros(last.created_at), "|", last.id));
  }
  Json out = Json::array();
  for (const auto& x : list) out.push_back(JobJson(x));
  return JsonResponse(200, Json{{"jobs", out}, {"next_cursor", next}});
}

absl::StatusOr<Response> GetJob(const JobRoutes& c, Request& req) {
  VERSO_RETURN_IF_ERROR(Access(c, req.principal).CheckJob(req.params.at("id")));
  VERSO_ASSIGN_OR_RETURN(jobs::JobInfo info,
                         c.jobs->Get(req.principal.tenant, req.params.at("id")));
  return JsonResponse(200, JobJson(info));
}

absl::StatusOr<Response> CancelJob(const JobRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(jobs::JobInfo info,
                         c.jobs->Cancel(req.principal.tenant, req.params.at("id")));
  return JsonResponse(200, JobJson(info));
}

Json AnalysisJson(const jobs::Analysis& x) {
  Json bands = Json::array();
  for (const auto& b : x.bands) {
    bands.push_back(Json{{"band", b.band},
                         {"segments", b.segments},
                         {"words", b.words},
                         {"characters", b.characters}});
  }
  return Json{{"target_lang", x.target_lang},
              {"bands", bands},
              {"total",
               {{"segments", x.total.segments},
                {"words", x.total.words},
                {"characters", x.total.characters}}}};
}

absl::StatusOr<Response> GetAnalysis(const JobRoutes& c, Request& req) {
  VERSO_RETURN_IF_ERROR(Access(c, req.principal).CheckJob(req.params.at("id")));
  VERSO_ASSIGN_OR_RETURN(std::vector<jobs::Analysis> analysis,
                         c.jobs->GetAnalysis(req.principal.tenant, req.params.at("id")));
  Json targets = Json::array();
  for (const jobs::Analysis& x : analysis) targets.push_back(AnalysisJson(x));
  return JsonResponse(
      200,
      Json{{"job_id", req.params.at("id")}, {"word_count", "GMX-V 2.0"}, {"targets", targets}});
}

absl::StatusOr<Response> Download(const JobRoutes& c, Request& req) {
  auto target = req.Query("target");
  if (!target) return BadRequest("target: required (?target=de)");
  VERSO_RETURN_IF_ERROR(Access(c, req.principal).CheckJob(req.params.at("id")));
  VERSO_ASSIGN_OR_RETURN(auto doc,
                         c.jobs->Download(req.principal.tenant, req.params.at("id"), *target));
  Response resp;
  resp.content_type = ContentType(doc.format);
  resp.body = std::move(doc.bytes);
  resp.headers.emplace_back("Content-Disposition", AttachmentDisposition(doc.file_name));
  return resp;
}

// A page of segments read as a page from storage: for everyone who sees every segment.
absl::StatusOr<Response> SegmentsPage(const JobRoutes& c, Request& req, const Page& page) {
  // The cursor is the last segment's "TARGET|SORTABLE_INDEX", as PageOf writes it.
  std::string after_target;
  int64_t after_index = -1;
  if (!page.after.empty()) {
    const size_t bar = page.after.find('|');
    if (bar == std::string::npos || !ParseInt64(page.after.substr(bar + 1), &after_index)) {
      return BadCursor();
    }
    after_target = page.after.substr(0, bar);
  }
  VERSO_ASSIGN_OR_RETURN(
      std::vector<storage::JobSegmentRecord> segs,
      c.jobs->SegmentsPage(req.principal.tenant, req.params.at("id"),
                           req.Query("target").value_or(""), req.Query("state").value_or(""),
                           after_target, after_index, page.limit + 1));
  Json next = nullptr;
  if (static_cast<int>(segs.size()) > page.limit) {
    segs.resize(page.limit);
    next = EncodeCursor(StrCat(segs.back().target_lang, "|", SortableNumber(segs.back().index)));
  }
  const bool compact = req.Query("view").value_or("") == "compact";
  Json out = Json::array();
  for (const auto& x : segs) out.push_back(SegmentJson(x, compact));
  return JsonResponse(200, Json{{"segments", out}, {"next_cursor", next}});
}

absl::StatusOr<Response> ListSegments(const JobRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Page page, ReadPage(req, 1000, 10000));
  if (auto view = req.Query("view"); view && *view != "compact" && *view != "full") {
    return BadRequest(StrCat("view: \"", Abbreviate(*view, 20), "\" is not full or compact"));
  }
  Access access(c, req.principal);
  const std::string& job = req.params.at("id");
  VERSO_RETURN_IF_ERROR(access.CheckJob(job));
  if (!access.restricted()) return SegmentsPage(c, req, page);
  VERSO_ASSIGN_OR_RETURN(
      std::vector<storage::JobSegmentRecord> segs,
      c.jobs->Segments(req.principal.tenant, job, req.Query("target").value_or(""),
                       req.Query("state").value_or("")));
  if (access.restricted()) {  // only the user's ranges
    std::vector<storage::JobSegmentRecord> theirs;
    for (auto& x : segs) {
      VERSO_ASSIGN_OR_RETURN(bool seen, access.SeesSegment(job, x.target_lang, x.index));
      if (seen) theirs.push_back(std::move(x));
    }
    segs = std::move(theirs);
  }
  Json next;
  Json out = Json::array();
  auto key = [](const storage::JobSegmentRecord& r) {
    return StrCat(r.target_lang, "|", SortableNumber(r.index));
  };
  const bool compact = req.Query("view").value_or("") == "compact";
  for (const auto* x : PageOf(segs, page, key, &next)) {
    out.push_back(SegmentJson(*x, compact));
  }
  return JsonResponse(200, Json{{"segments", out}, {"next_cursor", next}});
}

absl::StatusOr<Response> GetSegment(const JobRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(int64_t index, Index(req));
  VERSO_RETURN_IF_ERROR(
      Access(c, req.principal).CheckSegment(req.params.at("id"), req.params.at("target"), index));
  VERSO_ASSIGN_OR_RETURN(auto d, c.jobs->Segment(req.principal.tenant, req.params.at("id"),
                                                 req.params.at("target"), index));
  Json out = SegmentJson(d.segment);
  Json matches = Json::array();
  for (const auto& [score, st] : d.matches) {
    matches.push_back(Json{{"score", score}, {"source", st.first}, {"target", st.second}});
  }
  out["tm_matches"] = matches;
  return JsonResponse(200, out);
}

// An edit's "edit_id" and "base_version" (jobs::Edit), both optional.
void ReadEdit(const Json& body, Fields& f, jobs::Edit* edit) {
  f.String("edit_id", &edit->id);
  int64_t base = 0;
  if (f.Int("base_version", &base) && body.contains("base_version")) edit->base_version = base;
}

// 409 "locked" when another editor holds the segment in the workbench (Hub::Holder).
std::optional<Response> Locked(const JobRoutes& c, const Request& req, int64_t index) {
  if (c.live == nullptr) return std::nullopt;
  const std::string& target = req.params.at("target");
  auto holder = c.live->Holder(req.params.at("id"), target, index);
  if (!holder.has_value() || holder->id == req.principal.id()) return std::nullopt;
  return ErrorResponse(
      409, "locked",
      StrCat("segment ", Abbreviate(target, 20), "/", index, " is being edited by ", holder->name,
             "; it is free again when they leave it"));
}

// A refused edit: a conflict carries the segment as it is now beside the message (the editor's
// text is theirs: nothing was written), QA errors their findings.
Response EditError(const JobRoutes& c, const Request& req, int64_t index,
                   const absl::Status& status) {
  if (!jobs::IsEditConflict(status)) return ConfirmError(status);
  Json body = {
      {"error", {{"code", "edit_conflict"}, {"message", status.message()}, {"request_id", ""}}}};
  auto now =
      c.jobs->Segment(req.principal.tenant, req.params.at("id"), req.params.at("target"), index);
  if (now.ok()) body["error"]["current"] = SegmentJson(now->segment);
  return JsonResponse(409, body);
}

// Everyone on the job's WebSocket hears of the segment (and, after a confirm, the progress).
void Announce(const JobRoutes& c, const Request& req, const storage::JobSegmentRecord& s,
              bool progress) {
  const std::string& job = req.params.at("id");
  // Nobody on the job: no message, and no count of its segments (a confirm by an API client).
  if (c.live == nullptr || !c.live->Watched(job)) return;
  c.live->Publish(job, DumpJson(Json{{"type", "segment"}, {"segment", SegmentJson(s)}}));
  if (!progress) return;
  auto info = c.jobs->Get(req.principal.tenant, job);
  if (!info.ok()) return;
  Json targets = Json::object();
  for (const auto& [lang, n] : info->by_target) targets[lang] = CountsJson(n);
  c.live->Publish(job, DumpJson(Json{{"type", "progress"},
                                     {"status", storage::EnumName(info->job.status)},
                                     {"counts", CountsJson(info->counts)},
                                     {"targets", targets}}));
}

absl::StatusOr<Response> SaveDraft(const JobRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(int64_t index, Index(req));
  VERSO_RETURN_IF_ERROR(
      Access(c, req.principal).CheckSegment(req.params.at("id"), req.params.at("target"), index));
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  std::string text;
  f.String("target", &text, true);
  jobs::Edit edit;
  ReadEdit(body, f, &edit);
  VERSO_RETURN_IF_ERROR(f.Finish());
  if (auto locked = Locked(c, req, index)) return *locked;
  auto seg = c.jobs->SaveDraft(req.principal.tenant, req.params.at("id"), req.params.at("target"),
                               index, text, req.principal.id(), edit);
  if (!seg.ok()) return EditError(c, req, index, seg.status());
  Announce(c, req, *seg, false);
  return JsonResponse(200, SegmentJson(*seg));
}

absl::StatusOr<Response> Confirm(const JobRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(int64_t index, Index(req));
  VERSO_RETURN_IF_ERROR(
      Access(c, req.principal).CheckSegment(req.params.at("id"), req.params.at("target"), index));
  std::optional<std::string> text;
  bool override_qa = false;
  jobs::Edit edit;
  if (!req.body.empty()) {
    VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
    Fields f(body);
    std::string t;
    if (f.String("target", &t) && body.contains("target")) text = t;
    f.Bool("override_qa", &override_qa);
    ReadEdit(body, f, &edit);
    VERSO_RETURN_IF_ERROR(f.Finish());
  }
  if (auto locked = Locked(c, req, index)) return *locked;
  auto seg = c.jobs->Confirm(req.principal.tenant, req.params.at("id"), req.params.at("target"),
                             index, text, req.principal.id(), override_qa, edit);
  if (!seg.ok()) return EditError(c, req, index, seg.status());
  Announce(c, req, *seg, true);
  return JsonResponse(200, SegmentJson(*seg));
}

// POST .../approve and .../reject: a reviewer's verdict on a translated segment.
absl::StatusOr<Response> Revise(const JobRoutes& c, Request& req, bool approve) {
  VERSO_ASSIGN_OR_RETURN(int64_t index, Index(req));
  VERSO_RETURN_IF_ERROR(
      Access(c, req.principal).CheckSegment(req.params.at("id"), req.params.at("target"), index));
  std::optional<std::string> text;
  std::string comment;
  bool override_qa = false;
  jobs::Edit edit;
  if (!req.body.empty() || !approve) {
    VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
    Fields f(body);
    if (approve) {
      std::string t;
      if (f.String("target", &t) && body.contains("target")) text = t;
      f.Bool("override_qa", &override_qa);
    } else {
      f.String("comment", &comment, true);
    }
    ReadEdit(body, f, &edit);
    VERSO_RETURN_IF_ERROR(f.Finish());
  }
  if (auto locked = Locked(c, req, index)) return *locked;
  const std::string& job = req.params.at("id");
  const std::string& target = req.params.at("target");
  auto seg = approve ? c.jobs->Approve(req.principal.tenant, job, target, index, text,
                                       req.principal.id(), override_qa, edit)
                     : c.jobs->Reject(req.principal.tenant, job, target, index, comment,
                                      req.principal.id(), edit);
  if (!seg.ok()) return EditError(c, req, index, seg.status());
  Announce(c, req, *seg, true);
  return JsonResponse(200, SegmentJson(*seg));
}

absl::StatusOr<Response> Approve(const JobRoutes& c, Request& req) { return Revise(c, req, true); }
absl::StatusOr<Response> Reject(const JobRoutes& c, Request& req) { return Revise(c, req, false); }

// POST .../check: the job's QA checks and glossary on a text, nothing written (the workbench
// asks as the editor types).
absl::StatusOr<Response> CheckSegment(const JobRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(int64_t index, Index(req));
  VERSO_RETURN_IF_ERROR(
      Access(c, req.principal).CheckSegment(req.params.at("id"), req.params.at("target"), index));
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  std::string text;
  f.String("target", &text, true);
  VERSO_RETURN_IF_ERROR(f.Finish());
  VERSO_ASSIGN_OR_RETURN(std::string review,
                         c.jobs->Check(req.principal.tenant, req.params.at("id"),
                                       req.params.at("target"), index, text));
  Response r;
  r.body = std::move(review);
  return r;
}

// The name the others on a job see: a user's name (or email), else the key's id.
std::string EditorName(const JobRoutes& c, const auth::Principal& who) {
  if (!who.user_id.empty() && c.users != nullptr) {
    auto user = c.users->FindUser(who.user_id);
    if (user.ok()) return user->name.empty() ? user->email : user->name;
  }
  return who.user_id.empty() ? StrCat("API key ", who.key_id) : who.user_id;
}

// GET /v1/jobs/{id}/live: the job's WebSocket (docs/workbench.md); the server takes the
// connection over once this accepts it.
absl::StatusOr<Response> OpenLive(const JobRoutes& c, Request& req) {
  const std::string& job = req.params.at("id");
  VERSO_RETURN_IF_ERROR(Access(c, req.principal).CheckJob(job));
  VERSO_RETURN_IF_ERROR(c.jobs->CheckOwned(req.principal.tenant, job));
  if (c.live == nullptr) return absl::UnimplementedError("this server has no live layer");
  if (!IsWebSocketUpgrade(req)) {
    Response r = ErrorResponse(426, "upgrade_required",
                               "this is a WebSocket: open it with Upgrade: websocket");
    r.headers.emplace_back("Upgrade", "websocket");
    return r;
  }
  auto upgrade = std::make_shared<Response::Upgrade>();
  upgrade->job_id = job;
  upgrade->editor_id = req.principal.id();
  upgrade->editor_name = EditorName(c, req.principal);
  Response r;
  r.upgrade = std::move(upgrade);
  return r;
}

absl::StatusOr<Response> PostEditQueue(const JobRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Page page, ReadPage(req, 100));
  VERSO_ASSIGN_OR_RETURN(storage::JobSegmentRecord after, AwaitingCursor(page));
  Access access(c, req.principal);
  VERSO_ASSIGN_OR_RETURN(std::vector<storage::JobSegmentRecord> segs,
                         SeenPage<storage::JobSegmentRecord>(
                             page.limit + 1,
                             [&](int n, const storage::JobSegmentRecord* last) {
                               if (last == nullptr) last = page.after.empty() ? nullptr : &after;
                               return c.jobs->Awaiting(req.principal.tenant, n, last);
                             },
                             [&](const storage::JobSegmentRecord& x) {
                               return access.SeesSegment(x.job_id, x.target_lang, x.index);
                             }));
  Json next = nullptr;
  if (static_cast<int>(segs.size()) > page.limit) {
    segs.resize(page.limit);
    const storage::JobSegmentRecord& last = segs.back();
    next = EncodeCursor(StrCat(absl::ToUnixMicros(last.updated_at), "|", last.job_id, "|",
                               last.target_lang, "|", last.index));
  }
  Json out = Json::array();
  for (const auto& x : segs) {
    Json o = SegmentJson(x);
    o["job_id"] = x.job_id;
    out.push_back(std::move(o));
  }
  return JsonResponse(
      200, Json{{"segments", out}, {"next_cursor", next}, {"expedited", c.jobs->Expedited()}});
}

Json AssignmentsJson(const std::vector<storage::AssignmentRecord>& list) {
  Json out = Json::array();
  for (const auto& a : list) {
    out.push_back(Json{
        {"user_id", a.user_id}, {"target_lang", a.target_lang}, {"from", a.first}, {"to", a.last}});
  }
  return Json{{"assignments", out}};
}

// One entry of PUT /v1/jobs/{id}/assignments: a user of the tenant, a target of the job, a range
// of its segments (default: all of them).
absl::StatusOr<storage::AssignmentRecord> ParseAssignment(const JobRoutes& c, const Json& item,
                                                          const std::string& path,
                                                          const jobs::JobInfo& info,
                                                          std::string_view tenant) {
  if (!item.is_object()) return BadRequest(StrCat(path, ": not an object"));
  Fields f(item, path + ".");
  storage::AssignmentRecord a;
  a.job_id = info.job.id;
  f.String("user_id", &a.user_id, true);
  f.String("target_lang", &a.target_lang, true);
  a.last = -1;
  f.Int("from", &a.first);
  f.Int("to", &a.last);
  VERSO_RETURN_IF_ERROR(f.Finish());
  auto target = info.by_target.find(a.target_lang);
  if (target == info.by_target.end()) {
    return absl::InvalidArgumentError(StrCat(path, ".target_lang: the job has no target ",
                                             Abbreviate(a.target_lang, 20), " (",
                                             Join(info.job.target_langs, ", "), ")"));
  }
  const int64_t segments = target->second.segments;
  if (a.last < 0) a.last = segments - 1;
  if (a.first < 0 || a.first > a.last || a.last >= segments) {
    return absl::InvalidArgumentError(StrCat(path, ": from ", a.first, " to ", a.last,
                                             " is not a range of the target's segments (0 to ",
                                             segments - 1, ")"));
  }
  absl::StatusOr<storage::UserRecord> user = c.users->FindUser(a.user_id);
  if (!user.ok() && !absl::IsNotFound(user.status())) return user.status();
  if (!user.ok() || user->tenant != tenant || user->disabled()) {
    return absl::InvalidArgumentError(
        StrCat(path, ".user_id: no active user ", Abbreviate(a.user_id, 40), " in this tenant"));
  }
  return a;
}

absl::StatusOr<Response> PutAssignments(const JobRoutes& c, Request& req) {
  if (c.users == nullptr) return absl::UnimplementedError("this server keeps no assignments");
  VERSO_ASSIGN_OR_RETURN(jobs::JobInfo info,
                         c.jobs->Get(req.principal.tenant, req.params.at("id")));
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  const Json* list = f.Array("assignments", true);
  VERSO_RETURN_IF_ERROR(f.Finish());
  if (list->size() > 10000) {
    return absl::InvalidArgumentError("assignments: more than 10,000 ranges");
  }
  std::vector<storage::AssignmentRecord> assignments;
  for (size_t i = 0; i < list->size(); ++i) {
    VERSO_ASSIGN_OR_RETURN(
        storage::AssignmentRecord a,
        ParseAssignment(c, (*list)[i], StrCat("assignments[", i, "]"), info, req.principal.tenant));
    assignments.push_back(std::move(a));
  }
  VERSO_RETURN_IF_ERROR(c.users->SetAssignments(info.job.id, assignments));
  VERSO_ASSIGN_OR_RETURN(auto stored, c.users->ListAssignments(info.job.id));
  return JsonResponse(200, AssignmentsJson(stored));
}

absl::StatusOr<Response> GetAssignments(const JobRoutes& c, Request& req) {
  if (c.users == nullptr) return absl::UnimplementedError("this server keeps no assignments");
  const std::string& job = req.params.at("id");
  VERSO_RETURN_IF_ERROR(Access(c, req.principal).CheckJob(job));
  VERSO_RETURN_IF_ERROR(c.jobs->Get(req.principal.tenant, job).status());
  VERSO_ASSIGN_OR_RETURN(auto stored, c.users->ListAssignments(job));
  return JsonResponse(200, AssignmentsJson(stored));
}

absl::StatusOr<Response> Deliveries(const JobRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Page page, ReadPage(req, 100));
  VERSO_ASSIGN_OR_RETURN(std::vector<storage::WebhookDeliveryRecord> d,
                         c.jobs->Deliveries(req.principal.tenant, req.params.at("id")));
  Json next;
  Json out = Json::array();
  // Deliveries are only ever appended: a position stays the same.
  auto position = [first = d.data()](const storage::WebhookDeliveryRecord& r) {
    return SortableNumber(&r - first);
  };
  for (const auto* x : PageOf(d, page, position, &next)) {
    out.push_back(Json{{"event", x->event},
                       {"attempt", x->attempt},
                       {"http_status", x->http_status},
                       {"error", x->error},
                       {"at", Rfc3339(x->at)}});
  }
  return JsonResponse(200, Json{{"deliveries", out}, {"next_cursor", next}});
}

absl::StatusOr<Response> WebhookSecret(const JobRoutes& c, Request& req) {
  return JsonResponse(200, Json{{"secret", c.jobs->WebhookSecret(req.principal.tenant)},
                                {"signature_header", "X-Verso-Signature"},
                                {"algorithm", "HMAC-SHA256 over the body, hex"}});
}

}  // namespace

void AddJobRoutes(Router* router, const Services& s) {
  if (s.jobs == nullptr) return;
  auto c = std::make_shared<const JobRoutes>(
      JobRoutes{s.jobs, s.db == nullptr ? nullptr : &s.db->users(), s.live});
  const std::vector<std::string> json = {"application/json"};
  const std::vector<std::string> submissions = {"multipart/form-data", "application/json"};
  const std::vector<std::string> page = {"limit", "cursor"};
  const std::string scope = "translate";  // submit and cancel: API keys and managers
  const std::string edit = std::string(auth::kScopeJobsEdit);      // also post-editors, reviewers
  const std::string review = std::string(auth::kScopeJobsReview);  // reviewers, managers
  using B = Route::Body;
  using E = Route::Exec;
  // clang-format off
  const std::vector<Route> routes = {
    {.method = "POST", .pattern = "/v1/jobs", .scope = scope, .body = B::kUpload, .content_types = submissions, .exec = E::kLong, .handler = Bind(c, Submit), .max_body = kMaxDocumentBytes},
    {.method = "GET",  .pattern = "/v1/jobs", .scope = edit, .handler = Bind(c, ListJobs), .query = page},
    {.method = "GET",  .pattern = "/v1/jobs/{id}", .scope = edit, .handler = Bind(c, GetJob)},
    {.method = "POST", .pattern = "/v1/jobs/{id}/cancel", .scope = scope, .handler = Bind(c, CancelJob)},
    {.method = "GET",  .pattern = "/v1/jobs/{id}/analysis", .scope = edit, .handler = Bind(c, GetAnalysis)},
    {.method = "GET",  .pattern = "/v1/jobs/{id}/download", .scope = edit, .exec = E::kLong, .handler = Bind(c, Download), .query = {"target"}},
    {.method = "GET",  .pattern = "/v1/jobs/{id}/segments", .scope = edit, .handler = Bind(c, ListSegments), .query = {"target", "state", "view", "limit", "cursor"}},
    {.method = "GET",  .pattern = "/v1/jobs/{id}/segments/{target}/{index}", .scope = edit, .handler = Bind(c, GetSegment)},
    {.method = "PUT",  .pattern = "/v1/jobs/{id}/segments/{target}/{index}/draft", .scope = edit, .body = B::kJson, .content_types = json, .handler = Bind(c, SaveDraft), .audited = false},
    {.method = "POST", .pattern = "/v1/jobs/{id}/segments/{target}/{index}/confirm", .scope = edit, .body = B::kJson, .content_types = json, .handler = Bind(c, Confirm)},
    {.method = "POST", .pattern = "/v1/jobs/{id}/segments/{target}/{index}/approve", .scope = review, .body = B::kJson, .content_types = json, .handler = Bind(c, Approve)},
    {.method = "POST", .pattern = "/v1/jobs/{id}/segments/{target}/{index}/reject", .scope = review, .body = B::kJson, .content_types = json, .handler = Bind(c, Reject)},
    {.method = "POST", .pattern = "/v1/jobs/{id}/segments/{target}/{index}/check", .scope = edit, .body = B::kJson, .content_types = json, .handler = Bind(c, CheckSegment), .audited = false},
    {.method = "PUT",  .pattern = "/v1/jobs/{id}/assignments", .scope = scope, .body = B::kJson, .content_types = json, .handler = Bind(c, PutAssignments)},
    {.method = "GET",  .pattern = "/v1/jobs/{id}/assignments", .scope = edit, .handler = Bind(c, GetAssignments)},
    {.method = "GET",  .pattern = "/v1/jobs/{id}/live", .scope = edit, .handler = Bind(c, OpenLive)},
    {.method = "GET",  .pattern = "/v1/post-edits", .scope = edit, .handler = Bind(c, PostEditQueue), .query = page},
    {.method = "GET",  .pattern = "/v1/jobs/{id}/webhooks", .scope = scope, .handler = Bind(c, Deliveries), .query = page},
    {.method = "GET",  .pattern = "/v1/webhooks/secret", .scope = "admin", .exec = E::kInline, .handler = Bind(c, WebhookSecret)},
  };
  // clang-format on
  for (const Route& r : routes) router->Add(r);
}

}  // namespace verso::api
