#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "common/clock.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/status.h"
#include "common/strings.h"
#include "tm/tm.h"

namespace verso::tm {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kKit = std::string(VERSO_SHARED_DATA) + "/tmx/lisa-compliance-kit/";

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

class TmServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/tm_service_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Open();
  }
  void TearDown() override {
    service_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open(bool build_indexes = true) {
    service_.reset();
    db_.reset();
    auto db = storage::OpenSqlite(dir_ + "/verso.db", storage::SqliteOptions{});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    repo_ = &db_->tm();
    service_ = std::make_unique<TmService>(db_.get(), &clock_, &ids_);
    auto loaded = service_->Load(build_indexes);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
  }
  // Another process on the same database: its own service, its snapshots in `snapshots` ("":
  // none), loaded (the indexes built when `build_indexes`).
  struct Process {
    std::unique_ptr<storage::Database> db;
    std::unique_ptr<TmService> tm;
  };
  Process OpenProcess(const std::string& snapshots, bool build_indexes) {
    auto db = storage::OpenSqlite(dir_ + "/verso.db", storage::SqliteOptions{});
    EXPECT_TRUE(db.ok()) << db.status();
    Process p{std::move(*db), nullptr};
    p.tm = std::make_unique<TmService>(p.db.get(), &clock_, &ids_);
    if (!snapshots.empty()) p.tm->EnableSnapshots(snapshots);
    auto loaded = p.tm->Load(build_indexes);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return p;
  }
  int stores_ = 0;
  std::string NewStore(const std::string& tenant = "acme", const std::string& src = "en-US",
                       const std::string& tgt = "es-ES") {
    // Store names are unique per tenant.
    auto s = service_->CreateStore(tenant, "test" + std::to_string(++stores_), src, tgt);
    EXPECT_TRUE(s.ok()) << s.status();
    return s->record.id;
  }
  // A store of 500 segments "Line N of the guide" -> "Linea N"; "" when they were not all added.
  std::string GuideStore() {
    const std::string store = NewStore();
    std::vector<SegmentRecord> segs;
    for (int i = 0; i < 500; ++i) {
      segs.push_back(
          Seg("Line " + std::to_string(i) + " of the guide", "Linea " + std::to_string(i)));
    }
    return Add(store, segs).size() == 500u ? store : "";
  }
  static SegmentRecord Seg(const std::string& source, const std::string& target) {
    SegmentRecord s;
    s.source = source;
    s.target = target;
    return s;
  }
  std::vector<SegmentRecord> Add(const std::string& store, std::vector<SegmentRecord> segs,
                                 const std::string& tenant = "acme") {
    auto r = service_->AddSegments(tenant, store, std::move(segs), "ana");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<SegmentRecord>{};
  }
  std::vector<std::pair<std::string, int>> Lookup(const std::string& store, const std::string& q,
                                                  int min_score = 50) {
    LookupOptions o;
    o.min_score = min_score;
    auto r = service_->Lookup("acme", store, q, o);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::pair<std::string, int>> out;
    if (r.ok()) {
      for (const auto& m : r->matches) out.emplace_back(m.segment.target, m.score);
    }
    return out;
  }
  std::vector<SegmentRecord> All(const std::string& store) {
    std::vector<SegmentRecord> out;
    EXPECT_TRUE(repo_
                    ->ScanSegments(store, 0,
                                   [&](const SegmentRecord& r) {
                                     out.push_back(r);
                                     return true;
                                   })
                    .ok());
    return out;
  }

  std::string dir_;
  FakeClock clock_{absl::FromUnixSeconds(1'750'000'000)};
  IdGenerator ids_{clock_, 99};
  std::unique_ptr<storage::Database> db_;
  storage::TmRepository* repo_ = nullptr;
  std::unique_ptr<TmService> service_;
};

TEST_F(TmServiceTest, CreateStoreValidatesAndCanonicalizes) {
  auto s = service_->CreateStore("acme", "Docs", "EN-us", "pt_br");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->record.source_lang, "en-US");
  EXPECT_EQ(s->record.target_lang, "pt-BR");
  EXPECT_EQ(s->record.id.substr(0, 3), "tm_");
  EXPECT_EQ(Msg(service_->CreateStore("acme", "x", "english", "fr").status()),
            "source_lang: \"english\" is not a valid BCP 47 language tag: \"english\" is not a "
            "language subtag (2-3 letters)");
  EXPECT_EQ(Msg(service_->CreateStore("acme", "x", "fr-FR", "FR-fr").status()),
            "target_lang: must differ from source_lang (both fr-FR)");
  EXPECT_EQ(Msg(service_->CreateStore("Bad Tenant", "x", "en", "fr").status()),
            "tenant: \"Bad Tenant\" may contain only a-z, 0-9, '-', '_' and '.'");
  EXPECT_EQ(Msg(service_->CreateStore("acme", "", "en", "fr").status()),
            "name: must be 1 to 200 characters");
  // pt-BR and pt-PT are different stores' languages.
  auto pt = service_->CreateStore("acme", "PT", "en-US", "pt-PT");
  ASSERT_TRUE(pt.ok());
  Add(s->record.id, {Seg("Hello", "Olá (BR)")});
  Add(pt->record.id, {Seg("Hello", "Olá (PT)")});
  EXPECT_THAT(Lookup(s->record.id, "Hello"),
              ElementsAre(std::pair<std::string, int>("Olá (BR)", 100)));
}

// Applied matches count as uses: kept in memory, written by FlushUsage in one go, and seen in
// the records (the cached one too) afterwards.
TEST_F(TmServiceTest, UsesAreCountedAndWrittenByTheFlush) {
  std::string store = NewStore();
  auto added = Add(store, {Seg("Save the file", "Guardar el archivo"), Seg("Open", "Abrir")});
  const int64_t id = added[0].id;
  ASSERT_FALSE(Lookup(store, "Save the file").empty());  // caches the record
  service_->RecordUse(store, id);
  clock_.Advance(absl::Minutes(1));
  service_->RecordUse(store, id);
  service_->RecordUse(store, 999999);                                  // gone since: skipped
  EXPECT_EQ(service_->GetSegment("acme", store, id)->usage_count, 0);  // not written yet
  auto flushed = service_->FlushUsage();
  ASSERT_TRUE(flushed.ok()) << flushed.status();
  EXPECT_EQ(*flushed, 1);
  auto seg = service_->GetSegment("acme", store, id);
  EXPECT_EQ(seg->usage_count, 2);
  EXPECT_EQ(seg->last_used_at, clock_.Now());
  LookupOptions o;
  auto found = service_->Lookup("acme", store, "Save the file", o);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->matches[0].segment.usage_count, 2);
  EXPECT_EQ(found->matches[0].segment.last_used_at, clock_.Now());
  // The next uses are added to the cached record, which stays cached: uses another process
  // records (here 100, written straight to storage) are not a change of the segment, and this
  // process's cached record does not see them, as before the record was first read.
  ASSERT_TRUE(repo_->RecordUsage({{store, id, 100, clock_.Now()}}).ok());
  clock_.Advance(absl::Minutes(1));
  service_->RecordUse(store, id);
  EXPECT_EQ(*service_->FlushUsage(), 1);
  found = service_->Lookup("acme", store, "Save the file", o);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->matches[0].segment.usage_count, 3);
  EXPECT_EQ(found->matches[0].segment.last_used_at, clock_.Now());
  EXPECT_EQ(service_->GetSegment("acme", store, id)->usage_count, 103);
  EXPECT_EQ(*service_->FlushUsage(), 0);  // nothing new
  EXPECT_EQ(service_->GetSegment("acme", store, added[1].id)->usage_count, 0);
}

