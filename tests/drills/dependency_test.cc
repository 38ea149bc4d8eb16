// Drills: a dependency lost under a steady load and brought back, against the real binary.
// An LLM provider (a fake that speaks OpenAI's protocol and errors, the only fake here) answers
// 503 for a while: translations go on through the built-in engine, the breaker stops calls to
// the provider, and the provider is used again once it is back (spec: "5xx > 10 % → backup
// provider, RTO < 30 s"). Redis (a redis-server of the drill's own) is SIGKILLed under fuzzy TM
// lookups (whose results it caches): no request fails, the L2 cache is bypassed, and it is used
// again once Redis is back (spec: "Cache lost → bypass, RTO < 1 min").
//
// Bounded for CI: a 5 s breaker reset and outages of a few seconds. VERSO_DRILL_SECONDS makes
// the outages longer; VERSO_DRILL_LLM_RESET (seconds) sets the breaker's reset (30 by default in
// verso).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/drills/drill.h"
#include "tests/fake_http_server.h"
#include "tests/http_client.h"
#include "tests/process.h"
#include "tests/verso_server.h"

namespace verso::test {
namespace {

using json = nlohmann::json;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// One translation every `period`, each a new sentence (no cache hit); what served it.
struct Sample {
  Clock::time_point at;
  int status = 0;
  std::string engine;
  double ms = 0;
};

class DependencyDrill : public ServerTest {
 protected:
  DependencyDrill() : ServerTest("drill_dependency") {}
  void SetUp() override { ServerTest::SetUp(); }
  Sample Translate(int n) {
    Sample s;
    s.at = Clock::now();
    HttpResponse r = Send("POST", "/v1/translate", key_,
                          json{{"source_lang", "en"},
                               {"target_lang", "es"},
                               {"segments", {"The drill sentence number " + std::to_string(n)}}}
                              .dump());
    s.ms = Seconds(Clock::now() - s.at) * 1000;
    s.status = r.status;
    json j = json::parse(r.body, nullptr, false);
    if (r.status == 200) s.engine = j["translations"][0].value("engine", "");
    return s;
  }
  // A fuzzy TM lookup of a new sentence (its result goes to the L1 and L2 caches).
  Sample Lookup(int n) {
    Sample s;
    s.at = Clock::now();
    HttpResponse r = Send("POST", "/v1/tm/" + store_ + "/lookup", key_,
                          json{{"source", "Open the file number " + std::to_string(n)}}.dump());
    s.ms = Seconds(Clock::now() - s.at) * 1000;
    s.status = r.status;
    return s;
  }
  // Translates (or looks up) steadily for `seconds`: four clients, each sending its next request
  // 200 ms after its last answer (a slow answer does not stop the others).
  void Load(double seconds, std::vector<Sample>* out, bool lookups = false) {
    const Clock::time_point until = Clock::now() + std::chrono::milliseconds(int(seconds * 1000));
    std::mutex mu;
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&] {
        while (Clock::now() < until) {
          Sample s = lookups ? Lookup(next_++) : Translate(next_++);
          {
            std::lock_guard<std::mutex> lock(mu);
            out->push_back(s);
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      });
    }
    for (auto& t : clients) t.join();
  }
  std::string key_, store_;
  std::atomic<int> next_{0};
};

TEST_F(DependencyDrill, AnLlmProviderDownIsBypassedAndUsedAgainWhenBack) {
  const int outage = EnvInt("VERSO_DRILL_SECONDS", 4);
  const int reset = EnvInt("VERSO_DRILL_LLM_RESET", 5);
  std::atomic<bool> down{false};
  std::atomic<int> calls_while_down{0};
  FakeResponse unavailable;
  unavailable.status = 503;
  unavailable.body =
      json{{"error", {{"message", "The server is overloaded."}, {"type", "server_error"}}}}.dump();
  FakeHttpServer openai([&](const FakeRequest& r) {
    if (down) ++calls_while_down;
    return ChatCompletion(r, "sk-drill", down ? &unavailable : nullptr);
  });
  std::ofstream(dir_ + "/secrets.env") << "OPENAI_API_KEY=sk-drill\n";
  ASSERT_NO_FATAL_FAILURE(
      Start({"mt.openai.base_url=" + openai.url() + "/v1", "mt.openai.model=gpt-4o-mini",
             "mt.secrets_file=" + dir_ + "/secrets.env",
             "mt.breaker.llm_reset=" + std::to_string(reset) + "s"}));
  key_ = CreateKey(dir_, "acme", "translate");
  ASSERT_FALSE(key_.empty());

  std::vector<Sample> before, during, after;
  Load(1, &before);
  down = true;
  const Clock::time_point outage_start = Clock::now();
  Load(outage, &during);
  down = false;
  const Clock::time_point back = Clock::now();
  // Until the provider serves again (the breaker's next trial), at most reset + 10 s.
  Clock::time_point first_llm_again{};
  while (first_llm_again == Clock::time_point{} &&
         Clock::now() < back + std::chrono::seconds(reset + 10)) {
    Sample s = Translate(next_++);
    after.push_back(s);
    if (s.engine == "openai") first_llm_again = s.at;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  auto count = [](const std::vector<Sample>& v, const std::string& engine) {
    return std::count_if(v.begin(), v.end(), [&](const Sample& s) { return s.engine == engine; });
  };
  auto failed = [](const std::vector<Sample>& v) {
    return std::count_if(v.begin(), v.end(), [](const Sample& s) { return s.status != 200; });
  };
  std::vector<double> during_ms;
  for (const Sample& s : during) during_ms.push_back(s.ms);
  EXPECT_EQ(count(before, "openai"), static_cast<long>(before.size()));
  EXPECT_EQ(failed(before) + failed(during) + failed(after), 0);
  EXPECT_EQ(count(during, "apertium"), static_cast<long>(during.size()));
  ASSERT_NE(first_llm_again, Clock::time_point{}) << "the provider was not used again";
  // The breaker spared the provider: far fewer calls than requests while it was down.
  EXPECT_LT(calls_while_down.load(), static_cast<int>(during.size()));
  std::printf(
      "drill llm-outage: the provider answered 503 for %.1f s under 20 translations/s\n"
      "  during: %zu translations, %ld failed, %ld by the built-in engine; p50 %.1f ms, p99 %.1f "
      "ms; the provider was called %d times (its breaker opened)\n"
      "  provider back: translated by it again %.1f s later (breaker reset %d s)   spec: "
      "backup provider at 5xx > 10 %%, RTO < 30 s\n",
      Seconds(back - outage_start), during.size(), failed(during), count(during, "apertium"),
      Percentile(during_ms, 0.5), Percentile(during_ms, 0.99), calls_while_down.load(),
      Seconds(first_llm_again - back), reset);
}

TEST_F(DependencyDrill, RedisLostFailsNoRequestAndIsUsedAgainWhenBack) {
  const int outage = EnvInt("VERSO_DRILL_SECONDS", 4);
  const int redis_port = FreePort();
  auto start_redis = [&] {
    auto redis = std::make_unique<Child>(
        std::vector<std::string>{"/usr/bin/redis-server", "--port", std::to_string(redis_port),
                                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                                 dir_},
        std::vector<std::string>{}, dir_ + "/redis.log");
    for (int i = 0; i < 100; ++i) {
      if (test::Run({"/usr/bin/redis-cli", "-p", std::to_string(redis_port), "ping"}).out ==
          "PONG\n")
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return redis;
  };
  std::unique_ptr<Child> redis = start_redis();
  ASSERT_NO_FATAL_FAILURE(Start({"redis.url=redis://127.0.0.1:" + std::to_string(redis_port)}));
  key_ = CreateKey(dir_, "acme", "tm:read,tm:write");
  ASSERT_FALSE(key_.empty());
  HttpResponse store =
      Send("POST", "/v1/tm", key_, R"({"name":"drill","source_lang":"en","target_lang":"es"})");
  ASSERT_EQ(store.status, 201) << store.body;
  store_ = json::parse(store.body)["id"];
  for (int i = 0; i < 50; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_EQ(Send("POST", "/v1/tm/" + store_ + "/segments", key_,
                   json{{"source", "Open the file number " + n + " now"},
                        {"target", "Abre el archivo número " + n + " ahora"}}
                       .dump())
                  .status,
              201);
  }
  auto l2 = [&] {
    return json::parse(Fetch(server_->port(), "GET", "/v1/status").body, nullptr,
                       false)["l2_cache"];
  };

  std::vector<Sample> before, during, after;
  Load(1, &before, /*lookups=*/true);
  redis->Kill(SIGKILL);
  redis->Wait();
  const Clock::time_point lost = Clock::now();
  Load(outage, &during, /*lookups=*/true);
  json while_lost = l2();
  const int64_t errors_while_lost = while_lost["errors"];
  redis = start_redis();
  const Clock::time_point back = Clock::now();
  // Until verso uses Redis again: its hit or miss counts move with a closed breaker.
  Clock::time_point used_again{};
  int64_t seen = while_lost["hits"].get<int64_t>() + while_lost["misses"].get<int64_t>();
  while (used_again == Clock::time_point{} && Clock::now() < back + std::chrono::seconds(90)) {
    after.push_back(Lookup(next_++));
    json now = l2();
    const int64_t used = now["hits"].get<int64_t>() + now["misses"].get<int64_t>();
    if (now["breaker"] == "closed" && used > seen) used_again = Clock::now();
    seen = used;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  auto failed = [](const std::vector<Sample>& v) {
    return std::count_if(v.begin(), v.end(), [](const Sample& s) { return s.status != 200; });
  };
  std::vector<double> before_ms, during_ms;
  for (const Sample& s : before) before_ms.push_back(s.ms);
  for (const Sample& s : during) during_ms.push_back(s.ms);
  EXPECT_EQ(failed(before) + failed(during) + failed(after), 0);
  EXPECT_GT(errors_while_lost, 0);
  EXPECT_NE(while_lost["breaker"], "closed") << while_lost.dump();
  ASSERT_NE(used_again, Clock::time_point{}) << "Redis was not used again: " << l2().dump();
  std::printf(
      "drill redis-loss: redis-server SIGKILLed for %.1f s under 20 fuzzy TM lookups/s\n"
      "  during: %zu lookups, %ld failed; p50 %.1f ms, p99 %.1f ms (before: %.1f / %.1f ms); "
      "L2 breaker %s after %lld errors\n"
      "  Redis back: used again %.1f s later   spec: bypass the cache, RTO < 1 min\n",
      Seconds(back - lost), during.size(), failed(during), Percentile(during_ms, 0.5),
      Percentile(during_ms, 0.99), Percentile(before_ms, 0.5), Percentile(before_ms, 0.99),
      while_lost["breaker"].get<std::string>().c_str(), static_cast<long long>(errors_while_lost),
      Seconds(used_again - back));
}

}  // namespace
}  // namespace verso::test
