// Glossaries, quality estimation and QA checks: /v1/glossaries..., /v1/qe, /v1/qa/check, and the
// per-segment quality annotations of /v1/translate.
#include <cmath>
#include <filesystem>
#include <set>

#include "absl/strings/str_format.h"
#include "api/http.h"
#include "cache/cache.h"
#include "common/clock.h"
#include "common/file.h"
#include "common/json.h"
#include "common/names.h"
#include "common/status.h"
#include "common/strings.h"
#include "formats/formats.h"
#include "mt/translate.h"
#include "qa/qa.h"
#include "qe/qe.h"
#include "resilience/resilience.h"
#include "storage/storage.h"
#include "terms/terms.h"
#include "text/text.h"
#include "tm/tm.h"

namespace verso::api {
namespace {

constexpr size_t kMaxSegments = 1000;
constexpr int64_t kMaxGlossaryUpload = 64 << 20;

Json TermJson(const terms::Term& t) {
  return Json{{"lang", t.lang},
              {"text", t.text},
              {"part_of_speech", t.part_of_speech},
              {"status", t.status},
              {"case_sensitive", t.case_sensitive},
              {"note", t.note}};
}

Json ConceptJson(const terms::Concept& c) {
  Json terms = Json::array();
  for (const auto& t : c.terms) terms.push_back(TermJson(t));
  return Json{{"id", c.id},
              {"subject", c.subject},
              {"definition", c.definition},
              {"note", c.note},
              {"terms", terms}};
}

Json GlossaryJson(const terms::GlossaryInfo& g) {
  return Json{{"name", g.name},
              {"description", g.description},
              {"concepts", g.concepts},
              {"terms", g.terms},
              {"created_at", Rfc3339(g.created_at)},
              {"updated_at", Rfc3339(g.updated_at)}};
}

}  // namespace

Json ReviewJson(const qe::Review& r, double threshold) { return qe::ReviewToJson(r, threshold); }

namespace {

absl::StatusOr<terms::Concept> ParseConcept(const Json& j, const std::string& path) {
  if (!j.is_object()) return BadRequest(StrCat(path, ": not an object"));
  Fields f(j, path);
  terms::Concept c;
  f.String("id", &c.id);
  f.String("subject", &c.subject);
  f.String("definition", &c.definition);
  f.String("note", &c.note);
  const Json* terms = f.Array("terms", true);
  VERSO_RETURN_IF_ERROR(f.Finish());
  for (size_t i = 0; i < terms->size(); ++i) {
    const Json& tj = (*terms)[i];
    const std::string tp = StrCat(path, "terms[", i, "].");
    if (!tj.is_object()) return BadRequest(StrCat(tp.substr(0, tp.size() - 1), ": not an object"));
    Fields tf(tj, tp);
    terms::Term t;
    tf.String("lang", &t.lang, true);
    tf.String("text", &t.text, true);
    tf.String("part_of_speech", &t.part_of_speech);
    tf.String("status", &t.status);
    tf.Bool("case_sensitive", &t.case_sensitive);
    tf.String("note", &t.note);
    VERSO_RETURN_IF_ERROR(tf.Finish());
    c.terms.push_back(std::move(t));
  }
  return c;
}

}  // namespace

absl::StatusOr<qa::Options> ParseQaOptions(const Services& s, const std::string& tenant,
                                           const std::string& qa_profile, const Json* disabled,
                                           int64_t max_length) {
  qa::Options o;
  if (!qa_profile.empty()) {
    auto p = s.db->qa_profiles().GetQaProfile(tenant, qa_profile);
    if (absl::IsNotFound(p.status())) {
      return absl::NotFoundError(StrCat("qa_profile: ", p.status().message()));
    }
    if (!p.ok()) return p.status();
    o.disabled.insert(p->disabled_checks.begin(), p->disabled_checks.end());
    o.max_length = p->max_length;
  }
  if (disabled != nullptr) {
    std::vector<std::string> names;
    for (size_t i = 0; i < disabled->size(); ++i) {
      if (!(*disabled)[i].is_string()) {
        return BadRequest(StrCat("disabled_checks[", i, "]: not a string"));
      }
      names.push_back((*disabled)[i].get<std::string>());
    }
    VERSO_RETURN_IF_ERROR(qa::ValidateCheckNames(names, "disabled_checks"));
    o.disabled.insert(names.begin(), names.end());
  }
  if (max_length < 0) return absl::InvalidArgumentError("max_length: must not be negative");
  if (max_length > 0) o.max_length = max_length;
  return o;
}

struct ReviewCache::Impl {
  Impl(size_t max_bytes, const Clock* clock)
      : reviews(max_bytes, absl::Hours(24), clock,
                [](const ReviewText& t) { return sizeof(std::string) + t->capacity(); }) {}
  cache::LruCache<ReviewText> reviews;
};

ReviewCache::ReviewCache(size_t max_bytes, const Clock* clock)
    : impl_(std::make_unique<Impl>(max_bytes, clock)) {}
ReviewCache::~ReviewCache() = default;

namespace {

// The review cache's key of a segment: everything its review depends on (see ReviewCache).
std::string ReviewKey(const QualityRequest& q, int64_t glossary_version, int level,
                      const SegmentToAnnotate& seg) {
  std::string key = StrCat(q.tenant, "\x1f", q.source_lang, "\x1f", q.target_lang, "\x1f",
                           q.glossary, "\x1f", glossary_version, "\x1f", q.qa.max_length);
  for (const std::string& d : q.qa.disabled) StrAppend(&key, "\x1e", d);
  StrAppend(&key, "\x1f", absl::StrFormat("%.17g", q.threshold), q.threshold_given ? "g" : "d",
            q.estimate ? "e" : "-", q.plain ? "p" : "m", level, "\x1f", seg.origin, "\x1f",
            seg.engine, "\x1f",
            seg.engine_logprob ? absl::StrFormat("%.17g", *seg.engine_logprob) : "-");
  for (const std::string& w : seg.unknown_words) StrAppend(&key, "\x1e", w);
  StrAppend(&key, "\x1f", seg.source.size(), "\x1f", seg.source, seg.translation);
  return key;
}

// A review's object in JSON text without its braces: its members, keys in order.
ReviewText MembersText(const Json& review) {
  std::string text = DumpJson(review);
  text.pop_back();
  text.erase(0, 1);
  return std::make_shared<const std::string>(std::move(text));
}

}  // namespace

absl::StatusOr<std::vector<Json>> AnnotateSegments(const Services& s, const QualityRequest& q,
                                                   const std::vector<SegmentToAnnotate>& segments) {
  qe::Reviewer reviewer(s.qe, s.glossaries, s.tm, s.mt_router, s.degradation);
  VERSO_ASSIGN_OR_RETURN(std::vector<qe::Review> reviews, reviewer.Run(q, segments));
  std::vector<Json> out;
  out.reserve(reviews.size());
  for (const qe::Review& r : reviews) out.push_back(ReviewJson(r, q.threshold));
  return out;
}

absl::StatusOr<std::vector<ReviewText>> ReviewMembers(
    const Services& s, const QualityRequest& q, const std::vector<SegmentToAnnotate>& segments,
    ReviewCache* cache, bool nonblocking) {
  auto level = [&] { return s.degradation != nullptr ? s.degradation->Current().number : 0; };
  if (cache != nullptr && (!q.tm_store.empty() || q.round_trip)) cache = nullptr;
  if (cache == nullptr && nonblocking) return WouldBlock("reviewing the translations");
  std::vector<ReviewText> out(segments.size());
  std::vector<std::string> keys;
  std::vector<SegmentToAnnotate> missing;
  std::vector<size_t> missing_at;
  const int level_before = level();
  if (cache != nullptr) {
    int64_t version = 0;
    if (!q.glossary.empty()) {
      if (s.glossaries == nullptr) return absl::FailedPreconditionError("glossaries are off");
      VERSO_ASSIGN_OR_RETURN(version, s.glossaries->Version(q.tenant, q.glossary, q.source_lang,
                                                            q.target_lang, nonblocking));
    }
    for (size_t i = 0; i < segments.size(); ++i) {
      keys.push_back(ReviewKey(q, version, level_before, segments[i]));
      if (auto hit = cache->impl_->reviews.Get(keys.back(), !nonblocking)) {
        out[i] = std::move(*hit);
      } else if (nonblocking) {
        return WouldBlock("reviewing the translations");
      } else {
        missing.push_back(segments[i]);
        missing_at.push_back(i);
      }
    }
    if (missing.empty()) return out;
  }
  qe::Reviewer reviewer(s.qe, s.glossaries, s.tm, s.mt_router, s.degradation);
  VERSO_ASSIGN_OR_RETURN(std::vector<qe::Review> reviews,
                         reviewer.Run(q, cache != nullptr ? missing : segments));
  // Kept unless the level changed while they were made (they may be of either level).
  const bool keep = cache != nullptr && level() == level_before;
  for (size_t k = 0; k < reviews.size(); ++k) {
    const size_t i = cache != nullptr ? missing_at[k] : k;
    out[i] = MembersText(ReviewJson(reviews[k], q.threshold));
    if (keep && !(reviews[k].qe.has_value() && reviews[k].qe->provisional)) {
      cache->impl_->reviews.Put(keys[i], out[i]);
    }
  }
  return out;
}

absl::StatusOr<std::vector<mt::GlossaryTerm>> GlossaryPromptTerms(
    const Services& s, const std::string& tenant, const std::string& glossary,
    const std::string& source_lang, const std::string& target_lang,
    const std::vector<std::string>& texts, bool nonblocking) {
  std::vector<mt::GlossaryTerm> out;
  if (s.glossaries == nullptr) return absl::FailedPreconditionError("glossaries are off");
  std::set<std::pair<std::string, std::string>> seen;
  for (const std::string& t : texts) {
    VERSO_ASSIGN_OR_RETURN(
        auto hits, s.glossaries->Find(tenant, glossary, source_lang, target_lang, t, nonblocking));
    for (const auto& h : hits) {
      if (h.targets.empty()) continue;
      if (seen.insert({h.term, h.targets[0].text}).second) {
        out.push_back({h.term, h.targets[0].text});
      }
    }
  }
  return out;
}

namespace {

Response NoContent() { return Response{204, "application/json", "", "", false, {}}; }

// ---- Glossaries ----

absl::StatusOr<Response> ListGlossaries(const Services& s, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Page page, ReadPage(req, 100));
  VERSO_ASSIGN_OR_RETURN(std::vector<terms::GlossaryInfo> list,
                         s.glossaries->List(req.principal.tenant));
  Json next;
  Json out = Json::array();
  for (const auto* x : PageOf(
           list, page, [](const terms::GlossaryInfo& i) { return i.name; }, &next)) {
    out.push_back(GlossaryJson(*x));
  }
  return JsonResponse(200, Json{{"glossaries", out}, {"next_cursor", next}});
}

absl::StatusOr<Response> CreateGlossary(const Services& s, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  std::string name, description;
  f.String("name", &name, true);
  f.String("description", &description);
  VERSO_RETURN_IF_ERROR(f.Finish());
  VERSO_RETURN_IF_ERROR(s.glossaries->Create(req.principal.tenant, name, description));
  VERSO_ASSIGN_OR_RETURN(terms::GlossaryInfo info, s.glossaries->Get(req.principal.tenant, name));
  return JsonResponse(201, GlossaryJson(info));
}

absl::StatusOr<Response> GetGlossary(const Services& s, Request& req) {
  VERSO_ASSIGN_OR_RETURN(terms::GlossaryInfo info,
                         s.glossaries->Get(req.principal.tenant, req.params.at("name")));
  return JsonResponse(200, GlossaryJson(info));
}

absl::StatusOr<Response> DeleteGlossary(const Services& s, Request& req) {
  VERSO_RETURN_IF_ERROR(s.glossaries->Delete(req.principal.tenant, req.params.at("name")));
  return NoContent();
}

absl::StatusOr<Response> ListConcepts(const Services& s, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Page page, ReadPage(req, 100));
  VERSO_ASSIGN_OR_RETURN(std::vector<terms::Concept> all,
                         s.glossaries->Concepts(req.principal.tenant, req.params.at("name")));
  Json next;
  Json out = Json::array();
  for (const auto* c : PageOf(
           all, page, [](const formats::Concept& x) { return x.id; }, &next)) {
    out.push_back(ConceptJson(*c));
  }
  return JsonResponse(200, Json{{"concepts", out}, {"next_cursor", next}});
}

