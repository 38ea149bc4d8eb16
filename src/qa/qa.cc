// QA checks (see qa.h).
#include "qa/qa.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/strings.h"
#include "terms/terms.h"
#include "text/text.h"

namespace verso::qa {
namespace {

using Multiset = std::map<std::string, int>;

struct Diff {
  std::vector<std::string> missing;
  std::vector<std::string> extra;
};

Diff Compare(const Multiset& source, const Multiset& target) {
  Diff d;
  for (const auto& [k, n] : source) {
    auto it = target.find(k);
    for (int i = it == target.end() ? 0 : it->second; i < n; ++i) d.missing.push_back(k);
  }
  for (const auto& [k, n] : target) {
    auto it = source.find(k);
    for (int i = it == source.end() ? 0 : it->second; i < n; ++i) d.extra.push_back(k);
  }
  return d;
}

std::string List(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < 5; ++i) StrAppend(&out, i ? ", " : "", items[i]);
  if (items.size() > 5) StrAppend(&out, " and ", items.size() - 5, " more");
  return out;
}

// Digits only: "1,000", "1.000" and "1 000" are the same number, and so are "3.14" and "3,14".
std::string NumberKey(std::string_view s) {
  std::string k;
  for (char c : s) {
    if (c >= '0' && c <= '9') k.push_back(c);
  }
  return k.empty() ? std::string(s) : k;
}

// ICU arguments are compared by name and type ("{n, plural}"): their variants are translated.
std::string PlaceholderKey(std::string_view s) {
  if (s.size() > 2 && s[0] == '{' && s[1] != '{') {
    size_t comma = s.find(',');
    if (comma != std::string_view::npos) {
      size_t type_end = s.find_first_of(",}", comma + 1);
      std::string_view name = StripAsciiWhitespace(s.substr(1, comma - 1));
      std::string_view type = StripAsciiWhitespace(s.substr(comma + 1, type_end - comma - 1));
      return StrCat("{", name, ", ", type, "}");
    }
  }
  return std::string(s);
}

bool IsPrintf(std::string_view p) { return p.size() >= 2 && p[0] == '%' && p[1] != '%'; }

// printf directives keyed by position: in a string with no "%N$" directive the i-th is "%i$x",
// so "%s-%s" and "%2$s de %1$s" hold the same arguments.
void AddPlaceholders(const std::vector<text::Token>& tokens, Multiset* out,
                     std::map<std::string, std::string>* shown) {
  bool positional = false;
  for (const text::Token& t : tokens) {
    if (t.kind == text::TokenKind::kPlaceholder && IsPrintf(t.surface) &&
        t.surface.find('$') != std::string::npos) {
      positional = true;
    }
  }
  int n = 0;
  for (const text::Token& t : tokens) {
    if (t.kind != text::TokenKind::kPlaceholder) continue;
    const std::string& s = t.surface;
    std::string key =
        IsPrintf(s) && !positional && s[1] != '(' && s[1] != '{' && !(s[1] >= '0' && s[1] <= '9')
            ? StrCat("%", ++n, "$", s.substr(1))
            : PlaceholderKey(s);
    shown->emplace(key, s);
    ++(*out)[key];
  }
}

// "<bpt i="1" ...>" -> "1"
std::string AttrOf(std::string_view tag, std::string_view attr) {
  const std::string needle = StrCat(" ", attr, "=\"");
  size_t at = tag.find(needle);
  if (at == std::string_view::npos) return "";
  at += needle.size();
  size_t end = tag.find('"', at);
  return std::string(tag.substr(at, end == std::string_view::npos ? 0 : end - at));
}

std::string TagName(std::string_view tag) {
  size_t i = 1;
  if (i < tag.size() && tag[i] == '/') ++i;
  size_t start = i;
  while (i < tag.size() && tag[i] != ' ' && tag[i] != '>' && tag[i] != '/' && tag[i] != '\t') ++i;
  return AsciiLower(tag.substr(start, i - start));
}

bool IsVoidHtml(std::string_view name) {
  static const char* kVoid[] = {"br",  "hr",   "img",  "input", "meta",   "link",  "wbr",
                                "col", "area", "base", "embed", "source", "track", "param"};
  for (const char* v : kVoid) {
    if (name == v) return true;
  }
  return false;
}

// Tags whose pair is missing in `tokens`: bpt/ept by their i attribute, written HTML/XML tags by
// name (innermost first).
std::vector<std::string> Unpaired(const std::vector<const text::Token*>& tags) {
  std::vector<std::string> out;
  std::vector<std::pair<std::string, std::string>> stack;  // key, as written
  Multiset open_bpt;
  for (const text::Token* t : tags) {
    const std::string& s = t->surface;
    const std::string name = TagName(s);
    if (name == "bpt") {
      ++open_bpt[AttrOf(s, "i")];
      continue;
    }
    if (name == "ept") {
      auto it = open_bpt.find(AttrOf(s, "i"));
      if (it == open_bpt.end() || it->second == 0) {
        out.push_back(s);
      } else {
        --it->second;
      }
      continue;
    }
    if (name == "ph" || name == "it" || name == "ut" || name == "x" || name == "bx" ||
        name == "ex" || name.empty()) {
      continue;
    }
    // A written tag (<b>, </b>, <br/>).
    if (s.ends_with("/>") || IsVoidHtml(name)) continue;
    if (s.size() > 1 && s[1] == '/') {
      if (!stack.empty() && stack.back().first == name) {
        stack.pop_back();
      } else {
        out.push_back(s);
      }
    } else {
      stack.emplace_back(name, s);
    }
  }
  for (const auto& [k, n] : open_bpt) {
    if (n > 0) out.push_back(StrCat("<bpt i=\"", k, "\">"));
  }
  for (const auto& [k, s] : stack) out.push_back(s);
  return out;
}

// URLs and e-mail addresses written in plain text.
void FindLinks(std::string_view plain, Multiset* urls, Multiset* emails) {
  size_t i = 0;
  auto is_stop = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '<' || c == '>' || c == '\'';
  };
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::string_view(".,;:!?)]}»”").find(s.back()) != std::string_view::npos)
      s.remove_suffix(1);
    return s;
  };
  while (i < plain.size()) {
    size_t start = i;
    while (i < plain.size() && !is_stop(plain[i])) ++i;
    std::string_view word = trim(plain.substr(start, i - start));
    if (word.starts_with("http://") || word.starts_with("https://") || word.starts_with("ftp://") ||
        word.starts_with("www.")) {
      ++(*urls)[std::string(word)];
    } else if (size_t at = word.find('@'); at != std::string_view::npos && at > 0) {
      size_t dot = word.find('.', at);
      if (dot != std::string_view::npos && dot + 1 < word.size()) {
        while (!word.empty() && (word.front() == '(' || word.front() == '[')) word.remove_prefix(1);
        ++(*emails)[std::string(word)];
      }
    }
    while (i < plain.size() && is_stop(plain[i])) ++i;
  }
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The last code point of `s` after trailing white space, or "".
std::string_view LastChar(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  if (s.empty()) return "";
  size_t start = s.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  return s.substr(start);
}

