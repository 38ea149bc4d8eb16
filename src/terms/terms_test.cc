#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/file.h"
#include "common/strings.h"
#include "storage/storage.h"
#include "terms/terms.h"
#include "text/text.h"

namespace verso::terms {
namespace {

using ::testing::ElementsAre;

struct Found {
  uint32_t payload;
  std::string text;
  bool operator==(const Found&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Found& f) {
  return os << f.payload << ":" << f.text;
}

std::vector<Found> FindAll(const Matcher& m, std::string_view s) {
  std::vector<Found> out;
  for (const auto& x : m.Find(s)) {
    out.push_back({x.payload, std::string(s.substr(x.begin, x.end - x.begin))});
  }
  return out;
}

TEST(MatcherTest, WholeWordsMultiWordTermsAndInflections) {
  Matcher m("en");
  m.Add("server", false, 1);
  m.Add("web server", false, 2);
  m.Add("log in", false, 3);
  m.Add("API", true, 4);
  m.Add("C++", false, 5);
  m.Build();
  // "servers" is the plural (stemmed), "observer" is not a whole-word match, and "web server"
  // hides the "server" inside it.
  EXPECT_THAT(FindAll(m, "Two servers and a Web Server; the observer logs in."),
              ElementsAre(Found{1, "servers"}, Found{2, "Web Server"}, Found{3, "logs in"}));
  EXPECT_THAT(FindAll(m, "The APIs and the api and C++"),
              ElementsAre(Found{4, "APIs"}, Found{5, "C++"}));
  // An inline code between the words breaks the term; offsets are in the markup.
  EXPECT_THAT(FindAll(m, "web <ph x=\"1\">&lt;br/&gt;</ph>server &amp; web server"),
              ElementsAre(Found{1, "server"}, Found{2, "web server"}));
  EXPECT_TRUE(FindAll(m, "nothing here").empty());
}

TEST(MatcherTest, StemmingFollowsTheLanguage) {
  EXPECT_TRUE(HasStemmer("de-DE"));
  EXPECT_TRUE(HasStemmer("es"));
  EXPECT_FALSE(HasStemmer("ja"));
  Matcher de("de");
  de.Add("Drucker", false, 1);
  de.Build();
  EXPECT_THAT(FindAll(de, "Die Druckern fehlt Papier"), ElementsAre(Found{1, "Druckern"}));
  Matcher es("es");
  es.Add("impresora", false, 1);
  es.Build();
  EXPECT_THAT(FindAll(es, "Las impresoras están listas"), ElementsAre(Found{1, "impresoras"}));
  // No stemmer: exact (case-folded) words only.
  Matcher ja("ja");
  ja.Add("server", false, 1);
  ja.Build();
  EXPECT_THAT(FindAll(ja, "Server servers"), ElementsAre(Found{1, "Server"}));
}

TEST(MatcherTest, TenThousandTerms) {
  Matcher m("en");
  for (int i = 0; i < 10000; ++i) m.Add(StrCat("term", i, " word", i % 7), false, i);
  m.Add("word3", false, 10000);
  m.Build();
  EXPECT_EQ(m.size(), 10001u);
  EXPECT_THAT(
      FindAll(m, "see term42 word0 and term43 word3 and term44 word2"),
      ElementsAre(Found{42, "term42 word0"}, Found{10000, "word3"}, Found{44, "term44 word2"}));
}

class GlossaryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/terms_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = storage::OpenSqlite(dir_ + "/verso.db", {});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    service_ = std::make_unique<GlossaryService>(&db_->glossaries(), &clock_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  FakeClock clock_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<GlossaryService> service_;
};

TEST_F(GlossaryServiceTest, CrudFindAndCheck) {
  ASSERT_TRUE(service_->Create("t1", "it", "IT terms").ok());
  EXPECT_EQ(service_->Create("t1", "it", "").code(), absl::StatusCode::kAlreadyExists);
  std::vector<Concept> concepts = {
      {"srv",
       "",
       "",
       "",
       {{"en", "server", "noun", "", false, ""},
        {"es", "servidor", "noun", "preferred", false, ""},
        {"es", "server", "noun", "forbidden", false, ""}}},
      {"pr",
       "",
       "",
       "",
       {{"en-US", "printer", "", "", false, ""}, {"es", "impresora", "", "", false, ""}}},
  };
  auto put = service_->PutConcepts("t1", "it", concepts, false);
  ASSERT_TRUE(put.ok()) << put.status();
  auto info = service_->Get("t1", "it");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->concepts, 2);
  EXPECT_EQ(info->terms, 5);
  EXPECT_EQ(info->description, "IT terms");
  // Another tenant sees nothing.
  EXPECT_EQ(service_->Get("t2", "it").status().code(), absl::StatusCode::kNotFound);

