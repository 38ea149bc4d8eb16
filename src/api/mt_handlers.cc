// Machine translation over HTTP: verso's own API v1 (/v1/translate, /v1/status, engine
// policies), a DeepL-compatible API (/v2/translate, /v2/languages, /v2/usage) and an
// Apertium-APy-compatible one (/translate, /listPairs), so that existing DeepL clients, CAT-tool
// plugins and APy tools work against verso unchanged. Handlers parse, validate, call the
// translate service, map the status and serialize.
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/http.h"
#include "auth/auth.h"
#include "cache/redis.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/names.h"
#include "common/status.h"
#include "common/strings.h"
#include "mt/translate.h"
#include "ops/ops.h"
#include "qe/qe.h"
#include "resilience/resilience.h"
#include "storage/storage.h"
#include "terms/terms.h"
#include "text/text.h"
#include "tm/tm.h"

namespace verso::api {
namespace {

constexpr size_t kMaxSegments = 1000;                    // per /v1/translate request
constexpr size_t kMaxDeepLTexts = 50;                    // DeepL's own limit per request
constexpr int64_t kUnlimitedCharacters = 1000000000000;  // DeepL's "no limit" figure

// DeepL's documented languages, listed when an engine (an LLM) translates any pair.
const char* const kCommonLanguages[] = {"ar", "bg", "cs", "da", "de", "el", "en", "es", "et", "fi",
                                        "fr", "hu", "id", "it", "ja", "ko", "lt", "lv", "nb", "nl",
                                        "pl", "pt", "ro", "ru", "sk", "sl", "sv", "tr", "uk", "zh"};

struct MtState {
  Services services;  // the pointers inside outlive the server
  mt::Router& router() const { return *services.mt_router; }
  storage::PolicyRepository& policies() const { return services.db->policies(); }
  // A translate request's deadline, from now.
  absl::Time Deadline() const { return services.clock->Now() + services.translate_timeout; }
  ops::Counter* segments_tm;
  ops::Counter* segments_mt;
  ops::Counter* segments_cached;
  ops::Counter* refusals;
  std::unique_ptr<ReviewCache> reviews;  // /v1/translate's (null: none)
  mutable absl::Mutex usage_mu;
  // Characters per tenant, since the server started.
  mutable std::map<std::string, int64_t> characters ABSL_GUARDED_BY(usage_mu);

  void Count(const std::string& tenant, int64_t n) const {
    absl::MutexLock lock(&usage_mu);
    characters[tenant] += n;
  }
  int64_t Characters(const std::string& tenant) const {
    absl::MutexLock lock(&usage_mu);
    return characters[tenant];
  }
};

// ---- Parameters of the compatibility APIs: query string and form or JSON body --------------

struct Params {
  std::multimap<std::string, std::string> values;
  std::vector<std::string> All(const std::string& name) const {
    std::vector<std::string> out;
    auto [b, e] = values.equal_range(name);
    for (auto it = b; it != e; ++it) out.push_back(it->second);
    return out;
  }
  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
  bool Has(const std::string& name) const { return values.count(name) > 0; }
};

absl::StatusOr<Params> ReadParams(const Request& req) {
  Params p;
  for (const auto& [k, v] : req.query) p.values.emplace(k, v);
  if (req.body.empty()) return p;
  std::string type = AsciiLower(req.Header("content-type"));
  if (type.find("application/json") != std::string::npos) {
    VERSO_ASSIGN_OR_RETURN(Json j, ParseObject(req.body));
    for (auto& [k, v] : j.items()) {
      if (v.is_array()) {
        for (auto& e : v) {
          if (!e.is_string()) return absl::InvalidArgumentError(StrCat(k, ": not a string list"));
          p.values.emplace(k, e.get<std::string>());
        }
      } else if (v.is_string()) {
        p.values.emplace(k, v.get<std::string>());
      } else if (v.is_boolean() || v.is_number()) {
        p.values.emplace(k, DumpJson(v));
      }
    }
    return p;
  }
  auto form = ParseFormPairs(req.body);
  if (!form) return absl::InvalidArgumentError("the form body has a bad % escape");
  for (auto& [k, v] : *form) {
    if (!text::IsValidUtf8(k) || !text::IsValidUtf8(v)) {
      return absl::InvalidArgumentError(
          StrCat("the form parameter \"", Abbreviate(k, 64), "\" is not valid UTF-8"));
    }
    p.values.emplace(std::move(k), std::move(v));
  }
  return p;
}

// "ca-valencia" -> "cat_valencia", "pt-BR" -> "por_BR": Apertium's way of naming languages.
std::string ApertiumCode(const std::string& tag) {
  std::string out = text::Iso639_3(tag);
  std::vector<std::string_view> parts = Split(tag, '-');
  for (size_t i = 1; i < parts.size(); ++i) StrAppend(&out, "_", parts[i]);
  return out;
}

// Marks the unknown words in a translation the way `apertium` does without -u: "*word".
std::string MarkUnknown(std::string text, const std::vector<std::string>& unknown) {
  for (const auto& word : unknown) {
    if (word.empty()) continue;
    std::string out;
    size_t pos = 0;
    for (size_t at; (at = text.find(word, pos)) != std::string::npos;) {
      auto is_word = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80;
      };
      bool start = at == 0 || !is_word(text[at - 1]);
      bool end = at + word.size() == text.size() || !is_word(text[at + word.size()]);
      out.append(text, pos, at - pos);
      if (start && end) out += '*';
      out += word;
      pos = at + word.size();
    }
    out.append(text, pos, std::string::npos);
    text = std::move(out);
  }
  return text;
}

// The engine names of a JSON array, each one configured.
absl::StatusOr<std::vector<std::string>> EngineList(const Json& engines,
                                                    const std::vector<std::string>& known) {
  std::vector<std::string> out;
  for (size_t i = 0; i < engines.size(); ++i) {
    const Json& e = engines[i];
    if (!e.is_string()) return BadRequest(StrCat("engines[", i, "]: not a string"));
    std::string name = e.get<std::string>();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError(StrCat("engines[", i, "]: unknown engine \"", name,
                                               "\"; configured engines: ", Join(known, ", ")));
    }
    out.push_back(std::move(name));
  }
  return out;
}

