#include "mt/apertium/format.h"
#include "common/file.h"

#include <gtest/gtest.h>

#include <random>

#include "absl/time/clock.h"
#include "common/subprocess.h"

namespace verso::mt::apertium {
namespace {

// What the `apertium` script feeds a pipeline of plain text.
std::string RealDestxt(const std::string& plain) {
  auto p = Subprocess::Start({"apertium-destxt"});
  EXPECT_TRUE(p.ok()) << p.status();
  std::string out;
  EXPECT_TRUE((*p)->RunToEnd(plain, absl::Now() + absl::Seconds(30), &out).ok());
  return out;
}

std::string RealRetxt(const std::string& stream) {
  auto p = Subprocess::Start({"apertium-retxt"});
  EXPECT_TRUE(p.ok()) << p.status();
  std::string out;
  EXPECT_TRUE((*p)->RunToEnd(stream, absl::Now() + absl::Seconds(30), &out).ok());
  return out;
}

TEST(ApertiumFormatTest, DestxtAndRetxtMatchApertiumOnFlores) {
  for (const char* lang : {"eng", "spa", "cat", "fra", "glg", "oci", "por"}) {
    std::string text =
        ReadFile(std::string(VERSO_SHARED_DATA) + "/mt/flores101-devtest/" + lang + ".devtest")
            .value_or("");
    ASSERT_GT(text.size(), 100000u) << lang;
    std::string mine = Destxt(text);
    EXPECT_EQ(mine, RealDestxt(text)) << lang;
    EXPECT_EQ(Retxt(mine), RealRetxt(mine)) << lang;
    EXPECT_EQ(Retxt(mine), text) << lang;
  }
}

TEST(ApertiumFormatTest, DestxtMatchesApertiumOnAwkwardText) {
  // Blanks, the characters the format escapes, paragraph breaks, CRLF, '~', non-ASCII.
  const std::vector<std::string> alphabet = {"a",  "b", " ", " ", "\n", "\r", "\t",    "~",
                                             "\\", "[", "]", "^", "$",  "/",  "@",     "<",
                                             ">",  "{", "}", "#", "*",  "é",  "\u00a0"};
  std::mt19937 rng(42);
  std::string batch;  // NUL-separated, so that one shell loop checks them all
  std::vector<std::string> inputs;
  for (int i = 0; i < 200; ++i) {
    std::string s;
    int len = static_cast<int>(rng() % 14);
    for (int k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
    inputs.push_back(s);
  }
  inputs.push_back("");
  inputs.push_back(" ");
  inputs.push_back("x ");
  inputs.push_back("a \n\nb");
  inputs.push_back("a\r\n\r\nb\n");
  inputs.push_back("Dr. No..\n\nEnd.");
  for (const auto& s : inputs) {
    EXPECT_EQ(Destxt(s), RealDestxt(s)) << "input: \"" << s << "\"";
    EXPECT_EQ(Retxt(Destxt(s)), RealRetxt(Destxt(s))) << "input: \"" << s << "\"";
  }
}

TEST(ApertiumFormatTest, RetxtMatchesApertiumOnPipelineOutput) {
  // What pipelines emit: escapes of other characters, dots before and after end-of-sentence
  // marks, escaped brackets inside superblanks.
  for (std::string s :
       {"\\.[]", "...[].[]", "[a\\]b]c", "\\.\\\\....a", " Firm\u00f3 la ley.[][\n]", "a.[ ]b.[]",
        "\\]\\\\\\.[]\\[[a\\]b][ ]", "x[v1]. [] y\\$"}) {
    EXPECT_EQ(Retxt(s), RealRetxt(s)) << "stream: \"" << s << "\"";
  }
}

TEST(ApertiumFormatTest, CodesAndPlaceholdersBecomeSuperblanksAndComeBack) {
  std::string markup =
      "Press <bpt i=\"1\">&lt;b&gt;</bpt>Save<ept i=\"1\">&lt;/b&gt;</ept> to keep %s files "
      "in {folder} &amp; <x id=\"2\"/>more.";
  EncodedSegment enc = EncodeSegment(markup);
  ASSERT_EQ(enc.codes.size(), 5u);
  EXPECT_EQ(enc.codes[0], "<bpt i=\"1\">&lt;b&gt;</bpt>");
  EXPECT_EQ(enc.codes[2], "%s");
  EXPECT_EQ(enc.codes[3], "{folder}");
  EXPECT_EQ(enc.stream, "Press [v0]Save[v1] to keep [v2] files in [v3] & [v4]more..[][\n]");
  // Unchanged by the pipeline, the stream decodes to the markup it came from.
  EXPECT_EQ(DecodeSegment(enc.stream + "\n", enc.codes), markup);
  // A code the pipeline lost is put back at the end rather than dropped.
  EXPECT_EQ(DecodeSegment("Pulse [v0]Guardar[v1].[][\n]", {"<x/>", "<y/>", "<z/>"}),
            "Pulse <x/>Guardar<y/><z/>");
}

TEST(ApertiumFormatTest, PlainTextThatIsNotMarkupIsTranslatedAsText) {
  EncodedSegment enc = EncodeSegment("a < b & c");
  EXPECT_TRUE(enc.codes.empty());
  EXPECT_EQ(enc.stream, "a \\< b & c.[][\n]");
  EXPECT_EQ(DecodeSegment(enc.stream, enc.codes), "a &lt; b &amp; c");
}

TEST(ApertiumFormatTest, UnknownWordsComeFromTheAnalysis) {
  EXPECT_EQ(UnknownWords("^Arnold/Arnold<np>$ ^Schwarzenegger/*Schwarzenegger$ "
                         "[\\^x/*y] ^a\\/b/*a\\/b$ ^Schwarzenegger/*Schwarzenegger$^./.<sent>$"),
            (std::vector<std::string>{"Schwarzenegger", "a/b"}));
  EXPECT_TRUE(UnknownWords("^the/the<det>$").empty());
}

}  // namespace
}  // namespace verso::mt::apertium
