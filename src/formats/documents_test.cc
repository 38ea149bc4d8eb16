#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/file.h"
#include "formats/formats.h"
#include "tests/process.h"
#include "text/text.h"

namespace verso::formats {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Ids(const Document& d) {
  std::vector<std::string> out;
  for (const auto& u : d.units) out.push_back(u.id);
  return out;
}

std::vector<std::string> Sources(const Document& d) {
  std::vector<std::string> out;
  for (const auto& u : d.units) out.push_back(text::PlainText(u.source));
  return out;
}

// The bytes of `data` outside the units' ranges.
std::string Skeleton(const Document& d) {
  std::string out;
  int64_t at = 0;
  for (const auto& u : d.units) {
    out.append(d.original, at, u.begin - at);
    out += "\x01";
    at = u.end;
  }
  out.append(d.original, at, std::string::npos);
  return out;
}

// Translates every unit, writes, reads the result back: the same units with the translations,
// and the same bytes outside them.
void RoundTrip(const Document& doc, const std::string& lang) {
  std::vector<std::optional<std::string>> t;
  for (size_t i = 0; i < doc.units.size(); ++i) {
    t.push_back(
        text::EscapeText("[" + std::to_string(i) + "] " + text::PlainText(doc.units[i].source)));
  }
  auto written = WriteDocument(doc, t);
  ASSERT_TRUE(written.ok()) << written.status();
  auto back = ReadDocument(*written, doc.format, "written", lang);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->units.size(), doc.units.size());
  EXPECT_EQ(Ids(*back), Ids(doc));
  EXPECT_EQ(Skeleton(*back), Skeleton(doc));
  for (size_t i = 0; i < doc.units.size(); ++i) {
    const std::string got = doc.format == "json" || doc.format == "text" ? back->units[i].source
                                                                         : back->units[i].target;
    EXPECT_EQ(got, *t[i]) << doc.units[i].id;
  }
  // Nothing translated: the file as it was.
  auto same = WriteDocument(doc, std::vector<std::optional<std::string>>(doc.units.size()));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, doc.original);
}

TEST(DocumentTest, PoPluralsContextCommentsAndFuzzy) {
  const std::string po =
      "# header comment\nmsgid \"\"\nmsgstr \"\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n"
      "\n#. extracted\n#: src/a.c:1\n#, fuzzy, c-format\nmsgctxt \"menu\"\nmsgid \"Open %s\"\n"
      "msgstr \"Abrir %s\"\n\nmsgid \"%d file\"\nmsgid_plural \"%d files\"\nmsgstr[0] \"\"\n"
      "msgstr[1] \"\"\n\nmsgid \"\"\n\"Two\\n\"\n\"lines\"\nmsgstr \"\"\n\n#~ msgid \"old\"\n"
      "#~ msgstr \"viejo\"\n";
  auto d = ReadDocument(po, "po", "a.po", "en");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(Ids(*d), ElementsAre("menu\x04Open %s", "%d file[0]", "%d file[1]", "Two\nlines"));
  EXPECT_THAT(Sources(*d), ElementsAre("Open %s", "%d file", "%d files", "Two\nlines"));
  EXPECT_EQ(d->units[0].target, "Abrir %s");
  EXPECT_TRUE(d->units[0].fuzzy);
  EXPECT_EQ(d->units[0].context, "menu");
  EXPECT_THAT(d->units[0].notes, ElementsAre("extracted", "#: src/a.c:1"));
  EXPECT_EQ(d->units[0].line, 6);
  auto w = WriteDocument(*d, {std::nullopt, "%d archivo", "%d archivos", "Dos\nlíneas"});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_THAT(*w, HasSubstr("msgstr \"Abrir %s\"\n"));
  EXPECT_THAT(*w, HasSubstr("msgstr[0] \"%d archivo\"\nmsgstr[1] \"%d archivos\"\n"));
  EXPECT_THAT(*w, HasSubstr("msgstr \"\"\n\"Dos\\n\"\n\"líneas\"\n"));
  EXPECT_THAT(*w, HasSubstr("#~ msgstr \"viejo\"\n"));
  RoundTrip(*d, "en");
}