// ---- DeepL -----------------------------------------------------------------------------------

Response DeepLError(int status, absl::string_view message) {
  Response r = JsonResponse(status, Json{{"message", std::string(message)}});
  return r;
}

Response DeepLError(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return DeepLError(403, StrCat("Authorization failure, check auth_key: ", s.message()));
    case absl::StatusCode::kResourceExhausted:
      return DeepLError(429, "Too many requests");
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
      return DeepLError(400, s.message());
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return DeepLError(503, s.message());
    default:
      return DeepLError(500, "Internal server error");
  }
}

// DeepL's API takes the key as "Authorization: DeepL-Auth-Key KEY" (verso also takes Bearer) or,
// in old clients, as the auth_key query parameter. The server checks it before reading the body,
// so the key is no longer read from a form body (DeepL itself stopped accepting that).
std::string DeepLToken(const Request& req) {
  std::string_view authz = req.Header("authorization");
  constexpr std::string_view kDeepL = "DeepL-Auth-Key ";
  constexpr std::string_view kBearer = "Bearer ";
  if (authz.substr(0, kDeepL.size()) == kDeepL) {
    return std::string(StripAsciiWhitespace(authz.substr(kDeepL.size())));
  }
  if (authz.substr(0, kBearer.size()) == kBearer) {
    return std::string(StripAsciiWhitespace(authz.substr(kBearer.size())));
  }
  return req.Query("auth_key").value_or("");
}

Response DeepLAuthError(const absl::Status& s, absl::Duration retry) {
  Response r = DeepLError(s);
  if (r.status == 429) r.headers.emplace_back("Retry-After", RetryAfterSeconds(retry));
  return r;
}

// A route of the DeepL-compatible API: the key DeepL's way, failures in DeepL's shape.
Route DeepLRoute(Route route) {
  route.scope = std::string(auth::kScopeTranslate);
  route.audited = false;  // translation only
  route.token = DeepLToken;
  route.auth_error = DeepLAuthError;
  route.query = {"*"};  // DeepL reads parameters from the query or the body
  return route;
}

// Languages the configured engines translate from (`source`) or into; targets only those
// reachable from `from` when it is given.
std::vector<std::string> Languages(mt::Router* router, bool source, const std::string& from = "") {
  std::set<std::string> tags;
  for (const auto& [name, pairs] : router->PairsByEngine()) {
    if (pairs.empty()) {
      for (const char* l : kCommonLanguages) tags.insert(l);
      continue;
    }
    for (const auto& p : pairs) {
      if (!source && !from.empty() && !text::TagsMatch(text::PrimaryLanguage(p.source), from)) {
        continue;
      }
      tags.insert(source ? text::PrimaryLanguage(p.source) : p.target);
    }
  }
  return {tags.begin(), tags.end()};
}

}  // namespace

// "eng" -> "en", "cat_valencia" -> "ca-valencia", "DE" -> "de", "PT-BR" -> "pt-BR".
absl::StatusOr<std::string> LanguageTag(std::string_view field, const std::string& code) {
  auto tag = text::CanonicalLanguageTag(code);
  if (!tag.ok()) return absl::InvalidArgumentError(StrCat(field, ": ", tag.status().message()));
  return *tag;
}

Json LevelJson(const resilience::LevelInfo& level) {
  Json out{{"level", level.number}, {"name", level.name}, {"message", level.message}};
  if (!level.notice.empty()) out["notice"] = level.notice;
  return out;
}