// Ending punctuation classes across scripts; "" for none.
std::string_view PunctClass(std::string_view c) {
  if (c == "." || c == "。" || c == "।" || c == "．" || c == "۔" || c == "።") return ".";
  if (c == "?" || c == "？" || c == "؟" || c == ";" /* Greek question mark */ || c == "՞") {
    return "?";
  }
  if (c == "!" || c == "！") return "!";
  if (c == ":" || c == "：") return ":";
  if (c == "…") return "…";
  return "";
}

std::string_view EndPunct(std::string_view plain) {
  std::string_view last = LastChar(plain);
  std::string_view cls = PunctClass(last);
  if (cls == "." && plain.ends_with("...")) return "…";
  return cls;
}

bool HasLongWord(const std::vector<text::Token>& tokens) {
  for (const text::Token& t : tokens) {
    if (t.kind == text::TokenKind::kWord && text::CodePointCount(t.surface) >= 4) return true;
  }
  return false;
}

}  // namespace

const std::vector<std::string>& CheckNames() {
  static const std::vector<std::string> kNames = {"numbers",
                                                  "placeholders",
                                                  "tags",
                                                  "leading_whitespace",
                                                  "trailing_whitespace",
                                                  "end_punctuation",
                                                  "double_space",
                                                  "urls",
                                                  "emails",
                                                  "glossary",
                                                  "forbidden_terms",
                                                  "untranslated",
                                                  "length"};
  return kNames;
}

