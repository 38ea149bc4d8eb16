// Translatable documents (see formats.h): PO, JSON resource files and plain text, read into
// units with the byte ranges their translations replace.
#include <algorithm>

#include "common/json_escape.h"
#include "common/status.h"
#include "common/strings.h"
#include "formats/formats.h"
#include "formats/xliff_internal.h"
#include "text/text.h"

namespace verso::formats {
namespace {

constexpr int kMaxJsonDepth = 256;

// 1-based line and column of byte `offset`.
std::pair<int64_t, int64_t> LineColumn(std::string_view s, size_t offset) {
  int64_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < s.size(); ++i) {
    if (s[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

// ---- PO ----

absl::StatusOr<Document> ReadPo(std::string_view data, const std::string& name) {
  // Every byte is checked, not only the strings that become units: a PO file in another
  // charset fails here, naming where (verso reads PO in UTF-8).
  size_t bad = 0;
  if (!text::IsValidUtf8(data, &bad)) {
    auto [line, column] = LineColumn(data, bad);
    return absl::InvalidArgumentError(StrCat(
        name, ": line ", line, ", column ", column,
        ": not valid UTF-8 (verso reads PO files in UTF-8: msgconv --to-code=UTF-8 converts one)"));
  }
  Document doc;
  std::unique_ptr<PoReader> reader = PoReader::OpenString(std::string(data), name);
  PoEntry e;
  while (true) {
    VERSO_ASSIGN_OR_RETURN(bool more, reader->Next(&e));
    if (!more) break;
    if (e.obsolete || (e.msgid.empty() && e.context.empty())) continue;  // header, #~
    for (size_t i = 0; i < e.msgstr.size(); ++i) {
      DocumentUnit u;
      u.id = e.context.empty() ? e.msgid : StrCat(e.context, "\x04", e.msgid);
      if (!e.msgid_plural.empty()) StrAppend(&u.id, "[", i, "]");
      u.source = text::EscapeText(i == 0 || e.msgid_plural.empty() ? e.msgid : e.msgid_plural);
      u.target = text::EscapeText(e.msgstr[i]);
      u.context = e.context;
      for (const auto& c : e.extracted_comments) u.notes.push_back(c);
      for (const auto& c : e.translator_comments) u.notes.push_back(c);
      for (const auto& c : e.references) u.notes.push_back(StrCat("#: ", c));
      u.fuzzy = e.fuzzy();
      u.line = e.line;
      u.begin = e.msgstr_ranges[i].first;
      u.end = e.msgstr_ranges[i].second;
      doc.units.push_back(std::move(u));
    }
  }
  return doc;
}

std::string PoQuote(std::string_view plain) {
  auto escape = [](std::string_view s) {
    std::string out;
    for (char c : s) {
      switch (c) {
        case '\\':
          out += "\\\\";
          break;
        case '"':
          out += "\\\"";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\r':
          out += "\\r";
          break;
        default:
          out.push_back(c);
      }
    }
    return out;
  };
  const size_t nl = plain.find('\n');
  if (nl == std::string_view::npos || nl + 1 == plain.size()) {
    return StrCat("\"", escape(plain), "\"");
  }
  // gettext's layout for multi-line strings: an empty first line, then one line per line.
  std::string out = "\"\"";
  size_t start = 0;
  while (start < plain.size()) {
    size_t end = plain.find('\n', start);
    end = end == std::string_view::npos ? plain.size() : end + 1;
    StrAppend(&out, "\n\"", escape(plain.substr(start, end - start)), "\"");
    start = end;
  }
  return out;
}

// ---- JSON ----

class JsonScanner {
 public:
  JsonScanner(std::string_view s, const std::string& name, Document* doc)
      : s_(s), name_(name), doc_(doc) {}

  absl::Status Run() {
    if (s_.starts_with("\xEF\xBB\xBF")) i_ = 3;
    Skip();
    VERSO_RETURN_IF_ERROR(Value("", 0));
    Skip();
    if (i_ != s_.size()) return Error("unexpected text after the document");
    return absl::OkStatus();
  }

 private:
  absl::Status Error(std::string_view what) const {
    auto [line, column] = LineColumn(s_, i_);
    return absl::InvalidArgumentError(
        StrCat(name_, ": line ", line, ", column ", column, ": ", what));
  }
  void Skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  absl::StatusOr<uint32_t> Hex4() {
    if (i_ + 4 > s_.size()) return Error("\\u needs four hex digits");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_ + k];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= c - '0';
      } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
        v |= (c | 0x20) - 'a' + 10;
      } else {
        return Error("\\u needs four hex digits");
      }
    }
    i_ += 4;
    return v;
  }
  // s_[i_] == '"'; leaves i_ after the closing quote.
  absl::Status String(std::string* out) {
    ++i_;
    while (true) {
      if (i_ >= s_.size()) return Error("the string is never closed");
      char c = s_[i_];
      if (c == '"') {
        ++i_;
        return absl::OkStatus();
      }
      if (static_cast<unsigned char>(c) < 0x20) return Error("a control character in a string");
      if (c != '\\') {
        out->push_back(c);
        ++i_;
        continue;
      }
      if (++i_ >= s_.size()) return Error("the string is never closed");
      char e = s_[i_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          VERSO_ASSIGN_OR_RETURN(uint32_t cp, Hex4());
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') {
              return Error("a high surrogate without its low surrogate");
            }
            i_ += 2;
            VERSO_ASSIGN_OR_RETURN(uint32_t lo, Hex4());
            if (lo < 0xDC00 || lo > 0xDFFF) return Error("a high surrogate without its low one");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Error("a lone low surrogate");
          }
          text::AppendUtf8(cp, out);
          break;
        }
        default:
          --i_;
          return Error(StrCat("unknown escape \\", std::string(1, e)));
      }
    }
  }
  absl::Status Value(const std::string& path, int depth) {
    if (depth > kMaxJsonDepth) return Error("nested too deeply");
    if (i_ >= s_.size()) return Error("a value is missing");
    const char c = s_[i_];
    if (c == '"') {
      const size_t begin = i_;
      std::string value;
      VERSO_RETURN_IF_ERROR(String(&value));
      if (!text::IsValidUtf8(value)) return Error("a string is not valid UTF-8");
      DocumentUnit u;
      u.id = path;
      u.source = text::EscapeText(value);
      u.line = LineColumn(s_, begin).first;
      u.begin = static_cast<int64_t>(begin);
      u.end = static_cast<int64_t>(i_);
      if (!value.empty()) doc_->units.push_back(std::move(u));
      return absl::OkStatus();
    }
    if (c == '{' || c == '[') {
      const bool object = c == '{';
      ++i_;
      Skip();
      if (i_ < s_.size() && s_[i_] == (object ? '}' : ']')) {
        ++i_;
        return absl::OkStatus();
      }
      for (int index = 0;; ++index) {
        std::string child = path;
        if (object) {
          Skip();
          if (i_ >= s_.size() || s_[i_] != '"') return Error("expected a key");
          std::string key;
          VERSO_RETURN_IF_ERROR(String(&key));
          child = path.empty() ? key : StrCat(path, ".", key);
          Skip();
          if (i_ >= s_.size() || s_[i_] != ':') return Error("expected ':'");
          ++i_;
        } else {
          child = path.empty() ? StrCat(index) : StrCat(path, ".", index);
        }
        Skip();
        VERSO_RETURN_IF_ERROR(Value(child, depth + 1));
        Skip();
        if (i_ >= s_.size()) return Error(object ? "expected ',' or '}'" : "expected ',' or ']'");
        if (s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (s_[i_] == (object ? '}' : ']')) {
          ++i_;
          return absl::OkStatus();
        }
        return Error(object ? "expected ',' or '}'" : "expected ',' or ']'");
      }
    }
    // Numbers and literals are not translated: checked and skipped.
    for (std::string_view lit : {"true", "false", "null"}) {
      if (s_.substr(i_, lit.size()) == lit) {
        i_ += lit.size();
        return absl::OkStatus();
      }
    }
    const size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    while (i_ < s_.size() && ((s_[i_] >= '0' && s_[i_] <= '9') || s_[i_] == '.' || s_[i_] == 'e' ||
                              s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-'))
      ++i_;
    if (i_ == start || (i_ == start + 1 && s_[start] == '-')) {
      i_ = start;
      return Error("expected a value");
    }
    return absl::OkStatus();
  }

  std::string_view s_;
  const std::string& name_;
  Document* doc_;
  size_t i_ = 0;
};

// ---- Plain text ----

Document ReadText(std::string_view data, std::string_view lang) {
  Document doc;
  size_t p = data.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  int paragraph = 0;
  while (p < data.size()) {
    // A paragraph ends at a blank line (only white space on it).
    size_t end = p;
    while (end < data.size()) {
      size_t nl = data.find('\n', end);
      if (nl == std::string_view::npos) {
        end = data.size();
        break;
      }
      size_t next = nl + 1, k = next;
      while (k < data.size() && (data[k] == ' ' || data[k] == '\t' || data[k] == '\r')) ++k;
      if (k < data.size() && data[k] == '\n') {
        end = nl;
        break;
      }
      end = next;
    }
    std::string_view para = data.substr(p, end - p);
    ++paragraph;
    int sentence = 0;
    for (auto [b, e] : text::SplitSentences(para, lang)) {
      DocumentUnit u;
      u.id = StrCat("p", paragraph, "s", ++sentence);
      u.source = text::EscapeText(para.substr(b, e - b));
      u.begin = static_cast<int64_t>(p + b);
      u.end = static_cast<int64_t>(p + e);
      u.line = LineColumn(data, p + b).first;
      doc.units.push_back(std::move(u));
    }
    p = end;
    while (p < data.size() &&
           (data[p] == '\n' || data[p] == ' ' || data[p] == '\t' || data[p] == '\r'))
      ++p;
  }
  return doc;
}

}  // namespace

namespace {

// Whatever a reader let through, every unit that goes on to the engines is valid UTF-8 and
// well-formed markup: a document cannot carry a segment that breaks an engine.
absl::Status CheckUnits(const Document& doc, std::string_view name) {
  for (const DocumentUnit& u : doc.units) {
    auto where = [&] {
      return u.line > 0 ? StrCat(name, ": line ", u.line) : StrCat(name, ": unit ", u.id);
    };
    if (!text::IsValidUtf8(u.source) || !text::IsValidUtf8(u.target)) {
      return absl::InvalidArgumentError(StrCat(where(), ": not valid UTF-8"));
    }
    if (auto runs = text::ParseMarkup(u.source); !runs.ok()) {
      return absl::InvalidArgumentError(StrCat(where(), ": ", runs.status().message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Document> ReadDocument(std::string_view data, std::string_view format,
                                      const std::string& name, std::string_view source_lang) {
  VERSO_RETURN_IF_ERROR(RefuseCompressed(data.substr(0, kSignatureBytes), name));
  Document doc;
  if (format == "xliff") {
    // Any encoding the document declares (or a UTF-16 byte order mark) is read as UTF-8.
    std::string encoding;
    VERSO_ASSIGN_OR_RETURN(std::string utf8, XmlToUtf8(data, name, &encoding));
    VERSO_ASSIGN_OR_RETURN(doc, ReadXliff(utf8, name));
    VERSO_RETURN_IF_ERROR(CheckUnits(doc, name));
    doc.original = std::move(utf8);
    doc.encoding = std::move(encoding);
    return doc;
  }
  std::string converted;  // a PO file in another charset, as UTF-8
  if (format == "po") {
    std::string encoding;
    VERSO_ASSIGN_OR_RETURN(converted, PoToUtf8(data, name, &encoding));
    VERSO_ASSIGN_OR_RETURN(doc, ReadPo(converted, name));
    doc.encoding = std::move(encoding);
  } else if (format == "json") {
    JsonScanner scanner(data, name, &doc);
    VERSO_RETURN_IF_ERROR(scanner.Run());
  } else if (format == "text") {
    std::string encoding;
    VERSO_ASSIGN_OR_RETURN(converted, TextToUtf8(data, name, &encoding));
    size_t bad = 0;
    if (!text::IsValidUtf8(converted, &bad)) {
      auto [line, column] = LineColumn(converted, bad);
      return absl::InvalidArgumentError(
          StrCat(name, ": line ", line, ", column ", column,
                 ": not valid UTF-8 (verso reads text in UTF-8, or UTF-16 with a byte order "
                 "mark: iconv -t UTF-8 converts one)"));
    }
    doc = ReadText(converted, source_lang);
    doc.encoding = std::move(encoding);
  } else {
    return absl::InvalidArgumentError(
        StrCat("format: \"", format, "\" is not xliff, po, json or text"));
  }
  VERSO_RETURN_IF_ERROR(CheckUnits(doc, name));
  doc.format = std::string(format);
  doc.original = format == "po" || format == "text" ? std::move(converted) : std::string(data);
  return doc;
}

absl::StatusOr<std::string> WriteDocument(
    const Document& doc, const std::vector<std::optional<std::string>>& translations,
    std::string_view target_lang) {
  if (translations.size() != doc.units.size()) {
    return absl::InvalidArgumentError(
        StrCat("translations: ", translations.size(), " for ", doc.units.size(), " units"));
  }
  const bool xliff = doc.format == "xliff2" || doc.format == "xliff12";
  // What goes where: (offset, order key) -> unit index, or -1 for a language attribute.
  std::vector<std::pair<int64_t, int64_t>> edits;
  for (size_t i = 0; i < doc.units.size(); ++i) {
    if (translations[i].has_value())
      edits.emplace_back(doc.units[i].begin, static_cast<int64_t>(i));
  }
  std::string lang_attr;
  if (xliff && !edits.empty()) {
    if (!target_lang.empty() && !doc.target_lang.empty()) {
      auto a = text::CanonicalLanguageTag(target_lang),
           b = text::CanonicalLanguageTag(doc.target_lang);
      if (!a.ok() || !b.ok() || *a != *b) {
        return absl::InvalidArgumentError(StrCat("target language ", target_lang,
                                                 ": the document's target language is ",
                                                 doc.target_lang));
      }
    }
    if (doc.target_lang.empty()) {
      if (target_lang.empty()) {
        return absl::InvalidArgumentError(
            "the XLIFF document declares no target language; name one to write translations");
      }
      lang_attr = StrCat(" ", doc.format == "xliff2" ? "trgLang" : "target-language", "=\"",
                         XmlEscape(target_lang, true), "\"");
      for (int64_t at : doc.lang_inserts) edits.emplace_back(at, -1);
    }
  }
  std::sort(edits.begin(), edits.end());
  std::string out;
  out.reserve(doc.original.size() + doc.original.size() / 4);
  int64_t at = 0;
  for (const auto& [offset, index] : edits) {
    if (index < 0) {
      out.append(doc.original, static_cast<size_t>(at), static_cast<size_t>(offset - at));
      out += lang_attr;
      at = offset;
      continue;
    }
    const size_t i = static_cast<size_t>(index);
    const DocumentUnit& u = doc.units[i];
    const std::string& markup = *translations[i];
    if (xliff) {
      if (u.begin < at) return absl::InvalidArgumentError(StrCat("units overlap at unit ", u.id));
      auto inline_xml = XliffInline(u, markup, doc.format);
      if (!inline_xml.ok()) {
        return absl::InvalidArgumentError(
            StrCat("translations[", i, "]: ", inline_xml.status().message()));
      }
      out.append(doc.original, static_cast<size_t>(at), static_cast<size_t>(u.begin - at));
      StrAppend(&out, u.before, *inline_xml, u.after);
      at = u.end;
      continue;
    }
    VERSO_ASSIGN_OR_RETURN(std::vector<text::Run> runs, text::ParseMarkup(markup));
    std::string plain;
    for (const text::Run& r : runs) {
      if (r.kind != text::Run::Kind::kText) {
        return absl::InvalidArgumentError(StrCat("translations[", i, "]: a ", doc.format,
                                                 " file cannot hold inline codes (",
                                                 r.text.substr(0, 40), ")"));
      }
      plain += r.text;
    }
    if (u.begin < at) {
      return absl::InvalidArgumentError(StrCat("units overlap at unit ", u.id));
    }
    out.append(doc.original, static_cast<size_t>(at), static_cast<size_t>(u.begin - at));
    if (doc.format == "po") {
      out += PoQuote(plain);
    } else if (doc.format == "json") {
      out += JsonQuote(plain);
    } else {
      out += plain;
    }
    at = u.end;
  }
  out.append(doc.original, static_cast<size_t>(at), std::string::npos);
  // Back in the file's own encoding; a character it lacks becomes a character reference.
  if (xliff && !doc.encoding.empty()) return XmlFromUtf8(out, doc.encoding, "the document");
  if (doc.format == "po" && !doc.encoding.empty()) {
    return PoFromUtf8(out, doc.encoding, "the translated PO file");
  }
  if (doc.format == "text" && !doc.encoding.empty()) {
    return TextFromUtf8(out, doc.encoding, "the translated text");
  }
  return out;
}

}  // namespace verso::formats
