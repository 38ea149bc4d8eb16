// The one check for names a tenant gives things (glossaries, engine policies, QA profiles) and
// for file names it uploads: whatever reaches a URL, a log line or a response header passes
// here first.
#ifndef VERSO_COMMON_NAMES_H_
#define VERSO_COMMON_NAMES_H_

#include <string_view>

#include "absl/status/status.h"

namespace verso {

inline constexpr size_t kMaxNameBytes = 100;
inline constexpr size_t kMaxFileNameBytes = 255;

// A resource name: 1 to kMaxNameBytes bytes of UTF-8, no control characters, white space or
// '/', '?', '#', '%', '\'. InvalidArgument naming `field` otherwise.
absl::Status CheckName(std::string_view field, std::string_view name);

// An uploaded file's name (may be empty): at most kMaxFileNameBytes bytes of UTF-8, no control
// characters (CR and LF included), no '/' or '\'.
absl::Status CheckFileName(std::string_view field, std::string_view name);

}  // namespace verso

#endif  // VERSO_COMMON_NAMES_H_
