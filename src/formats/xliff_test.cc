// XLIFF 2 conformance against the OASIS XLIFF TC test suite (../shared/data/xliff), XLIFF 1.2
// round trips on SAP's samples, and the writer's byte-exact skeleton.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/file.h"
#include "common/strings.h"
#include "formats/formats.h"
#include "tests/process.h"
#include "tests/xml_schema.h"
#include "text/text.h"

namespace verso::formats {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const std::string kSuite = std::string(VERSO_SHARED_DATA) + "/xliff/oasis-xliff2-test-suite";

std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".xlf") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> SuiteFiles(std::string_view kind) {
  std::vector<std::string> out;
  for (std::string version : {"xliff-21", "xliff-22"}) {
    for (std::string area : {"core", "modules"}) {
      for (auto& f : Files(StrCat(kSuite, "/", version, "/test-suite/", area, "/", kind))) {
        out.push_back(f);
      }
    }
  }
  return out;
}

// The bytes outside the units' target ranges.
std::string Skeleton(const Document& d) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (const auto& u : d.units) ranges.emplace_back(u.begin, u.end);
  std::sort(ranges.begin(), ranges.end());
  std::string out;
  int64_t at = 0;
  for (auto [b, e] : ranges) {
    out.append(d.original, at, b - at);
    out += "\x01";
    at = e;
  }
  out.append(d.original, at, std::string::npos);
  return out;
}

std::string CoreSchema(const Document& d) {
  return d.original.find("urn:oasis:names:tc:xliff:document:2.2") != std::string::npos
             ? kSuite + "/xliff-22/schemas/xliff_core_2.2.xsd"
             : kSuite + "/xliff-21/schemas/xliff_core_2.0.xsd";
}

absl::StatusOr<Document> Read(const std::string& path) {
  auto data = ReadFile(path);
  if (!data.ok()) return data.status();
  return ReadDocument(*data, "xliff", fs::path(path).filename().string(), "");
}

// Every valid document reads; writing nothing gives the file back; writing each segment's
// source as its translation gives a document that reads again, with the same units, targets
// equal to the sources, and every byte outside the targets as it was.
TEST(XliffSuite, ValidDocumentsReadAndWriteBack) {
  std::vector<std::string> files = SuiteFiles("valid");
  for (auto& f : Files(kSuite + "/xliff-21/test-suite/core/in-out")) files.push_back(f);
  ASSERT_EQ(files.size(), 138u);
  int units = 0, filled = 0, respelled = 0;
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    absl::StatusOr<Document> doc = Read(path);
    if (path.ends_with("/xliff-22/test-suite/modules/valid/Good-pgs_plural.xlf")) {
      // One of the suite's two "valid" files that are not: it is not even well-formed XML (the
      // pgs prefix bound to no namespace, an unclosed <target>); the first error is named.
      ASSERT_FALSE(doc.ok());
      EXPECT_EQ(doc.status().message(),
                "Good-pgs_plural.xlf: line 4, column 63: Namespace prefix pgs for switch on unit "
                "is not defined");
      continue;
    }
    if (path.ends_with("/xliff-22/test-suite/modules/valid/Good-mda_top-level.xlf")) {
      // The other: <meta> in the core namespace inside <mda:metaGroup>, which the 2.2 schema
      // refuses too (xmllint: "This element is not expected").
      ASSERT_FALSE(doc.ok());
      EXPECT_THAT(doc.status().message(),
                  HasSubstr("line 5, column 5: <meta> is not allowed in <mda:metaGroup>"));
      continue;
    }
    ASSERT_TRUE(doc.ok()) << doc.status();
    std::vector<std::optional<std::string>> none(doc->units.size());
    auto same = WriteDocument(*doc, none);
    ASSERT_TRUE(same.ok()) << same.status();
    EXPECT_EQ(*same, doc->original);
    // Each existing target written again: the same bytes.
    std::vector<std::optional<std::string>> own(doc->units.size());
    std::vector<std::optional<std::string>> fill(doc->units.size());
    for (size_t i = 0; i < doc->units.size(); ++i) {
      const DocumentUnit& u = doc->units[i];
      if (!u.target.empty() && u.before.empty()) {
        own[i] = u.target;
      } else if (u.target.empty()) {
        fill[i] = u.source;
      }
    }
    auto rewritten = WriteDocument(*doc, own);
    ASSERT_TRUE(rewritten.ok()) << rewritten.status();
    if (*rewritten != doc->original) {
      // Only the spelling of the text may differ (CDATA or character references become
      // plain escaped text).
      absl::StatusOr<Document> re = ReadDocument(*rewritten, "xliff", "rewritten", "");
      ASSERT_TRUE(re.ok()) << re.status();
      EXPECT_EQ(Skeleton(*re), Skeleton(*doc));
      ASSERT_EQ(re->units.size(), doc->units.size());
      for (size_t i = 0; i < doc->units.size(); ++i)
        EXPECT_EQ(re->units[i].target, doc->units[i].target);
      ++respelled;
    }
    // Units without a translation get their source as one: the document reads again, with
    // those targets and everything else as it was.
    auto written = WriteDocument(*doc, fill, doc->target_lang.empty() ? "fr" : "");
    ASSERT_TRUE(written.ok()) << written.status();
    absl::StatusOr<Document> again = ReadDocument(*written, "xliff", "written", "");
    ASSERT_TRUE(again.ok()) << again.status() << "\n" << *written;
    EXPECT_EQ(test::SchemaErrors(*written, CoreSchema(*doc), kSuite + "/local/catalog.xml"), "");
    ASSERT_EQ(again->units.size(), doc->units.size());
    for (size_t i = 0; i < doc->units.size(); ++i) {
      EXPECT_EQ(again->units[i].id, doc->units[i].id);
      EXPECT_EQ(again->units[i].source, doc->units[i].source);
      EXPECT_EQ(again->units[i].target, fill[i] ? *fill[i] : doc->units[i].target)
          << doc->units[i].id;
      if (fill[i]) ++filled;
    }
    units += static_cast<int>(doc->units.size());
  }
  EXPECT_EQ(units, 267);
  EXPECT_EQ(filled, 87);
  EXPECT_EQ(respelled, 5);  // CDATA sections and character references in targets
}

