#include "tm/index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>

#include "common/strings.h"

namespace verso::tm {
namespace {

const char* kWords[] = {"the",    "file",  "open",   "cannot", "save",  "folder", "user",
                        "delete", "error", "server", "name",   "new",   "old",    "disk",
                        "print",  "copy",  "is",     "not",    "found", "Please", "Close",
                        "window", "a",     "to",     "of",     "and",   "%s",     "{name}"};

std::string RandomText(std::mt19937& rng, int words) {
  std::string out;
  for (int i = 0; i < words; ++i) {
    if (i > 0) out += (rng() % 40 == 0) ? "  " : " ";
    int r = static_cast<int>(rng() % 100);
    if (r < 4) {
      out += std::to_string(rng() % 20);
    } else if (r < 6) {
      out += "<ph x=\"1\">&lt;br/></ph>";
    } else {
      std::string w = kWords[rng() % std::size(kWords)];
      if (rng() % 15 == 0) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
      out += w;
    }
    if (rng() % 12 == 0) out += ",";
  }
  if (rng() % 3 == 0) out += ".";
  return out;
}

// Applies 1-3 word edits to `text`'s words.
std::string Perturb(std::mt19937& rng, const std::string& text) {
  std::vector<std::string> words;
  std::string cur;
  for (char c : text) {
    if (c == ' ') {
      if (!cur.empty()) words.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) words.push_back(cur);
  int edits = 1 + static_cast<int>(rng() % 3);
  for (int e = 0; e < edits; ++e) {
    int op = static_cast<int>(rng() % 3);
    size_t pos = words.empty() ? 0 : rng() % words.size();
    if (op == 0 && !words.empty()) {
      words[pos] = kWords[rng() % std::size(kWords)];
    } else if (op == 1) {
      words.insert(words.begin() + static_cast<long>(pos), kWords[rng() % std::size(kWords)]);
    } else if (!words.empty() && words.size() > 1) {
      words.erase(words.begin() + static_cast<long>(pos));
    }
  }
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) out += (i ? " " : "") + words[i];
  return out;
}

// Dates out of id order (as in a TMX from elsewhere), or in it (as verso writes them): the index
// breaks ties differently in the two cases.
storage::SegmentRecord Record(int64_t id, const std::string& source, bool dates_in_order = false) {
  storage::SegmentRecord r;
  r.id = id;
  r.source = source;
  r.target = "t" + std::to_string(id);
  // Ties on purpose.
  r.changed_at = absl::FromUnixSeconds(1'700'000'000 + (dates_in_order ? id / 5 : id % 7));
  return r;
}

// Reference scoring (string DP, no pruning) of every record against a query, best first.
struct Scored {
  int score;
  int64_t changed;
  int64_t id;
  bool operator>(const Scored& o) const {
    return std::tie(score, changed, id) > std::tie(o.score, o.changed, o.id);
  }
};

std::vector<Scored> OracleScores(const std::vector<storage::SegmentRecord>& records,
                                 const std::vector<Analysis>& analyses, const std::string& query) {
  Analysis q = Analyze(query);
  std::vector<Scored> all;
  for (size_t i = 0; i < records.size(); ++i) {
    const Analysis& c = analyses[i];
    int base;
    if (q.keys.empty() || c.keys.empty()) {
      base = q.keys.empty() && c.keys.empty() ? EmptyKeyBaseScore(q, c) : 0;
    } else {
      base = BaseScore(static_cast<int>(q.keys.size()), static_cast<int>(c.keys.size()),
                       SequenceDistance(q.keys, c.keys));
    }
    int score = std::max(0, base - ComputePenalties(q, c).total());
    all.push_back({score, absl::ToUnixMicros(records[i].changed_at), records[i].id});
  }
  std::sort(all.begin(), all.end(), std::greater<Scored>());
  return all;
}

std::vector<std::pair<int, int64_t>> TopK(const std::vector<Scored>& all, int min_score, int k) {
  std::vector<std::pair<int, int64_t>> out;
  for (const Scored& s : all) {
    if (s.score < min_score || static_cast<int>(out.size()) == k) break;
    out.emplace_back(s.score, s.id);
  }
  return out;
}

std::vector<std::pair<int, int64_t>> Flatten(const std::vector<Hit>& hits) {
  std::vector<std::pair<int, int64_t>> out;
  for (const Hit& h : hits) out.emplace_back(h.score, h.segment_id);
  return out;
}

// `queries` lookups (half a record's source, half random text; context "ctx") give the same top 5
// from both indexes.
void ExpectSameTop5(const StoreIndex& a, const StoreIndex& b,
                    const std::vector<storage::SegmentRecord>& records, std::mt19937& rng,
                    int queries) {
  for (int q = 0; q < queries; ++q) {
    std::string query = q % 2 ? records[rng() % records.size()].source : RandomText(rng, 5);
    LookupQuery lq;
    lq.source = query;
    lq.context.key = "ctx";
    lq.max_results = 5;
    ASSERT_EQ(Flatten(a.Lookup(lq, nullptr)), Flatten(b.Lookup(lq, nullptr))) << query;
  }
}

// `index` written as a snapshot and read back.
absl::StatusOr<StoreIndex> RoundTrip(const StoreIndex& index) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buffer, &size);
  const absl::Status written = index.WriteTo(out);
  std::fclose(out);
  if (!written.ok()) {
    std::free(buffer);
    return written;
  }
  std::vector<uint64_t> aligned(size / 8 + 1);  // ReadFrom wants 8-byte alignment
  std::memcpy(aligned.data(), buffer, size);
  std::free(buffer);
  return StoreIndex::ReadFrom(reinterpret_cast<const char*>(aligned.data()),
                              static_cast<uint64_t>(size));
}

class IndexEquivalenceTest : public ::testing::TestWithParam<int> {};

TEST_P(IndexEquivalenceTest, LookupEqualsScanEqualsOracle) {
  std::mt19937 rng(GetParam());
  const bool dates_in_order = GetParam() > 3;
  std::vector<storage::SegmentRecord> records;
  std::vector<std::string> bases;
  int64_t id = 1;
  for (int i = 0; i < 300; ++i) {
    // Mostly short, some past one 64-token word, a few past the 255 the postings record.
    int len = i % 150 == 0  ? 260 + static_cast<int>(rng() % 40)
              : i % 50 == 0 ? 70 + static_cast<int>(rng() % 40)
                            : 1 + static_cast<int>(rng() % 14);
    std::string base = RandomText(rng, len);
    bases.push_back(base);
    records.push_back(Record(id++, base, dates_in_order));
    for (int v = 0; v < 3; ++v) records.push_back(Record(id++, Perturb(rng, base), dates_in_order));
  }
  records.push_back(Record(id++, records[5].source, dates_in_order));  // a duplicate source
  records.push_back(Record(id++, "...", dates_in_order));
  // The last records are inserted after `in_runs` put its lists of 8 postings or more in runs
  // by key length (every word's list here), so its lists have postings after their runs too.
  const size_t later = 60;
  StoreIndex index;
  for (size_t i = 0; i + later < records.size(); ++i) index.Insert(PrepareSegment(records[i]));
  StoreIndex in_runs = index;
  in_runs.ShrinkToFit(/*runs_from=*/8);
  ASSERT_GE(in_runs.lists_in_runs(), std::size(kWords) / 2);
  for (size_t i = records.size() - later; i < records.size(); ++i) {
    index.Insert(PrepareSegment(records[i]));
    in_runs.Insert(PrepareSegment(records[i]));
  }
  ASSERT_EQ(index.slots_in_tie_order(), dates_in_order);
  // Deleted segments must never come back.
  for (int64_t gone : {2, 3, 50, 51}) {
    ASSERT_TRUE(index.Remove(gone));
    ASSERT_TRUE(in_runs.Remove(gone));
  }
  // Read back from a snapshot, the runs are the same.
  absl::StatusOr<StoreIndex> read = RoundTrip(in_runs);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->lists_in_runs(), in_runs.lists_in_runs());
  std::vector<storage::SegmentRecord> live;
  std::vector<Analysis> analyses;
  for (const auto& r : records) {
    if (!index.Contains(r.id)) continue;
    live.push_back(r);
    analyses.push_back(Analyze(r.source));
  }

