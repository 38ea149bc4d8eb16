// Apertium modes: which pairs are installed, and how a mode's pipeline is run by verso.
//
// A mode file holds a shell pipeline (lt-proc ... | apertium-tagger ... | ...). verso asks
// `apertium-wblank-mode -z` for its null-flush form, the one `apertium -z` runs, and splits it
// into steps:
//   kWarmChain   consecutive stages that keep no state from one null-flushed segment to the
//                next: long-lived processes piped into each other, one process group
//   kHmmTagger   `apertium-tagger -g` (HMM): run in-process with fresh state per segment
//   kOneShot     other stages that keep state across segments (cg-proc, apertium-anaphora,
//                the perceptron and sliding-window taggers): a fresh process per segment,
//                started ahead of need
// Which stages keep state was measured on FLORES (see docs/mt.md): translating a segment in a
// warm pipeline that has seen others must give what a fresh `apertium` gives.
#ifndef VERSO_MT_APERTIUM_MODES_H_
#define VERSO_MT_APERTIUM_MODES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace verso::mt::apertium {

struct ModeInfo {
  std::string name;    // "eng-spa", "spa-cat_valencia"
  std::string path;    // the .mode file
  std::string source;  // canonical BCP 47 ("en")
  std::string target;  // ("es", "ca-valencia", "pt-BR")
};

// The modes in `dir` whose names map to language tags. NotFound when the directory is missing.
absl::StatusOr<std::vector<ModeInfo>> DiscoverModes(const std::string& dir);

struct Step {
  enum class Kind { kWarmChain, kHmmTagger, kOneShot };
  Kind kind;
  std::vector<std::vector<std::string>> stages;  // argv of each stage (kWarmChain: one or more)
  std::string tagger_data;                       // kHmmTagger: the .prob file
};

// Splits a null-flush pipeline (the output of `apertium-wblank-mode -z MODE`) into steps, with
// unknown-word marks off ($1 = -n, as `apertium -u`) and no tagger option ($2 empty).
absl::StatusOr<std::vector<Step>> PlanPipeline(const std::string& null_flush_command);

// Runs `apertium-wblank-mode -z` on a mode file.
absl::StatusOr<std::string> NullFlushCommand(const std::string& mode_path);

}  // namespace verso::mt::apertium

#endif  // VERSO_MT_APERTIUM_MODES_H_
