// The TM service sharded by store, on the local cluster `scripts/cluster up` starts (PostgreSQL
// primary and replica, Redis, HAProxy, 2 API processes, 2 workers, 3 TM nodes; real Debian
// packages on 127.0.0.1): every store answers through the front; a fourth node takes its share
// while lookups run, and none fails; a node SIGKILLed under load fails no lookup (the API
// processes ask the store's other owner) and its stores are placed again once it expires.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/http_client.h"
#include "tests/process.h"
#include "tm/placement.h"

namespace verso::test {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kStores = 100;
constexpr int kSegments = 5;

int PortOf(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/cluster_test_" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    RunResult up = Script({"up"});
    ASSERT_EQ(up.exit_code, 0) << up.err;
    status_ = json::parse(up.out, nullptr, false);
    ASSERT_TRUE(status_.is_object()) << up.out;
    front_ = PortOf(status_["front"]);
    key_ = status_["key"];
  }
  void TearDown() override {
    RunResult down = Script({"down"});
    EXPECT_EQ(down.exit_code, 0) << down.err;
  }

  RunResult Script(std::vector<std::string> args) {
    args.insert(args.begin(), std::string(VERSO_SOURCE_DIR) + "/scripts/cluster");
    return test::Run(args,
                     {"VERSO_CLUSTER_DIR=" + dir_, std::string("VERSO_BINARY=") + VERSO_BINARY,
                      "VERSO_CLUSTER_SETTINGS=rate_limit.rps=0"});
  }