  int checked = 0;
  for (int q = 0; q < 250; ++q) {
    std::string query;
    switch (q % 4) {
      case 0:
        query = bases[rng() % bases.size()];
        break;
      case 1:
        query = Perturb(rng, bases[rng() % bases.size()]);
        break;
      case 2:
        query = RandomText(rng, 1 + static_cast<int>(rng() % 12));
        break;
      default:
        query = q % 8 == 3 ? "..." : records[rng() % records.size()].source;
    }
    std::vector<Scored> oracle = OracleScores(live, analyses, query);
    for (int min_score : {50, 75, 95}) {
      for (int k : {1, 5}) {
        LookupQuery lq;
        lq.source = query;
        lq.min_score = min_score;
        lq.max_results = k;
        auto scan = Flatten(index.Scan(lq, nullptr));
        auto lookup = Flatten(index.Lookup(lq, nullptr));
        ASSERT_EQ(lookup, scan) << "query=" << query << " min=" << min_score << " k=" << k;
        ASSERT_EQ(Flatten(in_runs.Lookup(lq, nullptr)), scan)
            << "in runs: query=" << query << " min=" << min_score << " k=" << k;
        ASSERT_EQ(Flatten(read->Lookup(lq, nullptr)), scan)
            << "read back: query=" << query << " min=" << min_score << " k=" << k;
        ASSERT_EQ(scan, TopK(oracle, min_score, k))
            << "query=" << query << " min=" << min_score << " k=" << k;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 250 * 6);
  // Concordance merges a list's runs back into slot order: the same pages as without runs.
  for (const char* phrase : {"the", "file", "error", "not found", "%s"}) {
    ConcordanceOptions options;
    options.limit = 1000;
    const auto want = index.Concordance(phrase, options);
    const auto got = in_runs.Concordance(phrase, options);
    ASSERT_GT(want.total, 0) << phrase;
    EXPECT_EQ(got.total, want.total) << phrase;
    ASSERT_EQ(got.hits.size(), want.hits.size()) << phrase;
    for (size_t i = 0; i < got.hits.size(); ++i) {
      EXPECT_EQ(got.hits[i].segment_id, want.hits[i].segment_id) << phrase << " #" << i;
      EXPECT_EQ(got.hits[i].ranges, want.hits[i].ranges) << phrase << " #" << i;
    }
  }
}

// Seeds 1-3: dates out of slot order; 4-5: in it (ties broken by slot).
INSTANTIATE_TEST_SUITE_P(Seeds, IndexEquivalenceTest, ::testing::Values(1, 2, 3, 4, 5));

TEST(StoreIndexTest, ExactFuzzyAndContextMatches) {
  StoreIndex index;
  auto a = Record(1, "Open the file");
  a.context.key = "menu.open";
  auto b = Record(2, "Open the file");
  b.context.key = "dialog.open";
  index.Insert(PrepareSegment(a));
  index.Insert(PrepareSegment(b));
  index.Insert(PrepareSegment(Record(3, "Open the old file")));
  index.Insert(PrepareSegment(Record(4, "Something else entirely")));
  LookupQuery q;
  q.source = "Open the file";
  q.context.key = "dialog.open";
  LookupStats stats;
  auto hits = index.Lookup(q, &stats);
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].segment_id, 2);
  EXPECT_EQ(hits[0].score, 101);
  EXPECT_TRUE(hits[0].context_match);
  EXPECT_EQ(hits[1].segment_id, 1);
  EXPECT_EQ(hits[1].score, 100);
  EXPECT_EQ(hits[2].segment_id, 3);
  EXPECT_EQ(hits[2].score, 75);
  EXPECT_EQ(stats.exact, 2);
  // Segment 4 shares no word with the query: the index never looks at it.
  EXPECT_EQ(stats.candidates, 3);
}

