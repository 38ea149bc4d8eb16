// LLM adapters: OpenAI Chat Completions, Anthropic Messages, Google Gemini generateContent.
#include <nlohmann/json.hpp>

#include "common/json.h"
#include "common/status.h"
#include "common/strings.h"
#include "mt/mt.h"
#include "mt/providers/common.h"
#include "net/http_client.h"

namespace verso::mt {
namespace {

using json = nlohmann::json;
using net::HttpRequest;
using net::HttpResponse;
using providers::HttpError;
using providers::Malformed;
using providers::TrimSlash;

class LlmEngine : public Engine {
 public:
  explicit LlmEngine(ProviderOptions o) : o_(std::move(o)) { o_.base_url = TrimSlash(o_.base_url); }
  const std::string& name() const override { return o_.name; }
  EngineKind kind() const override { return EngineKind::kLlm; }
  std::vector<LanguagePair> Pairs() const override { return o_.pairs; }

  absl::StatusOr<std::vector<Translation>> Translate(const TranslateRequest& request) override {
    if (request.texts.empty()) return std::vector<Translation>{};
    VERSO_ASSIGN_OR_RETURN(std::string answer,
                           Ask(providers::LlmSystemPrompt(request),
                               providers::LlmUserPrompt(request), true, request.deadline));
    VERSO_ASSIGN_OR_RETURN(std::vector<std::string> texts,
                           providers::ParseLlmAnswer(o_.name, answer, request));
    return providers::MakeTranslations(std::move(texts), o_.name, o_.model);
  }

  absl::StatusOr<std::string> Complete(const std::string& system, const std::string& user,
                                       absl::Time deadline) override {
    return Ask(system, user, false, deadline);
  }

 protected:
  // One call; `json_answer` asks for a JSON object where the API can.
  absl::StatusOr<std::string> Ask(const std::string& system, const std::string& user,
                                  bool json_answer, absl::Time deadline) {
    HttpRequest http = Build(system, user, json_answer);
    http.deadline = deadline;
    auto response = net::Send(http);
    if (!response.ok())
      return absl::Status(response.status().code(),
                          StrCat(o_.name, ": ", response.status().message()));
    if (response->status != 200) return Error(*response);
    json body = ParseAnswerJson(response->body);
    if (body.is_discarded()) return Malformed(o_.name, "the response is not JSON");
    return Answer(body);
  }

  virtual HttpRequest Build(const std::string& system, const std::string& user,
                            bool json_answer) const = 0;
  // The model's text from a 200 response.
  virtual absl::StatusOr<std::string> Answer(const json& body) const = 0;
  virtual absl::Status Error(const HttpResponse& r) const {
    return HttpError(o_.name, r, o_.api_key);
  }

  ProviderOptions o_;
};

// https://platform.openai.com/docs/api-reference/chat/create
class OpenAiEngine : public LlmEngine {
 public:
  using LlmEngine::LlmEngine;

 protected:
  HttpRequest Build(const std::string& system, const std::string& user,
                    bool json_answer) const override {
    json body = {
        {"model", o_.model},
        {"temperature", 0},
        {"messages", json::array({{{"role", "system"}, {"content", system}},
                                  {{"role", "user"}, {"content", user}}})},
    };
    if (json_answer) body["response_format"] = {{"type", "json_object"}};
    HttpRequest h;
    h.url = o_.base_url + "/chat/completions";
    h.headers = {{"Content-Type", "application/json"}};
    if (!o_.api_key.empty()) h.headers.push_back({"Authorization", "Bearer " + o_.api_key});
    h.body = DumpJson(body);
    return h;
  }

  absl::StatusOr<std::string> Answer(const json& body) const override {
    if (!body.contains("choices") || !body["choices"].is_array() || body["choices"].empty()) {
      return Malformed(o_.name, "no choices");
    }
    const json& choice = body["choices"][0];
    if (choice.value("finish_reason", "") == "length") {
      return Malformed(o_.name, "the answer was cut off at the token limit");
    }
    if (!choice.contains("message") || !choice["message"].contains("content") ||
        !choice["message"]["content"].is_string()) {
      return Malformed(o_.name, "no message content");
    }
    return choice["message"]["content"].get<std::string>();
  }

  absl::Status Error(const HttpResponse& r) const override {
    // A 429 is a rate limit, unless the account is out of quota: retrying cannot help then.
    json body = ParseAnswerJson(r.body);
    if (r.status == 429 && !body.is_discarded() && body.contains("error") &&
        body["error"].is_object() && body["error"].value("code", "") == "insufficient_quota") {
      return absl::FailedPreconditionError(
          StrCat(o_.name, ": HTTP 429: quota exhausted: ",
                 providers::Excerpt(body["error"].value("message", ""), o_.api_key)));
    }
    return HttpError(o_.name, r, o_.api_key);
  }
};

// https://docs.anthropic.com/en/api/messages
class AnthropicEngine : public LlmEngine {
 public:
  using LlmEngine::LlmEngine;

