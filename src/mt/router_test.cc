// The router and the translate service with real engines: the OpenAI adapter against a local
// server speaking its protocol (the provider cannot run here) and the real Apertium engine.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/status.h"
#include "mt/mt.h"
#include "mt/translate.h"
#include "storage/storage.h"
#include "tests/fake_http_server.h"
#include "tm/tm.h"

namespace verso::mt {
namespace {

using json = nlohmann::json;
using test::FakeHttpServer;
using test::FakeRequest;
using test::FakeResponse;

FakeResponse OpenAiAnswer(const FakeRequest& r) {
  // Echo each segment back as "[es] segment": a translation that keeps the codes.
  json segments =
      json::parse(json::parse(r.body)["messages"][1]["content"].get<std::string>())["segments"];
  json translations = json::array();
  for (auto& s : segments) translations.push_back("[es] " + s.get<std::string>());
  FakeResponse out;
  out.body =
      json{{"id", "chatcmpl-1"},
           {"object", "chat.completion"},
           {"model", "gpt-4o-mini"},
           {"choices", json::array({{{"index", 0},
                                     {"message",
                                      {{"role", "assistant"},
                                       {"content", json{{"translations", translations}}.dump()}}},
                                     {"finish_reason", "stop"}}})}}
          .dump();
  return out;
}

FakeResponse ServerError() {
  FakeResponse r;
  r.status = 500;
  r.body =
      R"({"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}})";
  return r;
}

std::unique_ptr<Engine> Apertium(const std::string& modes_dir = "") {
  ApertiumOptions o;
  o.max_pipelines_per_pair = 1;
  if (!modes_dir.empty()) o.modes_dir = modes_dir;
  auto e = NewApertiumEngine(o);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(*e);
}

struct Fixture {
  explicit Fixture(const std::string& openai_url, RouterOptions options = {},
                   const std::string& modes_dir = "") {
    std::vector<std::unique_ptr<Engine>> engines;
    engines.push_back(NewOpenAiEngine({"", openai_url, "sk-test", "gpt-4o-mini", {}}));
    engines.push_back(Apertium(modes_dir));
    router = std::make_unique<Router>(std::move(engines), options, &clock, &degradation);
  }
  TranslateRequest Request(std::vector<std::string> texts) {
    TranslateRequest r;
    r.source_lang = "en";
    r.target_lang = "es";
    r.texts = std::move(texts);
    r.deadline = absl::Now() + absl::Seconds(30);
    return r;
  }
  FakeClock clock{absl::Now()};
  resilience::DegradationController degradation;
  std::unique_ptr<Router> router;
};

TEST(RouterTest, TheFirstEngineOfTheChainTranslatesAndTheCacheAnswersTheNextTime) {
  FakeHttpServer server(OpenAiAnswer);
  Fixture f(server.url());
  EXPECT_EQ(f.router->EngineNames(), (std::vector<std::string>{"openai", "apertium"}));
  auto r = f.router->Translate(f.Request({"Hello", "Good morning"}), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->segments[0].translation.text, "[es] Hello");
  EXPECT_EQ(r->segments[0].translation.engine, "openai");
  EXPECT_FALSE(r->segments[0].cached);
  r = f.router->Translate(f.Request({"Good morning", "Hello"}), {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments[0].translation.text, "[es] Good morning");
  EXPECT_TRUE(r->segments[0].cached);
  EXPECT_EQ(server.request_count(), 1);
  // From the cache only (a caller on an I/O thread): answered when every text is cached, else
  // WouldBlock, and no engine is called.
  TranslateRequest only = f.Request({"Hello"});
  only.cache_only = true;
  r = f.router->Translate(only, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->segments[0].translation.text, "[es] Hello");
  EXPECT_EQ(f.router->Stats().cache_hits, 3);  // 2 + the cache-only answer
  only.texts = {"Hello", "Good night"};
  EXPECT_TRUE(IsWouldBlock(f.router->Translate(only, {}).status()));
  EXPECT_EQ(server.request_count(), 1);
  // That look is not counted: the request looks again where it may wait.
  EXPECT_EQ(f.router->Stats().cache_hits, 3);
  EXPECT_EQ(f.router->Stats().cache_misses, 2);
  // An explicit chain: the built-in engine only.
  r = f.router->Translate(f.Request({"He signed the law."}), {"apertium"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->segments[0].translation.text, " Firmó la ley.");
  EXPECT_EQ(r->segments[0].translation.engine, "apertium");
  EXPECT_EQ(f.router->Translate(f.Request({"x"}), {"systran"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// OpenAI's answer to a revoked key: a 401 no retry can fix. The router tries it once and says
// so (not Unavailable, which callers such as the job queue would retry for minutes).
TEST(RouterTest, AProvidersPermanentRefusalIsNotRetriedAndNotUnavailable) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r;
    r.status = 401;
    r.body =
        R"({"error":{"message":"Incorrect API key provided: sk-test. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}})";
    return r;
  });
  Fixture f(server.url());
  auto r = f.router->Translate(f.Request({"He signed the law."}), {"openai"});
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(resilience::IsRetryable(r.status())) << r.status();
  EXPECT_EQ(server.request_count(), 1);
  // A pair no engine of the chain translates is known without calling one.
  absl::Status pair = f.router->CheckPair({"apertium"}, "en", "fr");
  EXPECT_EQ(pair.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(pair.message(),
                               "no engine in the chain (apertium) translates en -> fr; it "
                               "offers ca->en, ca->en-US, ca->es, en->ca,"))
      << pair;
  EXPECT_TRUE(f.router->CheckPair({"apertium"}, "en-US", "es").ok());
  EXPECT_TRUE(f.router->CheckPair({}, "en", "fr").ok());  // the LLM takes any pair
}

