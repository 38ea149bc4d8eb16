#include "tm/scoring.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdlib>

#include "common/hash.h"
#include "text/text.h"

namespace verso::tm {

Analysis Analyze(std::string_view markup) {
  Analysis a;
  std::vector<text::Token> tokens = text::Tokenize(markup);
  a.keys.reserve(tokens.size());
  uint32_t prev_end = 0;
  for (const text::Token& t : tokens) {
    a.gaps.emplace_back(markup.substr(prev_end, t.begin - prev_end));
    prev_end = t.end;
    switch (t.kind) {
      case text::TokenKind::kWord:
        a.keys.push_back(t.key);
        a.words.push_back(t.surface);
        a.word_keys.push_back(t.key);
        break;
      case text::TokenKind::kNumber:
        a.keys.emplace_back(kNumberKey);
        a.numbers.push_back(t.surface);
        break;
      case text::TokenKind::kPlaceholder:
        a.keys.push_back(t.key);
        break;
      case text::TokenKind::kPunct:
        a.punct.push_back(t.surface);
        break;
      case text::TokenKind::kTag:
        a.tags.push_back(t.key);
        break;
    }
  }
  a.gaps.emplace_back(markup.substr(prev_end));
  if (a.keys.empty()) a.plain = text::Normalize(text::PlainText(markup));
  return a;
}

namespace {

// The kinds a penalty sketch summarizes, each in 10 bits: a count (3 bits) and a hash (7 bits).
enum class SketchKind { kPunct = 0, kTag = 1, kNumber = 2 };
constexpr int kSketchKinds = 3;
constexpr int kSketchCountCap = 7;

class SketchBuilder {
 public:
  void Add(SketchKind kind, std::string_view item) {
    const int k = static_cast<int>(kind);
    uint64_t h = hash_[k];
    for (unsigned char c : item) h = (h ^ c) * 0x100000001B3ull;  // FNV-1a
    hash_[k] = (h ^ 0x1F) * 0x100000001B3ull;                     // then a separator
    ++count_[k];
  }
  uint32_t Finish() const {
    uint32_t sketch = 0;
    for (int k = 0; k < kSketchKinds; ++k) {
      const uint32_t count = static_cast<uint32_t>(std::min(count_[k], kSketchCountCap));
      const uint32_t hash = static_cast<uint32_t>((hash_[k] * 0x9E3779B97F4A7C15ull) >> 57);
      sketch |= (count | hash << 3) << (10 * k);
    }
    return sketch;
  }

