// Glossaries, QA and quality estimation over HTTP, end to end: the real binary, real SQLite and
// Apertium, and local servers speaking OpenAI's and a COMET-style QE service's wire protocols.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/file.h"
#include "tests/fake_http_server.h"
#include "tests/http_client.h"
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

constexpr char kCometKey[] = "qe-key-7c1f4e2a9b";

class QualityApiTest : public test::ServerTest {
 protected:
  QualityApiTest() : ServerTest("quality_api") {}
  void SetUp() override {
    ServerTest::SetUp();
    key_ = test::CreateKey(dir_, "acme", "translate,tm:read,tm:write");
    admin_ = test::CreateKey(dir_, "acme", "admin");
    other_ = test::CreateKey(dir_, "globex", "translate,tm:read,tm:write");
  }
  HttpResponse Raw(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& content_type = "application/json",
                   const std::string& key = "") {
    return Send(method, path, key.empty() ? key_ : key, body, content_type);
  }
  json Post(const std::string& path, const json& body, int want = 200) {
    HttpResponse r = Raw("POST", path, body.dump());
    EXPECT_EQ(r.status, want) << r.body;
    return json::parse(r.body, nullptr, false);
  }

  std::string key_, admin_, other_;
};

TEST_F(QualityApiTest, TermbasesImportExportAndStayWithTheirTenant) {
  Start({});
  const std::string sdl = ReadFile(VERSO_SHARED_DATA "/tbx/okapi-tbx2/sdl_tbx.tbx").value_or("");
  HttpResponse imported = Raw("POST", "/v1/glossaries/sdl/imports", sdl, "application/x-tbx");
  ASSERT_EQ(imported.status, 201) << imported.body;
  json info = json::parse(imported.body);
  EXPECT_EQ(info["imported"], 223);
  EXPECT_EQ(info["concepts"], 223);

  // Export as TBX v3, import into a new glossary: the same concepts and terms.
  HttpResponse exported = Raw("GET", "/v1/glossaries/sdl/export?format=tbx", "");
  ASSERT_EQ(exported.status, 200);
  EXPECT_THAT(exported.body, HasSubstr("<tbx type=\"TBX-Basic\" style=\"dca\""));
  HttpResponse again = Raw("POST", "/v1/glossaries/copy/imports", exported.body, "application/xml");
  ASSERT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(json::parse(again.body)["terms"], info["terms"]);
  HttpResponse a = Raw("GET", "/v1/glossaries/sdl/concepts", "");
  HttpResponse b = Raw("GET", "/v1/glossaries/copy/concepts", "");
  EXPECT_EQ(json::parse(a.body), json::parse(b.body));

  // A malformed file is rejected with where, and nothing is written.
  HttpResponse bad = Raw("POST", "/v1/glossaries/csv/imports",
                         "concept,lang,term\nc1,en,server\nc1,,Server\n", "text/csv");
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(json::parse(bad.body)["error"]["message"],
            "csv.csv: line 3, column 2 (lang): a language is required");
  EXPECT_EQ(Raw("GET", "/v1/glossaries/csv", "").status, 404);
  HttpResponse broken =
      Raw("POST", "/v1/glossaries/sdl/imports", sdl.substr(0, 5000), "application/x-tbx");
  EXPECT_EQ(broken.status, 422);
  EXPECT_THAT(json::parse(broken.body)["error"]["message"].get<std::string>(),
              HasSubstr("sdl.tbx: line "));
  EXPECT_EQ(json::parse(Raw("GET", "/v1/glossaries/sdl", "").body)["concepts"], 223);

  // Another tenant sees none of it.
  EXPECT_EQ(Raw("GET", "/v1/glossaries/sdl", "", "", other_).status, 404);
  EXPECT_EQ(json::parse(Raw("GET", "/v1/glossaries", "", "", other_).body)["glossaries"].size(),
            0u);
}

