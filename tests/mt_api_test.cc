// Machine translation over HTTP, end to end: the real verso binary with the real Apertium engine,
// and a local server speaking OpenAI's wire protocol in place of the paid provider.
#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/file.h"
#include "tests/fake_http_server.h"
#include "tests/http_client.h"
#include "tests/process.h"
#include "tests/verso_server.h"

namespace verso {
namespace {

using nlohmann::json;
using test::FakeHttpServer;
using test::FakeRequest;
using test::FakeResponse;
using test::Fetch;
using test::HttpResponse;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kOpenAiKey[] = "sk-proj-verso-test-5f2b9c0e7d41a8";

// `echo LINE | apertium -u PAIR`: what the built-in engine must answer.
std::string Apertium(const std::string& pair, const std::string& line) {
  auto r = test::Run({"/bin/sh", "-c", "printf '%s\\n' \"$0\" | apertium -u " + pair, line});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class MtApiTest : public test::ServerTest {
 protected:
  MtApiTest() : ServerTest("mt") {}
  void SetUp() override {
    ServerTest::SetUp();
    admin_ = test::CreateKey(dir_, "acme", "admin");
    translator_ = test::CreateKey(dir_, "acme", "translate");
    reader_ = test::CreateKey(dir_, "acme", "tm:read");
    other_ = test::CreateKey(dir_, "globex", "admin");
  }

  // Starts verso with the OpenAI adapter pointed at `openai` (if any) and its key in a secrets
  // file, and the built-in engine.
  void StartWith(std::vector<std::string> settings, FakeHttpServer* openai = nullptr) {
    if (openai != nullptr) {
      std::ofstream(dir_ + "/secrets.env")
          << "# provider keys\nOPENAI_API_KEY=" << kOpenAiKey << "\n";
      settings.push_back("mt.openai.base_url=" + openai->url() + "/v1");
      settings.push_back("mt.secrets_file=" + dir_ + "/secrets.env");
    }
    Start(std::move(settings));
  }

  HttpResponse Raw(const std::string& method, const std::string& path, const std::string& body,
                   std::vector<std::pair<std::string, std::string>> headers) {
    return Fetch(server_->port(), method, path, body, headers);
  }
  json Call(const std::string& method, const std::string& path, const std::string& key,
            const json& body, int* status) {
    HttpResponse r = Send(method, path, key, body.is_null() ? "" : body.dump());
    *status = r.status;
    return json::parse(r.body, nullptr, false);
  }
  // POST /v1/translate, expecting `want` as the status.
  json Translate(const json& body, int want = 200, const std::string& key = "") {
    int status = 0;
    json r = Call("POST", "/v1/translate", key.empty() ? translator_ : key, body, &status);
    EXPECT_EQ(status, want) << r.dump();
    return r;
  }

  std::string admin_, translator_, reader_, other_;
};

TEST_F(MtApiTest, TheBuiltInEngineTranslatesLikeTheApertiumCommand) {
  Start({});
  const std::string a = "The committee signed the agreement on Tuesday.";
  const std::string b = "Arnold Schwarzenegger met the press & left.";
  json r = Translate({{"source_lang", "en"}, {"target_lang", "es"}, {"segments", {a, b}}});
  ASSERT_EQ(r["translations"].size(), 2u) << r.dump();
  EXPECT_EQ(r["translations"][0]["text"], Apertium("eng-spa", a));
  EXPECT_EQ(r["translations"][1]["text"], Apertium("eng-spa", b));
  EXPECT_EQ(r["translations"][0]["origin"], "mt");
  EXPECT_EQ(r["translations"][0]["engine"], "apertium");
  EXPECT_EQ(r["translations"][0]["model"], "eng-spa");
  EXPECT_EQ(r["translations"][0]["cached"], false);
  EXPECT_EQ(r["translations"][1]["unknown_words"], json::array({"Schwarzenegger"}));
  EXPECT_EQ(r["degradation"], (json{{"level", 0}, {"name", "normal"}, {"message", ""}}));
  // The second time from the cache, the same text.
  json again = Translate({{"source_lang", "en"}, {"target_lang", "es"}, {"segments", {a}}});
  EXPECT_EQ(again["translations"][0]["cached"], true);
  EXPECT_EQ(again["translations"][0]["text"], r["translations"][0]["text"]);

  // Markup: inline codes come back unchanged and in place.
  json m = Translate({{"source_lang", "en-US"},
                      {"target_lang", "es"},
                      {"text_format", "markup"},
                      {"segments",
                       {"Click <bpt i=\"1\">&lt;b&gt;</bpt>Save<ept i=\"1\">&lt;/b&gt;</ept> to "
                        "keep {count} files.<ph x=\"2\">&lt;br/&gt;</ph>"}}});
  std::string t = m["translations"][0]["text"];
  EXPECT_THAT(t, HasSubstr("<bpt i=\"1\">&lt;b&gt;</bpt>"));
  EXPECT_THAT(t, HasSubstr("<ept i=\"1\">&lt;/b&gt;</ept>"));
  EXPECT_THAT(t, HasSubstr("{count}"));
  EXPECT_TRUE(t.ends_with("<ph x=\"2\">&lt;br/&gt;</ph>")) << t;

  // Spanish to Catalan, with three-letter codes.
  const std::string c = "El gobierno aprobó la ley ayer.";
  json sc = Translate({{"source_lang", "spa"}, {"target_lang", "cat"}, {"segments", {c}}});
  EXPECT_EQ(sc["translations"][0]["text"], Apertium("spa-cat", c));
  EXPECT_EQ(sc["translations"][0]["model"], "spa-cat");
}

// The operators' notice (a region failover: the spec's "Temporary latency increase expected")
// reaches every client at the normal level: translate responses' notes and degradation, the
// status, and /metrics.
TEST_F(MtApiTest, AnOperatorsNoticeReachesTranslationsStatusAndMetrics) {
  const std::string notice = "Temporary latency increase expected";
  Start({"degradation.notice=" + notice});
  json r = Translate({{"source_lang", "en"}, {"target_lang", "es"}, {"segments", {"Hello."}}});
  EXPECT_EQ(r["notes"], json::array({notice}));
  EXPECT_EQ(r["degradation"],
            (json{{"level", 0}, {"name", "normal"}, {"message", ""}, {"notice", notice}}));
  int status = 0;
  json st = Call("GET", "/v1/status", "", nullptr, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(st["degradation"]["notice"], notice);
  EXPECT_THAT(Send("GET", "/metrics", "").body, HasSubstr("\nverso_notice 1\n"));
}

// `verso notice set|clear` while the server runs: the stored notice replaces the option's within
// the server's next health round (5 s), without a restart, and the change is in the audit log.
TEST_F(MtApiTest, AStoredNoticeIsShownAndClearedWithoutARestart) {
  Start({"degradation.notice=from the configuration"});
  auto notice_now = [&](const json& want) {
    json st;
    for (int i = 0; i < 150; ++i) {  // up to 15 s: the server reads the setting every 5 s
      int status = 0;
      st = Call("GET", "/v1/status", "", nullptr, &status);
      if (st["degradation"]["notice"] == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "notice never became " << want.dump() << ": " << st.dump();
    return false;
  };
  auto verso = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {VERSO_BINARY, "--data-dir", dir_});
    return test::Run(args);
  };
  test::RunResult set = verso({"notice", "set", "Temporary latency increase expected"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(set.out,
            "Notice set: Temporary latency increase expected; every verso serve shows it within "
            "5 s\n");
  ASSERT_TRUE(notice_now("Temporary latency increase expected"));
  json r = Translate({{"source_lang", "en"}, {"target_lang", "es"}, {"segments", {"Hello."}}});
  EXPECT_EQ(r["notes"], json::array({"Temporary latency increase expected"}));
  ASSERT_EQ(verso({"notice", "clear"}).exit_code, 0);
  ASSERT_TRUE(notice_now(nullptr));  // no notice
  EXPECT_EQ(verso({"notice", "show"}).out, "No notice (cleared)\n");
  // A notice that would break a response's notes is refused, naming why.
  test::RunResult bad = verso({"notice", "set", "two\nlines"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err, "verso: error: the notice holds a control character (a line break?)\n");
  test::RunResult audit = verso({"audit", "list"});
  EXPECT_THAT(audit.out, HasSubstr("\"action\":\"verso notice set\""));
  EXPECT_THAT(audit.out, HasSubstr("\"action\":\"verso notice clear\""));
}

TEST_F(MtApiTest, TranslationMemoryMatchesComeFirst) {
  Start({});
  int status = 0;
  json store = Call("POST", "/v1/tm", admin_,
                    {{"name", "ui"}, {"source_lang", "en"}, {"target_lang", "es"}}, &status);
  ASSERT_EQ(status, 201);
  std::string id = store["id"];
  Call("POST", "/v1/tm/" + id + "/segments", admin_,
       {{"source", "Save the file"}, {"target", "Guarda el fichero"}}, &status);
  ASSERT_EQ(status, 201);
  json r = Translate({{"source_lang", "en"},
                      {"target_lang", "es"},
                      {"tm_store", id},
                      {"segments", {"Save the file", "Open the file"}}});
  ASSERT_EQ(r["translations"].size(), 2u);
  EXPECT_EQ(r["translations"][0]["text"], "Guarda el fichero");
  EXPECT_EQ(r["translations"][0]["origin"], "tm");
  EXPECT_EQ(r["translations"][0]["tm"]["score"], 100);
  EXPECT_FALSE(r["translations"][0].contains("engine"));
  EXPECT_EQ(r["translations"][1]["origin"], "mt");
  EXPECT_EQ(r["translations"][1]["text"], Apertium("eng-spa", "Open the file"));
  // The exact match was used: its usage count and time reach the database within the server's
  // next flush (about a second).
  const std::string segment =
      "/v1/tm/" + id + "/segments/" +
      std::to_string(r["translations"][0]["tm"]["segment_id"].get<int64_t>());
  json used;
  for (int i = 0; i < 100; ++i) {
    used = Call("GET", segment, admin_, nullptr, &status);
    if (used.value("usage_count", 0) > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(used["usage_count"], 1) << used.dump();
  EXPECT_TRUE(used["last_used_at"].is_string()) << used.dump();
  // Another tenant's store is not found, like a missing one.
  json e = Translate({{"source_lang", "en"},
                      {"target_lang", "es"},
                      {"tm_store", id},
                      {"segments", {"Save the file"}}},
                     404, other_);
  EXPECT_EQ(e["error"]["code"], "not_found");
}

TEST_F(MtApiTest, BadRequestsNameTheField) {
  Start({});
  auto code = [&](const json& body, int want) {
    json r = Translate(body, want);
    return r["error"]["message"].get<std::string>();
  };
  EXPECT_EQ(code({{"target_lang", "es"}, {"segments", {"a"}}}, 400), "source_lang: is required");
  EXPECT_THAT(code({{"source_lang", "en"}, {"target_lang", "xx-YY"}, {"segments", {"a"}}}, 422),
              HasSubstr("target_lang: "));
  EXPECT_EQ(code({{"source_lang", "en"}, {"target_lang", "es"}, {"segments", {"a", 3}}}, 400),
            "segments[1]: not a string");
  EXPECT_EQ(code({{"source_lang", "en"}, {"target_lang", "es"}, {"segments", json::array()}}, 422),
            "segments: between 1 and 1000 are needed, got 0");
  EXPECT_THAT(code({{"source_lang", "en"},
                    {"target_lang", "es"},
                    {"text_format", "markup"},
                    {"segments", {"a <b>bold</b>"}}},
                   422),
              HasSubstr("segments[0]: "));
  EXPECT_EQ(
      code({{"source_lang", "en"}, {"target_lang", "es"}, {"segments", {"a"}}, {"x", 1}}, 400),
      "unknown field \"x\"");
  EXPECT_THAT(code({{"source_lang", "en"}, {"target_lang", "de"}, {"segments", {"a"}}}, 422),
              HasSubstr("no engine in the chain (apertium) translates en -> de; it offers "
                        "ca->en, ca->en-US, ca->es, en->ca, "));
  EXPECT_EQ(code({{"source_lang", "en"},
                  {"target_lang", "es"},
                  {"engines", {"systran"}},
                  {"segments", {"a"}}},
                 422),
            "engines[0]: unknown engine \"systran\"; configured engines: apertium");
  // Scope: a tm:read key cannot translate.
  int status = 0;
  Call("POST", "/v1/translate", reader_,
       {{"source_lang", "en"}, {"target_lang", "es"}, {"segments", {"a"}}}, &status);
  EXPECT_EQ(status, 403);
  Call("POST", "/v1/translate", "", {{"source_lang", "en"}}, &status);
  EXPECT_EQ(status, 401);
}

TEST_F(MtApiTest, ChainPoliciesAndAFailingProviderThatNeverLeaksItsKey) {
  std::atomic<bool> failing{false};
  FakeResponse unavailable;
  unavailable.status = 401;
  unavailable.body = json{{"error",
                           {{"message", std::string("Incorrect API key provided: ") + kOpenAiKey},
                            {"type", "invalid_request_error"},
                            {"code", "invalid_api_key"}}}}
                         .dump();
  FakeHttpServer openai([&](const FakeRequest& r) {
    return test::ChatCompletion(r, kOpenAiKey, failing ? &unavailable : nullptr);
  });
  StartWith({"mt.openai.model=gpt-4o-mini"}, &openai);

  // The default chain starts with the LLM.
  json r = Translate({{"source_lang", "en"}, {"target_lang", "es"}, {"segments", {"Hello"}}});
  EXPECT_EQ(r["translations"][0]["text"], "[es] Hello");
  EXPECT_EQ(r["translations"][0]["engine"], "openai");
  EXPECT_EQ(r["translations"][0]["model"], "gpt-4o-mini");
  EXPECT_EQ(openai.request_count(), 1);

  // A stored policy picks the built-in engine; translators may read policies, not write them.
  int status = 0;
  json p = Call("PUT", "/v1/mt/policies/offline", admin_, {{"engines", {"apertium"}}}, &status);
  EXPECT_EQ(status, 200) << p.dump();
  EXPECT_EQ(p["engines"], json::array({"apertium"}));
  Call("PUT", "/v1/mt/policies/x", translator_, {{"engines", {"apertium"}}}, &status);
  EXPECT_EQ(status, 403);
  json bad = Call("PUT", "/v1/mt/policies/x", admin_, {{"engines", {"apertium", "bing"}}}, &status);
  EXPECT_EQ(status, 422);
  EXPECT_EQ(bad["error"]["message"],
            "engines[1]: unknown engine \"bing\"; configured engines: openai, apertium");
  json list = Call("GET", "/v1/mt/policies", translator_, nullptr, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(list["policies"].size(), 1u);
  EXPECT_EQ(list["default_chain"], json::array({"openai", "apertium"}));
  Call("GET", "/v1/mt/policies/offline", other_, nullptr, &status);
  EXPECT_EQ(status, 404);  // another tenant's policy

  json off = Translate({{"source_lang", "en"},
                        {"target_lang", "es"},
                        {"engine_policy", "offline"},
                        {"segments", {"Good night"}}});
  EXPECT_EQ(off["translations"][0]["engine"], "apertium");
  EXPECT_EQ(off["translations"][0]["text"], Apertium("eng-spa", "Good night"));
  EXPECT_EQ(openai.request_count(), 1);
  Translate({{"source_lang", "en"},
             {"target_lang", "es"},
             {"engine_policy", "nope"},
             {"segments", {"a"}}},
            404);

  // The provider starts refusing the key: requests fall through to the built-in engine with a
  // note and no error, and the key shows nowhere.
  failing = true;
  json fell = Translate({{"source_lang", "en"}, {"target_lang", "es"}, {"segments", {"Welcome"}}});
  EXPECT_EQ(fell["translations"][0]["engine"], "apertium");
  EXPECT_EQ(fell["translations"][0]["text"], Apertium("eng-spa", "Welcome"));
  ASSERT_EQ(fell["notes"].size(), 1u) << fell.dump();
  EXPECT_THAT(fell["notes"][0].get<std::string>(), HasSubstr("openai: HTTP 401"));
  EXPECT_THAT(fell.dump(), Not(HasSubstr(kOpenAiKey)));
  json st = Call("GET", "/v1/status", "", nullptr, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(st["engines"][0]["name"], "openai");
  EXPECT_EQ(st["engines"][0]["failures"], 1);
  EXPECT_EQ(st["engines"][1]["name"], "apertium");
  EXPECT_EQ(st["tm_index"], json({{"mode", "local"}}));

  Call("DELETE", "/v1/mt/policies/offline", admin_, nullptr, &status);
  EXPECT_EQ(status, 204);
  Call("GET", "/v1/mt/policies/offline", admin_, nullptr, &status);
  EXPECT_EQ(status, 404);

  HttpResponse metrics = Raw("GET", "/metrics", "", {});
  EXPECT_THAT(metrics.body, HasSubstr("verso_degradation_level 0\n"));
  EXPECT_THAT(metrics.body, HasSubstr("verso_mt_engine_failures{engine=\"openai\"} 1\n"));
  EXPECT_THAT(metrics.body, HasSubstr("verso_translate_segments_total{origin=\"mt\"} 3\n"));
  EXPECT_THAT(metrics.body, Not(HasSubstr(kOpenAiKey)));

  server_->Signal(SIGTERM);
  EXPECT_EQ(server_->Wait(), 0);
  server_.reset();
  std::string log = ReadFile(log_).value_or("");
  EXPECT_THAT(log, HasSubstr("mt.engine engine=openai"));
  EXPECT_THAT(log, Not(HasSubstr(kOpenAiKey)));
  EXPECT_THAT(log, Not(HasSubstr("5f2b9c0e7d41a8")));
}

TEST_F(MtApiTest, WithEveryEngineDownOnlyExactTmMatchesAreReturned) {
  FakeResponse down;
  down.status = 503;
  down.body =
      json{{"error", {{"message", "The server is overloaded."}, {"type", "server_error"}}}}.dump();
  FakeHttpServer openai(
      [&](const FakeRequest& r) { return test::ChatCompletion(r, kOpenAiKey, &down); });
  // No built-in engine, and a deadline shorter than the LLM's first backoff: one attempt each.
  // The breaker opens after 3 failures (configured; 5 by default).
  StartWith({"mt.apertium.enabled=false", "mt.timeout=500ms", "mt.breaker.llm_failures=3"},
            &openai);
  int status = 0;
  json store = Call("POST", "/v1/tm", admin_,
                    {{"name", "ui"}, {"source_lang", "en"}, {"target_lang", "es"}}, &status);
  std::string id = store["id"];
  Call("POST", "/v1/tm/" + id + "/segments", admin_,
       {{"source", "Save the file"}, {"target", "Guarda el fichero"}}, &status);
  // Three failures open the LLM breaker (each one a 503 to the user: no engine is left).
  for (int i = 0; i < 3; ++i) {
    json r = Translate(
        {{"source_lang", "en"}, {"target_lang", "es"}, {"segments", {"Try " + std::to_string(i)}}},
        503);
    EXPECT_EQ(r["error"]["code"], "unavailable");
  }
  EXPECT_EQ(openai.request_count(), 3);
  json st = Call("GET", "/v1/status", "", nullptr, &status);
  EXPECT_EQ(st["engines"][0]["breaker"], "open");
  EXPECT_EQ(st["degradation"]["level"], 4);

  // Level 4: exact TM matches are served, anything else is refused, naming the segments.
  json ok = Translate({{"source_lang", "en"},
                       {"target_lang", "es"},
                       {"tm_store", id},
                       {"segments", {"Save the file"}}});
  EXPECT_EQ(ok["translations"][0]["text"], "Guarda el fichero");
  EXPECT_EQ(ok["degradation"]["level"], 4);
  EXPECT_EQ(ok["degradation"]["message"],
            "Machine translation is unavailable: only exact translation-memory matches are "
            "returned");
  json refused = Translate({{"source_lang", "en"},
                            {"target_lang", "es"},
                            {"tm_store", id},
                            {"segments", {"Save the file", "Open the file"}}},
                           503);
  EXPECT_THAT(refused["error"]["message"].get<std::string>(),
              HasSubstr("segment 2 has no exact translation-memory match"));
  EXPECT_EQ(refused["degradation"]["level"], 4);
  EXPECT_EQ(openai.request_count(), 3);  // the open breaker keeps requests away
  HttpResponse metrics = Raw("GET", "/metrics", "", {});
  EXPECT_THAT(metrics.body, HasSubstr("verso_degradation_level 4\n"));
  EXPECT_THAT(metrics.body, HasSubstr("verso_mt_breaker_state{engine=\"openai\"} 2\n"));
}

TEST_F(MtApiTest, SlowProvidersHoldNeitherTheServerNorEachOther) {
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  FakeHttpServer openai([&](const FakeRequest& r) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return released; });
    return test::ChatCompletion(r, kOpenAiKey);
  });
  StartWith({"mt.cache_mb=0"}, &openai);
  // More requests in flight than the server has I/O threads and CPU workers together.
  constexpr int kRequests = 6;
  std::vector<std::thread> clients;
  std::vector<json> answers(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    clients.emplace_back([&, i] {
      int status = 0;
      answers[i] = Call("POST", "/v1/translate", translator_,
                        {{"source_lang", "en"},
                         {"target_lang", "es"},
                         {"engines", {"openai"}},
                         {"segments", {"Sentence " + std::to_string(i)}}},
                        &status);
      EXPECT_EQ(status, 200) << answers[i].dump();
    });
  }
  for (int i = 0; i < 1000 && openai.request_count() < kRequests; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(openai.request_count(), kRequests);  // all waiting on the provider at once
  // Meanwhile the server answers everything else.
  int status = 0;
  Call("GET", "/v1/status", "", nullptr, &status);
  EXPECT_EQ(status, 200);
  Call("POST", "/v1/tm", admin_, {{"name", "x"}, {"source_lang", "en"}, {"target_lang", "es"}},
       &status);
  EXPECT_EQ(status, 201);
  {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
  }
  cv.notify_all();
  for (auto& c : clients) c.join();
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(answers[i]["translations"][0]["text"], "[es] Sentence " + std::to_string(i));
  }
}

// ---- DeepL- and APy-compatible APIs --------------------------------------------------------

TEST_F(MtApiTest, DeepLCompatibleApi) {
  Start({});
  const std::string hello = "The weather is nice today.";
  auto deepl = [&](const std::string& method, const std::string& path, const std::string& body,
                   const std::string& type = "application/x-www-form-urlencoded",
                   const std::string& key = "") {
    std::vector<std::pair<std::string, std::string>> h = {
        {"Authorization", "DeepL-Auth-Key " + (key.empty() ? translator_ : key)}};
    if (!body.empty()) h.emplace_back("Content-Type", type);
    return Raw(method, path, body, h);
  };
  HttpResponse r = deepl("POST", "/v2/translate",
                         "text=The+weather+is+nice+today.&text=Good+morning&source_lang=EN&"
                         "target_lang=ES");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["translations"].size(), 2u);
  EXPECT_EQ(j["translations"][0]["text"], Apertium("eng-spa", hello));
  EXPECT_EQ(j["translations"][0]["detected_source_language"], "EN");
  EXPECT_EQ(j["translations"][0]["billed_characters"], hello.size());
  EXPECT_EQ(j["translations"][1]["text"], Apertium("eng-spa", "Good morning"));

  r = deepl("POST", "/v2/translate",
            json{{"text", {hello}}, {"source_lang", "EN"}, {"target_lang", "ES"}}.dump(),
            "application/json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["translations"][0]["text"], Apertium("eng-spa", hello));

  // DeepL's error shapes: {"message": ...} with DeepL's statuses.
  r = deepl("POST", "/v2/translate", "text=a&source_lang=EN&target_lang=ES",
            "application/x-www-form-urlencoded", "wrong-key");
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(json::parse(r.body)["message"].get<std::string>(), HasSubstr("Authorization"));
  r = Raw("POST", "/v2/translate", "text=a&source_lang=EN&target_lang=ES",
          {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(r.status, 403);
  r = deepl("POST", "/v2/translate", "source_lang=EN&target_lang=ES");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["message"], "Parameter 'text' not specified.");
  r = deepl("POST", "/v2/translate", "text=a&source_lang=EN&target_lang=JA");
  EXPECT_EQ(r.status, 400);
  r = deepl("POST", "/v2/translate", "text=a&source_lang=EN&target_lang=ES",
            "application/x-www-form-urlencoded", reader_);
  EXPECT_EQ(r.status, 403);

  r = deepl("GET", "/v2/usage", "");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["character_count"], 2 * hello.size() + 12);
  r = deepl("GET", "/v2/languages?type=target", "");
  ASSERT_EQ(r.status, 200);
  json langs = json::parse(r.body);
  bool es = false;
  for (const auto& l : langs) es = es || (l["language"] == "ES" && l["name"] == "Spanish");
  EXPECT_TRUE(es) << r.body;
  // What English translates into: not PT-BR, which only Spanish reaches.
  r = deepl("GET", "/v2/languages?type=target&source_lang=EN", "");
  ASSERT_EQ(r.status, 200) << r.body;
  std::set<std::string> from_en;
  for (const auto& l : json::parse(r.body)) from_en.insert(l["language"]);
  EXPECT_TRUE(from_en.count("ES")) << r.body;
  EXPECT_FALSE(from_en.count("PT-BR")) << r.body;
  EXPECT_FALSE(from_en.count("EN-US")) << r.body;
  // Without source_lang the language is detected, as DeepL does (a FLORES sentence, Catalan).
  r = deepl("POST", "/v2/translate",
            "text=Dilluns%2C+els+cient%C3%ADfics+de+l%27Escola+de+Medicina+de+la+Universitat+"
            "de+Stanford+van+anunciar+la+invenci%C3%B3+d%27una+nova+eina+de+diagn%C3%B2stic.&"
            "target_lang=ES");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["translations"][0]["detected_source_language"], "CA");
  r = deepl("POST", "/v2/translate", "text=%3F%3F&target_lang=ES");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["message"],
            "The source language could not be detected; give 'source_lang'.");
}

TEST_F(MtApiTest, ApyCompatibleApi) {
  Start({});
  const std::string q = "Arnold Schwarzenegger signed the law.";
  std::string enc = "Arnold%20Schwarzenegger%20signed%20the%20law.";
  HttpResponse r =
      Raw("GET", "/translate?langpair=eng|spa&q=" + enc + "&key=" + translator_, "", {});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["responseStatus"], 200);
  // Unknown words marked the way `apertium` marks them without -u.
  auto marked = test::Run({"/bin/sh", "-c", "printf '%s\\n' \"$0\" | apertium eng-spa", q});
  while (!marked.out.empty() && marked.out.back() == '\n') marked.out.pop_back();
  EXPECT_EQ(j["responseData"]["translatedText"], marked.out);
  r = Raw("POST", "/translate", "langpair=eng|spa&markUnknown=no&q=" + enc,
          {{"Authorization", "Bearer " + translator_},
           {"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["responseData"]["translatedText"], Apertium("eng-spa", q));

  r = Raw("GET", "/translate?langpair=eng-spa&q=a&key=" + translator_, "", {});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["responseStatus"], 400);
  r = Raw("GET", "/translate?langpair=eng|deu&q=a&key=" + translator_, "", {});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["responseDetails"], "That pair is not installed");
  r = Raw("GET", "/translate?langpair=eng|spa&q=a", "", {});
  EXPECT_EQ(r.status, 401);

  r = Raw("GET", "/listPairs?key=" + translator_, "", {});
  ASSERT_EQ(r.status, 200);
  json pairs = json::parse(r.body)["responseData"];
  EXPECT_THAT(pairs.dump(), HasSubstr(R"({"sourceLanguage":"eng","targetLanguage":"spa"})"));
  EXPECT_THAT(pairs.dump(), HasSubstr(R"({"sourceLanguage":"spa","targetLanguage":"cat"})"));
  // Keys sent as query parameters stay out of the access log.
  server_->Signal(SIGTERM);
  EXPECT_EQ(server_->Wait(), 0);
  server_.reset();
  std::string log = ReadFile(log_).value_or("");
  EXPECT_THAT(log, HasSubstr("path=/translate"));
  EXPECT_THAT(log, Not(HasSubstr(translator_.substr(12))));
}

// The official DeepL client library, pointed at verso (tests/deepl-node).
TEST_F(MtApiTest, TheOfficialDeepLNodeClientWorksAgainstVerso) {
  Start({});
  const std::string script = std::string(VERSO_SOURCE_DIR) + "/tests/deepl-node/client.mjs";
  auto r = test::Run({"/usr/bin/env", "node", script,
                      "http://127.0.0.1:" + std::to_string(server_->port()), translator_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json out = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(out.is_discarded()) << r.out;
  EXPECT_EQ(out["single"]["text"], Apertium("eng-spa", "The weather is nice today."));
  EXPECT_EQ(out["single"]["detectedSourceLang"], "en");
  EXPECT_EQ(out["single"]["billedCharacters"], 26);
  ASSERT_EQ(out["batch"].size(), 2u);
  EXPECT_EQ(out["batch"][1]["text"], Apertium("spa-cat", "Buenos días a todos."));
  EXPECT_EQ(out["usage"]["count"], 26 + 17 + 20);
  EXPECT_GT(out["usage"]["limit"].get<double>(), 1e9);
  EXPECT_THAT(out["sources"].dump(), HasSubstr(R"({"code":"en","name":"English"})"));
  EXPECT_THAT(out["targets"].dump(), HasSubstr(R"("code":"ca")"));
  EXPECT_EQ(out["badKey"], "AuthorizationError");
  EXPECT_EQ(out["detected"], "en");
  EXPECT_EQ(out["noSource"], "DeepLError");
}

}  // namespace
}  // namespace verso