absl::StatusOr<Response> PutConcepts(const Services& s, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  const Json* concepts = f.Array("concepts", true);
  bool replace = false;
  f.Bool("replace", &replace);
  VERSO_RETURN_IF_ERROR(f.Finish());
  std::vector<terms::Concept> parsed;
  for (size_t i = 0; i < concepts->size(); ++i) {
    VERSO_ASSIGN_OR_RETURN(terms::Concept c,
                           ParseConcept((*concepts)[i], StrCat("concepts[", i, "].")));
    parsed.push_back(std::move(c));
  }
  VERSO_ASSIGN_OR_RETURN(std::vector<terms::Concept> put,
                         s.glossaries->PutConcepts(req.principal.tenant, req.params.at("name"),
                                                   std::move(parsed), replace));
  Json out = Json::array();
  for (const auto& c : put) out.push_back(ConceptJson(c));
  return JsonResponse(200, Json{{"concepts", out}});
}

absl::StatusOr<Response> GetConcept(const Services& s, Request& req) {
  VERSO_ASSIGN_OR_RETURN(
      terms::Concept c,
      s.glossaries->GetConcept(req.principal.tenant, req.params.at("name"), req.params.at("id")));
  return JsonResponse(200, ConceptJson(c));
}

absl::StatusOr<Response> PutConcept(const Services& s, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  VERSO_ASSIGN_OR_RETURN(terms::Concept c, ParseConcept(body, ""));
  const std::string& id = req.params.at("id");
  if (!c.id.empty() && c.id != id) {
    return absl::InvalidArgumentError(
        StrCat("id: \"", c.id, "\" differs from the path's \"", id, "\""));
  }
  c.id = id;
  VERSO_ASSIGN_OR_RETURN(
      std::vector<terms::Concept> put,
      s.glossaries->PutConcepts(req.principal.tenant, req.params.at("name"), {c}, false));
  return JsonResponse(200, ConceptJson(put[0]));
}