// A batch's records are read together; a segment that two queries match (here the same source
// asked twice, none of it read before) is the whole record in both answers.
TEST_F(TmServiceTest, ABatchReadsItsRecordsTogetherAndASegmentMatchedTwiceIsWholeInBoth) {
  std::string store = NewStore();
  Add(store, {Seg("Save the file", "Guardar el archivo"), Seg("Open the door", "Abre la puerta")});
  LookupOptions o;
  o.max_results = 1;
  std::vector<TmService::BatchQuery> batch = {
      {"Save the file", {}}, {"Nothing like it", {}}, {"Open the door", {}}, {"Save the file", {}}};
  auto found = service_->LookupMany("acme", store, batch, o);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 4u);
  std::vector<std::string> targets;
  for (const LookupResult& r : *found) {
    targets.push_back(r.matches.empty() ? "-" : r.matches[0].segment.target);
  }
  EXPECT_THAT(targets,
              ElementsAre("Guardar el archivo", "-", "Abre la puerta", "Guardar el archivo"));
  // And the record cache holds the whole record.
  auto again = service_->Lookup("acme", store, "Save the file", o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->matches[0].segment.target, "Guardar el archivo");
  EXPECT_EQ(again->matches[0].segment.source, "Save the file");
}

TEST_F(TmServiceTest, WritesAreVisibleToTheNextLookup) {
  std::string store = NewStore();
  auto added = Add(store, {Seg("Open the file", "Abrir el archivo"),
                           Seg("Close the file", "Cerrar el archivo")});
  ASSERT_EQ(added.size(), 2u);
  EXPECT_EQ(added[0].creator, "ana");
  EXPECT_EQ(added[0].created_at, clock_.Now());
  EXPECT_THAT(Lookup(store, "Open the file"),
              ElementsAre(std::pair<std::string, int>("Abrir el archivo", 100),
                          std::pair<std::string, int>("Cerrar el archivo", 66)));
  SegmentRecord up = Seg("Open the folder", "Abrir la carpeta");
  up.id = added[0].id;
  clock_.Advance(absl::Hours(1));
  auto updated = service_->UpdateSegment("acme", store, up, "bob");
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->changer, "bob");
  EXPECT_EQ(updated->creator, "ana");
  EXPECT_THAT(Lookup(store, "Open the folder"),
              ElementsAre(std::pair<std::string, int>("Abrir la carpeta", 100)));
  // Equal scores: the more recently changed segment first.
  EXPECT_THAT(Lookup(store, "Open the file"),
              ElementsAre(std::pair<std::string, int>("Abrir la carpeta", 66),
                          std::pair<std::string, int>("Cerrar el archivo", 66)));
  ASSERT_TRUE(service_->DeleteSegment("acme", store, added[1].id).ok());
  EXPECT_TRUE(Lookup(store, "Close the file").empty());
  EXPECT_EQ(service_->GetSegment("acme", store, added[1].id).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(TmServiceTest, BadSegmentsAreRefusedNamingTheField) {
  std::string store = NewStore();
  auto r = service_->AddSegments("acme", store,
                                 {Seg("fine", "bien"), Seg("Tom & Jerry", "Tom y Jerry")}, "ana");
  EXPECT_EQ(Msg(r.status()),
            "segments[1].source: markup: \"&\" must start an entity (&amp; &lt; &gt; &quot; "
            "&apos; &#N;) at byte 4");
  r = service_->AddSegments("acme", store, {Seg("ok", "")}, "ana");
  EXPECT_EQ(Msg(r.status()), "segments[0].target: is empty");
  r = service_->AddSegments("acme", store, {Seg("bell\x07", "x")}, "ana");
  EXPECT_EQ(Msg(r.status()), "segments[0].source: control character U+0007 at byte 4");
  r = service_->AddSegments("acme", store, {Seg("caf\xE9", "x")}, "ana");
  EXPECT_EQ(Msg(r.status()), "segments[0].source: invalid UTF-8 at byte 3");
  // Nothing of a refused batch was written.
  EXPECT_EQ(service_->GetStore("acme", store)->segment_count, 0);
  LookupOptions o;
  o.min_score = 0;
  EXPECT_EQ(Msg(service_->Lookup("acme", store, "x", o).status()),
            "min_score: must be between 1 and 101 (got 0)");
}

TEST_F(TmServiceTest, TenantsAndStoresAreIsolated) {
  std::string mine = NewStore("acme");
  std::string theirs = NewStore("globex");
  Add(mine, {Seg("Print the report", "Imprimir el informe")});
  Add(theirs, {Seg("Print the report", "SECRET")}, "globex");
  auto seg = Add(theirs, {Seg("Other", "Otro")}, "globex")[0];
  EXPECT_THAT(Lookup(mine, "Print the report"),
              ElementsAre(std::pair<std::string, int>("Imprimir el informe", 100)));
  // Every operation on another tenant's store answers exactly like a missing store.
  const std::string not_found = "TM store " + theirs + " not found";
  EXPECT_EQ(Msg(service_->GetStore("acme", theirs).status()), not_found);
  EXPECT_EQ(Msg(service_->Lookup("acme", theirs, "Print the report", {}).status()), not_found);
  EXPECT_EQ(Msg(service_->Concordance("acme", theirs, "report", {}).status()), not_found);
  EXPECT_EQ(Msg(service_->AddSegments("acme", theirs, {Seg("a", "b")}, "x").status()), not_found);
  SegmentRecord up = Seg("x", "y");
  up.id = seg.id;
  EXPECT_EQ(Msg(service_->UpdateSegment("acme", theirs, up, "x").status()), not_found);
  EXPECT_EQ(Msg(service_->DeleteSegment("acme", theirs, seg.id)), not_found);
  EXPECT_EQ(Msg(service_->GetSegment("acme", theirs, seg.id).status()), not_found);
  EXPECT_EQ(Msg(service_->Stats("acme", theirs).status()), not_found);
  std::ostringstream out;
  EXPECT_EQ(Msg(service_->ExportTmx("acme", theirs, &out).status()), not_found);
  EXPECT_EQ(Msg(service_->ImportTmx("acme", theirs, kKit + "ImportTest1A.tmx", {}).status()),
            not_found);
  EXPECT_EQ(Msg(service_->DeleteStore("acme", theirs)), not_found);
  EXPECT_EQ(Msg(service_->GetStore("acme", "tm_nope").status()), "TM store tm_nope not found");
  // A segment id of another store is not found through mine.
  EXPECT_EQ(service_->GetSegment("acme", mine, seg.id).status().code(),
            absl::StatusCode::kNotFound);
  auto listed = service_->ListStores("acme");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].record.id, mine);
  EXPECT_EQ(service_->ListStores(std::string(kAnyTenant))->size(), 2u);
  EXPECT_EQ(service_->GetStore("globex", theirs)->segment_count, 2);
}

TEST_F(TmServiceTest, RestartRebuildsTheIndex) {
  std::string store = NewStore();
  Add(store, {Seg("Delete the selected items?", "¿Eliminar los elementos seleccionados?"),
              Seg("Delete the selected item?", "¿Eliminar el elemento seleccionado?")});
  auto before = Lookup(store, "Delete the selected items");
  Open();  // a new process on the same database
  EXPECT_EQ(Lookup(store, "Delete the selected items"), before);
  EXPECT_EQ(before.size(), 2u);
  EXPECT_EQ(service_->GetStore("acme", store)->segment_count, 2);
  // Lazily: writes before the first lookup go to storage only; the first lookup builds the index
  // with them.
  Open(/*build_indexes=*/false);
  EXPECT_EQ(service_->GetStore("acme", store)->segment_count, 2);
  Add(store, {Seg("Delete the selected items", "Eliminar los elementos seleccionados")});
  EXPECT_EQ(Lookup(store, "Delete the selected items").size(), 3u);
  EXPECT_EQ(Lookup(store, "Delete the selected items")[0].second, 100);
}

struct KitCase {
  std::string file, source, target;
  int inserted, skipped;
};

