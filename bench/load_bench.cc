// The platform spec's load test against a running verso: an open-loop client (requests start on
// a fixed schedule whatever the server's answers, so an overloaded server cannot slow the load
// down, and a request's latency counts from when it was due: no coordinated omission) with a
// realistic mix, per phase:
//
//   50 % POST /v1/translate, one FLORES sentence (the built-in engine; half of them repeat an
//        earlier sentence, half are new, as a stream of real documents would)
//   30 % POST /v1/tm/{store}/lookup, a FLORES sentence against a store holding the FLORES pairs
//        (half exact, half with a word changed: fuzzy)
//   10 % POST /v1/qe, a FLORES sentence and its reference translation
//   10 % POST /v1/tm/{store}/segments, a new segment (a confirmed translation)
//
//   load_bench PORT KEY STORE SOURCES TARGETS TRANSLATIONS_PER_S SECONDS [CONNECTIONS]
//
// TRANSLATIONS_PER_S is the spec's "Translation QPS": every other request is a translation, so
// twice as many requests start per second. Prints one RESULT line with the achieved
// translation rate, p99 per kind (ms), the error rate (anything but 200/201) and how many
// answers were 429/503 with Retry-After (admission control).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/http_client.h"

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

enum Kind { kTranslate = 0, kLookup = 1, kQe = 2, kWrite = 3, kKinds = 4 };
const char* const kNames[kKinds] = {"translate", "tm_lookup", "qe", "tm_write"};

