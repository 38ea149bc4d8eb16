#include <unicode/brkiter.h>
#include <unicode/uchar.h>
#include <unicode/utext.h>
#include <unicode/utf8.h>

#include <array>
#include <memory>

#include "common/strings.h"
#include "text/text.h"
#include "text/text_internal.h"

namespace verso::text {
namespace {

// One word-break iterator per thread: creating one loads rules and dictionaries (~100 µs);
// setText on an existing one is cheap.
struct WordBreaker {
  std::unique_ptr<icu::BreakIterator> iter;
  UText* utext = nullptr;
  WordBreaker() {
    UErrorCode status = U_ZERO_ERROR;
    iter.reset(icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), status));
  }
  ~WordBreaker() {
    if (utext != nullptr) utext_close(utext);
  }
};

WordBreaker& Breaker() {
  thread_local WordBreaker breaker;
  return breaker;
}

bool g_ascii_fast_path = true;

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool IsIdentChar(char c) { return IsAsciiAlnum(c) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

size_t PrintfLength(std::string_view s, size_t pos) {
  // s[pos] == '%'
  size_t i = pos + 1;
  if (i >= s.size()) return 0;
  if (s[i] == '%') return 2;
  if (s[i] == '(') {  // Python %(name)s
    size_t close = s.find(')', i);
    if (close == std::string_view::npos || close == i + 1) return 0;
    for (size_t k = i + 1; k < close; ++k) {
      if (!IsIdentChar(s[k])) return 0;
    }
    i = close + 1;
  } else if (s[i] == '{') {  // Ruby %{name}
    size_t close = s.find('}', i);
    if (close == std::string_view::npos || close == i + 1) return 0;
    for (size_t k = i + 1; k < close; ++k) {
      if (!IsIdentChar(s[k])) return 0;
    }
    return close + 1 - pos;
  } else {
    // positional %1$ or Qt-style %1
    size_t d = i;
    while (d < s.size() && IsDigit(s[d])) ++d;
    if (d > i && d < s.size() && s[d] == '$') {
      i = d + 1;
    } else if (d > i && (d >= s.size() || !IsAsciiAlnum(s[d]))) {
      return d - pos;  // %1, %12
    }
  }
  while (i < s.size() && (s[i] == '-' || s[i] == '+' || s[i] == '#' || s[i] == '0' || s[i] == '\''))
    ++i;
  if (i < s.size() && s[i] == '*') {
    ++i;
  } else {
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i < s.size() && s[i] == '*') {
      ++i;
    } else {
      while (i < s.size() && IsDigit(s[i])) ++i;
    }
  }
  // gettext's system-dependent directives: %<PRIuMAX>, %<PRId64> (<inttypes.h> macros).
  if (i < s.size() && s[i] == '<' && s.substr(i + 1, 3) == "PRI") {
    size_t close = s.find('>', i);
    if (close == std::string_view::npos || close > i + 16) return 0;
    for (size_t k = i + 4; k < close; ++k) {
      if (!IsAsciiAlnum(s[k])) return 0;
    }
    return close + 1 - pos;
  }
  static constexpr std::string_view kLengths[] = {"hh", "ll", "I64", "I32", "h", "l",
                                                  "L",  "q",  "j",   "z",   "t"};
  for (std::string_view len : kLengths) {
    if (s.substr(i, len.size()) == len) {
      i += len.size();
      break;
    }
  }
  if (i >= s.size()) return 0;
  static constexpr std::string_view kConversions = "diouxXeEfFgGaAcspnCS@r";
  if (kConversions.find(s[i]) == std::string_view::npos) return 0;
  return i + 1 - pos;
}

constexpr std::string_view kIcuArgTypes[] = {"plural",  "select",  "selectordinal", "number",
                                             "date",    "time",    "choice",        "spellout",
                                             "ordinal", "duration"};

