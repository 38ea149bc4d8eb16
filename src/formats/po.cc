#include <fstream>
#include <sstream>

#include "common/status.h"
#include "common/strings.h"
#include "formats/formats.h"

namespace verso::formats {
namespace {

// Parses a C-style quoted string starting at line[pos] == '"'; appends its value.
absl::Status ParseQuoted(std::string_view line, size_t pos, std::string* out, int64_t line_no,
                         std::string_view name) {
  auto err = [&](size_t col, std::string_view what) {
    return absl::InvalidArgumentError(
        StrCat(name, ": line ", line_no, ", column ", col + 1, ": ", what));
  };
  if (pos >= line.size() || line[pos] != '"') return err(pos, "expected a quoted string");
  size_t i = pos + 1;
  while (i < line.size() && line[i] != '"') {
    char c = line[i];
    if (c != '\\') {
      out->push_back(c);
      ++i;
      continue;
    }
    if (i + 1 >= line.size()) return err(i, "unfinished escape sequence");
    char e = line[i + 1];
    i += 2;
    switch (e) {
      case 'n':
        out->push_back('\n');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 'a':
        out->push_back('\a');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'v':
        out->push_back('\v');
        break;
      case '\\':
        out->push_back('\\');
        break;
      case '"':
        out->push_back('"');
        break;
      case '\'':
        out->push_back('\'');
        break;
      case '?':
        out->push_back('?');
        break;
      case 'x': {
        int v = 0, digits = 0;
        while (i < line.size() && digits < 2 &&
               std::isxdigit(static_cast<unsigned char>(line[i]))) {
          char h = line[i++];
          v = v * 16 + (h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
          ++digits;
        }
        if (digits == 0) return err(i, "\\x needs hex digits");
        out->push_back(static_cast<char>(v));
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0', digits = 1;
          while (i < line.size() && digits < 3 && line[i] >= '0' && line[i] <= '7') {
            v = v * 8 + (line[i++] - '0');
            ++digits;
          }
          out->push_back(static_cast<char>(v));
        } else {
          return err(i - 2, StrCat("unknown escape sequence \\", std::string(1, e)));
        }
    }
  }
  if (i >= line.size()) return err(line.size(), "missing closing quote");
  std::string_view rest = StripAsciiWhitespace(line.substr(i + 1));
  if (!rest.empty()) return err(i + 1, "unexpected text after the closing quote");
  return absl::OkStatus();
}

class StreamPoReader : public PoReader {
 public:
  StreamPoReader(std::unique_ptr<std::istream> in, std::string name, int64_t total)
      : in_(std::move(in)), name_(std::move(name)), total_(total) {}

  absl::StatusOr<bool> Next(PoEntry* entry) override {
    *entry = PoEntry{};
    Entry e{entry};
    std::string raw;
    int64_t line_start = 0;  // the line's byte offset in the file
    while (ReadLine(&raw, &line_start)) {
      std::string_view line = raw;
      bool obsolete = false;
      if (line.substr(0, 2) == "#~") {
        obsolete = true;
        line = line.substr(2);
        if (!line.empty() && line[0] == ' ') line = line.substr(1);
        if (line.substr(0, 1) == "|") continue;  // obsolete previous msgid
      }
      std::string_view trimmed = StripAsciiWhitespace(line);
      if (trimmed.empty()) {
        if (e.have_msgstr) break;
        continue;
      }
      // A comment or keyword after a complete entry starts the next entry.
      bool starts_entry =
          trimmed[0] == '#' || trimmed.substr(0, 7) == "msgctxt" ||
          (trimmed.substr(0, 5) == "msgid" && trimmed.substr(0, 12) != "msgid_plural");
      if (e.have_msgstr && starts_entry) {
        pending_ = raw;
        pending_start_ = line_start;
        break;
      }
      if (entry->line == 0) entry->line = line_no_;
      if (obsolete) entry->obsolete = true;
      if (trimmed[0] == '#') {
        AddComment(trimmed, entry);
        continue;
      }
      const size_t offset = static_cast<size_t>(trimmed.data() - raw.data());
      if (trimmed[0] == '"') {
        VERSO_RETURN_IF_ERROR(Continuation(raw, offset, line_start, &e));
      } else {
        VERSO_RETURN_IF_ERROR(Keyword(raw, trimmed, offset, line_start, &e));
      }
    }
    if (!e.have_keyword) return false;
    if (!e.have_msgstr) return Error(0, "entry has no msgstr");
    return true;
  }

  int64_t BytesRead() const override { return bytes_; }
  int64_t BytesTotal() const override { return total_; }

 private:
  // Where an entry's reading stands: the field the last keyword opened and its string.
  enum class Field { kNone, kContext, kId, kPlural, kStr };
  struct Entry {
    PoEntry* entry;
    Field field = Field::kNone;
    std::string* target = nullptr;
    bool have_keyword = false;
    bool have_msgstr = false;
  };

  // The next line (the one put back first), without its line end; false at the end.
  bool ReadLine(std::string* raw, int64_t* line_start) {
    if (!pending_.empty()) {
      *raw = std::move(pending_);
      pending_.clear();
      *line_start = pending_start_;
      return true;
    }
    *line_start = bytes_;
    if (!std::getline(*in_, *raw)) return false;
    bytes_ += static_cast<int64_t>(raw->size()) + 1;
    ++line_no_;
    if (!raw->empty() && raw->back() == '\r') raw->pop_back();
    return true;
  }

  // "#." extracted, "#:" references, "#," flags, "#|" previous msgid (dropped), "# " the
  // translator's.
  static void AddComment(std::string_view trimmed, PoEntry* entry) {
    std::string_view body = trimmed.size() > 1 ? trimmed.substr(2) : std::string_view();
    char kind = trimmed.size() > 1 ? trimmed[1] : ' ';
    switch (kind) {
      case '.':
        entry->extracted_comments.emplace_back(StripAsciiWhitespace(body));
        break;
      case ':':
        entry->references.emplace_back(StripAsciiWhitespace(body));
        break;
      case ',':
        for (std::string_view f : Split(body, ',')) {
          f = StripAsciiWhitespace(f);
          if (!f.empty()) entry->flags.emplace_back(f);
        }
        break;
      case '|':
        break;  // previous msgid
      default:
        entry->translator_comments.emplace_back(StripAsciiWhitespace(trimmed.substr(1)));
    }
  }

  // A line continuing the last keyword's string.
  absl::Status Continuation(const std::string& raw, size_t offset, int64_t line_start, Entry* e) {
    if (e->target == nullptr) {
      return Error(offset, "a string continuation line must follow a keyword");
    }
    VERSO_RETURN_IF_ERROR(ParseQuoted(raw, offset, e->target, line_no_, name_));
    if (e->field == Field::kStr) {
      e->entry->msgstr_ranges.back().second = line_start + static_cast<int64_t>(raw.rfind('"')) + 1;
    }
    return absl::OkStatus();
  }

  // msgctxt, msgid, msgid_plural, msgstr or msgstr[N], in that order, and its string.
  absl::Status Keyword(const std::string& raw, std::string_view trimmed, size_t offset,
                       int64_t line_start, Entry* e) {
    PoEntry* entry = e->entry;
    size_t space = trimmed.find_first_of(" \t");
    std::string_view keyword = trimmed.substr(0, space);
    if (space == std::string_view::npos) {
      return Error(offset, StrCat("\"", keyword, "\" has no string"));
    }
    size_t quote = raw.find('"', offset + keyword.size());
    if (quote == std::string::npos) {
      return Error(offset + keyword.size(), "expected a quoted string");
    }
    if (keyword == "msgctxt") {
      if (e->field != Field::kNone) return Error(offset, "msgctxt must come before msgid");
      e->field = Field::kContext;
      e->target = &entry->context;
    } else if (keyword == "msgid") {
      if (e->field != Field::kNone && e->field != Field::kContext) {
        return Error(offset, "msgid after msgstr without a blank line");
      }
      e->field = Field::kId;
      e->target = &entry->msgid;
    } else if (keyword == "msgid_plural") {
      if (e->field != Field::kId) return Error(offset, "msgid_plural must follow msgid");
      e->field = Field::kPlural;
      e->target = &entry->msgid_plural;
    } else if (keyword == "msgstr" || keyword.substr(0, 7) == "msgstr[") {
      if (e->field == Field::kNone || e->field == Field::kContext) {
        return Error(offset, "msgstr without msgid");
      }
      if (keyword != "msgstr") {
        int64_t index = -1;
        if (keyword.back() != ']' || !ParseInt64(keyword.substr(7, keyword.size() - 8), &index) ||
            index != static_cast<int64_t>(entry->msgstr.size())) {
          return Error(offset, StrCat("bad plural form \"", keyword, "\""));
        }
      }
      e->field = Field::kStr;
      entry->msgstr.emplace_back();
      e->target = &entry->msgstr.back();
      e->have_msgstr = true;
    } else {
      return Error(offset, StrCat("unknown keyword \"", keyword, "\""));
    }
    e->have_keyword = true;
    VERSO_RETURN_IF_ERROR(ParseQuoted(raw, quote, e->target, line_no_, name_));
    if (e->field == Field::kStr) {
      entry->msgstr_ranges.emplace_back(line_start + static_cast<int64_t>(quote),
                                        line_start + static_cast<int64_t>(raw.rfind('"')) + 1);
    }
    return absl::OkStatus();
  }

  absl::Status Error(size_t column, std::string_view what) {
    return absl::InvalidArgumentError(
        StrCat(name_, ": line ", line_no_, ", column ", column + 1, ": ", what));
  }

  std::unique_ptr<std::istream> in_;
  std::string name_;
  int64_t total_;
  int64_t bytes_ = 0;
  int64_t line_no_ = 0;
  std::string pending_;
  int64_t pending_start_ = 0;
};

}  // namespace

bool PoEntry::fuzzy() const {
  for (const auto& f : flags) {
    if (f == "fuzzy") return true;
  }
  return false;
}

// How much of a PO file is read to find its header's charset.
constexpr int64_t kCharsetProbeBytes = 64 * 1024;

absl::StatusOr<std::unique_ptr<PoReader>> PoReader::OpenFile(const std::string& path,
                                                             std::string name) {
  if (name.empty()) name = path;
  auto in = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*in) return absl::NotFoundError(StrCat(name, ": cannot be opened"));
  char head[kSignatureBytes] = {};
  in->read(head, sizeof(head));
  VERSO_RETURN_IF_ERROR(RefuseCompressed(std::string_view(head, in->gcount()), name));
  in->clear();
  in->seekg(0, std::ios::end);
  int64_t total = in->tellg();
  in->seekg(0);
  // A file in another charset (its header says which) is converted to UTF-8 as a whole first.
  std::string probe(std::min<int64_t>(total, kCharsetProbeBytes), '\0');
  in->read(probe.data(), static_cast<std::streamsize>(probe.size()));
  in->clear();
  in->seekg(0);
  if (!PoDeclaredCharset(probe).empty()) {
    std::string data(static_cast<size_t>(total), '\0');
    in->read(data.data(), static_cast<std::streamsize>(total));
    std::string encoding;
    VERSO_ASSIGN_OR_RETURN(std::string utf8, PoToUtf8(data, name, &encoding));
    return OpenString(std::move(utf8), std::move(name));
  }
  return std::unique_ptr<PoReader>(new StreamPoReader(std::move(in), std::move(name), total));
}

std::unique_ptr<PoReader> PoReader::OpenString(std::string data, std::string name) {
  int64_t total = static_cast<int64_t>(data.size());
  return std::make_unique<StreamPoReader>(std::make_unique<std::istringstream>(std::move(data)),
                                          std::move(name), total);
}

}  // namespace verso::formats