absl::StatusOr<Response> DeleteConcept(const Services& s, Request& req) {
  VERSO_RETURN_IF_ERROR(s.glossaries->DeleteConcept(req.principal.tenant, req.params.at("name"),
                                                    req.params.at("id")));
  return NoContent();
}

// ?format of a glossary upload (or what its Content-Type says) and the file's concepts.
absl::StatusOr<std::vector<terms::Concept>> ReadGlossaryUpload(const Request& req) {
  std::string format = req.Query("format").value_or("");
  std::string_view type = req.Header("content-type");
  type = type.substr(0, type.find(';'));
  if (format.empty()) {
    if (type == "text/csv") {
      format = "csv";
    } else if (type == "application/octet-stream") {
      return BadRequest("format: say ?format=tbx or ?format=csv for an octet stream");
    } else {
      format = "tbx";
    }
  }
  if (format != "tbx" && format != "csv") {
    return BadRequest(StrCat("format: \"", format, "\" is not tbx or csv"));
  }
  const std::string replace = req.Query("replace").value_or("false");
  if (replace != "true" && replace != "false") return BadRequest("replace: true or false");
  std::error_code ec;
  const auto size = std::filesystem::file_size(req.body_file, ec);
  if (ec || static_cast<int64_t>(size) > kMaxGlossaryUpload) {
    return absl::ResourceExhaustedError(
        StrCat("a glossary file may have at most ", kMaxGlossaryUpload >> 20, " MiB"));
  }
  const std::string file_name = StrCat(req.params.at("name"), ".", format);
  VERSO_ASSIGN_OR_RETURN(std::string data, ReadFile(req.body_file));
  return format == "tbx" ? formats::ReadTbx(data, file_name)
                         : formats::ReadGlossaryCsv(data, file_name);
}

