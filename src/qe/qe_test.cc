#include "qe/qe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

#include "absl/strings/str_join.h"

#include "common/clock.h"
#include "mt/mt.h"
#include "mt/translate.h"
#include "resilience/resilience.h"
#include "tests/fake_http_server.h"

namespace verso::qe {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using json = nlohmann::json;
using verso::test::FakeHttpServer;
using verso::test::FakeRequest;
using verso::test::FakeResponse;

Input In(std::string src, std::string mt, std::string sl = "en", std::string tl = "es") {
  Input in;
  in.source = std::move(src);
  in.translation = std::move(mt);
  in.source_lang = std::move(sl);
  in.target_lang = std::move(tl);
  return in;
}

std::unique_ptr<Scorer> Builtin() {
  auto s = NewBuiltinScorer({});
  EXPECT_TRUE(s.ok()) << s.status();
  return std::move(*s);
}

Result ScoreOne(Scorer& s, Input in) {
  auto r = s.Score({std::move(in)}, absl::InfiniteFuture());
  EXPECT_TRUE(r.ok()) << r.status();
  return (*r)[0];
}

double FeatureValue(const Result& r, const std::string& name) {
  for (const auto& f : r.features) {
    if (f.name == name) return f.value;
  }
  ADD_FAILURE() << "no feature " << name;
  return 0;
}

TEST(ChrFTest, KnownValues) {
  EXPECT_DOUBLE_EQ(ChrF("the cat", "the cat"), 1.0);
  EXPECT_DOUBLE_EQ(ChrF("xyz", "abc"), 0.0);
  const double partial = ChrF("the cat sat", "the cat sat down");
  EXPECT_GT(partial, 0.6);
  EXPECT_LT(partial, 1.0);
  // Recall weighs more than precision (beta 2): missing text costs more than extra text.
  EXPECT_LT(ChrF("the cat", "the cat sat down"), ChrF("the cat sat down", "the cat"));
}

// chrF by its definition (character n-grams up to 6 without white space, beta 2), kept
// deliberately plain: ChrF must give exactly the same number.
double ReferenceChrF(std::string_view hyp, std::string_view ref) {
  auto chars = [](std::string_view s) {
    std::vector<std::string> out;
    for (size_t i = 0; i < s.size();) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      n = std::min(n, s.size() - i);
      const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
      if (!(n == 1 && space)) out.emplace_back(s.substr(i, n));
      i += n;
    }
    return out;
  };
  const std::vector<std::string> h = chars(hyp), r = chars(ref);
  double sum_p = 0, sum_r = 0;
  int orders = 0;
  for (size_t n = 1; n <= 6 && n <= h.size() && n <= r.size(); ++n) {
    std::map<std::string, int> hc, rc;
    for (size_t i = 0; i + n <= h.size(); ++i)
      ++hc[absl::StrJoin(h.begin() + i, h.begin() + i + n, "")];
    for (size_t i = 0; i + n <= r.size(); ++i)
      ++rc[absl::StrJoin(r.begin() + i, r.begin() + i + n, "")];
    int match = 0;
    for (const auto& [g, c] : hc) match += rc.contains(g) ? std::min(c, rc[g]) : 0;
    sum_p += static_cast<double>(match) / (h.size() - n + 1);
    sum_r += static_cast<double>(match) / (r.size() - n + 1);
    ++orders;
  }
  if (orders == 0) return hyp == ref ? 1.0 : 0.0;
  const double p = sum_p / orders, rec = sum_r / orders;
  return p + rec == 0 ? 0 : 5 * p * rec / (4 * p + rec);
}

TEST(ChrFTest, EqualsTheDefinitionExactly) {
  std::vector<std::pair<std::string, std::string>> pairs = {
      {"", ""},
      {"a", ""},
      {"", "a"},
      {" \t\n", "\r "},
      {"ab", "ab ab"},
      {"aaaaaaa", "aaa"},
      {"naïve café 東京 🙂", "naive cafe 東京🙂"},
      {"\xC3", "\xC3\xA9"},
      {"x\xF0\x9F", "x"}};
  std::ifstream en(std::string(VERSO_SHARED_DATA) + "/mt/flores101-devtest/eng.devtest");
  std::ifstream es(std::string(VERSO_SHARED_DATA) + "/mt/flores101-devtest/spa.devtest");
  for (std::string a, b; std::getline(en, a) && std::getline(es, b);) {
    pairs.emplace_back(b, a);                              // a translation and its source
    pairs.emplace_back(b, b.substr(0, b.size() * 2 / 3));  // a translation and a cut copy
  }
  ASSERT_EQ(pairs.size(), 9u + 2 * 1012);
  for (const auto& [h, r] : pairs) {
    ASSERT_EQ(ChrF(h, r), ReferenceChrF(h, r)) << h << " | " << r;
  }
}