TEST_F(TmServiceTest, EveryComplianceKitFileImportsAndRoundTrips) {
  const std::vector<KitCase> cases = {
      {"ExportTest1A.tmx", "en-US", "fr-CA", 4, 0},
      {"ExportTest1B.tmx", "en-US", "fr-CA", 2, 0},
      {"ExportTest1C.tmx", "en-US", "fr-CA", 4, 0},
      {"ExportTest1D.tmx", "en-US", "fr-CA", 4, 0},
      {"ExportTest1E.tmx", "en-US", "fr-CA", 4, 0},
      {"ExportTest2A.tmx", "en-US", "fr-CA", 6, 0},
      {"ImportTest1A.tmx", "en-US", "fr-CA", 2, 0},
      {"ImportTest1B.tmx", "en-US", "fr-CA", 1, 0},
      {"ImportTest1C.tmx", "en-US", "ja-JP", 3, 0},
      {"ImportTest1D.tmx", "en-US", "en-GB", 3, 0},
      {"ImportTest1E.tmx", "en-US", "en-GB", 3, 0},
      {"ImportTest1F.tmx", "en-US", "en-GB", 3, 0},
      {"ImportTest1G.tmx", "en-US", "en-GB", 3, 0},
      {"ImportTest1H.tmx", "en-US", "en-GB", 3, 0},
      {"ImportTest1I.tmx", "en-US", "ja-JP", 1, 0},
      {"ImportTest1J.tmx", "en-US", "en-GB", 2, 0},
      {"ImportTest1J_many.tmx", "en-US", "en-GB", 2, 1},
      {"ImportTest1K.tmx", "de-DE", "en-GB", 1, 1},
      {"ImportTest1L.tmx", "en-US", "fr", 1, 0},
      {"ImportTest2A-0index.tmx", "en-US", "fr-CA", 7, 0},
      {"ImportTest2A.tmx", "en-US", "fr-CA", 7, 0},
      {"ImportTest2B.tmx", "en-US", "fr-CA", 7, 0},
      {"ImportTest2C.tmx", "en-US", "fr", 1, 0},
  };
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kKit)) {
    files += entry.path().extension() == ".tmx";
  }
  ASSERT_EQ(static_cast<int>(cases.size()), files);
  for (const KitCase& c : cases) {
    SCOPED_TRACE(c.file);
    std::string first = NewStore("acme", c.source, c.target);
    auto report = service_->ImportTmx("acme", first, kKit + c.file, {});
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->inserted, c.inserted);
    EXPECT_EQ(report->skipped, c.skipped);
    EXPECT_EQ(report->merged, 0);
    for (const auto& s : report->skipped_units) EXPECT_THAT(s.reason, HasSubstr("no <tuv> in the"));
    // export -> import gives back the same segments, field by field.
    std::string path = dir_ + "/" + c.file + ".out.tmx";
    {
      std::ofstream out(path);
      auto units = service_->ExportTmx("acme", first, &out);
      ASSERT_TRUE(units.ok()) << units.status();
      EXPECT_EQ(*units, c.inserted);
    }
    std::string second = NewStore("acme", c.source, c.target);
    auto again = service_->ImportTmx("acme", second, path, {});
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->inserted, c.inserted);
    EXPECT_EQ(again->skipped, 0);
    std::vector<SegmentRecord> a = All(first), b = All(second);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].source, b[i].source);
      EXPECT_EQ(a[i].target, b[i].target);
      EXPECT_EQ(a[i].context, b[i].context);
      EXPECT_EQ(a[i].creator, b[i].creator);
      EXPECT_EQ(a[i].changer, b[i].changer);
      EXPECT_EQ(a[i].created_at, b[i].created_at);
      EXPECT_EQ(a[i].changed_at, b[i].changed_at);
      EXPECT_EQ(a[i].last_used_at, b[i].last_used_at);
      EXPECT_EQ(a[i].usage_count, b[i].usage_count);
      EXPECT_EQ(a[i].properties, b[i].properties);
      EXPECT_EQ(a[i].notes, b[i].notes);
    }
  }
}

TEST_F(TmServiceTest, ImportKeepsMetadataPropsNotesAndCodes) {
  std::string store = NewStore("acme", "en-US", "fr");
  ASSERT_TRUE(service_->ImportTmx("acme", store, kKit + "ImportTest2C.tmx", {}).ok());
  std::vector<SegmentRecord> all = All(store);
  ASSERT_EQ(all.size(), 1u);
  const SegmentRecord& s = all[0];
  EXPECT_EQ(s.creator, "ys");
  EXPECT_EQ(s.changer, "ys");
  EXPECT_EQ(s.created_at, absl::FromUnixSeconds(1022145120));
  EXPECT_EQ(s.usage_count, 100);
  EXPECT_EQ(s.last_used_at, absl::FromUnixSeconds(1022145120));
  EXPECT_THAT(s.target, HasSubstr("Cliquez <ph x=\"3\" type=\"image\" assoc=\"b\">"));
  EXPECT_EQ(s.notes.size(), 6u);  // 2 on the unit, 2 on each chosen variant
  EXPECT_EQ(s.notes[0], (Note{Scope::kUnit, "Text of tu note 1", "en-us"}));
  EXPECT_EQ(s.notes[2], (Note{Scope::kSource, "Text of tuv en note 1", "en-us"}));
  EXPECT_EQ(s.notes[5].scope, Scope::kTarget);
  bool has_tuid = false;
  for (const auto& p : s.properties) has_tuid |= p.type == "@tuid" && p.value == "tu001";
  EXPECT_TRUE(has_tuid);
  // The fuzzy index sees the imported text (tags and all).
  auto r = service_->Lookup("acme", store, "Click to start.", {});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->matches.size(), 1u);
  EXPECT_EQ(r->matches[0].base_score, 100);
  EXPECT_LT(r->matches[0].score, 100);  // the codes differ
}

TEST_F(TmServiceTest, MalformedImportWritesNothing) {
  std::string store = NewStore("acme", "en-US", "fr-CA");
  std::string path = dir_ + "/broken.tmx";
  std::ofstream(path)
      << "<?xml version=\"1.0\"?>\n<tmx version=\"1.4\"><header srclang=\"en-US\"/>\n<body>\n"
         "<tu><tuv xml:lang=\"en-US\"><seg>One</seg></tuv><tuv "
         "xml:lang=\"fr-CA\"><seg>Un</seg></tuv></tu>\n"
         "<tu><tuv xml:lang=\"en-US\"><seg>Two</seg></tuv><tuv "
         "xml:lang=\"fr-CA\"><seg>Deux</tuv></tu>\n"
         "</body></tmx>\n";
  auto r = service_->ImportTmx("acme", store, path, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Msg(r.status()),
            path + ": line 5, column 84: Opening and ending tag mismatch: seg line 5 and tuv");
  EXPECT_EQ(service_->GetStore("acme", store)->segment_count, 0);
  EXPECT_TRUE(Lookup(store, "One").empty());

  std::string invalid = dir_ + "/invalid-unit.tmx";
  std::ofstream(invalid)
      << "<?xml version=\"1.0\"?>\n<tmx version=\"1.4\"><header srclang=\"en-US\"/>\n<body>\n"
         "<tu><tuv xml:lang=\"en-US\"><seg>One</seg></tuv><tuv "
         "xml:lang=\"fr-CA\"><seg>Un</seg></tuv></tu>\n"
         "<tu creationdate=\"yesterday\"><tuv xml:lang=\"en-US\"><seg>Two</seg></tuv><tuv "
         "xml:lang=\"fr-CA\"><seg>Deux</seg></tuv></tu>\n"
         "<tu><tuv xml:lang=\"en-US\"><seg>Three <b>x</b></seg></tuv><tuv "
         "xml:lang=\"fr-CA\"><seg>Trois</seg></tuv></tu>\n"
         "</body></tmx>\n";
  ImportOptions strict;
  strict.strict = true;
  r = service_->ImportTmx("acme", store, invalid, strict);
  EXPECT_EQ(Msg(r.status()),
            "line 5: creationdate: \"yesterday\" is not a TMX date (YYYYMMDDThhmmssZ, UTC) "
            "(strict import: nothing was imported)");
  EXPECT_EQ(service_->GetStore("acme", store)->segment_count, 0);
  r = service_->ImportTmx("acme", store, invalid, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->inserted, 1);
  EXPECT_EQ(r->skipped, 2);
  ASSERT_EQ(r->skipped_units.size(), 2u);
  EXPECT_EQ(r->skipped_units[0].line, 5);
  EXPECT_EQ(r->skipped_units[1].line, 6);
  EXPECT_EQ(r->skipped_units[1].reason,
            "source: markup: <b> is not an inline element here at byte 6");
  EXPECT_EQ(Msg(service_->ImportTmx("acme", store, dir_ + "/missing.tmx", {}).status()),
            dir_ + "/missing.tmx: no such file");
}

