// The HTTP API end to end: the real verso binary serving on port 0 with a temporary data
// directory, real SQLite, real HTTP on 127.0.0.1.
#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/http_client.h"
#include "tests/process.h"
#include "tests/verso_server.h"

namespace verso {
namespace {

using nlohmann::json;
using test::Fetch;
using test::HttpConnection;
using test::HttpResponse;
using ::testing::HasSubstr;

std::string TestDir(const std::string& name) { return test::TestDir("api", name); }
using test::CreateKey;

// `verso serve` as a child process.
class ServerProcess : public test::VersoServer {
 public:
  ServerProcess(const std::string& dir, const std::vector<std::string>& settings)
      : VersoServer(dir, {.settings = settings}) {}
};

struct Reply {
  HttpResponse http;
  json body;
  int status() const { return http.status; }
};

std::string SmallTmx(const std::string& src, const std::string& tgt, int units,
                     const std::string& prefix = "Sentence") {
  std::string s = "<?xml version=\"1.0\"?>\n<tmx version=\"1.4\"><header srclang=\"" + src +
                  "\" creationtool=\"t\" segtype=\"sentence\" o-tmf=\"t\" adminlang=\"en\" "
                  "datatype=\"plaintext\"/>\n<body>\n";
  for (int i = 0; i < units; ++i) {
    s += "<tu><tuv xml:lang=\"" + src + "\"><seg>" + prefix + " number " + std::to_string(i) +
         " here</seg></tuv><tuv xml:lang=\"" + tgt + "\"><seg>Frase " + std::to_string(i) +
         "</seg></tuv></tu>\n";
  }
  return s + "</body></tmx>\n";
}

class ApiTest : public test::ServerTest {
 protected:
  ApiTest() : ServerTest("api") {}
  void SetUp() override {
    ServerTest::SetUp();
    admin_ = CreateKey(dir_, "acme", "admin");
    reader_ = CreateKey(dir_, "acme", "tm:read");
    writer_ = CreateKey(dir_, "acme", "tm:read,tm:write");
    other_ = CreateKey(dir_, "globex", "admin");
    Start({"server.max_body_bytes=65536", "imports.sync_max_bytes=4096"});
  }

  Reply Call(const std::string& method, const std::string& path, const std::string& key,
             const std::string& body = "",
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    Reply r;
    r.http = Send(method, path, key, body, "application/json", std::move(headers));
    if (r.http.Header("content-type").rfind("application/json", 0) == 0 && !r.http.body.empty()) {
      r.body = json::parse(r.http.body, nullptr, false);
    }
    return r;
  }
  Reply Call(const std::string& method, const std::string& path, const std::string& key,
             const json& body) {
    return Call(method, path, key, body.dump());
  }

  int stores_ = 0;
  std::string NewStore(const std::string& key, const std::string& src = "en-US",
                       const std::string& tgt = "es-ES") {
    // Store names are unique per tenant.
    Reply r = Call(
        "POST", "/v1/tm", key,
        json{
            {"name", "t" + std::to_string(++stores_)}, {"source_lang", src}, {"target_lang", tgt}});
    EXPECT_EQ(r.status(), 201) << r.http.body;
    return r.body.value("id", "");
  }

  // The error object of a reply, checked for shape and request id.
  json Error(const Reply& r) {
    EXPECT_TRUE(r.body.contains("error")) << r.http.body;
    json e = r.body["error"];
    EXPECT_EQ(e["request_id"], r.http.Header("x-request-id"));
    EXPECT_FALSE(e.value("request_id", "").empty());
    return e;
  }

