// TM data in several PostgreSQL databases (storage/sharded_tm.h), through the TM service as the
// server uses it: placement, routing, and a store moved between shards while other processes
// write to it and keep its index.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/ids.h"
#include "common/strings.h"
#include "storage/sharded_tm.h"
#include "tests/process.h"
#include "tests/services.h"
#include "tm/tm.h"

namespace verso::tm {
namespace {

struct Urls {
  std::string main, eu, us;
};

// One process's view: the home database and the two shards, each opened by this process.
std::unique_ptr<storage::ShardedTm> OpenView(const Urls& urls,
                                             std::function<std::string(std::string_view)> place) {
  storage::PostgresOptions options;
  options.migrate = true;
  options.connections = 6;
  auto open = [&](const std::string& url) -> std::unique_ptr<storage::Database> {
    auto db = storage::OpenPostgres(url, options);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(*db) : nullptr;
  };
  std::vector<storage::TmShardSpec> shards;
  shards.push_back({"eu", open(urls.eu)});
  shards.push_back({"us", open(urls.us)});
  auto sharded = storage::OpenShardedTm(open(urls.main), std::move(shards), std::move(place));
  EXPECT_TRUE(sharded.ok()) << sharded.status();
  return sharded.ok() ? std::move(*sharded) : nullptr;
}

// The stores named "... in SHARD" go to SHARD.
std::string PlaceByName(std::string_view) { return "eu"; }

int64_t Psql(const std::string& url, const std::string& sql) {
  test::RunResult r = test::Run({"/usr/bin/psql", url, "-qXAtc", sql});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return std::atoll(r.out.c_str());
}

SegmentRecord Seg(std::string source, std::string target) {
  SegmentRecord s;
  s.source = std::move(source);
  s.target = std::move(target);
  return s;
}

// Writes one segment through the store's writer (its id set on `seg`).
absl::Status Put(storage::Database* db, std::string_view store, SegmentRecord* seg) {
  auto w = db->tm().BeginWrite(store);
  if (!w.ok()) return w.status();
  if (auto put = (*w)->Put(seg); !put.ok()) return put.status();
  return (*w)->Commit();
}

class TmShardsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    urls_ = {test::NewPostgresDatabase(), test::NewPostgresDatabase(), test::NewPostgresDatabase()};
    ASSERT_FALSE(urls_.main.empty() || urls_.eu.empty() || urls_.us.empty());
  }
  Urls urls_;
  IdGenerator ids_{Clock::Real()};
};