  auto hits = service_->Find("t1", "it", "en", "es", "The <b>server</b> and the printers");
  ASSERT_TRUE(hits.ok()) << hits.status();
  ASSERT_EQ(hits->size(), 1u);  // "printer" is en-US: not a match for "en"
  EXPECT_EQ((*hits)[0].concept_id, "srv");
  EXPECT_EQ((*hits)[0].source, "server");
  ASSERT_EQ((*hits)[0].targets.size(), 1u);
  EXPECT_EQ((*hits)[0].targets[0].text, "servidor");
  ASSERT_EQ((*hits)[0].forbidden_targets.size(), 1u);

  auto us = service_->Find("t1", "it", "en-US", "es-MX", "Two printers and a server");
  ASSERT_TRUE(us.ok());
  ASSERT_EQ(us->size(), 2u);
  EXPECT_EQ((*us)[0].concept_id, "pr");
  EXPECT_EQ((*us)[0].targets[0].text, "impresora");

  auto good = service_->Check("t1", "it", "en", "es", "The server", "El servidor");
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good->missing.empty());
  EXPECT_TRUE(good->forbidden.empty());
  auto bad = service_->Check("t1", "it", "en", "es", "The server", "El Server");
  ASSERT_TRUE(bad.ok());
  EXPECT_THAT(bad->missing, ElementsAre(0u));
  EXPECT_THAT(bad->forbidden, ElementsAre("Server"));

  // A change is seen at once (the cached index is rebuilt).
  concepts[0].terms[1].text = "equipo servidor";
  ASSERT_TRUE(service_->PutConcepts("t1", "it", {concepts[0]}, false).ok());
  auto again = service_->Check("t1", "it", "en", "es", "The server", "El servidor");
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(again->missing, ElementsAre(0u));
  ASSERT_TRUE(service_->DeleteConcept("t1", "it", "srv").ok());
  EXPECT_EQ(service_->DeleteConcept("t1", "it", "srv").code(), absl::StatusCode::kNotFound);
  auto gone = service_->Find("t1", "it", "en", "es", "The server");
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->empty());
  ASSERT_TRUE(service_->Delete("t1", "it").ok());
  EXPECT_EQ(service_->Find("t1", "it", "en", "es", "x").status().code(),
            absl::StatusCode::kNotFound);
}

// The one target term of "server" in t1's glossary "it", as `service` finds it.
std::string ServerIn(GlossaryService& service) {
  auto hits = service.Find("t1", "it", "en", "es", "The server");
  if (!hits.ok()) return std::string(hits.status().message());
  if (hits->size() != 1 || (*hits)[0].targets.size() != 1) return "no single hit";
  return (*hits)[0].targets[0].text;
}

Concept ServerConcept(const std::string& spanish) {
  return {
      "srv", "", "", "", {{"en", "server", "", "", false, ""}, {"es", spanish, "", "", false, ""}}};
}