  std::string admin_, reader_, writer_, other_;
};

TEST_F(ApiTest, StoresSegmentsLookupConcordance) {
  Reply created = Call("POST", "/v1/tm", writer_,
                       json{{"name", "Docs"}, {"source_lang", "EN-us"}, {"target_lang", "es_es"}});
  ASSERT_EQ(created.status(), 201) << created.http.body;
  std::string store = created.body["id"];
  EXPECT_EQ(created.body["source_lang"], "en-US");
  EXPECT_EQ(created.body["target_lang"], "es-ES");
  EXPECT_EQ(created.http.Header("location"), "/v1/tm/" + store);

  Reply one = Call("POST", "/v1/tm/" + store + "/segments", writer_,
                   json{{"source", "Open the file"},
                        {"target", "Abrir el archivo"},
                        {"context", {{"key", "menu.open"}}},
                        {"properties", {{{"type", "x-domain"}, {"value", "ui"}}}}});
  ASSERT_EQ(one.status(), 201) << one.http.body;
  int64_t id = one.body["id"];
  Reply batch = Call("POST", "/v1/tm/" + store + "/segments/batch", writer_,
                     json{{"text_format", "plain"},
                          {"segments",
                           {{{"source", "Close <the> file"}, {"target", "Cerrar"}},
                            {{"source", "Save the file"}, {"target", "Guardar el archivo"}}}}});
  ASSERT_EQ(batch.status(), 200) << batch.http.body;
  // Plain text in, plain text out (stored as markup: "Close &lt;the&gt; file").
  EXPECT_EQ(batch.body["segments"][0]["source"], "Close <the> file");

  Reply got = Call("GET", "/v1/tm/" + store + "/segments/" + std::to_string(id), reader_);
  EXPECT_EQ(got.status(), 200);
  EXPECT_EQ(got.body["properties"][0]["value"], "ui");
  EXPECT_EQ(Call("GET", "/v1/tm/" + store, reader_).body["segment_count"], 3);
  EXPECT_EQ(Call("GET", "/v1/tm", reader_).body["stores"].size(), 1u);

  Reply lookup = Call("POST", "/v1/tm/" + store + "/lookup", reader_,
                      json{{"source", "Open the file"}, {"context", {{"key", "menu.open"}}}});
  ASSERT_EQ(lookup.status(), 200) << lookup.http.body;
  ASSERT_EQ(lookup.body["matches"].size(), 2u);
  EXPECT_EQ(lookup.body["matches"][0]["score"], 101);
  EXPECT_EQ(lookup.body["matches"][0]["band"], "101");
  EXPECT_EQ(lookup.body["matches"][1]["score"], 66);

  Reply many =
      Call("POST", "/v1/tm/" + store + "/lookup/batch", reader_,
           json{{"queries", {{{"source", "Save the file"}}, {{"source", "Nothing alike"}}}},
                {"min_score", 70},
                {"max_results", 1}});
  ASSERT_EQ(many.status(), 200) << many.http.body;
  ASSERT_EQ(many.body["results"].size(), 2u);
  EXPECT_EQ(many.body["results"][0]["matches"][0]["segment"]["target"], "Guardar el archivo");
  EXPECT_TRUE(many.body["results"][1]["matches"].empty());

  // "Close <the> file" holds "<the>" as a tag, not the word: two segments have the phrase.
  Reply conc =
      Call("GET", "/v1/tm/" + store + "/concordance?q=the%20file&in=source&limit=1", reader_);
  ASSERT_EQ(conc.status(), 200) << conc.http.body;
  EXPECT_EQ(conc.body["matches"].size(), 1u);
  EXPECT_EQ(conc.body["total"], 2);
  EXPECT_EQ(conc.body["total_exact"], true);  // few candidates: every one is checked
  EXPECT_EQ(conc.body["matches"][0]["ranges"][0], json::array({5, 13}));
  // The next page holds the other match, and is the last.
  ASSERT_TRUE(conc.body["next_cursor"].is_string()) << conc.http.body;
  Reply second = Call("GET",
                      "/v1/tm/" + store + "/concordance?q=the%20file&in=source&limit=1&cursor=" +
                          conc.body["next_cursor"].get<std::string>(),
                      reader_);
  ASSERT_EQ(second.status(), 200) << second.http.body;
  ASSERT_EQ(second.body["matches"].size(), 1u);
  EXPECT_NE(second.body["matches"][0]["segment"]["id"], conc.body["matches"][0]["segment"]["id"]);
  EXPECT_TRUE(second.body["next_cursor"].is_null());
  // A word's beginning finds it with match=prefix (whole words by default).
  EXPECT_EQ(Call("GET", "/v1/tm/" + store + "/concordance?q=fil", reader_).body["total"], 0);
  EXPECT_EQ(
      Call("GET", "/v1/tm/" + store + "/concordance?q=fil&match=prefix", reader_).body["total"], 3);
  Reply bad_cursor =
      Call("GET", "/v1/tm/" + store + "/concordance?q=file&cursor=bm90LWEtY3Vyc29y", reader_);
  EXPECT_EQ(bad_cursor.status(), 400);
  EXPECT_EQ(bad_cursor.body["error"]["message"],
            "cursor: not a cursor this list gave (pass next_cursor as it came)");
  Reply unknown = Call("GET", "/v1/tm/" + store + "/concordance?q=file&lmit=5", reader_);
  EXPECT_EQ(unknown.status(), 400);
  EXPECT_EQ(unknown.body["error"]["message"],
            "unknown query parameter \"lmit\" (this route takes q, in, match, limit, cursor, "
            "text_format)");
  // A store's segments, oldest first, page by page.
  Reply page1 = Call("GET", "/v1/tm/" + store + "/segments?limit=2", reader_);
  ASSERT_EQ(page1.status(), 200) << page1.http.body;
  ASSERT_EQ(page1.body["segments"].size(), 2u);
  Reply page2 = Call("GET",
                     "/v1/tm/" + store +
                         "/segments?limit=2&cursor=" + page1.body["next_cursor"].get<std::string>(),
                     reader_);
  ASSERT_EQ(page2.status(), 200) << page2.http.body;
  ASSERT_EQ(page2.body["segments"].size(), 1u);
  EXPECT_TRUE(page2.body["next_cursor"].is_null());
  EXPECT_LT(page1.body["segments"][1]["id"].get<int64_t>(),
            page2.body["segments"][0]["id"].get<int64_t>());
  Reply all = Call("GET", "/v1/tm/" + store + "/concordance?q=file&in=both", reader_);
  EXPECT_EQ(all.body["total"], 3);
  EXPECT_EQ(all.body["total_exact"], true);

  Reply updated = Call("PUT", "/v1/tm/" + store + "/segments/" + std::to_string(id), writer_,
                       json{{"source", "Open the folder"}, {"target", "Abrir la carpeta"}});
  ASSERT_EQ(updated.status(), 200) << updated.http.body;
  EXPECT_EQ(updated.body["source"], "Open the folder");
  EXPECT_EQ(
      Call("POST", "/v1/tm/" + store + "/lookup", reader_, json{{"source", "Open the folder"}})
          .body["matches"][0]["score"],
      100);
  EXPECT_EQ(Call("DELETE", "/v1/tm/" + store + "/segments/" + std::to_string(id), writer_).status(),
            204);
  EXPECT_EQ(Call("GET", "/v1/tm/" + store + "/segments/" + std::to_string(id), reader_).status(),
            404);
  EXPECT_EQ(Call("DELETE", "/v1/tm/" + store, admin_).status(), 204);
  EXPECT_EQ(Call("GET", "/v1/tm/" + store, reader_).status(), 404);
}

TEST_F(ApiTest, EveryErrorClassHasItsStatusAndNamesTheField) {
  std::string store = NewStore(admin_);
  const std::string seg = "/v1/tm/" + store + "/segments";
  struct Case {
    std::string method, path, key, body;
    std::vector<std::pair<std::string, std::string>> headers;
    int status;
    std::string code, message;
  };
  const std::string bad_utf8 = std::string("{\"source\":\"caf") + '\xE9' + "\",\"target\":\"x\"}";
  std::vector<Case> cases = {
      {"POST",
       seg,
       admin_,
       "{\"source\": \"a\",",
       {},
       400,
       "bad_request",
       "malformed JSON at line 1, column 16: syntax error while parsing object key - "
       "unexpected end of input; expected string literal"},
      {"POST",
       seg,
       admin_,
       "[1,2]",
       {},
       400,
       "bad_request",
       "the request body must be a JSON object, not an array"},
      {"POST",
       seg,
       admin_,
       R"({"source": 5, "target": "x"})",
       {},
       400,
       "bad_request",
       "source: expected a string, got an integer"},
      {"POST",
       seg,
       admin_,
       R"({"source": "a", "target": "b", "colour": "red"})",
       {},
       400,
       "bad_request",
       "unknown field \"colour\""},
      {"POST", seg, admin_, R"({"target": "b"})", {}, 400, "bad_request", "source: is required"},
      {"POST",
       seg,
       admin_,
       R"({"source": "a", "target": "b", "context": {"key": 1}})",
       {},
       400,
       "bad_request",
       "context.key: expected a string, got an integer"},
      {"POST",
       seg,
       admin_,
       bad_utf8,
       {},
       400,
       "bad_request",
       "the request body is not valid UTF-8 (byte 14)"},
      {"GET",
       "/v1/tm/" + store + "/concordance?q=caf%E9",
       admin_,
       "",
       {},
       400,
       "bad_request",
       "the request target is not valid UTF-8 once decoded"},
      {"POST",
       seg,
       admin_,
       R"({"source": "Tom & Jerry", "target": "b", "text_format": "markup"})",
       {},
       422,
       "invalid_argument",
       "segments[0].source: markup: \"&\" must start an entity (&amp; &lt; &gt; &quot; &apos; "
       "&#N;) "
       "at byte 4"},
      {"POST",
       "/v1/tm",
       admin_,
       R"({"name": "x", "source_lang": "english", "target_lang": "de"})",
       {},
       422,
       "invalid_argument",
       "source_lang: \"english\" is not a valid BCP 47 language tag: \"english\" is not a language "
       "subtag (2-3 letters)"},
      {"POST",
       "/v1/tm/" + store + "/lookup",
       admin_,
       R"({"source": "x", "max_results": 500})",
       {},
       422,
       "invalid_argument",
       "max_results: must be between 1 and 100 (got 500)"},
      {"GET",
       "/v1/tm/" + store + "/concordance",
       admin_,
       "",
       {},
       400,
       "bad_request",
       "q: is required"},
      {"GET",
       "/v1/tm",
       "",
       "",
       {},
       401,
       "unauthenticated",
       "send the API key as Authorization: Bearer <key>"},
      {"GET",
       "/v1/tm",
       "vsk_" + std::string(52, 'x'),
       "",
       {},
       401,
       "unauthenticated",
       "the API key is missing, unknown or revoked"},
      {"POST",
       seg,
       reader_,
       R"({"source": "a", "target": "b"})",
       {},
       403,
       "permission_denied",
       "this key lacks the scope tm:write"},
      {"DELETE",
       "/v1/tm/" + store,
       writer_,
       "",
       {},
       403,
       "permission_denied",
       "this key lacks the scope admin"},
      {"GET", "/v1/tm/tm_nope", admin_, "", {}, 404, "not_found", "TM store tm_nope not found"},
      {"GET", "/v2/anything", admin_, "", {}, 404, "not_found", "no resource at /v2/anything"},
      {"PATCH",
       "/v1/tm/" + store,
       admin_,
       "",
       {},
       405,
       "method_not_allowed",
       "PATCH is not allowed on /v1/tm/" + store},
      {"POST",
       seg,
       admin_,
       std::string(70000, 'x'),
       {},
       413,
       "payload_too_large",
       "request bodies on this route are limited to 65536 bytes"},
      {"POST",
       seg,
       admin_,
       R"({"source": "a", "target": "b"})",
       {{"Content-Type", "text/plain"}},
       415,
       "unsupported_media_type",
       "Content-Type \"text/plain\" is not accepted here (application/json)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body.substr(0, 60));
    Reply r = Call(c.method, c.path, c.key, c.body, c.headers);
    EXPECT_EQ(r.status(), c.status) << r.http.body;
    json e = Error(r);
    EXPECT_EQ(e["code"], c.code);
    if (!c.message.empty()) EXPECT_EQ(e["message"], c.message);
  }
  // 405 says what is allowed; 401 asks for a bearer token.
  EXPECT_EQ(Call("PATCH", "/v1/tm/" + store, admin_).http.Header("allow"), "GET, DELETE");
  EXPECT_EQ(Call("GET", "/v1/tm", "").http.Header("www-authenticate"), "Bearer");
  // 409: an update into an existing identical segment.
  Reply a = Call("POST", seg, admin_, json{{"source", "One"}, {"target", "Uno"}});
  Call("POST", seg, admin_, json{{"source", "Two"}, {"target", "Dos"}});
  Reply dup = Call("PUT", seg + "/" + std::to_string(a.body["id"].get<int64_t>()), admin_,
                   json{{"source", "Two"}, {"target", "Dos"}});
  EXPECT_EQ(dup.status(), 409);
  EXPECT_EQ(Error(dup)["code"], "conflict");
  // The process survived all of it.
  EXPECT_EQ(Call("GET", "/healthz", "").status(), 200);
}

TEST_F(ApiTest, AnotherTenantsStoreIsNotFoundOnEveryEndpoint) {
  std::string store = NewStore(admin_);
  Reply seg = Call("POST", "/v1/tm/" + store + "/segments", admin_,
                   json{{"source", "Secret"}, {"target", "Secreto"}});
  std::string id = std::to_string(seg.body["id"].get<int64_t>());
  const std::string tmx = SmallTmx("en-US", "es-ES", 2);
  struct Endpoint {
    std::string method, path, body;
    std::string content_type = "application/json";
  };
  std::vector<Endpoint> endpoints = {
      {"GET", "/v1/tm/{s}", ""},
      {"DELETE", "/v1/tm/{s}", ""},
      {"POST", "/v1/tm/{s}/segments", R"({"source":"a","target":"b"})"},
      {"POST", "/v1/tm/{s}/segments/batch", R"({"segments":[{"source":"a","target":"b"}]})"},
      {"GET", "/v1/tm/{s}/segments/" + id, ""},
      {"PUT", "/v1/tm/{s}/segments/" + id, R"({"source":"a","target":"b"})"},
      {"DELETE", "/v1/tm/{s}/segments/" + id, ""},
      {"POST", "/v1/tm/{s}/lookup", R"({"source":"Secret"})"},
      {"POST", "/v1/tm/{s}/lookup/batch", R"({"queries":[{"source":"Secret"}]})"},
      {"GET", "/v1/tm/{s}/concordance?q=Secret", ""},
      {"POST", "/v1/tm/{s}/imports", tmx, "application/x-tmx+xml"},
      {"GET", "/v1/tm/{s}/imports/imp_x", ""},
      {"GET", "/v1/tm/{s}/tmx", ""},
  };
  for (const Endpoint& e : endpoints) {
    auto path = [&](const std::string& s) {
      std::string p = e.path;
      return p.replace(p.find("{s}"), 3, s);
    };
    SCOPED_TRACE(e.method + " " + e.path);
    Reply theirs = Call(e.method, path(store), other_, e.body, {{"Content-Type", e.content_type}});
    Reply missing =
        Call(e.method, path("tm_missing"), other_, e.body, {{"Content-Type", e.content_type}});
    EXPECT_EQ(theirs.status(), 404) << theirs.http.body;
    EXPECT_EQ(missing.status(), 404);
    EXPECT_EQ(Error(theirs)["message"], "TM store " + store + " not found");
    EXPECT_EQ(Error(missing)["message"], "TM store tm_missing not found");
  }
  // Nothing changed, and the other tenant's list is empty.
  EXPECT_EQ(Call("GET", "/v1/tm/" + store, admin_).body["segment_count"], 1);
  EXPECT_TRUE(Call("GET", "/v1/tm", other_).body["stores"].empty());
  EXPECT_EQ(Call("POST", "/v1/tm/" + store + "/lookup", admin_, json{{"source", "Secret"}})
                .body["matches"][0]["segment"]["target"],
            "Secreto");
}

TEST_F(ApiTest, UploadsImportNowOrInTheBackgroundAndDownloadRoundTrips) {
  std::string store = NewStore(writer_, "en-US", "es-ES");
  const std::vector<std::pair<std::string, std::string>> tmx_type = {
      {"Content-Type", "application/x-tmx+xml"}};
  Reply small = Call("POST", "/v1/tm/" + store + "/imports", writer_, SmallTmx("en-US", "es-ES", 3),
                     tmx_type);
  ASSERT_EQ(small.status(), 200) << small.http.body;
  EXPECT_EQ(small.body["status"], "succeeded");
  EXPECT_EQ(small.body["report"]["inserted"], 3);

  std::string large_tmx = SmallTmx("en-US", "es-ES", 300, "Background");
  ASSERT_GT(large_tmx.size(), 4096u);
  Reply large = Call("POST", "/v1/tm/" + store + "/imports", writer_, large_tmx, tmx_type);
  ASSERT_EQ(large.status(), 202) << large.http.body;
  std::string location = large.http.Header("location");
  EXPECT_EQ(location, "/v1/tm/" + store + "/imports/" + large.body["id"].get<std::string>());
  Reply progress;
  for (int i = 0; i < 1000; ++i) {
    progress = Call("GET", location, reader_);
    if (progress.body.value("status", "") == "succeeded" ||
        progress.body.value("status", "") == "failed")
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(progress.body["status"], "succeeded") << progress.http.body;
  EXPECT_EQ(progress.body["report"]["inserted"], 300);
  EXPECT_EQ(progress.body["bytes_read"], progress.body["bytes_total"]);

  Reply broken = Call("POST", "/v1/tm/" + store + "/imports", writer_,
                      "<tmx version=\"1.4\"><header/><body/></tmx>", tmx_type);
  EXPECT_EQ(broken.status(), 422);
  EXPECT_EQ(Error(broken)["message"], "upload: line 1: <header> has no srclang attribute");
  Reply octet = Call("POST", "/v1/tm/" + store + "/imports", writer_, "x",
                     {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(octet.status(), 400);

  Reply download = Call("GET", "/v1/tm/" + store + "/tmx", reader_);
  ASSERT_EQ(download.status(), 200);
  EXPECT_EQ(download.http.Header("content-type"), "application/x-tmx+xml");
  EXPECT_THAT(download.http.body, HasSubstr("<seg>Background number 299 here</seg>"));
  std::string copy = NewStore(writer_, "en-US", "es-ES");
  Reply back = Call("POST", "/v1/tm/" + copy + "/imports?format=tmx", writer_, download.http.body,
                    {{"Content-Type", "application/octet-stream"}});
  ASSERT_TRUE(back.status() == 200 || back.status() == 202) << back.http.body;
  for (int i = 0; i < 1000 && Call("GET", "/v1/tm/" + copy, reader_).body["segment_count"] != 303;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Call("GET", "/v1/tm/" + copy, reader_).body["segment_count"], 303);
}

TEST_F(ApiTest, RequestIdsAreEchoedOrGenerated) {
  Reply given = Call("GET", "/healthz", "", "", {{"X-Request-Id", "trace-42"}});
  EXPECT_EQ(given.http.Header("x-request-id"), "trace-42");
  Reply generated = Call("GET", "/v1/tm/tm_x", admin_);
  EXPECT_EQ(generated.http.Header("x-request-id").substr(0, 4), "req_");
  EXPECT_EQ(Error(generated)["request_id"], generated.http.Header("x-request-id"));
}

TEST_F(ApiTest, KeepAliveServesManyRequestsOnOneConnection) {
  HttpConnection c("127.0.0.1", server_->port());
  for (int i = 0; i < 20; ++i) {
    HttpResponse r = c.Request("GET", "/v1/tm", "", {{"Authorization", "Bearer " + reader_}});
    ASSERT_EQ(r.status, 200) << i;
  }
}

TEST_F(ApiTest, OversizedHeadIsRefused) {
  HttpConnection c("127.0.0.1", server_->port());
  HttpResponse r = c.Request("GET", "/healthz", "", {{"X-Big", std::string(20000, 'a')}});
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(c.WaitClosed(5000));
}

TEST_F(ApiTest, MetricsCountRequestsByRouteAndStatus) {
  std::string store = NewStore(admin_);
  Call("POST", "/v1/tm/" + store + "/lookup", reader_, json{{"source", "x"}});
  Call("GET", "/v1/tm/nope", reader_);
  Reply m = Call("GET", "/metrics", "");
  ASSERT_EQ(m.status(), 200);
  EXPECT_EQ(m.http.Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(m.http.body, HasSubstr("verso_http_requests_total{route=\"/v1/tm/{store}/lookup\","
                                     "method=\"POST\",status=\"200\"} 1\n"));
  EXPECT_THAT(m.http.body, HasSubstr("verso_http_requests_total{route=\"/v1/tm/{store}\","
                                     "method=\"GET\",status=\"404\"} 1\n"));
  EXPECT_THAT(m.http.body, HasSubstr("verso_tm_lookup_duration_seconds_count 1\n"));
  // Totals only: /metrics is open, and no tenant's store ids may show there.
  EXPECT_THAT(m.http.body, HasSubstr("verso_tm_index_segments 0\n"));
  EXPECT_THAT(m.http.body, HasSubstr("verso_tm_stores{index=\"any\"} 1\n"));
  EXPECT_THAT(m.http.body, Not(HasSubstr(store)));
  // The process's resources and the queues, for autoscaling.
  for (const char* gauge : {"\nverso_process_resident_memory_bytes ", "\nverso_memory_limit_bytes ",
                            "\nverso_process_cpu_seconds ", "\nverso_cpu_limit_cores "}) {
    const size_t at = m.http.body.find(gauge);
    ASSERT_NE(at, std::string::npos) << gauge;
    EXPECT_GT(std::stod(m.http.body.substr(at + std::strlen(gauge))), 0) << gauge;
  }
  EXPECT_THAT(m.http.body, HasSubstr("\nverso_queue_depth{queue=\"tasks\"} 0\n"));
  EXPECT_THAT(m.http.body, HasSubstr("\nverso_queue_depth{queue=\"post_edit\"} 0\n"));
  Reply ready = Call("GET", "/readyz", "");
  EXPECT_EQ(ready.body["checks"]["storage"], "ok");
  EXPECT_EQ(ready.body["checks"]["indexes"], "loaded");
}

TEST(ApiLimitsTest, RateLimitAnswers429WithRetryAfter) {
  std::string dir = TestDir("ratelimit");
  std::string key = CreateKey(dir, "acme", "tm:read");
  std::string other = CreateKey(dir, "acme", "tm:read");
  // One token per 1000 s: after a burst of 2 the third request must wait.
  ServerProcess server(dir, {"rate_limit.rps=0.001", "rate_limit.burst=2"});
  auto get = [&](const std::string& k) {
    return Fetch(server.port(), "GET", "/v1/tm", "", {{"Authorization", "Bearer " + k}});
  };
  EXPECT_EQ(get(key).status, 200);
  EXPECT_EQ(get(key).status, 200);
  HttpResponse limited = get(key);
  EXPECT_EQ(limited.status, 429);
  EXPECT_GE(std::stoi(limited.Header("retry-after")), 900);
  EXPECT_THAT(limited.body, HasSubstr("\"code\":\"rate_limited\""));
  EXPECT_EQ(get(other).status, 200);  // per key
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(), 0);
  std::filesystem::remove_all(dir);
}

TEST(ApiLimitsTest, ConnectionsOverTheCapGet503AndSlowClientsAreCut) {
  std::string dir = TestDir("limits");
  ServerProcess server(
      dir, {"server.max_connections=2", "server.header_timeout=1s", "server.idle_timeout=1s"});
  HttpConnection a("127.0.0.1", server.port());
  // Wait until the server has let go of the readiness probes' connections: only `a` is open.
  bool alone = false;
  for (int i = 0; i < 500 && !alone; ++i) {
    alone =
        a.Request("GET", "/metrics").body.find("\nverso_http_connections 1\n") != std::string::npos;
    if (!alone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(alone);
  HttpConnection b("127.0.0.1", server.port());
  ASSERT_EQ(b.Request("GET", "/healthz").status, 200);
  HttpConnection third("127.0.0.1", server.port());
  HttpResponse refused = third.Read();
  EXPECT_EQ(refused.status, 503);
  EXPECT_THAT(refused.body, HasSubstr("too many connections"));
  // A client that sends half a head and stalls is disconnected, freeing its slot.
  a.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  EXPECT_TRUE(a.WaitClosed(10000));
  EXPECT_TRUE(b.WaitClosed(10000));  // idle keep-alive connection
  EXPECT_EQ(Fetch(server.port(), "GET", "/healthz").status, 200);
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(), 0);
  std::filesystem::remove_all(dir);
}

TEST(ApiBootstrapTest, AFreshServerCreatesOneAdminKeyOnce) {
  std::string dir = TestDir("bootstrap");
  test::Child first(
      {VERSO_BINARY, "--data-dir", dir, "--log-level", "warn", "serve", "--listen", "127.0.0.1:0"});
  std::string line, key;
  int port = 0;
  while (port == 0 && first.ReadLine(&line)) {
    if (line.rfind("  vsk_", 0) == 0) key = line.substr(2);
    size_t at = line.find("listening on http://127.0.0.1:");
    if (at != std::string::npos) port = std::atoi(line.c_str() + at + 30);
  }
  ASSERT_EQ(key.size(), 56u);
  EXPECT_EQ(Fetch(port, "POST", "/v1/tm", R"({"name":"t","source_lang":"en","target_lang":"fr"})",
                  {{"Authorization", "Bearer " + key}})
                .status,
            201);
  first.Kill(SIGTERM);
  EXPECT_EQ(first.Wait(), 0);
  // The second start has a key already: it prints none.
  test::Child second(
      {VERSO_BINARY, "--data-dir", dir, "--log-level", "warn", "serve", "--listen", "127.0.0.1:0"});
  ASSERT_TRUE(second.ReadLine(&line));
  EXPECT_THAT(line, HasSubstr("listening on"));
  second.Kill(SIGTERM);
  EXPECT_EQ(second.Wait(), 0);
  std::filesystem::remove_all(dir);
}

TEST(ApiShutdownTest, InFlightRequestsFinishAndDataSurvivesARestart) {
  std::string dir = TestDir("shutdown");
  std::string key = CreateKey(dir, "acme", "admin");
  auto server = std::make_unique<ServerProcess>(
      dir, std::vector<std::string>{"imports.sync_max_bytes=100000"});
  int port = server->port();
  std::string store = json::parse(Fetch(port, "POST", "/v1/tm",
                                        R"({"name":"t","source_lang":"en","target_lang":"es"})",
                                        {{"Authorization", "Bearer " + key}})
                                      .body)["id"];
  // Start an upload, and stop the server while it is half sent. Asking for 100 Continue tells
  // us when the server has taken the request.
  std::string body = SmallTmx("en", "es", 50, "Shutdown");
  HttpConnection upload("127.0.0.1", port);
  ASSERT_TRUE(upload.Send("POST /v1/tm/" + store +
                          "/imports HTTP/1.1\r\nHost: x\r\n"
                          "Authorization: Bearer " +
                          key +
                          "\r\n"
                          "Content-Type: application/x-tmx+xml\r\nExpect: 100-continue\r\n"
                          "Content-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n"));
  ASSERT_EQ(upload.Read(/*interim=*/true).status, 100);
  ASSERT_TRUE(upload.Send(body.substr(0, body.size() / 2)));
  HttpConnection idle("127.0.0.1", port);
  ASSERT_EQ(idle.Request("GET", "/healthz").status, 200);
  server->Signal(SIGTERM);
  // New connections are refused soon; the idle one is closed.
  bool refused = false;
  for (int i = 0; i < 500 && !refused; ++i) {
    refused = !HttpConnection("127.0.0.1", port).connected();
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(idle.WaitClosed(10000));
  // The upload in flight completes.
  ASSERT_TRUE(upload.Send(body.substr(body.size() / 2)));
  HttpResponse done = upload.Read();
  EXPECT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.Header("connection"), "close");
  EXPECT_THAT(done.body, HasSubstr("\"inserted\":50"));
  EXPECT_EQ(server->Wait(), 0);
  // Restart: everything is there.
  server = std::make_unique<ServerProcess>(dir, std::vector<std::string>{});
  HttpResponse lookup =
      Fetch(server->port(), "POST", "/v1/tm/" + store + "/lookup",
            R"({"source":"Shutdown number 7 here"})", {{"Authorization", "Bearer " + key}});
  EXPECT_EQ(lookup.status, 200);
  EXPECT_EQ(json::parse(lookup.body)["matches"][0]["score"], 100);
  server->Signal(SIGINT);
  EXPECT_EQ(server->Wait(), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace verso

namespace verso {
namespace {

// Every successful change through the API is in the audit log with its key, route, target and
// request id (reads, lookups and refused changes are not); the keys the CLI made are there too;
// `verso audit verify` finds the chain intact.
TEST_F(ApiTest, ChangesGoToTheAuditLogWithTheirKeyRouteAndRequestId) {
  Reply made = Call("POST", "/v1/tm", writer_,
                    json{{"name", "Audited"}, {"source_lang", "en"}, {"target_lang", "es"}});
  ASSERT_EQ(made.status(), 201);
  const std::string store = made.body["id"];
  Reply added = Call("POST", "/v1/tm/" + store + "/segments", writer_,
                     json{{"source", "Save the file"}, {"target", "Guarde el archivo"}});
  ASSERT_EQ(added.status(), 201);
  const int64_t id = added.body["id"];
  EXPECT_EQ(Call("POST", "/v1/tm/" + store + "/lookup", writer_, json{{"source", "Save"}}).status(),
            200);
  EXPECT_EQ(Call("GET", "/v1/tm/" + store, writer_).status(), 200);
  EXPECT_EQ(Call("POST", "/v1/tm/" + store + "/segments", writer_, json{{"source", ""}}).status(),
            400);
  EXPECT_EQ(Call("POST", "/v1/tm", reader_, json{{"name", "x"}}).status(), 403);
  Reply deleted = Call("DELETE", "/v1/tm/" + store + "/segments/" + std::to_string(id), writer_);
  ASSERT_EQ(deleted.status(), 204);

  test::RunResult listed = test::Run({VERSO_BINARY, "--data-dir", dir_, "audit", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  std::vector<json> records;
  std::istringstream lines(listed.out);
  for (std::string line; std::getline(lines, line);) records.push_back(json::parse(line));
  ASSERT_EQ(records.size(), 7u) << listed.out;  // 4 keys made by the CLI, then 3 API changes
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(records[i]["action"], "verso keys create");
    EXPECT_EQ(records[i]["seq"], i + 1);
  }
  const json& create = records[4];
  const json& add = records[5];
  const json& del = records[6];
  EXPECT_EQ(create["action"], "POST /v1/tm");
  EXPECT_EQ(create["target"], "id=" + store);
  EXPECT_EQ(create["detail"], "201");
  EXPECT_EQ(create["request_id"], made.http.Header("x-request-id"));
  EXPECT_EQ(add["action"], "POST /v1/tm/{store}/segments");
  EXPECT_EQ(add["target"], "store=" + store + " id=" + std::to_string(id));
  EXPECT_EQ(add["request_id"], added.http.Header("x-request-id"));
  EXPECT_EQ(del["action"], "DELETE /v1/tm/{store}/segments/{id}");
  EXPECT_EQ(del["target"], "id=" + std::to_string(id) + " store=" + store);
  EXPECT_EQ(del["detail"], "204");
  EXPECT_EQ(del["request_id"], deleted.http.Header("x-request-id"));
  for (const json* r : {&create, &add, &del}) {
    EXPECT_EQ((*r)["tenant"], "acme");
    EXPECT_EQ((*r)["actor"], create["actor"]);
    EXPECT_EQ((*r)["actor"].get<std::string>().rfind("key:key_", 0), 0u) << *r;
  }

  test::RunResult verified = test::Run({VERSO_BINARY, "--data-dir", dir_, "audit", "verify"});
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_EQ(verified.out.rfind(
                "audit log intact: 7 records from 1; head 7:" + del["hash"].get<std::string>(), 0),
            0u)
      << verified.out;
  // A head from the future (records removed from the end since) is refused.
  test::RunResult ahead = test::Run(
      {VERSO_BINARY, "--data-dir", dir_, "audit", "verify", "--head", "9:" + std::string(64, 'a')});
  EXPECT_EQ(ahead.exit_code, 1);
  EXPECT_EQ(ahead.err,
            "verso: error: the audit log ends at record 7 but reached record 9 before: records "
            "were removed from its end\n");
}

// Admission control: with one storage thread, two places in its queue and a short wait, 48
// simultaneous batch writes are either written whole (200) or shed whole (503 "overloaded" with
// Retry-After: 1), never half; /metrics counts the shed ones; once the burst has passed,
// requests are served again without a restart.
class AdmissionApiTest : public test::ServerTest {
 protected:
  AdmissionApiTest() : ServerTest("admission") {}
};

TEST_F(AdmissionApiTest, AnOverloadIsShedWholeWithRetryAfterAndPasses) {
  const std::string key = CreateKey(dir_, "acme", "tm:read,tm:write");
  Start({"server.storage_threads=1", "server.max_queued=2", "server.max_queue_wait=20ms"});
  HttpResponse created =
      Send("POST", "/v1/tm", key,
           json{{"name", "Burst"}, {"source_lang", "en"}, {"target_lang", "es"}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string store = json::parse(created.body)["id"];
  constexpr int kRequests = 48, kSegments = 1000;
  std::vector<HttpResponse> replies(kRequests);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRequests; ++r) {
    threads.emplace_back([&, r] {
      json segments = json::array();
      for (int i = 0; i < kSegments; ++i) {
        const std::string n = std::to_string(r) + "." + std::to_string(i);
        segments.push_back({{"source", "Burst sentence " + n}, {"target", "Frase " + n}});
      }
      replies[r] = Send("POST", "/v1/tm/" + store + "/segments/batch", key,
                        json{{"segments", segments}}.dump());
    });
  }
  for (auto& t : threads) t.join();
  int written = 0, shed = 0;
  for (const HttpResponse& r : replies) {
    if (r.status == 200) {
      ++written;
      continue;
    }
    ASSERT_EQ(r.status, 503) << r.body.substr(0, 300);
    ++shed;
    EXPECT_EQ(r.Header("retry-after"), "1");
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "overloaded");
  }
  EXPECT_GT(written, 0);
  EXPECT_GT(shed, 0) << "48 batches at once never exceeded one thread and two places";
  HttpResponse info = Send("GET", "/v1/tm/" + store, key);
  EXPECT_EQ(json::parse(info.body)["segment_count"], written * kSegments);
  const std::string metrics = Send("GET", "/metrics", "").body;
  auto series = [&](const std::string& what) {
    const std::string name = "verso_admission{pool=\"storage\",what=\"" + what + "\"} ";
    const size_t at = metrics.find(name);
    return at == std::string::npos ? -1 : std::atoi(metrics.c_str() + at + name.size());
  };
  EXPECT_EQ(series("shed_full") + series("shed_wait"), shed);
  EXPECT_EQ(series("queued"), 0);
  // The burst is over: one request at a time is served as before.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Send("GET", "/v1/tm/" + store, key).status, 200);
}

}  // namespace
}  // namespace verso
