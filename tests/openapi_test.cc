// The OpenAPI document is the contract: every documented operation is exercised against the
// real server, and every response must have a documented status and match its documented schema
// (validated with valijson). An operation added to the document without a scenario here, or a
// scenario for an undocumented operation, fails the test.
#include <signal.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "tests/http_client.h"
#include "tests/process.h"

namespace verso {
namespace {

using nlohmann::json;

json LoadDocument() {
  std::ifstream in(std::string(VERSO_SOURCE_DIR) + "/src/api/openapi.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// OpenAPI 3.0 schema -> JSON Schema draft 7: "nullable: true" becomes an anyOf with null.
void ToJsonSchema(json& node) {
  if (node.is_object()) {
    if (node.value("nullable", false)) {
      json inner = node;
      inner.erase("nullable");
      ToJsonSchema(inner);
      node = json{{"anyOf", json::array({inner, json{{"type", "null"}}})}};
      return;
    }
    for (auto& [k, v] : node.items()) ToJsonSchema(v);
  } else if (node.is_array()) {
    for (auto& v : node) ToJsonSchema(v);
  }
}

class Contract {
 public:
  explicit Contract(json doc) : doc_(std::move(doc)) {
    components_ = doc_["components"];
    ToJsonSchema(components_);
  }

  // Problems with a response to `method path-template`: undocumented status or schema mismatch.
  std::vector<std::string> Check(const std::string& method, const std::string& path,
                                 const test::HttpResponse& res) {
    std::vector<std::string> problems;
    const json& op = doc_["paths"][path][method];
    std::string status = std::to_string(res.status);
    if (!op["responses"].contains(status)) {
      problems.push_back("status " + status + " is not documented for " + method + " " + path);
      return problems;
    }
    json response = op["responses"][status];
    if (response.contains("$ref")) {
      std::string name =
          response["$ref"].get<std::string>().substr(std::string("#/components/responses/").size());
      response = doc_["components"]["responses"][name];
    }
    if (!response.contains("content")) {
      if (!res.body.empty()) problems.push_back("undocumented body for status " + status);
      return problems;
    }
    std::string type = res.Header("content-type");
    type = type.substr(0, type.find(';'));
    if (!response["content"].contains(type)) {
      problems.push_back("content type " + type + " is not documented for status " + status);
      return problems;
    }
    if (type != "application/json") return problems;
    json schema_doc = response["content"][type]["schema"];
    ToJsonSchema(schema_doc);
    schema_doc["components"] = components_;
    json body = json::parse(res.body, nullptr, false);
    if (body.is_discarded()) {
      problems.push_back("body is not JSON: " + res.body.substr(0, 200));
      return problems;
    }
    valijson::Schema schema;
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_doc);
    parser.populateSchema(schema_adapter, schema);
    valijson::Validator validator;
    valijson::ValidationResults results;
    valijson::adapters::NlohmannJsonAdapter target(body);
    if (!validator.validate(schema, target, &results)) {
      valijson::ValidationResults::Error error;
      std::string where;
      while (results.popError(error)) {
        std::string context;
        for (const auto& c : error.context) context += c;
        where += "\n  " + context + ": " + error.description;
      }
      problems.push_back("status " + status + " body does not match the schema:" + where +
                         "\n  body: " + res.body.substr(0, 400));
    }
    return problems;
  }

  // Query parameters of `target` ("/v1/x?a=1&b=2") that `method path` does not document.
  std::vector<std::string> UndocumentedQuery(const std::string& method, const std::string& path,
                                             const std::string& target) const {
    std::set<std::string> documented;
    // (A const json's operator[] on a missing key is undefined: every lookup here checks first.)
    const json empty;
    auto member = [&empty](const json& object, const std::string& key) -> const json& {
      return object.is_object() && object.contains(key) ? object.at(key) : empty;
    };
    const json& item = member(doc_.at("paths"), path);
    for (const json* list :
         {&member(item, "parameters"), &member(member(item, method), "parameters")}) {
      if (!list->is_array()) continue;
      for (json p : *list) {
        if (p.contains("$ref")) {
          std::string ref = p["$ref"];
          p = doc_.at("components").at("parameters").at(ref.substr(ref.rfind('/') + 1));
        }
        if (p.value("in", "") == "query") documented.insert(p["name"].get<std::string>());
      }
    }
    std::vector<std::string> out;
    size_t q = target.find('?');
    if (q == std::string::npos) return out;
    std::string query = target.substr(q + 1);
    for (size_t begin = 0; begin <= query.size();) {
      size_t end = query.find('&', begin);
      if (end == std::string::npos) end = query.size();
      std::string name = query.substr(begin, std::min(query.find('=', begin), end) - begin);
      if (!documented.contains(name)) out.push_back(name);
      begin = end + 1;
    }
    return out;
  }

  std::set<std::string> Operations() const {
    std::set<std::string> ops;
    for (const auto& [path, item] : doc_["paths"].items()) {
      for (const auto& [method, op] : item.items()) {
        if (method != "parameters") ops.insert(method + " " + path);
      }
    }
    return ops;
  }

 private:
  json doc_;
  json components_;
};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

TEST(OpenApiTest, EveryDocumentedOperationAnswersAsDocumented) {
  std::string dir = ::testing::TempDir() + "/openapi_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto key_run = test::Run(
      {VERSO_BINARY, "--data-dir", dir, "keys", "create", "--tenant", "acme", "--scopes", "admin"});
  ASSERT_EQ(key_run.exit_code, 0);
  std::string key = key_run.out.substr(0, key_run.out.find('\n'));
  test::Child server({VERSO_BINARY, "--data-dir", dir, "--log-level", "warn", "--set",
                      "imports.sync_max_bytes=2000", "--set", "mt.apertium.pipelines=1", "serve",
                      "--listen", "127.0.0.1:0"});
  std::string line;
  int port = 0;
  while (port == 0 && server.ReadLine(&line)) {
    size_t at = line.find("listening on http://127.0.0.1:");
    if (at != std::string::npos) port = std::atoi(line.c_str() + at + 30);
  }
  ASSERT_GT(port, 0);
  for (int i = 0; i < 500 && test::Fetch(port, "GET", "/readyz").status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  json doc = LoadDocument();
  // The server serves this very document.
  EXPECT_EQ(json::parse(test::Fetch(port, "GET", "/v1/openapi.json").body), doc);
  Contract contract(doc);
  std::set<std::string> covered;
  std::vector<std::string> problems;
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"Authorization", "Bearer " + key}};
  auto call = [&](const std::string& method, const std::string& templ, const std::string& path,
                  const std::string& body = "",
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    for (const auto& h : auth) headers.push_back(h);
    test::HttpResponse res = test::Fetch(port, Upper(method), path, body, headers);
    covered.insert(method + " " + templ);
    for (auto& p : contract.Check(method, templ, res))
      problems.push_back(Upper(method) + " " + path + ": " + p);
    for (auto& name : contract.UndocumentedQuery(method, templ, path)) {
      if (res.status != 400) {
        problems.push_back(Upper(method) + " " + path + ": the query parameter " + name +
                           " is taken but not documented");
      }
    }
    return res;
  };