TEST(DocumentTest, PoCatalogRoundTrips) {
  auto po = verso::test::Run({"/usr/bin/msgunfmt", "/usr/share/locale/es/LC_MESSAGES/grep.mo"});
  ASSERT_EQ(po.exit_code, 0) << po.err;
  auto d = ReadDocument(po.out, "po", "grep.po", "en");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_GT(d->units.size(), 50u);
  RoundTrip(*d, "en");
}

// Text in UTF-16 with a byte order mark (Windows' "Unicode"): FLORES sentences converted by
// iconv, read as UTF-8 and written back in UTF-16 with the mark, byte for byte when nothing is
// translated.
TEST(DocumentTest, TextInUtf16WithAByteOrderMark) {
  const std::string dir = ::testing::TempDir();
  auto head = verso::test::Run({"/bin/sh", "-c",
                                "head -n 20 " VERSO_SHARED_DATA
                                "/mt/flores101-devtest/eng.devtest | iconv -f UTF-8 -t "
                                "UTF-16 > " +
                                    dir + "/flores.utf16.txt"});
  ASSERT_EQ(head.exit_code, 0) << head.err;
  const std::string data = ReadFile(dir + "/flores.utf16.txt").value();
  ASSERT_TRUE(data.starts_with("\xFF\xFE") || data.starts_with("\xFE\xFF"));
  auto d = ReadDocument(data, "text", "flores.utf16.txt", "en");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->encoding, data[0] == '\xFF' ? "UTF-16LE" : "UTF-16BE");
  const std::string utf8 = ReadFile(VERSO_SHARED_DATA "/mt/flores101-devtest/eng.devtest").value();
  ASSERT_FALSE(d->units.empty());
  EXPECT_EQ(utf8.substr(0, d->units[0].source.size()), d->units[0].source);
  auto same = WriteDocument(*d, std::vector<std::optional<std::string>>(d->units.size()));
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(*same, data);
  std::vector<std::optional<std::string>> t(d->units.size());
  t[0] = "Übergröße";
  auto written = WriteDocument(*d, t);
  ASSERT_TRUE(written.ok()) << written.status();
  auto back = ReadDocument(*written, "text", "back.txt", "de");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->encoding, d->encoding);
  EXPECT_EQ(back->units[0].source, "Übergröße");
  // Not UTF-8 and no mark: the error says what is read.
  auto latin1 = ReadDocument("Caf\xE9 au lait.", "text", "menu.txt", "fr");
  EXPECT_EQ(latin1.status().message(),
            "menu.txt: line 1, column 4: not valid UTF-8 (verso reads text in UTF-8, or UTF-16 "
            "with a byte order mark: iconv -t UTF-8 converts one)");
}

// This machine's German grep catalog, converted by gettext's msgconv to windows-1252 (the charset
// its header then names): read as UTF-8, written back in windows-1252, byte for byte when nothing
// is translated; a translation the charset cannot hold is an error.
TEST(DocumentTest, PoInTheCharsetItsHeaderNames) {
  const std::string dir = ::testing::TempDir();
  auto po = verso::test::Run(
      {"/usr/bin/msgunfmt", "/usr/share/locale/de/LC_MESSAGES/grep.mo", "-o", dir + "/grep.po"});
  ASSERT_EQ(po.exit_code, 0) << po.err;
  auto latin1 = verso::test::Run(
      {"/usr/bin/msgconv", "--to-code=CP1252", dir + "/grep.po", "-o", dir + "/grep.latin1.po"});
  ASSERT_EQ(latin1.exit_code, 0) << latin1.err;
  const std::string data = ReadFile(dir + "/grep.latin1.po").value();
  ASSERT_THAT(data, HasSubstr("charset=CP1252"));
  auto d = ReadDocument(data, "po", "grep.latin1.po", "en");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->encoding, "CP1252");
  bool umlaut = false;
  for (const auto& u : d->units) umlaut |= u.target.find("\xC3\xBC") != std::string::npos;  // ü
  EXPECT_TRUE(umlaut);
  auto same = WriteDocument(*d, std::vector<std::optional<std::string>>(d->units.size()));
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(*same, data);
  std::vector<std::optional<std::string>> t(d->units.size());
  t[0] = "Übergröße";
  auto written = WriteDocument(*d, t);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_THAT(*written, HasSubstr("\xDC"
                                  "bergr\xF6\xDF"
                                  "e"));
  t[0] = "Győr";
  auto euro = WriteDocument(*d, t);
  ASSERT_FALSE(euro.ok());
  EXPECT_THAT(euro.status().message(), HasSubstr("a character CP1252 does not have"));
}