TEST_F(TmServiceTest, MultilingualUnitsWithSrclangAllGiveTheStoresPair) {
  std::string path = dir_ + "/all.tmx";
  std::ofstream(path)
      << "<?xml version=\"1.0\"?>\n<tmx version=\"1.4\"><header srclang=\"*all*\" "
         "creationtool=\"t\" segtype=\"sentence\" o-tmf=\"t\" adminlang=\"en\" "
         "datatype=\"plaintext\"/>\n<body>\n"
         "<tu><tuv xml:lang=\"fr-FR\"><seg>Bonjour</seg></tuv><tuv xml:lang=\"de-DE\">"
         "<seg>Hallo</seg></tuv><tuv xml:lang=\"en-US\"><seg>Hello</seg></tuv></tu>\n"
         "</body></tmx>\n";
  std::string de_fr = NewStore("acme", "de-DE", "fr-FR");
  std::string en_de = NewStore("acme", "en-US", "de-DE");
  ASSERT_EQ(service_->ImportTmx("acme", de_fr, path, {})->inserted, 1);
  ASSERT_EQ(service_->ImportTmx("acme", en_de, path, {})->inserted, 1);
  EXPECT_EQ(All(de_fr)[0].source, "Hallo");
  EXPECT_EQ(All(de_fr)[0].target, "Bonjour");
  EXPECT_EQ(All(en_de)[0].source, "Hello");
  EXPECT_EQ(All(en_de)[0].target, "Hallo");
  // A store for another region gets nothing from it, and the import that took nothing fails.
  std::string en_at = NewStore("acme", "en-US", "de-AT");
  auto r = service_->ImportTmx("acme", en_at, path, {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "all 1 units were skipped, nothing was imported; the first, at line 4: no <tuv> in "
            "the target language de-AT");
}

TEST_F(TmServiceTest, ReimportMergesInsteadOfDuplicating) {
  std::string store = NewStore("acme", "en-US", "fr-CA");
  auto first = service_->ImportTmx("acme", store, kKit + "ImportTest2A.tmx", {});
  auto second = service_->ImportTmx("acme", store, kKit + "ImportTest2A.tmx", {});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(second->inserted, 0);
  EXPECT_EQ(second->merged, 7);
  EXPECT_EQ(service_->GetStore("acme", store)->segment_count, 7);
}

TEST_F(TmServiceTest, PoImport) {
  std::string store = NewStore("acme", "en", "es");
  std::string path = dir_ + "/x.po";
  std::ofstream(path) << "msgid \"\"\nmsgstr \"Language: es\\n\"\n\n"
                         "#. Menu entry\n#: main.c:3\nmsgctxt \"menu\"\nmsgid \"Open "
                         "<file>\"\nmsgstr \"Abrir <archivo>\"\n\n"
                         "#, fuzzy\nmsgid \"Guess\"\nmsgstr \"Adivina\"\n\n"
                         "msgid \"Untranslated\"\nmsgstr \"\"\n\n"
                         "msgid \"%d file\"\nmsgid_plural \"%d files\"\nmsgstr[0] \"%d "
                         "archivo\"\nmsgstr[1] \"%d archivos\"\n";
  auto r = service_->ImportPo("acme", store, path, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->inserted, 3);
  EXPECT_EQ(r->skipped, 2);
  EXPECT_EQ(r->skipped_units[0].reason, "fuzzy entry (not a confirmed translation)");
  std::vector<SegmentRecord> all = All(store);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].source, "Open &lt;file&gt;");
  EXPECT_EQ(all[0].context.key, "menu");
  EXPECT_EQ(all[0].notes[0].text, "Menu entry");
  EXPECT_EQ(all[2].source, "%d files");
  EXPECT_EQ(all[2].target, "%d archivos");
  LookupOptions o;
  o.context.key = "menu";
  auto m = service_->Lookup("acme", store, "Open &lt;file&gt;", o);
  ASSERT_TRUE(m.ok());
  ASSERT_FALSE(m->matches.empty());
  EXPECT_EQ(m->matches[0].score, 101);
  EXPECT_EQ(m->matches[0].band, Band::kContext);
}

TEST_F(TmServiceTest, ConcordanceAndStats) {
  std::string store = NewStore();
  Add(store, {Seg("Save the document", "Guardar el documento"),
              Seg("Print the document", "Imprimir el documento"),
              Seg("Document saved", "Documento guardado")});
  ConcordanceOptions o;
  o.target = true;
  auto r = service_->Concordance("acme", store, "documento", o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->total, 3);
  ASSERT_EQ(r->matches.size(), 3u);
  EXPECT_FALSE(r->matches[0].in_source);
  EXPECT_EQ(r->matches[0].segment.target, "Documento guardado");
  EXPECT_EQ(r->matches[0].ranges[0], (std::pair<uint32_t, uint32_t>{0, 9}));
  // A prefix or substring query has a few words at most: each scans the vocabulary.
  ConcordanceOptions prefix;
  prefix.match = ConcordanceMatchMode::kPrefix;
  EXPECT_EQ(service_->Concordance("acme", store, "a b c d e f g h i", prefix).status().message(),
            "q: at most 8 words with match=prefix or match=substring");
  EXPECT_TRUE(service_->Concordance("acme", store, "sav the docu", prefix).ok());
  auto stats = service_->Stats("acme", store);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->info.segment_count, 3);
  EXPECT_EQ(stats->vocabulary, 5u);  // save the document print saved
  EXPECT_GT(stats->index_bytes, 0u);
}

// Writes a TMX of `n` distinct units and returns its path.
std::string WriteTmx(const std::string& path, int n) {
  std::ofstream out(path);
  out << "<?xml version=\"1.0\"?>\n<tmx version=\"1.4\"><header srclang=\"en\" creationtool=\"t\" "
         "segtype=\"sentence\" o-tmf=\"t\" adminlang=\"en\" datatype=\"plaintext\"/>\n<body>\n";
  for (int i = 0; i < n; ++i) {
    out << "<tu><tuv xml:lang=\"en\"><seg>Sentence number " << i << " of the test</seg></tuv>"
        << "<tuv xml:lang=\"es\"><seg>Frase número " << i << "</seg></tuv></tu>\n";
  }
  out << "</body></tmx>\n";
  return path;
}

TEST_F(TmServiceTest, BackgroundImportRunsRecordsAndCleansUp) {
  std::string store = NewStore("acme", "en", "es");
  std::string file = WriteTmx(dir_ + "/upload.tmx", 500);
  auto started = service_->StartImport("acme", store, file, "tmx", "key_1");
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->status, "queued");
  EXPECT_GT(started->bytes_total, 0);
  // Another tenant cannot see it.
  EXPECT_EQ(service_->GetImport("globex", store, started->id).status().code(),
            absl::StatusCode::kNotFound);
  service_->DrainImports();
  auto done = service_->GetImport("acme", store, started->id);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status, "succeeded");
  EXPECT_EQ(done->report.inserted, 500);
  EXPECT_EQ(done->units, 500);
  EXPECT_NE(done->finished_at, absl::InfinitePast());
  EXPECT_FALSE(std::filesystem::exists(file));  // the upload is deleted
  EXPECT_EQ(service_->GetStore("acme", store)->segment_count, 500);
  EXPECT_EQ(service_->GetImport("acme", store, "imp_nope").status().code(),
            absl::StatusCode::kNotFound);
  // A broken file fails the import with the reason, and writes nothing.
  std::string broken = dir_ + "/broken.tmx";
  std::ofstream(broken) << "<tmx version=\"1.4\"><header srclang=\"en\"/><body><tu>";
  auto failed = service_->StartImport("acme", store, broken, "tmx", "key_1");
  ASSERT_TRUE(failed.ok());
  service_->DrainImports();
  auto f = service_->GetImport("acme", store, failed->id);
  EXPECT_EQ(f->status, "failed");
  // Named as the client knows it: never the server's path.
  EXPECT_THAT(f->error, HasSubstr("upload: line 1, column 52"));
  EXPECT_THAT(f->error, Not(HasSubstr(dir_)));
  EXPECT_EQ(service_->GetStore("acme", store)->segment_count, 500);
}

