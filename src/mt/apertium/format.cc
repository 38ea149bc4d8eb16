#include "mt/apertium/format.h"

#include <set>

#include "common/strings.h"
#include "text/text.h"

namespace verso::mt::apertium {
namespace {

// apertium-destxt's txt format: these characters are escaped with a backslash, and runs of
// these blanks become superblanks (a lone space stays as it is).
bool IsEscaped(char c) {
  switch (c) {
    case '[':
    case ']':
    case '\\':
    case '/':
    case '@':
    case '<':
    case '>':
    case '^':
    case '$':
    case '{':
    case '}':
      return true;
    default:
      return false;
  }
}
bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '~'; }

// Destxt as a stream of text and code events, so that codes can sit between blanks.
class Deformatter {
 public:
  void Text(std::string_view s) {
    for (char c : s) {
      if (IsBlank(c)) {
        blank_ += c;
        continue;
      }
      FlushBlank();
      if (IsEscaped(c)) out_ += '\\';
      out_ += c;
    }
  }
  void Code(size_t index) {
    FlushBlank();
    out_ += StrCat("[v", index, "]");
  }
  std::string Finish() {
    // The end of the text is an end of sentence, and so is its last run of blanks (even an
    // empty one): destxt marks it with ".[]", which retxt removes again.
    out_ += ".[]";
    if (blank_ == " ") {
      out_ += ' ';
    } else if (!blank_.empty()) {
      out_ += StrCat("[", blank_, "]");
    }
    blank_.clear();
    return std::move(out_);
  }

 private:
  void FlushBlank() {
    if (blank_.empty()) return;
    if (blank_ == " ") {
      out_ += ' ';
    } else {
      // A paragraph break ends a sentence too.
      if (blank_.find("\n\n") != std::string::npos ||
          blank_.find("\r\n\r\n") != std::string::npos) {
        out_ += ".[]";
      }
      out_ += StrCat("[", blank_, "]");
    }
    blank_.clear();
  }

  std::string out_;
  std::string blank_;
};

// Walks a pipeline's output as apertium-retxt reads it: on_text(char) for each character of
// text, on_blank(content) for each superblank. A backslash escapes only the characters the
// format escapes (any other stays, backslash and all), and the ".[]" that destxt put at each end
// of sentence disappears.
template <typename TextFn, typename BlankFn>
void WalkStream(std::string_view s, TextFn on_text, BlankFn on_blank) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && IsEscaped(s[i + 1])) {
      on_text(s[++i]);
    } else if (c == '.' && s.substr(i + 1, 2) == "[]") {
      // the end-of-sentence dot
    } else if (c == '[') {
      std::string content;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != ']'; ++j) {
        if (s[j] == '\\' && j + 1 < s.size()) ++j;
        content += s[j];
      }
      on_blank(content);
      i = j;  // at ']' (or the end)
    } else if (c != '\0') {
      on_text(c);
    }
  }
}

}  // namespace

std::string Destxt(std::string_view plain) {
  Deformatter d;
  d.Text(plain);
  return d.Finish();
}

std::string Retxt(std::string_view stream) {
  std::string out;
  WalkStream(
      stream, [&](char c) { out += c; }, [&](const std::string& blank) { out += blank; });
  return out;
}

EncodedSegment EncodeSegment(std::string_view markup) {
  EncodedSegment seg;
  Deformatter d;
  auto add_text = [&](std::string_view plain) {
    // Placeholders (%s, {name}) and tags written in the text must come back as they are.
    size_t done = 0;
    for (const text::Token& t : text::TokenizePlain(plain)) {
      if (t.kind != text::TokenKind::kPlaceholder && t.kind != text::TokenKind::kTag) continue;
      d.Text(plain.substr(done, t.begin - done));
      d.Code(seg.codes.size());
      seg.codes.push_back(text::EscapeText(plain.substr(t.begin, t.end - t.begin)));
      done = t.end;
    }
    d.Text(plain.substr(done));
  };
  auto runs = text::ParseMarkup(markup);
  if (!runs.ok()) {
    add_text(markup);  // not markup after all: every character is text
  } else {
    for (const text::Run& run : *runs) {
      if (run.kind == text::Run::Kind::kText) {
        add_text(run.text);
      } else {
        d.Code(seg.codes.size());
        seg.codes.push_back(std::string(markup.substr(run.begin, run.end - run.begin)));
      }
    }
  }
  d.Text("\n");  // as `echo SEGMENT | apertium` sees it
  seg.stream = d.Finish();
  return seg;
}

std::string DecodeSegment(std::string_view stream, const std::vector<std::string>& codes) {
  // Raw newlines after the last superblank were added to flush the pipeline.
  while (!stream.empty() && stream.back() == '\n') stream.remove_suffix(1);
  std::string plain_run;
  std::string out;
  std::vector<bool> used(codes.size(), false);
  auto flush_text = [&] {
    out += text::EscapeText(plain_run);
    plain_run.clear();
  };
  WalkStream(
      stream, [&](char c) { plain_run += c; },
      [&](const std::string& blank) {
        if (blank.size() > 1 && blank[0] == 'v') {
          size_t index = 0;
          bool digits = true;
          for (size_t k = 1; k < blank.size(); ++k) {
            if (blank[k] < '0' || blank[k] > '9') {
              digits = false;
              break;
            }
            index = index * 10 + static_cast<size_t>(blank[k] - '0');
          }
          if (digits && index < codes.size() && !used[index]) {
            flush_text();
            used[index] = true;
            out += codes[index];
            return;
          }
        }
        plain_run += blank;
      });
  // The newline EncodeSegment added comes back as the last character.
  if (!plain_run.empty() && plain_run.back() == '\n') plain_run.pop_back();
  flush_text();
  for (size_t i = 0; i < codes.size(); ++i) {
    if (!used[i]) out += codes[i];
  }
  return out;
}

std::vector<std::string> UnknownWords(std::string_view analysed) {
  std::vector<std::string> words;
  std::set<std::string> seen;
  size_t i = 0;
  const size_t n = analysed.size();
  while (i < n) {
    char c = analysed[i];
    if (c == '\\') {
      i += 2;
    } else if (c == '[') {
      ++i;
      while (i < n && analysed[i] != ']') i += analysed[i] == '\\' ? 2 : 1;
      ++i;
    } else if (c == '^') {
      std::string surface;
      ++i;
      while (i < n && analysed[i] != '/' && analysed[i] != '$') {
        if (analysed[i] == '\\' && i + 1 < n) ++i;
        surface += analysed[i++];
      }
      bool unknown = i + 1 < n && analysed[i] == '/' && analysed[i + 1] == '*';
      while (i < n && analysed[i] != '$') i += analysed[i] == '\\' ? 2 : 1;
      ++i;
      if (unknown && seen.insert(surface).second) words.push_back(surface);
    } else {
      ++i;
    }
  }
  return words;
}

}  // namespace verso::mt::apertium
