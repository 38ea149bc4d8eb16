// `verso qe eval|features`: quality estimation against human judgements (MLQE-PE files);
// `verso qe calibrate`: the builtin score of an engine's output against references (FLORES).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "cli/cli.h"
#include "common/file.h"
#include "common/json.h"
#include "common/status.h"
#include "common/strings.h"
#include "mt/mt.h"
#include "qe/qe.h"
#include "text/text.h"

namespace verso::cli {
namespace {

struct Row {
  std::string source, translation;
  double human = 0;
  std::optional<double> model_score;
  std::optional<double> hter;
};

struct Dataset {
  std::string source_lang, target_lang;
  std::vector<Row> rows;
};

// MLQE-PE direct-assessment TSV: a header naming the columns "original", "translation", "mean"
// and optionally "model_scores"; tab-separated, no quoting.
absl::StatusOr<Dataset> ReadMlqe(const std::string& path, const std::string& hter_path,
                                 std::string source_lang, std::string target_lang,
                                 const std::string& rows_kind) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(StrCat(path, ": cannot be read"));
  Dataset d;
  if (source_lang.empty() || target_lang.empty()) {
    // MLQE-PE names its files dev.ende..., dev.roen...
    const std::string base = std::filesystem::path(path).filename();
    size_t dot = base.find('.');
    if (dot != std::string::npos && base.size() >= dot + 5) {
      std::string code = base.substr(dot + 1, 4);
      if (std::all_of(code.begin(), code.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
        if (source_lang.empty()) source_lang = code.substr(0, 2);
        if (target_lang.empty()) target_lang = code.substr(2, 2);
      }
    }
    if (source_lang.empty() || target_lang.empty()) {
      return absl::InvalidArgumentError(
          StrCat(path,
                 ": the languages cannot be told from the file name; give --source-lang "
                 "and --target-lang"));
    }
  }
  d.source_lang = source_lang;
  d.target_lang = target_lang;
  std::string line;
  if (!std::getline(in, line)) return absl::InvalidArgumentError(StrCat(path, ": empty"));
  std::map<std::string, size_t> col;
  {
    size_t i = 0;
    for (std::string_view h : Split(line, '\t')) col[std::string(h)] = i++;
  }
  for (const char* need : {"original", "translation", "mean"}) {
    if (!col.contains(need)) {
      return absl::InvalidArgumentError(StrCat(path, ": line 1: no \"", need, "\" column"));
    }
  }
  std::vector<double> hters;
  if (!hter_path.empty()) {
    std::ifstream h(hter_path);
    if (!h) return absl::NotFoundError(StrCat(hter_path, ": cannot be read"));
    std::string l;
    while (std::getline(h, l)) {
      if (!l.empty()) hters.push_back(std::strtod(l.c_str(), nullptr));
    }
  }
  int64_t n = 0, line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    std::vector<std::string_view> f = Split(line, '\t');
    if (f.size() < col.size()) {
      return absl::InvalidArgumentError(
          StrCat(path, ": line ", line_no, ": ", f.size(), " fields, the header has ", col.size()));
    }
    const int64_t index = n++;
    if ((rows_kind == "even" && index % 2 != 0) || (rows_kind == "odd" && index % 2 != 1)) continue;
    Row r;
    r.source = std::string(f[col["original"]]);
    r.translation = std::string(f[col["translation"]]);
    char* end = nullptr;
    const std::string mean(f[col["mean"]]);
    r.human = std::strtod(mean.c_str(), &end);
    if (end == mean.c_str()) {
      return absl::InvalidArgumentError(
          StrCat(path, ": line ", line_no, ", column ", col["mean"] + 1, ": not a number"));
    }
    if (col.contains("model_scores")) {
      r.model_score = std::strtod(std::string(f[col["model_scores"]]).c_str(), nullptr);
    }
    if (!hters.empty()) {
      if (static_cast<size_t>(index) >= hters.size()) {
        return absl::InvalidArgumentError(
            StrCat(hter_path, ": fewer lines (", hters.size(), ") than ", path));
      }
      r.hter = hters[index];
    }
    d.rows.push_back(std::move(r));
  }
  return d;
}

double Pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  if (n < 2) return 0;
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0;
}

