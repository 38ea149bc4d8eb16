// NMT adapters: DeepL, LibreTranslate, Apertium APy.
#include <nlohmann/json.hpp>
#include <set>

#include "absl/time/clock.h"
#include "common/json.h"
#include "common/status.h"
#include "common/strings.h"
#include "mt/mt.h"
#include "mt/providers/common.h"
#include "net/http_client.h"
#include "text/text.h"

namespace verso::mt {
namespace {

using json = nlohmann::json;
using net::HttpRequest;
using net::HttpResponse;
using providers::HttpError;
using providers::Malformed;
using providers::TrimSlash;

absl::Status Annotated(std::string_view provider, const absl::Status& s) {
  return absl::Status(s.code(), StrCat(provider, ": ", s.message()));
}

// GET `path` from the provider, a JSON answer (its language list, at start-up).
absl::StatusOr<json> GetJson(const ProviderOptions& o, const std::string& path,
                             std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpRequest h;
  h.method = "GET";
  h.url = o.base_url + path;
  h.headers = std::move(headers);
  h.deadline = absl::Now() + absl::Seconds(10);
  auto r = net::Send(h);
  if (!r.ok()) return Annotated(o.name, r.status());
  if (r->status != 200) return HttpError(o.name, *r, o.api_key);
  json j = ParseAnswerJson(r->body);
  if (j.is_discarded()) return Malformed(o.name, StrCat(path, " is not JSON"));
  return j;
}

bool HasCodes(const std::string& markup) {
  for (const text::Token& t : text::Tokenize(markup)) {
    if (t.kind == text::TokenKind::kTag || t.kind == text::TokenKind::kPlaceholder) return true;
  }
  return false;
}

// ---- DeepL: https://developers.deepl.com/docs/api-reference/translate -----------------------

// DeepL's languages when /v2/languages cannot be asked.
const char* const kDeepLSources[] = {"ar", "bg", "cs", "da", "de", "el", "en", "es", "et", "fi",
                                     "fr", "hu", "id", "it", "ja", "ko", "lt", "lv", "nb", "nl",
                                     "pl", "pt", "ro", "ru", "sk", "sl", "sv", "tr", "uk", "zh"};

class DeepLEngine : public Engine {
 public:
  explicit DeepLEngine(ProviderOptions o) : o_(std::move(o)) {}
  const std::string& name() const override { return o_.name; }
  EngineKind kind() const override { return EngineKind::kNmt; }
  std::vector<LanguagePair> Pairs() const override { return o_.pairs; }