TEST(StoreIndexTest, KeylessTextsAreFoundByTheirPlainText) {
  // Texts without a word or number (tags, punctuation) all have the empty match key; they are
  // told apart by their plain text, so a lookup reaches only the ones equal to the query.
  StoreIndex index;
  int64_t id = 1;
  for (int i = 0; i < 50; ++i) {
    index.Insert(
        PrepareSegment(Record(id++, "<ph x=\"1\">&lt;b></ph>" + std::string(1 + i % 25, '.'))));
    index.Insert(PrepareSegment(Record(id++, std::string(1 + i % 25, '-') + ":")));
  }
  index.Insert(PrepareSegment(Record(id++, "...")));
  index.Insert(PrepareSegment(Record(id++, "Save...")));
  LookupQuery q;
  q.source = "...";
  q.max_results = 10;
  LookupStats stats;
  auto hits = index.Lookup(q, &stats);
  // "..." itself, then "<b>..." twice (i = 2 and 27): 100 less the penalty for the tag.
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].segment_id, 101);
  EXPECT_EQ(hits[0].score, 100);
  EXPECT_EQ(hits[1].segment_id, 55);
  EXPECT_EQ(hits[2].segment_id, 5);
  EXPECT_EQ(stats.exact, 3);
  EXPECT_EQ(Flatten(hits), Flatten(index.Scan(q, nullptr)));
}