absl::StatusOr<Response> ImportGlossary(const Services& s, Request& req) {
  struct Cleanup {
    std::string path;
    ~Cleanup() { std::filesystem::remove(path); }
  } cleanup{req.body_file};
  VERSO_ASSIGN_OR_RETURN(std::vector<terms::Concept> concepts, ReadGlossaryUpload(req));
  const bool replace = req.Query("replace").value_or("false") == "true";
  const std::string name = req.params.at("name");
  terms::GlossaryService* g = s.glossaries;
  bool created = false;
  if (auto info = g->Get(req.principal.tenant, name); absl::IsNotFound(info.status())) {
    absl::Status c = g->Create(req.principal.tenant, name, "");
    if (!c.ok() && !absl::IsAlreadyExists(c)) return c;
    created = c.ok();
  }
  const size_t n = concepts.size();
  auto put = g->Import(req.principal.tenant, name, std::move(concepts), replace);
  if (!put.ok()) {
    if (created) g->Delete(req.principal.tenant, name).IgnoreError();
    return put.status();
  }
  VERSO_ASSIGN_OR_RETURN(terms::GlossaryInfo info, g->Get(req.principal.tenant, name));
  Json out = GlossaryJson(info);
  out["imported"] = n;
  out["added"] = put->added;
  out["merged"] = put->merged;
  out["replaced"] = put->replaced;
  return JsonResponse(created ? 201 : 200, out);
}

