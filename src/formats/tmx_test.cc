#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "formats/formats.h"

namespace verso::formats {
namespace {

const std::string kKit = std::string(VERSO_SHARED_DATA) + "/tmx/lisa-compliance-kit/";

struct ReadResult {
  TmxHeader header;
  std::vector<TmxUnit> units;
};

absl::StatusOr<ReadResult> ReadAll(std::unique_ptr<TmxReader> reader) {
  ReadResult r;
  auto header = reader->ReadHeader();
  if (!header.ok()) return header.status();
  r.header = *header;
  TmxUnit unit;
  while (true) {
    auto more = reader->Next(&unit);
    if (!more.ok()) return more.status();
    if (!*more) break;
    r.units.push_back(unit);
  }
  return r;
}

absl::StatusOr<ReadResult> ReadFile(const std::string& path) {
  auto reader = TmxReader::OpenFile(path);
  if (!reader.ok()) return reader.status();
  return ReadAll(std::move(*reader));
}

absl::StatusOr<ReadResult> ReadString(const std::string& data) {
  auto reader = TmxReader::OpenMemory(data, "test.tmx");
  if (!reader.ok()) return reader.status();
  return ReadAll(std::move(*reader));
}

TEST(TmxReaderTest, EveryComplianceKitFileReads) {
  // Units and variants per file, counted independently of the reader.
  std::map<std::string, std::pair<int, int>> expected = {
      {"ExportTest1A.tmx", {4, 8}},      {"ExportTest1B.tmx", {2, 4}},
      {"ExportTest1C.tmx", {4, 8}},      {"ExportTest1D.tmx", {4, 8}},
      {"ExportTest1E.tmx", {4, 8}},      {"ExportTest2A.tmx", {6, 12}},
      {"ImportTest1A.tmx", {2, 4}},      {"ImportTest1B.tmx", {1, 2}},
      {"ImportTest1C.tmx", {3, 15}},     {"ImportTest1D.tmx", {3, 6}},
      {"ImportTest1E.tmx", {3, 6}},      {"ImportTest1F.tmx", {3, 6}},
      {"ImportTest1G.tmx", {3, 6}},      {"ImportTest1H.tmx", {3, 6}},
      {"ImportTest1I.tmx", {1, 2}},      {"ImportTest1J.tmx", {2, 4}},
      {"ImportTest1J_many.tmx", {3, 6}}, {"ImportTest1K.tmx", {2, 4}},
      {"ImportTest1L.tmx", {1, 3}},      {"ImportTest2A-0index.tmx", {7, 14}},
      {"ImportTest2A.tmx", {7, 14}},     {"ImportTest2B.tmx", {7, 14}},
      {"ImportTest2C.tmx", {1, 3}},
  };
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kKit)) {
    if (entry.path().extension() != ".tmx") continue;
    ++files;
    std::string name = entry.path().filename();
    SCOPED_TRACE(name);
    auto r = ReadFile(entry.path());
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(expected.count(name));
    EXPECT_EQ(static_cast<int>(r->units.size()), expected[name].first);
    int variants = 0;
    for (const auto& u : r->units) {
      EXPECT_EQ(u.problem, "");
      variants += static_cast<int>(u.variants.size());
    }
    EXPECT_EQ(variants, expected[name].second);
    EXPECT_FALSE(r->header.Attribute("srclang").empty());
  }
  EXPECT_EQ(files, 23);
}

TEST(TmxReaderTest, Utf16InlineCodesAndWhitespaceArePreserved) {
  auto r = ReadFile(kKit + "ImportTest2B.tmx");  // UTF-16LE, RTF codes
  ASSERT_TRUE(r.ok()) << r.status();
  const TmxUnit& u = r->units[0];
  EXPECT_THAT(u.attributes, ::testing::ElementsAre(XmlAttribute{"tuid", "1"}));
  ASSERT_EQ(u.variants.size(), 2u);
  EXPECT_EQ(u.variants[0].lang, "en-us");
  EXPECT_EQ(u.variants[0].segment,
            "The big <bpt i=\"1\" x=\"1\" type=\"bold\">{\\b </bpt>black<ept i=\"1\">}</ept> "
            "<bpt i=\"2\" x=\"2\" type=\"ulined\">{\\ul </bpt>cat<ept i=\"2\">}</ept> sleeps.");
  // <hi> keeps its text; an empty <ph> is written self-closed.
  EXPECT_EQ(r->units[5].variants[0].segment, "Picture: <ph x=\"1\" type=\"image\" assoc=\"p\"/>");
  EXPECT_EQ(r->units[6].variants[1].segment,
            "Some text with <hi x=\"1\" type=\"special-part\">a part highlighted</hi>.");
  auto spaces = ReadFile(kKit + "ExportTest1A.tmx");
  ASSERT_TRUE(spaces.ok());
  EXPECT_EQ(spaces->units[0].variants[0].segment, "Text with 3 spaces [   ] and 2 [  ]");
  EXPECT_EQ(spaces->units[1].variants[0].segment, "Text with 1 tab [\t] and 2 [\t\t]");
  EXPECT_EQ(spaces->units[2].variants[0].segment,
            "&lt;=lt, &gt;=gt, &amp;=amp, {=obrace, }=cbrace");
}