TEST(BuiltinScorerTest, SignalsLowerTheScoreAndSayWhy) {
  auto s = Builtin();
  EXPECT_THAT(BuiltinModelVersion(*s), HasSubstr("verso-qe-1"));
  const Result good = ScoreOne(*s, In("The printer prints 20 pages per minute.",
                                      "La impresora imprime 20 páginas por minuto."));
  EXPECT_EQ(good.scorer, "builtin");
  EXPECT_FALSE(good.provisional);

  const Result number = ScoreOne(*s, In("The printer prints 20 pages per minute.",
                                        "La impresora imprime páginas por minuto."));
  EXPECT_LT(number.score, good.score);
  EXPECT_DOUBLE_EQ(FeatureValue(number, "mismatches"), 1.0);
  EXPECT_THAT(number.reasons, Contains(HasSubstr("1 number missing")));

  const Result copied = ScoreOne(*s, In("The printer prints twenty pages per minute.",
                                        "La printer prints twenty páginas por minuto."));
  EXPECT_LT(copied.score, good.score);
  EXPECT_GT(FeatureValue(copied, "copy_ratio"), 0.5);
  EXPECT_THAT(copied.reasons, Contains(HasSubstr("source words left untranslated: printer")));

  const Result misspelled = ScoreOne(*s, In("The printer prints 20 pages per minute.",
                                            "La imprsora imprmie 20 pagnias por minuot."));
  EXPECT_LT(misspelled.score, good.score);
  EXPECT_DOUBLE_EQ(FeatureValue(misspelled, "misspelled_ratio"), 4.0 / 6.0);
  EXPECT_THAT(misspelled.reasons, Contains(HasSubstr("not in the dictionary: imprsora")));

  Input unknown =
      In("The printer prints 20 pages per minute.", "La *printer imprime 20 páginas por minuto.");
  unknown.unknown_words = {"printer"};
  const Result u = ScoreOne(*s, unknown);
  EXPECT_DOUBLE_EQ(FeatureValue(u, "unknown_ratio"), 1.0 / 6.0);  // 20 is no word
  EXPECT_THAT(u.reasons, Contains(HasSubstr("unknown words: 1 (printer)")));

  const Result loop = ScoreOne(
      *s, In("The printer prints pages.", "La impresora imprime imprime imprime imprime imprime."));
  EXPECT_LT(loop.score, good.score);
  EXPECT_GT(FeatureValue(loop, "repetition"), 0.3);
}

TEST(BuiltinScorerTest, EngineLogProbAndTmAgreementAndRoundTrip) {
  auto s = Builtin();
  Input sure = In("He also begins an affair.", "Er beginnt auch eine Affäre.", "en", "de");
  sure.engine_logprob = -0.1;
  Input unsure = sure;
  unsure.engine_logprob = -1.5;
  EXPECT_GT(ScoreOne(*s, sure).score, ScoreOne(*s, unsure).score);

  Input tm = In("Open the file menu.", "Abra el menú Archivo.");
  tm.tm_score = 95;
  tm.tm_target = "Abra el menú Archivo.";
  Input tm_far = tm;
  tm_far.tm_target = "Cierre la ventana principal ahora.";
  const Result agree = ScoreOne(*s, tm), disagree = ScoreOne(*s, tm_far);
  EXPECT_DOUBLE_EQ(FeatureValue(agree, "tm_disagreement"), 0.0);
  EXPECT_LT(disagree.score, agree.score);
  EXPECT_THAT(disagree.reasons, Contains(HasSubstr("differs from a 95 % translation memory")));

  Input rt = In("Open the file menu.", "Abra el menú Archivo.");
  rt.back_translation = "Open the file menu.";
  Input rt_bad = rt;
  rt_bad.back_translation = "Shut down everything at once.";
  EXPECT_DOUBLE_EQ(FeatureValue(ScoreOne(*s, rt), "round_trip_loss"), 0.0);
  EXPECT_LT(ScoreOne(*s, rt_bad).score, ScoreOne(*s, rt).score);
}