TEST(RouterTest, AProviderReturning500sFallsThroughToTheNextEngineWithoutAnError) {
  FakeHttpServer server([](const FakeRequest&) { return ServerError(); });
  Fixture f(server.url());
  auto r = f.router->Translate(f.Request({"He signed the law."}), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->segments[0].translation.engine, "apertium");
  EXPECT_EQ(r->segments[0].translation.text, " Firmó la ley.");
  ASSERT_EQ(r->notes.size(), 1u);
  EXPECT_NE(r->notes[0].find("openai: HTTP 500"), std::string::npos) << r->notes[0];
  // The LLM policy: the call and two retries, after ~1 s and ~4 s (on the fake clock).
  EXPECT_EQ(server.request_count(), 3);
  EXPECT_GE(f.clock.Slept(), absl::Milliseconds(4000));
  EXPECT_LE(f.clock.Slept(), absl::Milliseconds(6000));
}

TEST(RouterTest, BreakerOpensAndTheEngineIsSkippedUntilItHalfOpens) {
  std::atomic<bool> healthy{false};
  FakeHttpServer server(
      [&](const FakeRequest& r) { return healthy ? OpenAiAnswer(r) : ServerError(); });
  RouterOptions o;
  o.llm_retry.max_retries = 0;
  Fixture f(server.url(), o);
  for (int i = 0; i < 5; ++i) {
    auto r = f.router->Translate(f.Request({"Request " + std::to_string(i)}), {});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->segments[0].translation.engine, "apertium");
  }
  EXPECT_EQ(server.request_count(), 5);
  EXPECT_EQ(f.router->Engines()[0].breaker, resilience::BreakerState::kOpen);
  EXPECT_EQ(f.degradation.Current().level, resilience::Level::kLlmUnavailable);
  auto r = f.router->Translate(f.Request({"Request 6"}), {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(server.request_count(), 5);  // not called while open
  EXPECT_EQ(r->notes, std::vector<std::string>{"openai: circuit open"});
  healthy = true;
  f.clock.Advance(absl::Seconds(30));
  r = f.router->Translate(f.Request({"Request 7"}), {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments[0].translation.engine, "openai");  // the trial succeeded
  EXPECT_EQ(f.router->Engines()[0].breaker, resilience::BreakerState::kClosed);
  EXPECT_EQ(f.degradation.Current().level, resilience::Level::kNormal);
}

// One tenant's cache is not another's: a tenant never learns (from "cached" or from anything
// else) what another translated, and identical requests of two tenants are not coalesced.
TEST(RouterTest, CachedTranslationsBelongToTheirTenant) {
  FakeHttpServer server(OpenAiAnswer);
  Fixture f(server.url());
  TranslateRequest a = f.Request({"Quarterly results are confidential."});
  a.tenant = "acme";
  TranslateRequest b = a;
  b.tenant = "globex";
  auto first = f.router->Translate(a, {});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->segments[0].cached);
  auto other = f.router->Translate(b, {});
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->segments[0].cached);  // globex's first time
  EXPECT_EQ(server.request_count(), 2);
  auto again = f.router->Translate(a, {});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->segments[0].cached);  // acme's own earlier translation
  EXPECT_EQ(server.request_count(), 2);
}