absl::StatusOr<Response> ExportGlossary(const Services& s, Request& req) {
  const std::string format = req.Query("format").value_or("tbx");
  if (format != "tbx" && format != "csv") {
    return BadRequest(StrCat("format: \"", format, "\" is not tbx or csv"));
  }
  VERSO_ASSIGN_OR_RETURN(std::vector<terms::Concept> all,
                         s.glossaries->Concepts(req.principal.tenant, req.params.at("name")));
  Response r;
  if (format == "csv") {
    r.content_type = "text/csv";
    r.body = formats::WriteGlossaryCsv(all);
  } else {
    std::string lang = "en";
    if (!all.empty() && !all[0].terms.empty()) lang = all[0].terms[0].lang;
    r.content_type = "application/x-tbx";
    r.body = formats::WriteTbx(all, lang);
  }
  r.headers.push_back(
      {"Content-Disposition", AttachmentDisposition(StrCat(req.params.at("name"), ".", format))});
  return r;
}

absl::StatusOr<Response> LookupTerms(const Services& s, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  std::string sl, tl, format = "plain";
  f.String("source_lang", &sl, true);
  f.String("target_lang", &tl, true);
  f.String("text_format", &format);
  const Json* segments = f.Array("segments", true);
  VERSO_RETURN_IF_ERROR(f.Finish());
  VERSO_ASSIGN_OR_RETURN(bool plain, ParseTextFormat(format));
  VERSO_ASSIGN_OR_RETURN(std::string src, LanguageTag("source_lang", sl));
  VERSO_ASSIGN_OR_RETURN(std::string tgt, LanguageTag("target_lang", tl));
  if (segments->size() > kMaxSegments) {
    return absl::InvalidArgumentError(StrCat("segments: at most ", kMaxSegments));
  }
  Json out = Json::array();
  for (size_t i = 0; i < segments->size(); ++i) {
    VERSO_ASSIGN_OR_RETURN(std::string t,
                           ParseText((*segments)[i], StrCat("segments[", i, "]"), plain));
    VERSO_ASSIGN_OR_RETURN(
        auto hits, s.glossaries->Find(req.principal.tenant, req.params.at("name"), src, tgt, t));
    out.push_back(Json{{"terms", qe::TermHitsToJson(hits)}});
  }
  return JsonResponse(200, Json{{"segments", out}});
}