std::vector<double> Ranks(const std::vector<double>& v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    const double avg = (i + j) / 2.0 + 1;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

double Spearman(const std::vector<double>& x, const std::vector<double>& y) {
  return Pearson(Ranks(x), Ranks(y));
}

std::vector<qe::Input> Inputs(const Dataset& d, bool with_engine_score) {
  std::vector<qe::Input> out;
  for (const Row& r : d.rows) {
    qe::Input in;
    in.source = text::EscapeText(r.source);
    in.translation = text::EscapeText(r.translation);
    in.source_lang = d.source_lang;
    in.target_lang = d.target_lang;
    if (with_engine_score) in.engine_logprob = r.model_score;
    out.push_back(std::move(in));
  }
  return out;
}

void RunOrFail(Environment* env, int* exit_code, const std::function<absl::Status()>& body) {
  absl::Status s = body();
  if (!s.ok()) {
    env->err() << "verso: error: " << s.message() << "\n";
    *exit_code = 1;
  }
}

std::string F(double v, int decimals) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(decimals) << v;
  return os.str();
}

struct CalibrateArgs {
  std::string engine = "apertium", source_lang, target_lang, sources, references, data;
  double good_chrf = 0.6, min_precision = 0.9;
  int min_approved = 20;
  bool json = false;
};

absl::StatusOr<std::vector<std::string>> ReadLines(const std::string& path) {
  VERSO_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<std::string> lines;
  for (std::string_view l : Split(text, '\n')) {
    if (!l.empty()) lines.emplace_back(l);
  }
  return lines;
}

// The engine's translations of `sources` (plain text), as plain text, with its unknown words.
absl::StatusOr<std::vector<mt::Translation>> TranslateAll(const CalibrateArgs& a,
                                                          const std::vector<std::string>& sources) {
  if (a.engine != "apertium") {
    return absl::InvalidArgumentError(StrCat(
        "--engine: only \"apertium\" runs here; calibrate a provider's engine where it runs"));
  }
  VERSO_ASSIGN_OR_RETURN(auto engine, mt::NewApertiumEngine(mt::ApertiumOptions{}));
  std::vector<mt::Translation> out;
  for (size_t begin = 0; begin < sources.size(); begin += 64) {
    mt::TranslateRequest r;
    r.source_lang = a.source_lang;
    r.target_lang = a.target_lang;
    for (size_t i = begin; i < std::min(sources.size(), begin + 64); ++i) {
      r.texts.push_back(text::EscapeText(sources[i]));
    }
    VERSO_ASSIGN_OR_RETURN(std::vector<mt::Translation> part, engine->Translate(r));
    for (auto& t : part) out.push_back(std::move(t));
  }
  return out;
}

// Approvals and precision at `threshold`.
struct AtThreshold {
  int approved = 0, good = 0;
  double precision() const { return approved == 0 ? 0 : static_cast<double>(good) / approved; }
};
AtThreshold Approvals(const std::vector<double>& scores, const std::vector<double>& chrf,
                      double good_chrf, double threshold) {
  AtThreshold t;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (scores[i] < threshold) continue;
    ++t.approved;
    t.good += chrf[i] >= good_chrf;
  }
  return t;
}