TEST(BuiltinScorerTest, BadModelFilesAreRefused) {
  auto missing = NewBuiltinScorer({"/nonexistent/model.json"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  const std::string path = ::testing::TempDir() + "/qe_bad_model.json";
  FILE* f = fopen(path.c_str(), "w");
  fputs(R"({"version": "x", "blackbox": {}})", f);
  fclose(f);
  auto bad = NewBuiltinScorer({path});
  EXPECT_EQ(bad.status().message(), "QE model " + path + ": blackbox.default is required");
}

TEST(JudgeTest, PromptAndStrictParsing) {
  const std::string p = JudgePrompt(In("Hello <g id=\"1\">world</g>", "Hola mundo"));
  EXPECT_THAT(p, HasSubstr("from English to Spanish"));
  EXPECT_THAT(p, HasSubstr("English source: \"Hello world\""));
  EXPECT_THAT(p, HasSubstr("Spanish translation: \"Hola mundo\""));
  EXPECT_EQ(*ParseJudgeAnswer("87"), 87);
  EXPECT_EQ(*ParseJudgeAnswer(" 100\n"), 100);
  EXPECT_EQ(*ParseJudgeAnswer("0"), 0);
  for (const char* bad : {"87.", "101", "-3", "Score: 80", "eighty", "", "80 points", "1e2"}) {
    EXPECT_FALSE(ParseJudgeAnswer(bad).ok()) << bad;
  }
}

FakeResponse OpenAiText(const std::string& content) {
  FakeResponse r;
  r.body =
      json{{"id", "chatcmpl-1"},
           {"object", "chat.completion"},
           {"choices", json::array({{{"index", 0},
                                     {"message", {{"role", "assistant"}, {"content", content}}},
                                     {"finish_reason", "stop"}}})}}
          .dump();
  return r;
}

TEST(JudgeTest, ScoresThroughTheRoutersLlmEngines) {
  std::string answer = "87";
  FakeHttpServer server([&](const FakeRequest& r) {
    if (r.Header("authorization") != "Bearer sk-test") {
      FakeResponse e;
      e.status = 401;
      e.body =
          R"({"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}})";
      return e;
    }
    return OpenAiText(answer);
  });
  FakeClock clock{absl::Now()};
  resilience::DegradationController degradation;
  std::vector<std::unique_ptr<mt::Engine>> engines;
  engines.push_back(mt::NewOpenAiEngine({"", server.url(), "sk-test", "gpt-4o-mini", {}}));
  mt::RouterOptions ro;
  ro.llm_retry.max_retries = 0;
  mt::Router router(std::move(engines), ro, &clock, &degradation);
  auto judge = NewLlmJudge(&router, {});
  auto r = judge->Score({In("Hello", "Hola")}, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].score, 87);
  EXPECT_EQ((*r)[0].scorer, "llm");
  const json sent = json::parse(server.requests()[0].body);
  EXPECT_THAT(sent["messages"][1]["content"].get<std::string>(), HasSubstr("Score: "));
  EXPECT_FALSE(sent.contains("response_format"));  // a plain answer, not JSON

  answer = "I would say 87/100.";
  auto bad = judge->Score({In("Hello", "Hola")}, absl::Now() + absl::Seconds(10));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("llm judge (openai): malformed answer"));
}

