#include "mt/providers/common.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/json.h"
#include "common/strings.h"
#include "resilience/resilience.h"
#include "text/text.h"

namespace verso::mt::providers {

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

absl::Status Malformed(std::string_view provider, std::string_view why) {
  return absl::InternalError(StrCat(provider, ": malformed answer (", why, ")"));
}

namespace {

using json = nlohmann::json;

// The provider's own message, wherever its error format keeps it.
std::string ProviderMessage(std::string_view body) {
  json j = ParseAnswerJson(body);
  if (j.is_discarded()) return std::string(body);
  if (j.is_object()) {
    if (j.contains("error")) {
      const json& e = j["error"];
      if (e.is_string()) return e.get<std::string>();  // LibreTranslate
      if (e.is_object() && e.contains("message") && e["message"].is_string()) {
        return e["message"].get<std::string>();  // OpenAI, Anthropic, Gemini
      }
    }
    if (j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
    if (j.contains("responseDetails") && j["responseDetails"].is_string()) {
      return j["responseDetails"].get<std::string>();  // APy
    }
  }
  return std::string(body);
}

std::optional<absl::Duration> ParseRetryAfter(const HttpResponse& r) {
  auto it = r.headers.find("retry-after");
  if (it == r.headers.end()) return std::nullopt;
  int64_t seconds = 0;
  bool digits = !it->second.empty();
  for (char c : it->second) {
    if (c < '0' || c > '9') {
      digits = false;
      break;
    }
    seconds = seconds * 10 + (c - '0');
  }
  if (digits) return absl::Seconds(seconds);
  // An HTTP date: wait until then.
  absl::Time when;
  std::string err;
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S", it->second.substr(0, 25), &when, &err)) {
    return std::max(absl::ZeroDuration(), when - absl::Now());
  }
  return std::nullopt;
}

// Inline codes and placeholders of a markup string, sorted.
std::vector<std::string> Codes(std::string_view markup) {
  std::vector<std::string> codes;
  for (const text::Token& t : text::Tokenize(markup)) {
    if (t.kind == text::TokenKind::kTag || t.kind == text::TokenKind::kPlaceholder) {
      codes.push_back(t.key);
    }
  }
  std::sort(codes.begin(), codes.end());
  return codes;
}

}  // namespace

std::string Redact(std::string s, std::string_view secret) {
  if (secret.size() < 4) return s;
  for (size_t at; (at = s.find(secret)) != std::string::npos;)
    s.replace(at, secret.size(), "[redacted]");
  return s;
}

std::string Excerpt(std::string_view text, std::string_view secret) {
  std::string s = Redact(std::string(text), secret);
  if (s.size() > 300) {
    s.resize(300);
    s += "...";
  }
  return s;
}

absl::Status HttpError(std::string_view provider, const HttpResponse& r, std::string_view secret,
                       std::string_view detail) {
  std::string message =
      StrCat(provider, ": HTTP ", r.status, ": ",
             detail.empty() ? Excerpt(ProviderMessage(r.body), secret) : std::string(detail));
  int s = r.status;
  if (s == 429) {
    absl::Status status = absl::ResourceExhaustedError(message);
    if (auto after = ParseRetryAfter(r)) status = resilience::WithRetryAfter(status, *after);
    return status;
  }
  if (s == 408 || s >= 500) return absl::UnavailableError(message);  // 529: Anthropic overloaded
  if (s == 401) return absl::UnauthenticatedError(message);
  if (s == 403) return absl::PermissionDeniedError(message);
  return absl::FailedPreconditionError(message);  // 402, 456 (DeepL quota), other 4xx
}

bool SameCodes(std::string_view source, std::string_view translation) {
  return Codes(source) == Codes(translation);
}

std::string LlmSystemPrompt(const TranslateRequest& r) {
  std::string p = StrCat(
      "You are a professional translator. Translate each segment from ", r.source_lang, " to ",
      r.target_lang,
      " (BCP 47 language tags).\n"
      "Rules:\n"
      "- Segments are XML-escaped text: keep &amp; &lt; &gt; escaped.\n"
      "- Inline tags (<bpt>, <ept>, <ph>, <it>, <ut>, <x/>, <bx/>, <ex/>, <g>, <hi>, <mrk>) and "
      "placeholders (%s, %1$d, {name}, {{name}}, ${name}) must appear in the translation "
      "exactly as in the source, each once; move them only where the target language needs it. "
      "Never translate text inside <bpt>, <ept>, <ph>, <it> or <ut>.\n"
      "- Translate every segment on its own, in order; never merge, split, skip or explain.\n"
      "- Answer with one JSON object and nothing else: {\"translations\": [\"...\", ...]} with "
      "exactly one string per segment.\n");
  if (!r.glossary.empty()) {
    p += "- Use these terms (source => target):\n";
    for (const auto& t : r.glossary) p += StrCat("  ", t.source, " => ", t.target, "\n");
  }
  return p;
}

std::string LlmUserPrompt(const TranslateRequest& r) {
  json j;
  j["segments"] = r.texts;
  return DumpJson(j);
}

absl::StatusOr<std::vector<std::string>> ParseLlmAnswer(std::string_view provider,
                                                        std::string_view answer,
                                                        const TranslateRequest& r) {
  auto malformed = [&](std::string_view why) { return Malformed(provider, why); };
  json j = ParseAnswerJson(answer);
  if (j.is_discarded() || !j.is_object()) return malformed("not a JSON object");
  if (!j.contains("translations") || !j["translations"].is_array()) {
    return malformed("no \"translations\" array");
  }
  const json& t = j["translations"];
  if (t.size() != r.texts.size()) {
    return malformed(StrCat(t.size(), " translations for ", r.texts.size(), " segments"));
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (!t[i].is_string()) return malformed(StrCat("translation ", i + 1, " is not a string"));
    std::string s = t[i].get<std::string>();
    if (!text::ParseMarkup(s).ok()) {
      return malformed(StrCat("translation ", i + 1, " is not well-formed tagged text"));
    }
    if (!SameCodes(r.texts[i], s)) {
      return malformed(StrCat("translation ", i + 1, " does not keep the segment's inline codes"));
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Translation> MakeTranslations(std::vector<std::string> texts, const std::string& engine,
                                          const std::string& model) {
  std::vector<Translation> out;
  out.reserve(texts.size());
  for (auto& t : texts) {
    Translation tr;
    tr.text = std::move(t);
    tr.engine = engine;
    tr.model = model;
    out.push_back(std::move(tr));
  }
  return out;
}

}  // namespace verso::mt::providers