// The issue's two CSVs: the documented long layout is one concept per concept id, and a second
// wide CSV (rows without ids) into the same glossary adds its concepts and merges the one that
// shares a term, never replacing printer -> impresora.
TEST_F(QualityApiTest, CsvImportsMatchConceptsByIdOrTermAndNeverOverwriteOthers) {
  Start({});
  HttpResponse longer = Raw("POST", "/v1/glossaries/long/imports",
                            "concept,lang,term,status\nprinter,en,printer,\nprinter,es,impresora,"
                            "preferred\nprinter,es,impresor,forbidden\n",
                            "text/csv");
  ASSERT_EQ(longer.status, 201) << longer.body;
  EXPECT_EQ(json::parse(longer.body)["concepts"], 1);
  EXPECT_EQ(json::parse(longer.body)["terms"], 3);

  HttpResponse first =
      Raw("POST", "/v1/glossaries/ui/imports", "en,es\nprinter,impresora\n", "text/csv");
  ASSERT_EQ(first.status, 201) << first.body;
  HttpResponse second =
      Raw("POST", "/v1/glossaries/ui/imports",
          "en,es,note\nkeyboard,teclado,\nPrinter,impresora láser,hardware\n", "text/csv");
  ASSERT_EQ(second.status, 200) << second.body;
  json info = json::parse(second.body);
  EXPECT_EQ(info["added"], 1);
  EXPECT_EQ(info["merged"], 1);
  EXPECT_EQ(info["replaced"], 0);
  EXPECT_EQ(info["concepts"], 2);
  json found = Post("/v1/glossaries/ui/lookup", {{"source_lang", "en"},
                                                 {"target_lang", "es"},
                                                 {"text_format", "plain"},
                                                 {"segments", {"the printer"}}});
  json terms = found["segments"][0]["terms"];
  ASSERT_EQ(terms.size(), 1u) << found;
  std::vector<std::string> targets;
  for (const json& t : terms[0]["targets"]) targets.push_back(t["text"]);
  EXPECT_EQ(targets, (std::vector<std::string>{"impresora", "impresora láser"}));

  // A header neither layout reads names the columns it expected.
  HttpResponse bad =
      Raw("POST", "/v1/glossaries/ui/imports", "source,target\nprinter,impresora\n", "text/csv");
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(json::parse(bad.body)["error"]["message"],
            "ui.csv: line 1, column 1: \"source\" is neither a language tag nor a known column; "
            "one concept a row takes language tags (\"en,de\") and optionally concept, "
            "part_of_speech, note, subject, definition; one term a row takes concept, lang, term");
  HttpResponse unknown = Raw("POST", "/v1/glossaries/ui/imports",
                             "concept,lang,term,domain\nc1,en,printer,IT\n", "text/csv");
  EXPECT_EQ(unknown.status, 422);
  EXPECT_THAT(json::parse(unknown.body)["error"]["message"].get<std::string>(),
              HasSubstr("line 1, column 4: unknown column \"domain\""));
}