TEST_F(TmServiceTest, InterruptedImportsResumeAfterRestart) {
  std::string store = NewStore("acme", "en", "es");
  std::string file = WriteTmx(dir_ + "/big.tmx", 20000);
  auto started = service_->StartImport("acme", store, file, "tmx", "key_1");
  ASSERT_TRUE(started.ok());
  service_->StopImports();  // the process is going down
  auto state = service_->GetImport("acme", store, started->id);
  ASSERT_TRUE(state.ok());
  if (state->status != "succeeded") {
    // Interrupted (waiting for its slot, validating, or between two of its transactions): the
    // record still open, the file kept; what was written stays, and the resumed import merges
    // it instead of adding it twice.
    EXPECT_THAT(state->status, AnyOf("queued", "running"));
    EXPECT_LE(service_->GetStore("acme", store)->segment_count, 20000);
    EXPECT_TRUE(std::filesystem::exists(file));
  }
  Open();  // restart
  ASSERT_TRUE(service_->ResumeImports().ok());
  service_->DrainImports();
  auto done = service_->GetImport("acme", store, started->id);
  EXPECT_EQ(done->status, "succeeded");
  EXPECT_EQ(service_->GetStore("acme", store)->segment_count, 20000);
  EXPECT_TRUE(
      service_->Lookup("acme", store, "Sentence number 77 of the test", {})->matches[0].score ==
      100);
}

// A tenant may queue a bounded number of imports; they run one at a time per tenant, so that
// another tenant's import is not stuck behind them.
// A lookup that may not wait (an I/O thread's) answers WouldBlock instead of building an index
// or reading storage, and the same answer as a waiting one when memory has it all.
TEST_F(TmServiceTest, NonblockingLookupsNeverWait) {
  std::string store = NewStore("acme", "en", "es");
  Add(store, {Seg("Open the file", "Abra el archivo"), Seg("Save the file", "Guarde el archivo")});
  Open(/*build_indexes=*/false);  // a restart: no index built, no record in memory
  LookupOptions quick;
  quick.nonblocking = true;
  auto refused = service_->Lookup("acme", store, "Open the file", quick);
  EXPECT_TRUE(IsWouldBlock(refused.status())) << refused.status();
  EXPECT_EQ(refused.status().message(), "the store's index would have to wait");
  ASSERT_TRUE(service_->Warm("acme", store).ok());
  refused = service_->Lookup("acme", store, "Open the file", quick);
  EXPECT_EQ(refused.status().message(), "reading segments from storage would have to wait");
  auto waited = service_->Lookup("acme", store, "Open the file", {});
  ASSERT_TRUE(waited.ok()) << waited.status();
  auto quick_again = service_->Lookup("acme", store, "Open the file", quick);
  ASSERT_TRUE(quick_again.ok()) << quick_again.status();
  ASSERT_EQ(quick_again->matches.size(), waited->matches.size());
  EXPECT_EQ(quick_again->matches[0].segment.target, "Abra el archivo");
  EXPECT_EQ(quick_again->matches[0].score, 100);
}

TEST_F(TmServiceTest, ImportsQueuePerTenantWithinBounds) {
  std::string a = NewStore("acme", "en", "es");
  std::string b = NewStore("globex", "en", "es");
  // The files first, then the imports back to back: the first (5,000 units, read twice) is
  // still running, and the seven behind it queued, when the ninth is asked for.
  std::vector<std::string> files;
  for (int i = 0; i < 9; ++i) files.push_back(WriteTmx(StrCat(dir_, "/a", i, ".tmx"), 5000));
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    auto started = service_->StartImport("acme", a, files[i], "tmx", "key_1");
    ASSERT_TRUE(started.ok()) << started.status();
    ids.push_back(started->id);
  }
  auto refused = service_->StartImport("acme", a, files[8], "tmx", "key_1");
  EXPECT_TRUE(IsThrottled(refused.status())) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("this tenant has 8 imports queued or running"));
  auto other = service_->StartImport("globex", b, WriteTmx(dir_ + "/b.tmx", 300), "tmx", "key_2");
  ASSERT_TRUE(other.ok()) << other.status();
  service_->DrainImports();
  for (const std::string& id : ids)
    EXPECT_EQ(service_->GetImport("acme", a, id)->status, "succeeded");
  EXPECT_EQ(service_->GetImport("globex", b, other->id)->status, "succeeded");
  EXPECT_EQ(service_->GetStore("globex", b)->segment_count, 300);
}

// A compressed file is refused before anything is read from it: libxml2 would unpack it
// without bound (a 0.87 MB upload became 250 MB of XML).
TEST_F(TmServiceTest, CompressedImportsAreRefused) {
  std::string store = NewStore("acme", "en", "es");
  std::string plain = WriteTmx(dir_ + "/plain.tmx", 50);
  std::string gz = dir_ + "/packed.tmx";
  ASSERT_EQ(std::system(StrCat("gzip -c ", plain, " > ", gz).c_str()), 0);
  tm::ImportOptions o;
  o.source_name = "upload";
  auto r = service_->ImportTmx("acme", store, gz, o);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_EQ(r.status().message(),
            "upload: the file is gzip-compressed; verso reads uncompressed files only (unpack it "
            "and send that)");
  EXPECT_EQ(service_->GetStore("acme", store)->segment_count, 0);
}

TEST(BandTest, IndustryBands) {
  EXPECT_EQ(BandName(BandOf(101)), "101");
  EXPECT_EQ(BandName(BandOf(100)), "100");
  EXPECT_EQ(BandName(BandOf(95)), "95-99");
  EXPECT_EQ(BandName(BandOf(94)), "85-94");
  EXPECT_EQ(BandName(BandOf(75)), "75-84");
  EXPECT_EQ(BandName(BandOf(74)), "50-74");
  EXPECT_EQ(BandName(BandOf(49)), "no-match");
}

}  // namespace
}  // namespace verso::tm

namespace verso::tm {
namespace {

// Another process on the same database (the CLI, a worker): what it changes reaches this one's
// stores and indexes at the next Sync, from the database's change log.
TEST_F(TmServiceTest, ChangesByAnotherProcessReachTheIndexAtTheNextSync) {
  auto other_db = storage::OpenSqlite(dir_ + "/verso.db", storage::SqliteOptions{});
  ASSERT_TRUE(other_db.ok()) << other_db.status();
  TmService other(other_db->get(), &clock_, &ids_);
  ASSERT_TRUE(other.Load().ok());

  auto created = other.CreateStore("acme", "cli", "en", "es");
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string store = created->record.id;
  auto added = other.AddSegments("acme", store, {Seg("Save the file", "Guarde el archivo")}, "cli");
  ASSERT_TRUE(added.ok()) << added.status();
  // Found at once: a store this process does not know yet is looked for in storage (then the
  // log is read), as when another API process made it a moment ago. Not by another tenant.
  EXPECT_TRUE(absl::IsNotFound(service_->GetStore("other", store).status()));
  EXPECT_TRUE(service_->GetStore("acme", store).ok());
  auto read = service_->Sync();
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, 0);  // the store and its segment: read by GetStore
  EXPECT_EQ(Lookup(store, "Save the file"),
            (std::vector<std::pair<std::string, int>>{{"Guarde el archivo", 100}}));

  // Updated, then a second segment added and the first deleted.
  SegmentRecord changed = (*added)[0];
  changed.target = "Guarda el fichero";
  ASSERT_TRUE(other.UpdateSegment("acme", store, changed, "cli").ok());
  ASSERT_TRUE(service_->Sync().ok());
  EXPECT_EQ(Lookup(store, "Save the file"),
            (std::vector<std::pair<std::string, int>>{{"Guarda el fichero", 100}}));
  ASSERT_TRUE(
      other.AddSegments("acme", store, {Seg("Open the file", "Abra el archivo")}, "cli").ok());
  ASSERT_TRUE(other.DeleteSegment("acme", store, changed.id).ok());
  ASSERT_TRUE(service_->Sync().ok());
  EXPECT_EQ(Lookup(store, "Save the file", 100), (std::vector<std::pair<std::string, int>>{}));
  EXPECT_EQ(Lookup(store, "Open the file"),
            (std::vector<std::pair<std::string, int>>{{"Abra el archivo", 100}}));