void WriteTranslation(JsonWriter& w, const mt::SegmentResult& s, bool plain,
                      std::string_view review) {
  const bool tm = s.origin == "tm";
  w.BeginObject();
  if (!tm) {
    w.Key("cached").Bool(s.cached).Key("engine").String(s.engine).Key("model").String(s.model);
  }
  w.Key("origin").String(s.origin).Members(review);
  w.Key("text").String(plain ? text::PlainText(s.text) : s.text);
  if (tm) {
    w.Key("tm").BeginObject().Key("score").Int(s.tm_score);
    w.Key("segment_id").Int(s.tm_segment_id).EndObject();
  } else {
    w.Key("unknown_words").BeginArray();
    for (const std::string& word : s.unknown_words) w.String(word);
    w.EndArray();
  }
  w.EndObject();
}

namespace {

// The metrics of the translate routes; `st` keeps the counters.
void RegisterMetrics(MtState* st, const Services& s) {
  st->segments_tm = s.metrics->GetCounter("verso_translate_segments_total",
                                          "Segments translated, by origin.", {"origin"}, {"tm"});
  st->segments_mt = s.metrics->GetCounter("verso_translate_segments_total",
                                          "Segments translated, by origin.", {"origin"}, {"mt"});
  st->segments_cached =
      s.metrics->GetCounter("verso_translate_segments_cached_total",
                            "Machine-translated segments served from the cache.", {}, {});
  st->refusals = s.metrics->GetCounter(
      "verso_translate_refusals_total",
      "Translate requests refused because no engine could translate (degradation).", {}, {});
  s.metrics->AddGauge(
      "verso_degradation_level", "The platform's degradation level (0 normal, 1-4, 5 emergency).",
      {}, [d = s.degradation] {
        return ops::Registry::GaugeSeries{{{}, static_cast<double>(d->Current().number)}};
      });
  // One series per engine of one figure of the router's.
  auto per_engine = [r = s.mt_router](double (*figure)(const mt::EngineState&)) {
    return [r, figure] {
      ops::Registry::GaugeSeries series;
      for (const auto& e : r->Engines()) series.push_back({{e.name}, figure(e)});
      return series;
    };
  };
  s.metrics->AddGauge("verso_mt_breaker_state",
                      "Circuit breaker per engine: 0 closed, 1 half open, 2 open.", {"engine"},
                      per_engine([](const mt::EngineState& e) {
                        return e.breaker == resilience::BreakerState::kClosed     ? 0.0
                               : e.breaker == resilience::BreakerState::kHalfOpen ? 1.0
                                                                                  : 2.0;
                      }));
  s.metrics->AddGauge(
      "verso_notice", "1 while degradation.notice is set (a region failover).", {},
      [d = s.degradation] {
        return ops::Registry::GaugeSeries{{{}, d->Current().notice.empty() ? 0.0 : 1.0}};
      });
  s.metrics->AddGauge(
      "verso_mt_engine_fast_mode",
      "1 while an LLM engine is passed over after a call slower than mt.fast_mode_latency.",
      {"engine"}, per_engine([](const mt::EngineState& e) { return e.slow ? 1.0 : 0.0; }));
  s.metrics->AddGauge(
      "verso_mt_engine_calls", "Upstream calls (attempts) per engine.", {"engine"},
      per_engine([](const mt::EngineState& e) { return static_cast<double>(e.calls); }));
  s.metrics->AddGauge(
      "verso_mt_engine_failures", "Failed upstream calls per engine.", {"engine"},
      per_engine([](const mt::EngineState& e) { return static_cast<double>(e.failures); }));
  s.metrics->AddGauge("verso_mt_cache", "The translation cache: entries, bytes, hits, misses.",
                      {"what"}, [r = s.mt_router] {
                        mt::RouterStats c = r->Stats();
                        return ops::Registry::GaugeSeries{
                            {{"entries"}, static_cast<double>(c.cache_entries)},
                            {{"bytes"}, static_cast<double>(c.cache_bytes)},
                            {{"hits"}, static_cast<double>(c.cache_hits)},
                            {{"misses"}, static_cast<double>(c.cache_misses)},
                            {{"coalesced"}, static_cast<double>(c.coalesced)}};
                      });
}

// ---- API v1 ----

// A /v1/translate request, read and checked: what to translate and how to review it.
struct TranslateRequest {
  mt::TranslateInput in;
  QualityRequest quality;
  std::string glossary_name;  // a stored glossary ("glossary": "name")
  bool plain = true;
};

// "glossary": inline terms [{source, target}] for LLM prompts.
absl::Status ReadInlineGlossary(const Json& glossary, mt::TranslateInput* in) {
  for (size_t i = 0; i < glossary.size(); ++i) {
    const Json& g = glossary[i];
    if (!g.is_object() || !g.contains("source") || !g.contains("target") ||
        !g["source"].is_string() || !g["target"].is_string()) {
      return BadRequest(StrCat("glossary[", i, "]: an object with source and target strings"));
    }
    in->glossary.push_back({g["source"].get<std::string>(), g["target"].get<std::string>()});
  }
  return absl::OkStatus();
}

absl::StatusOr<TranslateRequest> ReadTranslateRequest(const MtState& st, const Request& req) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  TranslateRequest t;
  mt::TranslateInput& in = t.in;
  in.tenant = req.principal.tenant;
  std::string source, target, format = "plain";
  f.String("source_lang", &source, true);
  f.String("target_lang", &target, true);
  f.String("text_format", &format);
  f.String("tm_store", &in.tm_store);
  f.String("engine_policy", &in.engine_policy);
  const Json* segments = f.Array("segments", true);
  const Json* engines = f.Array("engines");
  // "glossary": a stored glossary's name, or inline terms for LLM prompts.
  const Json* glossary = nullptr;
  if (body.contains("glossary") && body["glossary"].is_string()) {
    f.String("glossary", &t.glossary_name);
  } else {
    glossary = f.Array("glossary");
  }
  int64_t threshold = -1, max_length = 0;
  f.Int("qe_threshold", &threshold);
  f.Int("max_length", &max_length);
  const Json* disabled = f.Array("disabled_checks");
  std::string qa_profile;
  f.String("qa_profile", &qa_profile);
  VERSO_RETURN_IF_ERROR(f.Finish());
  // A stored QA profile is read from storage: not on an I/O thread.
  if (!qa_profile.empty() && req.nonblocking) return WouldBlock("reading the QA profile");
  if (threshold > 101) {
    return absl::InvalidArgumentError("qe_threshold: 0 to 100, or 101 for never");
  }
  VERSO_ASSIGN_OR_RETURN(t.quality.qa, ParseQaOptions(st.services, req.principal.tenant, qa_profile,
                                                      disabled, max_length));
  VERSO_ASSIGN_OR_RETURN(t.plain, ParseTextFormat(format));
  VERSO_ASSIGN_OR_RETURN(in.source_lang, LanguageTag("source_lang", source));
  VERSO_ASSIGN_OR_RETURN(in.target_lang, LanguageTag("target_lang", target));
  if (segments->empty() || segments->size() > kMaxSegments) {
    return absl::InvalidArgumentError(
        StrCat("segments: between 1 and ", kMaxSegments, " are needed, got ", segments->size()));
  }
  for (size_t i = 0; i < segments->size(); ++i) {
    VERSO_ASSIGN_OR_RETURN(std::string text,
                           ParseText((*segments)[i], StrCat("segments[", i, "]"), t.plain));
    in.texts.push_back(std::move(text));
  }
  if (engines != nullptr) {
    VERSO_ASSIGN_OR_RETURN(in.engines, EngineList(*engines, st.router().EngineNames()));
  }
  if (glossary != nullptr) VERSO_RETURN_IF_ERROR(ReadInlineGlossary(*glossary, &in));
  in.deadline = st.Deadline();
  QualityRequest& q = t.quality;
  q.tenant = in.tenant;
  q.source_lang = in.source_lang;
  q.target_lang = in.target_lang;
  q.glossary = t.glossary_name;
  q.tm_store = in.tm_store;
  q.plain = t.plain;
  q.round_trip = st.services.qe_round_trip;
  q.deadline = in.deadline;
  q.threshold_given = threshold >= 0;
  q.threshold = threshold >= 0              ? static_cast<double>(threshold)
                : st.services.qe != nullptr ? st.services.qe->approve_threshold()
                                            : 100;
  return t;
}

