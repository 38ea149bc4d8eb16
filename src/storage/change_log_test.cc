// The SQLite change log and restores to a time (storage.h: RestoreSqlite, SqliteOptions::
// change_log): every row of every table after a restore to T is what the database held at T.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "storage/storage.h"

namespace verso::storage {
namespace {

// Every row of every table but SQLite's own and the change log's bookkeeping, as text.
std::string Dump(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::vector<std::string> tables;
  auto collect = [](void* out, int n, char** values, char**) {
    std::string row;
    for (int i = 0; i < n; ++i) row += std::string(values[i] ? values[i] : "NULL") + "|";
    static_cast<std::vector<std::string>*>(out)->push_back(row);
    return 0;
  };
  sqlite3_exec(db,
               "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
               "ORDER BY name",
               collect, &tables, nullptr);
  std::string out;
  for (std::string table : tables) {
    table.pop_back();  // the '|'
    std::vector<std::string> rows;
    const std::string sql =
        table == "cluster_settings"
            ? "SELECT * FROM cluster_settings WHERE name NOT IN ('change_log.id', "
              "'backup.change_seq')"
            : "SELECT * FROM \"" + table + "\"";
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), collect, &rows, &error), SQLITE_OK)
        << table << ": " << (error ? error : "");
    sqlite3_free(error);
    std::sort(rows.begin(), rows.end());
    out += "== " + table + "\n";
    for (const auto& r : rows) out += r + "\n";
  }
  sqlite3_close(db);
  return out;
}

class ChangeLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/change_log_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = dir_ + "/verso.db";
    log_ = DefaultChangeLog(path_);
  }
  void TearDown() override {
    db_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<Database> Open(bool with_log = true, int64_t file_bytes = 16 << 20) {
    auto db = OpenSqlite(path_, {.synchronous_full = false,
                                 .read_connections = 2,
                                 .change_log = with_log ? log_ : "",
                                 .change_log_file_bytes = file_bytes});
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(*db) : nullptr;
  }
  static TmStoreRecord Store(const std::string& id) {
    TmStoreRecord r;
    r.id = id;
    r.tenant = "acme";
    r.name = id;
    r.source_lang = "en";
    r.target_lang = "es";
    r.created_at = absl::FromUnixSeconds(1'700'000'000);
    return r;
  }
  static std::vector<int64_t> Put(Database* db, const std::string& store,
                                  const std::vector<std::string>& sources) {
    auto w = db->tm().BeginWrite(store);
    EXPECT_TRUE(w.ok()) << w.status();
    std::vector<int64_t> ids;
    for (const auto& source : sources) {
      SegmentRecord s;
      s.source = source;
      s.target = "es: " + source;
      s.created_at = s.changed_at = absl::FromUnixSeconds(1'700'000'100);
      auto out = (*w)->Put(&s);
      EXPECT_TRUE(out.ok()) << out.status();
      ids.push_back(out.ok() ? out->id : 0);
    }
    EXPECT_TRUE((*w)->Commit().ok());
    return ids;
  }
  // The state now, and an instant after it and before anything later.
  void Mark() {
    absl::SleepFor(absl::Milliseconds(2));
    marks_.push_back({absl::Now(), Dump(path_)});
    absl::SleepFor(absl::Milliseconds(2));
  }
  absl::StatusOr<RestoreReport> RestoreTo(const std::string& backup, const std::string& dest,
                                          std::optional<absl::Time> to) {
    return RestoreSqlite(backup, dest, {.to = to, .change_log = log_});
  }

  std::string dir_, path_, log_;
  std::unique_ptr<Database> db_;
  std::vector<std::pair<absl::Time, std::string>> marks_;
};

TEST_F(ChangeLogTest, ARestoreToAnyTimeAfterTheBackupHoldsExactlyWhatWasThere) {
  db_ = Open();
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  Put(db_.get(), "tm_a", {"one", "two", "three"});
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  Mark();  // 0: the backup's state
  std::vector<int64_t> ids = Put(db_.get(), "tm_a", {"four", "five"});
  Mark();  // 1
  SegmentRecord changed;
  changed.id = ids[0];
  changed.source = "four, changed";
  changed.target = "cuatro";
  changed.changed_at = absl::FromUnixSeconds(1'700'000'300);
  ASSERT_TRUE(db_->tm().UpdateSegment("tm_a", changed).ok());
  ASSERT_TRUE(db_->tm().DeleteSegment("tm_a", ids[1]).ok());
  // A write that fails rolls back: nothing of it in the log.
  changed.source = "one";
  changed.target = "es: one";
  EXPECT_EQ(db_->tm().UpdateSegment("tm_a", changed).code(), absl::StatusCode::kAlreadyExists);
  Mark();  // 2
  ASSERT_TRUE(db_->policies().PutPolicy({"acme", "fast", {"apertium"}, absl::Now()}).ok());
  AuditRecord audit;
  audit.at = absl::Now();
  audit.tenant = "acme";
  audit.actor = "key:k1";
  audit.action = "tm.store.delete";
  audit.target = "tm_b";
  ASSERT_TRUE(db_->audit().AppendAudit({audit}).ok());
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_b")).ok());
  Put(db_.get(), "tm_b", {"six"});
  ASSERT_TRUE(db_->tm().DeleteStore("tm_b").ok());
  Mark();  // 3
  db_.reset();

  for (size_t i = 0; i < marks_.size(); ++i) {
    const std::string dest = dir_ + "/restored" + std::to_string(i) + ".db";
    auto report = RestoreTo(backup, dest, marks_[i].first);
    ASSERT_TRUE(report.ok()) << i << ": " << report.status();
    EXPECT_EQ(Dump(dest), marks_[i].second) << "restored to mark " << i;
    EXPECT_EQ(report->applied == 0, i == 0) << i;
  }
  // Without a time: the backup as it was taken.
  ASSERT_TRUE(RestoreTo(backup, dir_ + "/plain.db", std::nullopt).ok());
  EXPECT_EQ(Dump(dir_ + "/plain.db"), marks_[0].second);
}

TEST_F(ChangeLogTest, ConcurrentGroupCommitsAndASecondWriterAreAllInTheLog) {
  db_ = Open();
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  // Another process's writer on the same file (a CLI import beside the server): its own
  // connection, session and lock file descriptor.
  std::unique_ptr<Database> other = Open();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Database* db = t % 2 == 0 ? db_.get() : other.get();
      for (int i = 0; i < 25; ++i) {
        const std::string source = "writer " + std::to_string(t) + " segment " + std::to_string(i);
        ASSERT_TRUE(
            db->tm().RecordUsage({{"tm_a", Put(db, "tm_a", {source})[0], 1, absl::Now()}}).ok());
        ASSERT_TRUE(db->keys()
                        .CreateKey({.id = "k" + std::to_string(t) + "_" + std::to_string(i),
                                    .tenant = "acme",
                                    .name = source,
                                    .scopes = {"tm:read"},
                                    .hash = "h" + source,
                                    .prefix = "p",
                                    .created_at = absl::Now()})
                        .ok());
        // Audit records go through the group commit: several writers' bodies, one transaction.
        AuditRecord audit;
        audit.at = absl::Now();
        audit.tenant = "acme";
        audit.actor = "test";
        audit.action = "tm.segment.add";
        audit.target = source;
        ASSERT_TRUE(db->audit().AppendAudit({audit}).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  other.reset();
  Mark();
  db_.reset();
  auto report = RestoreTo(backup, dir_ + "/restored.db", absl::Now());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(Dump(dir_ + "/restored.db"), marks_[0].second);
}

// A write transaction that changes no row writes no WAL frame (no WAL hook follows its commit):
// it must not leave the log's lock held, or another process's next commit waits forever (a CLI
// import beside a server whose job lease matched no task hung that way).
TEST_F(ChangeLogTest, ATransactionThatChangesNothingLeavesTheLockFree) {
  db_ = Open();
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  const int64_t id = Put(db_.get(), "tm_a", {"one"})[0];
  ASSERT_TRUE(db_->tm().RecordUsage({{"tm_a", id + 1000, 1, absl::Now()}}).ok());  // no such row
  const int fd = ::open((log_ + "/LOCK").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0) << "the log's lock is still held";
  ::close(fd);
  // And a change after it is logged.
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  Put(db_.get(), "tm_a", {"two"});
  Mark();
  db_.reset();
  auto report = RestoreTo(backup, dir_ + "/restored.db", absl::Now());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(Dump(dir_ + "/restored.db"), marks_[0].second);
}

TEST_F(ChangeLogTest, ALogSpreadOverManySmallFilesRestoresTheSame) {
  db_ = Open(/*with_log=*/true, /*file_bytes=*/2048);
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  for (int i = 0; i < 40; ++i) Put(db_.get(), "tm_a", {"segment " + std::to_string(i)});
  Mark();
  db_.reset();
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(log_)) {
    files += e.path().extension() == ".log" ? 1 : 0;
  }
  EXPECT_GT(files, 5);
  auto report = RestoreTo(backup, dir_ + "/restored.db", absl::Now());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(Dump(dir_ + "/restored.db"), marks_[0].second);
  EXPECT_EQ(report->applied, 40);
}

TEST_F(ChangeLogTest, ACutShortLastRecordEndsTheLogAndDamageIsReported) {
  db_ = Open();
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  Put(db_.get(), "tm_a", {"one"});
  Mark();
  Put(db_.get(), "tm_a", {"two"});
  db_.reset();
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(log_)) {
    if (e.path().extension() == ".log") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 2u);  // a new file starts at the backup
  const std::string last = files.back();
  const auto size = std::filesystem::file_size(last);
  // A crash in the middle of the last append: that transaction is lost to recovery, not the rest.
  std::filesystem::resize_file(last, size - 5);
  auto report = RestoreTo(backup, dir_ + "/cut.db", absl::Now());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(Dump(dir_ + "/cut.db"), marks_[0].second);
  // A damaged byte inside a whole record is not skipped over.
  {
    std::fstream f(last, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x7f');
  }
  auto damaged = RestoreTo(backup, dir_ + "/damaged.db", absl::Now());
  EXPECT_EQ(damaged.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(damaged.status().message().find("checksum"), std::string_view::npos)
      << damaged.status();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/damaged.db"));  // all or nothing
}

TEST_F(ChangeLogTest, ALogOfAnotherHistoryOrNoneIsRefused) {
  db_ = Open(/*with_log=*/false);
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  const std::string plain = dir_ + "/plain.db";
  ASSERT_TRUE(db_->Backup(plain).ok());
  db_.reset();
  auto refused = RestoreTo(plain, dir_ + "/x.db", absl::Now());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("without a change log"), std::string_view::npos)
      << refused.status();

  db_ = Open();
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  Put(db_.get(), "tm_a", {"one"});
  Mark();
  db_.reset();
  // A restore starts a new history: the database's next log is a new one ("two" goes there) and
  // the old one is set aside, where a second try from the same backup still finds it.
  ASSERT_TRUE(RestoreTo(backup, path_, std::nullopt).ok());
  db_ = Open();
  Put(db_.get(), "tm_a", {"two"});
  db_.reset();
  auto again = RestoreTo(backup, dir_ + "/again.db", absl::Now());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Dump(dir_ + "/again.db"), marks_[0].second);  // "one", not "two"

  // Another database's backup fits none of this database's logs.
  const std::string other_path = dir_ + "/other.db";
  auto other_db = OpenSqlite(other_path, {.change_log = other_path + "-changes"});
  ASSERT_TRUE(other_db.ok()) << other_db.status();
  ASSERT_TRUE((*other_db)->Backup(dir_ + "/other-backup.db").ok());
  other_db->reset();
  auto other = RestoreTo(dir_ + "/other-backup.db", dir_ + "/y.db", absl::Now());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("is the change log of the database this backup"),
            std::string_view::npos)
      << other.status();
}

}  // namespace
}  // namespace verso::storage