TEST_F(QualityApiTest, TranslationsCarryTermsQaAndQe) {
  Start({});
  const json concepts = {
      {"concepts",
       {{{"id", "file"},
         {"terms",
          {{{"lang", "en"}, {"text", "file"}},
           {{"lang", "es"}, {"text", "archivo"}, {"status", "preferred"}},
           {{"lang", "es"}, {"text", "lima"}, {"status", "forbidden"}}}}},
        {{"id", "srv"},
         {"terms",
          {{{"lang", "en"}, {"text", "server"}}, {{"lang", "es"}, {"text", "servidor"}}}}}}}};
  Post("/v1/glossaries/missing/concepts", concepts, 404);  // no such glossary
  Post("/v1/glossaries", json{{"name", "it"}}, 201);
  Post("/v1/glossaries/it/concepts", concepts);

  // The built-in engine says "lima" (the fruit) for "file", and "servidor" for "server".
  json r = Post("/v1/translate", json{{"source_lang", "en"},
                                      {"target_lang", "es"},
                                      {"glossary", "it"},
                                      {"qe_threshold", 50},
                                      {"segments", {"Open the file", "Restart the server"}}});
  const json& file = r["translations"][0];
  EXPECT_EQ(file["text"], "Abierto la lima");
  EXPECT_EQ(file["terms"][0]["concept_id"], "file");
  EXPECT_EQ(file["terms"][0]["targets"][0]["text"], "archivo");
  EXPECT_EQ(file["qa"], (json{{{"check", "glossary"},
                               {"severity", "error"},
                               {"message", "\"file\" should be translated as \"archivo\""}},
                              {{"check", "forbidden_terms"},
                               {"severity", "error"},
                               {"message", "forbidden term \"lima\""}}}));
  EXPECT_EQ(file["qe"]["scorer"], "builtin");
  EXPECT_EQ(file["qe"]["auto_approved"], false);  // QA errors block approval
  EXPECT_THAT(file["qe"]["reasons"].dump(), HasSubstr("glossary term(s) not used"));
  const json& server = r["translations"][1];
  EXPECT_EQ(server["text"], "Retomar el servidor");
  EXPECT_EQ(server["qa"], json::array());
  EXPECT_GE(server["qe"]["score"].get<double>(), 50);
  EXPECT_EQ(server["qe"]["auto_approved"], true);

  // /v1/qa/check and /v1/qe on given translations.
  json qa = Post(
      "/v1/qa/check",
      json{{"source_lang", "en"},
           {"target_lang", "es"},
           {"disabled_checks", {"end_punctuation"}},
           {"segments",
            {{{"source", "Delete %s in 5 minutes."}, {"translation", "Eliminar en 6 minutos"}}}}});
  EXPECT_EQ(qa["segments"][0]["warnings"],
            (json{{{"check", "numbers"}, {"severity", "error"}, {"message", "numbers missing: 5"}},
                  {{"check", "numbers"},
                   {"severity", "error"},
                   {"message", "numbers not in the source: 6"}},
                  {{"check", "placeholders"},
                   {"severity", "error"},
                   {"message", "placeholders missing: %s"}}}));
  // A project's QA profile: its checks stay off, the request adds its own.
  HttpResponse put =
      Raw("PUT", "/v1/qa/profiles/ui", R"({"disabled_checks":["numbers"],"max_length":12})",
          "application/json", admin_);
  ASSERT_EQ(put.status, 200) << put.body;
  json profiled = Post(
      "/v1/qa/check",
      json{{"source_lang", "en"},
           {"target_lang", "es"},
           {"qa_profile", "ui"},
           {"disabled_checks", {"end_punctuation"}},
           {"segments",
            {{{"source", "Delete %s in 5 minutes."}, {"translation", "Eliminar en 6 minutos"}}}}});
  EXPECT_EQ(profiled["segments"][0]["warnings"],
            (json{{{"check", "placeholders"},
                   {"severity", "error"},
                   {"message", "placeholders missing: %s"}},
                  {{"check", "length"},
                   {"severity", "error"},
                   {"message", "the translation has 21 characters; the limit is 12"}}}));
  EXPECT_EQ(Raw("PUT", "/v1/qa/profiles/ui", "{}", "application/json", key_).status, 403);
  EXPECT_EQ(Post("/v1/translate",
                 json{{"source_lang", "en"},
                      {"target_lang", "es"},
                      {"qa_profile", "missing"},
                      {"segments", {"a"}}},
                 404)["error"]["message"],
            "qa_profile: QA profile \"missing\" not found");

  json qe = Post("/v1/qe", json{{"source_lang", "en"},
                                {"target_lang", "es"},
                                {"segments",
                                 {{{"source", "Delete the file in 5 minutes."},
                                   {"translation", "Eliminar el archivo en 5 minutos."}},
                                  {{"source", "Delete the file in 5 minutes."},
                                   {"translation", "Eliminar el archivo en minutos."}}}}});
  EXPECT_EQ(qe["scorer"], "builtin");
  EXPECT_EQ(Post("/v1/qe",
                 json{{"source_lang", "en"},
                      {"target_lang", "es"},
                      {"tm_store", "tm_missing"},
                      {"segments", {{{"source", "a"}, {"translation", "b"}}}}},
                 404)["error"]["message"],
            "tm_store: TM store tm_missing not found");
  EXPECT_GT(qe["segments"][0]["score"].get<double>(), qe["segments"][1]["score"].get<double>());
  EXPECT_THAT(qe["segments"][1]["reasons"][0].get<std::string>(), HasSubstr("1 number missing"));
  EXPECT_EQ(qe["segments"][1]["auto_approved"], false);
  // 101: a threshold no score reaches.
  json never = Post("/v1/qe", json{{"source_lang", "en"},
                                   {"target_lang", "es"},
                                   {"threshold", 101},
                                   {"segments",
                                    {{{"source", "Delete the file in 5 minutes."},
                                      {"translation", "Eliminar el archivo en 5 minutos."}}}}});
  EXPECT_EQ(never["segments"][0]["auto_approved"], false);
  EXPECT_EQ(never["segments"][0]["threshold"], 101);
  Post("/v1/qe",
       json{{"source_lang", "en"},
            {"target_lang", "es"},
            {"threshold", 102},
            {"segments", {{{"source", "a"}, {"translation", "b"}}}}},
       422);
}