TEST(TmxReaderTest, PropsNotesAttributesAndSub) {
  auto r = ReadFile(kKit + "ImportTest2C.tmx");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->units.size(), 1u);
  const TmxUnit& u = r->units[0];
  EXPECT_THAT(u.notes, ::testing::ElementsAre(TmxNote{"Text of tu note 1", "en-us"},
                                              TmxNote{"Text of tu note 2", "en-us"}));
  EXPECT_THAT(u.props, ::testing::ElementsAre(TmxProp{"myPropeType", "Data", "en-us"}));
  EXPECT_EQ(u.attributes.size(), 14u);
  EXPECT_EQ(u.attributes[0], (XmlAttribute{"tuid", "tu001"}));
  ASSERT_EQ(u.variants.size(), 3u);
  EXPECT_EQ(u.variants[1].lang, "fr");
  EXPECT_EQ(u.variants[1].props.size(), 2u);
  EXPECT_EQ(u.variants[1].notes.size(), 2u);
  EXPECT_EQ(u.variants[0].segment,
            "<it x=\"1\" pos=\"begin\" type=\"italic\">&lt;I&gt;</it><bpt x=\"2\" i=\"1\" "
            "type=\"bold\">&lt;B&gt;</bpt>Click <ph x=\"3\" type=\"image\" assoc=\"b\">&lt;IMG "
            "SRC=\"here.png\" ALT=\"<sub>Start Here!</sub>\"&gt;</ph> to <hi type=\"verb\" "
            "x=\"4\">start</hi>.<ept i=\"1\">&lt;/B&gt;</ept>");
  EXPECT_EQ(r->header.notes.size(), 2u);
  EXPECT_EQ(r->header.Attribute("creationid"), "ys");
}

std::string Doc(const std::string& body, const std::string& header_attrs = "srclang=\"en-US\"") {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tmx version=\"1.4\">\n<header " +
         header_attrs + " creationtool=\"t\"/>\n<body>\n" + body + "</body>\n</tmx>\n";
}

TEST(TmxReaderTest, MalformedInputIsRejectedWithLineAndColumn) {
  auto bad_xml = ReadString(Doc("<tu><tuv xml:lang=\"en\"><seg>a</tuv></tu>\n"));
  ASSERT_FALSE(bad_xml.ok());
  EXPECT_EQ(std::string(bad_xml.status().message()),
            "test.tmx: line 5, column 36: Opening and ending tag mismatch: seg line 5 and tuv");

  auto no_srclang = ReadString(Doc("", "adminlang=\"en\""));
  EXPECT_EQ(std::string(no_srclang.status().message()),
            "test.tmx: line 3: <header> has no srclang attribute");

  auto not_tmx = ReadString("<?xml version=\"1.0\"?><xliff version=\"1.2\"/>");
  EXPECT_EQ(std::string(not_tmx.status().message()),
            "test.tmx: line 1, column 44: the document element is <xliff>, not <tmx>: this is not "
            "a TMX document");

  auto invalid_utf8 = ReadString(Doc("<tu><tuv xml:lang=\"en\"><seg>caf\xE9</seg></tuv></tu>\n"));
  ASSERT_FALSE(invalid_utf8.ok());
  EXPECT_THAT(std::string(invalid_utf8.status().message()),
              ::testing::StartsWith("test.tmx: line 5, column 32: Input is not proper UTF-8"));

  std::string latin1 =
      "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<tmx version=\"1.4\">"
      "<header srclang=\"en\"/><body><tu><tuv xml:lang=\"en\"><seg>caf\xE9</seg>"
      "</tuv></tu></body></tmx>";
  auto declared = ReadString(latin1);  // a declared legacy encoding is honoured
  ASSERT_TRUE(declared.ok()) << declared.status();
  EXPECT_EQ(declared->units[0].variants[0].segment, "caf\xC3\xA9");

  auto unknown_encoding = ReadString("<?xml version=\"1.0\" encoding=\"X-NOPE\"?><tmx/>");
  ASSERT_FALSE(unknown_encoding.ok());
  EXPECT_THAT(std::string(unknown_encoding.status().message()), ::testing::HasSubstr("X-NOPE"));

  auto unclosed = ReadString(
      "<?xml version=\"1.0\"?>\n<tmx version=\"1.4\">\n<header "
      "srclang=\"en\"/>\n<body>\n<tu><tuv xml:lang=\"en\"><seg>x</seg></tuv></tu>\n");
  ASSERT_FALSE(unclosed.ok());
  // libxml2's streaming parser words a truncated document oddly, but the position is right.
  EXPECT_EQ(std::string(unclosed.status().message()),
            "test.tmx: line 5, column 47: Extra content at the end of the document");
}

