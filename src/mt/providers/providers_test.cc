// Each adapter against a local server speaking its provider's wire protocol, errors included.
#include <gtest/gtest.h>

#include <zlib.h>

#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "common/netaddr.h"
#include "common/strings.h"
#include "mt/mt.h"
#include "net/http_client.h"
#include "resilience/resilience.h"
#include "tests/fake_http_server.h"

namespace verso::mt {
namespace {

using json = nlohmann::json;
using test::FakeHttpServer;
using test::FakeRequest;
using test::FakeResponse;

constexpr char kKey[] = "sk-test-0123456789abcdef";

TranslateRequest Req(std::vector<std::string> texts, std::string src = "en",
                     std::string tgt = "es") {
  TranslateRequest r;
  r.source_lang = src;
  r.target_lang = tgt;
  r.texts = std::move(texts);
  r.deadline = absl::Now() + absl::Seconds(10);
  return r;
}

FakeResponse Json(int status, json body,
                  std::vector<std::pair<std::string, std::string>> extra = {}) {
  FakeResponse r;
  r.status = status;
  r.body = body.dump();
  for (auto& h : extra) r.headers.push_back(h);
  return r;
}

void ExpectNoKey(const absl::Status& s) {
  EXPECT_EQ(std::string(s.message()).find(kKey), std::string::npos) << s;
}

// ---- OpenAI ----------------------------------------------------------------------------------

json ChatCompletion(const std::string& content, const std::string& finish = "stop") {
  return {{"id", "chatcmpl-123"},
          {"object", "chat.completion"},
          {"created", 1700000000},
          {"model", "gpt-4o-mini-2024-07-18"},
          {"choices",
           json::array(
               {{{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", content}, {"refusal", nullptr}}},
                 {"logprobs", nullptr},
                 {"finish_reason", finish}}})},
          {"usage", {{"prompt_tokens", 52}, {"completion_tokens", 9}, {"total_tokens", 61}}}};
}

TEST(OpenAiTest, SendsTheChatCompletionsRequestAndParsesTheAnswer) {
  FakeHttpServer server([](const FakeRequest& r) {
    return Json(200,
                ChatCompletion(R"({"translations": ["Hola <x id=\"1\"/> mundo", "Guardar %s"]})"));
  });
  auto e = NewOpenAiEngine({"", server.url() + "/v1", kKey, "gpt-4o-mini", {}});
  auto t = e->Translate(Req({"Hello <x id=\"1\"/> world", "Save %s"}));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ((*t)[0].text, "Hola <x id=\"1\"/> mundo");
  EXPECT_EQ((*t)[1].text, "Guardar %s");
  EXPECT_EQ((*t)[0].engine, "openai");
  EXPECT_EQ((*t)[0].model, "gpt-4o-mini");
  FakeRequest sent = server.requests().at(0);
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.target, "/v1/chat/completions");
  EXPECT_EQ(sent.Header("authorization"), std::string("Bearer ") + kKey);
  json body = json::parse(sent.body);
  EXPECT_EQ(body["model"], "gpt-4o-mini");
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_NE(body["messages"][0]["content"].get<std::string>().find("from en to es"),
            std::string::npos);
  EXPECT_EQ(json::parse(body["messages"][1]["content"].get<std::string>())["segments"][1],
            "Save %s");
}

TEST(OpenAiTest, GlossaryTermsGoIntoThePrompt) {
  FakeHttpServer server([](const FakeRequest&) {
    return Json(200, ChatCompletion(R"({"translations": ["Abra el panel"]})"));
  });
  auto e = NewOpenAiEngine({"", server.url(), kKey, "m", {}});
  TranslateRequest r = Req({"Open the dashboard"});
  r.glossary = {{"dashboard", "panel"}};
  ASSERT_TRUE(e->Translate(r).ok());
  json body = json::parse(server.requests().at(0).body);
  EXPECT_NE(body["messages"][0]["content"].get<std::string>().find("dashboard => panel"),
            std::string::npos);
}

TEST(OpenAiTest, AMalformedAnswerIsAnErrorNotATranslation) {
  for (const std::string content :
       {"Hola mundo", R"({"translations": ["Hola", "sobra"]})", R"({"translation": "Hola"})",
        R"({"translations": [42]})", R"({"translations": ["Hola mundo"]})" /* lost <x/> */,
        "```json\n{\"translations\": [\"Hola <x id=\\\"1\\\"/> mundo\"]}\n```"}) {
    FakeHttpServer server([&](const FakeRequest&) { return Json(200, ChatCompletion(content)); });
    auto e = NewOpenAiEngine({"", server.url(), kKey, "m", {}});
    auto t = e->Translate(Req({"Hello <x id=\"1\"/> world"}));
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInternal) << content;
    EXPECT_TRUE(resilience::IsRetryable(t.status()));
  }
  FakeHttpServer cut([](const FakeRequest&) {
    return Json(200, ChatCompletion(R"({"translations": ["Ho)", "length"));
  });
  auto e = NewOpenAiEngine({"", cut.url(), kKey, "m", {}});
  EXPECT_EQ(e->Translate(Req({"Hello"})).status().code(), absl::StatusCode::kInternal);
}

TEST(OpenAiTest, ErrorsAreMappedAndTheKeyNeverShows) {
  struct Case {
    FakeResponse response;
    absl::StatusCode code;
  };
  std::vector<Case> cases = {
      {Json(401, {{"error",
                   {{"message", std::string("Incorrect API key provided: ") + kKey +
                                    ". You can find your API key at https://platform.openai.com."},
                    {"type", "invalid_request_error"},
                    {"param", nullptr},
                    {"code", "invalid_api_key"}}}}),
       absl::StatusCode::kUnauthenticated},
      {Json(429,
            {{"error",
              {{"message", "Rate limit reached for gpt-4o-mini on requests per min (RPM)"},
               {"type", "requests"},
               {"param", nullptr},
               {"code", "rate_limit_exceeded"}}}},
            {{"retry-after", "20"}}),
       absl::StatusCode::kResourceExhausted},
      {Json(429, {{"error",
                   {{"message",
                     "You exceeded your current quota, please check your plan and billing "
                     "details."},
                    {"type", "insufficient_quota"},
                    {"param", nullptr},
                    {"code", "insufficient_quota"}}}}),
       absl::StatusCode::kFailedPrecondition},
      {Json(500, {{"error",
                   {{"message", "The server had an error while processing your request."},
                    {"type", "server_error"}}}}),
       absl::StatusCode::kUnavailable},
      {Json(503,
            {{"error",
              {{"message", "The engine is currently overloaded."}, {"type", "server_error"}}}}),
       absl::StatusCode::kUnavailable},
  };
  for (const Case& c : cases) {
    FakeHttpServer server([&](const FakeRequest&) { return c.response; });
    auto e = NewOpenAiEngine({"", server.url(), kKey, "m", {}});
    auto t = e->Translate(Req({"Hello"}));
    EXPECT_EQ(t.status().code(), c.code) << t.status();
    ExpectNoKey(t.status());
    EXPECT_NE(
        std::string(t.status().message()).find("openai: HTTP " + std::to_string(c.response.status)),
        std::string::npos)
        << t.status();
    if (c.response.status == 429 && c.code == absl::StatusCode::kResourceExhausted) {
      EXPECT_EQ(resilience::RetryAfter(t.status()), absl::Seconds(20));
    }
  }
}

TEST(ProviderTest, AnUnreachableProviderTimesOutWithinTheDeadline) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r;
    r.hang = true;
    return r;
  });
  auto e = NewOpenAiEngine({"", server.url(), kKey, "m", {}});
  TranslateRequest r = Req({"Hello"});
  r.deadline = absl::Now() + absl::Milliseconds(300);
  auto t = e->Translate(r);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kDeadlineExceeded) << t.status();
  EXPECT_EQ(server.request_count(), 1);
}