  HttpResponse Call(const std::string& method, const std::string& path, const json& body = {}) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Authorization", "Bearer " + key_}};
    if (!body.is_null()) headers.emplace_back("Content-Type", "application/json");
    return Fetch(front_, method, path, body.is_null() ? "" : body.dump(), headers);
  }

  // verso_tm_cluster{what=...} of one process.
  std::map<std::string, int64_t> ClusterMetrics(const std::string& url) {
    std::map<std::string, int64_t> out;
    HttpResponse r = Fetch(PortOf(url), "GET", "/metrics");
    const std::string prefix = "verso_tm_cluster{what=\"";
    size_t at = 0;
    while ((at = r.body.find(prefix, at)) != std::string::npos) {
      at += prefix.size();
      const size_t quote = r.body.find('"', at);
      const std::string what = r.body.substr(at, quote - at);
      out[what] = std::stoll(r.body.substr(r.body.find(' ', quote) + 1));
    }
    return out;
  }
  // Summed over the live processes of a role ("tm_urls", "api_urls").
  int64_t Sum(const std::string& urls, const std::string& what) {
    int64_t n = 0;
    for (const auto& url : status_[urls]) n += ClusterMetrics(url)[what];
    return n;
  }

  // Every node of `urls` sees `nodes` nodes, builds nothing and hands nothing over, and
  // together they hold each store twice.
  bool Settled(const json& urls, size_t nodes) {
    if (urls.size() != nodes) return false;
    int64_t owned = 0;
    for (const auto& url : urls) {
      auto m = ClusterMetrics(url);
      if (m["nodes"] != static_cast<int64_t>(nodes) || m["stores_warming"] != 0 ||
          m["stores_held"] != m["stores_owned"]) {
        return false;
      }
      owned += m["stores_owned"];
    }
    return owned == 2 * kStores;
  }

  // Lookups with fresh queries (no cached answer) on 4 threads until `done` says so or
  // 90 s pass; each must find its store's segment.
  struct Load {
    int64_t ok = 0, failed = 0;
    std::string first_failure;
  };
  // Half the lookups go to store `hot` when it is set.
  Load LookupsUntil(const std::function<bool()>& done, int hot = -1) {
    std::atomic<bool> stop{false};
    std::atomic<int64_t> ok{0}, failed{0};
    std::mutex mu;
    std::string first_failure;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 rng(t);
        while (!stop) {
          const int s = hot >= 0 && rng() % 2 == 0 ? hot : static_cast<int>(rng() % kStores);
          const std::string source =
              "Sentence 3 of store " + std::to_string(s) + " " + std::to_string(rng() % 1000000);
          HttpResponse r = Call("POST", "/v1/tm/" + stores_[s] + "/lookup",
                                json{{"source", source}, {"min_score", 50}});
          json j = json::parse(r.body, nullptr, false);
          if (r.status == 200 && j.is_object() && !j["matches"].empty() &&
              j["matches"][0]["segment"]["target"] == "Frase 3 " + std::to_string(s)) {
            ++ok;
          } else {
            ++failed;
            std::lock_guard<std::mutex> lock(mu);
            if (first_failure.empty()) first_failure = std::to_string(r.status) + " " + r.body;
          }
        }
      });
    }
    const auto deadline = Clock::now() + std::chrono::seconds(90);
    while (!done() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    stop = true;
    for (auto& t : threads) t.join();
    return {ok, failed, first_failure};
  }

  // A store that the fourth node ("tm-4") will own, by the placement every process computes.
  int MoverToFourthNode() {
    tm::Placement four({"tm-1", "tm-2", "tm-3", "tm-4"}, {.virtual_nodes = 256, .replicas = 2});
    for (int i = 0; i < kStores; ++i) {
      auto owners = four.Owners(stores_[i]);
      if (std::find(owners.begin(), owners.end(), "tm-4") != owners.end()) return i;
    }
    return -1;
  }

  // `n` segments unlike the store's own, through the front as a TMX upload (a background import).
  void ImportBig(int store, int n) {
    std::string tmx =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tmx version=\"1.4\"><header "
        "creationtool=\"test\" creationtoolversion=\"1\" segtype=\"sentence\" "
        "o-tmf=\"test\" adminlang=\"en\" srclang=\"en\" datatype=\"plaintext\"/><body>\n";
    for (int i = 0; i < n; ++i) {
      tmx += "<tu><tuv xml:lang=\"en\"><seg>Zebra quartz " + std::to_string(i) +
             " glimmers over the harbour</seg></tuv><tuv xml:lang=\"es\"><seg>Cebra " +
             std::to_string(i) + "</seg></tuv></tu>\n";
    }
    tmx += "</body></tmx>\n";
    HttpResponse started =
        Fetch(front_, "POST", "/v1/tm/" + stores_[store] + "/imports", tmx,
              {{"Authorization", "Bearer " + key_}, {"Content-Type", "application/x-tmx+xml"}});
    ASSERT_EQ(started.status, 202) << started.body;
    const std::string id = json::parse(started.body)["id"];
    json status;
    for (int i = 0; i < 1200; ++i) {
      status = json::parse(Call("GET", "/v1/tm/" + stores_[store] + "/imports/" + id).body, nullptr,
                           false);
      if (status["status"] == "succeeded" || status["status"] == "failed") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(status["status"], "succeeded") << status.dump();
  }

  int64_t Psql(const std::string& url, const std::string& sql) {
    RunResult r = test::Run({"/usr/bin/psql", url, "-qXAtc", sql});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return std::atoll(r.out.c_str());
  }

  // The shard test, on the same cluster (its TM data is in the home database and two
  // shards): a store moved to another database shard by `verso tm move-store` while writers add
  // and delete segments through the front and a reader looks up what was just written. Every
  // acknowledged write is in the store afterwards (counted before/after), the source keeps
  // nothing, and the TM nodes' indexes find every segment.
  void MoveAStoreBetweenDatabaseShardsWhileItIsWritten() {
    HttpResponse made = Call(
        "POST", "/v1/tm", json{{"name", "moving"}, {"source_lang", "en"}, {"target_lang", "es"}});
    ASSERT_EQ(made.status, 201) << made.body;
    const std::string store = json::parse(made.body)["id"];
    constexpr int kInitial = 3000;
    for (int b = 0; b < kInitial / 1000; ++b) {
      json segments = json::array();
      for (int i = b * 1000; i < (b + 1) * 1000; ++i) {
        segments.push_back({{"source", "Initial line " + std::to_string(i) + " of the store"},
                            {"target", "Línea inicial " + std::to_string(i)}});
      }
      HttpResponse added =
          Call("POST", "/v1/tm/" + store + "/segments/batch", json{{"segments", segments}});
      ASSERT_EQ(added.status, 200) << added.body;
    }
    const std::string home = status_["storage"];
    RunResult shards = Script({"verso", "tm", "shards", "--json"});
    ASSERT_EQ(shards.exit_code, 0) << shards.err;
    json listed = json::parse(shards.out, nullptr, false);
    ASSERT_TRUE(listed.is_array() && listed.size() == 3) << shards.out;
    EXPECT_EQ(listed[0]["shard"], "main");
    EXPECT_EQ(listed[1]["shard"], "s1");
    EXPECT_EQ(listed[2]["shard"], "s2");
    int64_t placed_stores = 0;
    for (const auto& s : listed) placed_stores += s["stores"].get<int64_t>();
    EXPECT_EQ(placed_stores, kStores + 1);  // the stores are spread over the three databases
    std::string from = "main";
    RunResult placed =
        test::Run({"/usr/bin/psql", home, "-qXAtc",
                   "SELECT shard FROM tm_placements WHERE store_id = '" + store + "'"});
    if (!placed.out.empty()) from = placed.out.substr(0, placed.out.find('\n'));
    const std::string to = from == "s1" ? "s2" : "s1";

    std::atomic<bool> stop{false};
    std::mutex mu;
    std::map<int64_t, std::string> acknowledged;  // id -> source, not deleted
    int64_t deleted = 0, errors = 0, lookups = 0, found = 0;
    std::string first_error;
    auto note_error = [&](const HttpResponse& r) {
      std::lock_guard<std::mutex> lock(mu);
      ++errors;
      if (first_error.empty()) first_error = std::to_string(r.status) + " " + r.body;
    };
    std::vector<std::thread> threads;
    for (int w = 0; w < 3; ++w) {
      threads.emplace_back([&, w] {
        for (int n = 0; !stop; ++n) {
          const std::string source =
              "Writer " + std::to_string(w) + " wrote line " + std::to_string(n);
          HttpResponse r =
              Call("POST", "/v1/tm/" + store + "/segments",
                   json{{"source", source}, {"target", "Escrito " + std::to_string(n)}});
          if (r.status != 201) {
            note_error(r);
            continue;
          }
          const int64_t id = json::parse(r.body)["id"];
          if (n % 7 == 3) {
            HttpResponse del =
                Call("DELETE", "/v1/tm/" + store + "/segments/" + std::to_string(id));
            if (del.status != 204) {
              note_error(del);
            } else {
              std::lock_guard<std::mutex> lock(mu);
              ++deleted;
            }
            continue;
          }
          std::lock_guard<std::mutex> lock(mu);
          acknowledged[id] = source;
        }
      });
    }
    threads.emplace_back([&] {  // reads what was just written
      while (!stop) {
        std::string source;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!acknowledged.empty()) source = acknowledged.rbegin()->second;
        }
        if (source.empty()) continue;
        HttpResponse r = Call("POST", "/v1/tm/" + store + "/lookup", json{{"source", source}});
        if (r.status != 200) {
          note_error(r);
          continue;
        }
        json j = json::parse(r.body, nullptr, false);
        std::lock_guard<std::mutex> lock(mu);
        ++lookups;
        if (!j["matches"].empty() && j["matches"][0]["segment"]["source"] == source) ++found;
      }
    });
    std::this_thread::sleep_for(std::chrono::seconds(1));
    int64_t before;
    {
      std::lock_guard<std::mutex> lock(mu);
      before = static_cast<int64_t>(acknowledged.size()) + deleted;
    }
    RunResult moved = Script({"verso", "tm", "move-store", store, "--to", to, "--grace", "2s"});
    int64_t during;
    {
      std::lock_guard<std::mutex> lock(mu);
      during = static_cast<int64_t>(acknowledged.size()) + deleted - before;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    stop = true;
    for (auto& t : threads) t.join();
    ASSERT_EQ(moved.exit_code, 0) << moved.err;
    EXPECT_EQ(errors, 0) << first_error;
    EXPECT_GT(during, 0);  // writes went on while the store moved

    // Counted after: the initial segments and every acknowledged write, nothing else.
    json info = json::parse(Call("GET", "/v1/tm/" + store).body, nullptr, false);
    EXPECT_EQ(info["segment_count"], kInitial + static_cast<int64_t>(acknowledged.size()))
        << info.dump();
    const std::string source_db = from == "main" ? home : std::string(status_["tm_shards"][from]);
    const std::string target_db = std::string(status_["tm_shards"][to]);
    const std::string count_sql =
        "SELECT count(*) FROM tm_segments s JOIN tm_stores t ON t.num = s.store_num WHERE t.id = "
        "'" +
        store + "'";
    EXPECT_EQ(Psql(source_db, count_sql), 0);
    EXPECT_EQ(Psql(target_db, count_sql), kInitial + static_cast<int64_t>(acknowledged.size()));
    // The TM nodes' indexes followed: every acknowledged segment is found, exactly.
    int64_t missing = 0;
    for (const auto& [id, source] : acknowledged) {
      HttpResponse r = Call("POST", "/v1/tm/" + store + "/lookup", json{{"source", source}});
      json j = json::parse(r.body, nullptr, false);
      if (r.status != 200 || j["matches"].empty() || j["matches"][0]["segment"]["id"] != id) {
        ++missing;
      }
    }
    EXPECT_EQ(missing, 0);
    std::printf(
        "store moved from TM shard %s to %s while written: %lld writes acknowledged during the "
        "move, %lld in all (%lld of them deletes), 0 lost; %lld of %lld lookups of the latest "
        "write found it\n%s",
        from.c_str(), to.c_str(), static_cast<long long>(during),
        static_cast<long long>(acknowledged.size() + deleted), static_cast<long long>(deleted),
        static_cast<long long>(found), static_cast<long long>(lookups), moved.err.c_str());
  }

  std::string dir_, key_;
  json status_;
  int front_ = 0;
  std::vector<std::string> stores_;
};

