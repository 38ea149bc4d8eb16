// JSON string quoting without a JSON library, for hot paths (log lines, CLI output).
#ifndef VERSO_COMMON_JSON_ESCAPE_H_
#define VERSO_COMMON_JSON_ESCAPE_H_

#include <string>
#include <string_view>

namespace verso {

// Returns `s` as a JSON string literal, quotes included. `s` must be valid UTF-8; control
// characters are escaped, everything else is copied.
std::string JsonQuote(std::string_view s);

}  // namespace verso

#endif  // VERSO_COMMON_JSON_ESCAPE_H_