// A cached translation keeps its review: the second answer is the first (but "cached"), made on
// the I/O thread (no hand-over to a pool), and a change to what the review depends on (the
// glossary's terms, the QA profile's checks, the request's options) gives a new one at once.
TEST_F(QualityApiTest, ACachedTranslationKeepsItsReviewUntilWhatItDependsOnChanges) {
  // Policies and glossaries are read again only after an hour (not within this test): which
  // answers are made inline is then exact.
  Start({"mt.policy_revalidate=1h", "glossaries.revalidate=1h"});
  Post("/v1/glossaries", json{{"name", "it"}}, 201);
  Post("/v1/glossaries/it/concepts",
       json{{"concepts",
             {{{"id", "file"},
               {"terms",
                {{{"lang", "en"}, {"text", "file"}},
                 {{"lang", "es"}, {"text", "archivo"}},
                 {{"lang", "es"}, {"text", "lima"}, {"status", "forbidden"}}}}}}}});
  auto off_thread = [&] {
    const std::string m = Send("GET", "/metrics", "").body;
    const std::string name = "\nverso_http_requests_off_thread_total ";
    size_t at = m.find(name);
    return at == std::string::npos ? -1 : std::stol(m.substr(at + name.size()));
  };
  auto translate = [&](const json& extra) {
    json body = {{"source_lang", "en"}, {"target_lang", "es"}, {"segments", {"Open the file"}}};
    if (extra.is_object()) body.update(extra);
    json r = Post("/v1/translate", body);
    return r["translations"][0];
  };
  const json plain = translate({});
  EXPECT_EQ(plain["cached"], false);
  EXPECT_EQ(plain["qa"], json::array());
  const long before = off_thread();
  json again = translate({});
  EXPECT_EQ(again["cached"], true);
  EXPECT_EQ(off_thread(), before);  // answered inline: translation and review from memory
  again["cached"] = false;
  EXPECT_EQ(again, plain);

  // With a glossary (its terms are part of the translation's cache key: LLMs are told them).
  json checked = translate({{"glossary", "it"}});
  EXPECT_EQ(checked["qa"].size(), 2u) << checked["qa"];  // "archivo" missing, "lima" forbidden
  checked["cached"] = true;
  EXPECT_EQ(translate({{"glossary", "it"}}), checked);
  EXPECT_EQ(off_thread(), before + 1);  // the first answer with the glossary was not inline
  // The glossary now wants "lima": the cached translation's review follows at once.
  Post("/v1/glossaries/it/concepts",
       json{{"concepts",
             {{{"id", "file"},
               {"terms",
                {{{"lang", "en"}, {"text", "file"}}, {{"lang", "es"}, {"text", "lima"}}}}}}}});
  const json mended = translate({{"glossary", "it"}});
  EXPECT_EQ(mended["text"], "Abierto la lima");
  EXPECT_EQ(mended["qa"], json::array());
  EXPECT_EQ(mended["terms"][0]["targets"][0]["text"], "lima");

  // The QA profile's checks: a change to the profile is a change of the review.
  ASSERT_EQ(
      Raw("PUT", "/v1/qa/profiles/loose", R"({"max_length":5})", "application/json", admin_).status,
      200);
  json limited = translate({{"qa_profile", "loose"}});
  ASSERT_EQ(limited["qa"].size(), 1u) << limited["qa"];
  EXPECT_EQ(limited["qa"][0]["check"], "length");
  ASSERT_EQ(Raw("PUT", "/v1/qa/profiles/loose", R"({"max_length":50})", "application/json", admin_)
                .status,
            200);
  EXPECT_EQ(translate({{"qa_profile", "loose"}})["qa"], json::array());
  // The request's own options too: a threshold it names decides the approval of the same text.
  EXPECT_EQ(translate({{"qe_threshold", 0}})["qe"]["auto_approved"], true);
  EXPECT_EQ(translate({{"qe_threshold", 101}})["qe"]["auto_approved"], false);
  // Another tenant has neither the glossary nor the cached review.
  HttpResponse other = Send(
      "POST", "/v1/translate", other_,
      R"({"source_lang":"en","target_lang":"es","glossary":"it","segments":["Open the file"]})",
      "application/json");
  EXPECT_EQ(other.status, 404) << other.body;
}

