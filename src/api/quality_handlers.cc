// Glossaries, quality estimation and QA checks: /v1/glossaries..., /v1/qe, /v1/qa/check, and the
// per-segment quality annotations of /v1/translate.
#include <cmath>
#include <filesystem>
#include <set>

#include "api/http.h"
#include "common/clock.h"
#include "common/file.h"
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

absl::StatusOr<std::vector<Json>> AnnotateSegments(const Services& s, const QualityRequest& q,
                                                   const std::vector<SegmentToAnnotate>& segments) {
  qe::Reviewer reviewer(s.qe, s.glossaries, s.tm, s.mt_router, s.degradation);
  VERSO_ASSIGN_OR_RETURN(std::vector<qe::Review> reviews, reviewer.Run(q, segments));
  std::vector<Json> out;
  out.reserve(reviews.size());
  for (const qe::Review& r : reviews) out.push_back(ReviewJson(r, q.threshold));
  return out;
}

absl::StatusOr<std::vector<mt::GlossaryTerm>> GlossaryPromptTerms(
    const Services& s, const std::string& tenant, const std::string& glossary,
    const std::string& source_lang, const std::string& target_lang,
    const std::vector<std::string>& texts) {
  std::vector<mt::GlossaryTerm> out;
  if (s.glossaries == nullptr) return absl::FailedPreconditionError("glossaries are off");
  std::set<std::pair<std::string, std::string>> seen;
  for (const std::string& t : texts) {
    VERSO_ASSIGN_OR_RETURN(auto hits,
                           s.glossaries->Find(tenant, glossary, source_lang, target_lang, t));
    for (const auto& h : hits) {
      if (h.targets.empty()) continue;
      if (seen.insert({h.term, h.targets[0].text}).second) {
        out.push_back({h.term, h.targets[0].text});
      }
    }
  }
  return out;
}

