#include "tm/scoring.h"

#include <gtest/gtest.h>

#include <random>

namespace verso::tm {
namespace {

int Score(const std::string& query, const std::string& candidate, Penalties* penalties = nullptr) {
  Analysis q = Analyze(query), c = Analyze(candidate);
  int base = q.keys.empty() && c.keys.empty()
                 ? EmptyKeyBaseScore(q, c)
                 : BaseScore(static_cast<int>(q.keys.size()), static_cast<int>(c.keys.size()),
                             SequenceDistance(q.keys, c.keys));
  Penalties p = ComputePenalties(q, c);
  if (penalties) *penalties = p;
  return std::max(0, base - p.total());
}

TEST(ScoringTest, OmegaTWordSimilarity) {
  EXPECT_EQ(Score("Open the file", "Open the file"), 100);
  // one word substituted out of 4: 100 * 3 / 4
  EXPECT_EQ(Score("Open the new file", "Open the old file"), 75);
  // one word inserted: L = 5, LD = 1 -> 80
  EXPECT_EQ(Score("Open the file now", "Open the big file now"), 80);
  EXPECT_EQ(Score("Cannot open file %s", "Cannot open file %d"), 75);
  EXPECT_EQ(Score("completely different words", "nothing in common here"), 0);
}

TEST(ScoringTest, PenaltiesForWhatTheKeyIgnores) {
  Penalties p;
  EXPECT_EQ(Score("Open the file", "open the File", &p), 98);
  EXPECT_EQ(p.case_diff, 2);
  EXPECT_EQ(Score("Open the file", "Open  the file", &p), 99);
  EXPECT_EQ(p.whitespace, 1);
  EXPECT_EQ(Score("Open the file", "Open the file.", &p), 99);
  EXPECT_EQ(p.punctuation, 1);
  EXPECT_EQ(Score("Save <ph x=\"1\">&lt;b/></ph>now", "Save now", &p), 99);
  EXPECT_EQ(p.tags, 1);
  EXPECT_EQ(Score("Page 5 of 10", "Page 6 of 10", &p), 98);
  EXPECT_EQ(p.numbers, 2);
  // Different inline-code content with the same element and type is not a difference.
  EXPECT_EQ(Score("<bpt i=\"1\" type=\"bold\">{\\b </bpt>Hi<ept i=\"1\">}</ept>",
                  "<bpt i=\"1\" type=\"bold\">&lt;b></bpt>Hi<ept i=\"1\">&lt;/b></ept>"),
            100);
}

TEST(ScoringTest, TextsWithoutWords) {
  EXPECT_EQ(Score("...", "..."), 100);
  EXPECT_EQ(Score("...", "!!"), 0);
  EXPECT_EQ(Score("...", "Hello"), 0);
}

int Floor(const std::string& query, const std::string& candidate) {
  uint32_t sketch = 0;
  std::vector<std::string> keys = MatchKey(candidate, &sketch);
  EXPECT_EQ(keys, Analyze(candidate).keys);
  EXPECT_EQ(sketch, PenaltySketch(Analyze(candidate))) << candidate;
  return PenaltyFloor(PenaltySketch(Analyze(query)), sketch);
}

TEST(ScoringTest, PenaltyFloorsFromSketches) {
  // Numbers differ (one edit, 2) and so does punctuation (two items against none, 2).
  EXPECT_EQ(Floor("0, scheme.", "13 scheme"), 4);
  EXPECT_EQ(Floor("0, scheme.", "0, Scheme."), 0);  // case is not in the sketch
  EXPECT_EQ(Floor("Page 5 of 10", "Page 6 of 10"), 2);
  EXPECT_EQ(Floor("a, b, c, d", "a b c d"), 3);  // 3 commas against none
  EXPECT_EQ(Floor("Save <ph x=\"1\">&lt;b/></ph>now", "Save now"), 1);
  EXPECT_EQ(Floor("1 2 3 4 5 6 7 8", "9"), 10);  // 7 or more against 1: capped at 10
  // Never above the penalties, over every pair of texts that differ in what the sketch holds.
  const std::vector<std::string> texts = {
      "Open the file", "Open the file.", "Open, the file!", "open the File", "Open  the file",
      "Open (the) file...", "Page 5 of 10", "Page 6 of 10", "Page 5 of 10.", "5 6 7 8 9 10 11 12",
      "1 2 3 4 5 6 7 8", "Save <ph x=\"1\">&lt;b/></ph>now", "Save now",
      "<bpt i=\"1\" type=\"bold\">{\\b </bpt>Hi<ept i=\"1\">}</ept>", "Hi",
      "a, b, c, d, e, f, g, h", "a; b; c; d; e; f; g; h", "Unpacking %s (%s) ...", "%s (%s)",
      "0, scheme.", "13 scheme",
      // Another tool's line ends, and bytes that are not UTF-8.
      "Open\r\nthe file.\r\n", "Caf\xC3 \xFF 5, done.", "Caf\xC3 \xFF 6 done"};
  // And above zero whenever the punctuation, tags or numbers differ (no hash collides here).
  int positive = 0, differ = 0;
  for (const std::string& q : texts) {
    for (const std::string& c : texts) {
      Analysis a = Analyze(q), b = Analyze(c);
      uint32_t indexed = 0;  // the sketch an index keeps, from MatchKey's pass
      EXPECT_EQ(MatchKey(c, &indexed), b.keys) << c;
      EXPECT_EQ(indexed, PenaltySketch(b)) << c;
      const int floor = PenaltyFloor(PenaltySketch(a), indexed);
      EXPECT_LE(floor, ComputePenalties(a, b).total()) << q << " / " << c;
      if (q == c) EXPECT_EQ(floor, 0) << q;
      positive += floor > 0;
      differ += a.punct != b.punct || a.tags != b.tags || a.numbers != b.numbers;
    }
  }
  EXPECT_EQ(positive, differ);
  EXPECT_EQ(differ, 528);
}

std::vector<uint32_t> RandomSeq(std::mt19937& rng, int len, int alphabet) {
  std::uniform_int_distribution<int> d(0, alphabet - 1);
  std::vector<uint32_t> v(len);
  for (auto& x : v) x = static_cast<uint32_t>(d(rng));
  return v;
}

int ReferenceDistance(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  std::vector<std::string> sa, sb;
  for (auto x : a) sa.push_back(std::to_string(x));
  for (auto x : b) sb.push_back(std::to_string(x));
  return SequenceDistance(sa, sb);
}

TEST(TokenDistanceTest, BitParallelEqualsDynamicProgramming) {
  std::mt19937 rng(7);
  TokenDistance td;
  // Lengths cross the 64-token block boundary; small alphabets force many equal tokens.
  for (int trial = 0; trial < 3000; ++trial) {
    int n = 1 + static_cast<int>(rng() % (trial % 10 == 0 ? 200 : 70));
    int m = static_cast<int>(rng() % (trial % 10 == 0 ? 200 : 70));
    int alphabet = 2 + static_cast<int>(rng() % 12);
    auto a = RandomSeq(rng, n, alphabet);
    auto b = RandomSeq(rng, m, alphabet);
    td.SetPattern(a.data(), n);
    ASSERT_EQ(td.Distance(b.data(), m), ReferenceDistance(a, b)) << "n=" << n << " m=" << m;
    // Overlap is the multiset intersection and bounds L - LD.
    std::vector<int> ca(alphabet), cb(alphabet);
    for (auto x : a) ++ca[x];
    for (auto x : b) ++cb[x];
    int overlap = 0;
    for (int k = 0; k < alphabet; ++k) overlap += std::min(ca[k], cb[k]);
    ASSERT_EQ(td.Overlap(b.data(), m), overlap);
    ASSERT_LE(std::max(n, m) - td.Distance(b.data(), m), overlap);
  }
}

TEST(TokenDistanceTest, UnknownTokensNeverMatch) {
  TokenDistance td;
  std::vector<uint32_t> p = {1, TokenDistance::kNoMatchBase, 2};
  td.SetPattern(p.data(), 3);
  std::vector<uint32_t> t = {1, 5, 2};
  EXPECT_EQ(td.Distance(t.data(), 3), 1);
  EXPECT_EQ(td.Overlap(t.data(), 3), 2);
}

}  // namespace
}  // namespace verso::tm