absl::Status Calibrate(const CalibrateArgs& a, std::ostream& out) {
  VERSO_ASSIGN_OR_RETURN(std::vector<std::string> sources, ReadLines(a.sources));
  VERSO_ASSIGN_OR_RETURN(std::vector<std::string> refs, ReadLines(a.references));
  if (sources.empty() || sources.size() != refs.size()) {
    return absl::InvalidArgumentError(StrCat(a.sources, " and ", a.references, ": ", sources.size(),
                                             " and ", refs.size(),
                                             " lines; aligned non-empty files are needed"));
  }
  VERSO_ASSIGN_OR_RETURN(std::vector<mt::Translation> mt, TranslateAll(a, sources));
  std::vector<qe::Input> inputs;
  std::vector<double> chrf;
  for (size_t i = 0; i < sources.size(); ++i) {
    qe::Input in;
    in.source = text::EscapeText(sources[i]);
    in.translation = mt[i].text;
    in.source_lang = a.source_lang;
    in.target_lang = a.target_lang;
    in.unknown_words = mt[i].unknown_words;
    inputs.push_back(std::move(in));
    chrf.push_back(qe::ChrF(text::PlainText(mt[i].text), refs[i]));
  }
  VERSO_ASSIGN_OR_RETURN(auto scorer, qe::NewBuiltinScorer({}));
  VERSO_ASSIGN_OR_RETURN(auto results, scorer->Score(inputs, absl::InfiniteFuture()));
  std::vector<double> scores;
  for (const auto& r : results) scores.push_back(r.score);

  qe::Calibration c;
  c.scorer = scorer->name();
  c.engine = a.engine;
  c.source_lang = text::PrimaryLanguage(a.source_lang);
  c.target_lang = text::PrimaryLanguage(a.target_lang);
  c.data = a.data;
  c.segments = static_cast<int>(scores.size());
  c.pearson = std::round(Pearson(scores, chrf) * 1000) / 1000;
  c.good_chrf = a.good_chrf;
  c.min_precision = a.min_precision;
  const AtThreshold all = Approvals(scores, chrf, a.good_chrf, -1);
  c.base_rate = std::round(all.precision() * 1000) / 1000;
  for (int t = 50; t <= 100 && !c.calibrated(); t += 5) {
    const AtThreshold at = Approvals(scores, chrf, a.good_chrf, t);
    if (at.approved >= a.min_approved && at.precision() >= a.min_precision) {
      c.threshold = t;
      c.precision = std::round(at.precision() * 1000) / 1000;
      c.approved = at.approved;
    }
  }
  if (a.json) {
    out << DumpJson(qe::CalibrationToJson(c)) << "\n";
    return absl::OkStatus();
  }
  out << "engine: " << c.engine << " " << c.source_lang << " -> " << c.target_lang << ", "
      << c.segments << " segments of " << a.sources << "\n"
      << "Pearson of the score with chrF against the reference: " << F(c.pearson, 3)
      << "\ngood = chrF >= " << F(a.good_chrf, 2) << ": " << F(100 * c.base_rate, 1)
      << "% of all translations\n\n"
      << std::setw(9) << "threshold" << std::setw(10) << "approved" << std::setw(11)
      << "precision\n";
  for (int t = 50; t <= 100; t += 5) {
    const AtThreshold at = Approvals(scores, chrf, a.good_chrf, t);
    out << std::setw(9) << t << std::setw(10) << at.approved << std::setw(9)
        << (at.approved == 0 ? "-" : F(100 * at.precision(), 1) + "%") << "\n";
  }
  out << "\n"
      << (c.calibrated()
              ? StrCat("calibrated at ", c.threshold, " (precision ", F(100 * c.precision, 1),
                       "% over ", c.approved, ")")
              : StrCat("not calibrated: no threshold reaches ", F(100 * a.min_precision, 0),
                       "% precision over at least ", a.min_approved, " approvals"))
      << "\n";
  return absl::OkStatus();
}

// `verso qe calibrate`.
void AddCalibrateCommand(CLI::App* qe_cmd, Environment* env, int* exit_code) {
  auto* cmd = qe_cmd->add_subcommand(
      "calibrate",
      "Where the builtin score may auto-approve an engine's output: its translations of SOURCES "
      "scored, against chrF with the aligned REFERENCES (one sentence a line, e.g. FLORES)");
  auto a = std::make_shared<CalibrateArgs>();
  cmd->add_option("sources", a->sources, "Source sentences, one a line")->required();
  cmd->add_option("references", a->references, "Their human translations")->required();
  cmd->add_option("--engine", a->engine, "The engine (apertium)");
  cmd->add_option("--source-lang", a->source_lang, "BCP 47")->required();
  cmd->add_option("--target-lang", a->target_lang, "BCP 47")->required();
  cmd->add_option("--data", a->data, "What the files are, for the record");
  cmd->add_option("--good-chrf", a->good_chrf, "chrF (0-1) at which a translation is good");
  cmd->add_option("--min-precision", a->min_precision, "Precision a threshold must reach");
  cmd->add_option("--min-approved", a->min_approved, "Approvals a threshold must have");
  cmd->add_flag("--json", a->json, "Print the calibration entry as JSON");
  cmd->callback([=] { RunOrFail(env, exit_code, [&] { return Calibrate(*a, env->out()); }); });
}

