// Fault drills against the real binary on SQLite, each printing its figures: verso killed with
// SIGKILL in the middle of a TMX import, in each stage of a job and while a webhook is being
// delivered; the data directory's disk filling up (a small tmpfs) and space coming back.
//
// Bounded for CI; VERSO_DRILL_UNITS (TMX units) and VERSO_DRILL_SEGMENTS (job segments) make
// them bigger (`make drills`).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/file.h"
#include "tests/drills/drill.h"
#include "tests/fake_http_server.h"
#include "tests/http_client.h"
#include "tests/process.h"
#include "tests/verso_server.h"
#include "text/text.h"

namespace verso::test {
namespace {

using json = nlohmann::json;

std::vector<std::string> Lines(const std::string& path) {
  return absl::StrSplit(ReadFile(path).value_or(""), '\n', absl::SkipEmpty());
}

// `n` distinct English sentences (FLORES devtest, numbered once the file runs out), with their
// Spanish translations.
std::vector<std::pair<std::string, std::string>> Sentences(int n) {
  const std::string flores = std::string(VERSO_SHARED_DATA) + "/mt/flores101-devtest/";
  const std::vector<std::string> en = Lines(flores + "eng.devtest");
  const std::vector<std::string> es = Lines(flores + "spa.devtest");
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < n && !en.empty(); ++i) {
    const size_t k = i % en.size();
    const std::string suffix =
        i < static_cast<int>(en.size()) ? "" : " (" + std::to_string(i) + ")";
    out.emplace_back(en[k] + suffix, es[k] + suffix);
  }
  return out;
}

class FaultDrill : public ServerTest {
 protected:
  FaultDrill() : ServerTest("drill_fault") {}
  void SetUp() override { ServerTest::SetUp(); }
  void Boot(std::vector<std::string> settings = {}) {
    settings.insert(settings.end(), {"jobs.lease=2s", "webhooks.allow=127.0.0.1"});
    settings_ = settings;
    ASSERT_NO_FATAL_FAILURE(Start(settings_));
    if (key_.empty()) key_ = CreateKey(dir_, "acme", "admin");
    ASSERT_FALSE(key_.empty());
  }
  // SIGKILL, then a restart on the same directory; the time until it answers /readyz.
  double KillAndRestart() {
    server_->Signal(SIGKILL);
    EXPECT_EQ(server_->Wait(), 128 + SIGKILL);
    server_.reset();
    const Clock::time_point start = Clock::now();
    Start(settings_);
    return Seconds(Clock::now() - start);
  }
  HttpResponse Call(const std::string& method, const std::string& path,
                    const std::string& body = "", const std::string& type = "application/json") {
    return Send(method, path, key_, body, type);
  }
  json Get(const std::string& path) {
    HttpResponse r = Call("GET", path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  std::string NewStore() {
    HttpResponse r =
        Call("POST", "/v1/tm", R"({"name":"drill","source_lang":"en","target_lang":"es"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body)["id"];
  }
  // Polls `path` until `done` says so (or `seconds` pass); the last answer.
  json WaitFor(const std::string& path, const std::function<bool(const json&)>& done,
               double seconds) {
    json last;
    const Clock::time_point until = Clock::now() + std::chrono::milliseconds(int(seconds * 1000));
    while (Clock::now() < until) {
      last = Get(path);
      if (done(last)) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << path << " did not get there in " << seconds << " s: " << last.dump();
    return last;
  }

  std::vector<std::string> settings_;
  std::string key_;
};

TEST_F(FaultDrill, ATmxImportKilledMidwayResumesAndEndsWithEveryUnitOnce) {
  const int n = EnvInt("VERSO_DRILL_UNITS", 20000);
  ASSERT_NO_FATAL_FAILURE(Boot());
  std::string tmx =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tmx version=\"1.4\"><header creationtool=\"d\" "
      "creationtoolversion=\"1\" segtype=\"sentence\" o-tmf=\"x\" adminlang=\"en\" srclang=\"en\" "
      "datatype=\"plaintext\"/><body>\n";
  for (const auto& [en, es] : Sentences(n)) {
    tmx += "<tu><tuv xml:lang=\"en\"><seg>" + text::EscapeText(en) +
           "</seg></tuv><tuv xml:lang=\"es\"><seg>" + text::EscapeText(es) + "</seg></tuv></tu>\n";
  }
  tmx += "</body></tmx>\n";
  const std::string store = NewStore();
  HttpResponse started = Call("POST", "/v1/tm/" + store + "/imports", tmx, "application/x-tmx+xml");
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string path =
      "/v1/tm/" + store + "/imports/" + json::parse(started.body)["id"].get<std::string>();
  const Clock::time_point sent = Clock::now();
  // Killed once part of the file is in.
  json at_kill = WaitFor(
      path, [](const json& j) { return j["units"].get<int64_t>() > 0; }, 60);
  const double killed_after = Seconds(Clock::now() - sent);
  const int64_t units_at_kill = at_kill["units"];
  ASSERT_EQ(at_kill["status"], "running") << at_kill.dump();
  const double restart = KillAndRestart();
  const Clock::time_point restarted = Clock::now();
  json done = WaitFor(
      path, [](const json& j) { return j["status"] != "running"; }, 120);
  const double resumed_in = Seconds(Clock::now() - restarted);
  EXPECT_EQ(done["status"], "succeeded") << done.dump();
  json info = Get("/v1/tm/" + store);
  const int64_t stored = info["segment_count"];
  EXPECT_EQ(stored, n);  // every unit once: none lost, none twice
  RunResult verified = test::Run({VERSO_BINARY, "--data-dir", dir_, "audit", "verify"});
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  std::printf(
      "drill kill-import: %d units (%zu KiB); SIGKILL %.2f s in, at %lld units\n"
      "  restarted (to /readyz) in %.2f s; the import resumed by itself and ended %.2f s later: "
      "%s\n  TM: %lld segments = %d units, %lld lost, %lld twice\n",
      n, tmx.size() / 1024, killed_after, static_cast<long long>(units_at_kill), restart,
      resumed_in, done["status"].get<std::string>().c_str(), static_cast<long long>(stored), n,
      static_cast<long long>(std::max<int64_t>(0, n - stored)),
      static_cast<long long>(std::max<int64_t>(0, stored - n)));
}

TEST_F(FaultDrill, AJobKilledInEachStageFinishesWithEverySegmentOnce) {
  const int n = EnvInt("VERSO_DRILL_SEGMENTS", 600);
  ASSERT_NO_FATAL_FAILURE(Boot());
  const std::string store = NewStore();
  std::printf("drill kill-job: %d segments per job, one job killed per stage\n", n);
  int job_number = 0;
  for (const std::string stage : {"analyse", "pretranslate", "mt", "review"}) {
    // Each job its own sentences, so that none is answered from an earlier job's TM entries.
    json segments = json::array();
    for (const auto& [en, es] : Sentences(n * (job_number + 1))) segments.push_back(en);
    segments.erase(segments.begin(), segments.begin() + n * job_number);
    ++job_number;
    json body = {{"source_lang", "en"},
                 {"target_langs", {"es"}},
                 {"segments", segments},
                 {"tm_store", store}};
    HttpResponse submitted = Call("POST", "/v1/jobs", body.dump());
    ASSERT_EQ(submitted.status / 100, 2) << submitted.body;
    const std::string id = json::parse(submitted.body)["id"];
    const Clock::time_point sent = Clock::now();
    // Killed as soon as the stage is seen running (a later one if it was too quick to see).
    std::string killed_in = "?";
    for (int i = 0; i < 20000 && killed_in == "?"; ++i) {
      json job = Get("/v1/jobs/" + id);
      bool past = false;
      for (const auto& s : job["stages"]) {
        if (s["name"] == stage && s["state"] == "done") past = true;
        if (s["state"] == "running" && (s["name"] == stage || past)) killed_in = s["name"];
      }
      if (killed_in == "?" && job["status"] != "queued" && job["status"] != "running") {
        killed_in = "after the stages (" + job["status"].get<std::string>() + ")";
      }
    }
    const double killed_after = Seconds(Clock::now() - sent);
    const double restart = KillAndRestart();
    const Clock::time_point restarted = Clock::now();
    json job = WaitFor(
        "/v1/jobs/" + id,
        [](const json& j) {
          return j["status"] == "post_editing" || j["status"] == "completed" ||
                 j["status"] == "failed";
        },
        180);
    const double finished_in = Seconds(Clock::now() - restarted);
    EXPECT_NE(job["status"], "failed") << job.dump();
    EXPECT_EQ(job["counts"]["segments"], n) << job.dump();
    // Every segment once, each with a translation.
    std::set<int64_t> seen;
    int translated = 0, listed = 0;
    std::string cursor;
    do {
      json page = Get("/v1/jobs/" + id + "/segments?limit=500" +
                      (cursor.empty() ? "" : "&cursor=" + cursor));
      for (const auto& s : page["segments"]) {
        ++listed;
        seen.insert(s["index"].get<int64_t>());
        if (!s["target"].get<std::string>().empty()) ++translated;
      }
      cursor = page["next_cursor"].is_string() ? page["next_cursor"].get<std::string>() : "";
    } while (!cursor.empty());
    EXPECT_EQ(listed, n);
    EXPECT_EQ(static_cast<int>(seen.size()), n);
    EXPECT_EQ(translated, n);
    std::printf(
        "  wanted %-12s killed in %-12s %.2f s after submission; restarted in %.2f s; %s %.2f s "
        "later; %d segments, %d translated, %d lost, %d twice\n",
        stage.c_str(), killed_in.c_str(), killed_after, restart,
        job["status"].get<std::string>().c_str(), finished_in, listed, translated,
        n - static_cast<int>(seen.size()), listed - static_cast<int>(seen.size()));
  }
}

TEST_F(FaultDrill, AWebhookInFlightWhenVersoDiesIsDeliveredAfterTheRestart) {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> deliveries;  // event, delivery id
  std::atomic<bool> hold_first{true};
  FakeHttpServer receiver([&](const FakeRequest& r) {
    {
      std::lock_guard<std::mutex> lock(mu);
      deliveries.emplace_back(r.Header("x-verso-event"), r.Header("x-verso-delivery"));
    }
    FakeResponse answer;
    answer.body = "{}";
    if (hold_first.exchange(false)) answer.hang = true;  // verso dies waiting for this one
    return answer;
  });
  ASSERT_NO_FATAL_FAILURE(Boot({"jobs.webhook_timeout=30s"}));
  json body = {{"source_lang", "en"},
               {"target_langs", {"es"}},
               {"segments", {"The house is red.", "Open the file."}},
               {"qe_threshold", 0},  // every translation approved: the job completes at once
               {"webhook_url", receiver.url() + "/hook"}};
  HttpResponse submitted = Call("POST", "/v1/jobs", body.dump());
  ASSERT_EQ(submitted.status / 100, 2) << submitted.body;
  for (int i = 0; i < 3000 && receiver.request_count() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(receiver.request_count(), 0) << "no delivery started";
  const double restart = KillAndRestart();
  const Clock::time_point restarted = Clock::now();
  for (int i = 0; i < 3000 && receiver.request_count() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double redelivered = Seconds(Clock::now() - restarted);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_GE(deliveries.size(), 2u) << "the delivery cut by the kill was not made again";
  // The same delivery again (its id lets the receiver drop a duplicate), not a new event.
  EXPECT_EQ(deliveries[1].first, deliveries[0].first);
  EXPECT_EQ(deliveries[1].second, deliveries[0].second);
  std::printf(
      "drill kill-webhook: verso SIGKILLed while %s (%s) waited for its answer; restarted in "
      "%.2f s; delivered again %.2f s later with the same delivery id; %zu deliveries in all\n",
      deliveries[0].first.c_str(), deliveries[0].second.c_str(), restart, redelivered,
      deliveries.size());
}

// The data directory on a tmpfs of its own, small enough to fill.
class DiskFullDrill : public FaultDrill {
 protected:
  void SetUp() override {
    FaultDrill::SetUp();
    RunResult mounted =
        test::Run({"/usr/bin/mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir_});
    if (mounted.exit_code != 0)
      GTEST_SKIP() << "mounting a tmpfs needs root (exit " << mounted.exit_code
                   << "): " << mounted.err;
    mounted_ = true;
  }
  void TearDown() override {
    if (server_ != nullptr) {
      server_->Signal(SIGTERM);
      EXPECT_EQ(server_->Wait(), 0);
      server_.reset();
    }
    if (mounted_) EXPECT_EQ(test::Run({"/usr/bin/umount", dir_}).exit_code, 0);
    FaultDrill::TearDown();
  }
  bool mounted_ = false;
};

TEST_F(DiskFullDrill, AFullDiskRefusesWritesClearlyLosesNothingAndRecovers) {
  ASSERT_NO_FATAL_FAILURE(Boot());
  const std::string store = NewStore();
  // A backup off the full disk: the change log must bring it to the end, full disk and all.
  const std::string backup = dir_ + ".backup.db";
  std::filesystem::remove(backup);
  RunResult backed_up = test::Run({VERSO_BINARY, "--data-dir", dir_, "backup", backup});
  ASSERT_EQ(backed_up.exit_code, 0) << backed_up.err;
  // Batches of 50 segments of ~600 bytes until the disk refuses several in a row.
  int64_t acked = 0, batches = 0;
  std::map<int, int> refused;
  std::string refusal;
  int in_a_row = 0;
  auto batch = [&](int64_t number) {
    json segments = json::array();
    for (int i = 0; i < 50; ++i) {
      const std::string text = "segment " + std::to_string(number) + "." + std::to_string(i) + " " +
                               std::string(600, 'a' + (number + i) % 26);
      segments.push_back({{"source", text}, {"target", "es " + text}});
    }
    return json{{"segments", segments}}.dump();
  };
  while (in_a_row < 5 && batches < 2000) {
    HttpResponse r = Call("POST", "/v1/tm/" + store + "/segments/batch", batch(batches));
    if (r.status / 100 == 2) {
      acked += 50;
      ++batches;
      in_a_row = 0;
    } else {
      ++refused[r.status];
      ++in_a_row;
      if (refusal.empty()) refusal = std::to_string(r.status) + " " + r.body;
    }
  }
  ASSERT_EQ(in_a_row, 5) << "the disk never filled";
  // Full: writes are refused with a status that says so and may be retried; reads go on.
  EXPECT_EQ(refused.size(), 1u) << refusal;
  EXPECT_EQ(refused.begin()->first, 507) << refusal;
  EXPECT_NE(refusal.find("insufficient_storage"), std::string::npos) << refusal;
  HttpResponse upload = Call("POST", "/v1/tm/" + store + "/imports", std::string(2 << 20, ' '),
                             "application/x-tmx+xml");
  EXPECT_EQ(upload.status, 507) << upload.body;
  EXPECT_EQ(Get("/v1/tm/" + store)["segment_count"], acked);
  EXPECT_EQ(test::Fetch(server_->port(), "GET", "/healthz").status, 200);

  // Space comes back: the same writes succeed, without a restart.
  ASSERT_EQ(test::Run({"/usr/bin/mount", "-o", "remount,size=64m", dir_}).exit_code, 0);
  int64_t after = 0;
  for (int i = 0; i < 10; ++i) {
    HttpResponse r = Call("POST", "/v1/tm/" + store + "/segments/batch", batch(batches + i));
    EXPECT_EQ(r.status / 100, 2) << r.body;
    if (r.status / 100 == 2) after += 50;
  }
  EXPECT_EQ(Get("/v1/tm/" + store)["segment_count"], acked + after);
  RunResult check = test::Run({"/usr/bin/sqlite3", dir_ + "/verso.db", "PRAGMA integrity_check"});
  EXPECT_EQ(check.out, "ok\n") << check.err;
  RunResult audit = test::Run({VERSO_BINARY, "--data-dir", dir_, "audit", "verify"});
  EXPECT_EQ(audit.exit_code, 0) << audit.err;
  // Every acknowledged write is in the change log too: the backup brought forward to now holds
  // them all (a transaction whose log append found the disk full went with the next one).
  server_->Signal(SIGTERM);
  EXPECT_EQ(server_->Wait(), 0);
  server_.reset();
  const std::string now =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
  RunResult restored =
      test::Run({VERSO_BINARY, "--data-dir", dir_, "restore", backup, "--to", now, "--force"});
  EXPECT_EQ(restored.exit_code, 0) << restored.err << restored.out;
  RunResult count =
      test::Run({"/usr/bin/sqlite3", dir_ + "/verso.db", "SELECT count(*) FROM tm_segments"});
  EXPECT_EQ(count.out, std::to_string(acked + after) + "\n") << count.err;
  std::filesystem::remove(backup);
  std::filesystem::remove(backup + ".manifest");
  int total_refused = 0;
  for (const auto& [status, n] : refused) total_refused += n;
  std::printf(
      "drill disk-full: data directory on a 4 MiB tmpfs; %lld segments acknowledged in %lld "
      "batches before it filled; %d writes refused: %s\n"
      "  while full: reads answer, an upload is refused (%d), nothing acknowledged is lost\n"
      "  space back (remount 64 MiB): %lld more segments acknowledged at once, no restart; "
      "integrity_check %s, audit log intact: %s; the backup brought forward with the change "
      "log holds %s segments\n",
      static_cast<long long>(acked), static_cast<long long>(batches), total_refused,
      refusal.substr(0, 160).c_str(), upload.status, static_cast<long long>(after),
      check.out.substr(0, check.out.find('\n')).c_str(), audit.exit_code == 0 ? "yes" : "no",
      count.out.substr(0, count.out.find('\n')).c_str());
}

}  // namespace
}  // namespace verso::test