// ---- Anthropic -------------------------------------------------------------------------------

// ---- The HTTP client under hostile answers ---------------------------------------------------

std::string Gzip(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// 64 MiB of zeros in ~64 KB of gzip: the client unpacks only up to its cap and stops there.
TEST(HttpClientTest, ACompressedAnswerIsReadOnlyUpToTheCap) {
  const std::string bomb = Gzip(std::string(64 << 20, '\0'));
  ASSERT_LT(bomb.size(), 1u << 20);
  FakeHttpServer server([&](const FakeRequest&) {
    FakeResponse r;
    r.headers = {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}};
    r.body = bomb;
    return r;
  });
  net::HttpRequest req;
  req.url = server.url() + "/v1/chat/completions";
  req.deadline = absl::Now() + absl::Seconds(20);
  req.max_response_bytes = 1 << 20;
  auto resp = net::Send(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 200);
  EXPECT_TRUE(resp->truncated);
  EXPECT_LE(resp->body.size(), 1u << 20);
  EXPECT_GT(resp->body.size(), 0u);
}

// The address policy judges the addresses a name resolves to, when connecting: "localhost" is
// 127.0.0.1 (and ::1), so a public-only policy never opens a connection to it.
TEST(HttpClientTest, TheAddressPolicyIsAppliedToResolvedAddresses) {
  FakeHttpServer server([](const FakeRequest&) { return Json(200, {{"ok", true}}); });
  net::HttpRequest req;
  req.url = StrCat("http://localhost:", server.port(), "/hook");
  req.deadline = absl::Now() + absl::Seconds(10);
  const AddressPolicy public_only;
  req.addresses = &public_only;
  auto refused = net::Send(req);
  EXPECT_TRUE(absl::IsPermissionDenied(refused.status())) << refused.status();
  EXPECT_EQ(refused.status().message(),
            StrCat("localhost:", server.port(), " resolves to an address that is not allowed"));
  EXPECT_EQ(server.request_count(), 0);
  const AddressPolicy local = *AddressPolicy::Parse("127.0.0.1,::1");
  req.addresses = &local;
  auto allowed = net::Send(req);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_EQ(allowed->status, 200);
  EXPECT_EQ(server.request_count(), 1);
}

