// JSON from outside the process (request bodies, provider and webhook answers, uploaded files)
// and JSON that goes out, without the ways nlohmann::json can fail on hostile bytes: unbounded
// nesting (each level costs ~70 bytes of memory), numbers out of range (an exception), invalid
// UTF-8 on output (an exception that ends the process when nobody catches it).
#ifndef VERSO_COMMON_JSON_H_
#define VERSO_COMMON_JSON_H_

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace verso {

struct JsonLimits {
  int max_depth = 64;  // arrays and objects nested deeper are refused
};

// Why ParseJson refused a text.
enum class JsonError {
  kNone,
  kSyntax,  // not JSON, or not valid UTF-8
  kDepth,   // nested deeper than JsonLimits::max_depth
  kRange,   // a number that does not fit a double (1e999999)
};

// Parses `text` as one JSON value. The error (InvalidArgument) names the line and column and,
// where there is one, the path of the value ("segments[2].qe_threshold"); `*why` (optional)
// says which kind of error it was. Never throws.
absl::StatusOr<nlohmann::json> ParseJson(std::string_view text, const JsonLimits& limits = {},
                                         JsonError* why = nullptr);

// An answer from another service (a provider, a QE service): ParseJson with 128 levels, or a
// discarded value (is_discarded()) when it is not JSON.
nlohmann::json ParseAnswerJson(std::string_view text);

// Serializes `value` (indent < 0: compact). Invalid UTF-8 in strings becomes U+FFFD instead of
// an exception, so serializing can never fail.
std::string DumpJson(const nlohmann::json& value, int indent = -1);

}  // namespace verso

#endif  // VERSO_COMMON_JSON_H_