absl::Status ValidateCheckNames(const std::vector<std::string>& names, std::string_view field) {
  for (const std::string& n : names) {
    const auto& all = CheckNames();
    if (std::find(all.begin(), all.end(), n) == all.end()) {
      return absl::InvalidArgumentError(
          StrCat(field, ": unknown check \"", n, "\" (known: ", Join(all, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

namespace {

// One segment's checks, as named steps; each fills its counts and adds its warnings when the
// check is on.
class Checker {
 public:
  Checker(const Input& in, const Options& options, Counts* counts)
      : in_(in),
        options_(options),
        c_(*counts),
        src_(text::Tokenize(in.source)),
        tgt_(text::Tokenize(in.target)),
        src_plain_(text::PlainText(in.source)),
        tgt_plain_(text::PlainText(in.target)) {
    c_ = Counts{};
  }

  std::vector<Warning> Run() {
    if (Untranslated()) return std::move(out_);  // nothing else to check in an empty one
    Numbers();
    Placeholders();
    Tags();
    WhiteSpace();
    EndPunctuation();
    if (On("double_space") && tgt_plain_.find("  ") != std::string::npos &&
        src_plain_.find("  ") == std::string::npos) {
      Add("double_space", "warning", "the translation has two spaces in a row");
    }
    Links();
    Terms();
    Length();
    return std::move(out_);
  }

 private:
  bool On(std::string_view name) const { return !options_.disabled.contains(name); }
  void Add(std::string_view check, std::string_view severity, std::string message) {
    out_.push_back({std::string(check), std::string(severity), std::move(message)});
  }

  // Empty, or the source copied into a language that is not the source's. True when the
  // translation is empty.
  bool Untranslated() {
    if (StripAsciiWhitespace(tgt_plain_).empty() && !StripAsciiWhitespace(src_plain_).empty()) {
      c_.untranslated = true;
      if (On("untranslated")) Add("untranslated", "error", "the translation is empty");
      return true;
    }
    if (text::Normalize(src_plain_) == text::Normalize(tgt_plain_) && HasLongWord(src_) &&
        text::PrimaryLanguage(in_.source_lang) != text::PrimaryLanguage(in_.target_lang)) {
      c_.untranslated = true;
      if (On("untranslated")) Add("untranslated", "warning", "the translation is the source text");
    }
    return false;
  }

  static Multiset NumberKeys(const std::vector<text::Token>& tokens) {
    Multiset out;
    for (const text::Token& t : tokens) {
      if (t.kind == text::TokenKind::kNumber) ++out[NumberKey(t.surface)];
    }
    return out;
  }

  void Numbers() {
    Diff numbers = Compare(NumberKeys(src_), NumberKeys(tgt_));
    c_.numbers_missing = static_cast<int>(numbers.missing.size());
    c_.numbers_extra = static_cast<int>(numbers.extra.size());
    if (!On("numbers")) return;
    if (!numbers.missing.empty()) {
      Add("numbers", "error", StrCat("numbers missing: ", List(numbers.missing)));
    }
    if (!numbers.extra.empty()) {
      Add("numbers", "error", StrCat("numbers not in the source: ", List(numbers.extra)));
    }
  }

  void Placeholders() {
    Multiset sp, tp;
    std::map<std::string, std::string> src_shown, tgt_shown;  // key -> as written
    AddPlaceholders(src_, &sp, &src_shown);
    AddPlaceholders(tgt_, &tp, &tgt_shown);
    Diff ph = Compare(sp, tp);
    for (std::string& m : ph.missing) m = src_shown[m];
    for (std::string& m : ph.extra) m = tgt_shown[m];
    c_.placeholders_missing = static_cast<int>(ph.missing.size());
    c_.placeholders_extra = static_cast<int>(ph.extra.size());
    if (!On("placeholders")) return;
    if (!ph.missing.empty()) {
      Add("placeholders", "error", StrCat("placeholders missing: ", List(ph.missing)));
    }
    if (!ph.extra.empty()) {
      Add("placeholders", "error", StrCat("placeholders not in the source: ", List(ph.extra)));
    }
  }

  static std::vector<const text::Token*> TagTokens(const std::vector<text::Token>& tokens) {
    std::vector<const text::Token*> out;
    for (const text::Token& t : tokens) {
      if (t.kind == text::TokenKind::kTag) out.push_back(&t);
    }
    return out;
  }

  // Tags of the target without their pair, among those the source pairs ("<TAB>" in a help
  // text is no tag).
  static std::vector<std::string> UnpairedTags(const std::vector<const text::Token*>& src_tags,
                                               const std::vector<const text::Token*>& tgt_tags) {
    std::set<std::string> src_names, src_unpaired;
    for (const text::Token* t : src_tags) src_names.insert(TagName(t->surface));
    for (const std::string& u : Unpaired(src_tags)) src_unpaired.insert(TagName(u));
    std::vector<std::string> unpaired;
    for (std::string& u : Unpaired(tgt_tags)) {
      const std::string name = TagName(u);
      const std::string pair_name = name == "ept" ? "bpt" : name;
      if (src_names.contains(pair_name) && !src_unpaired.contains(pair_name)) {
        unpaired.push_back(std::move(u));
      }
    }
    return unpaired;
  }

  void Tags() {
    const std::vector<const text::Token*> src_tags = TagTokens(src_), tgt_tags = TagTokens(tgt_);
    Multiset st, tt;
    std::vector<std::string> src_order, tgt_order;
    for (const text::Token* t : src_tags) {
      ++st[t->surface];
      src_order.push_back(t->surface);
    }
    for (const text::Token* t : tgt_tags) {
      ++tt[t->surface];
      tgt_order.push_back(t->surface);
    }
    Diff tags = Compare(st, tt);
    const std::vector<std::string> unpaired = UnpairedTags(src_tags, tgt_tags);
    c_.tags_missing = static_cast<int>(tags.missing.size());
    c_.tags_extra = static_cast<int>(tags.extra.size());
    c_.tags_unpaired = static_cast<int>(unpaired.size());
    c_.tag_order = tags.missing.empty() && tags.extra.empty() && src_order != tgt_order;
    if (!On("tags")) return;
    if (!tags.missing.empty()) {
      Add("tags", "error",
          StrCat(tags.missing.size(), " inline tag", tags.missing.size() == 1 ? "" : "s",
                 " missing: ", List(tags.missing)));
    }
    if (!tags.extra.empty()) {
      Add("tags", "error", StrCat("inline tags not in the source: ", List(tags.extra)));
    }
    if (!unpaired.empty()) Add("tags", "error", StrCat("tags without a pair: ", List(unpaired)));
    if (c_.tag_order) Add("tags", "warning", "inline tags are in a different order");
  }

  // White space at the ends (of the plain text: a segment may begin with a code).
  void WhiteSpace() {
    auto lead = [](std::string_view s) {
      size_t n = 0;
      while (n < s.size() && IsSpace(s[n])) ++n;
      return std::string(s.substr(0, n));
    };
    auto trail = [](std::string_view s) {
      size_t n = 0;
      while (n < s.size() && IsSpace(s[s.size() - 1 - n])) ++n;
      return std::string(s.substr(s.size() - n));
    };
    if (lead(src_plain_) != lead(tgt_plain_)) {
      c_.whitespace = true;
      if (On("leading_whitespace")) {
        Add("leading_whitespace", "warning",
            StrCat("the source begins with ", lead(src_plain_).size(),
                   " white-space characters, the translation with ", lead(tgt_plain_).size()));
      }
    }
    if (trail(src_plain_) != trail(tgt_plain_)) {
      c_.whitespace = true;
      if (On("trailing_whitespace")) {
        Add("trailing_whitespace", "warning",
            StrCat("the source ends with ", trail(src_plain_).size(),
                   " white-space characters, the translation with ", trail(tgt_plain_).size()));
      }
    }
  }

  // Ending punctuation; scripts that end sentences without it are not checked.
  void EndPunctuation() {
    const std::string tl = text::PrimaryLanguage(in_.target_lang);
    if (tl == "th" || tl == "lo" || tl == "my" || tl == "km") return;
    std::string_view se = EndPunct(src_plain_), te = EndPunct(tgt_plain_);
    if (se == te) return;
    c_.end_punctuation = true;
    if (!On("end_punctuation")) return;
    Add("end_punctuation", "warning",
        se.empty() ? StrCat("the translation ends with \"", LastChar(tgt_plain_),
                            "\", the source with no punctuation")
                   : StrCat("the source ends with \"", LastChar(src_plain_), "\", the translation ",
                            te.empty() ? std::string("with no punctuation")
                                       : StrCat("with \"", LastChar(tgt_plain_), "\"")));
  }

  void Links() {
    Multiset su, tu, se, te;
    FindLinks(src_plain_, &su, &se);
    FindLinks(tgt_plain_, &tu, &te);
    Diff urls = Compare(su, tu), emails = Compare(se, te);
    c_.urls_missing = static_cast<int>(urls.missing.size());
    c_.emails_missing = static_cast<int>(emails.missing.size());
    if (On("urls") && !urls.missing.empty()) {
      Add("urls", "error", StrCat("URLs missing or changed: ", List(urls.missing)));
    }
    if (On("emails") && !emails.missing.empty()) {
      Add("emails", "error", StrCat("e-mail addresses missing or changed: ", List(emails.missing)));
    }
  }

  void Terms() {
    if (in_.terms == nullptr) return;
    c_.glossary_missing = static_cast<int>(in_.terms->missing.size());
    c_.forbidden = static_cast<int>(in_.terms->forbidden.size());
    if (On("glossary")) {
      for (size_t i : in_.terms->missing) {
        const terms::TermHit& h = in_.terms->hits[i];
        std::vector<std::string> want;
        for (const terms::Term& t : h.targets) want.push_back(StrCat("\"", t.text, "\""));
        Add("glossary", "error",
            StrCat("\"", h.source, "\" should be translated as ", Join(want, " or ")));
      }
    }
    if (On("forbidden_terms")) {
      for (const std::string& f : in_.terms->forbidden) {
        Add("forbidden_terms", "error", StrCat("forbidden term \"", f, "\""));
      }
    }
  }

  void Length() {
    if (options_.max_length <= 0 || !On("length")) return;
    const int64_t n = static_cast<int64_t>(text::CodePointCount(tgt_plain_));
    if (n > options_.max_length) {
      Add("length", "error",
          StrCat("the translation has ", n, " characters; the limit is ", options_.max_length));
    }
  }

  const Input& in_;
  const Options& options_;
  Counts& c_;
  const std::vector<text::Token> src_, tgt_;
  const std::string src_plain_, tgt_plain_;
  std::vector<Warning> out_;
};

}  // namespace

std::vector<Warning> Check(const Input& in, const Options& options, Counts* counts) {
  Counts local;
  return Checker(in, options, counts != nullptr ? counts : &local).Run();
}

}  // namespace verso::qa