 private:
  std::array<uint64_t, kSketchKinds> hash_{0xCBF29CE484222325ull, 0xCBF29CE484222325ull,
                                           0xCBF29CE484222325ull};
  std::array<int, kSketchKinds> count_{};
};

}  // namespace

std::vector<std::string> MatchKey(std::string_view markup, uint32_t* sketch) {
  std::vector<std::string> keys;
  SketchBuilder builder;
  for (text::Token& t : text::Tokenize(markup)) {
    switch (t.kind) {
      case text::TokenKind::kWord:
      case text::TokenKind::kPlaceholder:
        keys.push_back(std::move(t.key));
        break;
      case text::TokenKind::kNumber:
        keys.emplace_back(kNumberKey);
        builder.Add(SketchKind::kNumber, t.surface);
        break;
      case text::TokenKind::kPunct:
        builder.Add(SketchKind::kPunct, t.surface);
        break;
      case text::TokenKind::kTag:
        builder.Add(SketchKind::kTag, t.key);
        break;
    }
  }
  if (sketch != nullptr) *sketch = builder.Finish();
  return keys;
}

uint32_t PenaltySketch(const Analysis& a) {
  SketchBuilder builder;
  for (const std::string& p : a.punct) builder.Add(SketchKind::kPunct, p);
  for (const std::string& t : a.tags) builder.Add(SketchKind::kTag, t);
  for (const std::string& n : a.numbers) builder.Add(SketchKind::kNumber, n);
  return builder.Finish();
}

int PenaltyFloor(uint32_t query_sketch, uint32_t candidate_sketch) {
  // The fewest edits between two sequences whose sketches of one kind are as given: none when
  // equal; else at least the difference of the counts (a count of 7 means 7 or more), and at
  // least one.
  auto edits = [&](SketchKind kind) {
    const int shift = 10 * static_cast<int>(kind);
    const uint32_t a = (query_sketch >> shift) & 0x3FF, b = (candidate_sketch >> shift) & 0x3FF;
    if (a == b) return 0;
    return std::max(1, std::abs(static_cast<int>(a & 7) - static_cast<int>(b & 7)));
  };
  // The caps of ComputePenalties.
  return std::min(3, edits(SketchKind::kPunct)) + std::min(3, edits(SketchKind::kTag)) +
         std::min(10, 2 * edits(SketchKind::kNumber));
}

std::vector<std::string> ConcordanceKey(std::string_view markup) {
  std::vector<std::string> keys;
  for (text::Token& t : text::Tokenize(markup)) {
    if (t.kind == text::TokenKind::kWord || t.kind == text::TokenKind::kPlaceholder ||
        t.kind == text::TokenKind::kNumber) {
      keys.push_back(std::move(t.key));
    }
  }
  return keys;
}

uint64_t KeyHash(const std::vector<std::string>& keys, std::string_view markup) {
  // A key ends every token with \x1f; a plain text starts with \x1e.
  if (keys.empty()) return StableHash64("\x1e" + text::Normalize(text::PlainText(markup)));
  std::string joined;
  for (const std::string& k : keys) {
    joined += k;
    joined.push_back('\x1f');
  }
  return StableHash64(joined);
}

int SequenceDistance(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<int> prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= m; ++j) {
      int sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({sub, prev[j] + 1, cur[j - 1] + 1});
    }
    std::swap(prev, cur);
  }
  return prev[m];
}

namespace {

// Size of the multiset intersection.
// (Sorted views merged: a segment's few words cost less than a hash map's nodes.)
int MultisetOverlap(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string_view> x(a.begin(), a.end()), y(b.begin(), b.end());
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  int overlap = 0;
  for (size_t i = 0, j = 0; i < x.size() && j < y.size();) {
    if (x[i] < y[j]) {
      ++i;
    } else if (y[j] < x[i]) {
      ++j;
    } else {
      ++overlap;
      ++i;
      ++j;
    }
  }
  return overlap;
}

}  // namespace

Penalties ComputePenalties(const Analysis& q, const Analysis& c) {
  Penalties p;
  // Case: words that pair up by key but not by surface.
  int by_key = MultisetOverlap(q.word_keys, c.word_keys);
  int by_surface = MultisetOverlap(q.words, c.words);
  p.case_diff = std::min(2, std::max(0, by_key - by_surface));
  if (q.gaps.size() == c.gaps.size()) {
    for (size_t i = 0; i < q.gaps.size(); ++i) {
      if (q.gaps[i] != c.gaps[i]) {
        p.whitespace = 1;
        break;
      }
    }
  }
  if (q.punct != c.punct) p.punctuation = std::min(3, SequenceDistance(q.punct, c.punct));
  if (q.tags != c.tags) p.tags = std::min(3, SequenceDistance(q.tags, c.tags));
  if (q.numbers != c.numbers) p.numbers = std::min(10, 2 * SequenceDistance(q.numbers, c.numbers));
  return p;
}

int EmptyKeyBaseScore(const Analysis& a, const Analysis& b) { return a.plain == b.plain ? 100 : 0; }

