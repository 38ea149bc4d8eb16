// Several verso processes on one PostgreSQL database and its streaming replica, behind HAProxy
// (deploy/haproxy.cfg's layout): two API processes (`serve --roles api`), two `verso worker`s.
// Real engines started by scripts/test-services (ctest's fixture) and HAProxy from Debian.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/file.h"
#include "tests/fake_http_server.h"
#include "tests/http_client.h"
#include "tests/process.h"
#include "tests/services.h"
#include "tests/verso_server.h"

namespace verso::test {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

class ScaleOutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir("scaleout", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    url_ = NewPostgresDatabase();
    ASSERT_FALSE(url_.empty());
    replica_ = ReplicaUrl(url_);
    // Every verso run on dir_ uses this database (tests/process.cc); migrated as an operator
    // would, before any process starts.
    std::ofstream(dir_ + "/.storage_url") << url_ << "\n";
    RunResult migrated = test::Run({VERSO_BINARY, "--data-dir", dir_, "migrate"});
    ASSERT_EQ(migrated.exit_code, 0) << migrated.err;
    key_ = CreateKey(dir_, "acme", "admin");
  }

  void TearDown() override {
    if (haproxy_ != nullptr) {
      haproxy_->Kill(SIGTERM);
      haproxy_->Wait();
    }
    for (auto& w : workers_) {
      if (w == nullptr) continue;
      w->Kill(SIGTERM);
      EXPECT_EQ(w->Wait(), 0);
    }
    for (auto& a : apis_) {
      a->Signal(SIGTERM);
      EXPECT_EQ(a->Wait(), 0);
    }
    // A failed test shows what the processes logged (a 500's cause is only there).
    if (HasFailure()) {
      for (size_t i = 0; i < apis_.size(); ++i) {
        std::string log = ReadFile(dir_ + "/api" + std::to_string(i) + ".log").value_or("");
        if (log.size() > 20000) log = log.substr(log.size() - 20000);
        std::fprintf(stderr, "---- api%zu.log (its end) ----\n%s\n", i, log.c_str());
      }
    }
    std::filesystem::remove_all(dir_);
  }

  std::vector<std::string> Settings() const {
    std::vector<std::string> extra = extra_settings_;
    std::vector<std::string> base = {"rate_limit.rps=0",
                                     "mt.apertium.pipelines=1",
                                     "jobs.lease=2s",
                                     "jobs.chunk=4",
                                     "storage.replica_lag.eject=2s",
                                     "storage.postgres.replicas=" + replica_};
    base.insert(base.end(), extra.begin(), extra.end());
    return base;
  }

  void StartApi() {
    const std::string log = dir_ + "/api" + std::to_string(apis_.size()) + ".log";
    apis_.push_back(
        std::make_unique<VersoServer>(dir_, ServerOptions{.settings = Settings(),
                                                          .log_level = "info",
                                                          .stderr_path = log,
                                                          .serve_args = {"--roles", "api"}}));
    ASSERT_GT(apis_.back()->port(), 0) << ReadFile(log).value_or("");
  }

  void StartWorker() {
    std::vector<std::string> argv = {VERSO_BINARY, "--data-dir", dir_, "--log-level", "info"};
    for (const std::string& s : Settings()) argv.insert(argv.end(), {"--set", s});
    argv.insert(argv.end(), {"worker", "--threads", "2"});
    const std::string log = dir_ + "/worker" + std::to_string(workers_.size()) + ".log";
    workers_.push_back(std::make_unique<Child>(argv, std::vector<std::string>{}, log));
    std::string line;
    bool started = false;
    while (!started && workers_.back()->ReadLine(&line)) {
      started = line.find("worker:") != std::string::npos;
    }
    ASSERT_TRUE(started) << ReadFile(log).value_or("");
  }

