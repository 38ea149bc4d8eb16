// External scorers: a COMET-Kiwi style HTTP service and an LLM judge (see qe.h).
#include <nlohmann/json.hpp>

#include "common/json.h"
#include "common/status.h"
#include "common/strings.h"
#include "mt/translate.h"
#include "net/http_client.h"
#include "qe/qe.h"
#include "text/text.h"

namespace verso::qe {
namespace {

using Json = nlohmann::json;

class CometScorer : public Scorer {
 public:
  explicit CometScorer(CometOptions o) : o_(std::move(o)) {}
  const std::string& name() const override { return name_; }

  absl::StatusOr<std::vector<Result>> Score(const std::vector<Input>& inputs,
                                            absl::Time deadline) override {
    std::vector<Result> out;
    const size_t batch = std::max(1, o_.batch_size);
    for (size_t start = 0; start < inputs.size(); start += batch) {
      const size_t end = std::min(inputs.size(), start + batch);
      Json data = Json::array();
      for (size_t i = start; i < end; ++i) {
        data.push_back({{"src", text::PlainText(inputs[i].source)},
                        {"mt", text::PlainText(inputs[i].translation)}});
      }
      net::HttpRequest req;
      req.url = o_.url;
      req.headers = {{"Content-Type", "application/json"}};
      if (!o_.api_key.empty()) req.headers.push_back({"Authorization", "Bearer " + o_.api_key});
      req.body = DumpJson(Json{{"data", data}});
      req.deadline = deadline;
      auto resp = net::Send(req);
      if (!resp.ok()) {
        return absl::Status(resp.status().code(), StrCat("comet: ", resp.status().message()));
      }
      if (resp->status != 200) {
        const std::string what = StrCat("comet: HTTP ", resp->status);
        if (resp->status == 429 || resp->status >= 500) return absl::UnavailableError(what);
        return absl::FailedPreconditionError(what);
      }
      Json body = ParseAnswerJson(resp->body);
      if (body.is_discarded() || !body.is_object() || !body.contains("scores") ||
          !body["scores"].is_array()) {
        return absl::InternalError("comet: malformed answer (no \"scores\" array)");
      }
      const Json& scores = body["scores"];
      if (scores.size() != end - start) {
        return absl::InternalError(StrCat("comet: malformed answer (", scores.size(),
                                          " scores for ", end - start, " segments)"));
      }
      bool unit = true;  // COMET models answer 0-1; others 0-100
      for (const Json& s : scores) {
        if (!s.is_number())
          return absl::InternalError("comet: malformed answer (a score is not a number)");
        unit &= s.get<double>() <= 1.0;
      }
      for (const Json& s : scores) {
        Result r;
        r.scorer = name_;
        double v = s.get<double>() * (unit ? 100.0 : 1.0);
        r.score = std::clamp(v, 0.0, 100.0);
        r.features.push_back({"comet", s.get<double>()});
        out.push_back(std::move(r));
      }
    }
    return out;
  }

 private:
  const std::string name_ = "comet";
  CometOptions o_;
};

class LlmJudge : public Scorer {
 public:
  LlmJudge(mt::Router* router, std::vector<std::string> chain)
      : router_(router), chain_(std::move(chain)) {}
  const std::string& name() const override { return name_; }

  absl::StatusOr<std::vector<Result>> Score(const std::vector<Input>& inputs,
                                            absl::Time deadline) override {
    std::vector<Result> out;
    for (const Input& in : inputs) {
      std::string engine;
      VERSO_ASSIGN_OR_RETURN(std::string answer, router_->Complete(chain_, kSystem, JudgePrompt(in),
                                                                   deadline, &engine));
      auto score = ParseJudgeAnswer(answer);
      if (!score.ok()) {
        return absl::InternalError(StrCat("llm judge (", engine, "): ", score.status().message()));
      }
      Result r;
      r.scorer = name_;
      r.score = *score;
      r.features.push_back({"llm_judge", static_cast<double>(*score)});
      r.reasons.push_back(StrCat("scored ", *score, " by ", engine));
      out.push_back(std::move(r));
    }
    return out;
  }

 private:
  static constexpr const char* kSystem =
      "You are a professional translation quality assessor. Answer with a single integer.";
  const std::string name_ = "llm";
  mt::Router* router_;
  std::vector<std::string> chain_;
};

}  // namespace

std::string JudgePrompt(const Input& in) {
  const std::string sl = text::LanguageName(in.source_lang);
  const std::string tl = text::LanguageName(in.target_lang);
  return StrCat("Score the following translation from ", sl, " to ", tl,
                " on a continuous scale from 0 to 100, where a score of zero means \"no meaning "
                "preserved\" and a score of one hundred means \"perfect meaning and grammar\".\n\n",
                sl, " source: \"", text::PlainText(in.source), "\"\n", tl, " translation: \"",
                text::PlainText(in.translation), "\"\nScore: ");
}

absl::StatusOr<int> ParseJudgeAnswer(std::string_view answer) {
  std::string_view a = StripAsciiWhitespace(answer);
  int64_t v = 0;
  if (a.empty() || a.size() > 3 || !ParseInt64(a, &v) || a[0] == '+' || a[0] == '-') {
    return absl::InternalError(
        StrCat("malformed answer (not an integer from 0 to 100): \"", a.substr(0, 40), "\""));
  }
  if (v < 0 || v > 100) {
    return absl::InternalError(StrCat("malformed answer (", v, " is outside 0-100)"));
  }
  return static_cast<int>(v);
}

std::unique_ptr<Scorer> NewCometScorer(CometOptions options) {
  return std::make_unique<CometScorer>(std::move(options));
}

std::unique_ptr<Scorer> NewLlmJudge(mt::Router* router, std::vector<std::string> chain) {
  return std::make_unique<LlmJudge>(router, std::move(chain));
}

}  // namespace verso::qe
