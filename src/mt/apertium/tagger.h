// Apertium's part-of-speech tagger (apertium-tagger -g, HMM) run inside verso on one segment at
// a time with fresh state, so that a translation never depends on what was tagged before.
//
// The warm `apertium-tagger -z` process carries Viterbi state from one null-flushed segment to
// the next (on FLORES eng-spa, 44 of 1012 lines come out differently after the earlier ones), so
// this stage cannot stay a long-lived process. libapertium keeps process-wide mutable state in
// TaggerWord (a pattern cache and the tag names), so every Tag() call of every tagger runs under
// one global lock; tagging is the cheapest stage of a pipeline (tens of microseconds a segment).
#ifndef VERSO_MT_APERTIUM_TAGGER_H_
#define VERSO_MT_APERTIUM_TAGGER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace verso::mt::apertium {

// Thread-safe.
class HmmTagger {
 public:
  // Loads a serialised HMM tagger (a pair's .prob file).
  static absl::StatusOr<std::unique_ptr<HmmTagger>> Load(const std::string& prob_path);
  ~HmmTagger();

  // Tags one segment of analysed text (lt-proc's output format), exactly as
  // `apertium-tagger -g PROB` does when given only that segment.
  absl::StatusOr<std::string> Tag(std::string_view analysed);

 private:
  struct State;
  explicit HmmTagger(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace verso::mt::apertium

#endif  // VERSO_MT_APERTIUM_TAGGER_H_
