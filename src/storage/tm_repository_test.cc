#include <atomic>
#include <filesystem>

#include "storage/storage.h"
#include "storage/tm_repository_suite.h"
#include "tests/process.h"
#include "tests/services.h"

namespace verso::storage {
namespace {

std::unique_ptr<Database> MakeSqlite() {
  static std::atomic<int> n{0};
  std::string dir =
      ::testing::TempDir() + "/sqlite_repo_" + std::to_string(getpid()) + "_" + std::to_string(n++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto db = OpenSqlite(dir + "/verso.db", SqliteOptions{});
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, TmRepositorySuite, ::testing::Values(&MakeSqlite),
                         [](const auto&) { return std::string("Sqlite"); });

// Each test gets a new database on the test PostgreSQL server (scripts/test-services), migrated
// on open.
std::unique_ptr<Database> MakePostgres() {
  const std::string url = test::NewPostgresDatabase();
  if (url.empty()) return nullptr;
  PostgresOptions options;
  options.migrate = true;
  auto db = OpenPostgres(url, options);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Postgres, TmRepositorySuite, ::testing::Values(&MakePostgres),
                         [](const auto&) { return std::string("Postgres"); });

TEST(SqliteTmRepositoryTest, ReopenKeepsDataAndSchema) {
  std::string dir = ::testing::TempDir() + "/sqlite_reopen_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string path = dir + "/verso.db";
  {
    auto db = OpenSqlite(path, SqliteOptions{});
    ASSERT_TRUE(db.ok());
    TmStoreRecord s{"tm_x", "t", "n", "en", "fr", absl::FromUnixSeconds(1)};
    ASSERT_TRUE((*db)->tm().CreateStore(s).ok());
  }
  auto db = OpenSqlite(path, SqliteOptions{});
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ((*db)->tm().GetStore("tm_x")->target_lang, "fr");
}

TEST(SqliteTmRepositoryTest, NotADatabaseIsDataLoss) {
  std::string path = ::testing::TempDir() + "/not_a_db_" + std::to_string(getpid());
  FILE* f = fopen(path.c_str(), "w");
  fputs("this is not an sqlite database, just some text that is long enough to matter.......", f);
  fclose(f);
  auto db = OpenSqlite(path, SqliteOptions{});
  EXPECT_EQ(db.status().code(), absl::StatusCode::kDataLoss) << db.status();
}

TEST(SqliteTmRepositoryTest, UnwritableDirectoryIsUnavailable) {
  auto db = OpenSqlite("/proc/verso-cannot-be-here/verso.db", SqliteOptions{});
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnavailable) << db.status();
}

// Each state's name parses back to it; the names are what the database already holds (a rename
// here would strand every stored job).
template <typename E>
std::vector<std::string> RoundTrip() {
  std::vector<std::string> names;
  for (size_t i = 0; i < std::size(EnumNames<E>::kNames); ++i) {
    const E e = static_cast<E>(i);
    EXPECT_EQ(ParseEnum<E>(EnumName(e)), e) << EnumName(e);
    names.emplace_back(EnumName(e));
  }
  EXPECT_EQ(ParseEnum<E>("no such state"), std::nullopt);
  return names;
}

TEST(StatesTest, NamesAreStableAndParseBack) {
  EXPECT_EQ(RoundTrip<JobStatus>(), (std::vector<std::string>{"queued", "running", "post_editing",
                                                              "completed", "failed", "cancelled"}));
  EXPECT_EQ(RoundTrip<SegmentState>(),
            (std::vector<std::string>{"new", "analysed", "mt_pending", "translated", "approved",
                                      "awaiting", "confirmed"}));
  EXPECT_EQ(RoundTrip<SegmentOrigin>(), (std::vector<std::string>{"", "tm", "mt", "human"}));
  EXPECT_EQ(RoundTrip<TaskKind>(),
            (std::vector<std::string>{"analyse", "pretranslate", "mt", "review", "webhook"}));
  EXPECT_EQ(RoundTrip<TaskState>(), (std::vector<std::string>{"queued", "leased", "done", "dead"}));
  EXPECT_EQ(EnumNameList<SegmentOrigin>(), "tm, mt, human");
}

}  // namespace
}  // namespace verso::storage