// Bytes no engine can take fail their request alone: however many arrive, the engines are
// not called and no breaker moves, so other tenants are served as before.
TEST(RouterTest, InvalidInputNeverCountsAgainstAnEngine) {
  FakeHttpServer server(OpenAiAnswer);
  Fixture f(server.url());
  for (int i = 0; i < 30; ++i) {
    auto r = f.router->Translate(f.Request({"fine", "bad \xff byte"}), {"apertium"});
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_EQ(r.status().message(), "segments[1]: not valid UTF-8");
  }
  for (const EngineState& e : f.router->Engines()) {
    EXPECT_EQ(e.breaker, resilience::BreakerState::kClosed) << e.name;
    EXPECT_EQ(e.calls, 0) << e.name;
  }
  EXPECT_EQ(f.degradation.Current().level, resilience::Level::kNormal);
  auto ok = f.router->Translate(f.Request({"He signed the law."}), {"apertium"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->segments[0].translation.text, " Firmó la ley.");
}

TEST(RouterTest, RetryAfterOn429DelaysTheRetry) {
  std::atomic<int> calls{0};
  FakeHttpServer server([&](const FakeRequest& r) {
    if (calls++ == 0) {
      FakeResponse limited;
      limited.status = 429;
      limited.headers.push_back({"retry-after", "3"});
      limited.body =
          R"({"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}})";
      return limited;
    }
    return OpenAiAnswer(r);
  });
  Fixture f(server.url());
  auto r = f.router->Translate(f.Request({"Hello"}), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->segments[0].translation.engine, "openai");
  EXPECT_EQ(server.request_count(), 2);
  EXPECT_EQ(f.clock.Slept(), absl::Seconds(3));  // longer than the policy's 1 s ± 0.5 s
}

TEST(RouterTest, AHangingProviderTimesOutAndTheNextEngineStillAnswersInTime) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r;
    r.hang = true;
    return r;
  });
  RouterOptions o;
  o.llm_attempt_timeout = absl::Milliseconds(200);
  o.llm_retry.max_retries = 0;
  Fixture f(server.url(), o);
  TranslateRequest req = f.Request({"He signed the law."});
  req.deadline = absl::Now() + absl::Seconds(30);
  auto r = f.router->Translate(req, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->segments[0].translation.engine, "apertium");
  ASSERT_EQ(r->notes.size(), 1u);
  EXPECT_NE(r->notes[0].find("did not answer in time"), std::string::npos) << r->notes[0];
}

// Fast mode: an LLM call that took 6 s (the provider's clock moved on while it answered) puts the
// engine in its hold; the next request is translated by the built-in engine and told "Using fast
// translation mode", without calling the LLM; a chain with no later engine still uses it; after
// the hold the LLM is tried again and, fast now, leaves fast mode.
TEST(RouterTest, AnLlmSlowerThanFiveSecondsIsPassedOverUntilItsHoldEnds) {
  std::atomic<int> calls{0};
  std::atomic<bool> slow{true};
  Fixture* fixture = nullptr;
  FakeHttpServer server([&](const FakeRequest& r) {
    ++calls;
    if (slow) fixture->clock.Advance(absl::Seconds(6));
    return OpenAiAnswer(r);
  });
  Fixture f(server.url());
  fixture = &f;
  auto first = f.router->Translate(f.Request({"He signed the law."}), {});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->segments[0].translation.engine, "openai");
  EXPECT_TRUE(first->notes.empty());
  auto openai = [&] { return f.router->Engines()[0]; };
  ASSERT_EQ(openai().name, "openai");
  EXPECT_TRUE(openai().slow);
  EXPECT_EQ(openai().slow_calls, 1);
  EXPECT_EQ(f.degradation.Current().level, resilience::Level::kNormal);

  slow = false;
  auto second = f.router->Translate(f.Request({"The law was signed."}), {});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->segments[0].translation.engine, "apertium");
  EXPECT_EQ(second->notes, std::vector<std::string>{kFastModeNote});
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(openai().passed_over, 1);
  // Another tenant's requests are not passed over: the slow call was the first tenant's (a tenant's
  // long texts never move others to a lesser engine).
  TranslateRequest other = f.Request({"Another tenant's text."});
  other.tenant = "globex";
  auto theirs = f.router->Translate(other, {});
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  EXPECT_EQ(theirs->segments[0].translation.engine, "openai");
  EXPECT_TRUE(theirs->notes.empty());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(openai().passed_over, 1);
  // Only the LLM in the chain: it is used, slow or not.
  auto only = f.router->Translate(f.Request({"Only the model."}), {"openai"});
  ASSERT_TRUE(only.ok()) << only.status();
  EXPECT_EQ(only->segments[0].translation.engine, "openai");
  EXPECT_EQ(calls.load(), 3);

  f.clock.Advance(absl::Seconds(31));
  auto third = f.router->Translate(f.Request({"After the hold."}), {});
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->segments[0].translation.engine, "openai");
  EXPECT_TRUE(third->notes.empty());
  EXPECT_FALSE(openai().slow);
}