TEST_F(QualityApiTest, StoredGlossaryTermsReachTheLlmPrompt) {
  std::string prompt;
  FakeHttpServer openai([&](const FakeRequest& req) {
    json body = json::parse(req.body);
    prompt = body["messages"][0]["content"].get<std::string>() +
             body["messages"][1]["content"].get<std::string>();
    json segments = json::parse(body["messages"][1]["content"].get<std::string>())["segments"];
    json out = json::array();
    for (size_t i = 0; i < segments.size(); ++i) out.push_back("Abra el archivo");
    FakeResponse r;
    r.body = json{{"choices",
                   {{{"index", 0},
                     {"message",
                      {{"role", "assistant"}, {"content", json{{"translations", out}}.dump()}}},
                     {"finish_reason", "stop"}}}}}
                 .dump();
    return r;
  });
  Start({"mt.openai.base_url=" + openai.url() + "/v1"}, {"OPENAI_API_KEY=sk-test-glossary"});
  Post("/v1/glossaries", json{{"name", "it"}}, 201);
  Post("/v1/glossaries/it/concepts",
       json{{"concepts",
             {{{"terms",
                {{{"lang", "en"}, {"text", "file"}}, {{"lang", "es"}, {"text", "archivo"}}}}}}}});
  json r = Post("/v1/translate", json{{"source_lang", "en"},
                                      {"target_lang", "es"},
                                      {"glossary", "it"},
                                      {"engines", {"openai"}},
                                      {"segments", {"Open the files"}}});
  EXPECT_EQ(r["translations"][0]["engine"], "openai");
  EXPECT_THAT(prompt, HasSubstr("file => archivo"));
  EXPECT_EQ(r["translations"][0]["qa"], json::array());
}

TEST_F(QualityApiTest, AnUnavailableQeServiceMeansLevelTwoAndNoAutoApproval) {
  int calls = 0;
  FakeHttpServer comet([&](const FakeRequest& req) {
    ++calls;
    FakeResponse r;
    r.status = 503;
    r.body = R"({"detail":"model loading"})";
    return r;
  });
  Start({"qe.scorer=comet", "qe.comet.url=" + comet.url() + "/score"},
        {std::string("QE_COMET_API_KEY=") + kCometKey});
  for (int i = 0; i < 6; ++i) {
    json r = Post("/v1/translate", json{{"source_lang", "en"},
                                        {"target_lang", "es"},
                                        {"qe_threshold", 0},
                                        {"segments", {"Restart the server"}}});
    const json& qe = r["translations"][0]["qe"];
    EXPECT_EQ(qe["provisional"], true);
    EXPECT_EQ(qe["scorer"], "builtin");
    EXPECT_EQ(qe["auto_approved"], false);
  }
  EXPECT_EQ(calls, 5);  // the breaker opened after five failures
  EXPECT_EQ(comet.requests()[0].Header("authorization"), std::string("Bearer ") + kCometKey);
  HttpResponse status = Raw("GET", "/v1/status", "");
  json level = json::parse(status.body)["degradation"];
  EXPECT_EQ(level["level"], 2);
  EXPECT_EQ(level["message"], "Quality verification in progress");
  server_->Signal(SIGTERM);
  EXPECT_EQ(server_->Wait(), 0);
  server_.reset();
  const std::string log = ReadFile(log_).value_or("");
  EXPECT_THAT(log, HasSubstr("qe.scorer_failed"));
  EXPECT_THAT(log, Not(HasSubstr(kCometKey)));
}

}  // namespace
}  // namespace verso
