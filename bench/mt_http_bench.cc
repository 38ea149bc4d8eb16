// Load client for translation servers: one sentence per request over keep-alive connections, a
// fixed amount of work (every sentence once, or a hot set repeated), N connections. Prints one
// RESULT line: sentences/s, latency percentiles, errors and how many answers equal the
// reference (`echo LINE | apertium -u PAIR`, one file per line).
//
//   mt_http_bench verso|apy PORT KEY LINES_FILE REFS_DIR CONNECTIONS [REQUESTS [HOT_SET]]
//
// verso: POST /v1/translate {"source_lang":"en","target_lang":"es","segments":[line]}
// apy:   GET /translate?langpair=eng|spa&markUnknown=no&q=line (APy's own API)
// REQUESTS defaults to the number of lines; with HOT_SET, request i sends line i % HOT_SET.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/strings.h"
#include "tests/http_client.h"

namespace {

using nlohmann::json;

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Reference(const std::string& dir, size_t i) {
  std::ifstream in(dir + "/" + std::to_string(i + 1) + ".txt", std::ios::binary);
  if (!in) return "\x01missing";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string r = ss.str();
  if (!r.empty() && r.back() == '\n') r.pop_back();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::cerr << "usage: mt_http_bench verso|apy PORT KEY LINES_FILE REFS_DIR CONNECTIONS "
                 "[REQUESTS [HOT_SET]]\n";
    return 2;
  }
  const std::string mode = argv[1];
  const int port = std::atoi(argv[2]);
  const std::string key = argv[3];
  const std::vector<std::string> lines = ReadLines(argv[4]);
  const std::string refs_dir = argv[5];
  const int connections = std::atoi(argv[6]);
  const size_t requests = argc > 7 ? std::stoul(argv[7]) : lines.size();
  const size_t hot = argc > 8 ? std::stoul(argv[8]) : lines.size();
  std::vector<std::string> refs;
  for (size_t i = 0; i < std::min(hot, lines.size()); ++i) refs.push_back(Reference(refs_dir, i));

  std::atomic<size_t> next{0};
  std::atomic<size_t> errors{0}, identical{0};
  std::vector<std::vector<double>> latencies(connections);
  std::string first_error;
  std::mutex error_mu;
  auto worker = [&](int w) {
    auto conn = std::make_unique<verso::test::HttpConnection>("127.0.0.1", port);
    for (size_t i; (i = next.fetch_add(1)) < requests;) {
      size_t line = i % std::min(hot, lines.size());
      auto start = std::chrono::steady_clock::now();
      verso::test::HttpResponse r;
      for (int attempt = 0; attempt < 2 && r.status == 0; ++attempt) {
        if (!conn->connected() || attempt > 0) {
          conn = std::make_unique<verso::test::HttpConnection>("127.0.0.1", port);
        }
        if (mode == "verso") {
          json body = {{"source_lang", "en"}, {"target_lang", "es"}, {"segments", {lines[line]}}};
          r = conn->Request(
              "POST", "/v1/translate", body.dump(),
              {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}});
        } else {
          r = conn->Request("GET", "/translate?langpair=eng%7Cspa&markUnknown=no&q=" +
                                       verso::PercentEncode(lines[line]));
        }
      }
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      latencies[w].push_back(ms);
      std::string text;
      json j = json::parse(r.body, nullptr, false);
      if (r.status == 200 && !j.is_discarded()) {
        if (mode == "verso" && j.contains("translations")) {
          text = j["translations"][0].value("text", "");
        } else if (mode == "apy" && j.contains("responseData")) {
          text = j["responseData"].value("translatedText", "");
        }
      }
      if (r.status != 200) {
        ++errors;
        std::lock_guard<std::mutex> lock(error_mu);
        if (first_error.empty()) first_error = std::to_string(r.status) + " " + r.body;
      } else if (text == refs[line]) {
        ++identical;
      }
    }
  };
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < connections; ++w) threads.emplace_back(worker, w);
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::printf(
      "RESULT requests=%zu seconds=%.2f rps=%.1f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f "
      "errors=%zu identical=%zu\n",
      all.size(), seconds, all.size() / seconds, pct(0.50), pct(0.99),
      all.empty() ? 0.0 : all.back(), errors.load(), identical.load());
  if (!first_error.empty()) std::fprintf(stderr, "first error: %s\n", first_error.c_str());
  return 0;
}