// ---- QA profiles (a project's QA settings) ----

Json ProfileJson(const storage::QaProfileRecord& p) {
  return Json{{"name", p.name},
              {"disabled_checks", p.disabled_checks},
              {"max_length", p.max_length},
              {"updated_at", Rfc3339(p.updated_at)}};
}

absl::StatusOr<Response> PutProfile(const Services& s, Request& req) {
  VERSO_RETURN_IF_ERROR(CheckName("name", req.params.at("name")));
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  const Json* disabled = f.Array("disabled_checks");
  int64_t max_length = 0;
  f.Int("max_length", &max_length);
  VERSO_RETURN_IF_ERROR(f.Finish());
  VERSO_ASSIGN_OR_RETURN(qa::Options o,
                         ParseQaOptions(s, req.principal.tenant, "", disabled, max_length));
  storage::QaProfileRecord p;
  p.tenant = req.principal.tenant;
  p.name = req.params.at("name");
  p.disabled_checks.assign(o.disabled.begin(), o.disabled.end());
  p.max_length = o.max_length;
  p.updated_at = s.clock->Now();
  VERSO_RETURN_IF_ERROR(s.db->qa_profiles().PutQaProfile(p));
  return JsonResponse(200, ProfileJson(p));
}

absl::StatusOr<Response> ListProfiles(const Services& s, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Page page, ReadPage(req, 100));
  VERSO_ASSIGN_OR_RETURN(std::vector<storage::QaProfileRecord> list,
                         s.db->qa_profiles().ListQaProfiles(req.principal.tenant));
  Json next;
  Json arr = Json::array();
  for (const auto* p : PageOf(
           list, page, [](const storage::QaProfileRecord& x) { return x.name; }, &next)) {
    arr.push_back(ProfileJson(*p));
  }
  return JsonResponse(200, Json{{"profiles", arr}, {"next_cursor", next}});
}

absl::StatusOr<Response> GetProfile(const Services& s, Request& req) {
  VERSO_ASSIGN_OR_RETURN(
      storage::QaProfileRecord p,
      s.db->qa_profiles().GetQaProfile(req.principal.tenant, req.params.at("name")));
  return JsonResponse(200, ProfileJson(p));
}

absl::StatusOr<Response> DeleteProfile(const Services& s, Request& req) {
  VERSO_RETURN_IF_ERROR(
      s.db->qa_profiles().DeleteQaProfile(req.principal.tenant, req.params.at("name")));
  return NoContent();
}

// ---- QA and QE ----
// Shared request shape: source_lang, target_lang, text_format, glossary, segments of
// {source, translation}.
struct Parsed {
  QualityRequest q;
  std::vector<SegmentToAnnotate> segments;
};

// One segment of /v1/qa/check or /v1/qe (`qe_fields`: unknown_words and engine_logprob too).
absl::StatusOr<SegmentToAnnotate> ParseQualitySegment(const Json& sj, const std::string& path,
                                                      bool plain, bool qe_fields) {
  if (!sj.is_object()) return BadRequest(StrCat(path, ": not an object"));
  Fields sf(sj, path + ".");
  std::string src, mt;
  SegmentToAnnotate seg;
  seg.origin = "mt";
  sf.String("source", &src, true);
  sf.String("translation", &mt, true);
  const Json* unknown = nullptr;
  if (qe_fields) {
    unknown = sf.Array("unknown_words");
    double logprob = 0;
    if (sj.contains("engine_logprob") && sf.Number("engine_logprob", &logprob)) {
      seg.engine_logprob = logprob;
    }
  }
  VERSO_RETURN_IF_ERROR(sf.Finish());
  VERSO_ASSIGN_OR_RETURN(seg.source, ParseText(Json(src), path + ".source", plain));
  VERSO_ASSIGN_OR_RETURN(seg.translation, ParseText(Json(mt), path + ".translation", plain));
  if (unknown != nullptr) {
    for (const Json& w : *unknown) {
      if (!w.is_string()) return BadRequest(StrCat(path, ".unknown_words: strings"));
      seg.unknown_words.push_back(w.get<std::string>());
    }
  }
  return seg;
}