TEST(StoreIndexTest, UpdateReplacesAndRemoveHides) {
  StoreIndex index;
  index.Insert(PrepareSegment(Record(1, "Print the page")));
  LookupQuery q;
  q.source = "Print the page";
  EXPECT_EQ(index.Lookup(q, nullptr).size(), 1u);
  index.Insert(PrepareSegment(Record(1, "Copy the disk")));  // same id: replaces
  EXPECT_EQ(index.size(), 1u);
  EXPECT_TRUE(index.Lookup(q, nullptr).empty());
  q.source = "Copy the disk";
  EXPECT_EQ(index.Lookup(q, nullptr).size(), 1u);
  EXPECT_TRUE(index.Remove(1));
  EXPECT_FALSE(index.Remove(1));
  EXPECT_TRUE(index.Lookup(q, nullptr).empty());
}

TEST(StoreIndexTest, CompactionDropsDeadSlotsAndKeepsResults) {
  std::mt19937 rng(5);
  StoreIndex index;
  std::vector<storage::SegmentRecord> records;
  for (int64_t id = 1; id <= 400; ++id) {
    records.push_back(Record(id, RandomText(rng, 1 + static_cast<int>(rng() % 10))));
    records.back().context.key = id % 3 == 0 ? "ctx" : "";
    index.Insert(PrepareSegment(records.back()));
  }
  for (int64_t id = 1; id <= 400; id += 2) index.Remove(id);  // 200 dead
  for (int64_t id = 2; id <= 100; id += 2) {                  // 50 replaced
    records[id - 1].source = Perturb(rng, records[id - 1].source);
    index.Insert(PrepareSegment(records[id - 1]));
  }
  EXPECT_EQ(index.dead_slots(), 250u);
  StoreIndex compact = index.Compacted();
  EXPECT_EQ(compact.dead_slots(), 0u);
  EXPECT_EQ(compact.size(), index.size());
  ExpectSameTop5(compact, index, records, rng, 100);
}

