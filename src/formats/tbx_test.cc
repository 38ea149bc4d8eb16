#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/file.h"
#include "formats/formats.h"

namespace verso::formats {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kTbxDir = VERSO_SHARED_DATA "/tbx/okapi-tbx2";

size_t CountOccurrences(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(TbxTest, EveryOkapiTermbaseImports) {
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(kTbxDir)) {
    if (e.path().extension() != ".tbx") continue;
    ++files;
    const std::string data = ReadFile(e.path()).value_or("");
    auto concepts = ReadTbx(data, e.path().filename());
    ASSERT_TRUE(concepts.ok()) << concepts.status();
    // Every <termEntry> of these files has terms; the empty <term/>s of sdl_tbx.tbx are skipped.
    EXPECT_EQ(concepts->size(), CountOccurrences(data, "<termEntry")) << e.path();
    size_t terms = 0;
    for (const Concept& c : *concepts) {
      EXPECT_FALSE(c.terms.empty());
      for (const Term& t : c.terms) {
        EXPECT_FALSE(t.lang.empty());
        EXPECT_FALSE(t.text.empty());
        ++terms;
      }
    }
    EXPECT_EQ(terms, CountOccurrences(data, "<term ") + CountOccurrences(data, "<term>"))
        << e.path();
  }
  EXPECT_EQ(files, 7u);
}

TEST(TbxTest, ReadsConceptFieldsOfTbxV2) {
  auto c = ReadTbx(ReadFile(kTbxDir + "/test01.tbx").value_or(""), "test01.tbx");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 1u);
  const Concept& x = (*c)[0];
  EXPECT_EQ(x.id, "eid-Oracle-67");
  EXPECT_EQ(x.subject, "manufacturing");
  EXPECT_EQ(x.definition, "A value between 0 and 1 used in ...");
  ASSERT_EQ(x.terms.size(), 2u);
  EXPECT_EQ(x.terms[0], (Term{"en", "alpha smoothing factor", "noun", "", false, ""}));
  EXPECT_EQ(x.terms[1], (Term{"hu", "Alfa simítási tényező", "noun", "", false, ""}));

  // <ntig><termGrp> and character references.
  auto m = ReadTbx(ReadFile(kTbxDir + "/maryland.tbx").value_or(""), "maryland.tbx");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].terms[0].text, "copiste");
  EXPECT_EQ((*m)[0].terms[2].text, "écrivain");
}

TEST(TbxTest, DecodesTheDeclaredEncoding) {
  auto c = ReadTbx(ReadFile(kTbxDir + "/test02_win1254.tbx").value_or(""), "test02_win1254.tbx");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].terms[0].text, "term with: éá and İı");
  EXPECT_EQ((*c)[0].terms[1].lang, "tr");
}

TEST(TbxTest, V3WriteThenReadIsIdentical) {
  std::vector<Concept> in = {
      {"c1",
       "software",
       "A computer that serves",
       "",
       {{"en", "server", "noun", "preferred", false, "the machine"},
        {"de", "Server", "noun", "preferred", true, ""},
        {"de", "Dienstrechner", "noun", "forbidden", false, ""}}},
      {"c2",
       "",
       "",
       "note & <more>",
       {{"en", "log in", "verb", "admitted", false, ""},
        {"de", "anmelden", "verb", "", false, ""}}},
  };
  const std::string tbx = WriteTbx(in, "en");
  EXPECT_THAT(tbx, HasSubstr("<tbx type=\"TBX-Basic\" style=\"dca\" xml:lang=\"en\""));
  EXPECT_THAT(tbx, HasSubstr("deprecatedTerm-admn-sts"));
  auto out = ReadTbx(tbx, "export.tbx");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, in);
}

TEST(TbxTest, ReadsTbxV3DctStyle) {
  const std::string tbx = R"(<?xml version="1.0"?>
<tbx style="dct" type="TBX-Basic" xml:lang="en" xmlns="urn:iso:std:iso:30042:ed-2"
     xmlns:basic="http://www.tbxinfo.net/ns/basic" xmlns:min="http://www.tbxinfo.net/ns/min">
  <tbxHeader><fileDesc><sourceDesc><p>x</p></sourceDesc></fileDesc></tbxHeader>
  <text><body>
    <conceptEntry id="k1">
      <min:subjectField>printing</min:subjectField>
      <langSec xml:lang="en"><termSec><term>toner</term>
        <min:partOfSpeech>noun</min:partOfSpeech>
        <basic:administrativeStatus>admittedTerm-admn-sts</basic:administrativeStatus>
      </termSec></langSec>
      <langSec xml:lang="fr"><termSec><term>encre en poudre</term></termSec></langSec>
    </conceptEntry>
  </body></text>
</tbx>)";
  auto c = ReadTbx(tbx, "dct.tbx");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].subject, "printing");
  EXPECT_EQ((*c)[0].terms[0], (Term{"en", "toner", "noun", "admitted", false, ""}));
  EXPECT_EQ((*c)[0].terms[1].text, "encre en poudre");
}

