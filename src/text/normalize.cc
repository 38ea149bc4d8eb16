#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include "text/text.h"
#include "text/text_internal.h"

namespace verso::text {
namespace {

const icu::Normalizer2& NfcInstance() {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
  return *n;  // ICU's built-in data; cannot fail once linked
}

}  // namespace

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::string Nfc(std::string_view s) {
  if (IsAscii(s)) return std::string(s);
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), s.size()));
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2& nfc = NfcInstance();
  if (nfc.isNormalized(u, status) && U_SUCCESS(status)) return std::string(s);
  status = U_ZERO_ERROR;
  icu::UnicodeString out = nfc.normalize(u, status);
  std::string r;
  out.toUTF8String(r);
  return r;
}

std::string FoldCase(std::string_view s) {
  if (IsAscii(s)) {
    std::string r(s);
    for (char& c : r) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return r;
  }
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), s.size()));
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2& nfc = NfcInstance();
  u = nfc.normalize(u, status);
  u.foldCase(U_FOLD_CASE_DEFAULT);
  status = U_ZERO_ERROR;
  // Folding can denormalize (e.g. U+0390); renormalize so keys compare as NFC.
  if (!nfc.isNormalized(u, status)) {
    status = U_ZERO_ERROR;
    u = nfc.normalize(u, status);
  }
  std::string r;
  u.toUTF8String(r);
  return r;
}

std::string CollapseWhitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  int32_t i = 0;
  const int32_t n = static_cast<int32_t>(s.size());
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  while (i < n) {
    int32_t start = i;
    UChar32 c;
    U8_NEXT(p, i, n, c);
    if (c >= 0 && u_isUWhiteSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) {
      out.push_back(' ');
      pending_space = false;
    }
    out.append(s.substr(start, i - start));
  }
  return out;
}

std::string Normalize(std::string_view s) { return CollapseWhitespace(FoldCase(s)); }

bool IsWhitespaceAt(std::string_view s, size_t pos, size_t* len) {
  int32_t i = static_cast<int32_t>(pos);
  UChar32 c;
  U8_NEXT(reinterpret_cast<const uint8_t*>(s.data()), i, static_cast<int32_t>(s.size()), c);
  *len = static_cast<size_t>(i) - pos;
  return c >= 0 && u_isUWhiteSpace(c);
}

}  // namespace verso::text
