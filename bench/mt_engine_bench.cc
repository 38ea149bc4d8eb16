// The built-in engine in-process, without HTTP: FLORES sentences at several concurrencies.
//   mt_engine_bench FLORES_FILE PAIR_SOURCE PAIR_TARGET [pipelines [concurrency|batch [REFS_DIR]]]
// ("batch": every line in one request, as a job's MT stage sends its chunks; then REFS_DIR
// counts the translations identical to per-line references N.txt)
// Prints sentences/s and latency percentiles per concurrency.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>
#include <vector>

#include "mt/mt.h"
#include "text/text.h"

using namespace verso;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: mt_engine_bench FILE SRC TGT [pipelines [concurrency]]\n";
    return 2;
  }
  std::vector<std::string> lines;
  std::ifstream in(argv[1]);
  for (std::string l; std::getline(in, l);) lines.push_back(text::EscapeText(l));
  mt::ApertiumOptions o;
  o.max_pipelines_per_pair = argc > 4 ? std::atoi(argv[4]) : 0;  // 0: the default
  auto engine = mt::NewApertiumEngine(o);
  if (!engine.ok()) {
    std::cerr << engine.status() << "\n";
    return 1;
  }
  std::vector<int> concurrencies = {1, 4, 8};
  {  // start every pipeline before measuring
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; ++t) {
      ts.emplace_back([&, t] {
        mt::TranslateRequest r{.source_lang = argv[2], .target_lang = argv[3], .texts = {lines[t]}};
        (void)(*engine)->Translate(r);
      });
    }
    for (auto& t : ts) t.join();
  }
  if (argc > 5 && std::string(argv[5]) == "batch") {
    // Every line in one request, as a job's MT stage sends a chunk.
    mt::TranslateRequest r{.source_lang = argv[2], .target_lang = argv[3], .texts = lines};
    auto t0 = std::chrono::steady_clock::now();
    auto out = (*engine)->Translate(r);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!out.ok()) {
      std::cerr << out.status() << "\n";
      return 1;
    }
    // With a directory of per-line references (N.txt: line N through its own `apertium -u`):
    // how many translations are identical to them.
    size_t identical = 0;
    if (argc > 6) {
      for (size_t i = 0; i < lines.size(); ++i) {
        std::ifstream ref(std::string(argv[6]) + "/" + std::to_string(i + 1) + ".txt");
        std::string want((std::istreambuf_iterator<char>(ref)), std::istreambuf_iterator<char>());
        if (!want.empty() && want.back() == '\n') want.pop_back();
        identical += text::PlainText((*out)[i].text) == want ? 1 : 0;
      }
    }
    std::printf("one request of %zu lines: %.0f lines/s (%.2f s)", lines.size(),
                lines.size() / secs, secs);
    if (argc > 6) std::printf(", %zu identical to the per-line references", identical);
    std::printf("\n");
    return 0;
  }
  if (argc > 5) concurrencies = {std::atoi(argv[5])};
  for (int c : concurrencies) {
    std::vector<double> lat(lines.size());
    std::atomic<size_t> next{0};
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < c; ++t) {
      ts.emplace_back([&] {
        for (size_t i; (i = next.fetch_add(1)) < lines.size();) {
          auto s = std::chrono::steady_clock::now();
          mt::TranslateRequest r{
              .source_lang = argv[2], .target_lang = argv[3], .texts = {lines[i]}};
          auto out = (*engine)->Translate(r);
          if (!out.ok()) std::cerr << out.status() << "\n";
          lat[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s)
                       .count();
        }
      });
    }
    for (auto& t : ts) t.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::sort(lat.begin(), lat.end());
    std::printf("concurrency %d: %.0f sentences/s, p50 %.2f ms, p99 %.2f ms\n", c,
                lines.size() / secs, lat[lat.size() / 2], lat[lat.size() * 99 / 100]);
  }
}