size_t BraceLength(std::string_view s, size_t pos) {
  // s[pos] == '{'
  if (pos + 1 < s.size() && s[pos + 1] == '{') {  // {{ x }}
    size_t close = s.find("}}", pos + 2);
    if (close == std::string_view::npos) return 0;
    std::string_view inner = s.substr(pos + 2, close - pos - 2);
    if (inner.find_first_of("{}\n") != std::string_view::npos || inner.size() > 100) return 0;
    return close + 2 - pos;
  }
  size_t i = pos + 1;
  while (i < s.size() && s[i] == ' ') ++i;
  size_t name_start = i;
  while (i < s.size() && (IsIdentChar(s[i]) || s[i] == '.' || s[i] == '[' || s[i] == ']')) ++i;
  size_t name_end = i;
  while (i < s.size() && s[i] == ' ') ++i;
  if (i >= s.size()) return 0;
  if (s[i] == '}') return i + 1 - pos;         // {name} {0} {}
  if (s[i] == ':' && name_end > name_start) {  // {0:N2} {name:>10}
    size_t close = s.find_first_of("{}", i);
    if (close == std::string_view::npos || s[close] != '}') return 0;
    return close + 1 - pos;
  }
  if (s[i] == ',' && name_end > name_start) {  // ICU MessageFormat argument
    ++i;
    while (i < s.size() && s[i] == ' ') ++i;
    size_t type_start = i;
    while (i < s.size() && IsIdentChar(s[i])) ++i;
    std::string_view type = s.substr(type_start, i - type_start);
    bool known = false;
    for (std::string_view t : kIcuArgTypes) known = known || t == type;
    if (!known) return 0;
    int depth = 1;
    for (; i < s.size(); ++i) {
      if (s[i] == '{') ++depth;
      if (s[i] == '}' && --depth == 0) return i + 1 - pos;
    }
    return 0;
  }
  return 0;
}

}  // namespace

size_t PlaceholderLength(std::string_view s, size_t pos) {
  switch (s[pos]) {
    case '%':
      return PrintfLength(s, pos);
    case '{':
      return BraceLength(s, pos);
    case '$':
      if (pos + 1 < s.size() && s[pos + 1] == '{') {
        size_t close = s.find_first_of("{}", pos + 2);
        if (close == std::string_view::npos || s[close] != '}' || close == pos + 2) return 0;
        return close + 1 - pos;
      }
      return 0;
    default:
      return 0;
  }
}