// Two processes of one database (the same clock, frozen unless advanced): the other process's
// index follows a change after at most GlossaryCacheOptions::revalidate, and only then.
TEST_F(GlossaryServiceTest, AnotherProcessSeesAChangeAfterTheRevalidationInterval) {
  GlossaryService other(&db_->glossaries(), &clock_);
  ASSERT_TRUE(service_->Create("t1", "it", "").ok());
  ASSERT_TRUE(service_->PutConcepts("t1", "it", {ServerConcept("servidor")}, false).ok());
  EXPECT_EQ(ServerIn(other), "servidor");
  EXPECT_EQ(other.cache_stats().builds, 1);
  EXPECT_EQ(other.cache_stats().revalidations, 1);

  // Same microsecond on the clock, still a newer version.
  ASSERT_TRUE(service_->PutConcepts("t1", "it", {ServerConcept("equipo servidor")}, false).ok());
  EXPECT_EQ(ServerIn(*service_), "equipo servidor");  // its own change: at once
  EXPECT_EQ(ServerIn(other), "servidor");             // not read again within the second
  EXPECT_EQ(other.cache_stats().revalidations, 1);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(ServerIn(other), "equipo servidor");
  EXPECT_EQ(other.cache_stats().builds, 2);

  // Unchanged: the version is read again, the index kept.
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(ServerIn(other), "equipo servidor");
  EXPECT_EQ(other.cache_stats().builds, 2);
  EXPECT_EQ(other.cache_stats().revalidations, 3);

  ASSERT_TRUE(service_->Delete("t1", "it").ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(other.Find("t1", "it", "en", "es", "The server").status().code(),
            absl::StatusCode::kNotFound);
}

// With an L2 (a map here; Redis in verso): a second process builds its index from the concepts
// the first stored, a change is announced to every process at once, and an entry that is not
// the glossary's (another tenant's, damaged) is never used.
TEST_F(GlossaryServiceTest, AnL2SharesConceptsAndAnnouncedChangesAreSeenAtOnce) {
  std::map<std::string, std::string> l2;
  std::vector<GlossaryService*> processes;
  GlossaryCacheOptions o;
  o.l2_get = [&](const std::string& key) -> std::optional<std::string> {
    auto it = l2.find(key);
    if (it == l2.end()) return std::nullopt;
    return it->second;
  };
  o.l2_put = [&](const std::string& key, const std::string& value) { l2[key] = value; };
  o.announce = [&](std::string_view tenant, std::string_view name) {
    std::string pattern = GlossaryL2Pattern(tenant, name);
    ASSERT_EQ(pattern.back(), '*');
    pattern.pop_back();
    std::erase_if(l2, [&](const auto& kv) { return kv.first.starts_with(pattern); });
    std::string t, n;
    ASSERT_TRUE(ParseGlossaryChangeMessage(GlossaryChangeMessage(tenant, name), &t, &n));
    for (GlossaryService* p : processes) p->DropIndexes(t, n);
  };
  GlossaryService a(&db_->glossaries(), &clock_, o);
  GlossaryService b(&db_->glossaries(), &clock_, o);
  processes = {&a, &b};
  ASSERT_TRUE(a.Create("t1", "it", "").ok());
  ASSERT_TRUE(a.PutConcepts("t1", "it", {ServerConcept("servidor")}, false).ok());
  EXPECT_EQ(ServerIn(a), "servidor");
  EXPECT_EQ(a.cache_stats().l2_hits, 0);
  ASSERT_EQ(l2.size(), 1u);
  EXPECT_TRUE(l2.begin()->first.starts_with("glossary:"));
  EXPECT_EQ(ServerIn(b), "servidor");
  EXPECT_EQ(b.cache_stats().l2_hits, 1);

  ASSERT_TRUE(a.PutConcepts("t1", "it", {ServerConcept("equipo servidor")}, false).ok());
  EXPECT_TRUE(l2.empty());                    // the glossary's keys deleted
  EXPECT_EQ(ServerIn(b), "equipo servidor");  // the clock has not moved
  EXPECT_EQ(b.cache_stats().l2_hits, 1);

  // An entry under the glossary's key that names another glossary is a miss.
  ASSERT_EQ(l2.size(), 1u);
  const std::string key = l2.begin()->first;
  nlohmann::json forged = nlohmann::json::parse(l2[key]);
  forged["tenant"] = "t2";
  l2[key] = forged.dump();
  b.DropIndexes("t1", "it");
  EXPECT_EQ(ServerIn(b), "equipo servidor");
  EXPECT_EQ(b.cache_stats().l2_hits, 1);
  l2[key] = "{not json";
  b.DropIndexes("t1", "it");
  EXPECT_EQ(ServerIn(b), "equipo servidor");
  EXPECT_EQ(b.cache_stats().l2_hits, 1);
  std::string t, n;
  EXPECT_FALSE(ParseGlossaryChangeMessage("no separator", &t, &n));
}

TEST_F(GlossaryServiceTest, InvalidConceptsWriteNothing) {
  ASSERT_TRUE(service_->Create("t1", "g", "").ok());
  std::vector<Concept> concepts = {
      {"a", "", "", "", {{"en", "ok", "", "", false, ""}}},
      {"b",
       "",
       "",
       "",
       {{"en", "fine", "", "", false, ""}, {"not a tag!", "x", "", "", false, ""}}},
  };
  auto put = service_->PutConcepts("t1", "g", concepts, false);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().message(),
            "concepts[1].terms[1].lang: \"not a tag!\" is not a BCP 47 language tag");
  auto all = service_->Concepts("t1", "g");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
  auto status = service_->PutConcepts(
      "t1", "g", {{"c", "", "", "", {{"en", "x", "", "banned", false, ""}}}}, false);
  EXPECT_EQ(status.status().message(),
            "concepts[0].terms[0].status: must be preferred, admitted or forbidden");
}

TEST_F(GlossaryServiceTest, ImportsTheSdlTermbaseAndFindsItsTerms) {
  auto data = ReadFile(VERSO_SHARED_DATA "/tbx/okapi-tbx2/sdl_tbx.tbx");
  ASSERT_TRUE(data.ok()) << data.status();
  auto concepts = formats::ReadTbx(*data, "sdl_tbx.tbx");
  ASSERT_TRUE(concepts.ok()) << concepts.status();
  ASSERT_TRUE(service_->Create("t1", "sdl", "").ok());
  auto put = service_->PutConcepts("t1", "sdl", *concepts, true);
  ASSERT_TRUE(put.ok()) << put.status();
  auto back = service_->Concepts("t1", "sdl");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->size(), concepts->size());
  // Every English term of the termbase is found in a sentence made of it.
  int checked = 0;
  for (const Concept& c : *concepts) {
    for (const Term& t : c.terms) {
      if (text::PrimaryLanguage(t.lang) != "en") continue;
      auto hits = service_->Find("t1", "sdl", "en-US", "de-DE", StrCat("Here: ", t.text, "."));
      ASSERT_TRUE(hits.ok());
      bool found = false;
      for (const TermHit& h : *hits) found |= h.concept_id == c.id || h.term == t.text;
      EXPECT_TRUE(found) << t.text;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

}  // namespace
}  // namespace verso::terms
