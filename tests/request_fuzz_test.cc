// Every JSON request body of the API, mutated, against the real server. The valid body of each
// route (fuzz/request_bodies.json, also the libFuzzer seeds of request_fuzz) is sent with each of
// its fields replaced by hostile values (wrong types, extremes, control characters, broken
// markup, deep nesting), removed, or joined by an unknown one; then whole bodies that are no
// object, cut short, not UTF-8, with duplicate keys or nested too deep. Every answer must be a
// 2xx or a 4xx with a JSON error, never a 5xx or no answer, and the server must still serve.
// (The route handlers run here without sanitizers; the parsers they share are fuzzed with
// libFuzzer and ASan/UBSan in fuzz/request_fuzz.cc.)
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/strings.h"
#include "tests/http_client.h"
#include "tests/verso_server.h"

namespace verso {
namespace {

using nlohmann::json;
using test::HttpResponse;

// Values every field is replaced with in turn.
std::vector<json> HostileValues() {
  json deep = json::array();
  for (int i = 0; i < 40; ++i) deep = json::array({deep});
  return {nullptr,
          true,
          0,
          -1,
          2147483648LL,
          9223372036854775807LL,
          -9223372036854775807LL - 1,
          1e308,
          -1.5,
          "",
          std::string(20000, 'x'),
          std::string("a\0b", 3),
          "\x1b[31m\u202e",
          "<b>unclosed <x id=\"",
          "&bogus; &#0; &#xD800;",
          "\xF0\x9F\x98\x80 \xE2\x80\x8B",
          json::array(),
          json::object(),
          json::array({nullptr}),
          json{{"", nullptr}},
          deep};
}

// Every node's JSON pointer below the root.
void Pointers(const json& j, const json::json_pointer& at, std::vector<json::json_pointer>* out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      out->push_back(at / it.key());
      Pointers(it.value(), at / it.key(), out);
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      out->push_back(at / i);
      Pointers(j[i], at / i, out);
    }
  }
}

class RequestFuzzTest : public test::ServerTest {
 protected:
  RequestFuzzTest() : ServerTest("request_fuzz") {}
  void SetUp() override {
    ServerTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(Start());
    key_ = test::CreateKey(dir_, "acme", "admin");
    ASSERT_FALSE(key_.empty());
  }
  HttpResponse Call(const std::string& method, const std::string& path, const std::string& body) {
    return Send(method, path, key_, body);
  }
  // What the bodies' routes name: a store with a segment, a glossary with a concept, a QA
  // profile, an engine policy, a job.
  void MakeTargets(const json& bodies) {
    HttpResponse store = Call("POST", "/v1/tm", bodies["POST /v1/tm"].dump());
    ASSERT_EQ(store.status, 201) << store.body;
    store_ = json::parse(store.body)["id"];
    HttpResponse segment = Call("POST", "/v1/tm/" + store_ + "/segments",
                                R"({"source":"Open the file","target":"Abrir el archivo"})");
    ASSERT_EQ(segment.status, 201) << segment.body;
    segment_ = std::to_string(json::parse(segment.body)["id"].get<int64_t>());
    ASSERT_EQ(Call("POST", "/v1/glossaries", R"({"name":"fuzz"})").status, 201);
    HttpResponse concepts = Call("POST", "/v1/glossaries/fuzz/concepts",
                                 bodies["POST /v1/glossaries/{name}/concepts"].dump());
    ASSERT_EQ(concepts.status / 100, 2) << concepts.body;
    ASSERT_EQ(Call("PUT", "/v1/qa/profiles/fuzz", R"({"max_length":500})").status, 200);
    HttpResponse job = Call("POST", "/v1/jobs", Fill(bodies["POST /v1/jobs"].dump()));
    ASSERT_EQ(job.status / 100, 2) << job.body;
    job_ = json::parse(job.body)["id"];
  }
  // The route's path with its parameters filled in; "{store}" in bodies too.
  std::string Fill(std::string s, const std::string& route = "") const {
    const bool in_concept = route.find("/concepts/{id}") != std::string::npos;
    const bool job = route.find("/jobs/{id}") != std::string::npos;
    std::string out;
    for (size_t i = 0; i < s.size();) {
      auto put = [&](const char* name, const std::string& value) {
        const std::string token = StrCat("{", name, "}");
        if (s.compare(i, token.size(), token) != 0) return false;
        out += value;
        i += token.size();
        return true;
      };
      if (put("store", store_) || put("name", "fuzz") || put("target", "es") || put("index", "0") ||
          put("id", in_concept ? "c1"
                    : job      ? job_
                               : segment_)) {
        continue;
      }
      out += s[i++];
    }
    return out;
  }
  // Sends `body`; a failure line when the answer is not a 2xx or a 4xx with a JSON body.
  void Check(const std::string& method, const std::string& path, const std::string& body,
             const std::string& what) {
    HttpResponse r = Call(method, path, body);
    ++sent_;
    ++by_class_[r.status / 100];
    json answer = json::parse(r.body, nullptr, false);
    const bool ok =
        (r.status / 100 == 2) || (r.status / 100 == 4 && answer.is_object() && !answer.empty());
    if (!ok && failures_.size() < 20) {
      failures_.push_back(
          StrCat(method, " ", path, " ", what, ": ", r.status, " ", r.body.substr(0, 300)));
    }
  }