TEST_F(TmShardsTest, StoresArePlacedInTheirShardAndListedOnceWithTheirLog) {
  std::atomic<int> next{0};
  const std::vector<std::string> order = {"main", "eu", "us", "eu"};
  auto db = OpenView(urls_, [&](std::string_view) { return order[next++ % order.size()]; });
  ASSERT_NE(db, nullptr);
  TmService tm(db.get(), &Clock::Real(), &ids_);
  ASSERT_TRUE(tm.Load().ok());
  std::vector<std::string> stores;
  for (int i = 0; i < 4; ++i) {
    auto s = tm.CreateStore("acme", StrCat("s", i), "en", "de");
    ASSERT_TRUE(s.ok()) << s.status();
    stores.push_back(s->record.id);
    auto added = tm.AddSegments("acme", s->record.id, {Seg(StrCat("Hello ", i), "Hallo")}, "ana");
    ASSERT_TRUE(added.ok()) << added.status();
    // Shard N's ids start at N << 44: a store keeps its ids when it moves.
    const int64_t id = (*added)[0].id;
    if (i == 0) EXPECT_LT(id, int64_t{1} << 44);
    if (i == 1 || i == 3) EXPECT_GT(id, int64_t{1} << 44);
    if (i == 2) EXPECT_GT(id, int64_t{2} << 44);
  }
  auto listed = db->tm().ListStores("acme");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 4u);
  std::map<std::string, std::string> shard_of;
  for (const auto& r : *listed) {
    shard_of[r.id] = r.shard;
    EXPECT_EQ(r.log, r.shard == "main" ? 0 : r.shard == "eu" ? 1 : 2) << r.id;
  }
  EXPECT_EQ(shard_of[stores[0]], "main");
  EXPECT_EQ(shard_of[stores[1]], "eu");
  EXPECT_EQ(shard_of[stores[2]], "us");
  EXPECT_EQ(shard_of[stores[3]], "eu");
  EXPECT_EQ(Psql(urls_.eu, "SELECT count(*) FROM tm_segments"), 2);
  EXPECT_EQ(Psql(urls_.us, "SELECT count(*) FROM tm_segments"), 1);
  EXPECT_EQ(Psql(urls_.main, "SELECT count(*) FROM tm_segments"), 1);

  // A second process sees every store and its segments through the three logs.
  auto other_db = OpenView(urls_, PlaceByName);
  TmService other(other_db.get(), &Clock::Real(), &ids_);
  ASSERT_TRUE(other.Load().ok());
  for (int i = 0; i < 4; ++i) {
    auto r = other.Lookup("acme", stores[i], StrCat("Hello ", i), {});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->matches.size(), 1u) << i;
    EXPECT_EQ(r->matches[0].score, 100);
  }
  auto added = tm.AddSegments("acme", stores[2], {Seg("Good night", "Gute Nacht")}, "ana");
  ASSERT_TRUE(added.ok());
  ASSERT_TRUE(other.Sync().ok());
  auto r = other.Lookup("acme", stores[2], "Good night", {});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->matches.size(), 1u);
  EXPECT_EQ(r->matches[0].segment.id, (*added)[0].id);

  // Moving to where it is, or to a shard that does not exist, says why.
  auto same = db->MoveStore(stores[1], "eu", {});
  EXPECT_EQ(same.status().message(), StrCat("TM store ", stores[1], " is in TM shard eu already"));
  auto nowhere = db->MoveStore(stores[1], "asia", {});
  EXPECT_EQ(nowhere.status().message(), "--to: no TM shard named \"asia\" (shards: main, eu, us)");
}

// A process that has not read the move yet still routes the store to the shard it left, whose
// copy lives on for the grace period: its reads and writes are sent on to the new shard, never
// answered from the old copy.
TEST_F(TmShardsTest, ReadsAndWritesRoutedToTheShardAStoreLeftAreSentOn) {
  auto stale = OpenView(urls_, PlaceByName);
  auto mover = OpenView(urls_, PlaceByName);
  ASSERT_TRUE(stale && mover);
  storage::TmStoreRecord record;
  record.id = "tm_left";
  record.tenant = "acme";
  record.name = "left";
  record.source_lang = "en";
  record.target_lang = "fr";
  ASSERT_TRUE(stale->tm().CreateStore(record).ok());
  SegmentRecord old_seg = Seg("Old text", "Ancien texte");
  ASSERT_TRUE(Put(stale.get(), "tm_left", &old_seg).ok());
  std::atomic<bool> switched{false};
  storage::MoveOptions options;
  options.grace = absl::Seconds(3);
  options.progress = [&](std::string_view line) {
    if (line.rfind("switched", 0) == 0) switched = true;
  };
  std::thread move([&] { EXPECT_TRUE(mover->MoveStore("tm_left", "us", options).ok()); });
  while (!switched) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // Within the grace period: the old copy is still in eu; the store changes in us.
  SegmentRecord changed = old_seg;
  changed.target = "Texte révisé";
  ASSERT_TRUE(mover->tm().UpdateSegment("tm_left", changed).ok());
  SegmentRecord fresh = Seg("New text", "Nouveau texte");
  ASSERT_TRUE(Put(mover.get(), "tm_left", &fresh).ok());
  auto rows = stale->tm().GetSegments("tm_left", {old_seg.id, fresh.id});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].target, "Texte révisé");
  EXPECT_EQ((*rows)[1].target, "Nouveau texte");
  auto count = stale->tm().CountSegments("tm_left");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 2);
  EXPECT_TRUE(stale->tm().DeleteSegment("tm_left", fresh.id).ok());
  move.join();
  EXPECT_EQ(Psql(urls_.us, "SELECT count(*) FROM tm_segments"), 1);
  EXPECT_EQ(Psql(urls_.eu, "SELECT count(*) FROM tm_segments"), 0);
  auto listed = stale->tm().ListStores("acme");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);  // not its tombstone in eu too
  EXPECT_EQ((*listed)[0].shard, "us");

  // Deleting it removes its tombstone too: nothing is left to list or route to.
  ASSERT_TRUE(stale->tm().DeleteStore("tm_left").ok());
  EXPECT_EQ(Psql(urls_.eu, "SELECT count(*) FROM tm_stores"), 0);
  EXPECT_EQ(Psql(urls_.us, "SELECT count(*) FROM tm_stores"), 0);
  EXPECT_EQ(Psql(urls_.main, "SELECT count(*) FROM tm_placements"), 0);
  EXPECT_TRUE(absl::IsNotFound(mover->tm().GetStore("tm_left").status()));
}

