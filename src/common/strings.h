// Small string helpers. Debian's Abseil has its own absl::string_view (not std::string_view), so
// verso code uses std::string_view throughout and these helpers instead of absl::StrCat.
#ifndef VERSO_COMMON_STRINGS_H_
#define VERSO_COMMON_STRINGS_H_

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/strings/string_view.h"

namespace verso {
namespace strings_internal {

inline void Append(std::string* out, std::string_view s) { out->append(s); }
inline void Append(std::string* out, const std::string& s) { out->append(s); }
inline void Append(std::string* out, const char* s) { out->append(s); }
inline void Append(std::string* out, absl::string_view s) { out->append(s.data(), s.size()); }
inline void Append(std::string* out, char c) { out->push_back(c); }
void Append(std::string* out, double v);
template <typename T>
requires(std::is_integral_v<T> && !std::is_same_v<T, char> &&
         !std::is_same_v<T, bool>) inline void Append(std::string* out, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

}  // namespace strings_internal

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (strings_internal::Append(out, args), ...);
}

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  StrAppend(&out, args...);
  return out;
}

inline std::string_view ToStd(absl::string_view s) { return {s.data(), s.size()}; }

std::string AsciiLower(std::string_view s);
std::string AsciiUpper(std::string_view s);
bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b);
std::vector<std::string_view> Split(std::string_view s, char sep);
std::string_view StripAsciiWhitespace(std::string_view s);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
bool ParseInt64(std::string_view s, int64_t* out);
// A finite decimal number as JSON writes it ("-12", "0.5", "1e3"); false for anything else
// ("nan", "inf", "0x1p3", " 1", "1e999").
bool ParseDecimal(std::string_view s, double* out);

// `s` made safe to show in a log line or an error: invalid UTF-8 bytes become U+FFFD, and a
// text longer than `max_bytes` is cut at a character boundary and ends in "…(N bytes)".
std::string Abbreviate(std::string_view s, size_t max_bytes = 256);
// Whether `s` is valid UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
bool IsUtf8(std::string_view s);

// URL percent-encoding (RFC 3986: everything but letters, digits and -_.~ is escaped).
std::string PercentEncode(std::string_view s);
// "a%20b" -> "a b" (and '+' -> ' ' when `plus_is_space`); nullopt for a bad escape.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space);

}  // namespace verso

#endif  // VERSO_COMMON_STRINGS_H_
