// BCP 47 (RFC 5646) well-formedness and canonical case. Validation is syntactic: a tag is
// accepted when it is well formed, whether or not its subtags are registered.
#include <unicode/uloc.h>

#include <cctype>
#include <cstring>
#include <map>
#include <set>

#include "common/strings.h"
#include "text/text.h"

namespace verso::text {
namespace {

bool AllAlpha(std::string_view s) {
  for (char c : s) {
    if (!std::isalpha(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}
bool AllDigit(std::string_view s) {
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}
bool AllAlnum(std::string_view s) {
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}

// The two-letter ISO 639-1 codes ICU knows (all of them).
bool IsIso639_1(const std::string& code) {
  static const std::set<std::string>* codes = [] {
    auto* set = new std::set<std::string>();
    for (const char* const* p = uloc_getISOLanguages(); *p != nullptr; ++p) {
      if (std::strlen(*p) == 2) set->insert(*p);
    }
    return set;
  }();
  return codes->count(code) > 0;
}

// ISO 639-2/3 code -> the ISO 639-1 code of the same language, where one exists ("eng" -> "en").
// RFC 5646 requires the shortest code, and engines such as Apertium name languages with three.
std::string ShortestLanguageCode(const std::string& code) {
  static const std::map<std::string, std::string>* two_of_three = [] {
    auto* map = new std::map<std::string, std::string>();
    for (const char* const* p = uloc_getISOLanguages(); *p != nullptr; ++p) {
      if (std::strlen(*p) != 2) continue;
      const char* three = uloc_getISO3Language(*p);
      if (three != nullptr && std::strlen(three) == 3) map->emplace(three, *p);
    }
    return map;
  }();
  auto it = two_of_three->find(code);
  return it == two_of_three->end() ? code : it->second;
}

absl::Status Bad(std::string_view tag, std::string_view why) {
  return absl::InvalidArgumentError(
      StrCat("\"", tag, "\" is not a valid BCP 47 language tag: ", why));
}

}  // namespace

absl::StatusOr<std::string> CanonicalLanguageTag(std::string_view tag) {
  if (tag.empty()) return Bad(tag, "empty");
  if (tag.size() > 64) return Bad(tag.substr(0, 64), "too long");
  std::string t(tag);
  for (char& c : t) {
    if (c == '_') c = '-';
  }
  std::vector<std::string_view> parts = Split(t, '-');
  std::vector<std::string> out;
  size_t i = 0;
  // Private-use-only tags: x-whatever.
  auto lower = [](std::string_view s) { return AsciiLower(s); };
  if (EqualsIgnoreAsciiCase(parts[0], "x") || EqualsIgnoreAsciiCase(parts[0], "i")) {
    if (parts.size() < 2) return Bad(tag, "a private-use tag needs a subtag after \"x-\"");
    for (const auto& p : parts) {
      if (!AllAlnum(p) || p.size() > 8) return Bad(tag, StrCat("bad subtag \"", p, "\""));
      out.push_back(lower(p));
    }
    return Join(out, "-");
  }
  // language: ISO 639 codes only. BCP 47's syntax also allows 4-8 letter subtags, but none is
  // in use, and accepting them would let "english" pass for a language.
  if (!AllAlpha(parts[0]) || parts[0].size() < 2 || parts[0].size() > 3) {
    return Bad(tag, StrCat("\"", parts[0], "\" is not a language subtag (2-3 letters)"));
  }
  if (parts[0].size() == 2 && !IsIso639_1(AsciiLower(parts[0]))) {
    return Bad(tag, StrCat("\"", parts[0], "\" is not an ISO 639 language code"));
  }
  out.push_back(ShortestLanguageCode(lower(parts[0])));
  i = 1;
  // extlang (up to three 3-letter subtags) only after a 2-3 letter language
  int extlangs = 0;
  while (parts[0].size() <= 3 && i < parts.size() && parts[i].size() == 3 && AllAlpha(parts[i]) &&
         extlangs < 3) {
    out.push_back(lower(parts[i]));
    ++i;
    ++extlangs;
  }
  // script
  if (i < parts.size() && parts[i].size() == 4 && AllAlpha(parts[i])) {
    std::string s = lower(parts[i]);
    s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    out.push_back(s);
    ++i;
  }
  // region
  if (i < parts.size() && ((parts[i].size() == 2 && AllAlpha(parts[i])) ||
                           (parts[i].size() == 3 && AllDigit(parts[i])))) {
    out.push_back(AsciiUpper(parts[i]));
    ++i;
  }
  // variants
  while (i < parts.size() &&
         ((parts[i].size() >= 5 && parts[i].size() <= 8 && AllAlnum(parts[i])) ||
          (parts[i].size() == 4 && std::isdigit(static_cast<unsigned char>(parts[i][0])) &&
           AllAlnum(parts[i])))) {
    out.push_back(lower(parts[i]));
    ++i;
  }
  // extensions and private use
  while (i < parts.size()) {
    std::string_view single = parts[i];
    if (single.size() != 1 || !AllAlnum(single)) {
      return Bad(tag, StrCat("unexpected subtag \"", single, "\""));
    }
    bool privateuse = single == "x" || single == "X";
    out.push_back(lower(single));
    ++i;
    size_t start = i;
    while (i < parts.size() && parts[i].size() >= (privateuse ? 1u : 2u) && parts[i].size() <= 8 &&
           AllAlnum(parts[i])) {
      out.push_back(lower(parts[i]));
      ++i;
      if (privateuse) continue;
    }
    if (i == start) return Bad(tag, StrCat("extension \"", single, "\" has no subtags"));
  }
  return Join(out, "-");
}

std::string Iso639_3(std::string_view tag) {
  std::string primary = PrimaryLanguage(tag);
  if (primary.size() != 2) return primary;
  const char* three = uloc_getISO3Language(primary.c_str());
  return three != nullptr && std::strlen(three) == 3 ? std::string(three) : primary;
}

std::string LanguageName(std::string_view tag) {
  std::string locale(tag);
  for (char& c : locale) {
    if (c == '-') c = '_';
  }
  UChar buffer[128];
  UErrorCode status = U_ZERO_ERROR;
  int32_t n = uloc_getDisplayName(locale.c_str(), "en", buffer, 128, &status);
  if (U_FAILURE(status) || n <= 0) return std::string(tag);
  std::string out;
  for (int32_t i = 0; i < n && i < 128; ++i) {
    UChar c = buffer[i];  // names in English are ASCII or Latin-1
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

std::string PrimaryLanguage(std::string_view tag) {
  size_t end = tag.find_first_of("-_");
  return AsciiLower(tag.substr(0, end));
}

bool TagsMatch(std::string_view a, std::string_view b) {
  const std::string x = AsciiLower(a), y = AsciiLower(b);
  if (x.size() > y.size()) return TagsMatch(b, a);
  return x == y || (y.starts_with(x) && y[x.size()] == '-');
}

}  // namespace verso::text
