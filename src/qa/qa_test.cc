#include "qa/qa.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/strings.h"
#include "formats/formats.h"
#include "terms/terms.h"
#include "tests/process.h"
#include "text/text.h"

namespace verso::qa {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<Warning> Qa(std::string_view source, std::string_view target,
                        const Options& options = {}, std::string_view tl = "es") {
  return Check({source, target, "en", tl, nullptr}, options);
}

}  // namespace
void PrintTo(const Warning& w, std::ostream* os) {
  *os << "{" << w.check << ", " << w.severity << ", \"" << w.message << "\"}";
}
namespace {

Warning W(std::string check, std::string severity, std::string message) {
  return {std::move(check), std::move(severity), std::move(message)};
}

// Real pairs from GNU coreutils' Spanish catalog (/usr/share/locale/es/.../coreutils.mo).
TEST(QaTest, RealCatalogStringsPass) {
  EXPECT_THAT(Qa("cannot access %s", "no se puede acceder a %s"), IsEmpty());
  EXPECT_THAT(Qa("%s: invalid option -- '%c'\n", "%s: opción inválida -- '%c'\n"), IsEmpty());
  EXPECT_THAT(Qa("Report bugs to: %s\n", "Comunicar de errores en el programa a: %s\n"), IsEmpty());
}

TEST(QaTest, NumbersAndPlaceholders) {
  EXPECT_THAT(Qa("Wait 30 seconds for %s.", "Espere segundos para %d."),
              ElementsAre(W("numbers", "error", "numbers missing: 30"),
                          W("placeholders", "error", "placeholders missing: %s"),
                          W("placeholders", "error", "placeholders not in the source: %d")));
  // Grouping and decimal separators differ by language.
  EXPECT_THAT(Qa("1,000.5 files", "1.000,5 archivos"), IsEmpty());
  // Positional arguments may be reordered; ICU arguments are compared by name and type.
  EXPECT_THAT(Qa("%1$s of %2$s", "%2$s de %1$s"), IsEmpty());
  EXPECT_THAT(Qa("{count, plural, one {# file} other {# files}}",
                 "{count, plural, one {# archivo} other {# archivos}}"),
              IsEmpty());
  EXPECT_THAT(Qa("Hello {name}, {{user}}!", "¡Hola {nombre}, {{user}}!"),
              ElementsAre(W("placeholders", "error", "placeholders missing: {name}"),
                          W("placeholders", "error", "placeholders not in the source: {nombre}")));
}

TEST(QaTest, InlineTags) {
  const std::string src = "Click <bpt i=\"1\">&lt;b&gt;</bpt>Save<ept i=\"1\">&lt;/b&gt;</ept> now";
  EXPECT_THAT(Qa(src, "Pulse <bpt i=\"1\">&lt;b&gt;</bpt>Guardar<ept i=\"1\">&lt;/b&gt;</ept>"),
              IsEmpty());
  EXPECT_THAT(Qa(src, "Pulse <bpt i=\"1\">&lt;b&gt;</bpt>Guardar ahora"),
              ElementsAre(W("tags", "error", "1 inline tag missing: <ept i=\"1\">&lt;/b&gt;</ept>"),
                          W("tags", "error", "tags without a pair: <bpt i=\"1\">")));
  // Tags written in the text (HTML in a software string).
  EXPECT_THAT(Qa("<b>Bold</b> and <i>it</i>", "<i>it</i> y <b>negrita</b>"),
              ElementsAre(W("tags", "warning", "inline tags are in a different order")));
  EXPECT_THAT(Qa("<b>Bold</b> <br/>", "<b>Negrita <br/></b></b>"),
              ElementsAre(W("tags", "error", "inline tags not in the source: </b>"),
                          W("tags", "error", "tags without a pair: </b>")));
}

TEST(QaTest, WhitespacePunctuationAndSpaces) {
  EXPECT_THAT(Qa(" Name:", "Nombre:"),
              ElementsAre(W("leading_whitespace", "warning",
                            "the source begins with 1 white-space characters, the translation "
                            "with 0")));
  EXPECT_THAT(Qa("Done.", "Hecho"),
              ElementsAre(W("end_punctuation", "warning",
                            "the source ends with \".\", the translation with no punctuation")));
  EXPECT_THAT(Qa("Done.", "完成。", {}, "zh"), IsEmpty());
  EXPECT_THAT(Qa("Really?", "¿De verdad?"), IsEmpty());
  EXPECT_THAT(Qa("Done.", "Hecho!"),
              ElementsAre(W("end_punctuation", "warning",
                            "the source ends with \".\", the translation with \"!\"")));
  EXPECT_THAT(Qa("Open the file", "Abra  el archivo"),
              ElementsAre(W("double_space", "warning", "the translation has two spaces in a row")));
}

TEST(QaTest, LinksUntranslatedAndLength) {
  EXPECT_THAT(Qa("See https://example.org/docs. Mail bugs@example.org",
                 "Vea https://example.org/doc. Escriba a bugs@example.org"),
              ElementsAre(W("urls", "error", "URLs missing or changed: https://example.org/docs")));
  EXPECT_THAT(Qa("Save the document", ""),
              ElementsAre(W("untranslated", "error", "the translation is empty")));
  EXPECT_THAT(Qa("Save the document", "Save the document"),
              ElementsAre(W("untranslated", "warning", "the translation is the source text")));
  EXPECT_THAT(Qa("OK", "OK"), IsEmpty());  // short words are often the same
  Options limit;
  limit.max_length = 10;
  EXPECT_THAT(
      Qa("Save", "Guardar el documento", limit),
      ElementsAre(W("length", "error", "the translation has 20 characters; the limit is 10")));
  Options off;
  off.disabled = {"end_punctuation", "numbers"};
  EXPECT_THAT(Qa("Wait 30 s.", "Espere", off), IsEmpty());
  EXPECT_TRUE(ValidateCheckNames({"numbers", "tags"}, "disabled_checks").ok());
  EXPECT_EQ(ValidateCheckNames({"numbers", "spelling"}, "disabled_checks").message(),
            "disabled_checks: unknown check \"spelling\" (known: numbers, placeholders, tags, "
            "leading_whitespace, trailing_whitespace, end_punctuation, double_space, urls, "
            "emails, glossary, forbidden_terms, untranslated, length)");
}

TEST(QaTest, GlossaryResults) {
  terms::TermCheck tc;
  terms::TermHit hit;
  hit.source = "server";
  hit.targets = {{"es", "servidor", "", "preferred", false, ""}};
  tc.hits.push_back(hit);
  tc.missing = {0};
  tc.forbidden = {"Server"};
  Counts counts;
  auto w = Check({"The server", "El Server", "en", "es", &tc}, {}, &counts);
  EXPECT_THAT(w,
              ElementsAre(W("glossary", "error", "\"server\" should be translated as \"servidor\""),
                          W("forbidden_terms", "error", "forbidden term \"Server\"")));
  EXPECT_EQ(counts.glossary_missing, 1);
  EXPECT_EQ(counts.forbidden, 1);
}

// Every Spanish translation in the coreutils catalog: the human translations keep their
// placeholders, and removing one is always caught.
TEST(QaTest, CoreutilsCatalog) {
  auto po =
      verso::test::Run({"/usr/bin/msgunfmt", "/usr/share/locale/es/LC_MESSAGES/coreutils.mo"});
  ASSERT_EQ(po.exit_code, 0) << po.err;
  auto reader = formats::PoReader::OpenString(po.out, "coreutils.po");
  formats::PoEntry e;
  int entries = 0, with_placeholders = 0, clean = 0, caught = 0;
  std::map<std::string, int> by_check;
  while (true) {
    auto next = reader->Next(&e);
    ASSERT_TRUE(next.ok()) << next.status();
    if (!*next) break;
    if (e.msgid.empty() || e.msgstr.empty() || e.msgstr[0].empty()) continue;
    ++entries;
    const std::string src = text::EscapeText(e.msgid), tgt = text::EscapeText(e.msgstr[0]);
    Options o;
    o.disabled = {"end_punctuation", "leading_whitespace", "trailing_whitespace", "double_space",
                  "untranslated"};
    auto w = Check({src, tgt, "en", "es", nullptr}, o);
    for (const auto& x : w) ++by_check[x.check];
    // Drop the translation's first placeholder.
    std::vector<text::Token> toks = text::Tokenize(tgt);
    const text::Token* first = nullptr;
    for (const auto& t : toks) {
      if (t.kind == text::TokenKind::kPlaceholder) {
        first = &t;
        break;
      }
    }
    if (first == nullptr) continue;
    ++with_placeholders;
    bool placeholders_ok = true;
    for (const auto& x : w) placeholders_ok &= x.check != "placeholders";
    if (!placeholders_ok) continue;
    ++clean;
    std::string broken = tgt.substr(0, first->begin) + tgt.substr(first->end);
    auto wb = Check({src, broken, "en", "es", nullptr}, {});
    for (const auto& x : wb) {
      if (x.check == "placeholders" && x.message.starts_with("placeholders missing: ")) {
        ++caught;
        break;
      }
    }
  }
  EXPECT_EQ(entries, 1332);
  EXPECT_EQ(with_placeholders, 554);
  // The one warning left is real: the translation renders the source's "<internal>" as
  // "<interno>", which a program that parses its own output would not recognise.
  EXPECT_EQ(by_check, (std::map<std::string, int>{{"tags", 2}}));
  EXPECT_EQ(caught, clean);
  EXPECT_EQ(clean, with_placeholders);
}

}  // namespace
}  // namespace verso::qa
