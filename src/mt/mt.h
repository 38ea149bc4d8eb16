// Machine translation engines: one interface for the built-in Apertium engine and for the
// external providers (LLMs, NMT services). The router (resilience/) chains them.
//
// Texts are markup (see text/text.h): inline codes are TMX/XLIFF inline elements, and every
// engine returns each code of a source segment unchanged in its translation.
//
// Errors (absl::Status) an engine returns, and what the router does with them:
//   Unavailable, DeadlineExceeded, Internal  transient: retry, then fall through the chain
//   ResourceExhausted                         rate-limited: retry after resilience::RetryAfter
//   PermissionDenied, Unauthenticated,        the provider refuses (bad key, quota or spend
//   FailedPrecondition                        limit): not retried, next engine, reported
//   InvalidArgument                           the request itself is bad: returned to the caller
// Messages never contain keys or tokens.
#ifndef VERSO_MT_MT_H_
#define VERSO_MT_MT_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace verso::mt {

enum class EngineKind { kLlm, kNmt, kBuiltin };
std::string_view EngineKindName(EngineKind kind);  // "llm", "nmt", "builtin"

struct LanguagePair {
  std::string source;  // canonical BCP 47
  std::string target;
  friend bool operator==(const LanguagePair&, const LanguagePair&) = default;
};

struct GlossaryTerm {
  std::string source;
  std::string target;
};

struct TranslateRequest {
  // Whose request this is: cached translations and coalesced calls are shared within a tenant
  // only (engines ignore it).
  std::string tenant;
  std::string source_lang;  // canonical BCP 47 tags
  std::string target_lang;
  std::vector<std::string> texts;      // markup
  std::vector<GlossaryTerm> glossary;  // terms the translation must use (LLMs only)
  absl::Time deadline = absl::InfiniteFuture();
  // Router::Translate answers from its in-process cache only, or WouldBlock (a caller on an I/O
  // thread, which must not wait for an engine or Redis).
  bool cache_only = false;
};

struct Translation {
  std::string text;    // markup
  std::string engine;  // the engine's name ("apertium", "openai", ...)
  std::string model;   // what inside it translated ("eng-spa", "gpt-4o-mini", ...)
  // Source words the engine did not know (Apertium's unknown-word marks), for quality
  // estimation; the marks themselves are not in `text`.
  std::vector<std::string> unknown_words;
};

// Thread-safe: Translate may be called from many threads at once.
class Engine {
 public:
  virtual ~Engine() = default;
  // Unique within a deployment; names the engine in policies, breakers and responses.
  virtual const std::string& name() const = 0;
  virtual EngineKind kind() const = 0;
  // The pairs the engine translates; empty means any pair (LLMs).
  virtual std::vector<LanguagePair> Pairs() const = 0;
  // One translation per text, in order, or an error for the whole batch.
  virtual absl::StatusOr<std::vector<Translation>> Translate(const TranslateRequest& request) = 0;
  // LLMs only: the model's answer to a system and a user prompt (the QE judge asks this way).
  // Errors as Translate's; Unimplemented for engines that are not LLMs.
  virtual absl::StatusOr<std::string> Complete(const std::string& system, const std::string& user,
                                               absl::Time deadline);
};

// True when `pairs` (an engine's Pairs()) covers source -> target: empty means any pair; a
// regional tag is served by a pair of bare languages ("es-MX" by "es") but never by another
// region.
bool SupportsPair(const std::vector<LanguagePair>& pairs, std::string_view source,
                  std::string_view target);

// ---- The built-in engine: Apertium -------------------------------------------------------

struct ApertiumOptions {
  std::string modes_dir = "/usr/share/apertium/modes";
  // Warm pipelines per language pair (started on first use, kept while the server runs).
  // Segments stream through a pipeline one after another, each stage working on a different
  // segment, so one pipeline keeps about two cores busy; more pipelines only pay on more cores.
  // 0: one per two cores.
  int max_pipelines_per_pair = 0;
  // A pipeline out of which no segment comes for this long is stuck: it is killed and
  // restarted, and its segments retried once on a fresh one. Time a segment spends queued
  // behind others that are moving does not count.
  absl::Duration segment_timeout = absl::Seconds(20);
  // Mode names ("eng-spa") whose first pipeline starts with the engine rather than on first use.
  std::vector<std::string> warm_modes;
};

// Discovers the installed pairs from the mode files. Fails with NotFound when Apertium or its
// modes are missing.
absl::StatusOr<std::unique_ptr<Engine>> NewApertiumEngine(const ApertiumOptions& options);

// ---- External providers --------------------------------------------------------------------
//
// Each adapter speaks its provider's own HTTP API and makes one attempt per call: retries,
// breakers and fallback are the router's. Keys are sent in headers (never in URLs) and are
// redacted from every message.

struct ProviderOptions {
  std::string name;      // the engine's name (defaults: "openai", "anthropic", ...)
  std::string base_url;  // e.g. https://api.openai.com/v1, or a local OpenAI-compatible server
  std::string api_key;
  std::string model;  // LLMs
  // Declared pairs; empty: the provider's own list where it has one (DeepL, LibreTranslate,
  // APy ask it at start-up), any pair for LLMs.
  std::vector<LanguagePair> pairs;
};

// OpenAI Chat Completions (also vLLM, llama.cpp, Ollama and other compatible servers).
std::unique_ptr<Engine> NewOpenAiEngine(ProviderOptions options);
// Anthropic Messages.
std::unique_ptr<Engine> NewAnthropicEngine(ProviderOptions options);
// Google Gemini generateContent.
std::unique_ptr<Engine> NewGeminiEngine(ProviderOptions options);
// DeepL /v2/translate (NMT).
absl::StatusOr<std::unique_ptr<Engine>> NewDeepLEngine(ProviderOptions options);
// LibreTranslate /translate (NMT).
absl::StatusOr<std::unique_ptr<Engine>> NewLibreTranslateEngine(ProviderOptions options);
// Apertium APy /translate (a remote Apertium).
absl::StatusOr<std::unique_ptr<Engine>> NewApyEngine(ProviderOptions options);

}  // namespace verso::mt

#endif  // VERSO_MT_MT_H_