  std::string key_, store_, segment_, job_;
  int sent_ = 0;
  std::map<int, int> by_class_;
  std::vector<std::string> failures_;
};

TEST_F(RequestFuzzTest, NoMutatedJsonBodyGetsA5xxOrBreaksTheServer) {
  std::ifstream in(std::string(VERSO_SOURCE_DIR) + "/fuzz/request_bodies.json");
  std::stringstream text;
  text << in.rdbuf();
  json bodies = json::parse(text.str());
  ASSERT_EQ(bodies.size(), 27u);
  ASSERT_NO_FATAL_FAILURE(MakeTargets(bodies));
  const std::vector<json> hostile = HostileValues();
  for (auto it = bodies.begin(); it != bodies.end(); ++it) {
    const std::string route = it.key();
    const std::string method = route.substr(0, route.find(' '));
    const std::string path = Fill(route.substr(route.find(' ') + 1), route);
    const json base = json::parse(Fill(it.value().dump()));
    Check(method, path, base.dump(), "as written");
    std::vector<json::json_pointer> pointers;
    Pointers(base, json::json_pointer(), &pointers);
    for (const auto& p : pointers) {
      for (size_t v = 0; v < hostile.size(); ++v) {
        json body = base;
        body[p] = hostile[v];
        Check(method, path, body.dump(-1, ' ', false, json::error_handler_t::replace),
              StrCat(p.to_string(), " = hostile value ", v));
      }
      json removed = base;
      json& parent = removed[p.parent_pointer()];
      if (parent.is_object()) {
        parent.erase(p.back());
      } else {
        parent.erase(std::stoul(p.back()));
      }
      Check(method, path, removed.dump(), StrCat(p.to_string(), " removed"));
    }
    json unknown = base;
    unknown["no_such_field"] = 1;
    Check(method, path, unknown.dump(), "with an unknown field");
    // Whole bodies.
    const std::string dumped = base.dump();
    std::string deep = "{\"a\":";
    for (int i = 0; i < 200; ++i) deep += "[";
    const std::string first_key = base.empty() ? "x" : base.begin().key();
    for (const std::string& raw :
         {std::string(""), std::string("null"), std::string("[]"), std::string("\"text\""),
          std::string("123"), std::string("{"), dumped.substr(0, dumped.size() / 2),
          "{\"" + first_key + "\":\"\xff\xfe\"}", "{\"" + first_key + "\":\"\\ud800\"}",
          "{\"" + first_key + "\":1,\"" + first_key + "\":\"again\"}", deep, dumped + "garbage"}) {
      Check(method, path, raw, StrCat("whole body \"", raw.substr(0, 40), "\""));
    }
    ASSERT_EQ(test::Fetch(server_->port(), "GET", "/healthz").status, 200) << "after " << route;
  }
  for (const std::string& f : failures_) ADD_FAILURE() << f;
  std::printf("request fuzz: %d bodies over %zu routes: %d 2xx, %d 4xx, %d 5xx, %d unanswered\n",
              sent_, bodies.size(), by_class_[2], by_class_[4], by_class_[5], by_class_[0]);
}

}  // namespace
}  // namespace verso