TEST(TbxTest, MalformedInputNamesLineAndColumn) {
  auto bad_xml = ReadTbx("<martif>\n<text><body>\n<termEntry></langSet>", "a.tbx");
  ASSERT_FALSE(bad_xml.ok());
  EXPECT_EQ(bad_xml.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_xml.status().message(), HasSubstr("a.tbx: line 3, column "));

  auto no_lang = ReadTbx(
      "<martif><text><body>\n<termEntry>\n<langSet><tig><term>x</term></tig></langSet>"
      "</termEntry></body></text></martif>",
      "b.tbx");
  ASSERT_FALSE(no_lang.ok());
  EXPECT_EQ(no_lang.status().message(), "b.tbx: line 3: <langSet> has no xml:lang");

  auto no_term = ReadTbx(
      "<tbx><text><body><conceptEntry><langSec xml:lang=\"en\">\n<termSec><note>x</note>"
      "</termSec></langSec></conceptEntry></body></text></tbx>",
      "c.tbx");
  ASSERT_FALSE(no_term.ok());
  EXPECT_EQ(no_term.status().message(), "c.tbx: line 2: <termSec> has no <term>");

  auto not_tbx = ReadTbx("<tmx version=\"1.4\"/>", "d.tbx");
  ASSERT_FALSE(not_tbx.ok());
  EXPECT_THAT(not_tbx.status().message(), HasSubstr("<tmx>, not <martif> (TBX v2) or <tbx>"));
}

TEST(TbxTest, EntityExpansionIsRefused) {
  const std::string laughs = R"(<?xml version="1.0"?>
<!DOCTYPE martif [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<martif><text><body><termEntry><langSet xml:lang="en"><tig><term>&b;</term></tig></langSet>
</termEntry></body></text></martif>)";
  auto r = ReadTbx(laughs, "laughs.tbx");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string external = R"(<?xml version="1.0"?>
<!DOCTYPE martif [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<martif><text><body><termEntry><langSet xml:lang="en"><tig><term>&x;</term></tig></langSet>
</termEntry></body></text></martif>)";
  auto e = ReadTbx(external, "external.tbx");
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.status().message(), Not(HasSubstr("root:")));
}

TEST(GlossaryCsvTest, WideLayout) {
  auto c = ReadGlossaryCsv(
      "\xEF\xBB\xBF"
      "en,de,note\r\nserver,Server,the machine\r\n\"log in, sign in\",anmelden,\r\n"
      "\r\nprinter,,\n",
      "g.csv");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 3u);
  EXPECT_EQ((*c)[0].terms, (std::vector<Term>{{"en", "server", "", "", false, "the machine"},
                                              {"de", "Server", "", "", false, "the machine"}}));
  EXPECT_EQ((*c)[1].terms[0].text, "log in, sign in");
  EXPECT_EQ((*c)[1].id, "");  // no concept column: the import matches it by its terms
  EXPECT_EQ((*c)[2].terms.size(), 1u);
}

TEST(GlossaryCsvTest, LongLayoutRoundTrips) {
  std::vector<Concept> in = {
      {"c1",
       "",
       "",
       "",
       {{"en", "server", "noun", "preferred", false, "say \"server\""},
        {"de", "Server", "noun", "preferred", true, ""},
        {"de", "Dienstrechner", "", "forbidden", false, "old, wrong"}}},
      {"c2", "", "", "", {{"en", "log in", "verb", "", false, ""}}},
  };
  auto out = ReadGlossaryCsv(WriteGlossaryCsv(in), "x.csv");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, in);
}

TEST(GlossaryCsvTest, ErrorsNameLineAndColumn) {
  auto status = ReadGlossaryCsv("concept,lang,term,status\nc1,en,server,best\n", "s.csv");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().message(),
            "s.csv: line 2, column 4 (status): must be preferred, admitted or forbidden");
  auto quote = ReadGlossaryCsv("en,de\n\"server,Server\n", "q.csv");
  ASSERT_FALSE(quote.ok());
  EXPECT_EQ(quote.status().message(), "q.csv: line 2, column 1: the quoted field is never closed");
  auto fields = ReadGlossaryCsv("en,de\na,b,c\n", "f.csv");
  ASSERT_FALSE(fields.ok());
  EXPECT_EQ(fields.status().message(), "f.csv: line 2: 3 fields, the header has 2");
  auto one = ReadGlossaryCsv("en\nserver\n", "o.csv");
  ASSERT_FALSE(one.ok());
  EXPECT_THAT(one.status().message(), HasSubstr("two language columns"));
  auto lang = ReadGlossaryCsv("concept,lang,term\nc1,,server\n", "l.csv");
  ASSERT_FALSE(lang.ok());
  EXPECT_EQ(lang.status().message(), "l.csv: line 2, column 2 (lang): a language is required");
  auto grouped = ReadGlossaryCsv("lang,term\nen,server\n", "g.csv");
  ASSERT_FALSE(grouped.ok());
  EXPECT_EQ(grouped.status().message(),
            "g.csv: line 1: one term a row needs the columns concept (or concept_id, "
            "entry_concept), lang and term; the header has lang,term");
}

}  // namespace
}  // namespace verso::formats
