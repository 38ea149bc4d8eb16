#include <cstring>

#include "common/strings.h"
#include "text/text.h"
#include "text/text_internal.h"

namespace verso::text {
namespace {

enum class ElementClass { kAtomic, kEmpty, kPaired, kSub, kUnknown };

ElementClass Classify(std::string_view name) {
  if (name == "bpt" || name == "ept" || name == "it" || name == "ph" || name == "ut") {
    return ElementClass::kAtomic;
  }
  if (name == "x" || name == "bx" || name == "ex") return ElementClass::kEmpty;
  if (name == "hi" || name == "g" || name == "mrk") return ElementClass::kPaired;
  if (name == "sub") return ElementClass::kSub;
  return ElementClass::kUnknown;
}

absl::Status ErrorAt(size_t offset, std::string_view what) {
  return absl::InvalidArgumentError(StrCat("markup: ", what, " at byte ", offset));
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':';
}

// Appends the UTF-8 encoding of `cp`; false when `cp` is not a valid XML character.
bool AppendCodePoint(uint32_t cp, std::string* out) {
  bool valid = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
               (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
  if (!valid) return false;
  AppendUtf8(cp, out);
  return true;
}

}  // namespace

size_t DecodeXmlReference(std::string_view s, size_t pos, std::string* out) {
  size_t semi = s.find(';', pos);
  if (semi == std::string_view::npos || semi - pos > 12) return 0;
  std::string_view name = s.substr(pos + 1, semi - pos - 1);
  if (name == "amp") {
    out->push_back('&');
  } else if (name == "lt") {
    out->push_back('<');
  } else if (name == "gt") {
    out->push_back('>');
  } else if (name == "quot") {
    out->push_back('"');
  } else if (name == "apos") {
    out->push_back('\'');
  } else if (name.size() >= 2 && name[0] == '#') {
    uint32_t cp = 0;
    bool hex = name[1] == 'x';
    std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    for (char c : digits) {
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (hex && c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (hex && c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return 0;
      }
      cp = cp * (hex ? 16 : 10) + d;
      if (cp > 0x10FFFF) return 0;
    }
    if (!AppendCodePoint(cp, out)) return 0;
  } else {
    return 0;
  }
  return semi - pos + 1;
}

namespace {

struct Tag {
  std::string_view name;
  bool closing = false;
  bool self_closing = false;
  size_t length = 0;
};

// Parses a tag at s[pos] == '<'; length 0 when malformed.
Tag ParseTag(std::string_view s, size_t pos) {
  Tag tag;
  size_t i = pos + 1;
  if (i < s.size() && s[i] == '/') {
    tag.closing = true;
    ++i;
  }
  size_t name_start = i;
  while (i < s.size() && IsNameChar(s[i])) ++i;
  if (i == name_start) return tag;
  tag.name = s.substr(name_start, i - name_start);
  // attributes: name ws* = ws* quoted
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    if (i >= s.size()) return Tag{};
    if (s[i] == '>') {
      tag.length = i + 1 - pos;
      return tag;
    }
    if (s[i] == '/' && i + 1 < s.size() && s[i + 1] == '>' && !tag.closing) {
      tag.self_closing = true;
      tag.length = i + 2 - pos;
      return tag;
    }
    if (tag.closing) return Tag{};
    size_t attr_start = i;
    while (i < s.size() && IsNameChar(s[i])) ++i;
    if (i == attr_start) return Tag{};
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    if (i >= s.size() || s[i] != '=') return Tag{};
    ++i;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    if (i >= s.size() || (s[i] != '"' && s[i] != '\'')) return Tag{};
    char quote = s[i];
    size_t close = s.find(quote, i + 1);
    if (close == std::string_view::npos) return Tag{};
    if (s.substr(i + 1, close - i - 1).find('<') != std::string_view::npos) return Tag{};
    i = close + 1;
  }
  return Tag{};
}

}  // namespace

absl::StatusOr<std::vector<Run>> ParseMarkup(std::string_view markup) {
  size_t bad = 0;
  if (!IsValidUtf8(markup, &bad)) return ErrorAt(bad, "invalid UTF-8");
  std::vector<Run> runs;
  std::vector<std::string_view> open;  // paired spans not yet closed
  std::string text;
  size_t text_begin = 0;
  auto flush_text = [&](size_t end) {
    if (!text.empty()) {
      runs.push_back(Run{Run::Kind::kText, std::move(text), static_cast<uint32_t>(text_begin),
                         static_cast<uint32_t>(end)});
      text.clear();
    }
  };
  size_t i = 0;
  while (i < markup.size()) {
    char c = markup[i];
    if (c == '&') {
      if (text.empty()) text_begin = i;
      size_t len = DecodeXmlReference(markup, i, &text);
      if (len == 0)
        return ErrorAt(i, "\"&\" must start an entity (&amp; &lt; &gt; &quot; &apos; &#N;)");
      i += len;
      continue;
    }
    if (c != '<') {
      if (text.empty()) text_begin = i;
      text.push_back(c);
      ++i;
      continue;
    }
    Tag tag = ParseTag(markup, i);
    if (tag.length == 0) return ErrorAt(i, "malformed tag");
    ElementClass cls = Classify(tag.name);
    if (cls == ElementClass::kUnknown || cls == ElementClass::kSub) {
      return ErrorAt(i, StrCat("<", tag.name, "> is not an inline element here"));
    }
    flush_text(i);
    if (cls == ElementClass::kPaired) {
      if (tag.self_closing) {
        return ErrorAt(i, StrCat("<", tag.name, "/> must enclose text"));
      }
      if (tag.closing) {
        if (open.empty() || open.back() != tag.name) {
          return ErrorAt(i, StrCat("</", tag.name, "> closes nothing"));
        }
        open.pop_back();
        runs.push_back(Run{Run::Kind::kClose, std::string(markup.substr(i, tag.length)),
                           static_cast<uint32_t>(i), static_cast<uint32_t>(i + tag.length)});
      } else {
        open.push_back(tag.name);
        runs.push_back(Run{Run::Kind::kOpen, std::string(markup.substr(i, tag.length)),
                           static_cast<uint32_t>(i), static_cast<uint32_t>(i + tag.length)});
      }
      i += tag.length;
      continue;
    }
    if (tag.closing) return ErrorAt(i, StrCat("</", tag.name, "> closes nothing"));
    size_t end = i + tag.length;
    if (!tag.self_closing) {
      if (cls == ElementClass::kEmpty) {
        return ErrorAt(i, StrCat("<", tag.name, "> must be empty (<", tag.name, "/>)"));
      }
      // Atomic code: its content (native code, possibly with <sub> holding text and codes) runs
      // to the matching end tag.
      std::vector<std::string_view> stack{tag.name};
      size_t j = end;
      while (!stack.empty()) {
        size_t lt = markup.find('<', j);
        if (lt == std::string_view::npos) {
          return ErrorAt(i, StrCat("<", tag.name, "> is not closed"));
        }
        for (size_t k = j; k < lt; ++k) {
          if (markup[k] == '&') {
            std::string ignored;
            if (DecodeXmlReference(markup, k, &ignored) == 0) return ErrorAt(k, "bad entity");
          }
        }
        Tag inner = ParseTag(markup, lt);
        if (inner.length == 0) return ErrorAt(lt, "malformed tag");
        if (Classify(inner.name) == ElementClass::kUnknown) {
          return ErrorAt(lt, StrCat("<", inner.name, "> is not an inline element here"));
        }
        if (inner.closing) {
          if (stack.back() != inner.name) {
            return ErrorAt(lt, StrCat("</", inner.name, "> does not close <", stack.back(), ">"));
          }
          stack.pop_back();
        } else if (!inner.self_closing) {
          stack.push_back(inner.name);
        }
        j = lt + inner.length;
      }
      end = j;
    }
    runs.push_back(Run{Run::Kind::kCode, std::string(markup.substr(i, end - i)),
                       static_cast<uint32_t>(i), static_cast<uint32_t>(end)});
    i = end;
  }
  flush_text(markup.size());
  if (!open.empty()) return ErrorAt(markup.size(), StrCat("<", open.back(), "> is not closed"));
  return runs;
}

std::string EscapeText(std::string_view plain) {
  std::string out;
  out.reserve(plain.size());
  for (char c : plain) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string PlainText(std::string_view markup) {
  if (markup.find_first_of("<&") == std::string_view::npos) return std::string(markup);
  auto runs = ParseMarkup(markup);
  if (!runs.ok()) return std::string(markup);
  std::string out;
  for (const Run& r : *runs) {
    if (r.kind == Run::Kind::kText) out += r.text;
  }
  return out;
}

// Byte offset in `markup` for every byte of the unescaped text of the text run [begin, end),
// plus one past the end.
std::vector<uint32_t> TextRunOffsets(std::string_view markup, uint32_t begin, uint32_t end) {
  std::vector<uint32_t> map;
  size_t i = begin;
  std::string scratch;
  while (i < end) {
    if (markup[i] == '&') {
      scratch.clear();
      size_t len = DecodeXmlReference(markup, i, &scratch);
      if (len == 0) len = 1;
      for (size_t k = 0; k < scratch.size(); ++k) map.push_back(static_cast<uint32_t>(i));
      i += len;
    } else {
      map.push_back(static_cast<uint32_t>(i));
      ++i;
    }
  }
  map.push_back(end);
  return map;
}

}  // namespace verso::text