  // This process's own writes come back through the log and change nothing.
  Add(store, {Seg("Close the file", "Cierre el archivo")});
  ASSERT_TRUE(service_->Sync().ok());
  EXPECT_EQ(Lookup(store, "Close the file", 100),
            (std::vector<std::pair<std::string, int>>{{"Cierre el archivo", 100}}));

  ASSERT_TRUE(other.DeleteStore("acme", store).ok());
  ASSERT_TRUE(service_->Sync().ok());
  EXPECT_TRUE(absl::IsNotFound(service_->GetStore("acme", store).status()));
  EXPECT_EQ(*service_->Sync(), 0);  // nothing new
}

// A process that holds no index (an API process of a cluster) asks a peer that holds it (a TM
// node) through IndexPeers; here the "network" is a direct call to the peer's AnswerPeer.
class DirectPeers : public IndexPeers {
 public:
  explicit DirectPeers(bool holds) : holds_(holds) {}
  bool Holds(std::string_view) override { return holds_; }
  absl::StatusOr<std::string> Ask(std::string_view store_id, std::string_view method,
                                  const std::string& request) override {
    ++asked;
    return node->AnswerPeer(method, store_id, request);
  }
  TmService* node = nullptr;
  int asked = 0;

 private:
  bool holds_;
};

TEST_F(TmServiceTest, APeerHoldingTheIndexAnswersAsTheLocalIndexWouldAndSeesTheAskersWrites) {
  const std::string store = NewStore();
  Add(store,
      {Seg("Save the file", "Guarde el archivo"), Seg("Save the files", "Guarde los archivos"),
       Seg("Open the file now", "Abra el archivo ahora")});
  // The node: another process on the same database, holding every index.
  auto node_db = storage::OpenSqlite(dir_ + "/verso.db", storage::SqliteOptions{});
  ASSERT_TRUE(node_db.ok());
  DirectPeers node_peers(/*holds=*/true);
  TmService node(node_db->get(), &clock_, &ids_);
  node.SetIndexPeers(&node_peers);
  ASSERT_TRUE(node.Load().ok());
  // The asker: holds none, answers every lookup through the node.
  auto api_db = storage::OpenSqlite(dir_ + "/verso.db", storage::SqliteOptions{});
  ASSERT_TRUE(api_db.ok());
  DirectPeers api_peers(/*holds=*/false);
  api_peers.node = &node;
  TmService api(api_db->get(), &clock_, &ids_);
  api.SetIndexPeers(&api_peers);
  ASSERT_TRUE(api.Load().ok());
  EXPECT_EQ(api.IndexSizes()[0].built, false);

  auto same = [&](const std::string& q, int min_score, const SegmentContext& context = {}) {
    LookupOptions o;
    o.min_score = min_score;
    o.context = context;
    auto local = service_->Lookup("acme", store, q, o);
    auto remote = api.Lookup("acme", store, q, o);
    ASSERT_TRUE(local.ok() && remote.ok()) << local.status() << remote.status();
    ASSERT_EQ(remote->matches.size(), local->matches.size()) << q;
    for (size_t i = 0; i < local->matches.size(); ++i) {
      EXPECT_EQ(remote->matches[i].segment.target, local->matches[i].segment.target);
      EXPECT_EQ(remote->matches[i].score, local->matches[i].score);
      EXPECT_EQ(remote->matches[i].penalties, local->matches[i].penalties);
    }
    EXPECT_EQ(remote->candidates, local->candidates);
  };
  same("Save the file", 50);
  same("save the FILE!", 50);
  same("Open the file now", 60, SegmentContext{.key = "k", .prev_hash = -7, .next_hash = 9});
  EXPECT_EQ(api_peers.asked, 3);
  // Several lookups: one request to the peer, each answer as the local index gives it.
  {
    // (The same source twice: both get the whole record, on both sides.)
    std::vector<TmService::BatchQuery> batch = {{"Save the files", {}},
                                                {"nothing like it at all", {}},
                                                {"Open the file now", {.key = "k"}},
                                                {"Save the files", {}}};
    auto remote = api.LookupMany("acme", store, batch, LookupOptions{});
    auto local = service_->LookupMany("acme", store, batch, LookupOptions{});
    ASSERT_TRUE(remote.ok() && local.ok()) << remote.status();
    EXPECT_EQ(api_peers.asked, 4);
    ASSERT_EQ(remote->size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
      ASSERT_EQ((*remote)[i].matches.size(), (*local)[i].matches.size()) << i;
      for (size_t k = 0; k < (*local)[i].matches.size(); ++k) {
        EXPECT_EQ((*remote)[i].matches[k].segment.id, (*local)[i].matches[k].segment.id);
        EXPECT_EQ((*remote)[i].matches[k].segment.target, (*local)[i].matches[k].segment.target);
        EXPECT_EQ((*remote)[i].matches[k].score, (*local)[i].matches[k].score);
      }
    }
    ASSERT_FALSE((*local)[3].matches.empty());
    EXPECT_EQ((*local)[3].matches[0].segment.target, "Guarde los archivos");
    EXPECT_TRUE((*remote)[1].matches.empty());
    size_t failed = 99;
    auto bad =
        api.LookupMany("acme", store, {{"fine", {}}, {"\x01", {}}}, LookupOptions{}, &failed);
    EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
    EXPECT_EQ(failed, 1u);
    LookupOptions zero;
    zero.min_score = 0;
    EXPECT_EQ(api.LookupMany("acme", store, batch, zero).status().message(),
              "min_score: must be between 1 and 101 (got 0)");
    EXPECT_EQ(api_peers.asked, 4);  // refused before asking
  }
  // The asker's own write is seen by the next lookup though the node has not synced: the
  // request asks it to read the log first.
  auto added = api.AddSegments("acme", store, {Seg("Close the window", "Cierre la ventana")}, "x");
  ASSERT_TRUE(added.ok()) << added.status();
  auto seen = api.Lookup("acme", store, "Close the window", LookupOptions{});
  ASSERT_TRUE(seen.ok()) << seen.status();
  ASSERT_EQ(seen->matches.size(), 1u);
  EXPECT_EQ(seen->matches[0].segment.target, "Cierre la ventana");
  // A store the asker just made, unknown to the node until it reads the log.
  auto made = api.CreateStore("acme", "fresh", "en", "fr");
  ASSERT_TRUE(made.ok());
  ASSERT_TRUE(api.AddSegments("acme", made->record.id, {Seg("Yes", "Oui")}, "x").ok());
  auto fresh = api.Lookup("acme", made->record.id, "Yes", LookupOptions{});
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_EQ(fresh->matches.size(), 1u);

  // Concordance: the same page, word ranges and totals.
  ConcordanceOptions co;
  co.target = true;
  co.match = ConcordanceMatchMode::kPrefix;
  auto local_c = service_->Concordance("acme", store, "fil", co);
  ASSERT_TRUE(service_->Sync().ok());
  local_c = service_->Concordance("acme", store, "fil", co);
  auto remote_c = api.Concordance("acme", store, "fil", co);
  ASSERT_TRUE(local_c.ok() && remote_c.ok()) << remote_c.status();
  EXPECT_EQ(remote_c->total, local_c->total);
  ASSERT_EQ(remote_c->matches.size(), local_c->matches.size());
  for (size_t i = 0; i < local_c->matches.size(); ++i) {
    EXPECT_EQ(remote_c->matches[i].segment.id, local_c->matches[i].segment.id);
    EXPECT_EQ(remote_c->matches[i].ranges, local_c->matches[i].ranges);
  }

  // The node answers only for what it holds, built; and refuses malformed requests.
  EXPECT_EQ(*node.AnswerPeer("ready", "", store + "\ntm_nope\n"), store + "\n");
  node.DropIndex(store);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      node.AnswerPeer("lookup", store, "l1 0 50 5 0 0 0 0\nx").status()));
  EXPECT_EQ(*node.AnswerPeer("ready", "", store), "");
  ASSERT_TRUE(node.Warm("acme", store).ok());
  EXPECT_TRUE(node.AnswerPeer("lookup", store, "l1 0 50 5 0 0 0 0\nSave").ok());
  // On an I/O thread: answered from memory, or WouldBlock when the log must be read first.
  EXPECT_TRUE(node.AnswerPeer("lookup", store, "l1 0 50 5 0 0 0 0\nSave", true).ok());
  EXPECT_TRUE(
      IsWouldBlock(node.AnswerPeer("lookup", store, "l1 -1 50 5 0 0 0 0\nSave", true).status()));
  for (const char* bad : {"", "l1", "l1 0 50 5 0 0 0 99\nx", "l1 0 0 5 0 0 0 0\nx",
                          "l2 0 50 5 0 0 0 0\nx", "l1 0 50 5 0 0 0 0\n\x01"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(node.AnswerPeer("lookup", store, bad).status())) << bad;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(node.AnswerPeer("delete", store, "").status()));
  EXPECT_TRUE(
      absl::IsNotFound(node.AnswerPeer("lookup", "tm_nope", "l1 0 50 5 0 0 0 0\nx").status()));
}