TEST(AnthropicTest, SendsTheMessagesRequestAndMapsItsErrors) {
  FakeHttpServer server([](const FakeRequest& r) {
    return Json(
        200,
        {{"id", "msg_01XFDUDYJgAACzvnptvVoYEL"},
         {"type", "message"},
         {"role", "assistant"},
         {"model", "claude-3-5-haiku-20241022"},
         {"content", json::array({{{"type", "text"}, {"text", R"({"translations": ["Hola"]})"}}})},
         {"stop_reason", "end_turn"},
         {"stop_sequence", nullptr},
         {"usage", {{"input_tokens", 40}, {"output_tokens", 9}}}});
  });
  auto e = NewAnthropicEngine({"", server.url(), kKey, "claude-3-5-haiku-latest", {}});
  auto t = e->Translate(Req({"Hello"}));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)[0].text, "Hola");
  EXPECT_EQ((*t)[0].engine, "anthropic");
  FakeRequest sent = server.requests().at(0);
  EXPECT_EQ(sent.target, "/v1/messages");
  EXPECT_EQ(sent.Header("x-api-key"), kKey);
  EXPECT_EQ(sent.Header("anthropic-version"), "2023-06-01");
  json body = json::parse(sent.body);
  EXPECT_NE(body["system"].get<std::string>().find("from en to es"), std::string::npos);

  auto error = [](int status, const char* type, const char* message,
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Json(status, {{"type", "error"}, {"error", {{"type", type}, {"message", message}}}},
                headers);
  };
  struct Case {
    FakeResponse response;
    absl::StatusCode code;
  };
  for (const Case& c : std::vector<Case>{
           {error(529, "overloaded_error", "Overloaded"), absl::StatusCode::kUnavailable},
           {error(429, "rate_limit_error",
                  "Number of request tokens has exceeded your per-minute "
                  "rate limit",
                  {{"retry-after", "5"}}),
            absl::StatusCode::kResourceExhausted},
           {error(401, "authentication_error", "invalid x-api-key"),
            absl::StatusCode::kUnauthenticated},
           {error(400, "invalid_request_error",
                  "Your credit balance is too low to access the Anthropic API."),
            absl::StatusCode::kFailedPrecondition},
           {error(500, "api_error", "Internal server error"), absl::StatusCode::kUnavailable}}) {
    FakeHttpServer failing([&](const FakeRequest&) { return c.response; });
    auto f = NewAnthropicEngine({"", failing.url(), kKey, "m", {}});
    auto r = f->Translate(Req({"Hello"}));
    EXPECT_EQ(r.status().code(), c.code) << r.status();
    ExpectNoKey(r.status());
    if (c.response.status == 429) EXPECT_EQ(resilience::RetryAfter(r.status()), absl::Seconds(5));
  }
}