TEST(RouterTest, HundredConcurrentIdenticalRequestsMakeOneUpstreamCall) {
  Router* router = nullptr;
  FakeHttpServer server([&](const FakeRequest& r) {
    // Answer only once the other 99 callers are waiting on this call.
    while (router->Waiting() < 99) std::this_thread::yield();
    return OpenAiAnswer(r);
  });
  RouterOptions o;
  o.cache_bytes = 0;  // coalescing alone, not the cache
  Fixture f(server.url(), o);
  router = f.router.get();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 100; ++i) {
    threads.emplace_back([&] {
      auto r = f.router->Translate(f.Request({"Hello", "world"}), {});
      if (r.ok() && r->segments[1].translation.text == "[es] world") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(server.request_count(), 1);
  EXPECT_EQ(f.router->Stats().coalesced, 99);
}

std::unique_ptr<storage::Database> TempDb(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/router_" + name + "_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto db = storage::OpenSqlite(dir + "/verso.db", storage::SqliteOptions{});
  EXPECT_TRUE(db.ok()) << db.status();
  return std::move(*db);
}

// An Apertium installation whose eng-spa mode cannot run (its analyser is missing).
std::string BrokenModes() {
  std::string dir = ::testing::TempDir() + "/broken_modes_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/eng-spa.mode") << "lt-proc '/nonexistent/eng-spa.automorf.bin' | "
                                          "lt-proc -g '/nonexistent/eng-spa.autogen.bin'\n";
  return dir;
}

// A request of tenant "acme" from English to Spanish with the TM store `store`.
TranslateInput EnEs(const std::string& store, std::vector<std::string> texts) {
  TranslateInput in;
  in.tenant = "acme";
  in.source_lang = "en";
  in.target_lang = "es";
  in.tm_store = store;
  in.texts = std::move(texts);
  in.deadline = absl::Now() + absl::Seconds(30);
  return in;
}

TEST(TranslateServiceTest, TmMatchesComeFirstPoliciesChooseTheChainAndAllEnginesDownMeansTmOnly) {
  std::atomic<bool> openai_up{true};
  FakeHttpServer server(
      [&](const FakeRequest& r) { return openai_up ? OpenAiAnswer(r) : ServerError(); });
  RouterOptions o;
  o.llm_retry.max_retries = 0;
  o.nmt_breaker.failure_threshold = 1;
  Fixture f(server.url(), o, BrokenModes());
  auto db = TempDb("tmonly");
  IdGenerator ids(f.clock, 7);
  tm::TmService tms(db.get(), &f.clock, &ids);
  ASSERT_TRUE(tms.Load().ok());
  auto store = tms.CreateStore("acme", "main", "en", "es");
  ASSERT_TRUE(store.ok());
  storage::SegmentRecord seg;
  seg.source = "Save the file.";
  seg.target = "Guarde el archivo.";
  ASSERT_TRUE(tms.AddSegments("acme", store->record.id, {seg}, "test").ok());
  TranslateService service(&tms, &db->policies(), f.router.get(), &f.degradation, &f.clock);

  TranslateInput in = EnEs(store->record.id, {"Save the file.", "Open the file."});
  auto r = service.Translate(in);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->segments[0].origin, "tm");
  EXPECT_EQ(r->segments[0].text, "Guarde el archivo.");
  EXPECT_EQ(r->segments[0].tm_score, 100);
  EXPECT_EQ(r->segments[1].origin, "mt");
  EXPECT_EQ(r->segments[1].engine, "openai");
  EXPECT_EQ(r->segments[1].text, "[es] Open the file.");
  EXPECT_EQ(r->level.level, resilience::Level::kNormal);

  // The tenant's stored default policy chooses the chain; a missing named policy is NotFound.
  // Policies are cached: a change made elsewhere (here the repository written directly, as
  // another process would) is seen after kPolicyRevalidate; a nonblocking caller is answered
  // from the cache while it is fresh, and told WouldBlock when a read is due.
  ASSERT_TRUE(db->policies().PutPolicy({"acme", "default", {"apertium"}, f.clock.Now()}).ok());
  EXPECT_EQ(*service.Chain(in), std::vector<std::string>{});
  f.clock.Advance(TranslateService::kPolicyRevalidate);
  TranslateInput quick = in;
  quick.nonblocking = true;
  EXPECT_TRUE(IsWouldBlock(service.Chain(quick).status()));
  EXPECT_EQ(*service.Chain(in), std::vector<std::string>{"apertium"});
  EXPECT_EQ(*service.Chain(quick), std::vector<std::string>{"apertium"});
  EXPECT_TRUE(IsWouldBlock(service.Translate(quick).status()));  // a TM lookup would wait
  in.texts = {"Close the file."};
  auto broken = service.Translate(in);  // apertium cannot run: its breaker opens (threshold 1)
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kUnavailable) << broken.status();
  ASSERT_TRUE(db->policies().DeletePolicy("acme", "default").ok());
  service.PolicyChanged("acme", "default");  // this process's change: seen at once
  EXPECT_EQ(*service.Chain(in), std::vector<std::string>{});
  in.engine_policy = "missing";
  EXPECT_TRUE(absl::IsNotFound(service.Translate(in).status()));
  in.engine_policy.clear();

  // OpenAI goes down too: five failures open its breaker. Every engine is down: level 4.
  openai_up = false;
  for (int i = 0; i < 5; ++i)
    (void)f.router->Translate(f.Request({"x" + std::to_string(i)}), {"openai"});
  EXPECT_EQ(f.degradation.Current().level, resilience::Level::kTmOnly);
  in.texts = {"Save the file.", "Open the file."};
  auto refused = service.Translate(in);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(refused.status().message(),
            "Machine translation is unavailable: only exact translation-memory matches are "
            "returned: segment 2 has no exact translation-memory match");
  in.texts = {"Save the file."};
  r = service.Translate(in);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->segments[0].origin, "tm");
  EXPECT_EQ(r->level.number, 4);
  // A database outage is an emergency: nothing is processed.
  f.degradation.SetDatabaseHealthy(false);
  EXPECT_EQ(service.Translate(in).status().message(),
            "Maintenance mode: requests are not being processed, please retry later");
}

