// Drill: an operator's mistake wipes the TM, and the database is recovered to the moment before
// it. On PostgreSQL, scripts/pitr runs PostgreSQL archiving its WAL into a pgBackRest repository
// (real Debian packages on 127.0.0.1); on SQLite, verso's own backup and change log. Segments are
// added through the API before and after `verso backup`; a target time is taken; more segments
// follow; then every segment is deleted. `verso restore --to TARGET` and a restart bring back
// exactly what was acknowledged before the target and nothing after it. Measured beside the
// platform spec's backup rows: the time from the stop to the first write accepted again (complete
// rebuild < 4 h), and the acknowledged writes lost (RPO < 1 h).
//
// Bounded for CI: 150 segments per phase. VERSO_DRILL_SEGMENTS makes it bigger (`make drills`).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/drills/drill.h"
#include "tests/http_client.h"
#include "tests/process.h"
#include "tests/verso_server.h"

namespace verso::test {
namespace {

using json = nlohmann::json;

class RecoveryDrill : public ::testing::TestWithParam<bool> {
 protected:
  bool postgres() const { return GetParam(); }
  void SetUp() override {
    if (!postgres()) return;
    pitr_dir_ = ::testing::TempDir() + "/drill_pitr_" + std::to_string(getpid());
    RunResult up = Pitr({"up"});
    ASSERT_EQ(up.exit_code, 0) << up.err;
    json status = json::parse(up.out, nullptr, false);
    ASSERT_TRUE(status.is_object()) << up.out;
    url_ = status["url"];
    env_ = {"VERSO_STORAGE_PGBACKREST_STANZA=" + status["stanza"].get<std::string>(),
            "VERSO_STORAGE_PGBACKREST_COMMAND=" + status["pgbackrest"].get<std::string>()};
  }
  void TearDown() override {
    StopServer();
    if (postgres()) {
      RunResult down = Pitr({"down"});
      EXPECT_EQ(down.exit_code, 0) << down.err;
    }
    if (!HasFailure() && !dir_.empty()) std::filesystem::remove_all(dir_);
  }

  RunResult Pitr(std::vector<std::string> args) {
    args.insert(args.begin(), std::string(VERSO_SOURCE_DIR) + "/scripts/pitr");
    return test::Run(args, {"VERSO_PITR_DIR=" + pitr_dir_});
  }
  RunResult Verso(std::vector<std::string> args) {
    args.insert(args.begin(), {VERSO_BINARY, "--data-dir", dir_});
    return test::Run(args, env_);
  }
  void StartServer() {
    ServerOptions options;
    options.settings = {"rate_limit.rps=0"};
    options.env = env_;
    options.stderr_path = dir_ + "/server.log";
    server_ = std::make_unique<VersoServer>(dir_, options);
    ASSERT_GT(server_->port(), 0);
  }
  void StopServer() {
    if (server_ == nullptr) return;
    server_->Signal(SIGTERM);
    EXPECT_EQ(server_->Wait(), 0);
    server_.reset();
  }
  HttpResponse Call(const std::string& method, const std::string& path, const json& body = {}) {
    return Fetch(server_->port(), method, path, body.is_null() ? "" : body.dump(),
                 {{"Authorization", "Bearer " + key_}, {"Content-Type", "application/json"}});
  }
  // Adds `n` segments named "<phase> N"; the sources acknowledged.
  std::vector<std::string> Add(const std::string& phase, int n) {
    std::vector<std::string> acked;
    for (int i = 0; i < n; ++i) {
      const std::string source = phase + " segment " + std::to_string(i);
      HttpResponse r = Call("POST", "/v1/tm/" + store_ + "/segments",
                            json{{"source", source}, {"target", "segmento " + source}});
      EXPECT_EQ(r.status, 201) << r.body;
      if (r.status == 201) acked.push_back(source);
    }
    return acked;
  }
  RunResult Sql(const std::string& sql) {
    return postgres() ? Pitr({"psql", sql})
                      : test::Run({"/usr/bin/sqlite3", dir_ + "/verso.db", sql});
  }
  std::set<std::string> Stored() {
    RunResult rows = Sql("SELECT source FROM tm_segments");
    EXPECT_EQ(rows.exit_code, 0) << rows.err;
    std::set<std::string> out;
    for (size_t at = 0, nl; (nl = rows.out.find('\n', at)) != std::string::npos; at = nl + 1) {
      out.insert(rows.out.substr(at, nl - at));
    }
    return out;
  }
  int Score(const std::string& source) {
    HttpResponse r = Call("POST", "/v1/tm/" + store_ + "/lookup", json{{"source", source}});
    json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object() || !j["matches"].is_array() || j["matches"].empty()) {
      return 0;
    }
    return j["matches"][0]["score"];
  }

  std::string pitr_dir_, url_, dir_, key_, store_;
  std::vector<std::string> env_;
  std::unique_ptr<VersoServer> server_;
};

TEST_P(RecoveryDrill, AWipedTmIsRecoveredToJustBeforeTheMistake) {
  const int n = EnvInt("VERSO_DRILL_SEGMENTS", 150);
  dir_ = ::testing::TempDir() + "/drill_recovery_" + std::to_string(getpid());
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_ + "/backups");
  if (postgres()) std::ofstream(dir_ + "/.storage_url") << url_ << "\n";
  ASSERT_EQ(Verso({"migrate"}).exit_code, 0);
  key_ = CreateKey(dir_, "acme", "tm:read,tm:write");
  ASSERT_FALSE(key_.empty());
  ASSERT_NO_FATAL_FAILURE(StartServer());
  HttpResponse created =
      Call("POST", "/v1/tm", json{{"name", "Drill"}, {"source_lang", "en"}, {"target_lang", "es"}});
  ASSERT_EQ(created.status, 201) << created.body;
  store_ = json::parse(created.body)["id"];

