// Jobs over HTTP, end to end: the real binary, real SQLite and Apertium, a TM, an XLIFF 2
// document through analysis, TM, MT, QE routing and post-editing, the download validated
// against the XLIFF schema; a kill -9 in the middle of a job.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/file.h"
#include "common/strings.h"
#include "tests/http_client.h"
#include "tests/verso_server.h"
#include "tests/xml_schema.h"

namespace verso {
namespace {

using nlohmann::json;
using test::Fetch;
using test::HttpResponse;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kSuite = std::string(VERSO_SHARED_DATA) + "/xliff/oasis-xliff2-test-suite";

constexpr char kXliff[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en">
 <file id="f1" original="guide.html">
  <unit id="u1">
   <segment id="s1">
    <source>The file was saved.</source>
   </segment>
  </unit>
  <unit id="u2">
   <originalData>
    <data id="d1">&lt;b&gt;</data>
    <data id="d2">&lt;/b&gt;</data>
   </originalData>
   <segment id="s2">
    <source>Open the <pc id="1" dataRefStart="d1" dataRefEnd="d2">window</pc> now.</source>
   </segment>
  </unit>
  <unit id="u3">
   <segment id="s3">
    <source>The house is red.</source>
   </segment>
   <ignorable>
    <source> </source>
   </ignorable>
   <segment id="s4">
    <source>The cat sleeps.</source>
   </segment>
  </unit>
  <unit id="u4" translate="no">
   <segment id="s5">
    <source>VERSO-1234</source>
   </segment>
  </unit>
 </file>
</xliff>
)";

std::string Multipart(const std::string& boundary,
                      const std::vector<std::pair<std::string, std::string>>& fields,
                      const std::string& file_name, const std::string& file) {
  std::string out;
  for (const auto& [k, v] : fields) {
    out += StrCat("--", boundary, "\r\nContent-Disposition: form-data; name=\"", k, "\"\r\n\r\n", v,
                  "\r\n");
  }
  out += StrCat("--", boundary, "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"",
                file_name, "\"\r\nContent-Type: application/xliff+xml\r\n\r\n", file, "\r\n--",
                boundary, "--\r\n");
  return out;
}

class JobsApiTest : public test::ServerTest {
 protected:
  JobsApiTest() : ServerTest("jobs_api") {}
  void SetUp() override {
    ServerTest::SetUp();
    key_ = test::CreateKey(dir_, "acme", "translate,tm:read,tm:write");
  }
  HttpResponse Call(const std::string& method, const std::string& path, const std::string& body,
                    const std::string& type = "application/json",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Send(method, path, key_, body, type, std::move(headers));
  }
  json Get(const std::string& path) {
    HttpResponse r = Call("GET", path, "");
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // Polls the job until `done` says so (at most a minute).
  json WaitFor(const std::string& id, const std::function<bool(const json&)>& done) {
    json job;
    for (int i = 0; i < 600; ++i) {
      job = Get("/v1/jobs/" + id);
      if (done(job)) return job;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << id << " never got there: " << job.dump();
    return job;
  }
  std::string MakeTm() {
    HttpResponse r =
        Call("POST", "/v1/tm", R"({"name":"main","source_lang":"en","target_lang":"es"})");
    EXPECT_EQ(r.status, 201) << r.body;
    const std::string store = json::parse(r.body)["id"];
    r = Call("POST", "/v1/tm/" + store + "/segments",
             R"({"source":"The file was saved.","target":"El fichero se ha guardado."})");
    EXPECT_EQ(r.status, 201) << r.body;
    return store;
  }

  std::string key_;
};

TEST_F(JobsApiTest, AnXliffDocumentGoesThroughTmMtQePostEditingAndComesBackValid) {
  Start();
  const std::string store = MakeTm();
  const std::string boundary = "verso-boundary-7MA4YWxk";
  HttpResponse submitted = Call(
      "POST", "/v1/jobs",
      Multipart(boundary, {{"target_langs", "es"}, {"tm_store", store}, {"qe_threshold", "101"}},
                "guide.xlf", kXliff),
      "multipart/form-data; boundary=" + boundary, {{"Idempotency-Key", "guide-v1"}});
  ASSERT_EQ(submitted.status, 202) << submitted.body;
  json job = json::parse(submitted.body);
  const std::string id = job["id"];
  EXPECT_EQ(submitted.Header("location"), "/v1/jobs/" + id);
  EXPECT_EQ(job["source_lang"], "en");  // from the file
  EXPECT_EQ(job["format"], "xliff2");
  EXPECT_EQ(job["counts"]["segments"], 4);  // the untranslatable unit is left out
  // Resubmitting with the same key is the same job.
  HttpResponse again =
      Call("POST", "/v1/jobs", Multipart(boundary, {{"target_langs", "es"}}, "guide.xlf", kXliff),
           "multipart/form-data; boundary=" + boundary, {{"Idempotency-Key", "guide-v1"}});
  ASSERT_EQ(again.status, 202) << again.body;
  EXPECT_EQ(json::parse(again.body)["id"], id);
  EXPECT_EQ(again.Header("idempotent-replayed"), "true");

  job = WaitFor(id, [](const json& j) { return j["status"] == "post_editing"; });
  EXPECT_EQ(job["counts"]["tm"], 1);
  EXPECT_EQ(job["counts"]["mt"], 3);
  EXPECT_EQ(job["counts"]["engines"], json({{"apertium", 3}}));
  EXPECT_EQ(job["counts"]["approved"], 1);
  EXPECT_EQ(job["counts"]["awaiting_post_edit"], 3);
  // What autoscaling reads: the MTPE queue's depth, the task queue (empty by now), QE latency.
  {
    const std::string metrics = Fetch(server_->port(), "GET", "/metrics").body;
    EXPECT_THAT(metrics, HasSubstr("\nverso_queue_depth{queue=\"post_edit\"} 3\n"));
    EXPECT_THAT(metrics, HasSubstr("\nverso_queue_depth{queue=\"tasks\"} 0\n"));
    EXPECT_THAT(metrics, HasSubstr("\nverso_queue_oldest_seconds{queue=\"tasks\"} 0\n"));
    EXPECT_THAT(metrics, Not(HasSubstr("\nverso_qe_duration_seconds_count 0\n")));
    EXPECT_THAT(metrics, HasSubstr("\nverso_qe_duration_seconds_count "));
  }
  json analysis = Get("/v1/jobs/" + id + "/analysis");
  EXPECT_EQ(analysis["targets"][0]["total"]["words"], 15);
  EXPECT_EQ(analysis["targets"][0]["bands"][2]["band"], "100");
  EXPECT_EQ(analysis["targets"][0]["bands"][2]["segments"], 1);

  // The post-editor's view of a segment: MT, QE score and reasons, QA, TM matches.
  json queue = Get("/v1/post-edits");
  ASSERT_EQ(queue["segments"].size(), 3u);
  EXPECT_EQ(queue["segments"][0]["job_id"], id);
  json seg = Get("/v1/jobs/" + id + "/segments/es/1");
  EXPECT_EQ(seg["source"], "Open the <g id=\"1\">window</g> now.");
  EXPECT_EQ(seg["origin"], "mt");
  EXPECT_EQ(seg["state"], "awaiting");
  EXPECT_TRUE(seg["qe_score"].is_number());
  EXPECT_TRUE(seg["review"]["qe"]["reasons"].is_array());
  EXPECT_FALSE(seg["review"]["qe"]["auto_approved"]);
  EXPECT_TRUE(seg["tm_matches"].is_array());

  // QA runs on drafts and confirms: a target that drops the source's inline code is refused
  // with the finding, and stays unconfirmed.
  HttpResponse refused = Call("POST", "/v1/jobs/" + id + "/segments/es/1/confirm",
                              R"({"target":"Abra la ventana ya."})");
  ASSERT_EQ(refused.status, 422) << refused.body;
  json error = json::parse(refused.body)["error"];
  EXPECT_EQ(error["code"], "qa_failed");
  ASSERT_EQ(error["qa"].size(), 1u) << error;
  EXPECT_EQ(error["qa"][0]["check"], "tags");
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("override_qa"));
  EXPECT_EQ(Get("/v1/jobs/" + id + "/segments/es/1")["state"], "awaiting");
  HttpResponse bad_draft =
      Call("PUT", "/v1/jobs/" + id + "/segments/es/1/draft", R"({"target":"Abra la ventana ya."})");
  ASSERT_EQ(bad_draft.status, 200) << bad_draft.body;
  EXPECT_EQ(json::parse(bad_draft.body)["review"]["qa"][0]["check"], "tags");
  // Overriding is the post-editor's call, and is recorded.
  HttpResponse overridden = Call("POST", "/v1/jobs/" + id + "/segments/es/3/confirm",
                                 R"({"target":"El gato duerme 24 horas.","override_qa":true})");
  ASSERT_EQ(overridden.status, 200) << overridden.body;
  json record = json::parse(overridden.body)["review"]["qa_override"];
  EXPECT_EQ(record["findings"][0]["check"], "numbers");
  EXPECT_EQ(record["by"], json::parse(overridden.body)["editor"]);

  // Post-edit: a draft, then confirmations (one edited, one as it is).
  HttpResponse draft = Call("PUT", "/v1/jobs/" + id + "/segments/es/1/draft",
                            R"({"target":"Abra la <g id=\"1\">ventana</g> ya."})");
  ASSERT_EQ(draft.status, 200) << draft.body;
  HttpResponse c = Call("POST", "/v1/jobs/" + id + "/segments/es/1/confirm", "{}");
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(json::parse(c.body)["target"], "Abra la <g id=\"1\">ventana</g> ya.");
  EXPECT_EQ(json::parse(c.body)["origin"], "human");
  c = Call("POST", "/v1/jobs/" + id + "/segments/es/2/confirm", "");
  ASSERT_EQ(c.status, 200) << c.body;
  job = Get("/v1/jobs/" + id);
  EXPECT_EQ(job["status"], "completed");
  EXPECT_EQ(job["counts"]["confirmed"], 3);
  // Each change of the job's status is in the audit log, in order, in the same transaction as
  // the change.
  {
    test::RunResult listed =
        test::Run({VERSO_BINARY, "--data-dir", dir_, "audit", "list", "--limit", "1000"});
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    std::vector<std::string> statuses;
    std::istringstream lines(listed.out);
    for (std::string line; std::getline(lines, line);) {
      json r = json::parse(line);
      if (r["action"] == "job.status" && r["target"] == id) statuses.push_back(r["detail"]);
    }
    EXPECT_THAT(statuses, ::testing::ElementsAre("queued -> running", "running -> post_editing",
                                                 "post_editing -> completed"));
  }
  // The confirmed segment is in the TM now.
  HttpResponse lookup =
      Call("POST", "/v1/tm/" + store + "/lookup",
           R"({"source":"Open the <g id=\"1\">window</g> now.","text_format":"markup"})");
  ASSERT_EQ(lookup.status, 200) << lookup.body;
  EXPECT_EQ(json::parse(lookup.body)["matches"][0]["segment"]["target"],
            "Abra la <g id=\"1\">ventana</g> ya.");

