// The builtin scorer: features (features.cc) combined by the fitted model file.
#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/file.h"
#include "common/status.h"
#include "common/strings.h"
#include "qe/qe.h"
#include "qe/qe_internal.h"
#include "text/text.h"

namespace verso::qe {
namespace {

using Json = nlohmann::json;

struct Linear {
  double intercept = 0;
  std::map<std::string, double> weights;  // derived feature -> points per unit
};

struct Norm {
  double mean = 0;
  double sd = 0.2;
};

struct Model {
  std::string version;
  std::map<std::string, Norm> length_norms;          // "en-de", "default"
  std::map<std::string, Linear> blackbox, glassbox;  // by pair, "default"
  std::map<std::string, double> priors;              // weights no data could fit
};

std::string PairKey(std::string_view s, std::string_view t) {
  return StrCat(text::PrimaryLanguage(s), "-", text::PrimaryLanguage(t));
}

absl::StatusOr<Linear> ReadLinear(const Json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("intercept") || !j["intercept"].is_number() ||
      !j.contains("weights") || !j["weights"].is_object()) {
    return absl::InvalidArgumentError(StrCat(where, ": needs intercept and weights"));
  }
  Linear l;
  l.intercept = j["intercept"].get<double>();
  for (const auto& [k, v] : j["weights"].items()) {
    if (!v.is_number())
      return absl::InvalidArgumentError(StrCat(where, ".weights.", k, ": number"));
    l.weights[k] = v.get<double>();
  }
  return l;
}

absl::StatusOr<Model> LoadModel(const std::string& path) {
  std::string text;
  if (path.empty()) {
    text = EmbeddedModel();
  } else {
    auto read = ReadFile(path);
    if (!read.ok()) return absl::NotFoundError(StrCat("QE model ", read.status().message()));
    text = std::move(*read);
  }
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(StrCat("QE model ", path, ": not a JSON object"));
  }
  Model m;
  m.version = j.value("version", "");
  if (m.version.empty())
    return absl::InvalidArgumentError(StrCat("QE model ", path, ": no version"));
  // (Each section is copied first: items() of a temporary would dangle.)
  const Json norms = j.value("length_norms", Json::object());
  for (const auto& [k, v] : norms.items()) {
    m.length_norms[k] = {v.value("mean", 0.0), std::max(0.01, v.value("sd", 0.2))};
  }
  for (const char* kind : {"blackbox", "glassbox"}) {
    auto& target = std::string_view(kind) == "blackbox" ? m.blackbox : m.glassbox;
    const Json section = j.value(kind, Json::object());
    for (const auto& [k, v] : section.items()) {
      VERSO_ASSIGN_OR_RETURN(Linear l,
                             ReadLinear(v, StrCat("QE model ", path, ": ", kind, ".", k)));
      target[k] = std::move(l);
    }
  }
  if (!m.blackbox.contains("default")) {
    return absl::InvalidArgumentError(StrCat("QE model ", path, ": blackbox.default is required"));
  }
  const Json priors = j.value("priors", Json::object());
  for (const auto& [k, v] : priors.items()) {
    if (v.is_number()) m.priors[k] = v.get<double>();
  }
  return m;
}

std::string Fmt(double v, int decimals) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(decimals);
  os << v;
  return os.str();
}

std::string Quoted(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size() && i < 3; ++i) StrAppend(&out, i ? ", " : "", words[i]);
  if (words.size() > 3) StrAppend(&out, ", ...");
  return out;
}

class BuiltinScorer : public Scorer {
 public:
  BuiltinScorer(Model model, BuiltinOptions options)
      : model_(std::move(model)), options_(std::move(options)) {}
  const std::string& name() const override { return name_; }
  const std::string& version() const { return model_.version; }

  absl::StatusOr<std::vector<Result>> Score(const std::vector<Input>& inputs, absl::Time) override {
    std::vector<Result> out;
    out.reserve(inputs.size());
    for (const Input& in : inputs) out.push_back(ScoreOne(in));
    return out;
  }