  // Before the backup, then only in the WAL archive, then after the target.
  std::vector<std::string> before = Add("before-backup", n);
  const Clock::time_point backup_start = Clock::now();
  const std::string backup_file = dir_ + "/backups/verso.db";
  RunResult backup = postgres() ? Verso({"backup"}) : Verso({"backup", backup_file});
  ASSERT_EQ(backup.exit_code, 0) << backup.err << backup.out;
  EXPECT_NE(backup.out.find(postgres() ? "Backed up with pgBackRest" : "Backed up to"),
            std::string::npos)
      << backup.out;
  const double backup_seconds = Seconds(Clock::now() - backup_start);
  // pgBackRest keeps a backup's end in whole seconds: a target in the same second as the end
  // finds no backup before it.
  if (postgres()) std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  std::vector<std::string> archived = Add("after-backup", n);
  before.insert(before.end(), archived.begin(), archived.end());
  // Every write acknowledged so far committed before this instant; every later one after it.
  const absl::Time target = absl::Now();
  std::vector<std::string> later = Add("after-target", n / 3);

  // The mistake: the whole TM deleted behind verso's back.
  ASSERT_EQ(Sql("DELETE FROM tm_segments").exit_code, 0);
  ASSERT_EQ(Stored().size(), 0u);

  // Recovery: stop verso (and PostgreSQL), restore to the target, start again.
  const Clock::time_point recovery_start = Clock::now();
  StopServer();
  if (postgres()) ASSERT_EQ(Pitr({"stop"}).exit_code, 0);
  const std::string to = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", target, absl::UTCTimeZone());
  const Clock::time_point restore_start = Clock::now();
  RunResult restored = postgres() ? Verso({"restore", "--to", to})
                                  : Verso({"restore", backup_file, "--to", to, "--force"});
  ASSERT_EQ(restored.exit_code, 0) << restored.err << restored.out;
  const double restore_seconds = Seconds(Clock::now() - restore_start);
  const Clock::time_point replay_start = Clock::now();
  if (postgres()) {
    RunResult started = Pitr({"start"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
  }
  const double replay_seconds = Seconds(Clock::now() - replay_start);
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string probe = "after recovery";
  HttpResponse write = Call("POST", "/v1/tm/" + store_ + "/segments",
                            json{{"source", probe}, {"target", "tras la recuperación"}});
  ASSERT_EQ(write.status, 201) << write.body;
  const double rebuild_seconds = Seconds(Clock::now() - recovery_start);

  // Exactly what was acknowledged before the target, and the probe.
  std::set<std::string> stored = Stored();
  int missing = 0, leaked = 0;
  for (const auto& s : before) missing += stored.count(s) == 0 ? 1 : 0;
  for (const auto& s : later) leaked += stored.count(s) != 0 ? 1 : 0;
  EXPECT_EQ(missing, 0) << "acknowledged writes before the target are missing";
  EXPECT_EQ(leaked, 0) << "writes after the target came back";
  EXPECT_EQ(stored.size(), before.size() + 1);
  // verso serves the recovered TM, not an index of what it held before the restart.
  EXPECT_EQ(Score(before.front()), 100);
  EXPECT_EQ(Score(before.back()), 100);
  EXPECT_LT(Score(later.front()), 100);
  HttpResponse info = Call("GET", "/v1/tm/" + store_);
  EXPECT_EQ(json::parse(info.body, nullptr, false)["segment_count"], before.size() + 1)
      << info.body;
  RunResult verified = Verso({"audit", "verify"});
  EXPECT_EQ(verified.exit_code, 0) << verified.err << verified.out;

  if (postgres()) {
    std::printf(
        "drill pg-pitr: %zu segments acknowledged before the target (%d in the full backup, the "
        "rest only in the WAL archive), %zu after it; then every segment deleted\n"
        "  full backup (pgBackRest, while serving): %.1f s\n"
        "  recovery: restore %.1f s + WAL replay to the target and promotion %.1f s; stop to "
        "first write accepted again %.1f s   spec: complete rebuild < 4 h\n"
        "  data lost: %d of %zu acknowledged writes before the target; %d writes after it came "
        "back   spec: RPO < 1 h (a lost pg_wal costs at most archive_timeout, 10 s)\n",
        before.size(), n, later.size(), backup_seconds, restore_seconds, replay_seconds,
        rebuild_seconds, missing, before.size(), leaked);
  } else {
    std::printf(
        "drill sqlite-pitr: %zu segments acknowledged before the target (%d in the backup, the "
        "rest only in the change log), %zu after it; then every segment deleted\n"
        "  backup (verso backup, while serving): %.2f s\n"
        "  recovery: restore with the change log applied %.2f s; stop to first write accepted "
        "again %.1f s   spec: complete rebuild < 4 h\n"
        "  data lost: %d of %zu acknowledged writes before the target; %d writes after it came "
        "back   spec: RPO < 1 h\n",
        before.size(), n, later.size(), backup_seconds, restore_seconds, rebuild_seconds, missing,
        before.size(), leaked);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, RecoveryDrill, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "PostgreSQL" : "SQLite"; });

}  // namespace
}  // namespace verso::test