// ---- Gemini ----------------------------------------------------------------------------------

TEST(GeminiTest, SendsGenerateContentWithTheKeyInAHeaderAndMapsErrors) {
  FakeHttpServer server([](const FakeRequest&) {
    return Json(
        200,
        {{"candidates",
          json::array({{{"content",
                         {{"parts", json::array({{{"text", R"({"translations": ["Hola"]})"}}})},
                          {"role", "model"}}},
                        {"finishReason", "STOP"},
                        {"index", 0}}})},
         {"usageMetadata", {{"promptTokenCount", 40}, {"candidatesTokenCount", 8}}},
         {"modelVersion", "gemini-1.5-flash"}});
  });
  auto e = NewGeminiEngine({"", server.url() + "/v1beta", kKey, "gemini-1.5-flash", {}});
  auto t = e->Translate(Req({"Hello"}));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)[0].text, "Hola");
  FakeRequest sent = server.requests().at(0);
  EXPECT_EQ(sent.target, "/v1beta/models/gemini-1.5-flash:generateContent");
  EXPECT_EQ(sent.Header("x-goog-api-key"), kKey);
  EXPECT_EQ(sent.target.find(kKey), std::string::npos);

  struct Case {
    FakeResponse response;
    absl::StatusCode code;
  };
  auto error = [](int status, const char* s, const char* message, json details = json::array()) {
    return Json(
        status,
        {{"error", {{"code", status}, {"message", message}, {"status", s}, {"details", details}}}});
  };
  for (const Case& c : std::vector<Case>{
           {error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                  json::array({{{"@type", "type.googleapis.com/google.rpc.ErrorInfo"},
                                {"reason", "API_KEY_INVALID"},
                                {"domain", "googleapis.com"}}})),
            absl::StatusCode::kUnauthenticated},
           {error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
            absl::StatusCode::kResourceExhausted},
           {error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
            absl::StatusCode::kUnavailable},
           {error(403, "PERMISSION_DENIED", "Permission denied on resource project."),
            absl::StatusCode::kPermissionDenied}}) {
    FakeHttpServer failing([&](const FakeRequest&) { return c.response; });
    auto f = NewGeminiEngine({"", failing.url(), kKey, "m", {}});
    auto r = f->Translate(Req({"Hello"}));
    EXPECT_EQ(r.status().code(), c.code) << r.status();
  }
}

// ---- DeepL -----------------------------------------------------------------------------------