TEST(TmxReaderTest, InvalidUnitsAreReportedAndReadingContinues) {
  auto r =
      ReadString(Doc("<tu><tuv xml:lang=\"en\"></tuv></tu>\n"
                     "<tu><prop>no type</prop><tuv xml:lang=\"en\"><seg>x</seg></tuv></tu>\n"
                     "<tu><tuv xml:lang=\"en\"><seg>ok</seg></tuv><tuv "
                     "xml:lang=\"fr\"><seg>bien</seg></tuv></tu>\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->units.size(), 3u);
  EXPECT_EQ(r->units[0].problem, "line 5: <tuv> has no <seg>");
  EXPECT_EQ(r->units[1].problem, "line 6: <prop> has no type attribute");
  EXPECT_EQ(r->units[2].problem, "");
  EXPECT_EQ(r->units[2].line, 7);
}

TEST(TmxReaderTest, EntityDeclarationsAreNotExpanded) {
  std::string laughs =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE tmx [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b "
      "\"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>\n<tmx version=\"1.4\"><header srclang=\"en\"/><body>"
      "<tu><tuv xml:lang=\"en\"><seg>&b;</seg></tuv></tu></body></tmx>";
  auto r = ReadString(laughs);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->units[0].problem,
            "line 3: entity reference &b; is not allowed (TMX documents use only the predefined "
            "entities)");
}

TEST(TmxWriterTest, WrittenDocumentReadsBackIdentically) {
  TmxHeader header;
  header.attributes = {{"srclang", "en-US"}, {"creationtool", "verso"}};
  header.notes = {{"exported", ""}};
  TmxUnit unit;
  unit.attributes = {{"tuid", "7"}, {"creationid", "ana \"A\" <x>"}};
  unit.notes = {{"line1\nline2 & more", "en"}};
  unit.props = {{"x-domain", "IT\tstuff", ""}};
  TmxVariant src;
  src.lang = "en-US";
  src.attributes = {{"changeid", "bob"}};
  src.segment = "Save <ph x=\"1\">&lt;b/&gt;</ph> &amp; exit\r\n";
  TmxVariant tgt;
  tgt.lang = "es-ES";
  tgt.segment = "Guardar y salir";
  unit.variants = {src, tgt};
  std::ostringstream out;
  TmxWriter writer(&out);
  writer.WriteHeader(header);
  writer.WriteUnit(unit);
  ASSERT_TRUE(writer.Finish());
  auto r = ReadString(out.str());
  ASSERT_TRUE(r.ok()) << r.status() << out.str();
  ASSERT_EQ(r->units.size(), 1u);
  const TmxUnit& u = r->units[0];
  EXPECT_EQ(u.attributes, unit.attributes);
  EXPECT_EQ(u.notes, unit.notes);
  EXPECT_EQ(u.props, unit.props);
  ASSERT_EQ(u.variants.size(), 2u);
  EXPECT_EQ(u.variants[0].segment, src.segment);
  EXPECT_EQ(u.variants[0].attributes, src.attributes);
  EXPECT_EQ(u.variants[1].lang, "es-ES");
  EXPECT_EQ(r->header.notes, header.notes);
}

TEST(TmxDateTest, ParseAndFormat) {
  EXPECT_EQ(*ParseTmxDate("20020523T091200Z"), 1022145120);
  EXPECT_EQ(FormatTmxDate(1022145120), "20020523T091200Z");
  EXPECT_EQ(std::string(ParseTmxDate("2002-05-23").status().message()),
            "\"2002-05-23\" is not a TMX date (YYYYMMDDThhmmssZ, UTC)");
  EXPECT_FALSE(ParseTmxDate("20021323T091200Z").ok());
}

}  // namespace
}  // namespace verso::formats