// A translate refusal in the API's shape; a 503 says the degradation level.
Response TranslateError(const MtState& st, const absl::Status& status) {
  if (absl::IsUnavailable(status)) st.refusals->Inc();
  Response r = ErrorResponse(status);
  if (r.status == 503) {
    Json b = Json::parse(r.body);
    b["degradation"] = LevelJson(st.services.degradation->Current());
    r.body = DumpJson(b);
  }
  return r;
}

absl::StatusOr<Response> Translate(const MtState& st, Request& req) {
  VERSO_ASSIGN_OR_RETURN(TranslateRequest t, ReadTranslateRequest(st, req));
  mt::TranslateInput& in = t.in;
  if (!t.glossary_name.empty()) {
    auto terms = GlossaryPromptTerms(st.services, in.tenant, t.glossary_name, in.source_lang,
                                     in.target_lang, in.texts, req.nonblocking);
    if (IsWouldBlock(terms.status())) return terms.status();
    if (absl::IsNotFound(terms.status())) {
      return absl::NotFoundError(StrCat("glossary: ", terms.status().message()));
    }
    VERSO_RETURN_IF_ERROR(terms.status());
    in.glossary.insert(in.glossary.end(), terms->begin(), terms->end());
  }
  in.nonblocking = req.nonblocking;
  auto result = st.services.translate->Translate(in);
  if (IsWouldBlock(result.status())) return result.status();
  if (!result.ok()) return TranslateError(st, result.status());
  std::vector<SegmentToAnnotate> to_annotate;
  for (size_t i = 0; i < result->segments.size(); ++i) {
    const auto& seg = result->segments[i];
    to_annotate.push_back(
        {in.texts[i], seg.text, seg.origin, seg.engine, seg.unknown_words, std::nullopt});
  }
  VERSO_ASSIGN_OR_RETURN(
      std::vector<ReviewText> reviews,
      ReviewMembers(st.services, t.quality, to_annotate, st.reviews.get(), req.nonblocking));
  int64_t characters = 0;
  for (const auto& text : in.texts) {
    characters += static_cast<int64_t>(text::CodePointCount(text::PlainText(text)));
  }
  st.Count(in.tenant, characters);
  // Written out rather than built as a document: a cached review is spliced in as the text it
  // was kept as. The keys are in order, as in every object nlohmann writes.
  Response r;
  JsonWriter w(&r.body);
  w.BeginObject().Key("degradation").Raw(DumpJson(LevelJson(result->level)));
  w.Key("notes").BeginArray();
  for (const std::string& note : result->notes) w.String(note);
  if (!result->level.notice.empty()) w.String(result->level.notice);
  w.EndArray().Key("translations").BeginArray();
  for (size_t i = 0; i < result->segments.size(); ++i) {
    const auto& seg = result->segments[i];
    WriteTranslation(w, seg, t.plain, *reviews[i]);
    (seg.origin == "tm" ? st.segments_tm : st.segments_mt)->Inc();
    if (seg.cached) st.segments_cached->Inc();
  }
  w.EndArray().EndObject();
  return r;
}