absl::StatusOr<Parsed> ParseQuality(const Services& s, Request& req, bool qe_fields) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  Parsed p;
  std::string sl, tl, format = "plain";
  int64_t max_length = 0, threshold = -1;
  f.String("source_lang", &sl, true);
  f.String("target_lang", &tl, true);
  f.String("text_format", &format);
  f.String("glossary", &p.q.glossary);
  std::string qa_profile;
  f.String("qa_profile", &qa_profile);
  const Json* segments = f.Array("segments", true);
  const Json* disabled = f.Array("disabled_checks");
  f.Int("max_length", &max_length);
  if (qe_fields) {
    f.String("tm_store", &p.q.tm_store);
    f.Int("threshold", &threshold);
    f.Bool("round_trip", &p.q.round_trip);
  }
  VERSO_RETURN_IF_ERROR(f.Finish());
  VERSO_ASSIGN_OR_RETURN(bool plain, ParseTextFormat(format));
  VERSO_ASSIGN_OR_RETURN(p.q.source_lang, LanguageTag("source_lang", sl));
  VERSO_ASSIGN_OR_RETURN(p.q.target_lang, LanguageTag("target_lang", tl));
  VERSO_ASSIGN_OR_RETURN(p.q.qa,
                         ParseQaOptions(s, req.principal.tenant, qa_profile, disabled, max_length));
  if (threshold > 101) return absl::InvalidArgumentError("threshold: 0 to 100, or 101 for never");
  p.q.threshold_given = threshold >= 0;
  p.q.threshold = threshold >= 0    ? static_cast<double>(threshold)
                  : s.qe != nullptr ? s.qe->approve_threshold()
                                    : 100;
  p.q.tenant = req.principal.tenant;
  p.q.plain = plain;
  p.q.deadline = s.clock->Now() + s.translate_timeout;
  if (segments->empty() || segments->size() > kMaxSegments) {
    return absl::InvalidArgumentError(
        StrCat("segments: between 1 and ", kMaxSegments, " are needed, got ", segments->size()));
  }
  for (size_t i = 0; i < segments->size(); ++i) {
    VERSO_ASSIGN_OR_RETURN(
        SegmentToAnnotate seg,
        ParseQualitySegment((*segments)[i], StrCat("segments[", i, "]"), plain, qe_fields));
    p.segments.push_back(std::move(seg));
  }
  return p;
}

absl::StatusOr<Response> CheckQa(const Services& s, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Parsed p, ParseQuality(s, req, false));
  p.q.estimate = false;
  VERSO_ASSIGN_OR_RETURN(std::vector<Json> annotated, AnnotateSegments(s, p.q, p.segments));
  Json out = Json::array();
  for (auto& x : annotated) out.push_back(Json{{"warnings", x["qa"]}, {"terms", x["terms"]}});
  return JsonResponse(200, Json{{"segments", out}});
}

absl::StatusOr<Response> EstimateQuality(const Services& s, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Parsed p, ParseQuality(s, req, true));
  VERSO_ASSIGN_OR_RETURN(std::vector<Json> annotated, AnnotateSegments(s, p.q, p.segments));
  Json out = Json::array();
  for (auto& x : annotated) {
    Json seg = x["qe"];
    seg["qa"] = x["qa"];
    seg["terms"] = x["terms"];
    out.push_back(seg);
  }
  Json level = nullptr;
  if (s.degradation != nullptr) level = LevelJson(s.degradation->Current());
  return JsonResponse(
      200, Json{{"scorer", s.qe->scorer_name()}, {"degradation", level}, {"segments", out}});
}

}  // namespace