TEST_F(TmServiceTest, ANewOwnerStartsFromTheSnapshotPlusTheChangesSince) {
  const std::string store = NewStore();
  std::vector<SegmentRecord> segs;
  for (int i = 0; i < 3000; ++i) {
    segs.push_back(Seg("Sentence number " + std::to_string(i) + " of the manual",
                       "Frase " + std::to_string(i)));
  }
  std::vector<SegmentRecord> added = Add(store, segs);
  ASSERT_EQ(added.size(), 3000u);
  const std::string snapshots = dir_ + "/snapshots";
  // The old owner writes the snapshot...
  {
    Process process = OpenProcess(snapshots, /*build_indexes=*/true);
    TmService& owner = *process.tm;
    ASSERT_TRUE(owner.WriteSnapshot(store).ok());
    EXPECT_EQ(*owner.WriteSnapshots(absl::ZeroDuration()), 0);  // unchanged since
  }
  // ...then the store changes: one added, one changed, one deleted.
  Add(store, {Seg("A sentence written after the snapshot", "Escrita despues")});
  SegmentRecord changed = added[7];
  changed.target = "Cambiada";
  ASSERT_TRUE(service_->UpdateSegment("acme", store, changed, "ana").ok());
  ASSERT_TRUE(service_->DeleteSegment("acme", store, added[9].id).ok());

  auto open_owner = [&](bool snapshots_on) {
    Process p = OpenProcess(snapshots_on ? snapshots : "", /*build_indexes=*/false);
    EXPECT_TRUE(p.tm->Warm("acme", store).ok());
    return std::make_pair(std::move(p.db), std::move(p.tm));
  };
  auto [new_db, fresh] = open_owner(true);
  auto [rebuilt_db, rebuilt] = open_owner(false);
  EXPECT_TRUE(fresh->IndexSizes()[0].from_snapshot);
  EXPECT_FALSE(rebuilt->IndexSizes()[0].from_snapshot);
  EXPECT_EQ(fresh->IndexSizes()[0].segments, 3000u);  // 3000 + 1 - 1
  auto same = [&](TmService* a, TmService* b, const std::string& q, bool exhaustive) {
    LookupOptions o;
    o.exhaustive = exhaustive;
    o.max_results = 10;
    auto x = a->Lookup("acme", store, q, o);
    auto y = b->Lookup("acme", store, q, o);
    ASSERT_TRUE(x.ok() && y.ok());
    ASSERT_EQ(x->matches.size(), y->matches.size()) << q;
    for (size_t i = 0; i < x->matches.size(); ++i) {
      EXPECT_EQ(x->matches[i].segment.id, y->matches[i].segment.id) << q;
      EXPECT_EQ(x->matches[i].score, y->matches[i].score) << q;
    }
  };
  for (const char* q : {"Sentence number 7 of the manual", "Sentence number 9 of the manual",
                        "A sentence written after the snapshot", "number 1234 manual"}) {
    same(fresh.get(), rebuilt.get(), q, false);
    same(fresh.get(), rebuilt.get(), q, true);
  }
  auto after = fresh->Lookup("acme", store, "A sentence written after the snapshot", {});
  ASSERT_TRUE(after.ok());
  ASSERT_FALSE(after->matches.empty());
  EXPECT_EQ(after->matches[0].score, 100);
  auto seven = fresh->Lookup("acme", store, "Sentence number 7 of the manual", {});
  ASSERT_TRUE(seven.ok());
  EXPECT_EQ(seven->matches[0].segment.target, "Cambiada");
  ConcordanceOptions co;
  co.target = true;
  auto conc = fresh->Concordance("acme", store, "Cambiada", co);
  ASSERT_TRUE(conc.ok());
  EXPECT_EQ(conc->total, 1);
  // The new owner's index is newer than the snapshot it read: it writes it again, once.
  EXPECT_EQ(*fresh->WriteSnapshots(absl::ZeroDuration()), 1);
  EXPECT_EQ(*fresh->WriteSnapshots(absl::ZeroDuration()), 0);
  fresh.reset();

  // A truncated snapshot, a snapshot too old, another store's: the index is built from storage.
  const std::string path = snapshots + "/" + store + ".snap";
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size - 100);
  auto [db2, truncated] = open_owner(true);
  EXPECT_FALSE(truncated->IndexSizes()[0].from_snapshot);
  same(truncated.get(), rebuilt.get(), "Sentence number 9 of the manual", false);
  ASSERT_TRUE(truncated->WriteSnapshot(store).ok());
  clock_.Advance(absl::Hours(1));
  auto [db3, stale] = open_owner(true);
  EXPECT_FALSE(stale->IndexSizes()[0].from_snapshot);
  const std::string other = NewStore();
  std::filesystem::copy_file(path, snapshots + "/" + other + ".snap");
  clock_.Advance(-absl::Hours(1));
  Process wrong_process = OpenProcess(snapshots, /*build_indexes=*/false);
  TmService& wrong = *wrong_process.tm;
  ASSERT_TRUE(wrong.Warm("acme", other).ok());
  for (const auto& size : wrong.IndexSizes()) {
    if (size.store_id == other) {
      EXPECT_FALSE(size.from_snapshot);
      EXPECT_EQ(size.segments, 0u);
    }
  }
}