// Where TM lookups are answered, as /v1/status shows it (counts only: no node addresses).
Json TmIndexJson(const Services& s) {
  if (!s.tm_nodes_status) return Json{{"mode", "local"}};
  const Services::TmNodesStatus n = s.tm_nodes_status();
  return Json{{"mode", "nodes"},
              {"nodes", n.nodes},
              {"asks", n.asks},
              {"retries", n.retries},
              {"failures", n.failures}};
}

// The Redis L2 cache as /v1/status shows it: off, or its breaker and counts ("bypassed": Redis
// lost, requests go on without it).
Json L2Json(cache::RedisClient* redis) {
  if (redis == nullptr) return Json{{"enabled", false}};
  cache::RedisStats st = redis->Stats();
  return Json{{"enabled", true},     {"breaker", resilience::BreakerStateName(st.breaker)},
              {"hits", st.hits},     {"misses", st.misses},
              {"errors", st.errors}, {"bypassed", st.bypassed}};
}

Json TmCacheJson(const tm::ResultCacheStats& st) {
  return Json{{"l1_hits", st.l1_hits},   {"l2_hits", st.l2_hits},    {"misses", st.misses},
              {"bypassed", st.bypassed}, {"entries", st.l1_entries}, {"bytes", st.l1_bytes}};
}

Json GlossaryCacheJson(const terms::GlossaryService* glossaries) {
  terms::GlossaryService::CacheStats st;
  if (glossaries != nullptr) st = glossaries->cache_stats();
  return Json{
      {"index_builds", st.builds}, {"l2_hits", st.l2_hits}, {"revalidations", st.revalidations}};
}

absl::StatusOr<Response> Status(const MtState& st, Request&) {
  Json engines = Json::array();
  for (const auto& e : st.router().Engines()) {
    engines.push_back({{"name", e.name},
                       {"kind", mt::EngineKindName(e.kind)},
                       {"breaker", resilience::BreakerStateName(e.breaker)},
                       {"calls", e.calls},
                       {"failures", e.failures},
                       {"segments", e.segments},
                       {"fast_mode", e.slow},
                       {"slow_calls", e.slow_calls},
                       {"passed_over", e.passed_over}});
  }
  mt::RouterStats c = st.router().Stats();
  Json replicas = Json::array();
  for (const auto& r : st.services.db->Replicas()) {
    replicas.push_back({{"name", r.name},
                        {"lag_seconds", r.lag_seconds},
                        {"reachable", r.reachable},
                        {"in_rotation", r.in_rotation}});
  }
  return JsonResponse(200, Json{{"degradation", LevelJson(st.services.degradation->Current())},
                                {"engines", engines},
                                {"database", {{"replicas", replicas}}},
                                {"l2_cache", L2Json(st.services.redis)},
                                {"tm_cache", TmCacheJson(st.services.tm->CacheStats())},
                                {"glossary_cache", GlossaryCacheJson(st.services.glossaries)},
                                {"tm_index", TmIndexJson(st.services)},
                                {"cache",
                                 {{"entries", c.cache_entries},
                                  {"bytes", c.cache_bytes},
                                  {"hits", c.cache_hits},
                                  {"misses", c.cache_misses},
                                  {"coalesced", c.coalesced}}}});
}

