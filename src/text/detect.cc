// Language detection with CLD2 (Chromium's compact language detector, Debian's libcld2), which
// this file alone sees.
#include <cstdio>  // compact_lang_det.h uses FILE without including it

#include <cld2/public/compact_lang_det.h>

#include "text/text.h"

// lang_script.h's LanguageCode is in the library, not in the public headers.
namespace CLD2 {
const char* LanguageCode(Language lang);
}  // namespace CLD2

namespace verso::text {

DetectedLanguage DetectLanguage(std::string_view utf8) {
  DetectedLanguage out;
  if (utf8.empty() || !IsValidUtf8(utf8)) return out;
  bool reliable = false;
  int valid = 0;
  CLD2::Language lang = CLD2::DetectLanguageCheckUTF8(utf8.data(), static_cast<int>(utf8.size()),
                                                      /*is_plain_text=*/true, &reliable, &valid);
  if (lang == CLD2::UNKNOWN_LANGUAGE || lang == CLD2::TG_UNKNOWN_LANGUAGE) return out;
  auto tag = CanonicalLanguageTag(CLD2::LanguageCode(lang));
  if (!tag.ok()) return out;
  out.tag = *tag;
  out.reliable = reliable;
  return out;
}

}  // namespace verso::text