TEST(CometTest, SpeaksTheBatchProtocolAndMapsErrors) {
  int status = 200;
  FakeHttpServer server([&](const FakeRequest& r) {
    FakeResponse out;
    out.status = status;
    if (status != 200) {
      out.body = R"({"detail":"model not loaded"})";
      return out;
    }
    json data = json::parse(r.body)["data"];
    json scores = json::array();
    for (const auto& d : data) scores.push_back(d["mt"].get<std::string>().size() > 4 ? 0.8 : 0.3);
    out.body = json{{"scores", scores}, {"system_score", 0.55}}.dump();
    return out;
  });
  auto comet = NewCometScorer({server.url() + "/score", "tok", 2});
  auto r = comet->Score({In("Hello <g id=\"1\">you</g>", "Hola a <g id=\"1\">ti</g>"),
                         In("Hi", "Hola"), In("Yes", "Sí")},
                        absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_DOUBLE_EQ((*r)[0].score, 80);
  EXPECT_DOUBLE_EQ((*r)[1].score, 30);
  EXPECT_EQ(server.request_count(), 2);  // batches of 2
  const auto reqs = server.requests();
  EXPECT_EQ(json::parse(reqs[0].body)["data"][0],
            (json{{"src", "Hello you"}, {"mt", "Hola a ti"}}));
  EXPECT_EQ(reqs[0].Header("authorization"), "Bearer tok");
  status = 503;
  auto down = comet->Score({In("Hi", "Hola")}, absl::Now() + absl::Seconds(10));
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(down.status().message(), "comet: HTTP 503");
}

class FailingScorer : public Scorer {
 public:
  const std::string& name() const override { return name_; }
  absl::StatusOr<std::vector<Result>> Score(const std::vector<Input>& inputs, absl::Time) override {
    ++calls;
    if (fail) return absl::UnavailableError("comet: HTTP 503");
    std::vector<Result> out(inputs.size());
    for (auto& r : out) {
      r.scorer = name_;
      r.score = 90;
    }
    return out;
  }
  bool fail = true;
  int calls = 0;
  const std::string name_ = "comet";
};

TEST(QeServiceTest, AnUnavailableScorerMeansLevelTwoAndProvisionalScores) {
  auto builtin = Builtin();
  FailingScorer external;
  FakeClock clock;
  resilience::DegradationController degradation;
  resilience::CircuitBreaker engine_breaker(resilience::NmtBreakerOptions(), &clock);
  degradation.AddEngine("apertium", resilience::DegradationController::EngineClass::kMt,
                        &engine_breaker);
  QeService service(builtin.get(), &external, {}, &clock, &degradation);
  for (int i = 0; i < 5; ++i) {
    auto r = service.Score({In("Hello", "Hola")}, absl::InfiniteFuture());
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE((*r)[0].provisional);
    EXPECT_EQ((*r)[0].scorer, "builtin");
  }
  EXPECT_TRUE(service.degraded());
  EXPECT_EQ(degradation.Current().number, 2);
  EXPECT_EQ(degradation.Current().message, "Quality verification in progress");
  // Open: the scorer is not even asked.
  ASSERT_TRUE(service.Score({In("Hello", "Hola")}, absl::InfiniteFuture()).ok());
  EXPECT_EQ(external.calls, 5);
  // After the reset timeout one trial goes through; it succeeds: back to normal.
  external.fail = false;
  clock.Advance(absl::Seconds(31));
  auto back = service.Score({In("Hello", "Hola")}, absl::InfiniteFuture());
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE((*back)[0].provisional);
  EXPECT_EQ((*back)[0].scorer, "comet");
  EXPECT_FALSE(service.degraded());
  EXPECT_EQ(degradation.Current().number, 0);
}

class CountingScorer : public Scorer {
 public:
  explicit CountingScorer(Scorer* inner) : inner_(inner) {}
  const std::string& name() const override { return inner_->name(); }
  absl::StatusOr<std::vector<Result>> Score(const std::vector<Input>& inputs,
                                            absl::Time deadline) override {
    scored += static_cast<int>(inputs.size());
    return inner_->Score(inputs, deadline);
  }
  int scored = 0;

 private:
  Scorer* inner_;
};

TEST(QeServiceTest, BuiltinScoresOfSelfContainedInputsAreCached) {
  auto builtin = Builtin();
  CountingScorer counting(builtin.get());
  FakeClock clock;
  QeService service(&counting, nullptr, {}, &clock, nullptr);
  Input a = In("Open the file.", "Abra el archivo.");
  Input b = In("Close the file.", "Cierre el archivo.");
  auto first = service.Score({a, b}, absl::InfiniteFuture());
  ASSERT_TRUE(first.ok());
  auto again = service.Score({b, a}, absl::InfiniteFuture());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(counting.scored, 2);
  EXPECT_DOUBLE_EQ((*again)[0].score, (*first)[1].score);
  EXPECT_EQ((*again)[1].reasons, (*first)[0].reasons);
  // The engine's log-prob is part of the key; a TM match or a glossary makes an input depend on
  // more than itself: scored every time.
  Input sure = a;
  sure.engine_logprob = -0.2;
  Input tm = a;
  tm.tm_score = 90;
  tm.tm_target = "Abra el fichero.";
  ASSERT_TRUE(service.Score({sure, tm}, absl::InfiniteFuture()).ok());
  ASSERT_TRUE(service.Score({sure, tm}, absl::InfiniteFuture()).ok());
  EXPECT_EQ(counting.scored, 5);
}

}  // namespace
}  // namespace verso::qe