TEST(XliffSuite, InvalidDocumentsAreRejectedWithAReason) {
  std::vector<std::string> files = SuiteFiles("invalid");
  ASSERT_EQ(files.size(), 324u);
  std::vector<std::string> accepted;
  for (const std::string& path : files) {
    absl::StatusOr<Document> doc = Read(path);
    if (doc.ok()) {
      accepted.push_back(path.substr(kSuite.size()));
      continue;
    }
    EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_THAT(doc.status().message(), HasSubstr(fs::path(path).filename().string())) << path;
  }
  EXPECT_THAT(accepted, ::testing::IsEmpty()) << Join(accepted, "\n");
}

const std::string k12 = std::string(VERSO_SHARED_DATA) + "/xliff/xliff12-sap-samples";

// SAP's "almost everything" XLIFF 1.2 samples: every trans-unit read with its inline codes;
// nothing written gives the file back; the untranslated units filled with their sources give
// a document that reads again and is valid against the 1.2 transitional schema.
TEST(Xliff12, SamplesRoundTrip) {
  for (std::string name :
       {"Sample_AlmostEverything_1.2_strict.xlf", "Sample_AlmostEverything_1.2_transitional.xlf"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<Document> doc = Read(StrCat(k12, "/", name));
    ASSERT_TRUE(doc.ok()) << doc.status();
    EXPECT_EQ(doc->format, "xliff12");
    ASSERT_GE(doc->units.size(), 10u);
    std::vector<std::optional<std::string>> none(doc->units.size());
    EXPECT_EQ(*WriteDocument(*doc, none), doc->original);
    std::vector<std::optional<std::string>> fill(doc->units.size());
    int filled = 0;
    for (size_t i = 0; i < doc->units.size(); ++i) {
      if (doc->units[i].target.empty()) {
        fill[i] = doc->units[i].source;
        ++filled;
      }
    }
    EXPECT_GT(filled, 0);
    auto written = WriteDocument(*doc, fill, doc->target_lang.empty() ? "de" : "");
    ASSERT_TRUE(written.ok()) << written.status();
    absl::StatusOr<Document> again = ReadDocument(*written, "xliff", "written", "");
    ASSERT_TRUE(again.ok()) << again.status();
    // Putting back what the writer replaced (each filled target: an inserted <target> element
    // or an empty <target/>) and taking out the target-language attribute it added when the
    // file had none gives the original back.
    std::string stripped = *written;
    for (size_t i = doc->units.size(); i-- > 0;) {
      if (!fill[i]) continue;
      const DocumentUnit& u = again->units[i];
      const DocumentUnit& was = doc->units[i];
      const size_t b = u.begin - was.before.size();
      const size_t e = u.end + was.after.size();
      ASSERT_EQ(stripped.substr(b, was.before.size()), was.before);
      stripped.replace(b, e - b, doc->original, was.begin, was.end - was.begin);
    }
    if (doc->target_lang.empty()) {
      const size_t at = stripped.find(" target-language=\"de\"");
      ASSERT_NE(at, std::string::npos);
      stripped.erase(at, 22);
    }
    EXPECT_EQ(stripped, doc->original);
    for (size_t i = 0; i < doc->units.size(); ++i) {
      EXPECT_EQ(again->units[i].source, doc->units[i].source);
      EXPECT_EQ(again->units[i].target, fill[i] ? *fill[i] : doc->units[i].target);
    }
    EXPECT_EQ(test::SchemaErrors(*written, k12 + "/xliff-core-1.2-transitional.xsd",
                                 k12 + "/catalog.xml"),
              "");
  }
}

TEST(Xliff, InlineCodesBecomeProtectedTagsAndComeBack) {
  const std::string xlf = R"(<?xml version="1.0" encoding="UTF-8"?>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en">
 <file id="f1">
  <unit id="u1">
   <originalData>
    <data id="d1">&lt;br/&gt;</data>
    <data id="d2">&lt;b&gt;</data>
    <data id="d3">&lt;/b&gt;</data>
   </originalData>
   <segment id="s1">
    <source>Press <pc id="1" dataRefStart="d2" dataRefEnd="d3">Save</pc> now.<ph id="2" dataRef="d1"/></source>
   </segment>
  </unit>
 </file>
</xliff>
)";
  absl::StatusOr<Document> doc = ReadDocument(xlf, "xliff", "t.xlf", "");
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_EQ(doc->units.size(), 1u);
  EXPECT_EQ(doc->units[0].id, "f1/u1/s1");
  EXPECT_EQ(doc->units[0].source, R"(Press <g id="1">Save</g> now.<x id="2"/>)");
  // The translation moves the codes; they come back as the source's elements.
  auto out = WriteDocument(
      *doc, {std::string(R"(<x id="2"/>Jetzt <g id="1">Speichern</g> &amp; los.)")}, "de");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(
      *out,
      HasSubstr(
          R"(<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en" trgLang="de">)"));
  EXPECT_THAT(
      *out,
      HasSubstr(
          R"(</source><target><ph id="2" dataRef="d1"/>Jetzt <pc id="1" dataRefStart="d2" dataRefEnd="d3">Speichern</pc> &amp; los.</target>)"));
  EXPECT_EQ(test::SchemaErrors(*out, kSuite + "/xliff-21/schemas/xliff_core_2.0.xsd",
                               kSuite + "/local/catalog.xml"),
            "");
  // A code the source does not have is refused, naming the unit.
  auto bad = WriteDocument(*doc, {std::string(R"(Jetzt <x id="9"/>)")}, "de");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("f1/u1/s1 has the code <x id=\"9\"/>"));
  // Without trgLang and without a target language, nothing can be written.
  EXPECT_FALSE(WriteDocument(*doc, {std::string("x")}).ok());
}