  // The translated document: valid XLIFF 2, the codes back as the source's elements.
  HttpResponse doc = Call("GET", "/v1/jobs/" + id + "/download?target=es", "");
  ASSERT_EQ(doc.status, 200) << doc.body;
  EXPECT_EQ(doc.Header("content-type"), "application/xliff+xml");
  EXPECT_EQ(doc.Header("content-disposition"),
            "attachment; filename=\"guide.es.xlf\"; filename*=UTF-8''guide.es.xlf");
  EXPECT_THAT(doc.body, HasSubstr(R"(srcLang="en" trgLang="es">)"));
  EXPECT_THAT(doc.body, HasSubstr("<target>El fichero se ha guardado.</target>"));
  EXPECT_THAT(
      doc.body,
      HasSubstr(
          R"(<target>Abra la <pc id="1" dataRefStart="d1" dataRefEnd="d2">ventana</pc> ya.</target>)"));
  EXPECT_THAT(doc.body, Not(HasSubstr("<target>VERSO-1234")));
  EXPECT_EQ(test::SchemaErrors(doc.body, kSuite + "/xliff-21/schemas/xliff_core_2.0.xsd",
                               kSuite + "/local/catalog.xml"),
            "");
}

// The OASIS suite's everything-core.xlf is en -> fr, which the built-in engine does not
// translate: refused at once, listing what the chain offers, or sent to people when asked.
TEST_F(JobsApiTest, APairNoEngineTranslatesIsRefusedAtSubmissionOrGoesToPeople) {
  Start();
  const std::string file =
      ReadFile(kSuite + "/xliff-21/test-suite/core/valid/everything-core.xlf").value();
  const std::string boundary = "verso-boundary-pairs";
  HttpResponse refused = Call("POST", "/v1/jobs", Multipart(boundary, {}, "everything.xlf", file),
                              "multipart/form-data; boundary=" + boundary);
  ASSERT_EQ(refused.status, 422) << refused.body;
  EXPECT_THAT(json::parse(refused.body)["error"]["message"].get<std::string>(),
              HasSubstr("target_langs: fr: no engine in the chain (apertium) translates en -> fr; "
                        "it offers ca->en, ca->en-US, ca->es, en->ca, "));
  EXPECT_EQ(Get("/v1/jobs")["jobs"].size(), 0u);

  HttpResponse human =
      Call("POST", "/v1/jobs",
           Multipart(boundary, {{"unsupported_pairs", "human"}}, "everything.xlf", file),
           "multipart/form-data; boundary=" + boundary);
  ASSERT_EQ(human.status, 202) << human.body;
  const std::string id = json::parse(human.body)["id"];
  json job = WaitFor(
      id, [](const json& j) { return j["status"] != "queued" && j["status"] != "running"; });
  EXPECT_EQ(job["status"], "post_editing");
  EXPECT_EQ(job["counts"]["mt"], 0);
  EXPECT_EQ(job["counts"]["awaiting_post_edit"], job["counts"]["segments"]);
  json seg = Get("/v1/jobs/" + id + "/segments/fr/0");
  EXPECT_THAT(seg["review"]["mt_error"].get<std::string>(),
              HasSubstr("no engine in the chain (apertium) translates en -> fr"));
}

// The OASIS suite's Goodslr_sizeRestriction-isolated.xlf is en-us -> de: "en" names that
// language (the job keeps the file's tag), "en-GB" does not.
TEST_F(JobsApiTest, BareLanguageTagsMatchTheDocumentsRegionalOnes) {
  Start();
  const std::string file =
      ReadFile(kSuite + "/xliff-21/test-suite/modules/valid/Goodslr_sizeRestriction-isolated.xlf")
          .value();
  const std::string boundary = "verso-boundary-tags";
  auto submit = [&](const std::string& source, const std::string& target) {
    return Call(
        "POST", "/v1/jobs",
        Multipart(
            boundary,
            {{"source_lang", source}, {"target_langs", target}, {"unsupported_pairs", "human"}},
            "sizes.xlf", file),
        "multipart/form-data; boundary=" + boundary);
  };
  HttpResponse ok = submit("en", "de");
  ASSERT_EQ(ok.status, 202) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["source_lang"], "en-US");
  EXPECT_EQ(json::parse(ok.body)["target_langs"], json({"de"}));
  HttpResponse region = submit("en-GB", "de");
  ASSERT_EQ(region.status, 422) << region.body;
  EXPECT_EQ(json::parse(region.body)["error"]["message"],
            "source_lang: en-GB, but the document declares en-US (en-us): a different language "
            "or region");
  HttpResponse other = submit("en", "fr");
  ASSERT_EQ(other.status, 422) << other.body;
  EXPECT_EQ(json::parse(other.body)["error"]["message"],
            "target_langs: the document declares its target language de (de), so the job can "
            "only be for de");
}