 protected:
  HttpRequest Build(const std::string& system, const std::string& user, bool) const override {
    json body = {
        {"model", o_.model},
        {"max_tokens", 8192},
        {"temperature", 0},
        {"system", system},
        {"messages", json::array({{{"role", "user"}, {"content", user}}})},
    };
    HttpRequest h;
    h.url = o_.base_url + "/v1/messages";
    h.headers = {{"Content-Type", "application/json"},
                 {"x-api-key", o_.api_key},
                 {"anthropic-version", "2023-06-01"}};
    h.body = DumpJson(body);
    return h;
  }

  absl::StatusOr<std::string> Answer(const json& body) const override {
    if (body.value("stop_reason", "") == "max_tokens") {
      return Malformed(o_.name, "the answer was cut off at the token limit");
    }
    if (!body.contains("content") || !body["content"].is_array()) {
      return Malformed(o_.name, "no content");
    }
    std::string text;
    for (const json& block : body["content"]) {
      if (block.value("type", "") == "text" && block.contains("text") &&
          block["text"].is_string()) {
        text += block["text"].get<std::string>();
      }
    }
    if (text.empty()) return Malformed(o_.name, "no text block");
    return text;
  }
};

// https://ai.google.dev/api/generate-content
class GeminiEngine : public LlmEngine {
 public:
  using LlmEngine::LlmEngine;

 protected:
  HttpRequest Build(const std::string& system, const std::string& user,
                    bool json_answer) const override {
    json body = {
        {"systemInstruction", {{"parts", json::array({{{"text", system}}})}}},
        {"contents", json::array({{{"role", "user"}, {"parts", json::array({{{"text", user}}})}}})},
        {"generationConfig", {{"temperature", 0}}},
    };
    if (json_answer) body["generationConfig"]["responseMimeType"] = "application/json";
    HttpRequest h;
    // The key goes in a header: URLs end up in proxies' and servers' logs.
    h.url = StrCat(o_.base_url, "/models/", o_.model, ":generateContent");
    h.headers = {{"Content-Type", "application/json"}, {"x-goog-api-key", o_.api_key}};
    h.body = DumpJson(body);
    return h;
  }

  absl::StatusOr<std::string> Answer(const json& body) const override {
    if (!body.contains("candidates") || !body["candidates"].is_array() ||
        body["candidates"].empty()) {
      return Malformed(o_.name, "no candidates");
    }
    const json& c = body["candidates"][0];
    std::string finish = c.value("finishReason", "");
    if (finish == "MAX_TOKENS")
      return Malformed(o_.name, "the answer was cut off at the token limit");
    if (finish == "SAFETY" || finish == "RECITATION") {
      return Malformed(o_.name, StrCat("the answer was withheld (", finish, ")"));
    }
    std::string text;
    if (c.contains("content") && c["content"].contains("parts")) {
      for (const json& part : c["content"]["parts"]) {
        if (part.contains("text") && part["text"].is_string())
          text += part["text"].get<std::string>();
      }
    }
    if (text.empty()) return Malformed(o_.name, "no text");
    return text;
  }

  absl::Status Error(const HttpResponse& r) const override {
    // A bad key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID.
    if (r.status == 400 && r.body.find("API_KEY_INVALID") != std::string::npos) {
      return absl::UnauthenticatedError(StrCat(o_.name, ": HTTP 400: API key not valid"));
    }
    return HttpError(o_.name, r, o_.api_key);
  }
};

ProviderOptions WithDefaults(ProviderOptions o, const char* name, const char* url,
                             const char* model) {
  if (o.name.empty()) o.name = name;
  if (o.base_url.empty()) o.base_url = url;
  if (o.model.empty()) o.model = model;
  return o;
}

}  // namespace

std::unique_ptr<Engine> NewOpenAiEngine(ProviderOptions o) {
  return std::make_unique<OpenAiEngine>(
      WithDefaults(std::move(o), "openai", "https://api.openai.com/v1", "gpt-4o-mini"));
}

std::unique_ptr<Engine> NewAnthropicEngine(ProviderOptions o) {
  return std::make_unique<AnthropicEngine>(WithDefaults(
      std::move(o), "anthropic", "https://api.anthropic.com", "claude-3-5-haiku-latest"));
}

std::unique_ptr<Engine> NewGeminiEngine(ProviderOptions o) {
  return std::make_unique<GeminiEngine>(
      WithDefaults(std::move(o), "gemini", "https://generativelanguage.googleapis.com/v1beta",
                   "gemini-1.5-flash"));
}

}  // namespace verso::mt