// A move that stopped after marking its source (a crash between steps 4 and 5): the store is
// listed and written where its copy went, and running the move again finishes it.
TEST_F(TmShardsTest, AMoveStoppedAfterMarkingItsSourceIsFinishedByRunningItAgain) {
  auto db = OpenView(urls_, PlaceByName);
  ASSERT_NE(db, nullptr);
  storage::TmStoreRecord record;
  record.id = "tm_half";
  record.tenant = "acme";
  record.name = "half";
  record.source_lang = "en";
  record.target_lang = "fr";
  ASSERT_TRUE(db->tm().CreateStore(record).ok());  // in eu
  SegmentRecord seg = Seg("Half way", "À mi-chemin");
  ASSERT_TRUE(Put(db.get(), "tm_half", &seg).ok());
  // Steps 1-4 by hand, through a second view's databases; no directory update.
  {
    storage::PostgresOptions options;
    auto eu = storage::OpenPostgres(urls_.eu, options);
    auto us = storage::OpenPostgres(urls_.us, options);
    ASSERT_TRUE(eu.ok() && us.ok());
    storage::TmShardOps* from = (*eu)->tm_shard_ops();
    storage::TmShardOps* to = (*us)->tm_shard_ops();
    ASSERT_TRUE(to->BeginIncoming(record).ok());
    auto rows = (*eu)->tm().GetSegments("tm_half", {seg.id});
    ASSERT_TRUE(rows.ok());
    ASSERT_TRUE(to->ReplaceSegments("tm_half", {seg.id}, *rows).ok());
    ASSERT_TRUE(to->GoLive("tm_half").ok());
    auto fence = from->Freeze("tm_half");
    ASSERT_TRUE(fence.ok());
    ASSERT_TRUE((*fence)->MarkMoved("us").ok());
  }
  auto listed = db->tm().ListStores("");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].shard, "us");
  SegmentRecord more = Seg("Still written", "Toujours écrit");
  ASSERT_TRUE(Put(db.get(), "tm_half", &more).ok());
  storage::MoveOptions options;
  options.grace = absl::ZeroDuration();
  std::vector<std::string> said;
  options.progress = [&](std::string_view line) { said.emplace_back(line); };
  auto finished = db->MoveStore("tm_half", "us", options);
  ASSERT_TRUE(finished.ok()) << finished.status();
  ASSERT_FALSE(said.empty());
  EXPECT_EQ(said[0], "the source is marked moved already: finishing the earlier move");
  test::RunResult shard = test::Run({"/usr/bin/psql", urls_.main, "-qXAtc",
                                     "SELECT shard FROM tm_placements WHERE store_id = 'tm_half'"});
  EXPECT_EQ(shard.out, "us\n");
  EXPECT_EQ(Psql(urls_.eu, "SELECT count(*) FROM tm_segments"), 0);
  EXPECT_EQ(Psql(urls_.us, "SELECT count(*) FROM tm_segments"), 2);
}