// A bulk build grows every table by doubling; ShrinkToFit gives the slack back and changes no
// answer, and the index takes inserts and removals after it as before.
TEST(StoreIndexTest, ShrinkingToFitFreesMemoryAndChangesNoAnswer) {
  std::mt19937 rng(9);
  StoreIndex index, shrunk;
  std::vector<storage::SegmentRecord> records;
  for (int64_t id = 1; id <= 3000; ++id) {
    records.push_back(Record(id, RandomText(rng, 1 + static_cast<int>(rng() % 10))));
    records.back().target = RandomText(rng, 4);
    records.back().context.key = id % 3 == 0 ? "ctx" : "";
    index.Insert(PrepareSegment(records.back()));
    shrunk.Insert(PrepareSegment(records.back()));
  }
  const size_t before = shrunk.MemoryUsage().bytes;
  shrunk.ShrinkToFit();
  EXPECT_LT(shrunk.MemoryUsage().bytes, before * 9 / 10);
  EXPECT_EQ(shrunk.MemoryUsage().postings, index.MemoryUsage().postings);
  for (int64_t id = 2; id <= 200; id += 2) {  // replaced after the shrink, in both
    records[id - 1].source = Perturb(rng, records[id - 1].source);
    index.Insert(PrepareSegment(records[id - 1]));
    shrunk.Insert(PrepareSegment(records[id - 1]));
  }
  EXPECT_TRUE(shrunk.Remove(7));
  EXPECT_TRUE(index.Remove(7));
  ExpectSameTop5(shrunk, index, records, rng, 200);
  ConcordanceOptions o;
  o.source = true;
  o.target = true;
  o.limit = 50;
  const std::string phrase = records[10].target.substr(0, records[10].target.find(' '));
  StoreIndex::ConcordancePage a = shrunk.Concordance(phrase, o), b = index.Concordance(phrase, o);
  EXPECT_GT(a.hits.size(), 0u);
  ASSERT_EQ(a.hits.size(), b.hits.size());
  for (size_t i = 0; i < a.hits.size(); ++i) {
    EXPECT_EQ(a.hits[i].segment_id, b.hits[i].segment_id);
    EXPECT_EQ(a.hits[i].ranges, b.hits[i].ranges);
  }
}

// Segment ids: those inserted in ascending order are found in the slots themselves, those out
// of order (a replaced segment keeps its id, an id lower than the last) in a map; both answer
// alike, after removals, and after a round trip through a snapshot's bytes.
TEST(StoreIndexTest, SegmentIdsInAndOutOfOrderAreFoundAliveOrNot) {
  std::mt19937 rng(11);
  StoreIndex index;
  std::map<int64_t, storage::SegmentRecord> live;
  auto insert = [&](int64_t id) {
    live[id] = Record(id, RandomText(rng, 1 + static_cast<int>(rng() % 8)));
    index.Insert(PrepareSegment(live[id]));
  };
  for (int64_t id = 10; id <= 2000; id += 2) insert(id);  // ascending
  EXPECT_EQ(index.size(), 996u);
  index.ShrinkToFit();  // the exact-match heads move to their sorted table
  insert(2002);
  live[2004] = live[2002];  // the same source again: a chain from the map into the table
  live[2004].id = 2004;
  index.Insert(PrepareSegment(live[2004]));
  for (int64_t id = 10; id <= 400; id += 10) insert(id);  // replaced: same ids, out of order
  insert(5);                                              // new, lower than the last
  insert(3001);                                           // new and higher, after the disorder
  for (int64_t id : {12, 14, 3001, 5, 20, 1998}) {        // removed from both ranges
    EXPECT_TRUE(index.Remove(id)) << id;
    live.erase(id);
  }
  EXPECT_FALSE(index.Remove(12));
  EXPECT_FALSE(index.Remove(11));
  auto check = [&](const StoreIndex& x) {
    EXPECT_EQ(x.size(), live.size());
    EXPECT_EQ(x.dead_slots(), 40u + 6u);  // 40 replaced, 6 removed
    for (int64_t id = 0; id <= 3002; ++id) {
      ASSERT_EQ(x.Contains(id), live.contains(id)) << id;
    }
    for (const auto& [id, r] : live) {
      if (id % 7 != 0) continue;
      LookupQuery q;
      q.source = r.source;
      std::vector<Hit> hits = x.Lookup(q, nullptr);
      ASSERT_FALSE(hits.empty());
      EXPECT_EQ(Flatten(hits), Flatten(x.Scan(q, nullptr))) << r.source;
    }
  };
  check(index);
  absl::StatusOr<StoreIndex> read = RoundTrip(index);
  ASSERT_TRUE(read.ok()) << read.status();
  check(*read);
}

