// Match scoring, private to the TM area.
//
// A segment's source is reduced to its *match key*: the sequence of its word tokens (NFC, case
// folded), placeholders (as written) and numbers (all numbers are one key, "#"). Punctuation,
// inline tags and white space are not part of the key. The base score of a candidate against a
// query is OmegaT's word-level similarity on match keys,
//     base = floor(100 * (L - LD) / L),  L = max(n, m),  LD = token Levenshtein distance,
// and the final score subtracts penalties for differences the key ignores (docs/tm.md):
//     case           1 per word that differs only in case or width      (at most 2)
//     white space    1 when the white space between the tokens differs  (same token count only)
//     punctuation    1 per punctuation edit                             (at most 3)
//     inline tags    1 per tag edit (by element and type)               (at most 3)
//     numbers        2 per number edit                                  (at most 10)
// A score is 100 only when nothing differs, and 101 ("context match") when it is 100 and the
// query's context equals the segment's. Penalties never raise a score, so base is an upper bound
// of the final score; the index prunes on it.
#ifndef VERSO_TM_SCORING_H_
#define VERSO_TM_SCORING_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace verso::tm {

inline constexpr std::string_view kNumberKey = "#";

// What scoring needs to know about a text beyond its match key.
struct Analysis {
  std::vector<std::string> keys;   // the match key
  std::vector<std::string> words;  // surfaces of word tokens, with word_keys parallel
  std::vector<std::string> word_keys;
  std::vector<std::string> punct;    // punctuation surfaces in order
  std::vector<std::string> tags;     // tag keys in order
  std::vector<std::string> numbers;  // number surfaces in order
  std::vector<std::string> gaps;     // white space before each token, and after the last
  std::string plain;                 // normalized plain text (for key-less texts)
};

Analysis Analyze(std::string_view markup);
// Just the match key of `markup` (what Analyze(markup).keys holds), and when `sketch` is given,
// PenaltySketch(Analyze(markup)) from the same pass.
std::vector<std::string> MatchKey(std::string_view markup, uint32_t* sketch = nullptr);
// Words (folded), numbers and placeholders as written: what concordance searches.
std::vector<std::string> ConcordanceKey(std::string_view markup);

// Hash of the exact-match key of `markup`, whose match key is `keys`: the match key, or for a
// key-less text (tags, punctuation and spaces only) its normalized plain text, so that key-less
// texts do not all share one hash. Equal keys (key-less: equal plain texts) <=> equal hashes, up
// to 64-bit collisions.
uint64_t KeyHash(const std::vector<std::string>& keys, std::string_view markup);

struct Penalties {
  int case_diff = 0;
  int whitespace = 0;
  int punctuation = 0;
  int tags = 0;
  int numbers = 0;
  int total() const { return case_diff + whitespace + punctuation + tags + numbers; }
};

Penalties ComputePenalties(const Analysis& query, const Analysis& candidate);

// 32 bits of what the punctuation, tag and number penalties compare, for rejecting a candidate
// before analyzing it: per kind, the count of items (capped at 7) and a 7-bit hash of their
// sequence. PenaltyFloor(PenaltySketch(q), PenaltySketch(c)) <= ComputePenalties(q, c).total():
// sketches that differ mean sequences that differ (by at least the counts' difference).
uint32_t PenaltySketch(const Analysis& a);
int PenaltyFloor(uint32_t query_sketch, uint32_t candidate_sketch);

// Base score from key lengths and token edit distance.
inline int BaseScore(int n, int m, int distance) {
  int l = n > m ? n : m;
  if (l == 0) return 0;
  return 100 * (l - distance) / l;
}

// Base score for two texts whose keys are both empty (only punctuation/tags): 100 when their
// normalized plain texts are equal, else 0.
int EmptyKeyBaseScore(const Analysis& a, const Analysis& b);

// Levenshtein distance between two sequences of strings (reference implementation, O(n*m)).
int SequenceDistance(const std::vector<std::string>& a, const std::vector<std::string>& b);

// Bit-parallel token edit distance (Myers/Hyyrö) of a fixed pattern against many texts.
// Not thread-safe; one per thread.
class TokenDistance {
 public:
  // `pattern` ids may repeat; ids >= kNoMatchBase never occur in texts.
  void SetPattern(const uint32_t* pattern, int n);
  // Multiset overlap of the pattern and `text` (an upper bound of L - LD).
  int Overlap(const uint32_t* text, int m);
  int Distance(const uint32_t* text, int m);
  int pattern_size() const { return n_; }

  static constexpr uint32_t kNoMatchBase = 0xF0000000u;

 private:
  // Index of `id` among the pattern's distinct ids, or -1.
  int Find(uint32_t id) const {
    uint32_t h = (id * 0x9E3779B1u) >> shift_;
    while (true) {
      const Slot& s = table_[h];
      if (s.id == id) return s.index;
      if (s.index < 0) return -1;
      h = (h + 1) & mask_;
    }
  }
  struct Slot {
    uint32_t id = 0;
    int32_t index = -1;
  };
  int n_ = 0;
  int blocks_ = 0;
  std::vector<Slot> table_;
  uint32_t mask_ = 0;
  int shift_ = 0;
  std::vector<uint64_t> peq_;      // [distinct][blocks]
  std::vector<int> multiplicity_;  // per distinct id
  std::vector<int> counts_;        // scratch for Overlap
  std::vector<int> touched_;
  std::vector<uint64_t> pv_, mv_;  // scratch for Distance
};

}  // namespace verso::tm

#endif  // VERSO_TM_SCORING_H_