TEST_F(ClusterTest, StoresAnswerThroughTheirNodesWhileNodesJoinAndDie) {
  for (int i = 0; i < kStores; ++i) {
    HttpResponse made =
        Call("POST", "/v1/tm",
             json{{"name", "s" + std::to_string(i)}, {"source_lang", "en"}, {"target_lang", "es"}});
    ASSERT_EQ(made.status, 201) << made.body;
    stores_.push_back(json::parse(made.body)["id"]);
    json segments = json::array();
    for (int j = 0; j < kSegments; ++j) {
      segments.push_back(
          {{"source", "Sentence " + std::to_string(j) + " of store " + std::to_string(i)},
           {"target", "Frase " + std::to_string(j) + " " + std::to_string(i)}});
    }
    // Through the front: possibly another API process than the one that made the store.
    HttpResponse added =
        Call("POST", "/v1/tm/" + stores_.back() + "/segments/batch", json{{"segments", segments}});
    ASSERT_EQ(added.status, 200) << added.body;
  }
  // Every store answers, exactly.
  for (int i = 0; i < kStores; ++i) {
    HttpResponse r = Call("POST", "/v1/tm/" + stores_[i] + "/lookup",
                          json{{"source", "Sentence 4 of store " + std::to_string(i)}});
    ASSERT_EQ(r.status, 200) << r.body;
    json j = json::parse(r.body);
    ASSERT_FALSE(j["matches"].empty()) << stores_[i];
    EXPECT_EQ(j["matches"][0]["score"], 100);
    EXPECT_EQ(j["matches"][0]["segment"]["target"], "Frase 4 " + std::to_string(i));
  }
  // A job's pre-translation, run by a worker process, asks the TM nodes too.
  {
    const std::string boundary = "cluster-job-boundary";
    const std::string xliff =
        "<?xml version=\"1.0\"?>\n<xliff xmlns=\"urn:oasis:names:tc:xliff:document:2.0\" "
        "version=\"2.0\" srcLang=\"en\"><file id=\"f\"><unit id=\"u1\"><segment><source>"
        "Sentence 2 of store 7</source></segment></unit><unit id=\"u2\"><segment><source>The "
        "house is red.</source></segment></unit></file></xliff>\n";
    std::string body;
    for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"target_langs", "es"}, {"tm_store", stores_[7]}}) {
      body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name +
              "\"\r\n\r\n" + value + "\r\n";
    }
    body += "--" + boundary +
            "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"doc.xlf\"\r\n"
            "Content-Type: application/xliff+xml\r\n\r\n" +
            xliff + "\r\n--" + boundary + "--\r\n";
    HttpResponse submitted = Fetch(front_, "POST", "/v1/jobs", body,
                                   {{"Authorization", "Bearer " + key_},
                                    {"Content-Type", "multipart/form-data; boundary=" + boundary}});
    ASSERT_EQ(submitted.status, 202) << submitted.body;
    const std::string job = json::parse(submitted.body)["id"];
    json status;
    for (int i = 0; i < 600; ++i) {
      status = json::parse(Call("GET", "/v1/jobs/" + job).body, nullptr, false);
      if (status["status"] == "post_editing" || status["status"] == "completed" ||
          status["status"] == "failed") {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_NE(status["status"], "failed") << status.dump();
    EXPECT_EQ(status["counts"]["tm"], 1) << status.dump();
    EXPECT_EQ(status["counts"]["mt"], 1) << status.dump();
  }

  // /v1/status says where lookups go (counts only; no node's address).
  {
    json st = json::parse(Call("GET", "/v1/status").body, nullptr, false);
    EXPECT_EQ(st["tm_index"]["mode"], "nodes") << st.dump();
    EXPECT_EQ(st["tm_index"]["nodes"], 3);
    EXPECT_GT(st["tm_index"]["asks"].get<int64_t>(), 0);
    for (const auto& url : status_["tm_urls"]) {
      const std::string address = std::string(url).substr(std::string("http://").size());
      EXPECT_EQ(st.dump().find(address), std::string::npos) << address;
    }
  }

  // Each store on two of the three nodes (R = 2), every node with a share.
  ASSERT_TRUE(LookupsUntil([&] { return Settled(status_["tm_urls"], 3); }).failed == 0);
  for (const auto& url : status_["tm_urls"]) {
    const int64_t owned = ClusterMetrics(url)["stores_owned"];
    EXPECT_GT(owned, 0) << url;
    std::printf("3 nodes: %s owns %lld stores\n", std::string(url).c_str(),
                static_cast<long long>(owned));
  }

  // A fourth node joins while lookups run: it takes about a quarter, nothing fails. One of the
  // stores it takes holds 100,000 segments more, so that its index takes a while to build: its
  // old owner answers meanwhile.
  const int big = MoverToFourthNode();
  ASSERT_GE(big, 0);
  ImportBig(big, 100000);
  const int64_t retries_before_join = Sum("api_urls", "retries");
  std::atomic<bool> joined{false};
  json after_join;
  std::thread join([&] {
    RunResult added = Script({"add", "tm"});
    EXPECT_EQ(added.exit_code, 0) << added.err;
    after_join = json::parse(added.out, nullptr, false);
    joined = true;
  });
  Load joining = LookupsUntil([&] { return joined && Settled(after_join["tm_urls"], 4); }, big);
  join.join();
  status_ = after_join;
  ASSERT_EQ(status_["tm_urls"].size(), 4u);
  EXPECT_EQ(joining.failed, 0) << joining.first_failure;
  const int64_t moved = ClusterMetrics(status_["tm_urls"][3])["stores_owned"];
  EXPECT_GT(moved, 0);
  EXPECT_EQ(Sum("tm_urls", "moves_out"), moved);  // each store it took, its old owner gave up
  std::printf(
      "fourth node: %lld of %d store copies moved (%.1f %%; ideal 25 %%); %lld lookups, "
      "%lld retried on another node\n",
      static_cast<long long>(moved), 2 * kStores, 100.0 * moved / (2 * kStores),
      static_cast<long long>(joining.ok),
      static_cast<long long>(Sum("api_urls", "retries") - retries_before_join));

  // One node SIGKILLed under load: lookups it was answering are retried on the store's other
  // owner; once its heartbeat expires (5 s) its stores get a second owner again.
  const int64_t retries_before_kill = Sum("api_urls", "retries");
  const int victim = status_["tm_pids"][0];
  const std::string victim_url = status_["tm_urls"][0];
  json survivors = status_["tm_urls"];
  survivors.erase(0);
  const auto killed_at = Clock::now();
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  double settled_after = -1;
  Load killing = LookupsUntil([&] {
    if (!Settled(survivors, 3)) return false;
    settled_after = std::chrono::duration<double>(Clock::now() - killed_at).count();
    return true;
  });
  EXPECT_GT(settled_after, 0) << "the survivors never placed the victim's stores again";
  EXPECT_EQ(killing.failed, 0) << killing.first_failure;
  EXPECT_GT(killing.ok, 0);
  const int64_t retried = Sum("api_urls", "retries") - retries_before_kill;
  EXPECT_GT(retried, 0);  // some lookups did go to the dead node first
  EXPECT_EQ(Sum("api_urls", "failures"), 0);
  std::printf(
      "node %s killed: %lld lookups, none failed, %lld retried on another owner; every "
      "store on two nodes again %.1f s after the kill\n",
      victim_url.c_str(), static_cast<long long>(killing.ok), static_cast<long long>(retried),
      settled_after);

  MoveAStoreBetweenDatabaseShardsWhileItIsWritten();
}

}  // namespace
}  // namespace verso::test