TEST(StoreIndexTest, TiesFollowSlotsOnlyWhileDatesAndIdsAreInSlotOrder) {
  std::mt19937 rng(12);
  StoreIndex index;
  for (int64_t id = 1; id <= 200; ++id) {
    index.Insert(PrepareSegment(Record(id, RandomText(rng, 3), /*dates_in_order=*/true)));
  }
  EXPECT_TRUE(index.slots_in_tie_order());
  absl::StatusOr<StoreIndex> read = RoundTrip(index);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->slots_in_tie_order());
  // A segment dated before the last one (a TMX unit with its own date) ends it...
  storage::SegmentRecord older = Record(201, "an older unit", true);
  older.changed_at -= absl::Hours(1);
  index.Insert(PrepareSegment(older));
  EXPECT_FALSE(index.slots_in_tie_order());
  read = RoundTrip(index);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_FALSE(read->slots_in_tie_order());
  // ... until a compaction no longer holds it.
  ASSERT_TRUE(index.Remove(201));
  EXPECT_TRUE(index.Compacted().slots_in_tie_order());
}

TEST(StoreIndexTest, ConcordanceFindsPhrasesWithHighlights) {
  StoreIndex index;
  auto r1 = Record(1, "Cannot open the file: permission denied");
  r1.target = "No se puede abrir el archivo";
  auto r2 = Record(2, "Open file, then open   the FILE again");
  auto r3 = Record(3, "The file is open");
  for (auto* r : {&r1, &r2, &r3}) index.Insert(PrepareSegment(*r));
  auto search = [&](std::string_view phrase, bool source, bool target, int limit,
                    ConcordanceMatchMode mode = ConcordanceMatchMode::kWords, int64_t before_id = 0,
                    bool before_in_source = false) {
    ConcordanceOptions o;
    o.source = source;
    o.target = target;
    o.limit = limit;
    o.match = mode;
    o.before_id = before_id;
    o.before_in_source = before_in_source;
    return index.Concordance(phrase, o);
  };
  auto page = search("open the file", true, false, 10);
  auto& hits = page.hits;
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(page.total, 2);
  EXPECT_TRUE(page.total_exact);
  EXPECT_FALSE(page.more);
  EXPECT_EQ(hits[0].segment_id, 2);  // newest first
  ASSERT_EQ(hits[0].ranges.size(), 1u);
  EXPECT_EQ(
      r2.source.substr(hits[0].ranges[0].first, hits[0].ranges[0].second - hits[0].ranges[0].first),
      "open   the FILE");
  EXPECT_EQ(hits[1].segment_id, 1);
  EXPECT_EQ(r1.source.substr(hits[1].ranges[0].first, 13), "open the file");
  auto target = search("ARCHIVO", false, true, 10).hits;
  ASSERT_EQ(target.size(), 1u);
  EXPECT_FALSE(target[0].in_source);
  EXPECT_EQ(target[0].ranges[0], (std::pair<uint32_t, uint32_t>{21, 28}));
  EXPECT_TRUE(search("no such words", true, true, 10).hits.empty());
  auto limited = search("file", true, false, 1);
  EXPECT_EQ(limited.hits.size(), 1u);
  EXPECT_EQ(limited.total, 3);  // one word: the unchecked candidates surely match
  EXPECT_TRUE(limited.total_exact);
  EXPECT_TRUE(limited.more);
  // A phrase: every candidate is checked for the total (there are few).
  limited = search("the file", true, false, 1);
  EXPECT_EQ(limited.hits.size(), 1u);
  EXPECT_EQ(limited.total, 3);
  EXPECT_TRUE(limited.total_exact);
}