Json PolicyJson(const storage::EnginePolicyRecord& p) {
  return Json{{"name", p.name}, {"engines", p.engines}, {"updated_at", Rfc3339(p.updated_at)}};
}

absl::StatusOr<Response> PutPolicy(const MtState& st, Request& req) {
  VERSO_RETURN_IF_ERROR(CheckName("name", req.params.at("name")));
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  const Json* engines = f.Array("engines", true);
  VERSO_RETURN_IF_ERROR(f.Finish());
  storage::EnginePolicyRecord p;
  p.tenant = req.principal.tenant;
  p.name = req.params.at("name");
  p.updated_at = st.services.clock->Now();
  if (engines->empty()) return absl::InvalidArgumentError("engines: name at least one engine");
  VERSO_ASSIGN_OR_RETURN(p.engines, EngineList(*engines, st.router().EngineNames()));
  VERSO_RETURN_IF_ERROR(st.policies().PutPolicy(p));
  st.services.translate->PolicyChanged(p.tenant, p.name);
  return JsonResponse(200, PolicyJson(p));
}

absl::StatusOr<Response> ListPolicies(const MtState& st, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Page page, ReadPage(req, 100));
  VERSO_ASSIGN_OR_RETURN(std::vector<storage::EnginePolicyRecord> list,
                         st.policies().ListPolicies(req.principal.tenant));
  Json next;
  Json arr = Json::array();
  for (const auto* p : PageOf(
           list, page, [](const storage::EnginePolicyRecord& x) { return x.name; }, &next)) {
    arr.push_back(PolicyJson(*p));
  }
  return JsonResponse(
      200,
      Json{{"policies", arr}, {"next_cursor", next}, {"default_chain", st.router().EngineNames()}});
}

absl::StatusOr<Response> GetPolicy(const MtState& st, Request& req) {
  VERSO_ASSIGN_OR_RETURN(storage::EnginePolicyRecord p,
                         st.policies().GetPolicy(req.principal.tenant, req.params.at("name")));
  return JsonResponse(200, PolicyJson(p));
}

absl::StatusOr<Response> DeletePolicy(const MtState& st, Request& req) {
  VERSO_RETURN_IF_ERROR(st.policies().DeletePolicy(req.principal.tenant, req.params.at("name")));
  st.services.translate->PolicyChanged(req.principal.tenant, req.params.at("name"));
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

// ---- DeepL-compatible API ----

// Without source_lang, the language of the texts (CLD2), as DeepL does; "" when it cannot tell.
std::string DetectSource(const std::vector<std::string>& texts) {
  std::string all;
  for (const auto& t : texts) StrAppend(&all, t, "\n");
  const text::DetectedLanguage found = text::DetectLanguage(all);
  // CLD2 guesses English for text without letters ("??"): not a guess to act on.
  const bool letters = std::any_of(all.begin(), all.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x80 || absl::ascii_isalpha(c);
  });
  return found.reliable || letters ? found.tag : "";
}

absl::StatusOr<Response> DeepLTranslate(const MtState& st, Request& req) {
  auto p = ReadParams(req);
  if (!p.ok()) return DeepLError(400, p.status().message());
  std::vector<std::string> texts = p->All("text");
  if (texts.empty()) return DeepLError(400, "Parameter 'text' not specified.");
  if (texts.size() > kMaxDeepLTexts) {
    return DeepLError(400, StrCat("Too many texts: at most ", kMaxDeepLTexts, " per request."));
  }
  if (!p->Has("target_lang")) return DeepLError(400, "Value for 'target_lang' not supported.");
  std::string source_lang = p->Get("source_lang", "");
  if (source_lang.empty()) source_lang = DetectSource(texts);
  if (source_lang.empty()) {
    return DeepLError(400, "The source language could not be detected; give 'source_lang'.");
  }
  auto source = LanguageTag("source_lang", source_lang);
  auto target = LanguageTag("target_lang", p->Get("target_lang"));
  if (!source.ok()) return DeepLError(400, source.status().message());
  if (!target.ok()) return DeepLError(400, target.status().message());
  mt::TranslateInput in;
  in.tenant = req.principal.tenant;
  in.source_lang = *source;
  in.target_lang = *target;
  int64_t characters = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string& t = texts[i];
    if (!text::IsValidUtf8(t)) return DeepLError(400, "Texts must be UTF-8.");
    // With tag_handling=xml/html the tags are kept as inline codes; without, tags written in
    // the text are kept as they are too.
    in.texts.push_back(text::EscapeText(t));
    // Control characters (NUL ends a segment in an engine's stream) and oversized texts, as
    // /v1/translate refuses them.
    if (absl::Status s = tm::ValidateText(in.texts.back(), StrCat("text[", i, "]")); !s.ok()) {
      return DeepLError(400, s.message());
    }
    characters += static_cast<int64_t>(text::CodePointCount(t));
  }
  in.deadline = st.Deadline();
  auto result = st.services.translate->Translate(in);
  if (!result.ok()) {
    if (absl::IsUnavailable(result.status())) st.refusals->Inc();
    return DeepLError(result.status());
  }
  st.Count(in.tenant, characters);
  Json out = Json::array();
  for (size_t i = 0; i < texts.size(); ++i) {
    const mt::SegmentResult& seg = result->segments[i];
    (seg.origin == "tm" ? st.segments_tm : st.segments_mt)->Inc();
    out.push_back({{"detected_source_language", AsciiUpper(text::PrimaryLanguage(in.source_lang))},
                   {"text", text::PlainText(seg.text)},
                   {"billed_characters", text::CodePointCount(texts[i])}});
  }
  return JsonResponse(200, Json{{"translations", out}});
}

