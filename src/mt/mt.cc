#include "mt/mt.h"

#include "absl/strings/cord.h"
#include "common/strings.h"
#include "text/text.h"

namespace verso::mt {
namespace {
constexpr char kRetryAfterPayload[] = "verso/retry-after-ms";
}  // namespace

std::string_view EngineKindName(EngineKind kind) {
  switch (kind) {
    case EngineKind::kLlm:
      return "llm";
    case EngineKind::kNmt:
      return "nmt";
    case EngineKind::kBuiltin:
      return "builtin";
  }
  return "unknown";
}

bool SupportsPair(const std::vector<LanguagePair>& pairs, std::string_view source,
                  std::string_view target) {
  if (pairs.empty()) return true;
  std::string bare_source = text::PrimaryLanguage(source);
  std::string bare_target = text::PrimaryLanguage(target);
  for (const auto& p : pairs) {
    bool s = p.source == source || p.source == bare_source;
    bool t = p.target == target || p.target == bare_target;
    if (s && t) return true;
  }
  return false;
}

std::optional<absl::Duration> RetryAfter(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryAfterPayload);
  if (!payload.has_value()) return std::nullopt;
  int64_t ms = 0;
  for (char c : std::string(*payload)) {
    if (c < '0' || c > '9') return std::nullopt;
    ms = ms * 10 + (c - '0');
  }
  return absl::Milliseconds(ms);
}

absl::Status WithRetryAfter(absl::Status status, absl::Duration retry_after) {
  status.SetPayload(kRetryAfterPayload,
                    absl::Cord(std::to_string(absl::ToInt64Milliseconds(retry_after))));
  return status;
}

}  // namespace verso::mt
