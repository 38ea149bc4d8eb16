// What a hostile tenant with a valid key did to verso (issue 11), replayed against the real
// binary: each test sends the attack's class of input and asserts the exact refusal, then that
// the server still serves everyone else.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/file.h"
#include "common/strings.h"
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
using ::testing::Not;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kBoundary[] = "hostileBoundary7f3a";

std::string Part(const std::string& name, const std::string& value,
                 const std::string& file_name = "") {
  std::string disposition = StrCat("form-data; name=\"", name, "\"");
  if (!file_name.empty()) StrAppend(&disposition, "; filename=\"", file_name, "\"");
  return StrCat("--", kBoundary, "\r\nContent-Disposition: ", disposition, "\r\n\r\n", value,
                "\r\n");
}
std::string EndParts() { return StrCat("--", kBoundary, "--\r\n"); }
std::string MultipartType() { return StrCat("multipart/form-data; boundary=", kBoundary); }

constexpr char kPo[] =
    "msgid \"\"\nmsgstr \"\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n\n"
    "msgid \"Open the file\"\nmsgstr \"\"\n\nmsgid \"Save the file\"\nmsgstr \"\"\n";

class HostileTest : public test::ServerTest {
 protected:
  HostileTest() : ServerTest("hostile") {}
  void SetUp() override {
    ServerTest::SetUp();
    acme_ = test::CreateKey(dir_, "acme", "admin");
    globex_ = test::CreateKey(dir_, "globex", "admin");
  }
  HttpResponse Call(const std::string& method, const std::string& path, const std::string& key,
                    const std::string& body = "", const std::string& type = "application/json",
                    Headers headers = {}) {
    return Send(method, path, key, body, type, std::move(headers));
  }
  static std::string Message(const HttpResponse& r) {
    json j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_object()) {
      return j["error"].value("message", "");
    }
    if (j.is_object() && j.contains("message")) return j.value("message", "");  // DeepL's shape
    return r.body;
  }
  // The head of a TMX upload to `store` declaring `length` bytes, plus `extra` header lines.
  std::string UploadHead(const std::string& store, int64_t length, const std::string& extra = "") {
    return StrCat("POST /v1/tm/", store, "/imports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ",
                  acme_, "\r\nContent-Type: application/x-tmx+xml\r\n", extra,
                  "Content-Length: ", length, "\r\n\r\n");
  }
  std::string NewStore(const std::string& key) {
    HttpResponse r =
        Call("POST", "/v1/tm", key, R"({"name":"docs","source_lang":"en","target_lang":"es"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body)["id"];
  }
  // The server still answers everyone: the attack left nothing broken behind it.
  void ExpectHealthy() {
    EXPECT_EQ(Fetch(server_->port(), "GET", "/healthz").status, 200);
    HttpResponse t =
        Call("POST", "/v1/translate", globex_,
             R"({"source_lang":"en","target_lang":"es","segments":["The house is red."]})");
    ASSERT_EQ(t.status, 200) << t.body;
    EXPECT_EQ(json::parse(t.body)["translations"][0]["text"], "La casa es roja.");
  }
  std::string acme_, globex_;
};

// 1. Invalid UTF-8 in a multipart field used to be accepted, then crashed the worker that built
// the webhook's JSON, on every restart. Every text field is checked at the edge now.
TEST_F(HostileTest, MultipartTextFieldsMustBeUtf8) {
  Start({"webhooks.allow=127.0.0.1"});
  for (const auto& [field, value] :
       std::vector<std::pair<std::string, std::string>>{{"webhook_url", "http://127.0.0.1/\xff"},
                                                        {"source_lang", "e\xc3n"},
                                                        {"glossary", "g\xed\xa0\x80"}}) {
    std::string body =
        Part(field, value) + Part("target_langs", "es") + Part("file", kPo, "ui.po") + EndParts();
    HttpResponse r = Call("POST", "/v1/jobs", acme_, body, MultipartType());
    EXPECT_EQ(r.status, 400) << field << ": " << r.body;
    EXPECT_EQ(Message(r),
              StrCat("multipart/form-data: the part \"", field, "\" is not valid UTF-8"));
  }
  // A file name that would end a response header (it comes back in Content-Disposition).
  std::string body = Part("target_langs", "es") + Part("source_lang", "en") +
                     Part("file_name", "ui.po\r\nSet-Cookie: x=1") + Part("file", kPo, "ui.po") +
                     EndParts();
  HttpResponse r = Call("POST", "/v1/jobs", acme_, body, MultipartType());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Message(r),
            "file_name: at most 255 bytes of UTF-8 without control characters, '/' or '\\'");
  ExpectHealthy();
}