  auto created =
      call("post", "/v1/tm", "/v1/tm", R"({"name":"c","source_lang":"en","target_lang":"fr"})");
  std::string store = json::parse(created.body)["id"];
  std::string s = "/v1/tm/" + store;
  call("post", "/v1/tm", "/v1/tm", R"({"name":"c","source_lang":"en","target_lang":"en"})");  // 422
  call("post", "/v1/tm", "/v1/tm", R"({"name":1})");                                          // 400
  call("get", "/v1/tm", "/v1/tm");
  call("get", "/v1/tm", "/v1/tm?limit=1");
  call("get", "/v1/tm", "/v1/tm?sort=name");      // 400: unknown parameter
  call("get", "/v1/tm", "/v1/tm?cursor=%21%21");  // 400: not a cursor
  call("get", "/v1/tm/{store}", s);
  call("get", "/v1/tm/{store}", "/v1/tm/tm_missing");  // 404
  auto seg =
      call("post", "/v1/tm/{store}/segments", s + "/segments",
           R"({"source":"Open the file","target":"Ouvrir le fichier","context":{"key":"k"},)"
           R"("properties":[{"type":"x","value":"y"}],"notes":[{"scope":"target","text":"n"}]})");
  std::string id = std::to_string(json::parse(seg.body)["id"].get<int64_t>());
  call("post", "/v1/tm/{store}/segments", s + "/segments", R"({"source":"a"})");  // 400
  call("post", "/v1/tm/{store}/segments/batch", s + "/segments/batch",
       R"({"segments":[{"source":"Close the file","target":"Fermer le fichier"},)"
       R"({"source":"Save the file","target":"Enregistrer le fichier"}]})");
  call("get", "/v1/tm/{store}/segments/{id}", s + "/segments/" + id);
  call("get", "/v1/tm/{store}/segments/{id}", s + "/segments/" + id + "?text_format=markup");
  auto seg_page = call("get", "/v1/tm/{store}/segments", s + "/segments?limit=1");
  json first_page = json::parse(seg_page.body, nullptr, false);
  ASSERT_TRUE(first_page.is_object() && first_page["next_cursor"].is_string()) << seg_page.body;
  call("get", "/v1/tm/{store}/segments",
       s + "/segments?limit=1&cursor=" + first_page["next_cursor"].get<std::string>());
  call("get", "/v1/tm/{store}/segments", "/v1/tm/tm_missing/segments");  // 404
  call("put", "/v1/tm/{store}/segments/{id}", s + "/segments/" + id,
       R"({"source":"Open the file now","target":"Ouvrir le fichier maintenant"})");
  call("post", "/v1/tm/{store}/lookup", s + "/lookup",
       R"({"source":"Open the file","min_score":50})");
  call("post", "/v1/tm/{store}/lookup", s + "/lookup", R"({"source":"x","min_score":0})");  // 422
  call("post", "/v1/tm/{store}/lookup/batch", s + "/lookup/batch",
       R"({"queries":[{"source":"Save the file"},{"source":"Close it"}],"max_results":2})");
  call("get", "/v1/tm/{store}/concordance", s + "/concordance?q=file&in=both&limit=2");
  call("get", "/v1/tm/{store}/concordance", s + "/concordance?q=fi&match=prefix&limit=1");
  call("get", "/v1/tm/{store}/concordance", s + "/concordance");  // 400
  std::string small =
      "<?xml version=\"1.0\"?><tmx version=\"1.4\"><header srclang=\"en\"/><body><tu><tuv "
      "xml:lang=\"en\"><seg>Hello</seg></tuv><tuv xml:lang=\"fr\"><seg>Bonjour</seg></tuv></tu>"
      "</body></tmx>";
  call("post", "/v1/tm/{store}/imports", s + "/imports", small,
       {{"Content-Type", "application/x-tmx+xml"}});
  std::string big = "<?xml version=\"1.0\"?><tmx version=\"1.4\"><header srclang=\"en\"/><body>";
  for (int i = 0; i < 60; ++i) {
    big += "<tu><tuv xml:lang=\"en\"><seg>Line " + std::to_string(i) +
           "</seg></tuv><tuv xml:lang=\"fr\"><seg>Ligne</seg></tuv></tu>";
  }
  big += "</body></tmx>";
  auto queued = call("post", "/v1/tm/{store}/imports", s + "/imports", big,
                     {{"Content-Type", "application/x-tmx+xml"}});
  std::string import_id = json::parse(queued.body).value("id", "");
  for (int i = 0; i < 500; ++i) {
    auto st = call("get", "/v1/tm/{store}/imports/{import}", s + "/imports/" + import_id);
    if (json::parse(st.body).value("status", "") == "succeeded") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  call("post", "/v1/tm/{store}/imports", s + "/imports", "x",
       {{"Content-Type", "text/html"}});  // 415
  call("get", "/v1/tm/{store}/tmx", s + "/tmx");
  call("delete", "/v1/tm/{store}/segments/{id}", s + "/segments/" + id);
  // Machine translation (the built-in engine).
  call("post", "/v1/translate", "/v1/translate",
       R"({"source_lang":"en","target_lang":"es","segments":["Good morning","Open the file"],)"
       R"("text_format":"plain"})");
  call("post", "/v1/translate", "/v1/translate", R"({"source_lang":"en"})");  // 400
  call(
      "post", "/v1/translate", "/v1/translate",
      R"({"source_lang":"en","target_lang":"es","segments":["a"],"tm_store":"tm_missing"})");  // 404
  call("post", "/v1/translate", "/v1/translate",
       R"({"source_lang":"en","target_lang":"ja","segments":["a"]})");  // 422
  call("get", "/v1/status", "/v1/status");
  call("put", "/v1/mt/policies/{name}", "/v1/mt/policies/offline", R"({"engines":["apertium"]})");
  call("put", "/v1/mt/policies/{name}", "/v1/mt/policies/bad", R"({"engines":["nope"]})");    // 422
  call("put", "/v1/mt/policies/{name}", "/v1/mt/policies/bad", R"({"engines":"apertium"})");  // 400
  call("get", "/v1/mt/policies", "/v1/mt/policies");
  call("get", "/v1/mt/policies/{name}", "/v1/mt/policies/offline");
  call("post", "/v1/translate", "/v1/translate",
       R"({"source_lang":"en","target_lang":"es","segments":["a"],"engine_policy":"offline"})");
  call("delete", "/v1/mt/policies/{name}", "/v1/mt/policies/offline");
  call("get", "/v1/mt/policies/{name}", "/v1/mt/policies/offline");     // 404
  call("delete", "/v1/mt/policies/{name}", "/v1/mt/policies/offline");  // 404
  // Glossaries, QA and QE.
  call("post", "/v1/glossaries", "/v1/glossaries", R"({"name":"it","description":"IT terms"})");
  call("post", "/v1/glossaries", "/v1/glossaries", R"({"name":"it"})");   // 409
  call("post", "/v1/glossaries", "/v1/glossaries", R"({"name":"a b"})");  // 422
  call("post", "/v1/glossaries", "/v1/glossaries", R"({"name":7})");      // 400
  call("get", "/v1/glossaries", "/v1/glossaries");
  call("get", "/v1/glossaries/{name}", "/v1/glossaries/it");
  call("get", "/v1/glossaries/{name}", "/v1/glossaries/none");  // 404
  const std::string g = "/v1/glossaries/it";
  call("post", "/v1/glossaries/{name}/concepts", g + "/concepts",
       R"({"concepts":[{"id":"srv","terms":[{"lang":"en","text":"server"},)"
       R"({"lang":"es","text":"servidor","status":"preferred"},)"
       R"({"lang":"es","text":"server","status":"forbidden"}]}]})");
  call("post", "/v1/glossaries/{name}/concepts", g + "/concepts",
       R"({"concepts":[{"terms":[{"lang":"??","text":"x"}]}]})");  // 422
  call("post", "/v1/glossaries/{name}/concepts", g + "/concepts",
       R"({"concepts":[{"terms":[{"text":"x"}]}]})");  // 400
  call("get", "/v1/glossaries/{name}/concepts", g + "/concepts");
  call("put", "/v1/glossaries/{name}/concepts/{id}", g + "/concepts/file",
       R"({"terms":[{"lang":"en","text":"file"},{"lang":"es","text":"archivo"}]})");
  call("put", "/v1/glossaries/{name}/concepts/{id}", g + "/concepts/file",
       R"({"id":"other","terms":[{"lang":"en","text":"file"}]})");  // 422
  call("get", "/v1/glossaries/{name}/concepts/{id}", g + "/concepts/file");
  call("get", "/v1/glossaries/{name}/concepts/{id}", g + "/concepts/none");  // 404
  const std::string tbx =
      "<?xml version=\"1.0\"?><martif type=\"TBX\"><text><body><termEntry id=\"p\">"
      "<langSet xml:lang=\"en\"><tig><term>printer</term></tig></langSet>"
      "<langSet xml:lang=\"es\"><tig><term>impresora</term></tig></langSet>"
      "</termEntry></body></text></martif>";
  call("post", "/v1/glossaries/{name}/imports", "/v1/glossaries/imported/imports", tbx,
       {{"Content-Type", "application/x-tbx"}});  // 201
  call("post", "/v1/glossaries/{name}/imports", "/v1/glossaries/imported/imports",
       "en,es\nprinter,impresora\n", {{"Content-Type", "text/csv"}});  // 200
  call("post", "/v1/glossaries/{name}/imports", "/v1/glossaries/imported/imports", "<martif><text>",
       {{"Content-Type", "application/xml"}});  // 422
  call("post", "/v1/glossaries/{name}/imports", "/v1/glossaries/imported/imports", "x",
       {{"Content-Type", "text/html"}});  // 415
  call("get", "/v1/glossaries/{name}/export", g + "/export?format=tbx");
  call("get", "/v1/glossaries/{name}/export", g + "/export?format=csv");
  call("get", "/v1/glossaries/{name}/export", g + "/export?format=xls");  // 400
  call("post", "/v1/glossaries/{name}/lookup", g + "/lookup",
       R"({"source_lang":"en","target_lang":"es","segments":["Two servers","No terms"]})");
  call("post", "/v1/glossaries/{name}/lookup", g + "/lookup",
       R"({"source_lang":"xx-??","target_lang":"es","segments":["a"]})");  // 422
  call("put", "/v1/qa/profiles/{name}", "/v1/qa/profiles/web",
       R"({"disabled_checks":["end_punctuation"],"max_length":60})");
  call("put", "/v1/qa/profiles/{name}", "/v1/qa/profiles/bad",
       R"({"disabled_checks":["spelling"]})");                                            // 422
  call("put", "/v1/qa/profiles/{name}", "/v1/qa/profiles/bad", R"({"max_length":"x"})");  // 400
  call("get", "/v1/qa/profiles", "/v1/qa/profiles");
  call("get", "/v1/qa/profiles/{name}", "/v1/qa/profiles/web");
  call("get", "/v1/qa/profiles/{name}", "/v1/qa/profiles/bad");  // 404
  call("post", "/v1/qa/check", "/v1/qa/check",
       R"({"source_lang":"en","target_lang":"es","qa_profile":"web",)"
       R"("segments":[{"source":"Done.","translation":"Hecho"}]})");
  call("post", "/v1/qa/check", "/v1/qa/check",
       R"({"source_lang":"en","target_lang":"es","qa_profile":"none",)"
       R"("segments":[{"source":"Done.","translation":"Hecho"}]})");  // 404
  call("post", "/v1/qa/check", "/v1/qa/check",
       R"({"source_lang":"en","target_lang":"es","glossary":"it","max_length":40,)"
       R"("segments":[{"source":"Restart the server in 5 minutes.","translation":)"
       R"("Reinicie el server en minutos"}]})");
  call("post", "/v1/qa/check", "/v1/qa/check",
       R"({"source_lang":"en","target_lang":"es","disabled_checks":["spelling"],)"
       R"("segments":[{"source":"a","translation":"b"}]})");  // 422
  call("post", "/v1/qe", "/v1/qe",
       R"({"source_lang":"en","target_lang":"es","glossary":"it","threshold":80,)"
       R"("segments":[{"source":"The server prints 20 pages.","translation":)"
       R"("El servidor imprime 20 páginas.","unknown_words":[],"engine_logprob":-0.3},)"
       R"({"source":"Open the file","translation":"Open the file"}]})");
  call("post", "/v1/qe", "/v1/qe",
       R"({"source_lang":"en","target_lang":"es","segments":[{"source":"a"}]})");  // 400
  call("post", "/v1/translate", "/v1/translate",
       R"({"source_lang":"en","target_lang":"es","glossary":"it","qe_threshold":50,)"
       R"("segments":["Restart the server"]})");
  call("post", "/v1/translate", "/v1/translate",
       R"({"source_lang":"en","target_lang":"es","glossary":"none","segments":["a"]})");  // 404
  call("delete", "/v1/glossaries/{name}/concepts/{id}", g + "/concepts/file");
  call("delete", "/v1/glossaries/{name}/concepts/{id}", g + "/concepts/file");  // 404
  call("delete", "/v1/glossaries/{name}", g);
  call("delete", "/v1/glossaries/{name}", g);  // 404
  call("delete", "/v1/qa/profiles/{name}", "/v1/qa/profiles/web");
  call("delete", "/v1/qa/profiles/{name}", "/v1/qa/profiles/web");  // 404
  // Jobs and post-editing.
  const std::vector<std::pair<std::string, std::string>> jsonct = {
      {"Content-Type", "application/json"}};
  auto submitted = call("post", "/v1/jobs", "/v1/jobs",
                        R"({"source_lang":"en","target_langs":["es"],"qe_threshold":101,)"
                        R"("segments":["The house is red.","Open the file."]})",
                        {{"Content-Type", "application/json"}, {"Idempotency-Key", "k1"}});
  const std::string job = "/v1/jobs/" + json::parse(submitted.body).value("id", "");
  call("post", "/v1/jobs", "/v1/jobs",
       R"({"source_lang":"en","target_langs":["es"],"segments":["<b>x"]})", jsonct);       // 422
  call("post", "/v1/jobs", "/v1/jobs", R"({"source_lang":"en","segments":"x"})", jsonct);  // 400
  call("post", "/v1/jobs", "/v1/jobs",
       "--bnd\r\nContent-Disposition: form-data; name=\"target_langs\"\r\n\r\nes\r\n"
       "--bnd\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.po\"\r\n\r\n"
       "msgid \"Hello\"\nmsgstr \"\"\n\r\n--bnd--\r\n",
       {{"Content-Type", "multipart/form-data; boundary=bnd"}, {"X-Source-Lang", "en"}});  // 422
  call("post", "/v1/jobs", "/v1/jobs", "x", {{"Content-Type", "text/html"}});              // 415
  call("post", "/v1/jobs", "/v1/jobs",
       R"({"source_lang":"en","target_langs":["es"],"tm_store":"tm_none","segments":["a"]})",
       jsonct);  // 404
  for (int i = 0; i < 600; ++i) {
    auto r = test::Fetch(port, "GET", job, "", auth);
    if (json::parse(r.body).value("status", "") == "post_editing") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  call("get", "/v1/jobs", "/v1/jobs");
  call("get", "/v1/jobs", "/v1/jobs?limit=0");  // 400
  call("get", "/v1/jobs/{id}", job);
  call("get", "/v1/jobs/{id}", "/v1/jobs/job_none");  // 404
  call("get", "/v1/jobs/{id}/analysis", job + "/analysis");
  call("get", "/v1/jobs/{id}/analysis", "/v1/jobs/job_none/analysis");  // 404
  call("get", "/v1/jobs/{id}/segments", job + "/segments?target=es&state=awaiting");
  call("get", "/v1/jobs/{id}/segments", job + "/segments?target=es&view=compact&limit=1");
  call("get", "/v1/jobs/{id}/segments", job + "/segments?view=short");  // 400
  call("get", "/v1/jobs/{id}/segments", job + "/segments?target=x!");   // 422
  call("get", "/v1/jobs/{id}/segments", "/v1/jobs/job_none/segments");  // 404
  call("get", "/v1/jobs/{id}/segments/{target}/{index}", job + "/segments/es/0");
  call("get", "/v1/jobs/{id}/segments/{target}/{index}", job + "/segments/es/x");   // 400
  call("get", "/v1/jobs/{id}/segments/{target}/{index}", job + "/segments/es/99");  // 404
  call("put", "/v1/jobs/{id}/segments/{target}/{index}/draft", job + "/segments/es/0/draft",
       R"({"target":"La casa es roja."})", jsonct);
  call("put", "/v1/jobs/{id}/segments/{target}/{index}/draft", job + "/segments/es/0/draft",
       R"({"text":"x"})", jsonct);  // 400
  call("put", "/v1/jobs/{id}/segments/{target}/{index}/draft", job + "/segments/es/0/draft",
       R"({"target":"<b>x"})", jsonct);  // 422
  // The workbench's edits: an id and the version they were made on (the draft above made 1).
  call("put", "/v1/jobs/{id}/segments/{target}/{index}/draft", job + "/segments/es/0/draft",
       R"({"target":"La casa es roja.","edit_id":"ed_1","base_version":1})", jsonct);
  call("put", "/v1/jobs/{id}/segments/{target}/{index}/draft", job + "/segments/es/0/draft",
       R"({"target":"La casa.","edit_id":"ed_2","base_version":1})", jsonct);  // 409 conflict
  call("put", "/v1/jobs/{id}/segments/{target}/{index}/draft", job + "/segments/es/0/draft",
       R"({"target":"La casa.","edit_id":"no spaces"})", jsonct);  // 422
  call("post", "/v1/jobs/{id}/segments/{target}/{index}/check", job + "/segments/es/0/check",
       R"({"target":"La casa 5 es roja."})", jsonct);
  call("post", "/v1/jobs/{id}/segments/{target}/{index}/check", job + "/segments/es/0/check",
       R"({"text":"x"})", jsonct);  // 400
  call("post", "/v1/jobs/{id}/segments/{target}/{index}/check",
       "/v1/jobs/job_none/segments/es/0/check", R"({"target":"x"})", jsonct);  // 404
  call("get", "/v1/jobs/{id}/live", job + "/live");                            // 426: no Upgrade
  call("get", "/v1/jobs/{id}/live", "/v1/jobs/job_none/live");                 // 404
  call("get", "/v1/post-edits", "/v1/post-edits");
  call("get", "/v1/post-edits", "/v1/post-edits?limit=x");  // 400
  call("post", "/v1/jobs/{id}/segments/{target}/{index}/confirm", job + "/segments/es/0/confirm",
       "", jsonct);
  // A reviewer's pass on segment 0: sent back, confirmed again, approved with a correction.
  const std::string reject = "/v1/jobs/{id}/segments/{target}/{index}/reject";
  const std::string approve = "/v1/jobs/{id}/segments/{target}/{index}/approve";
  call("post", reject, job + "/segments/es/0/reject", R"({"comment":"Use usted."})", jsonct);
  call("post", reject, job + "/segments/es/0/reject", R"({"comment":""})", jsonct);  // 422
  call("post", reject, job + "/segments/es/0/reject", "{}", jsonct);                 // 400
  call("post", reject, "/v1/jobs/job_none/segments/es/0/reject", R"({"comment":"x"})",
       jsonct);                                                       // 404
  call("post", approve, job + "/segments/es/0/approve", "", jsonct);  // 409: awaiting
  call("post", "/v1/jobs/{id}/segments/{target}/{index}/confirm", job + "/segments/es/0/confirm",
       "", jsonct);
  call("post", approve, job + "/segments/es/0/approve", R"({"target":"La casa es roja."})", jsonct);
  call("post", approve, job + "/segments/es/0/approve", R"({"target":""})", jsonct);  // 422
  call("post", approve, job + "/segments/es/x/approve", "", jsonct);                  // 400
  call("post", approve, "/v1/jobs/job_none/segments/es/0/approve", "", jsonct);       // 404
  call("post", "/v1/jobs/{id}/segments/{target}/{index}/confirm", job + "/segments/es/1/confirm",
       R"({"target":"Abra el fichero."})", jsonct);
  call("post", "/v1/jobs/{id}/segments/{target}/{index}/confirm", job + "/segments/es/1/confirm",
       R"({"target":""})", jsonct);  // 422
  call("post", "/v1/jobs/{id}/segments/{target}/{index}/confirm", job + "/segments/es/x/confirm",
       "", jsonct);  // 400
  call("post", "/v1/jobs/{id}/segments/{target}/{index}/confirm",
       "/v1/jobs/job_none/segments/es/0/confirm", "", jsonct);  // 404
  call("put", "/v1/jobs/{id}/segments/{target}/{index}/draft", job + "/segments/es/0/draft",
       R"({"target":"Otra."})", jsonct);  // 409: the job has completed
  call("get", "/v1/jobs/{id}/download", job + "/download?target=es");
  call("get", "/v1/jobs/{id}/download", job + "/download");            // 400
  call("get", "/v1/jobs/{id}/download", job + "/download?target=fr");  // 404
  call("get", "/v1/jobs/{id}/webhooks", job + "/webhooks");
  call("get", "/v1/jobs/{id}/webhooks", "/v1/jobs/job_none/webhooks");  // 404
  call("get", "/v1/webhooks/secret", "/v1/webhooks/secret");
  call("post", "/v1/jobs/{id}/cancel", job + "/cancel");             // 409: completed
  call("post", "/v1/jobs/{id}/cancel", "/v1/jobs/job_none/cancel");  // 404
  auto second = call("post", "/v1/jobs", "/v1/jobs",
                     R"({"source_lang":"en","target_langs":["fr"],"segments":["x"]})", jsonct);
  call("post", "/v1/jobs/{id}/cancel",
       "/v1/jobs/" + json::parse(second.body).value("id", "") + "/cancel");
  // Workbench users and their sessions.
  auto user =
      call("post", "/v1/users", "/v1/users",
           R"({"email":"ana@example.com","role":"reviewer","password":"correct horse battery"})",
           jsonct);
  call("post", "/v1/users", "/v1/users",
       R"({"email":"ana@example.com","password":"correct horse battery"})", jsonct);  // 409
  call("post", "/v1/users", "/v1/users",
       R"({"email":"ben@example.com","role":"owner","password":"correct horse battery"})",
       jsonct);                                                      // 422
  call("post", "/v1/users", "/v1/users", R"({"email":1})", jsonct);  // 400
  call("get", "/v1/users", "/v1/users?limit=1");
  const std::string user_id = json::parse(user.body).value("id", "");
  call("patch", "/v1/users/{id}", "/v1/users/" + user_id, R"({"name":"Ana"})", jsonct);
  call("patch", "/v1/users/{id}", "/v1/users/usr_none", R"({"name":"Ana"})", jsonct);  // 404
  call("post", "/v1/session", "/v1/session",
       R"({"email":"ana@example.com","password":"correct horse battery"})", jsonct);
  call("post", "/v1/session", "/v1/session",
       R"({"email":"ana@example.com","password":"a wrong password"})", jsonct);  // 401
  call("get", "/v1/session", "/v1/session");
  call("delete", "/v1/session", "/v1/session");
  call("put", "/v1/jobs/{id}/assignments", job + "/assignments",
       R"({"assignments":[{"user_id":")" + user_id + R"(","target_lang":"es","from":0}]})", jsonct);
  call("put", "/v1/jobs/{id}/assignments", job + "/assignments",
       R"({"assignments":[{"user_id":"usr_none","target_lang":"es"}]})", jsonct);  // 422
  call("put", "/v1/jobs/{id}/assignments", job + "/assignments", R"({"assignments":1})",
       jsonct);  // 400
  call("put", "/v1/jobs/{id}/assignments", "/v1/jobs/job_none/assignments", R"({"assignments":[]})",
       jsonct);  // 404
  call("get", "/v1/jobs/{id}/assignments", job + "/assignments");
  call("get", "/v1/jobs/{id}/assignments", "/v1/jobs/job_none/assignments");  // 404
  // The DeepL- and APy-compatible APIs, in their own shapes.
  const std::vector<std::pair<std::string, std::string>> form = {
      {"Content-Type", "application/x-www-form-urlencoded"}};
  call("post", "/v2/translate", "/v2/translate", "text=Hello&target_lang=ES", form);
  call("post", "/v2/translate", "/v2/translate", "target_lang=ES", form);  // 400
  call("post", "/v2/translate", "/v2/translate", R"({"text":["Hello"],"target_lang":"ES"})",
       jsonct);
  call("get", "/v2/languages", "/v2/languages?type=target&source_lang=EN");
  call("post", "/v2/languages", "/v2/languages", "type=source", form);
  call("get", "/v2/usage", "/v2/usage");
  call("post", "/v2/usage", "/v2/usage", "", form);
  call("get", "/translate", "/translate?q=Hello&langpair=en%7Ces&markUnknown=no");
  call("get", "/translate", "/translate?langpair=en%7Ces");  // 400: no q
  call("post", "/translate", "/translate", "q=Hello&langpair=eng%7Cspa", form);
  call("get", "/listPairs", "/listPairs");
  call("get", "/healthz", "/healthz");
  call("get", "/readyz", "/readyz");
  call("get", "/metrics", "/metrics");
  call("get", "/v1/openapi.json", "/v1/openapi.json");
  call("delete", "/v1/tm/{store}", s);

  for (const auto& p : problems) ADD_FAILURE() << p;
  EXPECT_EQ(covered, contract.Operations());
  server.Kill(SIGTERM);
  EXPECT_EQ(server.Wait(), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace verso
