// Quality benchmark: builtin QE and QA latency per segment, term recognition with a
// 10,000-term glossary (the automaton beside a loop over the terms), and the round trip's cost
// (reported apart from QE). Data: FLORES-101 devtest eng/spa, 1012 aligned sentences.
//
//   quality_bench FLORES_DIR
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "mt/mt.h"
#include "qa/qa.h"
#include "qe/qe.h"
#include "terms/terms.h"
#include "text/text.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

struct Stats {
  double p50, p99, max, mean;
};
Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  return {at(0.50), at(0.99), v.back(), sum / v.size()};
}
void Print(const char* what, const std::vector<double>& us) {
  Stats s = Summarize(us);
  std::printf("%-48s p50 %8.1f us  p99 %8.1f us  max %9.1f us  mean %8.1f us  (n=%zu)\n", what,
              s.p50, s.p99, s.max, s.mean, us.size());
}

long RssKb() {
  std::ifstream in("/proc/self/status");
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("VmRSS:", 0) == 0) return std::atol(l.c_str() + 6);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: quality_bench FLORES_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  std::vector<std::string> eng = Lines(dir + "/eng.devtest"), spa = Lines(dir + "/spa.devtest");
  if (eng.empty() || eng.size() != spa.size()) {
    std::fprintf(stderr, "quality_bench: cannot read FLORES from %s\n", dir.c_str());
    return 1;
  }
  std::vector<std::string> src, tgt;
  for (size_t i = 0; i < eng.size(); ++i) {
    src.push_back(verso::text::EscapeText(eng[i]));
    tgt.push_back(verso::text::EscapeText(spa[i]));
  }
  std::printf(
      "quality_bench: FLORES-101 devtest eng->spa, %zu sentences (human translations as "
      "the translations)\n\n",
      src.size());

  // ---- QE (builtin, no round trip) ----
  auto scorer = verso::qe::NewBuiltinScorer({});
  if (!scorer.ok()) {
    std::fprintf(stderr, "%s\n", std::string(scorer.status().message()).c_str());
    return 1;
  }
  for (int pass = 0; pass < 3; ++pass) {
    std::vector<double> us;
    for (size_t i = 0; i < src.size(); ++i) {
      verso::qe::Input in;
      in.source = src[i];
      in.translation = tgt[i];
      in.source_lang = "en";
      in.target_lang = "es";
      auto t0 = Clock::now();
      auto r = (*scorer)->Score({in}, absl::InfiniteFuture());
      us.push_back(Us(Clock::now() - t0));
      if (!r.ok()) return 1;
    }
    Print(pass == 0 ? "QE builtin, first pass (dictionary cold)" : "QE builtin, warm", us);
  }

  // ---- QA ----
  {
    std::vector<double> us;
    size_t warnings = 0;
    for (int pass = 0; pass < 3; ++pass) {
      for (size_t i = 0; i < src.size(); ++i) {
        auto t0 = Clock::now();
        auto w = verso::qa::Check({src[i], tgt[i], "en", "es", nullptr}, {});
        us.push_back(Us(Clock::now() - t0));
        warnings += w.size();
      }
    }
    Print("QA checks (all 13)", us);
    std::printf("  (%zu warnings over 3 passes of human translations)\n", warnings);
  }

  // ---- Term recognition with 10,000 terms ----
  {
    // Terms: the distinct words and word pairs of the English sentences, up to 10,000.
    std::vector<std::string> terms;
    std::set<std::string> seen;
    for (int n = 1; n <= 2 && terms.size() < 10000; ++n) {
      for (const auto& line : eng) {
        std::vector<std::string> words;
        for (const auto& t : verso::text::TokenizePlain(line)) {
          if (t.kind == verso::text::TokenKind::kWord) words.push_back(t.key);
        }
        for (size_t i = 0; i + n <= words.size() && terms.size() < 10000; ++i) {
          std::string term = words[i];
          if (n == 2) term += " " + words[i + 1];
          if (seen.insert(term).second) terms.push_back(term);
        }
      }
    }
    auto t0 = Clock::now();
    verso::terms::Matcher m("en");
    for (size_t i = 0; i < terms.size(); ++i) m.Add(terms[i], false, static_cast<uint32_t>(i));
    m.Build();
    const double build_ms = Us(Clock::now() - t0) / 1000;
    std::vector<double> us;
    size_t hits = 0;
    for (int pass = 0; pass < 3; ++pass) {
      for (const auto& s : src) {
        auto t1 = Clock::now();
        auto found = m.Find(s);
        us.push_back(Us(Clock::now() - t1));
        hits += found.size();
      }
    }
    std::printf(
        "\nglossary: %zu terms (words and word pairs of the English side), automaton "
        "built in %.1f ms\n",
        terms.size(), build_ms);
    Print("term recognition (automaton, stemmed)", us);
    std::printf("  (%.1f hits per sentence)\n", static_cast<double>(hits) / us.size());
    // The loop it replaces: every term searched in the folded sentence.
    std::vector<double> loop_us;
    size_t loop_found = 0;
    for (size_t k = 0; k < 200; ++k) {
      const std::string folded = verso::text::FoldCase(eng[k]);
      auto t1 = Clock::now();
      for (const auto& term : terms) loop_found += folded.find(term) != std::string::npos;
      loop_us.push_back(Us(Clock::now() - t1));
    }
    Print("peer: a loop of substring searches (200 sent.)", loop_us);
    std::printf("  (%.1f terms per sentence as substrings: no word boundaries, no stemming)\n",
                static_cast<double>(loop_found) / loop_us.size());
  }

  // ---- Round trip (reported apart from QE) ----
  {
    verso::mt::ApertiumOptions o;
    o.max_pipelines_per_pair = 1;
    auto engine = verso::mt::NewApertiumEngine(o);
    if (!engine.ok()) {
      std::printf("\nround trip: skipped (%s)\n", std::string(engine.status().message()).c_str());
    } else {
      std::vector<double> us;
      double chrf = 0;
      const size_t n = 300;
      for (size_t i = 0; i < n; ++i) {
        verso::mt::TranslateRequest r;
        r.source_lang = "es";
        r.target_lang = "en";
        r.texts = {tgt[i]};
        auto t0 = Clock::now();
        auto back = (*engine)->Translate(r);
        us.push_back(Us(Clock::now() - t0));
        if (back.ok()) {
          chrf += verso::qe::ChrF(verso::text::PlainText((*back)[0].text), eng[i]);
        }
      }
      std::printf("\n");
      Print("round trip spa->eng (Apertium, one at a time)", us);
      std::printf("  (mean chrF of the back-translation to the source: %.3f over %zu sentences)\n",
                  chrf / n, n);
    }
  }
  std::printf("\nRSS %ld MB\n", RssKb() / 1024);
  return 0;
}