// Plain text is the default of JSON submissions, and the download answers in it: the customer's
// file says "&", not "&amp;" (the issue's "Salvar la salida &amp; de lima.").
TEST_F(JobsApiTest, PlainSegmentsComeBackAsPlainText) {
  Start();
  HttpResponse r = Call("POST", "/v1/jobs",
                        R"({"source_lang":"en","target_langs":["es"],"qe_threshold":0,)"
                        R"("segments":["Save the exit & file.","if a < b"]})");
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string id = json::parse(r.body)["id"];
  WaitFor(id, [](const json& j) { return j["status"] == "completed"; });
  HttpResponse doc = Call("GET", "/v1/jobs/" + id + "/download?target=es", "");
  ASSERT_EQ(doc.status, 200) << doc.body;
  json segments = json::parse(doc.body)["segments"];
  EXPECT_THAT(segments[0].get<std::string>(), HasSubstr(" & "));
  EXPECT_THAT(segments[0].get<std::string>(), Not(HasSubstr("&amp;")));
  EXPECT_THAT(segments[1].get<std::string>(), HasSubstr("<"));
  EXPECT_THAT(segments[1].get<std::string>(), Not(HasSubstr("&lt;")));
}

// Every list pages with ?limit and the next_cursor it answered, each item once.
TEST_F(JobsApiTest, ListsPageThroughEveryItemOnceWithCursors) {
  Start();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = Call("POST", "/v1/jobs",
                          R"({"source_lang":"en","target_langs":["fr"],)"
                          R"("unsupported_pairs":"human","segments":["One.","Two.","Three."]})");
    ASSERT_EQ(r.status, 202) << r.body;
    ids.push_back(json::parse(r.body)["id"]);
  }
  for (const std::string& id : ids) {
    WaitFor(id, [](const json& j) { return j["status"] == "post_editing"; });
  }
  // Follows next_cursor from `path` (which has a "?"), collecting `key`'s items.
  auto collect = [&](const std::string& path, const std::string& key, int* pages) {
    json items = json::array();
    std::string cursor;
    *pages = 0;
    while (*pages < 20) {
      json page = Get(path + (cursor.empty() ? "" : "&cursor=" + cursor));
      ++*pages;
      for (auto& item : page[key]) items.push_back(item);
      if (page["next_cursor"].is_null()) break;
      cursor = page["next_cursor"];
    }
    return items;
  };
  int pages = 0;
  json jobs = collect("/v1/jobs?limit=2", "jobs", &pages);
  EXPECT_EQ(pages, 2);
  ASSERT_EQ(jobs.size(), 3u);
  // Newest first: the order of submission, reversed (ids break ties of the same microsecond).
  std::set<std::string> listed;
  for (const auto& j : jobs) listed.insert(j["id"].get<std::string>());
  EXPECT_EQ(listed, std::set<std::string>(ids.begin(), ids.end()));
  json queue = collect("/v1/post-edits?limit=4", "segments", &pages);
  EXPECT_EQ(pages, 3);
  std::set<std::string> seen;
  for (const auto& s : queue) {
    seen.insert(StrCat(s["job_id"].get<std::string>(), "/", s["index"].get<int>()));
  }
  EXPECT_EQ(queue.size(), 9u);
  EXPECT_EQ(seen.size(), 9u);
  json segments = collect("/v1/jobs/" + ids[0] + "/segments?target=fr&limit=2", "segments", &pages);
  EXPECT_EQ(pages, 2);
  ASSERT_EQ(segments.size(), 3u);
  EXPECT_EQ(segments[2]["source"], "Three.");
  // A cursor that is no cursor of this list (base64url of "v1:not|a-time"), and a parameter
  // the list does not take, are refused.
  HttpResponse bad = Call("GET", "/v1/jobs?cursor=djE6bm90fGEtdGltZQ", "");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(json::parse(bad.body)["error"]["message"], "cursor: not a cursor of this list");
  HttpResponse unknown = Call("GET", "/v1/jobs?status=running", "");
  EXPECT_EQ(unknown.status, 400) << unknown.body;
  EXPECT_EQ(json::parse(unknown.body)["error"]["message"],
            "unknown query parameter \"status\" (this route takes limit, cursor)");
}

