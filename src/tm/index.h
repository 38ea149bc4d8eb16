// The in-memory index of one TM store, private to the TM area.
//
// Every live segment occupies a slot. Per slot the index keeps the source's match key as token
// ids (the forward index), the source and target text, context fingerprints and the change date.
// Postings map each source token id to the slots that contain it, in slot order; a second set of
// postings over target words serves concordance. Exact matches come from a hash of the match key.
//
// Fuzzy lookup (see Lookup in index.cc) visits the query's distinct tokens rarest first. A slot
// first reached through the i-th token lacks every earlier token, which bounds its overlap with
// the query and therefore its score; the walk stops once no unseen slot can reach the current
// threshold (the minimum score, raised to the k-th best score found so far). Each candidate that
// survives the length and overlap bounds is verified with a bit-parallel token edit distance.
// Results equal those of Scan(), which scores every slot.
//
// Thread safety: const methods may run concurrently; Insert/Remove need exclusive access.
#ifndef VERSO_TM_INDEX_H_
#define VERSO_TM_INDEX_H_

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/storage.h"
#include "tm/scoring.h"
#include "tm/tm.h"

namespace verso::tm {

// A segment tokenized and ready to insert. Building one is the expensive part of an insert and
// needs no lock.
struct PreparedSegment {
  int64_t id = 0;
  std::string source;
  std::string target;
  std::vector<std::string> source_keys;  // match key
  std::vector<std::string> target_keys;  // target words for concordance
  uint64_t key_hash = 0;
  uint32_t sketch = 0;       // PenaltySketch of the source
  uint64_t context_key = 0;  // fingerprints of the context (0: none)
  uint64_t context_around = 0;
  absl::Time changed_at;
};

PreparedSegment PrepareSegment(const storage::SegmentRecord& record);

struct Hit {
  int64_t segment_id = 0;
  int score = 0;  // 0..101
  int base = 0;   // before penalties
  Penalties penalties;
  bool context_match = false;
  int64_t changed_at_micros = 0;  // tie-break: newer first
  uint32_t slot = 0;              // where it is in the index (the index's own use)
};

struct LookupQuery {
  std::string_view source;  // markup
  storage::SegmentContext context;
  int min_score = 50;
  int max_results = 5;
};

struct LookupStats {
  int64_t postings = 0;    // posting entries visited
  int64_t candidates = 0;  // distinct slots reached
  int64_t verified = 0;    // slots whose edit distance was computed
  int64_t exact = 0;       // slots reached through the exact-match hash
};

struct ConcordanceHit {
  int64_t segment_id = 0;
  bool in_source = true;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;  // byte ranges in the matched text
};

class StoreIndex {
 public:
  void Insert(PreparedSegment segment);
  // False when `id` is not in the index.
  bool Remove(int64_t id);
  bool Contains(int64_t id) const { return SlotOf(id) != kNoSlot; }
  size_t size() const { return live_; }

  // Removed and replaced segments keep their slot (and postings) until the index is compacted.
  size_t dead_slots() const { return ids_.size() - live_; }
  // Whether later slots win ties (see slots_in_tie_order_).
  bool slots_in_tie_order() const { return slots_in_tie_order_; }
  bool NeedsCompaction() const { return dead_slots() > 10000 && dead_slots() > live_ / 4; }
  // A copy of this index with only the live segments, re-tokenized on every core.
  StoreIndex Compacted() const;
  // Gives back what growing the tables one insert at a time over-allocated (up to half of each
  // table: a million inserts leave ~30 % of the index unused). For after a bulk build; the next
  // insert into a full table grows it again. Lists of `runs_from` postings or more are put in
  // runs by key length (see runs_).
  void ShrinkToFit(size_t runs_from = kRunsFrom);
  // How many posting lists are in runs by key length.
  size_t lists_in_runs() const { return runs_.size(); }
  // Backs the tables a lookup reads at random with huge pages (common/memory.h), for a big
  // index once built or read; returns the bytes that got them.
  size_t AdviseHugePages() const;