TEST(DeepLTest, LanguagesTranslateAndErrors) {
  int status = 200;
  FakeHttpServer server([&](const FakeRequest& r) {
    if (r.target == "/v2/languages?type=source") {
      return Json(200, json::array({{{"language", "EN"}, {"name", "English"}},
                                    {{"language", "DE"}, {"name", "German"}}}));
    }
    if (r.target == "/v2/languages?type=target") {
      return Json(
          200, json::array({{{"language", "DE"}, {"name", "German"}, {"supports_formality", true}},
                            {{"language", "EN-US"},
                             {"name", "English (American)"},
                             {"supports_formality", false}}}));
    }
    if (status == 456) return Json(456, {{"message", "Quota Exceeded"}});
    if (status == 403) return Json(403, {{"message", "Authorization failure, check auth_key"}});
    if (status == 429) return Json(429, {{"message", "Too many requests"}});
    return Json(200, {{"translations",
                       json::array({{{"detected_source_language", "DE"},
                                     {"text", "Hello <ph x=\"1\">&lt;br/&gt;</ph> world"}}})}});
  });
  auto e = NewDeepLEngine({"", server.url(), "deepl-key-123:fx", "", {}});
  ASSERT_TRUE(e.ok()) << e.status();
  std::vector<LanguagePair> pairs = (*e)->Pairs();
  EXPECT_TRUE(SupportsPair(pairs, "de", "en-US"));
  EXPECT_TRUE(SupportsPair(pairs, "en", "de"));
  EXPECT_FALSE(SupportsPair(pairs, "en", "fr"));
  auto t = (*e)->Translate(Req({"Hallo <ph x=\"1\">&lt;br/&gt;</ph> Welt"}, "de", "en"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)[0].text, "Hello <ph x=\"1\">&lt;br/&gt;</ph> world");
  FakeRequest sent = server.requests().back();
  EXPECT_EQ(sent.target, "/v2/translate");
  EXPECT_EQ(sent.Header("authorization"), "DeepL-Auth-Key deepl-key-123:fx");
  json body = json::parse(sent.body);
  EXPECT_EQ(body["source_lang"], "DE");
  EXPECT_EQ(body["target_lang"], "EN-US");  // a bare "en" target is not accepted by DeepL
  EXPECT_EQ(body["tag_handling"], "xml");
  status = 456;
  EXPECT_EQ((*e)->Translate(Req({"Hallo"}, "de", "en")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  status = 403;
  auto denied = (*e)->Translate(Req({"Hallo"}, "de", "en"));
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::string(denied.status().message()).find("deepl-key-123"), std::string::npos);
  status = 429;
  EXPECT_EQ((*e)->Translate(Req({"Hallo"}, "de", "en")).status().code(),
            absl::StatusCode::kResourceExhausted);
}

// ---- LibreTranslate --------------------------------------------------------------------------

TEST(LibreTranslateTest, LanguagesTranslateAndErrors) {
  bool fail = false;
  FakeHttpServer server([&](const FakeRequest& r) {
    if (r.target == "/languages") {
      return Json(200,
                  json::array({{{"code", "en"}, {"name", "English"}, {"targets", {"es", "fr"}}},
                               {{"code", "es"}, {"name", "Spanish"}, {"targets", {"en"}}}}));
    }
    if (fail) return Json(403, {{"error", "Invalid API key"}});
    json q = json::parse(r.body)["q"];
    json out = json::array();
    for (auto& s : q) out.push_back(s.get<std::string>() == "a < b" ? "a < b (es)" : "Hola");
    return Json(200, {{"translatedText", out}});
  });
  auto e = NewLibreTranslateEngine({"", server.url(), "lt-key-42", "", {}});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(SupportsPair((*e)->Pairs(), "en", "fr"));
  EXPECT_FALSE(SupportsPair((*e)->Pairs(), "es", "fr"));
  auto t = (*e)->Translate(Req({"Hello", "a &lt; b"}));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)[0].text, "Hola");
  EXPECT_EQ((*t)[1].text, "a &lt; b (es)");  // plain text out, markup back
  json body = json::parse(server.requests().back().body);
  EXPECT_EQ(body["format"], "text");
  EXPECT_EQ(body["api_key"], "lt-key-42");
  fail = true;
  auto denied = (*e)->Translate(Req({"Hello"}));
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(std::string(denied.status().message()).find("Invalid API key"), std::string::npos);
}

// ---- APy -------------------------------------------------------------------------------------

TEST(ApyTest, ListPairsTranslateAndErrors) {
  FakeHttpServer server([](const FakeRequest& r) {
    if (r.target == "/listPairs") {
      return Json(200, {{"responseData",
                         json::array({{{"sourceLanguage", "eng"}, {"targetLanguage", "spa"}}})},
                        {"responseDetails", nullptr},
                        {"responseStatus", 200}});
    }
    if (r.body.find("langpair=eng%7Cspa") == std::string::npos) {
      return Json(400, {{"responseData", nullptr},
                        {"responseDetails", "That pair is not installed"},
                        {"responseStatus", 400}});
    }
    return Json(200, {{"responseData", {{"translatedText", "Hola & adiós"}}},
                      {"responseDetails", nullptr},
                      {"responseStatus", 200}});
  });
  auto e = NewApyEngine({"", server.url(), "", "", {}});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ((*e)->Pairs(), (std::vector<LanguagePair>{{"en", "es"}}));
  auto t = (*e)->Translate(Req({"Hello &amp; goodbye"}));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)[0].text, "Hola &amp; adiós");
  EXPECT_NE(server.requests().back().body.find("q=Hello%20%26%20goodbye"), std::string::npos);
  EXPECT_EQ((*e)->Translate(Req({"Hello"}, "en", "fr")).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace verso::mt