 private:
  Result ScoreOne(const Input& in) const {
    Details d;
    std::vector<Feature> raw = ComputeFeatures(in, options_.hunspell_dir, &d);
    std::map<std::string, double> x;
    for (const Feature& f : raw) x[f.name] = f.value;
    const std::string pair = PairKey(in.source_lang, in.target_lang);
    auto norm_it = model_.length_norms.find(pair);
    const Norm norm = norm_it != model_.length_norms.end()      ? norm_it->second
                      : model_.length_norms.contains("default") ? model_.length_norms.at("default")
                                                                : Norm{};
    x["length_z"] = std::abs(x["log_length_ratio"] - norm.mean) / norm.sd;

    const bool glass = in.engine_logprob.has_value() && !model_.glassbox.empty();
    const auto& set = glass ? model_.glassbox : model_.blackbox;
    auto lin_it = set.find(pair);
    const Linear& lin = lin_it != set.end() ? lin_it->second : set.at("default");

    Result r;
    r.scorer = name_;
    double score = lin.intercept;
    std::vector<std::pair<double, std::string>> contributions;  // (points, feature)
    auto weight = [&](const std::string& f) -> double {
      auto it = lin.weights.find(f);
      if (it != lin.weights.end() && it->second != 0) return it->second;
      auto p = model_.priors.find(f);
      return p != model_.priors.end() ? p->second : 0.0;
    };
    for (const auto& [f, v] : x) {
      if (f == "log_length_ratio" || (f == "engine_logprob" && !glass)) continue;
      const double w = weight(f);
      score += w * v;
      contributions.push_back({w * v, f});
    }
    r.score = std::clamp(score, 0.0, 100.0);
    for (const Feature& f : raw) {
      if (f.name == "engine_logprob" && !in.engine_logprob.has_value()) continue;
      r.features.push_back(f);
    }
    r.features.push_back({"length_z", x["length_z"]});

    std::sort(contributions.begin(), contributions.end());
    for (const auto& [points, f] : contributions) {
      if (points > -2.0) break;
      // Sentence length is a difficulty prior, not a flaw; a length within two standard
      // deviations of the pair's norm is normal.
      if (f == "source_words" || (f == "length_z" && x["length_z"] <= 2.0)) continue;
      std::string reason = Reason(f, x, d, in, norm, pair);
      if (!reason.empty()) r.reasons.push_back(StrCat(reason, " (", Fmt(points, 0), ")"));
    }
    return r;
  }

  static std::string Reason(const std::string& f, std::map<std::string, double>& x,
                            const Details& d, const Input& in, const Norm& norm,
                            const std::string& pair) {
    const qa::Counts& c = d.counts;
    if (f == "unknown_ratio") {
      return StrCat("unknown words: ", in.unknown_words.size(), " (", Quoted(in.unknown_words),
                    ")");
    }
    if (f == "mismatches") {
      std::vector<std::string> parts;
      auto add = [&](int n, const char* one, const char* many) {
        if (n > 0) parts.push_back(StrCat(n, " ", n == 1 ? one : many));
      };
      add(c.numbers_missing, "number missing", "numbers missing");
      add(c.numbers_extra, "number added", "numbers added");
      add(c.placeholders_missing, "placeholder missing", "placeholders missing");
      add(c.placeholders_extra, "placeholder added", "placeholders added");
      add(c.tags_missing, "tag missing", "tags missing");
      add(c.tags_extra, "tag added", "tags added");
      add(c.tags_unpaired, "tag without its pair", "tags without their pairs");
      add(c.urls_missing, "URL missing", "URLs missing");
      add(c.emails_missing, "e-mail address missing", "e-mail addresses missing");
      return Join(parts, ", ");
    }
    if (f == "copy_ratio") return StrCat("source words left untranslated: ", Quoted(d.copied));
    if (f == "misspelled_ratio") {
      return StrCat(d.misspelled.size(), " word", d.misspelled.size() == 1 ? "" : "s",
                    " not in the dictionary: ", Quoted(d.misspelled));
    }
    if (f == "length_z") {
      return StrCat("length ", Fmt(std::exp(x["log_length_ratio"]), 2),
                    "x the source's; usual for ", pair, " is ", Fmt(std::exp(norm.mean), 2), "x");
    }
    if (f == "repetition") return "repeated words (a sign of a looping engine)";
    if (f == "end_punctuation") return "ending punctuation differs from the source";
    if (f == "first_letter_case") return "first letter's case differs from the source";
    if (f == "untranslated") return "the translation is empty or the source itself";
    if (f == "glossary_missing") return StrCat(c.glossary_missing, " glossary term(s) not used");
    if (f == "forbidden_terms") return StrCat(c.forbidden, " forbidden term(s) used");
    if (f == "tm_disagreement") {
      return StrCat("differs from a ", in.tm_score, " % translation memory match");
    }
    if (f == "round_trip_loss") {
      return StrCat("the back-translation differs from the source (chrF ",
                    Fmt(1.0 - x["round_trip_loss"], 2), ")");
    }
    if (f == "engine_logprob") {
      return StrCat("the engine was unsure (mean log-probability ",
                    Fmt(in.engine_logprob.value_or(0), 2), ")");
    }
    if (f == "source_words") return "long source sentence";
    return "";
  }

  const std::string name_ = "builtin";
  Model model_;
  BuiltinOptions options_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Scorer>> NewBuiltinScorer(const BuiltinOptions& options) {
  VERSO_ASSIGN_OR_RETURN(Model m, LoadModel(options.model_path));
  return std::unique_ptr<Scorer>(new BuiltinScorer(std::move(m), options));
}

std::string BuiltinModelVersion(const Scorer& builtin) {
  auto* b = dynamic_cast<const BuiltinScorer*>(&builtin);
  return b != nullptr ? b->version() : "";
}

}  // namespace verso::qe