  // Best matches, best first: score desc, then newer change date, then higher id.
  std::vector<Hit> Lookup(const LookupQuery& query, LookupStats* stats) const;
  // Same contract as Lookup, by scoring every segment (the linear-scan baseline and test oracle).
  std::vector<Hit> Scan(const LookupQuery& query, LookupStats* stats) const;

  // Segments whose source (or target) contains the words of `phrase` consecutively (as
  // options.match says), ignoring case, punctuation and tags; newest first (the source side before
  // the target side of one segment), after options.before_id, at most options.limit.
  struct ConcordancePage {
    std::vector<ConcordanceHit> hits;
    int total = 0;  // matches on every page; an upper bound when !total_exact
    bool total_exact = true;
    bool more = false;  // a match follows the last hit
  };
  ConcordancePage Concordance(std::string_view phrase, const ConcordanceOptions& options) const;

  // The index as bytes (tm/snapshot.cc): every table as it is in memory, so that reading it
  // back is a copy rather than a rebuild. ReadFrom reads `bytes` bytes at `data` (8-byte
  // aligned, as WriteTo leaves every table relative to its start) and refuses (DataLoss, naming
  // what) a truncated or inconsistent one.
  absl::Status WriteTo(std::FILE* out) const;
  static absl::StatusOr<StoreIndex> ReadFrom(const char* data, uint64_t bytes);

  struct Memory {
    size_t slots = 0;
    size_t live = 0;
    size_t vocabulary = 0;
    size_t postings = 0;
    size_t bytes = 0;
  };
  Memory MemoryUsage() const;

 private:
  friend class IndexSearch;
  friend class SnapshotReader;
  friend class SnapshotWriter;

  static constexpr uint32_t kNoSlot = 0xFFFFFFFFu;
  // The live slot of segment `id`, or kNoSlot.
  uint32_t SlotOf(int64_t id) const;
  // The newest slot whose match key has hash `hash` (older ones chain through exact_next_), or
  // kNoSlot.
  uint32_t ExactHead(uint64_t hash) const;
  uint32_t Intern(const std::string& key);
  uint32_t InternTarget(const std::string& key);
  std::string_view Source(uint32_t slot) const {
    return {text_.data() + text_offsets_[2 * slot],
            text_offsets_[2 * slot + 1] - text_offsets_[2 * slot]};
  }
  std::string_view Target(uint32_t slot) const {
    return {text_.data() + text_offsets_[2 * slot + 1],
            text_offsets_[2 * slot + 2] - text_offsets_[2 * slot + 1]};
  }
  bool ContextMatches(const storage::SegmentContext& context, uint32_t slot) const;
  // Live and dead slots of one side that hold, for every key, a word matching it; slot order.
  std::vector<uint32_t> ConcordanceCandidates(const std::vector<std::string>& keys, bool source,
                                              ConcordanceMatchMode mode) const;

  // A posting carries what the lookup needs to reject most slots without touching per-slot
  // memory: the slot's key length, how often the posting's token occurs in it, a 64-bit
  // signature of its distinct tokens (one bit per token, by hash) and a 16-bit signature of the
  // tokens it holds more than once. Postings are in slot order. 16 bytes.
  static constexpr int kCapped = 255;
  struct Posting {
    uint32_t slot;
    uint8_t length;      // key length; kCapped means "at least kCapped"
    uint8_t count;       // occurrences of the posting's token; kCapped means "at least kCapped"
    uint16_t repeated;   // RepeatBit() of every token the key holds twice or more
    uint64_t signature;  // TokenBit() of every token of the key
  };
  static uint64_t TokenBit(uint32_t id) {
    return uint64_t{1} << ((id * 0x9E3779B97F4A7C15ull) >> 58);
  }
  static uint16_t RepeatBit(uint32_t id) {
    return static_cast<uint16_t>(1u << ((id * 0xC2B2AE3D27D4EB4Full) >> 60));
  }

