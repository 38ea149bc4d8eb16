// Readers and writers of the exchange formats verso speaks. For now: TMX 1.4b (translation
// memories) and gettext PO. libxml2 is confined to this library.
//
// Readers stream: memory stays constant however large the file. Errors name the file position
// ("line 12, column 5: ...") and are InvalidArgument for malformed input.
#ifndef VERSO_FORMATS_FORMATS_H_
#define VERSO_FORMATS_FORMATS_H_

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace verso::formats {

// ---- Compressed input ------------------------------------------------------------------------

// The compression whose signature starts `head` ("gzip", "bzip2", "xz", "zstd", "zip", "lzip",
// "compress"), or "" for none. Readers refuse compressed input (a small upload must not unpack
// into gigabytes): OpenFile and the readers of whole documents say which compression they found.
inline constexpr size_t kSignatureBytes = 16;  // how much of the start CompressionOf needs
std::string_view CompressionOf(std::string_view head);
// InvalidArgument naming `name` when `head` is compressed.
absl::Status RefuseCompressed(std::string_view head, std::string_view name);

// ---- TMX 1.4b ------------------------------------------------------------------------------

struct XmlAttribute {
  std::string name;
  std::string value;
  bool operator==(const XmlAttribute&) const = default;
};

struct TmxProp {
  std::string type;
  std::string value;
  std::string lang;
  bool operator==(const TmxProp&) const = default;
};

struct TmxNote {
  std::string text;
  std::string lang;
  bool operator==(const TmxNote&) const = default;
};

struct TmxVariant {                      // <tuv>
  std::string lang;                      // xml:lang (or TMX 1.1 lang) as written
  std::vector<XmlAttribute> attributes;  // every other attribute, in document order
  std::vector<TmxProp> props;
  std::vector<TmxNote> notes;
  // The <seg> content as tagged text (text/text.h): characters escaped, inline elements
  // (bpt, ept, it, ph, ut, hi, sub) serialized with their attributes. Elements that TMX does
  // not allow in a segment are serialized too; the TM rejects them when it validates the markup.
  std::string segment;
  int64_t line = 0;
};

struct TmxUnit {  // <tu>
  std::vector<XmlAttribute> attributes;
  std::vector<TmxProp> props;
  std::vector<TmxNote> notes;
  std::vector<TmxVariant> variants;
  int64_t line = 0;
  // Set when this unit is well-formed XML but not valid TMX (a <tuv> without <seg>, a <prop>
  // without type, ...): the reason, with its line. The reader can go on to the next unit.
  std::string problem;
};

struct TmxHeader {
  std::vector<XmlAttribute> attributes;  // srclang, adminlang, creationtool, ...
  std::vector<TmxProp> props;
  std::vector<TmxNote> notes;
  std::string Attribute(std::string_view name) const;
};

// Streams a TMX document unit by unit. Not thread-safe.
class TmxReader {
 public:
  // Reads from a file (errors name it `name`, or the path when empty); or from memory (`data`
  // must outlive the reader). Compressed input is refused: libxml2 would unpack it unbounded.
  static absl::StatusOr<std::unique_ptr<TmxReader>> OpenFile(const std::string& path,
                                                             std::string name = "");
  static absl::StatusOr<std::unique_ptr<TmxReader>> OpenMemory(std::string_view data,
                                                               std::string name);
  virtual ~TmxReader() = default;

  // Reads up to and including <header>; must be called first. Fails on anything that is not a
  // TMX document or has no srclang.
  virtual absl::StatusOr<TmxHeader> ReadHeader() = 0;
  // Reads the next <tu>; false at the end of the body. Malformed XML is an error that ends the
  // document; an invalid unit is returned with `problem` set.
  virtual absl::StatusOr<bool> Next(TmxUnit* unit) = 0;
  // Reads past the next <tu> without converting it: the errors of Next (malformed XML, what the
  // body may not hold), a quarter of the work. False at the end of the body.
  virtual absl::StatusOr<bool> Skip() = 0;
  // Bytes of input consumed so far, and the total (0 when unknown), for progress.
  virtual int64_t BytesRead() const = 0;
  virtual int64_t BytesTotal() const = 0;
};

// Writes TMX 1.4b, UTF-8. Not thread-safe.
class TmxWriter {
 public:
  explicit TmxWriter(std::ostream* out) : out_(out) {}
  void WriteHeader(const TmxHeader& header);
  void WriteUnit(const TmxUnit& unit);
  // Closes the document; false when the stream failed.
  bool Finish();

 private:
  std::ostream* out_;
};

// TMX dates: "20020523T091200Z" <-> unix seconds.
absl::StatusOr<int64_t> ParseTmxDate(std::string_view s);
std::string FormatTmxDate(int64_t unix_seconds);

// Escapes text for XML character data (&, <, >) or attribute values (also ").
std::string XmlEscape(std::string_view s, bool attribute);

// ---- Termbases: TBX v2 (ISO 30042:2008, <martif>), TBX v3 (ISO 30042:2019, <tbx>), CSV --------

// A term of a concept in one language.
struct Term {
  std::string lang;  // xml:lang as written
  std::string text;  // plain text
  std::string part_of_speech;
  // "preferred", "admitted" or "forbidden" (TBX deprecated/superseded terms); empty: not said.
  std::string status;
  bool case_sensitive = false;
  std::string note;
  bool operator==(const Term&) const = default;
};

// A concept (TBX <termEntry>/<conceptEntry>): its terms in every language.
struct Concept {
  std::string id;
  std::string subject;     // subjectField
  std::string definition;  // the first definition found
  std::string note;
  std::vector<Term> terms;
  bool operator==(const Concept&) const = default;
};

// Reads a whole TBX document, v2 (<martif>) or v3 (<tbx>, DCA or DCT style), in any encoding
// its XML declaration names. Data categories verso does not model are skipped, and so are empty
// <term/>s (termbase tools write them for languages not yet filled in). Malformed XML, a
// language section without xml:lang or a term group without <term> fail with InvalidArgument
// naming `name`, line and column. Entities are not expanded and no DTD is fetched.
absl::StatusOr<std::vector<Concept>> ReadTbx(std::string_view data, const std::string& name);

// Writes TBX v3 (TBX-Basic, DCA style). `lang` is the document's xml:lang.
std::string WriteTbx(const std::vector<Concept>& concepts, std::string_view lang);

// Reads a glossary as CSV (RFC 4180, UTF-8, first row a header). Two layouts:
//   wide: one column per language tag ("en,de,fr"), one concept per row; optional columns
//         "concept" (its id; without one the id is empty), "part_of_speech", "note",
//         "subject" and "definition" apply to the row;
//   long: columns "concept" (or "concept_id", "entry_concept"), "lang", "term" and optionally
//         "status", "part_of_speech", "case_sensitive" (true/false/yes/no/1/0), "note": one
//         term per row, rows with the same concept form one concept.
// Any other header column is an error naming it and the columns expected.
// Errors name `name`, the line and the column (field number).
absl::StatusOr<std::vector<Concept>> ReadGlossaryCsv(std::string_view data,
                                                     const std::string& name);

// Writes the long CSV layout above.
std::string WriteGlossaryCsv(const std::vector<Concept>& concepts);

// ---- Translatable documents: XLIFF 2 and 1.2, gettext PO, JSON resource files, plain text ---
//
// A document is read into units (what a translator translates) and written back with the
// translations in place: every byte outside the translated text is the original's.

// An XML document in the encoding it declares (or UTF-16 by its byte order mark) as UTF-8, its
// declaration rewritten to say so; *encoding is set to the document's encoding, empty when it
// was UTF-8 already. An unknown encoding or a byte sequence invalid in it is InvalidArgument.
absl::StatusOr<std::string> XmlToUtf8(std::string_view data, const std::string& name,
                                      std::string* encoding);
// The reverse: UTF-8 XML back into `encoding` (empty: as it is), the declaration naming it, a
// character the encoding lacks written as a character reference (&#8364;).
absl::StatusOr<std::string> XmlFromUtf8(std::string_view utf8, const std::string& encoding,
                                        const std::string& name);

// The same for a gettext PO file in the charset its header names (Content-Type: ...;
// charset=ISO-8859-1). PO has no character references: a translation the charset cannot hold
// is an error naming where.
absl::StatusOr<std::string> PoToUtf8(std::string_view data, const std::string& name,
                                     std::string* encoding);
absl::StatusOr<std::string> PoFromUtf8(std::string_view utf8, const std::string& encoding,
                                       const std::string& name);
// A plain-text document: UTF-16 with a byte order mark (what Windows' editors call "Unicode")
// as UTF-8, and *encoding "UTF-16LE"/"UTF-16BE"; anything else as it is ("": UTF-8).
// TextFromUtf8 writes it back in that encoding, with its byte order mark.
absl::StatusOr<std::string> TextToUtf8(std::string_view data, const std::string& name,
                                       std::string* encoding);
absl::StatusOr<std::string> TextFromUtf8(std::string_view utf8, const std::string& encoding,
                                         const std::string& name);
// The charset a PO file's header (in `head`, its first bytes) declares when it is not UTF-8
// (nor a template's "CHARSET"); "" otherwise.
std::string PoDeclaredCharset(std::string_view head);

struct DocumentUnit {
  std::string id;       // unique in the document: PO "ctxt\x04msgid" (+ "[n]" per plural form),
                        // JSON the key path ("menu.file.open", "items.2"), text "p<N>s<M>"
  std::string source;   // markup (placeholders and written tags stay text; the tokenizer
                        // treats them as codes)
  std::string target;   // the translation the file already has (markup), or ""
  std::string context;  // PO msgctxt
  std::vector<std::string> notes;  // PO extracted and translator comments, references
  bool fuzzy = false;              // PO "#, fuzzy": `target` is a suggestion
  int64_t line = 0;                // where the unit starts in the file
  // The bytes a translation replaces, and what is written around it (XLIFF: a <target>
  // element the file does not have yet).
  int64_t begin = 0;
  int64_t end = 0;
  std::string before;
  std::string after;
  // XLIFF 2: each inline code of the source as markup key ("x#1", "g#2", "/g#2" for its end,
  // "ex>1" for an end code naming its start) and the XML it stands for.
  std::vector<std::pair<std::string, std::string>> codes;
};

struct Document {
  std::string format;    // "po", "json", "text", "xliff2", "xliff12"
  std::string original;  // the file as read (XLIFF: in UTF-8, its declaration saying so)
  std::string encoding;  // XLIFF, PO: the file's own encoding when not UTF-8 ("windows-1252")
  std::vector<DocumentUnit> units;
  // XLIFF: the languages the file declares, and where a target language attribute must be
  // inserted (byte offsets in start tags) when the file has none.
  std::string source_lang;
  std::string target_lang;
  std::vector<int64_t> lang_inserts;
};

// Formats: "xliff" (XLIFF 2.0/2.1/2.2 or 1.2, told apart by the document; a unit per
// <segment> or <trans-unit>; the document is validated against the core schema and XLIFF 2's
// processing requirements, modules and extensions are kept untouched; inline codes become
// protected tags; any declared encoding, 256 MiB and 200 levels of nesting at most, no DTD, no
// entities), "po" (the header entry and obsolete entries are not units; each plural form is one),
// "json" (every string value of nested objects and arrays, i18next/ICU placeholders kept),
// "text" (UTF-8; paragraphs at blank lines, sentences by text::SplitSentences in
// `source_lang`). Malformed input fails with InvalidArgument naming `name`, line and column.
absl::StatusOr<Document> ReadDocument(std::string_view data, std::string_view format,
                                      const std::string& name, std::string_view source_lang);

// The document with `translations[i]` (markup) in place of unit i; nullopt keeps what the file
// has. The result differs from `original` only inside the replaced units (and, for an XLIFF
// file without a target language, in the attribute that declares `target_lang`). Inline codes
// must be ones the unit's source has.
absl::StatusOr<std::string> WriteDocument(
    const Document& document, const std::vector<std::optional<std::string>>& translations,
    std::string_view target_lang = "");

// ---- gettext PO ----------------------------------------------------------------------------

struct PoEntry {
  std::string context;  // msgctxt
  std::string msgid;
  std::string msgid_plural;
  std::vector<std::string> msgstr;               // one, or one per plural form
  std::vector<std::string> translator_comments;  // "# "
  std::vector<std::string> extracted_comments;   // "#."
  std::vector<std::string> references;           // "#:"
  std::vector<std::string> flags;                // "#," e.g. fuzzy, c-format
  bool obsolete = false;                         // "#~"
  int64_t line = 0;
  // Byte range in the file of each msgstr's value, from its first opening quote to its last
  // closing quote (what a writer replaces to translate the entry).
  std::vector<std::pair<int64_t, int64_t>> msgstr_ranges;
  bool fuzzy() const;
};

// Streams a PO file entry by entry (the header entry, msgid "", included). Not thread-safe.
class PoReader {
 public:
  // Errors name the file `name` (the path when empty). Compressed input is refused.
  static absl::StatusOr<std::unique_ptr<PoReader>> OpenFile(const std::string& path,
                                                            std::string name = "");
  static std::unique_ptr<PoReader> OpenString(std::string data, std::string name);
  virtual ~PoReader() = default;
  virtual absl::StatusOr<bool> Next(PoEntry* entry) = 0;
  virtual int64_t BytesRead() const = 0;
  virtual int64_t BytesTotal() const = 0;
};

}  // namespace verso::formats

#endif  // VERSO_FORMATS_FORMATS_H_