absl::StatusOr<Response> DeepLLanguages(const MtState& st, Request& req) {
  auto p = ReadParams(req);
  if (!p.ok()) return DeepLError(400, p.status().message());
  std::string type = p->Get("type", "source");
  if (type != "source" && type != "target") {
    return DeepLError(400, "Value for 'type' not supported.");
  }
  // An extension DeepL's API lacks: its lists cannot say which source reaches which target, so
  // "type=target&source_lang=EN" lists only the targets EN translates into.
  std::string from = p->Get("source_lang", "");
  if (!from.empty()) {
    auto tag = text::CanonicalLanguageTag(from);
    if (!tag.ok()) return DeepLError(400, "Value for 'source_lang' not supported.");
    from = text::PrimaryLanguage(*tag);
  }
  Json out = Json::array();
  for (const auto& tag : Languages(&st.router(), type == "source", from)) {
    Json l = {{"language", AsciiUpper(tag)}, {"name", text::LanguageName(tag)}};
    if (type == "target") l["supports_formality"] = false;
    out.push_back(l);
  }
  return JsonResponse(200, out);
}

absl::StatusOr<Response> DeepLUsage(const MtState& st, Request& req) {
  auto p = ReadParams(req);
  if (!p.ok()) return DeepLError(400, p.status().message());
  return JsonResponse(200, Json{{"character_count", st.Characters(req.principal.tenant)},
                                {"character_limit", kUnlimitedCharacters}});
}

// ---- Apertium-APy-compatible API ----

Response ApyError(int status, absl::string_view details) {
  return JsonResponse(status, Json{{"responseData", nullptr},
                                   {"responseDetails", std::string(details)},
                                   {"responseStatus", status}});
}

// A route of the APy-compatible API: the key as the query parameter `key` or "Authorization:
// Bearer KEY", checked by the server before the body; failures in APy's shape.
Route ApyRoute(Route route) {
  route.scope = std::string(auth::kScopeTranslate);
  route.audited = false;  // translation only
  route.token = [](const Request& req) {
    std::string_view authz = req.Header("authorization");
    if (authz.substr(0, 7) == "Bearer ") return std::string(StripAsciiWhitespace(authz.substr(7)));
    return req.Query("key").value_or("");
  };
  route.auth_error = [](const absl::Status& status, absl::Duration retry) {
    const int code = absl::IsResourceExhausted(status)  ? 429
                     : absl::IsPermissionDenied(status) ? 403
                                                        : 401;
    Response r = ApyError(code, status.message());
    if (code == 429) r.headers.emplace_back("Retry-After", RetryAfterSeconds(retry));
    return r;
  };
  route.query = {"*"};  // APy reads parameters from the query or the form body
  return route;
}

// APy tools expect Apertium: the built-in engine answers when it is configured.
std::vector<std::string> ApyChain(const MtState& st) {
  std::vector<std::string> names = st.router().EngineNames();
  if (std::find(names.begin(), names.end(), "apertium") != names.end()) return {"apertium"};
  return {};
}

absl::StatusOr<Response> ApyTranslate(const MtState& st, Request& req) {
  auto p = ReadParams(req);
  if (!p.ok()) return ApyError(400, p.status().message());
  std::string langpair = p->Get("langpair");
  size_t bar = langpair.find('|');
  if (bar == std::string::npos) {
    return ApyError(400, "Missing or bad langpair: expected e.g. langpair=eng|spa");
  }
  if (!p->Has("q")) return ApyError(400, "Missing q argument");
  auto source = LanguageTag("langpair", langpair.substr(0, bar));
  auto target = LanguageTag("langpair", langpair.substr(bar + 1));
  if (!source.ok() || !target.ok()) return ApyError(400, "That pair is invalid");
  std::string q = p->Get("q");
  if (!text::IsValidUtf8(q)) return ApyError(400, "q is not valid UTF-8");
  mt::TranslateInput in;
  in.tenant = req.principal.tenant;
  in.source_lang = *source;
  in.target_lang = *target;
  in.texts = {text::EscapeText(q)};
  if (absl::Status s = tm::ValidateText(in.texts[0], "q"); !s.ok()) {
    return ApyError(400, s.message());
  }
  in.engines = ApyChain(st);
  in.deadline = st.Deadline();
  auto result = st.services.translate->Translate(in);
  if (!result.ok()) {
    if (absl::IsInvalidArgument(result.status()))
      return ApyError(400, "That pair is not installed");
    if (absl::IsUnavailable(result.status())) {
      st.refusals->Inc();
      return ApyError(503, result.status().message());
    }
    return ApyError(500, result.status().message());
  }
  const mt::SegmentResult& seg = result->segments[0];
  (seg.origin == "tm" ? st.segments_tm : st.segments_mt)->Inc();
  st.Count(in.tenant, static_cast<int64_t>(text::CodePointCount(q)));
  std::string out = text::PlainText(seg.text);
  if (p->Get("markUnknown", "yes") != "no") out = MarkUnknown(out, seg.unknown_words);
  return JsonResponse(200, Json{{"responseData", {{"translatedText", out}}},
                                {"responseDetails", nullptr},
                                {"responseStatus", 200}});
}