TEST(StoreIndexTest, ConcordancePagesThroughEveryMatchOnce) {
  StoreIndex index;
  std::vector<storage::SegmentRecord> records;
  for (int i = 1; i <= 2500; ++i) {
    auto r = Record(i, i % 2 == 0 ? StrCat("Open file number ", i) : StrCat("Close it ", i));
    r.target = i % 3 == 0 ? "abrir archivo" : "cerrar";
    index.Insert(PrepareSegment(r));
  }
  ConcordanceOptions o;
  o.limit = 1000;  // the API's most per page
  std::vector<int64_t> seen;
  int pages = 0;
  while (true) {
    auto page = index.Concordance("file", o);
    EXPECT_EQ(page.total, 1250);
    for (const auto& h : page.hits) seen.push_back(h.segment_id);
    ++pages;
    if (!page.more) break;
    o.before_id = page.hits.back().segment_id;
    o.before_in_source = page.hits.back().in_source;
  }
  EXPECT_EQ(pages, 2);
  ASSERT_EQ(seen.size(), 1250u);
  EXPECT_EQ(seen.front(), 2500);
  EXPECT_EQ(seen.back(), 2);
  EXPECT_TRUE(std::is_sorted(seen.rbegin(), seen.rend()));
  // Both sides: a segment may match twice, its source before its target; pages split between.
  o = {};
  o.target = true;
  o.limit = 1;
  auto first = index.Concordance("archivo", o);
  ASSERT_EQ(first.hits.size(), 1u);
  EXPECT_EQ(first.hits[0].segment_id, 2499);
  EXPECT_FALSE(first.hits[0].in_source);
  o.match = ConcordanceMatchMode::kPrefix;
  o.limit = 2;
  auto both = index.Concordance("fil", o);  // "fil" starts "file"; nothing in the targets
  ASSERT_EQ(both.hits.size(), 2u);
  EXPECT_EQ(both.hits[0].segment_id, 2500);
  EXPECT_EQ(both.hits[1].segment_id, 2498);
  EXPECT_EQ(both.total, 1250);
  o.before_id = 2;
  o.before_in_source = true;
  EXPECT_TRUE(index.Concordance("fil", o).hits.empty());
}

TEST(StoreIndexTest, ConcordanceMatchesPrefixesAndSubstrings) {
  StoreIndex index;
  auto r1 = Record(1, "Save the file before closing.");
  auto r2 = Record(2, "Profile settings");
  auto r3 = Record(3, "Files were saved");
  for (auto* r : {&r1, &r2, &r3}) index.Insert(PrepareSegment(*r));
  auto ids = [&](std::string_view q, ConcordanceMatchMode mode) {
    ConcordanceOptions o;
    o.match = mode;
    std::vector<int64_t> out;
    for (const auto& h : index.Concordance(q, o).hits) out.push_back(h.segment_id);
    return out;
  };
  using M = ConcordanceMatchMode;
  EXPECT_EQ(ids("fil", M::kWords), std::vector<int64_t>{});
  EXPECT_EQ(ids("fil", M::kPrefix), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(ids("fil", M::kSubstring), (std::vector<int64_t>{3, 2, 1}));
  EXPECT_EQ(ids("FILE BEF", M::kPrefix), std::vector<int64_t>{1});
  // Across a word boundary: the first word's end, the last word's start.
  EXPECT_EQ(ids("ile bef", M::kSubstring), std::vector<int64_t>{1});
  EXPECT_EQ(ids("ile bef", M::kPrefix), std::vector<int64_t>{});
  ConcordanceOptions o;
  o.match = M::kSubstring;
  auto page = index.Concordance("ile set", o);
  ASSERT_EQ(page.hits.size(), 1u);
  EXPECT_EQ(r2.source.substr(page.hits[0].ranges[0].first,
                             page.hits[0].ranges[0].second - page.hits[0].ranges[0].first),
            "Profile settings");  // the words holding the match
}

}  // namespace
}  // namespace verso::tm