TEST(DocumentTest, JsonNestedArraysAndPlaceholders) {
  const std::string json =
      "{\n  \"menu\": {\"file\": {\"open\": \"Open {{name}}\", \"count\": 3},\n"
      "  \"items\": [\"New\", \"Caf\\u00e9 \\ud83d\\ude00\", true, null]},\n"
      "  \"plural_one\": \"{count, plural, one {# file} other {# files}}\",\n  \"empty\": "
      "\"\"\n}\n";
  auto d = ReadDocument(json, "json", "en.json", "en");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(Ids(*d), ElementsAre("menu.file.open", "menu.items.0", "menu.items.1", "plural_one"));
  EXPECT_THAT(Sources(*d), ElementsAre("Open {{name}}", "New", "Café 😀",
                                       "{count, plural, one {# file} other {# files}}"));
  EXPECT_EQ(d->units[2].line, 3);
  auto w = WriteDocument(*d, {"Abrir {{name}}", std::nullopt, "Café \"bueno\"", std::nullopt});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w,
            "{\n  \"menu\": {\"file\": {\"open\": \"Abrir {{name}}\", \"count\": 3},\n"
            "  \"items\": [\"New\", \"Café \\\"bueno\\\"\", true, null]},\n"
            "  \"plural_one\": \"{count, plural, one {# file} other {# files}}\",\n"
            "  \"empty\": \"\"\n}\n");
  RoundTrip(*d, "en");
}

TEST(DocumentTest, MalformedJsonNamesLineAndColumn) {
  auto a = ReadDocument("{\n  \"a\": \"x\",\n  \"b\" \"y\"\n}", "json", "b.json", "en");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(), "b.json: line 3, column 7: expected ':'");
  auto b = ReadDocument("{\"a\": \"x", "json", "c.json", "en");
  EXPECT_EQ(b.status().message(), "c.json: line 1, column 9: the string is never closed");
  auto c = ReadDocument("{\"a\": [1,]}", "json", "d.json", "en");
  EXPECT_EQ(c.status().message(), "d.json: line 1, column 10: expected a value");
  auto deep = ReadDocument(std::string(300, '[') + std::string(300, ']'), "json", "e.json", "en");
  EXPECT_THAT(deep.status().message(), HasSubstr("nested too deeply"));
  auto fmt = ReadDocument("x", "docx", "f.docx", "en");
  EXPECT_EQ(fmt.status().message(), "format: \"docx\" is not xliff, po, json or text");
  auto wrong = WriteDocument(*ReadDocument("[\"a\"]", "json", "g.json", "en"),
                             {"<ph x=\"1\">&lt;br/&gt;</ph>b"});
  EXPECT_THAT(wrong.status().message(), HasSubstr("a json file cannot hold inline codes"));
}

TEST(DocumentTest, PlainTextSentencesAndParagraphs) {
  const std::string txt =
      "Mr. Smith went to Washington. He arrived at 5 p.m. on Monday!\n"
      "Was it late? Yes.\n\n  \nDr. Jones stayed home.\n";
  auto d = ReadDocument(txt, "text", "a.txt", "en");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(Ids(*d), ElementsAre("p1s1", "p1s2", "p1s3", "p1s4", "p2s1"));
  EXPECT_THAT(Sources(*d),
              ElementsAre("Mr. Smith went to Washington.", "He arrived at 5 p.m. on Monday!",
                          "Was it late?", "Yes.", "Dr. Jones stayed home."));
  EXPECT_EQ(d->units[4].line, 5);
  RoundTrip(*d, "en");
  auto de = ReadDocument("Das ist z. B. ein Test. Hier noch einer.", "text", "de.txt", "de");
  ASSERT_TRUE(de.ok());
  EXPECT_EQ(de->units.size(), 2u);
  auto bad = ReadDocument("ok\n\xff", "text", "bad.txt", "en");
  EXPECT_EQ(bad.status().message(),
            "bad.txt: line 2, column 1: not valid UTF-8 (verso reads text in UTF-8, or UTF-16 with "
            "a byte order mark: iconv -t UTF-8 converts one)");
}

}  // namespace
}  // namespace verso::formats