  // Vocabulary and postings over source match keys.
  absl::flat_hash_map<std::string, uint32_t> vocab_;
  std::vector<std::vector<Posting>> postings_;

  // A long list (kRunsFrom postings or more when ShrinkToFit ran) is kept in runs by key
  // length: run b holds the postings whose length is in [kRunLow[b], kRunLow[b+1]), slot order;
  // the postings inserted since follow the last run, slot order. A lookup skips a run whose
  // lengths cannot reach its threshold: a common word's list is mostly short segments, which a
  // long query never matches. runs_ maps such a list's token to where its runs start (the last
  // entry starts the postings inserted since).
  static constexpr int kRuns = 12;
  static constexpr std::array<int, kRuns + 1> kRunLow = {1,  2,  3,  4,  5,  7,  9,
                                                         12, 16, 22, 32, 48, 256};
  static constexpr size_t kRunsFrom = 4096;
  using Runs = std::array<uint32_t, kRuns + 1>;
  static int RunOf(int length) {
    int b = 0;
    while (b + 1 < kRuns && length >= kRunLow[b + 1]) ++b;
    return b;
  }
  absl::flat_hash_map<uint32_t, Runs> runs_;
  // Target words, for concordance only.
  absl::flat_hash_map<std::string, uint32_t> target_vocab_;
  std::vector<std::vector<uint32_t>> target_postings_;

  // Per slot.
  std::vector<int64_t> ids_;
  std::vector<uint8_t> alive_;
  std::vector<uint8_t> lengths_;  // match key length, capped at 255
  // PenaltySketch of the source: a candidate whose base score minus PenaltyFloor cannot reach
  // the threshold is rejected without analyzing its text.
  std::vector<uint32_t> sketches_;
  std::vector<uint32_t> key_begin_{0};  // forward index offsets (size slots + 1)
  std::vector<uint32_t> keys_;          // forward index
  // text_ holds each slot's source then target; slot s spans text_offsets_[2s] (source start),
  // text_offsets_[2s+1] (target start) and text_offsets_[2s+2] (end).
  std::vector<uint64_t> text_offsets_{0};
  std::string text_;
  std::vector<int64_t> changed_at_;       // unix micros
  std::vector<uint64_t> context_key_;     // hash of context key, 0 if none
  std::vector<uint64_t> context_around_;  // hash of (prev, next), 0 if unknown

  // Exact matches: key hash -> most recent slot; older slots with the same hash chain through
  // exact_next_. ShrinkToFit (after a bulk build) moves the heads into exact_sorted_, by hash: 16
  // bytes an entry instead of the map's 34 at a million keys. A key in both: the map's head is
  // newer.
  absl::flat_hash_map<uint64_t, uint32_t> exact_head_;
  std::vector<std::pair<uint64_t, uint32_t>> exact_sorted_;
  std::vector<uint32_t> exact_next_;

  // Live segment id -> slot. Slots [0, sorted_end_) hold strictly ascending ids (a build reads
  // a store in id order, and new segments get new, higher ids) and are found by binary search
  // in ids_; the first id out of order (a replaced segment keeps its id) ends that range for
  // good, and the live slots after it are in slot_of_. A million-segment map costs 36 MB.
  uint32_t sorted_end_ = 0;
  absl::flat_hash_map<int64_t, uint32_t> slot_of_;
  size_t live_ = 0;

  // Whether every slot's (change date, id) is greater than the slot's before it (segments
  // written through verso, or imported with one date or none): then a later slot wins every
  // tie, and a lookup breaks ties by slot instead of reading two tables at random. A slot out
  // of that order clears it until a compaction.
  bool slots_in_tie_order_ = true;
  void NoteTieOrder(uint32_t slot) {
    if (slot == 0 || !slots_in_tie_order_) return;
    const int64_t at = changed_at_[slot], before = changed_at_[slot - 1];
    slots_in_tie_order_ = at > before || (at == before && ids_[slot] > ids_[slot - 1]);
  }
};

}  // namespace verso::tm

#endif  // VERSO_TM_INDEX_H_