// The test: a store moved between shards while written to loses no write. Writers in
// one process add, change and delete segments and record uses; another process moves the store;
// a third keeps the store's index through the change logs. Afterwards storage holds exactly
// what the writers were told, the source holds nothing of it, and the index finds it all.
TEST_F(TmShardsTest, AStoreMovedWhileWrittenLosesNoWriteAndIndexesFollow) {
  auto writer_db = OpenView(urls_, PlaceByName);
  auto mover_db = OpenView(urls_, PlaceByName);
  auto reader_db = OpenView(urls_, PlaceByName);
  ASSERT_TRUE(writer_db && mover_db && reader_db);
  TmService writer(writer_db.get(), &Clock::Real(), &ids_);
  TmService reader(reader_db.get(), &Clock::Real(), &ids_);
  ASSERT_TRUE(writer.Load().ok());
  auto store = writer.CreateStore("acme", "moving", "en", "fr");
  ASSERT_TRUE(store.ok());
  const std::string id = store->record.id;
  constexpr int kInitial = 20'000;
  for (int batch = 0; batch < kInitial / 1000; ++batch) {
    std::vector<SegmentRecord> segs;
    for (int i = 0; i < 1000; ++i) {
      const int n = batch * 1000 + i;
      segs.push_back(Seg(StrCat("Initial sentence number ", n), StrCat("Phrase initiale ", n)));
    }
    ASSERT_TRUE(writer.AddSegments("acme", id, std::move(segs), "ana").ok());
  }
  ASSERT_TRUE(reader.Load().ok());

  // Writers: each acknowledged write is recorded with what storage must hold afterwards.
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<int64_t, std::string> expected;  // id -> target, for segments added by the writers
  std::set<int64_t> deleted;
  int64_t uses = 0;
  std::atomic<int64_t> failed{0}, acknowledged{0};
  auto write_loop = [&](int w) {
    for (int n = 0; !stop; ++n) {
      auto added = writer.AddSegments(
          "acme", id, {Seg(StrCat("Writer ", w, " sentence ", n), StrCat("Auteur ", w, " ", n))},
          "ana");
      if (!added.ok()) {
        ++failed;
        ADD_FAILURE() << added.status();
        continue;
      }
      ++acknowledged;
      const int64_t seg = (*added)[0].id;
      {
        std::lock_guard<std::mutex> lock(mu);
        expected[seg] = StrCat("Auteur ", w, " ", n);
      }
      if (n % 3 == 1) {  // change it
        SegmentRecord changed = (*added)[0];
        changed.target = StrCat("Auteur ", w, " ", n, " (revu)");
        auto up = writer.UpdateSegment("acme", id, changed, "ana");
        if (!up.ok()) {
          ++failed;
          ADD_FAILURE() << up.status();
        } else {
          std::lock_guard<std::mutex> lock(mu);
          expected[seg] = changed.target;
        }
      } else if (n % 7 == 2) {  // delete it
        absl::Status del = writer.DeleteSegment("acme", id, seg);
        if (!del.ok()) {
          ++failed;
          ADD_FAILURE() << del;
        } else {
          std::lock_guard<std::mutex> lock(mu);
          expected.erase(seg);
          deleted.insert(seg);
        }
      } else if (n % 5 == 0) {  // use it
        writer.RecordUse(id, seg);
        auto flushed = writer.FlushUsage();
        if (!flushed.ok()) {
          ++failed;
          ADD_FAILURE() << flushed.status();
        } else {
          std::lock_guard<std::mutex> lock(mu);
          uses += *flushed;
        }
      }
    }
  };
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) writers.emplace_back(write_loop, w);
  std::thread syncing([&] {
    while (!stop) {
      EXPECT_TRUE(reader.Sync().ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int64_t before_move = acknowledged;
  storage::MoveOptions options;
  options.grace = absl::Seconds(1);
  auto report = mover_db->MoveStore(id, "us", options);
  ASSERT_TRUE(report.ok()) << report.status();
  const int64_t during_move = acknowledged - before_move;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // writes after the move
  stop = true;
  for (auto& t : writers) t.join();
  syncing.join();
  std::printf(
      "move of %d+ segments: %lld copied, %lld copied again in %d catch-up rounds, %lld usage "
      "rows; writers waited %s; %lld writes acknowledged during the move, %lld failed\n",
      kInitial, static_cast<long long>(report->copied), static_cast<long long>(report->replayed),
      report->rounds, static_cast<long long>(report->usage),
      absl::FormatDuration(report->frozen).c_str(), static_cast<long long>(during_move),
      static_cast<long long>(failed.load()));
  EXPECT_EQ(failed, 0);
  EXPECT_GT(during_move, 0);  // the writers did write while the store moved
  EXPECT_EQ(report->from, "eu");
  EXPECT_EQ(report->to, "us");

  // Storage: the target has exactly the initial segments and the acknowledged writes.
  auto stored = mover_db->tm().GetStore(id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->shard, "us");
  auto count = mover_db->tm().CountSegments(id);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, kInitial + static_cast<int64_t>(expected.size()));
  std::vector<int64_t> ids;
  for (const auto& [seg, target] : expected) ids.push_back(seg);
  for (int64_t seg : deleted) ids.push_back(seg);
  auto rows = mover_db->tm().GetSegments(id, ids);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), expected.size());
  int64_t used = 0;
  for (const SegmentRecord& r : *rows) {
    EXPECT_EQ(r.target, expected[r.id]) << r.id;
    used += r.usage_count;
  }
  EXPECT_EQ(used, uses);
  EXPECT_EQ(Psql(urls_.eu, "SELECT count(*) FROM tm_segments"), 0);  // dropped after the grace
  EXPECT_EQ(Psql(urls_.us, "SELECT count(*) FROM tm_segments"),
            kInitial + static_cast<int64_t>(expected.size()));
  // Nothing of the copy reached the change logs: every insert logged there is a writer's (with
  // an id of the target's range).
  EXPECT_EQ(Psql(urls_.us, "SELECT count(*) FROM tm_changes WHERE kind = 'i' AND segment_id < " +
                               std::to_string(int64_t{2} << 44)),
            0);

  // The index of the process that kept it through the move finds every acknowledged write, the
  // deleted ones not, and the initial segments.
  ASSERT_TRUE(reader.Sync().ok());
  for (const SegmentRecord& r : *rows) {
    auto hit = reader.Lookup("acme", id, r.source, {});
    ASSERT_TRUE(hit.ok()) << hit.status();
    ASSERT_FALSE(hit->matches.empty()) << r.source;
    EXPECT_EQ(hit->matches[0].segment.id, r.id);
    EXPECT_EQ(hit->matches[0].segment.target, r.target);
  }
  for (int n : {0, 9'999, 19'999}) {
    auto hit = reader.Lookup("acme", id, StrCat("Initial sentence number ", n), {});
    ASSERT_TRUE(hit.ok());
    ASSERT_FALSE(hit->matches.empty());
    EXPECT_EQ(hit->matches[0].score, 100);
  }
  auto stats = reader.Stats("acme", id);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->info.segment_count, kInitial + static_cast<int64_t>(expected.size()));

  // A writer that still routes to the source is sent on; and the store moves back.
  auto late = writer_db->tm().BeginWrite(id);
  EXPECT_TRUE(late.ok()) << late.status();
  late->reset();
  auto back = mover_db->MoveStore(id, "eu", options);
  ASSERT_TRUE(back.ok()) << back.status();
  auto after = writer.AddSegments("acme", id, {Seg("After coming back", "Après le retour")}, "ana");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(Psql(urls_.us, "SELECT count(*) FROM tm_segments"), 0);
  EXPECT_EQ(Psql(urls_.eu, "SELECT count(*) FROM tm_segments"),
            kInitial + static_cast<int64_t>(expected.size()) + 1);
}

}  // namespace
}  // namespace verso::tm
