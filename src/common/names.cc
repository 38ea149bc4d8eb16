#include "common/names.h"

#include "common/strings.h"

namespace verso {
namespace {

bool HasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return true;
  }
  // C1 controls (U+0080-U+009F) are C2 80 - C2 9F in UTF-8.
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) == 0xC2 && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::Status CheckName(std::string_view field, std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes || !IsUtf8(name) || HasControl(name) ||
      name.find_first_of("/?#%\\ \t") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat(field, ": 1 to ", kMaxNameBytes,
               " bytes of UTF-8 without spaces, control characters, '/', '?', '#', '%' or '\\'"));
  }
  return absl::OkStatus();
}

absl::Status CheckFileName(std::string_view field, std::string_view name) {
  if (name.size() > kMaxFileNameBytes || !IsUtf8(name) || HasControl(name) ||
      name.find_first_of("/\\") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat(field, ": at most ", kMaxFileNameBytes,
               " bytes of UTF-8 without control characters, '/' or '\\'"));
  }
  return absl::OkStatus();
}

}  // namespace verso