// An empty target written as a self-closing tag by a Windows tool (CR LF before "/>"), in
// XLIFF 1.2 and 2: the translation opens the tag as written, without the line break.
TEST(Xliff, SelfClosingTargetsWithLineBreaksAreFilledCleanly) {
  const std::string x12 =
      "<?xml version=\"1.0\"?>\r\n<xliff version=\"1.2\" "
      "xmlns=\"urn:oasis:names:tc:xliff:document:1.2\">\r\n<file original=\"a\" "
      "source-language=\"en\" target-language=\"fr\" datatype=\"plaintext\"><body>\r\n"
      "<trans-unit id=\"1\"><source>Hello</source><target state=\"new\"\r\n  />"
      "</trans-unit>\r\n</body></file></xliff>\r\n";
  auto doc = ReadDocument(x12, "xliff", "a.xlf", "en");
  ASSERT_TRUE(doc.ok()) << doc.status();
  auto out = WriteDocument(*doc, {std::string("Bonjour")});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, HasSubstr("<target state=\"new\">Bonjour</target></trans-unit>"));
  const std::string x2 =
      "<?xml version=\"1.0\"?>\r\n<xliff xmlns=\"urn:oasis:names:tc:xliff:document:2.0\" "
      "version=\"2.0\" srcLang=\"en\" trgLang=\"fr\"><file id=\"f\"><unit id=\"u\"><segment>"
      "<source>Hello</source><target\r\n/></segment></unit></file></xliff>\r\n";
  doc = ReadDocument(x2, "xliff", "b.xlf", "en");
  ASSERT_TRUE(doc.ok()) << doc.status();
  out = WriteDocument(*doc, {std::string("Bonjour")});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, HasSubstr("<target>Bonjour</target></segment>"));
}