TEST_F(JobsApiTest, MalformedSubmissionsAreRefusedWithAReason) {
  Start();
  const std::string boundary = "b0undary";
  const std::string bad =
      ReadFile(kSuite + "/xliff-21/test-suite/core/invalid/bad_EcBeforeSc.xlf").value_or("");
  HttpResponse r =
      Call("POST", "/v1/jobs", Multipart(boundary, {{"target_langs", "fr"}}, "bad.xlf", bad),
           "multipart/form-data; boundary=" + boundary);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_THAT(
      r.body,
      HasSubstr("bad.xlf: line 6, column 13: <ec startRef=\\\"1\\\"> comes before its <sc>"));
  r = Call("POST", "/v1/jobs",
           Multipart(boundary, {{"target_langs", "fr"}}, "cut.xlf", "<xliff version=\"2.0\""),
           "multipart/form-data; boundary=" + boundary);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_THAT(r.body, HasSubstr("cut.xlf: line 1"));
  r = Call("POST", "/v1/jobs",
           "--b0undary\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b0undary--\r\n",
           "multipart/form-data; boundary=" + boundary);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("file"));
  r = Call("POST", "/v1/jobs", R"({"source_lang":"en","target_langs":["es"],"segments":[]})");
  EXPECT_EQ(r.status, 422) << r.body;
  r = Call("POST", "/v1/jobs",
           R"({"source_lang":"en","target_langs":["es"],"segments":["a"],"colour":"red"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("colour"));
  EXPECT_EQ(Call("GET", "/v1/jobs/job_nope", "").status, 404);
  // A source the TM could never take (and no database stores a NUL in text) is refused at once,
  // on SQLite and PostgreSQL alike.
  r = Call("POST", "/v1/jobs",
           R"({"source_lang":"en","target_langs":["es"],"segments":["ok","x\u0000y"]})");
  EXPECT_EQ(r.status, 422) << r.body;  // as for the other contents a job cannot have
  EXPECT_THAT(r.body, HasSubstr("segments[1]: control character U+0000 at byte 1"));
}

