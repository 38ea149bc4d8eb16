// Documents in encodings other than UTF-8 (see formats.h): read through iconv into UTF-8, and
// written back in their own encoding.
#include <errno.h>
#include <iconv.h>

#include <algorithm>

#include "common/status.h"
#include "common/strings.h"
#include "formats/formats.h"

namespace verso::formats {
namespace {

// The value range of the XML declaration's encoding pseudo-attribute, or npos.
std::pair<size_t, size_t> EncodingValue(std::string_view data) {
  if (!data.starts_with("<?xml")) return {std::string_view::npos, 0};
  const size_t end = data.find("?>");
  if (end == std::string_view::npos) return {std::string_view::npos, 0};
  size_t at = data.substr(0, end).find("encoding");
  if (at == std::string_view::npos) return {std::string_view::npos, 0};
  at = data.find_first_of("\"'", at);
  if (at == std::string_view::npos || at > end) return {std::string_view::npos, 0};
  const size_t close = data.find(data[at], at + 1);
  if (close == std::string_view::npos || close > end) return {std::string_view::npos, 0};
  return {at + 1, close - at - 1};
}

bool IsUtf8Name(std::string_view e) {
  const std::string lower = AsciiLower(e);
  return lower.empty() || lower == "utf-8" || lower == "utf8" || lower == "us-ascii" ||
         lower == "ascii";
}

// `in` from one encoding to another; in UTF-8 -> X, a character X lacks becomes "&#N;" when
// `char_refs`, else an error naming its byte offset.
absl::StatusOr<std::string> Convert(std::string_view in, const std::string& from,
                                    const std::string& to, bool char_refs,
                                    const std::string& name) {
  iconv_t cd = iconv_open(to.c_str(), from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    return absl::InvalidArgumentError(
        StrCat(name, ": the encoding \"", from == "UTF-8" ? to : from, "\" is unknown"));
  }
  std::string out;
  out.reserve(in.size() + in.size() / 2 + 16);
  char* src = const_cast<char*>(in.data());
  size_t left = in.size();
  char buffer[16384];
  absl::Status status;
  while (left > 0 && status.ok()) {
    char* dst = buffer;
    size_t room = sizeof(buffer);
    size_t rc = iconv(cd, &src, &left, &dst, &room);
    out.append(buffer, static_cast<size_t>(dst - buffer));
    if (rc != static_cast<size_t>(-1) || errno == E2BIG) continue;
    const size_t offset = in.size() - left;
    if (errno == EILSEQ && char_refs) {
      // The next UTF-8 character, as a character reference.
      const auto* p = reinterpret_cast<const unsigned char*>(src);
      size_t n = p[0] < 0x80 ? 1 : p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 : 4;
      n = std::min(n, left);
      uint32_t cp = n == 1 ? p[0] : p[0] & (0xFF >> (n + 1));
      for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (p[k] & 0x3F);
      std::string ref = StrCat("&#", cp, ";");
      // The reference itself in the target encoding (ASCII in every encoding XML allows here).
      char* r = ref.data();
      size_t rl = ref.size();
      char rb[64];
      char* rd = rb;
      size_t rroom = sizeof(rb);
      iconv(cd, &r, &rl, &rd, &rroom);
      out.append(rb, static_cast<size_t>(rd - rb));
      src += n;
      left -= n;
      continue;
    }
    status = absl::InvalidArgumentError(
        from == "UTF-8" && errno == EILSEQ
            ? StrCat(name, ": byte ", offset, ": a character ", to, " does not have")
            : StrCat(name, ": byte ", offset, ": not valid ", from,
                     errno == EINVAL ? " (the file ends inside a character)" : ""));
  }
  iconv_close(cd);
  if (!status.ok()) return status;
  return out;
}

}  // namespace

absl::StatusOr<std::string> XmlToUtf8(std::string_view data, const std::string& name,
                                      std::string* encoding) {
  encoding->clear();
  std::string from;
  if (data.starts_with("\xFF\xFE")) {
    from = "UTF-16LE";
  } else if (data.starts_with("\xFE\xFF")) {
    from = "UTF-16BE";
  } else {
    auto [at, len] = EncodingValue(data);
    if (at == std::string_view::npos || IsUtf8Name(data.substr(at, len))) return std::string(data);
    from = std::string(data.substr(at, len));
  }
  std::string_view body = data;
  if (from.starts_with("UTF-16")) body.remove_prefix(2);
  VERSO_ASSIGN_OR_RETURN(std::string utf8, Convert(body, from, "UTF-8", false, name));
  // The declaration now says what the bytes are.
  if (auto [at, len] = EncodingValue(utf8); at != std::string::npos) {
    utf8.replace(at, len, "UTF-8");
  }
  *encoding = from;
  return utf8;
}

absl::StatusOr<std::string> XmlFromUtf8(std::string_view utf8, const std::string& encoding,
                                        const std::string& name) {
  if (encoding.empty()) return std::string(utf8);
  std::string text(utf8);
  std::string declared = encoding;
  const bool utf16 = encoding == "UTF-16LE" || encoding == "UTF-16BE";
  if (auto [at, len] = EncodingValue(text); at != std::string::npos) {
    // Put the file's own name back (a UTF-16 file says "UTF-16").
    if (!utf16)
      text.replace(at, len, declared);
    else
      text.replace(at, len, "UTF-16");
  }
  VERSO_ASSIGN_OR_RETURN(std::string out, Convert(text, "UTF-8", encoding, true, name));
  if (encoding == "UTF-16LE") return StrCat("\xFF\xFE", out);
  if (encoding == "UTF-16BE") return StrCat("\xFE\xFF", out);
  return out;
}

namespace {

// The value range of the PO header's "charset=" (in its Content-Type line), or npos.
std::pair<size_t, size_t> PoCharset(std::string_view data) {
  const size_t header_end = std::min(data.size(), data.find("\n\n"));
  const size_t at = data.substr(0, header_end).find("charset=");
  if (at == std::string_view::npos) return {std::string_view::npos, 0};
  size_t end = at + 8;
  while (end < header_end && data[end] != '\\' && data[end] != '"' && data[end] != ';' &&
         data[end] != ' ' && data[end] != '\n') {
    ++end;
  }
  return {at + 8, end - at - 8};
}

}  // namespace

absl::StatusOr<std::string> TextToUtf8(std::string_view data, const std::string& name,
                                       std::string* encoding) {
  encoding->clear();
  if (data.starts_with("\xFF\xFE")) {
    *encoding = "UTF-16LE";
  } else if (data.starts_with("\xFE\xFF")) {
    *encoding = "UTF-16BE";
  } else {
    return std::string(data);
  }
  return Convert(data.substr(2), *encoding, "UTF-8", false, name);
}

absl::StatusOr<std::string> TextFromUtf8(std::string_view utf8, const std::string& encoding,
                                         const std::string& name) {
  if (encoding.empty()) return std::string(utf8);
  VERSO_ASSIGN_OR_RETURN(std::string out, Convert(utf8, "UTF-8", encoding, false, name));
  return (encoding == "UTF-16LE" ? std::string("\xFF\xFE") : std::string("\xFE\xFF")) + out;
}

std::string PoDeclaredCharset(std::string_view head) {
  auto [at, len] = PoCharset(head);
  if (at == std::string_view::npos) return "";
  const std::string charset(head.substr(at, len));
  if (IsUtf8Name(charset) || charset == "CHARSET") return "";
  return charset;
}

absl::StatusOr<std::string> PoToUtf8(std::string_view data, const std::string& name,
                                     std::string* encoding) {
  encoding->clear();
  auto [at, len] = PoCharset(data);
  if (at == std::string_view::npos) return std::string(data);
  const std::string charset(data.substr(at, len));
  if (IsUtf8Name(charset) || charset == "CHARSET") return std::string(data);  // a template
  VERSO_ASSIGN_OR_RETURN(std::string utf8, Convert(data, charset, "UTF-8", false, name));
  if (auto [a, l] = PoCharset(utf8); a != std::string::npos) utf8.replace(a, l, "UTF-8");
  *encoding = charset;
  return utf8;
}

absl::StatusOr<std::string> PoFromUtf8(std::string_view utf8, const std::string& encoding,
                                       const std::string& name) {
  if (encoding.empty()) return std::string(utf8);
  std::string text(utf8);
  if (auto [at, len] = PoCharset(text); at != std::string::npos) text.replace(at, len, encoding);
  return Convert(text, "UTF-8", encoding, false, name);
}

}  // namespace verso::formats