// An unchanged store's snapshot is made young again by rewriting its header's time only (the
// index in it still reflects the store), so that a process starting 36 minutes after it was
// written still starts from it; a store that changed gets a whole new snapshot.
TEST_F(TmServiceTest, AnUnchangedStoresSnapshotIsKeptYoungByItsHeaderAlone) {
  const std::string store = GuideStore();
  ASSERT_FALSE(store.empty());
  const std::string snapshots = dir_ + "/snapshots";
  const std::string path = snapshots + "/" + store + ".snap";
  auto read = [&] {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  Process process = OpenProcess(snapshots, /*build_indexes=*/true);
  TmService& owner = *process.tm;
  ASSERT_TRUE(owner.WriteSnapshot(store).ok());
  const std::string first = read();
  const size_t eol = first.find('\n');
  ASSERT_NE(eol, std::string::npos);

  clock_.Advance(absl::Minutes(10));
  EXPECT_EQ(*owner.WriteSnapshots(absl::Minutes(1)), 0);  // younger than half the age limit
  clock_.Advance(absl::Minutes(6));
  EXPECT_EQ(*owner.WriteSnapshots(absl::Minutes(1)), 1);
  const std::string second = read();
  ASSERT_EQ(second.size(), first.size());
  EXPECT_EQ(second.substr(eol), first.substr(eol));  // the index: not rewritten
  std::vector<std::string_view> was = Split(std::string_view(first).substr(0, eol), ' ');
  std::vector<std::string_view> now = Split(std::string_view(second).substr(0, eol), ' ');
  const std::string written_now = std::to_string(absl::ToUnixMicros(clock_.Now()));
  ASSERT_GE(now.size(), 7u);
  EXPECT_EQ(now[4], written_now);
  now[4] = was[4];
  EXPECT_EQ(now, was);  // everything else as it was

  // 36 minutes after the index was written (the limit is 30), 20 after the refresh.
  clock_.Advance(absl::Minutes(20));
  {
    Process other_process = OpenProcess(snapshots, /*build_indexes=*/false);
    TmService& other = *other_process.tm;
    auto warmed = other.Warm("acme", store);
    ASSERT_TRUE(warmed.ok()) << warmed.status();
    EXPECT_TRUE(warmed->from_snapshot);
    auto hit = other.Lookup("acme", store, "Line 42 of the guide", {});
    ASSERT_TRUE(hit.ok());
    ASSERT_FALSE(hit->matches.empty());
    EXPECT_EQ(hit->matches[0].segment.target, "Linea 42");
  }

  // A change: the whole snapshot is written again, with the new segment in it.
  ASSERT_TRUE(
      owner.AddSegments("acme", store, {Seg("A line added later", "Una linea nueva")}, "ana").ok());
  ASSERT_TRUE(owner.Sync().ok());  // the change read back from the log
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(*owner.WriteSnapshots(absl::Minutes(1)), 1);
  EXPECT_GT(read().size(), first.size());
}

// A snapshot ends its header with the XXH3-64 of its index's bytes: one flipped bit anywhere in
// them (here in the first table, the middle and the last byte, each passing the reader's
// structural checks or not) and the index is built from storage instead, answering the same.
TEST_F(TmServiceTest, ADamagedSnapshotIsNotUsed) {
  const std::string store = GuideStore();
  ASSERT_FALSE(store.empty());
  const std::string snapshots = dir_ + "/snapshots";
  const std::string path = snapshots + "/" + store + ".snap";
  {
    Process process = OpenProcess(snapshots, /*build_indexes=*/true);
    ASSERT_TRUE(process.tm->WriteSnapshot(store).ok());
  }
  std::string pristine;
  {
    std::ifstream in(path, std::ios::binary);
    pristine.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const size_t eol = pristine.find('\n');
  ASSERT_NE(eol, std::string::npos);
  std::vector<std::string_view> fields;
  for (std::string_view f : Split(std::string_view(pristine).substr(0, eol), ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  ASSERT_EQ(fields.size(), 8u);
  char checksum[17];
  std::snprintf(
      checksum, sizeof(checksum), "%016llx",
      static_cast<unsigned long long>(StableHash64(std::string_view(pristine).substr(eol + 1))));
  EXPECT_EQ(fields[7], checksum);
  auto warm = [&](const std::string& bytes) {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    Process p = OpenProcess(snapshots, /*build_indexes=*/false);
    auto warmed = p.tm->Warm("acme", store);
    EXPECT_TRUE(warmed.ok()) << warmed.status();
    auto hit = p.tm->Lookup("acme", store, "Line 42 of the guide", {});
    EXPECT_TRUE(hit.ok() && !hit->matches.empty());
    if (hit.ok() && !hit->matches.empty()) {
      EXPECT_EQ(hit->matches[0].segment.target, "Linea 42");
      EXPECT_EQ(hit->matches[0].score, 100);
    }
    EXPECT_EQ(p.tm->IndexSizes()[0].segments, 500u);
    return warmed.ok() && warmed->from_snapshot;
  };
  EXPECT_TRUE(warm(pristine));
  const size_t body = pristine.size() - eol - 1;
  for (size_t at : {eol + 1 + 8, eol + 1 + body / 2, pristine.size() - 1}) {
    std::string damaged = pristine;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x10);
    EXPECT_FALSE(warm(damaged)) << "a bit flipped at byte " << at << " of " << pristine.size();
  }
}

TEST_F(TmServiceTest, CachedResultsFollowTheStoreAndNeverHideAWrite) {
  service_->EnableResultCache(ResultCacheOptions{});
  auto other_db = storage::OpenSqlite(dir_ + "/verso.db", storage::SqliteOptions{});
  ASSERT_TRUE(other_db.ok()) << other_db.status();
  TmService other(other_db->get(), &clock_, &ids_);
  ASSERT_TRUE(other.Load().ok());
  const std::string store = NewStore();
  std::vector<SegmentRecord> saved = Add(store, {Seg("Save the file", "Guarde el archivo")});
  ASSERT_EQ(saved.size(), 1u);
  using Matches = std::vector<std::pair<std::string, int>>;
  // A write of this process not read back from the log yet: nothing is cached.
  EXPECT_EQ(Lookup(store, "Save the file"), (Matches{{"Guarde el archivo", 100}}));
  EXPECT_EQ(service_->CacheStats().bypassed, 1);
  EXPECT_EQ(service_->CacheStats().l1_entries, 0);
  ASSERT_TRUE(service_->Sync().ok());
  // Now the second lookup is answered from the cache, with the same matches.
  EXPECT_EQ(Lookup(store, "Save the file"), (Matches{{"Guarde el archivo", 100}}));
  EXPECT_EQ(Lookup(store, "Save the file"), (Matches{{"Guarde el archivo", 100}}));
  EXPECT_EQ(service_->CacheStats().misses, 1);
  EXPECT_EQ(service_->CacheStats().l1_hits, 1);
  const Matches fuzzy = Lookup(store, "Save the files");
  ASSERT_EQ(fuzzy.size(), 1u);
  EXPECT_EQ(fuzzy[0].first, "Guarde el archivo");
  EXPECT_LT(fuzzy[0].second, 100);
  EXPECT_EQ(Lookup(store, "Save the files"), fuzzy);
  EXPECT_EQ(service_->CacheStats().l1_hits, 2);

  // This process's write is in its next lookup, cached or not.
  Add(store, {Seg("Save the files", "Guarde los archivos")});
  EXPECT_EQ(Lookup(store, "Save the files"),
            (Matches{{"Guarde los archivos", 100}, {"Guarde el archivo", fuzzy[0].second}}));
  EXPECT_EQ(service_->CacheStats().bypassed, 2);

  // Another process's change: this process answers as its view of the store says until its
  // next Sync, then with the change (a fresh entry: the store's position is in the key).
  ASSERT_TRUE(service_->Sync().ok());
  EXPECT_EQ(Lookup(store, "Save the file", 100), (Matches{{"Guarde el archivo", 100}}));
  SegmentRecord changed = saved[0];
  changed.target = "Guarda el fichero";
  ASSERT_TRUE(other.Sync().ok());  // it learns of the store
  ASSERT_TRUE(other.UpdateSegment("acme", store, changed, "cli").ok());
  const int64_t misses = service_->CacheStats().misses;
  ASSERT_TRUE(service_->Sync().ok());
  EXPECT_EQ(Lookup(store, "Save the file", 100), (Matches{{"Guarda el fichero", 100}}));
  EXPECT_EQ(service_->CacheStats().misses, misses + 1);
  ASSERT_TRUE(other.DeleteSegment("acme", store, changed.id).ok());
  ASSERT_TRUE(service_->Sync().ok());
  EXPECT_EQ(Lookup(store, "Save the file", 100), (Matches{}));

  // Exhaustive lookups (the baseline) are never cached; dropping a store's entries empties L1.
  const ResultCacheStats before = service_->CacheStats();
  LookupOptions exhaustive;
  exhaustive.exhaustive = true;
  ASSERT_TRUE(service_->Lookup("acme", store, "Save the files", exhaustive).ok());
  EXPECT_EQ(service_->CacheStats().misses, before.misses);
  EXPECT_EQ(service_->CacheStats().l1_hits, before.l1_hits);
  EXPECT_GT(service_->CacheStats().l1_entries, 0);
  service_->DropCachedResults(store);
  EXPECT_EQ(service_->CacheStats().l1_entries, 0);
}

}  // namespace
}  // namespace verso::tm