// The TM nodes holding a store are down (its lookups answer Unavailable): the segments are
// machine-translated and the answer says the TM was left out; other TM errors still fail.
class DownPeers : public tm::IndexPeers {
 public:
  bool Holds(std::string_view) override { return false; }
  absl::StatusOr<std::string> Ask(std::string_view store, std::string_view,
                                  const std::string&) override {
    return absl::UnavailableError("no TM node could answer for store " + std::string(store));
  }
};

TEST(TranslateServiceTest, ATmThatCannotAnswerLeavesTheSegmentsToMachineTranslation) {
  FakeHttpServer server([&](const FakeRequest& r) { return OpenAiAnswer(r); });
  Fixture f(server.url(), RouterOptions{}, BrokenModes());
  auto db = TempDb("tmdown");
  IdGenerator ids(f.clock, 8);
  DownPeers peers;
  tm::TmService tms(db.get(), &f.clock, &ids);
  tms.SetIndexPeers(&peers);
  ASSERT_TRUE(tms.Load().ok());
  auto store = tms.CreateStore("acme", "main", "en", "es");
  ASSERT_TRUE(store.ok());
  TranslateService service(&tms, &db->policies(), f.router.get(), &f.degradation, &f.clock);
  TranslateInput in = EnEs(store->record.id, {"Save the file.", "Open the file."});
  auto r = service.Translate(in);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->segments.size(), 2u);
  EXPECT_EQ(r->segments[0].origin, "mt");
  EXPECT_EQ(r->segments[1].text, "[es] Open the file.");
  EXPECT_EQ(r->notes, std::vector<std::string>{
                          "Translation memory unavailable: segments were machine-translated "
                          "without it"});
  // An unknown store is still the client's error.
  in.tm_store = "tm_nope";
  EXPECT_TRUE(absl::IsNotFound(service.Translate(in).status()));
}

}  // namespace
}  // namespace verso::mt
