// What the provider adapters share: error mapping, secret redaction, inline-code checks and
// the LLM translation prompt.
#ifndef VERSO_MT_PROVIDERS_COMMON_H_
#define VERSO_MT_PROVIDERS_COMMON_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "mt/mt.h"
#include "net/http_client.h"

namespace verso::mt::providers {

using net::HttpRequest;
using net::HttpResponse;

// `url` without trailing slashes, so that paths can be appended.
std::string TrimSlash(std::string url);

// Internal "<provider>: malformed answer (<why>)": retryable, the next try or engine may do
// better.
absl::Status Malformed(std::string_view provider, std::string_view why);

// `s` with every occurrence of `secret` replaced by "[redacted]".
std::string Redact(std::string s, std::string_view secret);

// An HTTP error answer -> Status (see mt.h for what the router does with each code):
// 429 ResourceExhausted with its Retry-After; 408, 5xx and 529 Unavailable; 401
// Unauthenticated; 403 PermissionDenied; 402 and 456 (quota) FailedPrecondition; other 4xx
// FailedPrecondition. The message names the provider and the HTTP status and carries the
// provider's own message (redacted, shortened); `detail` overrides that message.
absl::Status HttpError(std::string_view provider, const HttpResponse& response,
                       std::string_view secret, std::string_view detail = "");

// Shortened and redacted provider text for messages.
std::string Excerpt(std::string_view text, std::string_view secret);

// True when `translation` holds the same inline codes and placeholders as `source` (in any
// order; translations may move them).
bool SameCodes(std::string_view source, std::string_view translation);

// The translation prompt for LLMs.
std::string LlmSystemPrompt(const TranslateRequest& request);
std::string LlmUserPrompt(const TranslateRequest& request);
// The model's answer, parsed strictly: a JSON object {"translations": [...]} with exactly one
// string per segment, each keeping its segment's codes. Anything else is Internal ("malformed
// answer"), retryable: the next try or engine may do better.
absl::StatusOr<std::vector<std::string>> ParseLlmAnswer(std::string_view provider,
                                                        std::string_view answer,
                                                        const TranslateRequest& request);

// Translations of `texts` into Translation records.
std::vector<Translation> MakeTranslations(std::vector<std::string> texts, const std::string& engine,
                                          const std::string& model);

}  // namespace verso::mt::providers

#endif  // VERSO_MT_PROVIDERS_COMMON_H_