size_t WrittenTagLength(std::string_view s, size_t pos) {
  // s[pos] == '<'
  size_t i = pos + 1;
  if (i < s.size() && s[i] == '/') ++i;
  if (i >= s.size() || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) return 0;
  while (i < s.size() && (IsAsciiAlnum(s[i]) || s[i] == ':' || s[i] == '-' || s[i] == '_')) ++i;
  if (i >= s.size()) return 0;
  if (s[i] != '>' && s[i] != '/' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n') return 0;
  size_t close = s.find_first_of("<>", i);
  if (close == std::string_view::npos || s[close] != '>') return 0;
  return close + 1 - pos;
}

namespace {

std::string TagKeyFromMarkup(std::string_view tag) {
  // "<bpt i="1" type="bold">..." -> "<bpt bold>"; "</hi>" -> "</hi>"
  size_t i = 1;
  bool closing = i < tag.size() && tag[i] == '/';
  if (closing) ++i;
  size_t name_start = i;
  while (i < tag.size() &&
         (IsAsciiAlnum(tag[i]) || tag[i] == ':' || tag[i] == '-' || tag[i] == '_'))
    ++i;
  std::string key =
      StrCat(closing ? "</" : "<", AsciiLower(tag.substr(name_start, i - name_start)));
  size_t gt = tag.find('>');
  std::string_view head = tag.substr(0, gt == std::string_view::npos ? tag.size() : gt);
  for (std::string_view attr : {std::string_view("type"), std::string_view("ctype")}) {
    size_t at = head.find(attr);
    while (at != std::string_view::npos) {
      bool boundary =
          at > 0 && (head[at - 1] == ' ' || head[at - 1] == '\t' || head[at - 1] == '\n');
      size_t k = at + attr.size();
      while (k < head.size() && (head[k] == ' ' || head[k] == '\t')) ++k;
      if (boundary && k < head.size() && head[k] == '=') {
        ++k;
        while (k < head.size() && (head[k] == ' ' || head[k] == '\t')) ++k;
        if (k < head.size() && (head[k] == '"' || head[k] == '\'')) {
          size_t close = head.find(head[k], k + 1);
          if (close != std::string_view::npos) {
            StrAppend(&key, " ", head.substr(k + 1, close - k - 1));
          }
        }
        break;
      }
      at = head.find(attr, at + 1);
    }
  }
  key.push_back('>');
  return key;
}

void AddToken(TokenKind kind, std::string_view text, uint32_t begin, uint32_t end,
              std::vector<Token>* out) {
  Token t;
  t.kind = kind;
  t.begin = begin;
  t.end = end;
  t.surface.assign(text);
  if (kind == TokenKind::kWord) {
    t.key = FoldCase(text);
  } else if (kind == TokenKind::kTag) {
    t.key = TagKeyFromMarkup(text);
  } else {
    t.key = t.surface;
  }
  out->push_back(std::move(t));
}

// UAX #29 word boundaries for ASCII text, as ICU's word rules (word.txt) draw them: letters,
// digits and '_' join; ',' ';' join two digits, '.' and '\'' join two letters or two digits.
// ICU's rule status follows the segment's last character (a digit: number, a letter: word; a
// trailing '_' takes the status of what precedes it, "__" is a word, a lone '_' is none). ICU 72
// treats '@' as a letter (e-mail addresses stay one word), but it is not alphabetic.
// TokenizeTest.AsciiFastPathEqualsIcu checks all of this against ICU.
enum AsciiClass : uint8_t {
  kOther,
  kSpace,
  kLetter,
  kDigit,
  kUnderscore,
  kMidNumLet,
  kMidNum,
  kAt
};

constexpr std::array<uint8_t, 128> MakeAsciiClasses() {
  std::array<uint8_t, 128> t{};
  for (int c = 0; c < 128; ++c) {
    uint8_t k = kOther;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
      k = kLetter;
    else if (c >= '0' && c <= '9')
      k = kDigit;
    else if (c == '_')
      k = kUnderscore;
    else if (c == '@')
      k = kAt;
    else if (c == '.' || c == '\'')
      k = kMidNumLet;
    else if (c == ',' || c == ';')
      k = kMidNum;
    else if (c == ' ' || (c >= 0x09 && c <= 0x0D))
      k = kSpace;
    t[c] = k;
  }
  return t;
}
constexpr std::array<uint8_t, 128> kAsciiClasses = MakeAsciiClasses();

// A segment with ICU rule status `status`: a word when ICU says so or when it holds a letter
// (ICU calls "mp3" and "x86" numbers: they end in a digit), a number when it is digits only,
// else one punctuation token per non-space code point.
void AddSegment(std::string_view s, size_t a, size_t b, int status, bool has_letter,
                std::vector<Token>* out) {
  if (status >= UBRK_WORD_NONE && status < UBRK_WORD_NONE_LIMIT) {
    size_t i = a;
    while (i < b) {
      size_t len;
      bool ws = IsWhitespaceAt(s, i, &len);
      if (len == 0) len = 1;
      if (!ws) {
        AddToken(TokenKind::kPunct, s.substr(i, len), static_cast<uint32_t>(i),
                 static_cast<uint32_t>(i + len), out);
      }
      i += len;
    }
  } else if (status >= UBRK_WORD_NUMBER && status < UBRK_WORD_NUMBER_LIMIT && !has_letter) {
    AddToken(TokenKind::kNumber, s.substr(a, b - a), static_cast<uint32_t>(a),
             static_cast<uint32_t>(b), out);
  } else {
    AddToken(TokenKind::kWord, s.substr(a, b - a), static_cast<uint32_t>(a),
             static_cast<uint32_t>(b), out);
  }
}

bool IsCore(uint8_t k) { return k == kLetter || k == kDigit || k == kUnderscore || k == kAt; }
bool IsLetterLike(uint8_t k) { return k == kLetter || k == kAt; }

void BreakAsciiWords(std::string_view s, size_t begin, size_t end, std::vector<Token>* out) {
  size_t i = begin;
  while (i < end) {
    uint8_t k = kAsciiClasses[static_cast<unsigned char>(s[i])];
    if (k == kSpace) {
      ++i;
      continue;
    }
    if (!IsCore(k)) {
      AddToken(TokenKind::kPunct, s.substr(i, 1), static_cast<uint32_t>(i),
               static_cast<uint32_t>(i + 1), out);
      ++i;
      continue;
    }
    size_t j = i;
    bool letters = false;  // real letters; '@' counts for joining only
    uint8_t prev = k;
    while (j < end) {
      uint8_t c = kAsciiClasses[static_cast<unsigned char>(s[j])];
      if (IsCore(c)) {
        letters |= c == kLetter;
        prev = c;
        ++j;
        continue;
      }
      // A middle character joins two letters or two digits.
      if (j + 1 < end && (c == kMidNumLet || c == kMidNum)) {
        uint8_t next = kAsciiClasses[static_cast<unsigned char>(s[j + 1])];
        bool join = (IsLetterLike(prev) && IsLetterLike(next) && c == kMidNumLet) ||
                    (prev == kDigit && next == kDigit);
        if (join) {
          j += 1;
          continue;
        }
      }
      break;
    }
    // ICU's status, from the last characters.
    uint8_t last = kAsciiClasses[static_cast<unsigned char>(s[j - 1])];
    int status;
    if (IsLetterLike(last)) {
      status = UBRK_WORD_LETTER;
    } else if (last == kDigit) {
      status = UBRK_WORD_NUMBER;
    } else if (j - i == 1) {
      status = UBRK_WORD_NONE;  // a lone '_'
    } else {
      uint8_t before = kAsciiClasses[static_cast<unsigned char>(s[j - 2])];
      status = before == kDigit ? UBRK_WORD_NUMBER : UBRK_WORD_LETTER;
    }
    AddSegment(s, i, j, status, letters, out);
    i = j;
  }
}

// UAX #29 segmentation of a span with no placeholders or written tags.
void BreakWords(std::string_view s, size_t begin, size_t end, std::vector<Token>* out) {
  if (begin >= end) return;
  if (g_ascii_fast_path && IsAscii(s.substr(begin, end - begin))) {
    BreakAsciiWords(s, begin, end, out);
    return;
  }
  WordBreaker& wb = Breaker();
  UErrorCode status = U_ZERO_ERROR;
  wb.utext = utext_openUTF8(wb.utext, s.data() + begin, static_cast<int64_t>(end - begin), &status);
  wb.iter->setText(wb.utext, status);
  if (U_FAILURE(status)) return;
  int32_t prev = wb.iter->first();
  for (int32_t cur = wb.iter->next(); cur != icu::BreakIterator::DONE;
       prev = cur, cur = wb.iter->next()) {
    int32_t rule = wb.iter->getRuleStatus();
    size_t a = begin + static_cast<size_t>(prev);
    size_t b = begin + static_cast<size_t>(cur);
    bool letters = false;
    if (rule >= UBRK_WORD_NUMBER && rule < UBRK_WORD_NUMBER_LIMIT) {
      int32_t k = static_cast<int32_t>(a);
      while (k < static_cast<int32_t>(b) && !letters) {
        UChar32 c;
        U8_NEXT(reinterpret_cast<const uint8_t*>(s.data()), k, static_cast<int32_t>(b), c);
        letters = c >= 0 && u_isalpha(c);
      }
    }
    AddSegment(s, a, b, rule, letters, out);
  }
}

}  // namespace

void SetAsciiFastPath(bool enabled) { g_ascii_fast_path = enabled; }

std::vector<Token> TokenizePlain(std::string_view s) {
  std::vector<Token> out;
  out.reserve(s.size() / 4 + 2);
  size_t span = 0;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    size_t len = 0;
    TokenKind kind = TokenKind::kPlaceholder;
    if (c == '%' || c == '{' || c == '$') {
      len = PlaceholderLength(s, i);
    } else if (c == '<') {
      len = WrittenTagLength(s, i);
      kind = TokenKind::kTag;
    }
    if (len == 0) {
      ++i;
      continue;
    }
    BreakWords(s, span, i, &out);
    AddToken(kind, s.substr(i, len), static_cast<uint32_t>(i), static_cast<uint32_t>(i + len),
             &out);
    i += len;
    span = i;
  }
  BreakWords(s, span, s.size(), &out);
  return out;
}

std::vector<Token> Tokenize(std::string_view markup) {
  if (markup.find_first_of("<&") == std::string_view::npos) return TokenizePlain(markup);
  auto runs = ParseMarkup(markup);
  if (!runs.ok()) return TokenizePlain(markup);
  std::vector<Token> out;
  for (const Run& run : *runs) {
    if (run.kind != Run::Kind::kText) {
      AddToken(TokenKind::kTag, run.text, run.begin, run.end, &out);
      continue;
    }
    std::vector<Token> inner = TokenizePlain(run.text);
    bool identity = run.end - run.begin == run.text.size();
    std::vector<uint32_t> map;
    if (!identity) map = TextRunOffsets(markup, run.begin, run.end);
    for (Token& t : inner) {
      if (identity) {
        t.begin += run.begin;
        t.end += run.begin;
      } else {
        t.begin = map[t.begin];
        t.end = map[t.end];
      }
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace verso::text
