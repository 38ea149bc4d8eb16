#include "mt/mt.h"

#include "common/strings.h"
#include "text/text.h"

namespace verso::mt {
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

absl::StatusOr<std::string> Engine::Complete(const std::string&, const std::string&, absl::Time) {
  return absl::UnimplementedError(StrCat(name(), ": not an LLM; it cannot answer prompts"));
}

}  // namespace verso::mt