// 2. The DeepL route parsed bodies before checking the key, with no depth limit: 10 MiB of '['
// cost 700 MB. Now every route answers a missing key before reading a byte of the body, and no
// JSON may nest deeper than 32 levels.
TEST_F(HostileTest, KeysAreCheckedBeforeBodiesAndJsonDepthIsBounded) {
  Start();
  for (const char* path : {"/v2/translate", "/v1/translate", "/translate"}) {
    HttpConnection c("127.0.0.1", server_->port());
    // The head promises 10 MiB; the body never comes. The answer must not wait for it.
    ASSERT_TRUE(c.Send(StrCat("POST ", path,
                              " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "Content-Length: 10485760\r\n\r\n[[[[")));
    HttpResponse r = c.Read();
    EXPECT_THAT(r.status, ::testing::AnyOf(401, 403)) << path << ": " << r.body;
    EXPECT_TRUE(c.WaitClosed(5000)) << path;  // the unread body: the connection closes
  }
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  HttpResponse v1 = Call("POST", "/v1/translate", acme_, deep);
  EXPECT_EQ(v1.status, 400);
  EXPECT_THAT(Message(v1), HasSubstr("nested deeper than 32 levels"));
  HttpResponse v2 =
      Fetch(server_->port(), "POST", "/v2/translate", deep,
            {{"Authorization", "DeepL-Auth-Key " + acme_}, {"Content-Type", "application/json"}});
  EXPECT_EQ(v2.status, 400);
  EXPECT_THAT(Message(v2), HasSubstr("nested deeper than 32 levels"));
  // The key in a form body is no longer read (DeepL dropped it too): only header or query.
  HttpResponse form = Fetch(server_->port(), "POST", "/v2/translate",
                            StrCat("auth_key=", acme_, "&text=Hello&source_lang=EN&target_lang=ES"),
                            {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(form.status, 403);
  HttpResponse query = Fetch(server_->port(), "POST", StrCat("/v2/translate?auth_key=", acme_),
                             "text=Hello&source_lang=EN&target_lang=ES",
                             {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(query.status, 200) << query.body;
  ExpectHealthy();
}

// 3. A JSON job submission went through the upload path and escaped the JSON limits.
TEST_F(HostileTest, JsonJobSubmissionsAreHeldToTheJsonLimits) {
  Start();
  HttpConnection c("127.0.0.1", server_->port());
  ASSERT_TRUE(
      c.Send(StrCat("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ", acme_,
                    "\r\nContent-Type: application/json\r\nContent-Length: 20000000\r\n\r\n")));
  HttpResponse r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Message(r), "request bodies on this route are limited to 10485760 bytes");
  // Chunked, the length is not declared: reading stops at the limit.
  HttpConnection chunked("127.0.0.1", server_->port());
  ASSERT_TRUE(chunked.Send(
      StrCat("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ", acme_,
             "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")));
  const std::string chunk(1 << 20, '[');
  for (int i = 0; i < 11; ++i) {
    if (!chunked.Send(StrCat("100000\r\n", chunk, "\r\n"))) break;  // closed at the limit
  }
  HttpResponse cut = chunked.Read();
  EXPECT_EQ(cut.status, 413);
  // Within the size, the depth limit.
  HttpResponse deep = Call("POST", "/v1/jobs", acme_, std::string(5 << 20, '['));
  EXPECT_EQ(deep.status, 400);
  EXPECT_THAT(Message(deep), HasSubstr("nested deeper than 32 levels"));
  ExpectHealthy();
}

// 4. libxml2 unpacked gzip TMX uploads: 0.87 MB became 250 MB of XML. Compressed input is
// refused wherever a file comes in.
TEST_F(HostileTest, CompressedUploadsAreRefused) {
  Start();
  const std::string store = NewStore(acme_);
  const std::string tmx =
      "<?xml version=\"1.0\"?><tmx version=\"1.4\"><header srclang=\"en\" creationtool=\"t\" "
      "creationtoolversion=\"1\" segtype=\"sentence\" o-tmf=\"t\" adminlang=\"en\" "
      "datatype=\"plaintext\"/><body><tu><tuv xml:lang=\"en\"><seg>Hello</seg></tuv><tuv "
      "xml:lang=\"es\"><seg>Hola</seg></tuv></tu></body></tmx>";
  const std::string plain = dir_ + "/tm.tmx";
  std::ofstream(plain) << tmx;
  ASSERT_EQ(std::system(StrCat("gzip -k ", plain).c_str()), 0);
  const std::string gz = *ReadFile(plain + ".gz");
  HttpResponse r =
      Call("POST", StrCat("/v1/tm/", store, "/imports"), acme_, gz, "application/x-tmx+xml");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Message(r),
            "upload: the file is gzip-compressed; verso reads uncompressed files only (unpack it "
            "and send that)");
  EXPECT_EQ(json::parse(Call("GET", "/v1/tm/" + store, acme_).body)["segment_count"], 0);
  HttpResponse g =
      Call("POST", "/v1/glossaries/it/imports?format=tbx", acme_, gz, "application/octet-stream");
  EXPECT_EQ(g.status, 422) << g.body;
  EXPECT_THAT(Message(g), HasSubstr("the file is gzip-compressed"));
  std::string job = Part("source_lang", "en") + Part("target_langs", "es") +
                    Part("file", gz, "ui.po") + EndParts();
  HttpResponse j = Call("POST", "/v1/jobs", acme_, job, MultipartType());
  EXPECT_EQ(j.status, 422) << j.body;
  EXPECT_THAT(Message(j), HasSubstr("ui.po: the file is gzip-compressed"));
  ExpectHealthy();
}

// 5. PO documents with invalid UTF-8 broke the shared Apertium pipeline until its breaker
// opened for every tenant. They are refused at submission, naming where; the engine never
// sees them.
TEST_F(HostileTest, DocumentsAreValidatedWholeAtSubmission) {
  Start();
  std::string bad_po = std::string(kPo) + "\nmsgid \"Close the \xff window\"\nmsgstr \"\"\n";
  for (int i = 0; i < 15; ++i) {
    std::string body = Part("source_lang", "en") + Part("target_langs", "es") +
                       Part("file", bad_po, "ui.po") + EndParts();
    HttpResponse r = Call("POST", "/v1/jobs", acme_, body, MultipartType());
    ASSERT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(Message(r),
              "ui.po: line 11, column 18: not valid UTF-8 (verso reads PO files in UTF-8: msgconv "
              "--to-code=UTF-8 converts one)");
  }
  json status = json::parse(Call("GET", "/v1/status", "").body);
  EXPECT_EQ(status["degradation"]["level"], 0) << status.dump();
  ExpectHealthy();
}

// 6. One tenant's long work must not starve the others: long requests are capped per tenant,
// storage work runs off the I/O threads, and /healthz answers while uploads are in flight.
TEST_F(HostileTest, OneTenantsLongRequestsDoNotStarveOthers) {
  Start({"server.tenant_long_requests=1"});
  const std::string store = NewStore(acme_);
  const std::string other = NewStore(globex_);
  // acme holds a slow upload open: "100 Continue" says the server has taken it on (its slot
  // is held from then until the answer)...
  HttpConnection slow("127.0.0.1", server_->port());
  ASSERT_TRUE(slow.Send(UploadHead(store, 100000, "Expect: 100-continue\r\n")));
  ASSERT_EQ(slow.Read(/*interim=*/true).status, 100);
  ASSERT_TRUE(slow.Send("<?xml version=\"1.0\"?>"));
  // ...so its second is refused with a time to come back...
  HttpResponse second = Call("GET", StrCat("/v1/tm/", store, "/tmx"), acme_);
  EXPECT_EQ(second.status, 429) << second.body;
  EXPECT_EQ(second.Header("retry-after"), "1");
  EXPECT_THAT(Message(second), HasSubstr("this tenant already runs 1 uploads, exports or"));
  // ...while another tenant's export, and health checks, go through.
  EXPECT_EQ(Call("GET", StrCat("/v1/tm/", other, "/tmx"), globex_).status, 200);
  EXPECT_EQ(Fetch(server_->port(), "GET", "/healthz").status, 200);
  ExpectHealthy();
}

// 7. Webhook URLs reached the machine itself and the cloud metadata service, and the delivery
// log told which ports were open.
TEST_F(HostileTest, WebhooksOnlyReachPublicAddresses) {
  Start();
  for (const char* url :
       {"http://127.0.0.1:8080/", "http://[::1]/", "http://localhost/", "http://0x7f000001/",
        "http://2130706433/", "http://169.254.169.254/latest/meta-data/"}) {
    json submit = {{"source_lang", "en"},
                   {"target_langs", {"es"}},
                   {"segments", {"Hello"}},
                   {"webhook_url", url}};
    HttpResponse r = Call("POST", "/v1/jobs", acme_, submit.dump());
    EXPECT_EQ(r.status, 422) << url << ": " << r.body;
    EXPECT_THAT(Message(r), HasSubstr("is not a public one")) << url;
  }
  json creds = {{"source_lang", "en"},
                {"target_langs", {"es"}},
                {"segments", {"Hello"}},
                {"webhook_url", "https://user:pw@hooks.example.com/"}};
  HttpResponse r = Call("POST", "/v1/jobs", acme_, creds.dump());
  EXPECT_EQ(r.status, 422);
  EXPECT_THAT(Message(r), HasSubstr("credentials in the URL are not accepted"));
}

// 8. Names went into response headers unchecked: a glossary named with CR LF set a cookie.
TEST_F(HostileTest, NamesCannotSplitResponseHeaders) {
  Start();
  HttpResponse g = Call("POST", "/v1/glossaries/x%0D%0ASet-Cookie:%20a=b/imports?format=csv", acme_,
                        "en,es\nfile,archivo\n", "text/csv");
  EXPECT_EQ(g.status, 422) << g.body;
  EXPECT_THAT(Message(g), HasSubstr("name: 1 to 100 bytes of UTF-8 without"));
  EXPECT_EQ(g.Header("set-cookie"), "");
  // A job's file name comes back in Content-Disposition, encoded (RFC 6266 / 8187).
  std::string body = Part("source_lang", "en") + Part("target_langs", "es") +
                     Part("file", kPo, "résumé \"q\".po") + EndParts();
  HttpResponse job = Call("POST", "/v1/jobs", acme_, body, MultipartType());
  ASSERT_EQ(job.status, 202) << job.body;
  const std::string id = json::parse(job.body)["id"];
  HttpResponse d;
  for (int i = 0; i < 300; ++i) {
    d = Call("GET", StrCat("/v1/jobs/", id, "/download?target=es"), acme_);
    if (d.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.Header("content-disposition"),
            "attachment; filename=\"r_sum_ _q_.es.po\"; "
            "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22q%22.es.po");
}

// 9. Cached translations were shared across tenants, with "cached": true telling a tenant what
// another had translated.
TEST_F(HostileTest, CachedTranslationsAreNotSharedAcrossTenants) {
  Start();
  const std::string req =
      R"({"source_lang":"en","target_lang":"es","segments":["The merger closes on Friday."]})";
  auto cached = [&](const std::string& key) {
    HttpResponse r = Call("POST", "/v1/translate", key, req);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["translations"][0]["cached"].get<bool>();
  };
  EXPECT_FALSE(cached(acme_));
  EXPECT_FALSE(cached(globex_));  // globex learns nothing of acme's request
  EXPECT_TRUE(cached(acme_));     // acme's own cache
}

// 10. A trickle of bytes kept uploads open forever, and limits were checked only once a whole
// upload was on disk.
TEST_F(HostileTest, SlowAndOversizedUploadsAreCutEarly) {
  Start({"server.upload_grace=1s", "server.min_upload_rate=1000"});
  const std::string store = NewStore(acme_);
  HttpConnection slow("127.0.0.1", server_->port());
  ASSERT_TRUE(slow.Send(UploadHead(store, 100000) + "<?xml"));
  // A byte now and then is below 1000 bytes/s: cut after the grace period.
  bool closed = false;
  for (int i = 0; i < 20 && !closed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    closed = !slow.Send(" ") || slow.WaitClosed(10);
  }
  EXPECT_TRUE(closed);
  // A declared length over the limit is refused before a byte of the body is read.
  HttpConnection big("127.0.0.1", server_->port());
  ASSERT_TRUE(big.Send(UploadHead(store, 5000000000LL)));
  HttpResponse r = big.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Message(r), "request bodies on this route are limited to 4294967296 bytes");
  // A job's document has its own, lower limit, checked the same way.
  HttpConnection job("127.0.0.1", server_->port());
  ASSERT_TRUE(job.Send(StrCat("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ", acme_,
                              "\r\nContent-Type: ", MultipartType(),
                              "\r\nContent-Length: 300000000\r\n\r\n")));
  HttpResponse j = job.Read();
  EXPECT_EQ(j.status, 413);
  EXPECT_EQ(Message(j), "request bodies on this route are limited to 268435456 bytes");
  HttpResponse m = Fetch(server_->port(), "GET", "/metrics");
  EXPECT_THAT(m.body, HasSubstr("verso_http_slow_uploads_total 1\n"));
}

// 11. Numbers out of range were a 500 that logged the whole number; "nan" passed a range check.
TEST_F(HostileTest, NumbersOutOfRangeAreRefusedNamingTheField) {
  Start();
  const std::string store = NewStore(acme_);
  const std::string huge = "1" + std::string(5000, '0') + "e999999";
  HttpResponse r = Call("POST", StrCat("/v1/tm/", store, "/lookup"), acme_,
                        StrCat(R"({"source":"Hello","min_score":)", huge, "}"));
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Message(r), "min_score: number out of range (line 1, column 31)");
  for (const char* bad : {"nan", "inf", "0x1p3", "1e999"}) {
    std::string body = Part("source_lang", "en") + Part("target_langs", "es") +
                       Part("qe_threshold", bad) + Part("file", kPo, "ui.po") + EndParts();
    HttpResponse j = Call("POST", "/v1/jobs", acme_, body, MultipartType());
    EXPECT_EQ(j.status, 400) << bad << ": " << j.body;
    EXPECT_EQ(Message(j), "qe_threshold: not a decimal number (0 to 101)") << bad;
  }
  // The server's log holds no line longer than its cap, whatever the requests held.
  const std::string log = *ReadFile(log_);
  EXPECT_THAT(log, Not(HasSubstr(std::string(2000, '0'))));
}

// 12. The rest: private files, metrics without tenants, failed keys rate-limited per address,
// ambiguous framing refused, no server paths in import errors.
TEST_F(HostileTest, SmallerLeaksAndAmbiguities) {
  Start({"server.auth_failures.burst=5", "imports.sync_max_bytes=10"});
  // A data directory verso creates is its owner's alone, and so is every tenant's data in it.
  const std::string fresh = dir_ + "/fresh";
  ASSERT_EQ(test::Run({VERSO_BINARY, "--data-dir", fresh, "keys", "list"}).exit_code, 0);
  struct stat st;
  ASSERT_EQ(stat(fresh.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::vector<std::string> files = {fresh + "/verso.db"};
  if (!test::PostgresBackend()) files.push_back(dir_ + "/verso.db");  // else: in PostgreSQL
  for (const std::string& db : files) {
    ASSERT_EQ(stat(db.c_str(), &st), 0) << db;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << db;
  }
  // A background import that fails says so without the server's upload path.
  const std::string store = NewStore(acme_);
  HttpResponse imp =
      Call("POST", StrCat("/v1/tm/", store, "/imports"), acme_,
           "<tmx version=\"1.4\"><header srclang=\"en\"/><body><tu>", "application/x-tmx+xml");
  ASSERT_EQ(imp.status, 202) << imp.body;
  const std::string import_id = json::parse(imp.body)["id"];
  json state;
  for (int i = 0; i < 100; ++i) {
    state = json::parse(Call("GET", StrCat("/v1/tm/", store, "/imports/", import_id), acme_).body);
    if (state["status"] == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(state["status"], "failed");
  EXPECT_THAT(state["error"].get<std::string>(), HasSubstr("upload: line 1"));
  EXPECT_THAT(state["error"].get<std::string>(), Not(HasSubstr(dir_)));
  // Transfer-Encoding other than chunked, with a Content-Length: 400 (RFC 9112).
  HttpResponse te = Fetch(server_->port(), "POST", "/v1/translate", "{}",
                          {{"Transfer-Encoding", "xchunked"},
                           {"Authorization", "Bearer " + acme_},
                           {"Content-Type", "application/json"}});
  EXPECT_EQ(te.status, 400);
  EXPECT_EQ(Message(te), "a request may not have both Transfer-Encoding and Content-Length");
  // Bad keys: five, then the address waits.
  const std::string wrong = "vsk_" + std::string(52, 'a');
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Call("GET", "/v1/tm", wrong).status, 401);
  HttpResponse limited = Call("GET", "/v1/tm", wrong);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(Message(limited), "too many failed authentications from this address");
  EXPECT_FALSE(limited.Header("retry-after").empty());
  // /metrics names no tenant's stores.
  EXPECT_THAT(Fetch(server_->port(), "GET", "/metrics").body, Not(HasSubstr(store)));
}

}  // namespace
}  // namespace verso