void AddQualityRoutes(Router* router, const Services& s) {
  const std::vector<std::string> json = {"application/json"};
  terms::GlossaryService* g = s.glossaries;
  if (g != nullptr) {
    router->Add(WithQuery(
        {"limit", "cursor"},
        {"GET",
         "/v1/glossaries",
         "tm:read",
         Route::Body::kNone,
         {},
         Route::Exec::kStorage,
         [g](Request& req) {
           auto page = ReadPage(req, 100);
           if (!page.ok()) return ErrorResponse(page.status());
           auto list = g->List(req.principal.tenant);
           if (!list.ok()) return ErrorResponse(list.status());
           Json next;
           Json out = Json::array();
           for (const auto* x : PageOf(
                    *list, *page, [](const terms::GlossaryInfo& i) { return i.name; }, &next)) {
             out.push_back(GlossaryJson(*x));
           }
           return JsonResponse(200, Json{{"glossaries", out}, {"next_cursor", next}});
         }}));
    router->Add({"POST", "/v1/glossaries", "tm:write", Route::Body::kJson, json,
                 Route::Exec::kStorage, [g](Request& req) {
                   auto body = ParseObject(req.body);
                   if (!body.ok()) return ErrorResponse(body.status());
                   Fields f(*body);
                   std::string name, description;
                   f.String("name", &name, true);
                   f.String("description", &description);
                   if (absl::Status e = f.Finish(); !e.ok()) return ErrorResponse(e);
                   absl::Status c = g->Create(req.principal.tenant, name, description);
                   if (!c.ok()) return ErrorResponse(c);
                   auto info = g->Get(req.principal.tenant, name);
                   if (!info.ok()) return ErrorResponse(info.status());
                   return JsonResponse(201, GlossaryJson(*info));
                 }});
    router->Add({"GET",
                 "/v1/glossaries/{name}",
                 "tm:read",
                 Route::Body::kNone,
                 {},
                 Route::Exec::kStorage,
                 [g](Request& req) {
                   auto info = g->Get(req.principal.tenant, req.params.at("name"));
                   if (!info.ok()) return ErrorResponse(info.status());
                   return JsonResponse(200, GlossaryJson(*info));
                 }});
    router->Add({"DELETE",
                 "/v1/glossaries/{name}",
                 "tm:write",
                 Route::Body::kNone,
                 {},
                 Route::Exec::kStorage,
                 [g](Request& req) {
                   absl::Status d = g->Delete(req.principal.tenant, req.params.at("name"));
                   if (!d.ok()) return ErrorResponse(d);
                   return Response{204, "application/json", "", "", false, {}};
                 }});
    router->Add(
        WithQuery({"limit", "cursor"},
                  {"GET",
                   "/v1/glossaries/{name}/concepts",
                   "tm:read",
                   Route::Body::kNone,
                   {},
                   Route::Exec::kStorage,
                   [g](Request& req) {
                     auto page = ReadPage(req, 100);
                     if (!page.ok()) return ErrorResponse(page.status());
                     auto all = g->Concepts(req.principal.tenant, req.params.at("name"));
                     if (!all.ok()) return ErrorResponse(all.status());
                     Json next;
                     Json out = Json::array();
                     for (const auto* c : PageOf(
                              *all, *page, [](const formats::Concept& x) { return x.id; }, &next)) {
                       out.push_back(ConceptJson(*c));
                     }
                     return JsonResponse(200, Json{{"concepts", out}, {"next_cursor", next}});
                   }}));
    router->Add({"POST", "/v1/glossaries/{name}/concepts", "tm:write", Route::Body::kJson, json,
                 Route::Exec::kStorage, [g](Request& req) {
                   auto body = ParseObject(req.body);
                   if (!body.ok()) return ErrorResponse(body.status());
                   Fields f(*body);
                   const Json* concepts = f.Array("concepts", true);
                   bool replace = false;
                   f.Bool("replace", &replace);
                   if (absl::Status e = f.Finish(); !e.ok()) return ErrorResponse(e);
                   std::vector<terms::Concept> parsed;
                   for (size_t i = 0; i < concepts->size(); ++i) {
                     auto c = ParseConcept((*concepts)[i], StrCat("concepts[", i, "]."));
                     if (!c.ok()) return ErrorResponse(c.status());
                     parsed.push_back(std::move(*c));
                   }
                   auto put = g->PutConcepts(req.principal.tenant, req.params.at("name"),
                                             std::move(parsed), replace);
                   if (!put.ok()) return ErrorResponse(put.status());
                   Json out = Json::array();
                   for (const auto& c : *put) out.push_back(ConceptJson(c));
                   return JsonResponse(200, Json{{"concepts", out}});
                 }});
    router->Add({"GET",
                 "/v1/glossaries/{name}/concepts/{id}",
                 "tm:read",
                 Route::Body::kNone,
                 {},
                 Route::Exec::kStorage,
                 [g](Request& req) {
                   auto c = g->GetConcept(req.principal.tenant, req.params.at("name"),
                                          req.params.at("id"));
                   if (!c.ok()) return ErrorResponse(c.status());
                   return JsonResponse(200, ConceptJson(*c));
                 }});
    router->Add({"PUT", "/v1/glossaries/{name}/concepts/{id}", "tm:write", Route::Body::kJson, json,
                 Route::Exec::kStorage, [g](Request& req) {
                   auto body = ParseObject(req.body);
                   if (!body.ok()) return ErrorResponse(body.status());
                   auto c = ParseConcept(*body, "");
                   if (!c.ok()) return ErrorResponse(c.status());
                   const std::string& id = req.params.at("id");
                   if (!c->id.empty() && c->id != id) {
                     return ErrorResponse(absl::InvalidArgumentError(
                         StrCat("id: \"", c->id, "\" differs from the path's \"", id, "\"")));
                   }
                   c->id = id;
                   auto put =
                       g->PutConcepts(req.principal.tenant, req.params.at("name"), {*c}, false);
                   if (!put.ok()) return ErrorResponse(put.status());
                   return JsonResponse(200, ConceptJson((*put)[0]));
                 }});
    router->Add({"DELETE",
                 "/v1/glossaries/{name}/concepts/{id}",
                 "tm:write",
                 Route::Body::kNone,
                 {},
                 Route::Exec::kStorage,
                 [g](Request& req) {
                   absl::Status d = g->DeleteConcept(req.principal.tenant, req.params.at("name"),
                                                     req.params.at("id"));
                   if (!d.ok()) return ErrorResponse(d);
                   return Response{204, "application/json", "", "", false, {}};
                 }});
    const std::vector<std::string> uploads = {"application/xml",   "text/xml",
                                              "application/x-tbx", "application/tbx+xml",
                                              "text/csv",          "application/octet-stream"};
    router->Add(WithQuery(
        {"format", "replace"},
        WithMaxBody(
            kMaxGlossaryUpload,
            {"POST", "/v1/glossaries/{name}/imports", "tm:write", Route::Body::kUpload, uploads,
             Route::Exec::kLong, [g](Request& req) {
               struct Cleanup {
                 std::string path;
                 ~Cleanup() { std::filesystem::remove(path); }
               } cleanup{req.body_file};
               std::string format = req.Query("format").value_or("");
               std::string_view type = req.Header("content-type");
               type = type.substr(0, type.find(';'));
               if (format.empty()) {
                 if (type == "text/csv") {
                   format = "csv";
                 } else if (type == "application/octet-stream") {
                   return ErrorResponse(
                       BadRequest("format: say ?format=tbx or ?format=csv for an octet stream"));
                 } else {
                   format = "tbx";
                 }
               }
               if (format != "tbx" && format != "csv") {
                 return ErrorResponse(
                     BadRequest(StrCat("format: \"", format, "\" is not tbx or csv")));
               }
               const std::string replace_q = req.Query("replace").value_or("false");
               if (replace_q != "true" && replace_q != "false") {
                 return ErrorResponse(BadRequest("replace: true or false"));
               }
               std::error_code ec;
               const auto size = std::filesystem::file_size(req.body_file, ec);
               if (ec || static_cast<int64_t>(size) > kMaxGlossaryUpload) {
                 return ErrorResponse(absl::ResourceExhaustedError(StrCat(
                     "a glossary file may have at most ", kMaxGlossaryUpload >> 20, " MiB")));
               }
               const std::string name = req.params.at("name");
               const std::string file_name = StrCat(name, ".", format);
               auto data = ReadFile(req.body_file);
               if (!data.ok()) return ErrorResponse(data.status());
               auto concepts = format == "tbx" ? formats::ReadTbx(*data, file_name)
                                               : formats::ReadGlossaryCsv(*data, file_name);
               if (!concepts.ok()) return ErrorResponse(concepts.status());
               bool created = false;
               if (auto info = g->Get(req.principal.tenant, name);
                   absl::IsNotFound(info.status())) {
                 absl::Status c = g->Create(req.principal.tenant, name, "");
                 if (!c.ok() && !absl::IsAlreadyExists(c)) return ErrorResponse(c);
                 created = c.ok();
               }
               const size_t n = concepts->size();
               auto put =
                   g->Import(req.principal.tenant, name, std::move(*concepts), replace_q == "true");
               if (!put.ok()) {
                 if (created) g->Delete(req.principal.tenant, name).IgnoreError();
                 return ErrorResponse(put.status());
               }
               auto info = g->Get(req.principal.tenant, name);
               if (!info.ok()) return ErrorResponse(info.status());
               Json out = GlossaryJson(*info);
               out["imported"] = n;
               out["added"] = put->added;
               out["merged"] = put->merged;
               out["replaced"] = put->replaced;
               return JsonResponse(created ? 201 : 200, out);
             }})));
    router->Add(WithQuery(
        {"format"},
        {"GET",
         "/v1/glossaries/{name}/export",
         "tm:read",
         Route::Body::kNone,
         {},
         Route::Exec::kLong,
         [g](Request& req) {
           const std::string format = req.Query("format").value_or("tbx");
           if (format != "tbx" && format != "csv") {
             return ErrorResponse(BadRequest(StrCat("format: \"", format, "\" is not tbx or csv")));
           }
           auto all = g->Concepts(req.principal.tenant, req.params.at("name"));
           if (!all.ok()) return ErrorResponse(all.status());
           Response r;
           if (format == "csv") {
             r.content_type = "text/csv";
             r.body = formats::WriteGlossaryCsv(*all);
           } else {
             std::string lang = "en";
             if (!all->empty() && !(*all)[0].terms.empty()) lang = (*all)[0].terms[0].lang;
             r.content_type = "application/x-tbx";
             r.body = formats::WriteTbx(*all, lang);
           }
           r.headers.push_back({"Content-Disposition",
                                AttachmentDisposition(StrCat(req.params.at("name"), ".", format))});
           return r;
         }}));
    router->Add({"POST", "/v1/glossaries/{name}/lookup", "tm:read", Route::Body::kJson, json,
                 Route::Exec::kStorage, [g](Request& req) {
                   auto body = ParseObject(req.body);
                   if (!body.ok()) return ErrorResponse(body.status());
                   Fields f(*body);
                   std::string sl, tl, format = "plain";
                   f.String("source_lang", &sl, true);
                   f.String("target_lang", &tl, true);
                   f.String("text_format", &format);
                   const Json* segments = f.Array("segments", true);
                   if (absl::Status e = f.Finish(); !e.ok()) return ErrorResponse(e);
                   auto plain = ParseTextFormat(format);
                   if (!plain.ok()) return ErrorResponse(plain.status());
                   auto src = LanguageTag("source_lang", sl);
                   if (!src.ok()) return ErrorResponse(src.status());
                   auto tgt = LanguageTag("target_lang", tl);
                   if (!tgt.ok()) return ErrorResponse(tgt.status());
                   if (segments->size() > kMaxSegments) {
                     return ErrorResponse(
                         absl::InvalidArgumentError(StrCat("segments: at most ", kMaxSegments)));
                   }
                   Json out = Json::array();
                   for (size_t i = 0; i < segments->size(); ++i) {
                     auto t = ParseText((*segments)[i], StrCat("segments[", i, "]"), *plain);
                     if (!t.ok()) return ErrorResponse(t.status());
                     auto hits =
                         g->Find(req.principal.tenant, req.params.at("name"), *src, *tgt, *t);
                     if (!hits.ok()) return ErrorResponse(hits.status());
                     out.push_back(Json{{"terms", qe::TermHitsToJson(*hits)}});
                   }
                   return JsonResponse(200, Json{{"segments", out}});
                 }});
  }

  // ---- QA profiles (a project's QA settings) ----
  auto profile_json = [](const storage::QaProfileRecord& p) {
    return Json{{"name", p.name},
                {"disabled_checks", p.disabled_checks},
                {"max_length", p.max_length},
                {"updated_at", Rfc3339(p.updated_at)}};
  };
  router->Add({"PUT", "/v1/qa/profiles/{name}", "admin", Route::Body::kJson, json,
               Route::Exec::kStorage, [s, profile_json](Request& req) {
                 if (absl::Status n = CheckName("name", req.params.at("name")); !n.ok()) {
                   return ErrorResponse(n);
                 }
                 auto body = ParseObject(req.body);
                 if (!body.ok()) return ErrorResponse(body.status());
                 Fields f(*body);
                 const Json* disabled = f.Array("disabled_checks");
                 int64_t max_length = 0;
                 f.Int("max_length", &max_length);
                 if (absl::Status e = f.Finish(); !e.ok()) return ErrorResponse(e);
                 auto o = ParseQaOptions(s, req.principal.tenant, "", disabled, max_length);
                 if (!o.ok()) return ErrorResponse(o.status());
                 storage::QaProfileRecord p;
                 p.tenant = req.principal.tenant;
                 p.name = req.params.at("name");
                 p.disabled_checks.assign(o->disabled.begin(), o->disabled.end());
                 p.max_length = o->max_length;
                 p.updated_at = s.clock->Now();
                 absl::Status put = s.db->qa_profiles().PutQaProfile(p);
                 if (!put.ok()) return ErrorResponse(put);
                 return JsonResponse(200, profile_json(p));
               }});
  router->Add(WithQuery(
      {"limit", "cursor"},
      {"GET",
       "/v1/qa/profiles",
       "translate",
       Route::Body::kNone,
       {},
       Route::Exec::kStorage,
       [s, profile_json](Request& req) {
         auto page = ReadPage(req, 100);
         if (!page.ok()) return ErrorResponse(page.status());
         auto list = s.db->qa_profiles().ListQaProfiles(req.principal.tenant);
         if (!list.ok()) return ErrorResponse(list.status());
         Json next;
         Json arr = Json::array();
         for (const auto* p : PageOf(
                  *list, *page, [](const storage::QaProfileRecord& x) { return x.name; }, &next)) {
           arr.push_back(profile_json(*p));
         }
         return JsonResponse(200, Json{{"profiles", arr}, {"next_cursor", next}});
       }}));
  router->Add({"GET",
               "/v1/qa/profiles/{name}",
               "translate",
               Route::Body::kNone,
               {},
               Route::Exec::kStorage,
               [s, profile_json](Request& req) {
                 auto p =
                     s.db->qa_profiles().GetQaProfile(req.principal.tenant, req.params.at("name"));
                 if (!p.ok()) return ErrorResponse(p.status());
                 return JsonResponse(200, profile_json(*p));
               }});
  router->Add({"DELETE",
               "/v1/qa/profiles/{name}",
               "admin",
               Route::Body::kNone,
               {},
               Route::Exec::kStorage,
               [s](Request& req) {
                 absl::Status d = s.db->qa_profiles().DeleteQaProfile(req.principal.tenant,
                                                                      req.params.at("name"));
                 if (!d.ok()) return ErrorResponse(d);
                 return Response{204, "application/json", "", "", false, {}};
               }});

  // ---- QA and QE ----
  // Shared request shape: source_lang, target_lang, text_format, glossary, segments of
  // {source, translation}.
  struct Parsed {
    QualityRequest q;
    std::vector<SegmentToAnnotate> segments;
  };
  auto parse = [s](Request& req, bool qe_fields) -> absl::StatusOr<Parsed> {
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
    VERSO_ASSIGN_OR_RETURN(
        p.q.qa, ParseQaOptions(s, req.principal.tenant, qa_profile, disabled, max_length));
    if (threshold > 101) {
      return absl::InvalidArgumentError("threshold: 0 to 100, or 101 for never");
    }
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
      const std::string path = StrCat("segments[", i, "]");
      const Json& sj = (*segments)[i];
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
      p.segments.push_back(std::move(seg));
    }
    return p;
  };

  router->Add({"POST", "/v1/qa/check", "translate", Route::Body::kJson, json, Route::Exec::kStorage,
               [s, parse](Request& req) {
                 auto p = parse(req, false);
                 if (!p.ok()) return ErrorResponse(p.status());
                 p->q.estimate = false;
                 auto a = AnnotateSegments(s, p->q, p->segments);
                 if (!a.ok()) return ErrorResponse(a.status());
                 Json out = Json::array();
                 for (auto& x : *a) {
                   out.push_back(Json{{"warnings", x["qa"]}, {"terms", x["terms"]}});
                 }
                 return JsonResponse(200, Json{{"segments", out}});
               }});

  if (s.qe != nullptr) {
    // An external scorer or the round trip may take a while: the waiting pool.
    router->Add({"POST", "/v1/qe", "translate", Route::Body::kJson, json, Route::Exec::kWaits,
                 [s, parse](Request& req) {
                   auto p = parse(req, true);
                   if (!p.ok()) return ErrorResponse(p.status());
                   auto a = AnnotateSegments(s, p->q, p->segments);
                   if (!a.ok()) return ErrorResponse(a.status());
                   Json out = Json::array();
                   for (auto& x : *a) {
                     Json seg = x["qe"];
                     seg["qa"] = x["qa"];
                     seg["terms"] = x["terms"];
                     out.push_back(seg);
                   }
                   Json level = nullptr;
                   if (s.degradation != nullptr) level = LevelJson(s.degradation->Current());
                   return JsonResponse(200, Json{{"scorer", s.qe->scorer_name()},
                                                 {"degradation", level},
                                                 {"segments", out}});
                 }});
  }
}

}  // namespace verso::api