absl::StatusOr<Response> ApyListPairs(const MtState& st, Request& req) {
  auto p = ReadParams(req);
  if (!p.ok()) return ApyError(400, p.status().message());
  std::vector<std::string> chain = ApyChain(st);
  Json out = Json::array();
  std::set<std::string> seen;
  for (const auto& [name, pairs] : st.router().PairsByEngine()) {
    if (!chain.empty() && name != chain[0]) continue;
    for (const auto& pair : pairs) {
      std::string s = ApertiumCode(pair.source), t = ApertiumCode(pair.target);
      if (!seen.insert(s + "|" + t).second) continue;
      out.push_back({{"sourceLanguage", s}, {"targetLanguage", t}});
    }
  }
  return JsonResponse(
      200, Json{{"responseData", out}, {"responseDetails", nullptr}, {"responseStatus", 200}});
}

}  // namespace

void AddMtRoutes(Router* router, const Services& s) {
  auto state = std::make_shared<MtState>();
  state->services = s;
  if (s.review_cache_bytes > 0) {
    state->reviews = std::make_unique<ReviewCache>(s.review_cache_bytes, s.clock);
  }
  RegisterMetrics(state.get(), s);
  std::shared_ptr<const MtState> c = state;
  const std::vector<std::string> json = {"application/json"};
  const std::vector<std::string> forms = {"application/x-www-form-urlencoded", "application/json"};
  const std::vector<std::string> form = {"application/x-www-form-urlencoded"};
  using B = Route::Body;
  using E = Route::Exec;
  // clang-format off
  const std::vector<Route> routes = {
    {.method = "POST",   .pattern = "/v1/translate", .scope = "translate", .body = B::kJson, .content_types = json, .exec = E::kTryInline, .retry = E::kWaits, .handler = Bind(c, Translate), .audited = false},
    {.method = "GET",    .pattern = "/v1/status", .handler = Bind(c, Status)},
    {.method = "PUT",    .pattern = "/v1/mt/policies/{name}", .scope = "admin", .body = B::kJson, .content_types = json, .handler = Bind(c, PutPolicy)},
    {.method = "GET",    .pattern = "/v1/mt/policies", .scope = "translate", .handler = Bind(c, ListPolicies), .query = {"limit", "cursor"}},
    {.method = "GET",    .pattern = "/v1/mt/policies/{name}", .scope = "translate", .handler = Bind(c, GetPolicy)},
    {.method = "DELETE", .pattern = "/v1/mt/policies/{name}", .scope = "admin", .handler = Bind(c, DeletePolicy)},
    // DeepL-compatible
    DeepLRoute({.method = "POST", .pattern = "/v2/translate", .body = B::kJson, .content_types = forms, .exec = E::kWaits, .handler = Bind(c, DeepLTranslate)}),
    DeepLRoute({.method = "GET",  .pattern = "/v2/languages", .handler = Bind(c, DeepLLanguages)}),
    DeepLRoute({.method = "POST", .pattern = "/v2/languages", .body = B::kJson, .content_types = forms, .handler = Bind(c, DeepLLanguages)}),
    DeepLRoute({.method = "GET",  .pattern = "/v2/usage", .handler = Bind(c, DeepLUsage)}),
    DeepLRoute({.method = "POST", .pattern = "/v2/usage", .body = B::kJson, .content_types = forms, .handler = Bind(c, DeepLUsage)}),
    // Apertium-APy-compatible
    ApyRoute({.method = "GET",  .pattern = "/translate", .exec = E::kWaits, .handler = Bind(c, ApyTranslate)}),
    ApyRoute({.method = "POST", .pattern = "/translate", .body = B::kJson, .content_types = form, .exec = E::kWaits, .handler = Bind(c, ApyTranslate)}),
    ApyRoute({.method = "GET",  .pattern = "/listPairs", .handler = Bind(c, ApyListPairs)}),
  };
  // clang-format on
  for (const Route& r : routes) router->Add(r);
}

}  // namespace verso::api
