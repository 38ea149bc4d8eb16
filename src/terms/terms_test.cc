#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

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