  absl::Status LoadPairs() {
    if (!o_.pairs.empty()) return absl::OkStatus();
    std::vector<std::string> sources, targets;
    for (const char* type : {"source", "target"}) {
      auto j = GetJson(o_, StrCat("/v2/languages?type=", type),
                       {{"Authorization", "DeepL-Auth-Key " + o_.api_key}});
      std::vector<std::string>& out = std::string(type) == "source" ? sources : targets;
      if (!j.ok() || !j->is_array()) continue;
      for (const json& l : *j) {
        auto tag = text::CanonicalLanguageTag(l.value("language", ""));
        if (tag.ok()) out.push_back(*tag);
      }
    }
    if (sources.empty() || targets.empty()) {  // DeepL not reachable now: its documented list
      sources.assign(std::begin(kDeepLSources), std::end(kDeepLSources));
      targets = sources;
      for (const char* t : {"en-GB", "en-US", "pt-BR", "pt-PT", "zh-Hans", "zh-Hant", "es-419"}) {
        targets.push_back(t);
      }
    }
    for (const auto& s : sources) {
      for (const auto& t : targets) {
        if (text::PrimaryLanguage(s) != text::PrimaryLanguage(t)) o_.pairs.push_back({s, t});
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Translation>> Translate(const TranslateRequest& r) override {
    if (r.texts.empty()) return std::vector<Translation>{};
    json body = {
        {"text", r.texts},
        {"source_lang", AsciiUpper(text::PrimaryLanguage(r.source_lang))},
        {"target_lang", Target(r.target_lang)},
        {"tag_handling", "xml"},
        // Inline codes are kept whole: their content is native markup, not text.
        {"ignore_tags", json::array({"bpt", "ept", "ph", "it", "ut"})},
    };
    HttpRequest h;
    h.url = o_.base_url + "/v2/translate";
    h.headers = {{"Content-Type", "application/json"},
                 {"Authorization", "DeepL-Auth-Key " + o_.api_key}};
    h.body = DumpJson(body);
    h.deadline = r.deadline;
    auto resp = net::Send(h);
    if (!resp.ok()) return Annotated(o_.name, resp.status());
    if (resp->status != 200) return HttpError(o_.name, *resp, o_.api_key);
    json j = ParseAnswerJson(resp->body);
    if (j.is_discarded() || !j.contains("translations") || !j["translations"].is_array()) {
      return Malformed(o_.name, "no translations");
    }
    if (j["translations"].size() != r.texts.size()) {
      return Malformed(o_.name, StrCat(j["translations"].size(), " translations for ",
                                       r.texts.size(), " segments"));
    }
    std::vector<std::string> texts;
    for (size_t i = 0; i < r.texts.size(); ++i) {
      const json& t = j["translations"][i];
      if (!t.contains("text") || !t["text"].is_string()) return Malformed(o_.name, "no text");
      std::string s = t["text"].get<std::string>();
      if (!providers::SameCodes(r.texts[i], s)) {
        return Malformed(o_.name, StrCat("translation ", i + 1, " lost inline codes"));
      }
      texts.push_back(std::move(s));
    }
    return providers::MakeTranslations(std::move(texts), o_.name, "deepl");
  }

 private:
  // DeepL wants EN-GB/EN-US and PT-PT/PT-BR as targets, not bare EN or PT.
  static std::string Target(const std::string& tag) {
    std::string lang = text::PrimaryLanguage(tag);
    if (tag.size() > lang.size()) return AsciiUpper(tag);
    if (lang == "en") return "EN-US";
    if (lang == "pt") return "PT-PT";
    return AsciiUpper(lang);
  }

  ProviderOptions o_;
};

// ---- LibreTranslate: https://docs.libretranslate.com -----------------------------------------

class LibreTranslateEngine : public Engine {
 public:
  explicit LibreTranslateEngine(ProviderOptions o) : o_(std::move(o)) {}
  const std::string& name() const override { return o_.name; }
  EngineKind kind() const override { return EngineKind::kNmt; }
  std::vector<LanguagePair> Pairs() const override { return o_.pairs; }

  absl::Status LoadPairs() {
    if (!o_.pairs.empty()) return absl::OkStatus();
    VERSO_ASSIGN_OR_RETURN(json j, GetJson(o_, "/languages"));
    if (!j.is_array()) return Malformed(o_.name, "/languages is not a list");
    for (const json& l : j) {
      auto source = text::CanonicalLanguageTag(l.value("code", ""));
      if (!source.ok() || !l.contains("targets")) continue;
      for (const json& t : l["targets"]) {
        auto target = text::CanonicalLanguageTag(t.is_string() ? t.get<std::string>() : "");
        if (target.ok() && *target != *source) o_.pairs.push_back({*source, *target});
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Translation>> Translate(const TranslateRequest& r) override {
    if (r.texts.empty()) return std::vector<Translation>{};
    bool html = false;
    for (const auto& t : r.texts) html = html || HasCodes(t);
    std::vector<std::string> q;
    for (const auto& t : r.texts) q.push_back(html ? t : text::PlainText(t));
    json body = {{"q", q},
                 {"source", text::PrimaryLanguage(r.source_lang)},
                 {"target", text::PrimaryLanguage(r.target_lang)},
                 {"format", html ? "html" : "text"}};
    if (!o_.api_key.empty()) body["api_key"] = o_.api_key;
    HttpRequest h;
    h.url = o_.base_url + "/translate";
    h.headers = {{"Content-Type", "application/json"}};
    h.body = DumpJson(body);
    h.deadline = r.deadline;
    auto resp = net::Send(h);
    if (!resp.ok()) return Annotated(o_.name, resp.status());
    if (resp->status != 200) return HttpError(o_.name, *resp, o_.api_key);
    json j = ParseAnswerJson(resp->body);
    if (j.is_discarded() || !j.contains("translatedText") || !j["translatedText"].is_array() ||
        j["translatedText"].size() != r.texts.size()) {
      return Malformed(o_.name, "translatedText is not one string per segment");
    }
    std::vector<std::string> texts;
    for (size_t i = 0; i < r.texts.size(); ++i) {
      const json& t = j["translatedText"][i];
      if (!t.is_string()) return Malformed(o_.name, "a translation is not a string");
      std::string s = html ? t.get<std::string>() : text::EscapeText(t.get<std::string>());
      if (!providers::SameCodes(r.texts[i], s)) {
        return Malformed(o_.name, StrCat("translation ", i + 1, " lost inline codes"));
      }
      texts.push_back(std::move(s));
    }
    return providers::MakeTranslations(std::move(texts), o_.name, "libretranslate");
  }

 private:
  ProviderOptions o_;
};

// ---- Apertium APy: https://wiki.apertium.org/wiki/Apertium-apy ------------------------------

class ApyEngine : public Engine {
 public:
  explicit ApyEngine(ProviderOptions o) : o_(std::move(o)) {}
  const std::string& name() const override { return o_.name; }
  EngineKind kind() const override { return EngineKind::kNmt; }
  std::vector<LanguagePair> Pairs() const override { return o_.pairs; }

  absl::Status LoadPairs() {
    VERSO_ASSIGN_OR_RETURN(json j, GetJson(o_, "/listPairs"));
    if (!j.is_object() || !j.contains("responseData") || !j["responseData"].is_array()) {
      return Malformed(o_.name, "/listPairs has no responseData");
    }
    bool declared = !o_.pairs.empty();
    for (const json& p : j["responseData"]) {
      std::string s = p.value("sourceLanguage", ""), t = p.value("targetLanguage", "");
      auto source = text::CanonicalLanguageTag(s);
      auto target = text::CanonicalLanguageTag(t);
      if (!source.ok() || !target.ok()) continue;
      codes_[*source + "|" + *target] = s + "|" + t;
      if (!declared) o_.pairs.push_back({*source, *target});
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Translation>> Translate(const TranslateRequest& r) override {
    std::string langpair = LangPair(r.source_lang, r.target_lang);
    if (langpair.empty()) {
      return absl::FailedPreconditionError(
          StrCat(o_.name, ": no ", r.source_lang, " -> ", r.target_lang, " pair"));
    }
    std::vector<std::string> texts;
    for (const auto& t : r.texts) {
      if (HasCodes(t)) {
        return absl::FailedPreconditionError(
            StrCat(o_.name, ": APy's text mode cannot keep inline codes"));
      }
      HttpRequest h;
      h.url = o_.base_url + "/translate";
      h.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
      h.body = StrCat("langpair=", PercentEncode(langpair),
                      "&markUnknown=no&q=", PercentEncode(text::PlainText(t)));
      h.deadline = r.deadline;
      auto resp = net::Send(h);
      if (!resp.ok()) return Annotated(o_.name, resp.status());
      if (resp->status != 200) return HttpError(o_.name, *resp, o_.api_key);
      json j = ParseAnswerJson(resp->body);
      if (j.is_discarded() || !j.contains("responseData") ||
          !j["responseData"].contains("translatedText") ||
          !j["responseData"]["translatedText"].is_string()) {
        return Malformed(o_.name, "no responseData.translatedText");
      }
      texts.push_back(text::EscapeText(j["responseData"]["translatedText"].get<std::string>()));
    }
    return providers::MakeTranslations(std::move(texts), o_.name, langpair);
  }

 private:
  std::string LangPair(const std::string& source, const std::string& target) const {
    for (const auto& s : {source, text::PrimaryLanguage(source)}) {
      for (const auto& t : {target, text::PrimaryLanguage(target)}) {
        auto it = codes_.find(s + "|" + t);
        if (it != codes_.end()) return it->second;
      }
    }
    return "";
  }

  ProviderOptions o_;
  std::map<std::string, std::string> codes_;  // "en|es" -> "eng|spa"
};

ProviderOptions WithDefaults(ProviderOptions o, const char* name, const char* url) {
  if (o.name.empty()) o.name = name;
  if (o.base_url.empty()) o.base_url = url;
  o.base_url = TrimSlash(o.base_url);
  return o;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> NewDeepLEngine(ProviderOptions o) {
  // Free-plan keys end in ":fx" and use their own host.
  const char* url =
      o.api_key.ends_with(":fx") ? "https://api-free.deepl.com" : "https://api.deepl.com";
  auto e = std::make_unique<DeepLEngine>(WithDefaults(std::move(o), "deepl", url));
  VERSO_RETURN_IF_ERROR(e->LoadPairs());
  return e;
}

absl::StatusOr<std::unique_ptr<Engine>> NewLibreTranslateEngine(ProviderOptions o) {
  auto e = std::make_unique<LibreTranslateEngine>(
      WithDefaults(std::move(o), "libretranslate", "https://libretranslate.com"));
  VERSO_RETURN_IF_ERROR(e->LoadPairs());
  return e;
}

absl::StatusOr<std::unique_ptr<Engine>> NewApyEngine(ProviderOptions o) {
  auto e = std::make_unique<ApyEngine>(WithDefaults(std::move(o), "apy", "http://127.0.0.1:2737"));
  VERSO_RETURN_IF_ERROR(e->LoadPairs());
  return e;
}

}  // namespace verso::mt
