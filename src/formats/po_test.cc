#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "formats/formats.h"

namespace verso::formats {
namespace {

using ::testing::ElementsAre;

std::vector<PoEntry> ReadAll(const std::string& text, absl::Status* status = nullptr) {
  auto reader = PoReader::OpenString(text, "test.po");
  std::vector<PoEntry> out;
  PoEntry e;
  while (true) {
    auto more = reader->Next(&e);
    if (!more.ok()) {
      if (status) *status = more.status();
      return out;
    }
    if (!*more) break;
    out.push_back(e);
  }
  if (status) *status = absl::OkStatus();
  return out;
}

TEST(PoReaderTest, EntriesWithContextPluralsCommentsAndFlags) {
  std::string po = R"(# SOME TITLE
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

# translator says hi
#. extracted
#: src/main.c:12 src/x.c:3
#, c-format, fuzzy
msgctxt "menu"
msgid "Open %s"
msgstr "Abrir %s"

msgid "One file"
msgid_plural "%d files"
msgstr[0] "Un archivo"
msgstr[1] "%d archivos"

msgid ""
"Tab\there, quote \" and backslash \\ "
"octal \101 hex \x42"
msgstr "x"

#~ msgid "Old"
#~ msgstr "Viejo"
)";
  absl::Status status;
  std::vector<PoEntry> e = ReadAll(po, &status);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0].msgid, "");
  EXPECT_EQ(e[0].msgstr[0].substr(0, 13), "Content-Type:");
  EXPECT_EQ(e[1].context, "menu");
  EXPECT_EQ(e[1].msgid, "Open %s");
  EXPECT_EQ(e[1].msgstr, std::vector<std::string>{"Abrir %s"});
  EXPECT_THAT(e[1].flags, ElementsAre("c-format", "fuzzy"));
  EXPECT_TRUE(e[1].fuzzy());
  EXPECT_THAT(e[1].translator_comments, ElementsAre("translator says hi"));
  EXPECT_THAT(e[1].extracted_comments, ElementsAre("extracted"));
  EXPECT_THAT(e[1].references, ElementsAre("src/main.c:12 src/x.c:3"));
  EXPECT_EQ(e[1].line, 7);
  EXPECT_EQ(e[2].msgid_plural, "%d files");
  EXPECT_THAT(e[2].msgstr, ElementsAre("Un archivo", "%d archivos"));
  EXPECT_EQ(e[3].msgid, "Tab\there, quote \" and backslash \\ octal A hex B");
  EXPECT_TRUE(e[4].obsolete);
  EXPECT_EQ(e[4].msgstr[0], "Viejo");
}

TEST(PoReaderTest, ErrorsNameLineAndColumn) {
  absl::Status status;
  ReadAll("msgid \"a\"\nmsgstr \"b\n", &status);
  EXPECT_EQ(status.message(), "test.po: line 2, column 10: missing closing quote");
  ReadAll("msgid \"a\"\nmsgstr[1] \"b\"\n", &status);
  EXPECT_EQ(status.message(), "test.po: line 2, column 1: bad plural form \"msgstr[1]\"");
  ReadAll("msgstr \"b\"\n", &status);
  EXPECT_EQ(status.message(), "test.po: line 1, column 1: msgstr without msgid");
  ReadAll("msgid \"a\"\nmsgtxt \"b\"\n", &status);
  EXPECT_EQ(status.message(), "test.po: line 2, column 1: unknown keyword \"msgtxt\"");
  ReadAll("msgid \"a\\q\"\nmsgstr \"\"\n", &status);
  EXPECT_EQ(status.message(), "test.po: line 1, column 9: unknown escape sequence \\q");
  ReadAll("msgid \"a\"\n\n", &status);
  EXPECT_EQ(status.message(), "test.po: line 2, column 1: entry has no msgstr");
}

}  // namespace
}  // namespace verso::formats
