// Text handling for every language: UTF-8 validation, Unicode normalization, the tagged-text
// markup that segments are stored in, word tokenization (UAX #29 via ICU, with dictionary-based
// segmentation for Chinese, Japanese, Thai, Lao, Khmer and Burmese), placeholder and inline-tag
// recognition, GMX-V word counts and BCP 47 language tags.
//
// Tagged text ("markup"): a segment's source and target are strings in which characters are
// XML-escaped (&amp; &lt; &gt; and numeric references) and inline codes are XML elements of the
// TMX 1.4 / XLIFF 1.2 inline vocabulary:
//   atomic codes, one token each, content kept verbatim:  <bpt>..</bpt> <ept>..</ept>
//       <it>..</it> <ph>..</ph> <ut>..</ut> (content may hold <sub>) and empty <x/> <bx/> <ex/>
//   paired spans whose content is text:  <hi ...>text</hi> <g ...>text</g> <mrk ...>text</mrk>
// Plain text becomes markup with EscapeText(). All functions are thread-safe; ICU objects are
// per thread.
#ifndef VERSO_TEXT_TEXT_H_
#define VERSO_TEXT_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace verso::text {

// ---- UTF-8 ---------------------------------------------------------------------------------

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
// On failure, *error_offset (if given) is the byte offset of the first bad sequence.
bool IsValidUtf8(std::string_view s, size_t* error_offset = nullptr);

// Number of code points in valid UTF-8.
size_t CodePointCount(std::string_view s);
// Appends the UTF-8 encoding of code point `cp` (<= U+10FFFF).
void AppendUtf8(uint32_t cp, std::string* out);

// ---- Normalization -------------------------------------------------------------------------

std::string Nfc(std::string_view s);
// Unicode full case folding (ß -> ss, Σ/σ/ς -> σ), applied after NFC; result is NFC.
std::string FoldCase(std::string_view s);
// Runs of Unicode white space become one U+0020; leading and trailing white space is removed.
std::string CollapseWhitespace(std::string_view s);
// NFC, case folding and white-space collapse: the form two strings are compared in when case and
// spacing must not matter.
std::string Normalize(std::string_view s);

// ---- Markup --------------------------------------------------------------------------------

struct Run {
  enum class Kind : uint8_t {
    kText,   // `text` is the unescaped characters
    kCode,   // an atomic inline code; `text` is its markup, e.g. <ph x="1">&lt;br/></ph>
    kOpen,   // start tag of a paired span (<hi ...>); `text` is the tag
    kClose,  // end tag of a paired span (</hi>)
  };
  Kind kind;
  std::string text;
  uint32_t begin;  // byte range of the run in the markup
  uint32_t end;
};

// Splits markup into runs. Fails with InvalidArgument naming the byte offset for unknown
// elements, unbalanced tags, bad entities and invalid UTF-8.
absl::StatusOr<std::vector<Run>> ParseMarkup(std::string_view markup);
// Decodes the XML reference at s[pos] == '&' (&amp; &lt; &gt; &quot; &apos; or a character
// reference to a character XML allows): appends its character to *out and returns the
// reference's length, or 0 when it is not one.
size_t DecodeXmlReference(std::string_view s, size_t pos, std::string* out);
// Plain text -> markup: escapes &, < and >.
std::string EscapeText(std::string_view plain);
// Markup -> the plain text a reader sees: text runs (including the text inside <hi>), codes
// dropped. Malformed markup is returned unchanged.
std::string PlainText(std::string_view markup);

// ---- Tokens --------------------------------------------------------------------------------

enum class TokenKind : uint8_t {
  kWord,         // letters (any script), including CJK/Thai dictionary words
  kNumber,       // 42, 3.14, 1,000
  kPunct,        // punctuation and symbols, one character each
  kPlaceholder,  // %s %1$d %(name)s %1 {name} {0} {{x}} ${x} {n, plural, ...}
  kTag,          // an inline code, or an HTML/XML tag written in the text (<b>, </b>, <br/>)
};

struct Token {
  TokenKind kind;
  uint32_t begin;  // byte range in the tokenized string
  uint32_t end;
  std::string surface;  // the characters as written (unescaped)
  // Comparison key: NFC + case folding for words, the surface for numbers, placeholders and
  // punctuation, "<name type>" for tags (element name and its type, ignoring native content).
  std::string key;
};

// Tokenizes markup (see above); text that is not well-formed markup is tokenized as plain text.
// White space is not a token: what lies between two tokens is white space.
std::vector<Token> Tokenize(std::string_view markup);
// Tokenizes plain text (no markup interpretation; "<b>" written in the text is still a kTag).
std::vector<Token> TokenizePlain(std::string_view plain);

// ---- Sentences -----------------------------------------------------------------------------

// Splits plain text into sentences (ICU sentence breaks with the language's CLDR abbreviation
// suppressions, so "Mr. Smith" or "z.B. hier" stay whole): byte ranges with the white space
// around each sentence left out. Line breaks inside a paragraph do not end a sentence; a blank
// line does (the caller splits paragraphs first if it wants that).
std::vector<std::pair<uint32_t, uint32_t>> SplitSentences(std::string_view plain,
                                                          std::string_view lang);

// ---- Word counts (GMX-V 2.0) ---------------------------------------------------------------

struct WordCount {
  int64_t words = 0;       // GMX-V word count
  int64_t characters = 0;  // non-white-space characters of the text (codes excluded)
  int64_t codes = 0;       // inline codes and placeholders (GMX-V "inline elements")
};

// Counts per GMX-V: words are UAX #29 word segments that contain a letter or digit; punctuation,
// white space, inline codes and placeholders are not words. For the logographic languages GMX-V
// names, words = characters of word segments / factor (Chinese 2.8, Japanese 3.0, Korean 3.3,
// Thai 6.0), rounded to nearest. `language` is a BCP 47 tag (only its language subtag matters).
WordCount CountWords(std::string_view markup, std::string_view language);

// ---- Language tags -------------------------------------------------------------------------

// Validates a BCP 47 tag and returns its canonical case: "EN-us" -> "en-US",
// "zh-hant-tw" -> "zh-Hant-TW"; a three-letter language code with a two-letter equivalent
// becomes that code ("eng-US" -> "en-US"). InvalidArgument for anything that is not a well-formed
// tag.
absl::StatusOr<std::string> CanonicalLanguageTag(std::string_view tag);
// The language of a plain text, by CLD2: a canonical tag ("en", "pt", "zh-Hant"), empty when
// it cannot tell (too short, invalid UTF-8); `reliable` when CLD2 is confident.
struct DetectedLanguage {
  std::string tag;
  bool reliable = false;
};
DetectedLanguage DetectLanguage(std::string_view utf8);
// The primary language subtag, lower case ("pt-BR" -> "pt").
std::string PrimaryLanguage(std::string_view tag);
// Canonical tags that name the same language: equal, or one a prefix of the other at a subtag
// boundary ("en" and "en-US" match; "en-GB" and "en-US", "pt" and "es" do not). Case-insensitive.
bool TagsMatch(std::string_view a, std::string_view b);
// The ISO 639-2/3 code of a tag's language ("pt-BR" -> "por"); the subtag itself when ICU knows
// none.
std::string Iso639_3(std::string_view tag);
// The English name of a tag's language and region ("pt-BR" -> "Portuguese (Brazil)").
std::string LanguageName(std::string_view tag);

}  // namespace verso::text

#endif  // VERSO_TEXT_TEXT_H_