// `qe eval`'s table: how many the scores `best` approve at each threshold, and how precisely.
void PrintApprovalTable(std::ostream& out, const Dataset& d, const std::vector<double>& best,
                        bool has_engine) {
  const bool hter = d.rows[0].hter.has_value();
  int good_all = 0, light_all = 0;
  for (const Row& r : d.rows) {
    good_all += r.human >= 70;
    light_all += r.hter.has_value() && *r.hter <= 0.1;
  }
  out << "\nauto-approval by threshold (" << (has_engine ? "with" : "without")
      << " the engine's log-prob); good = human DA score >= 70"
      << (hter ? "; light = HTER <= 0.10" : "") << "\n";
  out << std::right << std::setw(9) << "threshold" << std::setw(10) << "approved" << std::setw(8)
      << "rate" << std::setw(16) << "precision(good)";
  if (hter) out << std::setw(17) << "precision(light)";
  out << "\n";
  out << std::setw(9) << "-" << std::setw(10) << d.rows.size() << std::setw(8) << "100.0%"
      << std::setw(15) << F(100.0 * good_all / d.rows.size(), 1) << "%";
  if (hter) out << std::setw(16) << F(100.0 * light_all / d.rows.size(), 1) << "%";
  out << "   (approve everything)\n";
  for (int t = 50; t <= 95; t += 5) {
    int approved = 0, good = 0, light = 0;
    for (size_t i = 0; i < d.rows.size(); ++i) {
      if (best[i] < t) continue;
      ++approved;
      good += d.rows[i].human >= 70;
      light += d.rows[i].hter.has_value() && *d.rows[i].hter <= 0.1;
    }
    out << std::setw(9) << t << std::setw(10) << approved << std::setw(7)
        << F(100.0 * approved / d.rows.size(), 1) << "%";
    if (approved == 0) {
      out << std::setw(16) << "-";
      if (hter) out << std::setw(17) << "-";
    } else {
      out << std::setw(15) << F(100.0 * good / approved, 1) << "%";
      if (hter) out << std::setw(16) << F(100.0 * light / approved, 1) << "%";
    }
    out << "\n";
  }
}

// The MLQE-PE file options of `qe eval` and `qe features`.
struct MlqeOptions {
  std::string file, hter, source_lang, target_lang, rows = "all", model;
};
void AddMlqeOptions(CLI::App* cmd, const std::shared_ptr<MlqeOptions>& c) {
  cmd->add_option("file", c->file,
                  "MLQE-PE direct-assessment TSV (original, translation, mean, "
                  "model_scores)")
      ->required();
  cmd->add_option("--source-lang", c->source_lang, "Default: from the file name (dev.ende...)");
  cmd->add_option("--target-lang", c->target_lang, "Default: from the file name");
  cmd->add_option("--rows", c->rows, "all, even or odd rows (the model is fitted on even rows)")
      ->check(CLI::IsMember({"all", "even", "odd"}));
  cmd->add_option("--hter", c->hter, "HTER per row (MLQE-PE post-editing dev.hter), aligned");
}