void TokenDistance::SetPattern(const uint32_t* pattern, int n) {
  n_ = n;
  blocks_ = (n + 63) / 64;
  int cap = 16;
  while (cap < 2 * n) cap <<= 1;
  table_.assign(cap, Slot{});
  mask_ = static_cast<uint32_t>(cap - 1);
  shift_ = 32 - std::countr_zero(static_cast<uint32_t>(cap));
  peq_.clear();
  multiplicity_.clear();
  int distinct = 0;
  for (int i = 0; i < n; ++i) {
    uint32_t id = pattern[i];
    uint32_t h = (id * 0x9E3779B1u) >> shift_;
    while (table_[h].index >= 0 && table_[h].id != id) h = (h + 1) & mask_;
    if (table_[h].index < 0) {
      table_[h].id = id;
      table_[h].index = distinct++;
      peq_.resize(static_cast<size_t>(distinct) * blocks_, 0);
      multiplicity_.push_back(0);
    }
    int idx = table_[h].index;
    peq_[static_cast<size_t>(idx) * blocks_ + i / 64] |= uint64_t{1} << (i % 64);
    ++multiplicity_[idx];
  }
  counts_.assign(distinct, 0);
  pv_.resize(blocks_);
  mv_.resize(blocks_);
}

int TokenDistance::Overlap(const uint32_t* text, int m) {
  int overlap = 0;
  for (int j = 0; j < m; ++j) {
    int idx = Find(text[j]);
    if (idx < 0) continue;
    if (counts_[idx]++ == 0) touched_.push_back(idx);
    if (counts_[idx] <= multiplicity_[idx]) ++overlap;
  }
  for (int idx : touched_) counts_[idx] = 0;
  touched_.clear();
  return overlap;
}

int TokenDistance::Distance(const uint32_t* text, int m) {
  if (n_ == 0) return m;
  if (blocks_ == 1) {
    const uint64_t high = uint64_t{1} << (n_ - 1);
    uint64_t pv = n_ == 64 ? ~uint64_t{0} : ((uint64_t{1} << n_) - 1);
    uint64_t mv = 0;
    int score = n_;
    for (int j = 0; j < m; ++j) {
      int idx = Find(text[j]);
      uint64_t eq = idx < 0 ? 0 : peq_[idx];
      uint64_t xv = eq | mv;
      uint64_t xh = (((eq & pv) + pv) ^ pv) | eq;
      uint64_t ph = mv | ~(xh | pv);
      uint64_t mh = pv & xh;
      if (ph & high) {
        ++score;
      } else if (mh & high) {
        --score;
      }
      ph = (ph << 1) | 1;
      mh <<= 1;
      pv = mh | ~(xv | ph);
      mv = ph & xv;
    }
    return score;
  }
  // Multi-block: Myers' advance_block with horizontal carries between 64-row blocks.
  for (int b = 0; b < blocks_; ++b) {
    pv_[b] = ~uint64_t{0};
    mv_[b] = 0;
  }
  const int last_bits = n_ - 64 * (blocks_ - 1);
  const uint64_t last_high = uint64_t{1} << (last_bits - 1);
  int score = n_;
  for (int j = 0; j < m; ++j) {
    int idx = Find(text[j]);
    const uint64_t* eqs = idx < 0 ? nullptr : &peq_[static_cast<size_t>(idx) * blocks_];
    int hin = 1;
    for (int b = 0; b < blocks_; ++b) {
      uint64_t eq = eqs ? eqs[b] : 0;
      uint64_t pv = pv_[b], mv = mv_[b];
      uint64_t xv = eq | mv;
      if (hin < 0) eq |= 1;
      uint64_t xh = (((eq & pv) + pv) ^ pv) | eq;
      uint64_t ph = mv | ~(xh | pv);
      uint64_t mh = pv & xh;
      const uint64_t high = b == blocks_ - 1 ? last_high : (uint64_t{1} << 63);
      int hout = (ph & high) ? 1 : ((mh & high) ? -1 : 0);
      ph <<= 1;
      mh <<= 1;
      if (hin < 0) {
        mh |= 1;
      } else if (hin > 0) {
        ph |= 1;
      }
      pv_[b] = mh | ~(xv | ph);
      mv_[b] = ph & xv;
      hin = hout;
    }
    score += hin;
  }
  return score;
}

}  // namespace verso::tm