  // HAProxy in front of the API processes, checking /readyz (deploy/haproxy.cfg with these
  // ports); waits until it routes.
  void StartHaproxy() {
    front_ = test::FreePort();
    std::ofstream cfg(dir_ + "/haproxy.cfg");
    cfg << "global\n  maxconn 1024\ndefaults\n  mode http\n  timeout connect 2s\n"
           "  timeout client 120s\n  timeout server 120s\n  retries 2\n  option redispatch\n"
           "frontend verso\n  bind 127.0.0.1:"
        << front_
        << "\n  default_backend verso_api\nbackend verso_api\n  balance roundrobin\n"
           "  option httpchk GET /readyz\n  http-check expect status 200\n"
           "  default-server inter 500ms fall 2 rise 1\n";
    for (size_t i = 0; i < apis_.size(); ++i) {
      cfg << "  server api" << i << " 127.0.0.1:" << apis_[i]->port() << " check\n";
    }
    cfg.close();
    haproxy_ = std::make_unique<Child>(
        std::vector<std::string>{"/usr/sbin/haproxy", "-db", "-f", dir_ + "/haproxy.cfg"},
        std::vector<std::string>{}, dir_ + "/haproxy.log");
    for (int i = 0; i < 100; ++i) {
      if (Fetch(front_, "GET", "/readyz").status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "HAProxy does not route: " << ReadFile(dir_ + "/haproxy.log").value_or("");
  }

  // A redis-server of this test's own (its port in redis_port_).
  std::unique_ptr<Child> StartRedis() {
    redis_port_ = test::FreePort();
    auto redis = std::make_unique<Child>(
        std::vector<std::string>{"/usr/bin/redis-server", "--port", std::to_string(redis_port_),
                                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                                 dir_},
        std::vector<std::string>{}, dir_ + "/redis.log");
    for (int i = 0; i < 100; ++i) {
      if (RedisCli({"ping"}) == "PONG\n") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return redis;
  }
  std::string RedisCli(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/redis-cli", "-p", std::to_string(redis_port_)};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::Run(argv).out;
  }

  HttpResponse Call(int port, const std::string& method, const std::string& path,
                    const std::string& body = "") {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Authorization", "Bearer " + key_}};
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    return Fetch(port, method, path, body, headers);
  }

  json Get(int port, const std::string& path) {
    HttpResponse r = Call(port, "GET", path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  // Polls GET `path` through `port` until `done` (at most two minutes).
  json WaitFor(int port, const std::string& path, const std::function<bool(const json&)>& done) {
    json j;
    for (int i = 0; i < 1200; ++i) {
      j = Get(port, path);
      if (done(j)) return j;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << path << " never got there: " << j.dump();
    return j;
  }

  std::string dir_, url_, replica_, key_;
  std::vector<std::string> extra_settings_;  // after Settings()' own (later ones win)
  std::vector<std::unique_ptr<VersoServer>> apis_;
  std::vector<std::unique_ptr<Child>> workers_;
  std::unique_ptr<Child> haproxy_;
  int front_ = 0;
  int redis_port_ = 0;
};

// A 1,000-segment job through HAProxy is run by two worker processes; one is SIGKILLed in the
// MT stage, the other takes its tasks over when their leases expire, and every segment ends up
// translated exactly as the engine translates it.
TEST_F(ScaleOutTest, AJobRunsThroughAndSurvivesAWorkerKilledInTheMtStage) {
  StartApi();
  StartApi();
  StartWorker();
  StartWorker();
  StartHaproxy();
  std::ifstream in(VERSO_SHARED_DATA "/mt/flores101-devtest/eng.devtest");
  std::vector<std::string> lines;
  for (std::string line; lines.size() < 1000 && std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 1000u);
  json body{{"source_lang", "en"},
            {"target_langs", {"es"}},
            {"qe_threshold", 0},
            {"text_format", "plain"},
            {"segments", lines}};
  HttpResponse r = Call(front_, "POST", "/v1/jobs", body.dump());
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string id = json::parse(r.body)["id"];
  // Read-your-writes through the load balancer: the next GET, on either process, finds it.
  EXPECT_EQ(Call(front_, "GET", "/v1/jobs/" + id).status, 200);
  EXPECT_EQ(Call(apis_[1]->port(), "GET", "/v1/jobs/" + id).status, 200);
  json job = WaitFor(front_, "/v1/jobs/" + id,
                     [](const json& j) { return j["stages"][2]["done"].get<int>() >= 20; });
  ASSERT_LT(job["stages"][2]["done"].get<int>(), 1000) << "MT finished before the kill";
  workers_[0]->Kill(SIGKILL);
  EXPECT_EQ(workers_[0]->Wait(), 128 + SIGKILL);
  workers_[0].reset();
  job = WaitFor(front_, "/v1/jobs/" + id,
                [](const json& j) { return j["stages"][3]["state"] == "done"; });
  EXPECT_EQ(job["counts"]["segments"], 1000);
  EXPECT_EQ(job["counts"]["mt"], 1000);
  EXPECT_EQ(job["counts"]["approved"].get<int>() + job["counts"]["awaiting_post_edit"].get<int>(),
            1000);
  json segs = Get(front_, "/v1/jobs/" + id + "/segments?target=es&limit=2000");
  ASSERT_EQ(segs["segments"].size(), 1000u);
  json translated = json::array();
  for (size_t begin = 0; begin < lines.size(); begin += 500) {
    std::vector<std::string> part(lines.begin() + begin, lines.begin() + begin + 500);
    json direct{
        {"source_lang", "en"}, {"target_lang", "es"}, {"text_format", "plain"}, {"segments", part}};
    HttpResponse t = Call(front_, "POST", "/v1/translate", direct.dump());
    ASSERT_EQ(t.status, 200) << t.body;
    const json answer = json::parse(t.body);
    for (const auto& x : answer["translations"]) translated.push_back(x);
  }
  ASSERT_EQ(translated.size(), 1000u);
  for (size_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(segs["segments"][i]["target"], translated[i]["text"]) << "segment " << i;
  }
}

// A TM segment written through API process A is served by process B at once (B's index learns it
// from PostgreSQL's NOTIFY); the time it takes is printed. A replica whose replay is paused
// leaves the rotation (reads go to the primary) and comes back when it resumes.
TEST_F(ScaleOutTest, ChangesReachEveryProcessAndReadsFollowTheReplica) {
  test::ExclusiveReplica exclusive;  // it pauses the shared replica
  StartApi();
  StartApi();
  const int a = apis_[0]->port(), b = apis_[1]->port();
  HttpResponse r =
      Call(a, "POST", "/v1/tm", R"({"name":"shared","source_lang":"en","target_lang":"es"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string store = json::parse(r.body)["id"];
  auto served_by_b = [&](const std::string& target) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i) {
      HttpResponse l = Call(b, "POST", "/v1/tm/" + store + "/lookup",
                            R"({"source":"The printer is out of paper."})");
      if (l.status == 200 && l.body.find(target) != std::string::npos) {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return -1.0;
  };
  r = Call(a, "POST", "/v1/tm/" + store + "/segments",
           R"({"source":"The printer is out of paper.","target":"La impresora no tiene papel."})");
  ASSERT_EQ(r.status, 201) << r.body;
  const int64_t segment = json::parse(r.body)["id"];
  const double added_ms = served_by_b("La impresora no tiene papel.");
  EXPECT_GE(added_ms, 0) << "process B never served the new segment";
  r = Call(
      a, "PUT", "/v1/tm/" + store + "/segments/" + std::to_string(segment),
      R"({"source":"The printer is out of paper.","target":"A la impresora le falta papel."})");
  ASSERT_EQ(r.status, 200) << r.body;
  const double changed_ms = served_by_b("A la impresora le falta papel.");
  EXPECT_GE(changed_ms, 0) << "process B kept serving the old translation";
  std::printf(
      "[ figures  ] a segment added on A is served by B after %.1f ms; a change after "
      "%.1f ms\n",
      added_ms, changed_ms);

  auto replica_in = [](const json& s) {
    return s["database"]["replicas"].size() == 1 &&
           s["database"]["replicas"][0]["in_rotation"].get<bool>();
  };
  WaitFor(a, "/v1/status", replica_in);
  RunResult paused =
      test::Run({"/usr/bin/psql", replica_, "-qXAtc", "SELECT pg_wal_replay_pause()"});
  ASSERT_EQ(paused.exit_code, 0) << paused.err;
  struct Resume {
    std::string url;
    ~Resume() { test::Run({"/usr/bin/psql", url, "-qXAtc", "SELECT pg_wal_replay_resume()"}); }
  } resume{replica_};
  // Writes keep the primary's WAL moving while the replica stands still.
  for (int i = 0; i < 30; ++i) {
    Call(a, "POST", "/v1/tm/" + store + "/segments",
         json{{"source", "Filler " + std::to_string(i)}, {"target", "Relleno"}}.dump());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  json out = WaitFor(a, "/v1/status", [&](const json& s) { return !replica_in(s); });
  EXPECT_GT(out["database"]["replicas"][0]["lag_seconds"].get<double>(), 2);
  // Reads still answer, from the primary: the filler written after the pause is there.
  r = Call(b, "POST", "/v1/tm/" + store + "/lookup", R"({"source":"Filler 29"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("Relleno"));
  HttpResponse metrics = Fetch(a, "GET", "/metrics");
  EXPECT_THAT(metrics.body, HasSubstr("verso_db_replica_in_rotation{replica=\"127.0.0.1:"));
  ASSERT_EQ(
      test::Run({"/usr/bin/psql", replica_, "-qXAtc", "SELECT pg_wal_replay_resume()"}).exit_code,
      0);
  WaitFor(a, "/v1/status", replica_in);
}

// With Redis (a redis-server of this test's own): a key's rate limit holds across both API
// processes, an LLM answer fetched by one is served by the other from L2 without a second
// provider call, and Redis SIGKILLed mid-run fails no request (the cache is bypassed behind its
// breaker, /v1/status says so) until it is back.
TEST_F(ScaleOutTest, RedisSharesLimitsAndLlmAnswersAndLosingItFailsNoRequest) {
  std::unique_ptr<Child> redis = StartRedis();
  const int redis_port = redis_port_;
  FakeHttpServer openai([](const FakeRequest& r) { return ChatCompletion(r, "sk-test-scaleout"); });
  std::ofstream(dir_ + "/secrets.env") << "OPENAI_API_KEY=sk-test-scaleout\n";
  extra_settings_ = {"redis.url=redis://127.0.0.1:" + std::to_string(redis_port),
                     "rate_limit.rps=2",
                     "rate_limit.burst=5",
                     "mt.openai.base_url=" + openai.url() + "/v1",
                     "mt.openai.model=gpt-4o-mini",
                     "mt.secrets_file=" + dir_ + "/secrets.env"};
  StartApi();
  StartApi();
  const int a = apis_[0]->port(), b = apis_[1]->port();

  // Five requests on A take the key's five tokens; the sixth, on B, finds the bucket empty.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Call(a, "GET", "/v1/tm").status, 200) << i;
  HttpResponse limited = Call(b, "GET", "/v1/tm");
  EXPECT_EQ(limited.status, 429) << limited.body;
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));  // the bucket refills

  const std::string hello =
      R"({"source_lang":"en","target_lang":"es","segments":["Hello from A"]})";
  HttpResponse first = Call(a, "POST", "/v1/translate", hello);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_THAT(first.body, HasSubstr("[es] Hello from A"));
  EXPECT_EQ(openai.request_count(), 1);
  HttpResponse second = Call(b, "POST", "/v1/translate", hello);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_THAT(second.body, HasSubstr("[es] Hello from A"));
  EXPECT_EQ(openai.request_count(), 1) << "B asked the provider again instead of L2";

  // Redis lost mid-run: every request still succeeds (at the limit's own pace: 2/s).
  int failed = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 6) {
      redis->Kill(SIGKILL);
      redis->Wait();
    }
    const int port = i % 2 == 0 ? a : b;
    HttpResponse r = Call(port, "POST", "/v1/translate",
                          json{{"source_lang", "en"},
                               {"target_lang", "es"},
                               {"segments", {"Sentence " + std::to_string(i)}}}
                              .dump());
    if (r.status != 200) {
      ++failed;
      ADD_FAILURE() << "request " << i << ": " << r.status << " " << r.body;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_EQ(failed, 0);
  json status = Get(a, "/v1/status");
  EXPECT_EQ(status["l2_cache"]["enabled"], true);
  EXPECT_NE(status["l2_cache"]["breaker"], "closed") << status.dump();
  EXPECT_GT(status["l2_cache"]["errors"].get<int>(), 0);
  HttpResponse metrics = Fetch(a, "GET", "/metrics");
  EXPECT_THAT(metrics.body, HasSubstr("verso_l2_cache_breaker"));
}

// TM lookup results with Redis: a fuzzy lookup computed on A is answered on B from L2; a change
// on A deletes the store's keys in Redis (the spec's DEL + bounded SCAN) and is announced on
// tm_invalidation, and B answers the change, never the cached result.
TEST_F(ScaleOutTest, RedisSharesTmResultsAndAChangeInvalidatesThemEverywhere) {
  std::unique_ptr<Child> redis = StartRedis();
  extra_settings_ = {"redis.url=redis://127.0.0.1:" + std::to_string(redis_port_)};
  StartApi();
  StartApi();
  const int a = apis_[0]->port(), b = apis_[1]->port();
  HttpResponse r =
      Call(a, "POST", "/v1/tm", R"({"name":"cached","source_lang":"en","target_lang":"es"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string store = json::parse(r.body)["id"];
  r = Call(a, "POST", "/v1/tm/" + store + "/segments",
           R"({"source":"The printer is out of paper.","target":"La impresora no tiene papel."})");
  ASSERT_EQ(r.status, 201) << r.body;
  const int64_t segment = json::parse(r.body)["id"];
  const std::string lookup = "/v1/tm/" + store + "/lookup";
  const std::string fuzzy = R"({"source":"The printer is out of papers."})";
  auto keys = [&] { return RedisCli({"--scan", "--pattern", "tm_fuzzy:" + store + ":*"}); };
  // A caches its lookups once it has read its own write back from the log.
  for (int i = 0; i < 1000 && keys().empty(); ++i) {
    r = Call(a, "POST", lookup, fuzzy);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_THAT(r.body, HasSubstr("La impresora no tiene papel."));
  }
  ASSERT_FALSE(keys().empty()) << "A never put a result in Redis";
  // B, once its view of the store is A's (the same position in the log), reads A's result.
  json status;
  for (int i = 0; i < 1000; ++i) {
    r = Call(b, "POST", lookup, fuzzy);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_THAT(r.body, HasSubstr("La impresora no tiene papel."));
    status = Get(b, "/v1/status");
    if (status["tm_cache"]["l2_hits"].get<int>() > 0) break;
  }
  EXPECT_EQ(status["tm_cache"]["l2_hits"].get<int>(), 1) << status.dump();

  // A change on A: the store's keys are gone when the write is acknowledged.
  r = Call(
      a, "PUT", "/v1/tm/" + store + "/segments/" + std::to_string(segment),
      R"({"source":"The printer is out of paper.","target":"A la impresora le falta papel."})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(keys(), "");
  // B answers with the change as soon as it has applied it; never the old one after that.
  bool changed = false;
  for (int i = 0; i < 1000 && !changed; ++i) {
    r = Call(b, "POST", lookup, fuzzy);
    ASSERT_EQ(r.status, 200) << r.body;
    changed = r.body.find("A la impresora le falta papel.") != std::string::npos;
    if (!changed) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(changed) << "B kept answering the old translation";
  for (int i = 0; i < 20; ++i) {
    r = Call(b, "POST", lookup, fuzzy);
    EXPECT_THAT(r.body, HasSubstr("A la impresora le falta papel.")) << i;
  }
  HttpResponse metrics = Fetch(b, "GET", "/metrics");
  EXPECT_THAT(metrics.body, HasSubstr("verso_tm_result_cache{what=\"l2_hits\"} 1"));
}

// A glossary changed through process A is used by process B as soon as A's announcement on
// Redis arrives (B's own check of the version is an hour away here), and B builds its first
// index from the concepts A left in Redis.
TEST_F(ScaleOutTest, RedisAnnouncesAGlossaryChangeToEveryProcess) {
  std::unique_ptr<Child> redis = StartRedis();
  extra_settings_ = {"redis.url=redis://127.0.0.1:" + std::to_string(redis_port_),
                     "glossaries.revalidate=1h"};
  StartApi();
  StartApi();
  const int a = apis_[0]->port(), b = apis_[1]->port();
  HttpResponse r = Call(a, "POST", "/v1/glossaries", R"({"name":"it"})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto put = [&](const std::string& spanish) {
    json concepts = {
        {"concepts",
         {{{"id", "srv"},
           {"terms",
            {{{"lang", "en"}, {"text", "server"}}, {{"lang", "es"}, {"text", spanish}}}}}}}};
    HttpResponse p = Call(a, "POST", "/v1/glossaries/it/concepts", concepts.dump());
    ASSERT_EQ(p.status, 200) << p.body;
  };
  const std::string lookup =
      R"({"source_lang":"en","target_lang":"es","segments":["The server is down."]})";
  put("servidor");
  r = Call(a, "POST", "/v1/glossaries/it/lookup", lookup);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"servidor\""));
  EXPECT_THAT(RedisCli({"--scan", "--pattern", "glossary:*"}), HasSubstr("glossary:"));
  r = Call(b, "POST", "/v1/glossaries/it/lookup", lookup);
  EXPECT_THAT(r.body, HasSubstr("\"servidor\""));
  EXPECT_EQ(Get(b, "/v1/status")["glossary_cache"]["l2_hits"], 1);

  put("equipo servidor");
  EXPECT_EQ(RedisCli({"--scan", "--pattern", "glossary:*"}), "");  // deleted on the change
  bool changed = false;
  for (int i = 0; i < 1000 && !changed; ++i) {
    r = Call(b, "POST", "/v1/glossaries/it/lookup", lookup);
    ASSERT_EQ(r.status, 200) << r.body;
    changed = r.body.find("equipo servidor") != std::string::npos;
    if (!changed) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(changed) << "B kept the old glossary";
  json status = Get(b, "/v1/status")["glossary_cache"];
  EXPECT_EQ(status["index_builds"], 2) << status.dump();
  EXPECT_EQ(status["revalidations"], 2) << status.dump();
}

// The database lost while serving (a PostgreSQL of this test's own, stopped with -m immediate):
// requests answer 503 with Retry-After and no database internals, /readyz says not ready,
// /metrics shows the emergency level; PostgreSQL back, the same process serves again by itself.
TEST(DatabaseLossTest, ServingAnswers503WithRetryAfterAndRecoversByItself) {
  const std::string dir = TestDir("dbloss", "ServingAnswers503");
  const std::string services = dir + "/services";
  RunResult up = test::Run({VERSO_SOURCE_DIR "/scripts/test-services", "start", services});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  auto env = [&](const std::string& name) {
    std::ifstream in(services + "/env");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(name + "=", 0) == 0) return line.substr(name.size() + 1);
    }
    return std::string();
  };
  const std::string admin = env("VERSO_TEST_POSTGRES_URL");
  ASSERT_EQ(test::Run({"/usr/bin/psql", admin, "-qXc", "CREATE DATABASE verso"}).exit_code, 0);
  std::ofstream(dir + "/.storage_url") << admin.substr(0, admin.rfind('/')) << "/verso\n";
  ASSERT_EQ(test::Run({VERSO_BINARY, "--data-dir", dir, "migrate"}).exit_code, 0);
  const std::string key = CreateKey(dir, "acme", "admin");
  auto pg_ctl = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv;
    if (getuid() == 0) argv = {"/usr/sbin/runuser", "-u", "postgres", "--"};
    argv.push_back(env("VERSO_TEST_POSTGRES_BIN") + "/pg_ctl");
    argv.insert(argv.end(), {"-D", env("VERSO_TEST_POSTGRES_DATA")});
    argv.insert(argv.end(), args.begin(), args.end());
    return test::Run(argv);
  };
  {
    VersoServer server(
        dir, ServerOptions{.settings = {"rate_limit.rps=0"}, .stderr_path = dir + "/server.log"});
    ASSERT_GT(server.port(), 0) << ReadFile(dir + "/server.log").value_or("");
    const std::vector<std::pair<std::string, std::string>> auth = {
        {"Authorization", "Bearer " + key}};
    ASSERT_EQ(Fetch(server.port(), "GET", "/v1/tm", "", auth).status, 200);

    ASSERT_EQ(pg_ctl({"-m", "immediate", "stop"}).exit_code, 0);
    // A write needs the database (GET /v1/tm would answer from memory).
    const std::string create = R"({"name":"docs","source_lang":"en","target_lang":"es"})";
    auto json_auth = auth;
    json_auth.emplace_back("Content-Type", "application/json");
    HttpResponse lost = Fetch(server.port(), "POST", "/v1/tm", create, json_auth);
    EXPECT_EQ(lost.status, 503) << lost.body;
    EXPECT_EQ(lost.Header("retry-after"), "5");
    EXPECT_THAT(lost.body, HasSubstr("the database"));
    EXPECT_THAT(lost.body, ::testing::Not(HasSubstr("127.0.0.1")));
    EXPECT_EQ(Fetch(server.port(), "GET", "/readyz").status, 503);
    bool emergency = false;
    for (int i = 0; i < 150 && !emergency; ++i) {  // the health check runs every 5 s
      emergency = Fetch(server.port(), "GET", "/metrics").body.find("verso_degradation_level 5") !=
                  std::string::npos;
      if (!emergency) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(emergency);

    RunResult restarted = pg_ctl({"-w", "-l", services + "/pg-primary.log", "start"});
    ASSERT_EQ(restarted.exit_code, 0) << restarted.err;
    int status = 0;
    for (int i = 0; i < 200 && status != 201; ++i) {
      status = Fetch(server.port(), "POST", "/v1/tm", create, json_auth).status;
      if (status != 201) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(status, 201) << "the server did not recover by itself";
    EXPECT_EQ(Fetch(server.port(), "GET", "/readyz").status, 200);
    server.Signal(SIGTERM);
    EXPECT_EQ(server.Wait(), 0);
  }
  test::Run({VERSO_SOURCE_DIR "/scripts/test-services", "stop", services});
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace verso::test