// A kill -9 in the middle of the MT stage: after a restart the job completes, every segment
// translated once, exactly as the engine translates it.
TEST_F(JobsApiTest, AJobSurvivesAKillNineAndLosesNothing) {
  const std::vector<std::string> settings = {"jobs.chunk=2", "jobs.lease=2s"};
  Start(settings);
  std::ifstream in(VERSO_SHARED_DATA "/mt/flores101-devtest/eng.devtest");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 1012u);
  json body{{"source_lang", "en"},
            {"target_langs", {"es"}},
            {"qe_threshold", 0},
            {"text_format", "plain"},
            {"segments", lines}};
  HttpResponse r = Call("POST", "/v1/jobs", body.dump());
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string id = json::parse(r.body)["id"];
  json job = WaitFor(id, [](const json& j) {
    return j["stages"][2]["done"].get<int>() >= 20;  // some of the MT stage committed
  });
  const int before = job["stages"][2]["done"];
  ASSERT_LT(before, 1012) << "the MT stage finished before the kill; make the job longer";
  server_->Signal(SIGKILL);
  EXPECT_EQ(server_->Wait(), 128 + SIGKILL);
  server_.reset();
  Start(settings);
  // Done when the review has seen every segment (a few wait for a post-editor: QA errors).
  job = WaitFor(id, [](const json& j) { return j["stages"][3]["state"] == "done"; });
  EXPECT_EQ(job["counts"]["segments"], 1012);
  EXPECT_EQ(job["counts"]["mt"], 1012);
  EXPECT_EQ(job["counts"]["approved"].get<int>() + job["counts"]["awaiting_post_edit"].get<int>(),
            1012);
  json segs = Get("/v1/jobs/" + id + "/segments?target=es&limit=2000");
  ASSERT_EQ(segs["segments"].size(), 1012u);
  // Every translation is the engine's for that sentence (none lost, none mixed up).
  json translated = json::array();
  for (size_t begin = 0; begin < lines.size(); begin += 500) {
    std::vector<std::string> part(lines.begin() + begin,
                                  lines.begin() + std::min(lines.size(), begin + 500));
    json direct{
        {"source_lang", "en"}, {"target_lang", "es"}, {"text_format", "plain"}, {"segments", part}};
    HttpResponse t = Call("POST", "/v1/translate", direct.dump());
    ASSERT_EQ(t.status, 200) << t.body;
    const json answer = json::parse(t.body);  // (a temporary's element would dangle)
    for (const auto& x : answer["translations"]) translated.push_back(x);
  }
  for (size_t i = 0; i < 1012; ++i) {
    EXPECT_EQ(segs["segments"][i]["index"], i);
    EXPECT_EQ(segs["segments"][i]["target"], translated[i]["text"]) << i;
  }
  EXPECT_THAT(ReadFile(log_).value_or(""), Not(HasSubstr("jobs.task_failed")));
}

// `verso serve` with no workers of its own and a separate `verso worker` process sharing the
// database's queue: the server accepts and queues, the worker translates.
TEST_F(JobsApiTest, AWorkerProcessRunsTheServersJobs) {
  Start({"jobs.workers=0"});
  HttpResponse r = Call("POST", "/v1/jobs",
                        R"({"source_lang":"en","target_langs":["es"],"qe_threshold":0,)"
                        R"("segments":["The house is red.","The cat sleeps."]})");
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string id = json::parse(r.body)["id"];
  EXPECT_EQ(Get("/v1/jobs/" + id)["status"], "queued");
  test::Child worker({VERSO_BINARY, "--data-dir", dir_, "--log-level", "warn", "--set",
                      "mt.apertium.pipelines=1", "worker", "--threads", "1"},
                     {}, dir_ + "/worker.log");
  json job = WaitFor(id, [](const json& j) { return j["status"] == "completed"; });
  EXPECT_EQ(job["counts"]["mt"], 2);
  worker.Kill(SIGTERM);
  EXPECT_EQ(worker.Wait(), 0) << ReadFile(dir_ + "/worker.log").value_or("");
}

}  // namespace
}  // namespace verso
