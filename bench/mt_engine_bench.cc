// The built-in engine in-process, without HTTP: FLORES sentences at several concurrencies.
//   mt_engine_bench FLORES_FILE PAIR_SOURCE PAIR_TARGET [pipelines [concurrency]]
// Prints sentences/s and latency percentiles per concurrency.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
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
        mt::TranslateRequest r{argv[2], argv[3], {lines[t]}};
        (void)(*engine)->Translate(r);
      });
    }
    for (auto& t : ts) t.join();
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
          mt::TranslateRequest r{argv[2], argv[3], {lines[i]}};
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