void AddQualityRoutes(Router* router, const Services& s) {
  auto c = std::make_shared<const Services>(s);
  const std::vector<std::string> json = {"application/json"};
  const std::vector<std::string> uploads = {"application/xml",   "text/xml",
                                            "application/x-tbx", "application/tbx+xml",
                                            "text/csv",          "application/octet-stream"};
  const std::vector<std::string> page = {"limit", "cursor"};
  const std::string read = "tm:read", write = "tm:write";
  using B = Route::Body;
  using E = Route::Exec;
  std::vector<Route> routes;
  if (s.glossaries != nullptr) {
    // clang-format off
    routes = {
      {.method = "GET",    .pattern = "/v1/glossaries", .scope = read, .handler = Bind(c, ListGlossaries), .query = page},
      {.method = "POST",   .pattern = "/v1/glossaries", .scope = write, .body = B::kJson, .content_types = json, .handler = Bind(c, CreateGlossary)},
      {.method = "GET",    .pattern = "/v1/glossaries/{name}", .scope = read, .handler = Bind(c, GetGlossary)},
      {.method = "DELETE", .pattern = "/v1/glossaries/{name}", .scope = write, .handler = Bind(c, DeleteGlossary)},
      {.method = "GET",    .pattern = "/v1/glossaries/{name}/concepts", .scope = read, .handler = Bind(c, ListConcepts), .query = page},
      {.method = "POST",   .pattern = "/v1/glossaries/{name}/concepts", .scope = write, .body = B::kJson, .content_types = json, .handler = Bind(c, PutConcepts)},
      {.method = "GET",    .pattern = "/v1/glossaries/{name}/concepts/{id}", .scope = read, .handler = Bind(c, GetConcept)},
      {.method = "PUT",    .pattern = "/v1/glossaries/{name}/concepts/{id}", .scope = write, .body = B::kJson, .content_types = json, .handler = Bind(c, PutConcept)},
      {.method = "DELETE", .pattern = "/v1/glossaries/{name}/concepts/{id}", .scope = write, .handler = Bind(c, DeleteConcept)},
      {.method = "POST",   .pattern = "/v1/glossaries/{name}/imports", .scope = write, .body = B::kUpload, .content_types = uploads, .exec = E::kLong, .handler = Bind(c, ImportGlossary), .max_body = kMaxGlossaryUpload, .query = {"format", "replace"}},
      {.method = "GET",    .pattern = "/v1/glossaries/{name}/export", .scope = read, .exec = E::kLong, .handler = Bind(c, ExportGlossary), .query = {"format"}},
      {.method = "POST",   .pattern = "/v1/glossaries/{name}/lookup", .scope = read, .body = B::kJson, .content_types = json, .handler = Bind(c, LookupTerms), .audited = false},
    };
    // clang-format on
  }
  // clang-format off
  routes.insert(routes.end(), {
    {.method = "PUT",    .pattern = "/v1/qa/profiles/{name}", .scope = "admin", .body = B::kJson, .content_types = json, .handler = Bind(c, PutProfile)},
    {.method = "GET",    .pattern = "/v1/qa/profiles", .scope = "translate", .handler = Bind(c, ListProfiles), .query = page},
    {.method = "GET",    .pattern = "/v1/qa/profiles/{name}", .scope = "translate", .handler = Bind(c, GetProfile)},
    {.method = "DELETE", .pattern = "/v1/qa/profiles/{name}", .scope = "admin", .handler = Bind(c, DeleteProfile)},
    {.method = "POST",   .pattern = "/v1/qa/check", .scope = "translate", .body = B::kJson, .content_types = json, .handler = Bind(c, CheckQa), .audited = false},
  });
  // An external scorer or the round trip may take a while: the waiting pool.
  if (s.qe != nullptr) {
    routes.push_back({.method = "POST", .pattern = "/v1/qe", .scope = "translate", .body = B::kJson, .content_types = json, .exec = E::kWaits, .handler = Bind(c, EstimateQuality), .audited = false});
  }
  // clang-format on
  for (const Route& r : routes) router->Add(r);
}

}  // namespace verso::api