// `verso qe eval`.
void AddEvalCommand(CLI::App* qe_cmd, Environment* env, int* exit_code) {
  auto* cmd = qe_cmd->add_subcommand(
      "eval", "Correlation with human scores, and auto-approval rate and precision by threshold");
  auto c = std::make_shared<MlqeOptions>();
  AddMlqeOptions(cmd, c);
  cmd->add_option("--model", c->model, "Model file (default: the compiled-in model)");
  cmd->callback([=] {
    RunOrFail(env, exit_code, [&]() -> absl::Status {
      VERSO_ASSIGN_OR_RETURN(Dataset d,
                             ReadMlqe(c->file, c->hter, c->source_lang, c->target_lang, c->rows));
      if (d.rows.empty()) return absl::InvalidArgumentError(StrCat(c->file, ": no rows"));
      VERSO_ASSIGN_OR_RETURN(auto scorer, qe::NewBuiltinScorer({c->model}));
      VERSO_ASSIGN_OR_RETURN(auto black, scorer->Score(Inputs(d, false), absl::InfiniteFuture()));
      const bool has_engine = d.rows[0].model_score.has_value();
      std::vector<qe::Result> glass;
      if (has_engine) {
        VERSO_ASSIGN_OR_RETURN(glass, scorer->Score(Inputs(d, true), absl::InfiniteFuture()));
      }
      std::vector<double> human, bb, gb, engine, length;
      for (size_t i = 0; i < d.rows.size(); ++i) {
        human.push_back(d.rows[i].human);
        bb.push_back(black[i].score);
        if (has_engine) {
          gb.push_back(glass[i].score);
          engine.push_back(*d.rows[i].model_score);
        }
        for (const auto& f : black[i].features) {
          if (f.name == "log_length_ratio") length.push_back(std::exp(f.value));
        }
      }
      std::ostream& out = env->out();
      out << "file: " << c->file << " (" << d.source_lang << " -> " << d.target_lang << ", "
          << d.rows.size() << " segments, rows: " << c->rows << ")\n";
      out << "model: " << qe::BuiltinModelVersion(*scorer) << "\n\n";
      out << std::left << std::setw(44) << "scorer" << std::right << std::setw(9) << "Pearson"
          << std::setw(10) << "Spearman"
          << "\n";
      auto line = [&](const std::string& name, const std::vector<double>& v) {
        out << std::left << std::setw(44) << name << std::right << std::setw(9)
            << F(Pearson(v, human), 3) << std::setw(10) << F(Spearman(v, human), 3) << "\n";
      };
      if (has_engine) line("verso builtin (with the engine's log-prob)", gb);
      line("verso builtin (black-box features only)", bb);
      if (has_engine) line("engine log-prob alone (model_scores)", engine);
      line("length ratio alone", length);

      PrintApprovalTable(out, d, has_engine ? gb : bb, has_engine);
      return absl::OkStatus();
    });
  });
}

// `verso qe features`.
void AddFeaturesCommand(CLI::App* qe_cmd, Environment* env, int* exit_code) {
  auto* cmd = qe_cmd->add_subcommand(
      "features", "Print the builtin scorer's raw features as TSV (input of scripts/fit-qe)");
  auto c = std::make_shared<MlqeOptions>();
  AddMlqeOptions(cmd, c);
  cmd->callback([=] {
    RunOrFail(env, exit_code, [&]() -> absl::Status {
      VERSO_ASSIGN_OR_RETURN(Dataset d,
                             ReadMlqe(c->file, c->hter, c->source_lang, c->target_lang, c->rows));
      std::vector<qe::Input> inputs = Inputs(d, true);
      std::ostream& out = env->out();
      for (size_t i = 0; i < inputs.size(); ++i) {
        std::vector<qe::Feature> f = qe::RawFeatures(inputs[i]);
        if (i == 0) {
          out << "pair\thuman\thter";
          for (const auto& x : f) out << "\t" << x.name;
          out << "\n";
        }
        out << d.source_lang << "-" << d.target_lang << "\t" << d.rows[i].human << "\t"
            << (d.rows[i].hter ? F(*d.rows[i].hter, 6) : "");
        for (const auto& x : f) out << "\t" << F(x.value, 6);
        out << "\n";
      }
      return absl::OkStatus();
    });
  });
}

}  // namespace

void AddQeCommands(CLI::App* app, Environment* env, int* exit_code) {
  CLI::App* qe_cmd = app->add_subcommand("qe", "Quality estimation");
  qe_cmd->require_subcommand(1);
  AddEvalCommand(qe_cmd, env, exit_code);
  AddCalibrateCommand(qe_cmd, env, exit_code);
  AddFeaturesCommand(qe_cmd, env, exit_code);
}

}  // namespace verso::cli
