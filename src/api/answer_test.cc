// The /v1/translate answer is written out (WriteTranslation, JsonWriter) rather than built as a
// nlohmann document; these check that it is the same text, byte for byte, as the document.
#include <gtest/gtest.h>

#include <string>

#include "api/http.h"
#include "common/json.h"
#include "mt/translate.h"
#include "qe/qe.h"
#include "text/text.h"

namespace verso::api {
namespace {

// A review as ReviewJson writes one: warnings, glossary hits, a score with decimal features.
Json SampleReview() {
  return Json{
      {"qa",
       Json::array({{{"check", "numbers"}, {"severity", "error"}, {"message", "\"7\" lost"}}})},
      {"terms", Json::array({{{"term", "Datei"}, {"targets", Json::array({"file"})}}})},
      {"qe",
       {{"score", 71.3},
        {"scorer", "builtin"},
        {"provisional", false},
        {"auto_approved", false},
        {"threshold", 80.0},
        {"calibration", nullptr},
        {"reasons", Json::array({"length ratio"})},
        {"features", {{"length_ratio", 1.0 / 3.0}, {"unknown_share", 0.1 + 0.2}}}}}};
}

// The review's members as ReviewMembers keeps them: its object's text without the braces.
std::string Members(const Json& review) {
  std::string text = DumpJson(review);
  return text.substr(1, text.size() - 2);
}

// The segment as a document, the shape /v1/translate has always had.
std::string AsDocument(const mt::SegmentResult& s, bool plain, const Json& review) {
  Json j = {{"text", plain ? text::PlainText(s.text) : s.text}, {"origin", s.origin}};
  if (s.origin == "tm") {
    j["tm"] = {{"score", s.tm_score}, {"segment_id", s.tm_segment_id}};
  } else {
    j["engine"] = s.engine;
    j["model"] = s.model;
    j["cached"] = s.cached;
    j["unknown_words"] = s.unknown_words;
  }
  for (const char* k : {"qa", "qe", "terms"}) j[k] = review[k];
  return DumpJson(j);
}

std::string Written(const mt::SegmentResult& s, bool plain, const Json& review) {
  std::string out;
  JsonWriter w(&out);
  WriteTranslation(w, s, plain, Members(review));
  return out;
}

TEST(TranslateAnswerTest, AMachineTranslationIsWrittenAsItsDocument) {
  mt::SegmentResult s;
  s.text = "Abra el <b>fichero</b> &amp; \"gu\\ardelo\"\t\x01 — 😀";
  s.origin = "mt";
  s.engine = "apertium";
  s.model = "eng-spa";
  s.cached = true;
  s.unknown_words = {"*foo\"", "bär"};
  for (bool plain : {true, false}) {
    SCOPED_TRACE(plain);
    EXPECT_EQ(Written(s, plain, SampleReview()), AsDocument(s, plain, SampleReview()));
  }
  s.unknown_words.clear();
  s.cached = false;
  Json no_score = SampleReview();
  no_score["qe"] = nullptr;
  no_score["qa"] = Json::array();
  EXPECT_EQ(Written(s, true, no_score), AsDocument(s, true, no_score));
}

TEST(TranslateAnswerTest, ATmMatchIsWrittenAsItsDocument) {
  mt::SegmentResult s;
  s.text = "Öffnen Sie die Datei";
  s.origin = "tm";
  s.tm_score = 101;
  s.tm_segment_id = 9007199254740993;
  EXPECT_EQ(Written(s, true, SampleReview()), AsDocument(s, true, SampleReview()));
}

TEST(TranslateAnswerTest, ABadByteFromAnEngineIsReplacedAsInADocument) {
  mt::SegmentResult s;
  s.text = "caf\xc3 \xff ok";
  s.origin = "mt";
  s.engine = "llm";
  s.unknown_words = {"\xfe"};
  const std::string written = Written(s, false, SampleReview());
  EXPECT_EQ(written, AsDocument(s, false, SampleReview()));
  EXPECT_NE(written.find("caf\xef\xbf\xbd \xef\xbf\xbd ok"), std::string::npos) << written;
}

// WriteTranslation puts the review's members between "origin" and "text": every key ReviewJson
// writes must sort there, scored or not.
TEST(TranslateAnswerTest, EveryReviewKeySortsBetweenOriginAndText) {
  qe::Review scored;
  scored.qe.emplace();
  scored.qe->features.push_back({"length_ratio", 0.5});
  for (const qe::Review& r : {qe::Review{}, scored}) {
    const Json review = ReviewJson(r, 80);
    ASSERT_TRUE(review.is_object());
    EXPECT_EQ(review.size(), 3u) << review;
    for (const auto& [key, value] : review.items()) {
      EXPECT_GT(key, "origin");
      EXPECT_LT(key, "text");
    }
  }
}

TEST(TranslateAnswerTest, RawValuesAndMembersKeepTheCommas) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Members("").Key("a").Raw("[1,2]").Members("\"b\":{},\"c\":null");
  w.Key("d").BeginArray().Raw("true").Raw("{\"x\":1}").EndArray().EndObject();
  EXPECT_EQ(out, R"({"a":[1,2],"b":{},"c":null,"d":[true,{"x":1}]})");
  std::string only;
  JsonWriter v(&only);
  v.BeginObject().Members("\"b\":1").Members("").Key("c").Int(2).EndObject();
  EXPECT_EQ(only, R"({"b":1,"c":2})");
}

}  // namespace
}  // namespace verso::api