TEST(Xliff, HostileDocumentsAreRefused) {
  const std::string laughs = R"(<?xml version="1.0"?>
<!DOCTYPE xliff [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en"><file id="f"><unit id="u"><segment><source>&b;</source></segment></unit></file></xliff>)";
  auto r = ReadDocument(laughs, "xliff", "laughs.xlf", "");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("laughs.xlf"));
  const std::string external = R"(<?xml version="1.0"?>
<!DOCTYPE xliff [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en"><file id="f"><unit id="u"><segment><source>&x;</source></segment></unit></file></xliff>)";
  r = ReadDocument(external, "xliff", "xxe.xlf", "");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("xxe.xlf"));
  std::string deep =
      R"(<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en"><file id="f"><unit id="u"><segment><source>)";
  for (int i = 0; i < 300; ++i) deep += StrCat("<pc id=\"", i, "\">");
  for (int i = 0; i < 300; ++i) deep += "</pc>";
  deep += "</source></segment></unit></file></xliff>";
  r = ReadDocument(deep, "xliff", "deep.xlf", "");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("deep.xlf: line 1"));
  r = ReadDocument("<xliff version=\"2.0\"", "xliff", "cut.xlf", "");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("cut.xlf: line 1"));
  // Bytes the declared encoding does not have, and an encoding nobody knows.
  r = ReadDocument("<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><xliff>\x81</xliff>", "xliff",
                   "sjis.xlf", "");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("sjis.xlf: byte 49: not valid Shift_JIS"));
  r = ReadDocument("<?xml version=\"1.0\" encoding=\"klingon-1\"?><xliff/>", "xliff", "k.xlf", "");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("k.xlf: the encoding \"klingon-1\" is unknown"));
}

// The OASIS suite's everything-core.xlf in windows-1252 and in UTF-16 with a byte order mark
// (as Windows tools write it): read as UTF-8, written back in its own encoding, a character
// the encoding lacks as a character reference.
TEST(Xliff, DocumentsInOtherEncodingsReadAndWriteBackInTheirOwn) {
  std::string utf8 =
      ReadFile(kSuite + "/xliff-21/test-suite/core/valid/everything-core.xlf").value();
  ASSERT_TRUE(utf8.starts_with("<?xml version=\"1.0\"?>"));  // no encoding: UTF-8
  utf8.replace(0, 21, "<?xml version=\"1.0\" encoding=\"windows-1252\"?>");
  // "Sample segment." gains a character windows-1252 has (é, one byte 0xE9).
  utf8.replace(utf8.find("Sample segment."), 15, "Sample café segment.");
  std::string cp1252 = utf8;
  cp1252.replace(cp1252.find("caf\xC3\xA9"), 5, "caf\xE9");
  auto doc = ReadDocument(cp1252, "xliff", "everything.xlf", "");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->encoding, "windows-1252");
  EXPECT_EQ(doc->units[0].source, "Sample café segment.");
  std::vector<std::optional<std::string>> fill(doc->units.size());
  fill[0] = "Échantillon 5 € – Győr";  // ő is not in windows-1252
  auto written = WriteDocument(*doc, fill, "");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_THAT(*written, HasSubstr("encoding=\"windows-1252\""));
  EXPECT_THAT(*written, HasSubstr("\xC9"
                                  "chantillon 5 \x80 \x96 Gy&#337;r"));
  auto again = ReadDocument(*written, "xliff", "again.xlf", "");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->units[0].target, "Échantillon 5 € – Győr");

  // UTF-16LE with a byte order mark.
  std::string utf16 = "\xFF\xFE";
  std::string decl16 = utf8;
  decl16.replace(decl16.find("windows-1252"), 12, "UTF-16");
  for (size_t i = 0; i < decl16.size();) {  // ASCII and two-byte UTF-8 are all it has
    const unsigned char c = decl16[i];
    uint16_t u = c < 0x80 ? c : static_cast<uint16_t>(((c & 0x1F) << 6) | (decl16[i + 1] & 0x3F));
    i += c < 0x80 ? 1 : 2;
    utf16 += static_cast<char>(u & 0xFF);
    utf16 += static_cast<char>(u >> 8);
  }
  doc = ReadDocument(utf16, "xliff", "everything16.xlf", "");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->encoding, "UTF-16LE");
  EXPECT_EQ(doc->units[0].source, "Sample café segment.");
  written = WriteDocument(*doc, fill, "");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_TRUE(written->starts_with("\xFF\xFE<\0?\0x\0m\0l\0"));
  again = ReadDocument(*written, "xliff", "again16.xlf", "");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->units[0].target, "Échantillon 5 € – Győr");
}

}  // namespace
}  // namespace verso::formats