// Request i's kind: 5 of 10 translate, 3 look up, 1 scores, 1 writes.
Kind KindOf(size_t i) {
  switch (i % 10) {
    case 0:
    case 2:
    case 4:
    case 6:
    case 8:
      return kTranslate;
    case 1:
    case 5:
    case 9:
      return kLookup;
    case 3:
      return kQe;
    default:
      return kWrite;
  }
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The sentence with its first word of four letters or more replaced: a fuzzy match.
std::string Edited(const std::string& s) {
  size_t at = 0;
  while (at < s.size()) {
    size_t end = s.find(' ', at);
    if (end == std::string::npos) end = s.size();
    if (end - at >= 4) return s.substr(0, at) + "something" + s.substr(end);
    at = end + 1;
  }
  return s + " again";
}

struct Sample {
  Kind kind;
  double ms;       // from when the request was due to its answer
  double late_ms;  // from when it was due to when it was sent (all connections busy)
  int status;
  bool retry_after;
};

double Percentile(const std::vector<double>& sorted, double p) {
  return sorted.empty()
             ? 0.0
             : sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 8) {
    std::cerr << "usage: load_bench PORT KEY STORE SOURCES TARGETS TRANSLATIONS_PER_S SECONDS "
                 "[CONNECTIONS]\n";
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string key = argv[2], store = argv[3];
  const std::vector<std::string> sources = ReadLines(argv[4]), targets = ReadLines(argv[5]);
  const double rate = 2 * std::atof(argv[6]);  // requests per second
  const double seconds = std::atof(argv[7]);
  const int connections = argc > 8 ? std::atoi(argv[8]) : 512;
  if (sources.empty() || sources.size() != targets.size() || rate <= 0 || seconds <= 0) {
    std::cerr << "load_bench: SOURCES and TARGETS must have the same number of lines; rates > 0\n";
    return 2;
  }
  const size_t total = static_cast<size_t>(rate * seconds);
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}};
  // New sentences and segments: numbered from the clock, so that no phase repeats another's.
  std::atomic<size_t> unique{
      static_cast<size_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count())};

  std::atomic<size_t> next{0};
  std::mutex mu;
  std::vector<Sample> samples;
  samples.reserve(total);
  const Clock::time_point start = Clock::now() + std::chrono::milliseconds(100);
  auto due = [&](size_t i) {
    return start + std::chrono::nanoseconds(static_cast<int64_t>(i * 1e9 / rate));
  };
  auto worker = [&] {
    std::unique_ptr<verso::test::HttpConnection> conn;
    for (size_t i; (i = next.fetch_add(1)) < total;) {
      const Clock::time_point at = due(i);
      std::this_thread::sleep_until(at);
      const size_t line = (i / 10) % sources.size();
      const Kind kind = KindOf(i);
      std::string path;
      json body;
      switch (kind) {
        case kTranslate: {
          std::string text = sources[line];
          if (i % 4 == 0) text += " (" + std::to_string(unique++) + ")";  // half are new
          path = "/v1/translate";
          body = {{"source_lang", "en"}, {"target_lang", "es"}, {"segments", {text}}};
          break;
        }
        case kLookup:
          path = "/v1/tm/" + store + "/lookup";
          body = {{"source", i % 20 < 10 ? sources[line] : Edited(sources[line])},
                  {"max_results", 3}};
          break;
        case kQe:
          path = "/v1/qe";
          body = {{"source_lang", "en"},
                  {"target_lang", "es"},
                  {"segments", {{{"source", sources[line]}, {"translation", targets[line]}}}}};
          break;
        default: {
          const std::string n = std::to_string(unique++);
          path = "/v1/tm/" + store + "/segments";
          body = {{"source", sources[line] + " [" + n + "]"},
                  {"target", targets[line] + " [" + n + "]"}};
        }
      }
      verso::test::HttpResponse r;
      const Clock::time_point sent = Clock::now();
      for (int attempt = 0; attempt < 2 && r.status == 0; ++attempt) {
        if (conn == nullptr || !conn->connected() || attempt > 0) {
          conn = std::make_unique<verso::test::HttpConnection>("127.0.0.1", port);
        }
        r = conn->Request("POST", path, body.dump(), headers);
      }
      if (r.Header("connection") == "close") conn.reset();
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - at).count();
      const double late = std::chrono::duration<double, std::milli>(sent - at).count();
      std::lock_guard<std::mutex> lock(mu);
      samples.push_back({kind, ms, late, r.status, !r.Header("retry-after").empty()});
    }
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < connections; ++w) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  const double took = std::chrono::duration<double>(Clock::now() - start).count();

  size_t errors = 0, shed = 0, translated = 0;
  std::vector<double> ok[kKinds], late, service;
  for (const Sample& s : samples) {
    late.push_back(s.late_ms);
    const bool good = s.status == 200 || s.status == 201;
    if (!good) ++errors;
    if ((s.status == 429 || s.status == 503) && s.retry_after) ++shed;
    if (good) ok[s.kind].push_back(s.ms);
    if (good) service.push_back(s.ms - s.late_ms);
    if (good && s.kind == kTranslate) ++translated;
  }
  std::printf("RESULT requests=%zu seconds=%.1f translations_per_s=%.1f", samples.size(), took,
              translated / took);
  for (int k = 0; k < kKinds; ++k) {
    std::sort(ok[k].begin(), ok[k].end());
    std::printf(" %s_p50_ms=%.1f %s_p99_ms=%.1f", kNames[k], Percentile(ok[k], 0.5), kNames[k],
                Percentile(ok[k], 0.99));
  }
  // How late the client itself sent: with every connection waiting on an answer, a due request
  // waits for one, and that wait is in its latency (the server's queue is not the only one).
  std::sort(late.begin(), late.end());
  std::printf(" late_p50_ms=%.1f late_p99_ms=%.1f", Percentile(late, 0.5), Percentile(late, 0.99));
  // From sending to the answer, every kind: what the server (and the network) took.
  std::sort(service.begin(), service.end());
  std::printf(" sent_to_answer_p99_ms=%.1f", Percentile(service, 0.99));
  std::printf(" error_rate_pct=%.2f shed_with_retry_after=%zu\n",
              samples.empty() ? 0.0 : 100.0 * errors / samples.size(), shed);
  return 0;
}
