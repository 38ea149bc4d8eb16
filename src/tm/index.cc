#include "tm/index.h"

#include <algorithm>
#include <array>
#include <bit>
#include <utility>

#include "common/hash.h"
#include "common/memory.h"
#include "common/parallel.h"
#include "text/text.h"

namespace verso::tm {
namespace {

uint64_t ContextKeyHash(const storage::SegmentContext& c) {
  return c.key.empty() ? 0 : (StableHash64(c.key) | 1);
}

uint64_t ContextAroundHash(const storage::SegmentContext& c) {
  if (c.prev_hash == 0 && c.next_hash == 0) return 0;
  uint64_t v[2] = {static_cast<uint64_t>(c.prev_hash), static_cast<uint64_t>(c.next_hash)};
  return StableHash64(std::string_view(reinterpret_cast<const char*>(v), sizeof(v))) | 1;
}

// Per-thread scratch: a bit per slot for "seen in this lookup" (128 KB at a million slots, so
// the walk's checks stay in cache) and the words a lookup set, cleared by the next one; a
// lookup never clears memory proportional to the store.
struct Scratch {
  std::vector<uint64_t> seen;
  std::vector<uint32_t> touched;  // words of `seen` with bits set
  TokenDistance distance;

  void Begin(size_t slots) {
    for (uint32_t word : touched) seen[word] = 0;
    touched.clear();
    if (seen.size() * 64 < slots) {
      const size_t words = (slots + slots / 4 + 1024) / 64 + 1;
      seen.assign(words, 0);
    }
  }
  // True the first time `slot` is seen in this lookup.
  bool FirstVisit(uint32_t slot) {
    uint64_t& word = seen[slot >> 6];
    const uint64_t bit = uint64_t{1} << (slot & 63);
    if (word & bit) return false;
    if (word == 0) touched.push_back(slot >> 6);
    word |= bit;
    return true;
  }
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// Sets what `p` derives from its source and target texts.
void TokenizeTexts(PreparedSegment* p) {
  p->source_keys = MatchKey(p->source, &p->sketch);
  p->target_keys = ConcordanceKey(p->target);
  p->key_hash = KeyHash(p->source_keys, p->source);
}

}  // namespace

PreparedSegment PrepareSegment(const storage::SegmentRecord& r) {
  PreparedSegment p;
  p.id = r.id;
  p.source = r.source;
  p.target = r.target;
  TokenizeTexts(&p);
  p.context_key = ContextKeyHash(r.context);
  p.context_around = ContextAroundHash(r.context);
  p.changed_at = r.changed_at;
  return p;
}

StoreIndex StoreIndex::Compacted() const {
  std::vector<uint32_t> live;
  live.reserve(live_);
  for (uint32_t slot = 0; slot < ids_.size(); ++slot) {
    if (alive_[slot]) live.push_back(slot);
  }
  std::vector<PreparedSegment> prepared(live.size());
  ParallelFor(live.size(), 0, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      const uint32_t slot = live[i];
      PreparedSegment& p = prepared[i];
      p.id = ids_[slot];
      p.source = std::string(Source(slot));
      p.target = std::string(Target(slot));
      TokenizeTexts(&p);
      p.context_key = context_key_[slot];
      p.context_around = context_around_[slot];
      p.changed_at = absl::FromUnixMicros(changed_at_[slot]);
    }
  });
  StoreIndex fresh;
  for (PreparedSegment& p : prepared) fresh.Insert(std::move(p));
  fresh.ShrinkToFit();
  return fresh;
}

void StoreIndex::ShrinkToFit(size_t runs_from) {
  // Long lists into runs by key length (a list already in runs sorts stably: each run's
  // postings, then those inserted since with higher slots, stay in slot order).
  for (uint32_t token = 0; token < postings_.size(); ++token) {
    std::vector<Posting>& list = postings_[token];
    if (list.size() < runs_from) continue;
    std::stable_sort(list.begin(), list.end(), [](const Posting& a, const Posting& b) {
      return RunOf(a.length) < RunOf(b.length);
    });
    Runs& runs = runs_[token];
    size_t at = 0;
    for (int b = 0; b < kRuns; ++b) {
      runs[b] = static_cast<uint32_t>(at);
      while (at < list.size() && RunOf(list[at].length) == b) ++at;
    }
    runs[kRuns] = static_cast<uint32_t>(list.size());
  }
  for (auto& list : postings_) list.shrink_to_fit();
  for (auto& list : target_postings_) list.shrink_to_fit();
  postings_.shrink_to_fit();
  target_postings_.shrink_to_fit();
  ids_.shrink_to_fit();
  alive_.shrink_to_fit();
  lengths_.shrink_to_fit();
  sketches_.shrink_to_fit();
  key_begin_.shrink_to_fit();
  keys_.shrink_to_fit();
  text_offsets_.shrink_to_fit();
  text_.shrink_to_fit();
  changed_at_.shrink_to_fit();
  context_key_.shrink_to_fit();
  context_around_.shrink_to_fit();
  exact_next_.shrink_to_fit();
  // The exact-match heads into the sorted table (the map's, newer, over the table's).
  if (!exact_head_.empty()) {
    std::vector<std::pair<uint64_t, uint32_t>> heads(exact_head_.begin(), exact_head_.end());
    for (const auto& e : exact_sorted_) {
      if (!exact_head_.contains(e.first)) heads.push_back(e);
    }
    std::sort(heads.begin(), heads.end());
    exact_sorted_ = std::move(heads);
    exact_head_ = {};
  }
}

size_t StoreIndex::AdviseHugePages() const {
  auto advise = [](const auto& table) {
    return verso::AdviseHugePages(table.data(), table.size() * sizeof(table[0]));
  };
  size_t bytes = advise(ids_) + advise(alive_) + advise(lengths_) + advise(sketches_) +
                 advise(key_begin_) + advise(keys_) + advise(text_offsets_) + advise(text_) +
                 advise(changed_at_) + advise(context_key_) + advise(context_around_) +
                 advise(exact_sorted_) + advise(exact_next_) + advise(postings_) +
                 advise(target_postings_);
  // A list this long is a common word's, read on many lookups.
  constexpr size_t kLongList = size_t{2} << 20;
  for (const auto& list : postings_) {
    if (list.size() * sizeof(Posting) >= kLongList) bytes += advise(list);
  }
  return bytes;
}

uint32_t StoreIndex::Intern(const std::string& key) {
  auto [it, inserted] = vocab_.try_emplace(key, static_cast<uint32_t>(postings_.size()));
  if (inserted) postings_.emplace_back();
  return it->second;
}

uint32_t StoreIndex::InternTarget(const std::string& key) {
  auto [it, inserted] =
      target_vocab_.try_emplace(key, static_cast<uint32_t>(target_postings_.size()));
  if (inserted) target_postings_.emplace_back();
  return it->second;
}

void StoreIndex::Insert(PreparedSegment p) {
  Remove(p.id);
  const uint32_t slot = static_cast<uint32_t>(ids_.size());
  ids_.push_back(p.id);
  alive_.push_back(1);
  const size_t first_key = keys_.size();
  uint64_t signature = 0;
  uint16_t repeated = 0;
  for (const std::string& key : p.source_keys) {
    uint32_t id = Intern(key);
    if (signature & TokenBit(id)) {
      // Possibly seen before (or a colliding token): check exactly.
      for (size_t k = first_key; k < keys_.size(); ++k) {
        if (keys_[k] == id) repeated |= RepeatBit(id);
      }
    }
    keys_.push_back(id);
    signature |= TokenBit(id);
  }
  const uint8_t length = static_cast<uint8_t>(std::min<size_t>(kCapped, p.source_keys.size()));
  for (size_t k = first_key; k < keys_.size(); ++k) {
    std::vector<Posting>& list = postings_[keys_[k]];
    if (!list.empty() && list.back().slot == slot) {
      if (list.back().count < kCapped) ++list.back().count;
    } else {
      list.push_back({slot, length, 1, 0, signature});
    }
  }
  // The repeat signature is known only now; set it on this slot's postings.
  if (repeated != 0) {
    for (size_t k = first_key; k < keys_.size(); ++k)
      postings_[keys_[k]].back().repeated = repeated;
  }
  key_begin_.push_back(static_cast<uint32_t>(keys_.size()));
  lengths_.push_back(static_cast<uint8_t>(std::min<size_t>(255, p.source_keys.size())));
  sketches_.push_back(p.sketch);
  for (const std::string& key : p.target_keys) {
    std::vector<uint32_t>& list = target_postings_[InternTarget(key)];
    if (list.empty() || list.back() != slot) list.push_back(slot);
  }
  text_ += p.source;
  text_offsets_.push_back(text_.size());
  text_ += p.target;
  text_offsets_.push_back(text_.size());
  changed_at_.push_back(absl::ToUnixMicros(p.changed_at));
  NoteTieOrder(slot);
  context_key_.push_back(p.context_key);
  context_around_.push_back(p.context_around);
  exact_next_.push_back(ExactHead(p.key_hash));
  exact_head_[p.key_hash] = slot;
  if (sorted_end_ == slot && (slot == 0 || p.id > ids_[slot - 1])) {
    ++sorted_end_;
  } else {
    slot_of_[p.id] = slot;
  }
  ++live_;
}

uint32_t StoreIndex::ExactHead(uint64_t hash) const {
  if (auto it = exact_head_.find(hash); it != exact_head_.end()) return it->second;
  auto it = std::lower_bound(exact_sorted_.begin(), exact_sorted_.end(),
                             std::pair<uint64_t, uint32_t>(hash, 0));
  return it != exact_sorted_.end() && it->first == hash ? it->second : kNoSlot;
}

uint32_t StoreIndex::SlotOf(int64_t id) const {
  if (auto it = slot_of_.find(id); it != slot_of_.end()) return it->second;
  auto end = ids_.begin() + sorted_end_;
  auto it = std::lower_bound(ids_.begin(), end, id);
  if (it == end || *it != id) return kNoSlot;
  const uint32_t slot = static_cast<uint32_t>(it - ids_.begin());
  return alive_[slot] ? slot : kNoSlot;
}

bool StoreIndex::Remove(int64_t id) {
  const uint32_t slot = SlotOf(id);
  if (slot == kNoSlot) return false;
  alive_[slot] = 0;
  if (slot >= sorted_end_) slot_of_.erase(id);
  --live_;
  return true;
}

bool StoreIndex::ContextMatches(const storage::SegmentContext& c, uint32_t slot) const {
  uint64_t key = ContextKeyHash(c);
  if (key != 0 && key == context_key_[slot]) return true;
  uint64_t around = ContextAroundHash(c);
  return around != 0 && around == context_around_[slot];
}

// One lookup: the query's analysis, its token ids, the top-k so far.
class IndexSearch {
 public:
  IndexSearch(const StoreIndex& index, const LookupQuery& query, LookupStats* stats)
      : index_(index), query_(query), stats_(stats), scratch_(ThreadScratch()) {
    q_ = Analyze(query.source);
    sketch_ = PenaltySketch(q_);
    n_ = static_cast<int>(q_.keys.size());
    ids_.reserve(n_);
    std::vector<std::pair<std::string_view, uint32_t>> unknown;
    for (const std::string& key : q_.keys) {
      auto it = index_.vocab_.find(key);
      if (it != index_.vocab_.end()) {
        ids_.push_back(it->second);
        continue;
      }
      // Never in any segment; repeated unknown words still get one id.
      uint32_t id = 0;
      for (const auto& [k, v] : unknown) {
        if (k == key) id = v;
      }
      if (id == 0) {
        id = TokenDistance::kNoMatchBase + static_cast<uint32_t>(unknown.size());
        unknown.emplace_back(key, id);
      }
      ids_.push_back(id);
    }
    scratch_.Begin(index_.ids_.size());
    scratch_.distance.SetPattern(ids_.data(), n_);
    k_ = std::max(1, query.max_results);
  }

  std::vector<Hit> Run(bool exhaustive) {
    if (exhaustive) {
      for (uint32_t slot = 0; slot < index_.ids_.size(); ++slot) {
        if (!index_.alive_[slot]) continue;
        ++stats_->candidates;
        Consider(slot, n_);
      }
    } else {
      Exact();
      // A fuzzy candidate scores at most 100, and every segment that could reach 100 shares the
      // query's key and was just seen: with k hits at 100 or more, nothing can improve.
      const bool settled = static_cast<int>(top_.size()) == k_ && top_.front().score >= 100;
      if (n_ > 0 && !settled) Fuzzy();
    }
    std::sort(top_.begin(), top_.end(),
              [this](const Hit& a, const Hit& b) { return Better(a, b); });
    return std::move(top_);
  }

 private:
  int Threshold() const {
    return static_cast<int>(top_.size()) < k_ ? query_.min_score : top_.front().score;
  }

  bool Better(const Hit& a, const Hit& b) const {
    if (a.score != b.score) return a.score > b.score;
    if (index_.slots_in_tie_order_) return a.slot > b.slot;
    if (a.changed_at_micros != b.changed_at_micros) {
      return a.changed_at_micros > b.changed_at_micros;
    }
    return a.segment_id > b.segment_id;
  }

  // False when a hit of `slot` scoring at most `max_score` could not enter the top k: with the
  // heap full, it would have to beat the worst kept hit, ties included.
  bool CouldEnter(uint32_t slot, int max_score) const {
    if (static_cast<int>(top_.size()) < k_) return max_score >= query_.min_score;
    const Hit& worst = top_.front();
    if (max_score != worst.score) return max_score > worst.score;
    // A tie: the date and id decide, or the slot when slots are in that order.
    if (index_.slots_in_tie_order_) return slot > worst.slot;
    Hit best_case;
    best_case.score = max_score;
    best_case.segment_id = index_.ids_[slot];
    best_case.changed_at_micros = index_.changed_at_[slot];
    return Better(best_case, worst);
  }

  // True when the top k is full, no slot reached through a posting with overlap bound `bound`
  // can score above the worst kept hit, and ties go to later slots, of which `slot` is not one:
  // then nothing from here on in a posting list (slot order, walked newest first) can enter.
  bool OnlyTiesOlderThan(uint32_t slot, int bound) const {
    if (!index_.slots_in_tie_order_ || static_cast<int>(top_.size()) < k_) return false;
    const Hit& worst = top_.front();
    // Its score is at most floor(100 * bound / n), the key being at least n tokens long.
    return 100 * bound < (worst.score + 1) * n_ && slot < worst.slot;
  }

  // top_ is a heap with the worst hit at the front.
  void Offer(const Hit& hit) {
    if (hit.score < query_.min_score) return;
    auto worse_first = [this](const Hit& a, const Hit& b) { return Better(a, b); };
    if (static_cast<int>(top_.size()) < k_) {
      top_.push_back(hit);
      std::push_heap(top_.begin(), top_.end(), worse_first);
    } else if (Better(hit, top_.front())) {
      std::pop_heap(top_.begin(), top_.end(), worse_first);
      top_.back() = hit;
      std::push_heap(top_.begin(), top_.end(), worse_first);
    }
  }

  void Exact() {
    for (uint32_t slot = index_.ExactHead(KeyHash(q_.keys, query_.source));
         slot != StoreIndex::kNoSlot; slot = index_.exact_next_[slot]) {
      if (!scratch_.FirstVisit(slot) || !index_.alive_[slot]) continue;
      ++stats_->exact;
      ++stats_->candidates;
      Consider(slot, n_);
    }
  }

  void Fuzzy() {
    std::vector<Distinct>& distinct = distinct_;
    for (uint32_t id : ids_) {
      auto it = std::find_if(distinct.begin(), distinct.end(),
                             [id](const Distinct& d) { return d.id == id; });
      if (it != distinct.end()) {
        ++it->multiplicity;
      } else {
        size_t size = id < index_.postings_.size() ? index_.postings_[id].size() : 0;
        distinct.push_back({id, 1, size});
      }
    }
    std::sort(distinct.begin(), distinct.end(), [](const Distinct& a, const Distinct& b) {
      return a.postings != b.postings ? a.postings < b.postings : a.id < b.id;
    });
    // A slot first reached at step i holds d_i (the posting says how often) and possibly the
    // later tokens d_j (j > i) whose signature bit it has: one each, or all of d_j's
    // multiplicity when its repeat signature says it may hold d_j more than once. singles[i]
    // counts the later tokens per signature bit as four bit planes (counts 0..15).
    const size_t steps = distinct.size();
    std::vector<std::array<uint64_t, 4>> singles(steps + 1, {0, 0, 0, 0});
    bool planes_exact = true;
    {
      std::array<int, 64> count{};
      for (size_t i = steps; i-- > 0;) {
        std::array<uint64_t, 4> p{0, 0, 0, 0};
        for (int b = 0; b < 64; ++b) {
          for (int k = 0; k < 4; ++k) {
            if (count[b] & (1 << k)) p[k] |= uint64_t{1} << b;
          }
        }
        singles[i] = p;
        int bit = std::countr_zero(StoreIndex::TokenBit(distinct[i].id));
        if (++count[bit] > 15) planes_exact = false;
      }
    }
    planes_exact_ = planes_exact;
    for (size_t i = 0; i < steps; ++i) {
      if (distinct[i].multiplicity > 1) repeats_.push_back(i);
    }
    // An index without dead slots (the usual case after a build) need not read alive_.
    any_dead_ = index_.dead_slots() != 0;
    int missing = 0;
    for (size_t i = 0; i < steps; ++i) {
      const Distinct& d = distinct[i];
      // A slot first reached now lacks every token before d: its overlap is at most n - missing,
      // and its key is at least as long as the query's.
      if (100 * (n_ - missing) < Threshold() * n_) break;
      if (d.postings > 0) Walk(i, n_ - missing, singles[i]);
      missing += d.multiplicity;
    }
  }

  // Walks the postings of step `step`'s token: a slot first reached here has overlap at most
  // `bound`, and `p` counts the later steps' tokens by signature bit. A list in runs by key
  // length is walked run by run, the runs nearest the query's length first, skipping a run
  // whose lengths cannot reach the threshold.
  void Walk(size_t step, int bound, const std::array<uint64_t, 4>& p) {
    const Distinct& d = distinct_[step];
    const std::vector<StoreIndex::Posting>& list = index_.postings_[d.id];
    auto runs = index_.runs_.find(d.id);
    if (runs == index_.runs_.end()) {
      WalkRange(step, bound, p, list.data(), list.size());
      return;
    }
    const StoreIndex::Runs& r = runs->second;
    // The postings inserted since the runs were made are the newest.
    WalkRange(step, bound, p, list.data() + r[StoreIndex::kRuns],
              list.size() - r[StoreIndex::kRuns]);
    for (int b : RunOrder()) {
      if (r[b] == r[b + 1]) continue;
      // The best a run can do: the length nearest the query's (overlap <= min(bound, m), key
      // at least max(n, m) long). The last run's lengths are capped, so unbounded above.
      const int high = b + 1 == StoreIndex::kRuns ? std::max(n_, StoreIndex::kCapped)
                                                  : StoreIndex::kRunLow[b + 1] - 1;
      const int m = std::clamp(n_, StoreIndex::kRunLow[b], high);
      if (100 * std::min(bound, m) < Threshold() * std::max(n_, m)) continue;
      WalkRange(step, bound, p, list.data() + r[b], r[b + 1] - r[b]);
    }
  }

  // The runs in order of how near their lengths are to the query's.
  const std::array<int, StoreIndex::kRuns>& RunOrder() {
    if (run_order_[0] < 0) {
      auto distance = [this](int b) {
        if (n_ < StoreIndex::kRunLow[b]) return StoreIndex::kRunLow[b] - n_;
        return b + 1 < StoreIndex::kRuns && n_ >= StoreIndex::kRunLow[b + 1]
                   ? n_ - StoreIndex::kRunLow[b + 1] + 1
                   : 0;
      };
      for (int b = 0; b < StoreIndex::kRuns; ++b) run_order_[b] = b;
      std::stable_sort(run_order_.begin(), run_order_.end(),
                       [&](int a, int b) { return distance(a) < distance(b); });
    }
    return run_order_;
  }

  // Postings [begin, begin + size) of step `step`'s token, in slot order.
  void WalkRange(size_t step, int bound, const std::array<uint64_t, 4>& p,
                 const StoreIndex::Posting* begin, size_t size) {
    const Distinct& d = distinct_[step];
    // Newest first: on equal scores newer segments win, so visiting them first lets older
    // ties be rejected before their penalties are computed.
    for (size_t j = size; j-- > 0;) {
      const StoreIndex::Posting& e = begin[j];
      if (OnlyTiesOlderThan(e.slot, bound)) break;
      ++stats_->postings;
      // A capped length is only a lower bound of the key length.
      const bool capped = e.length == StoreIndex::kCapped;
      const int m = capped ? std::max(n_, StoreIndex::kCapped) : static_cast<int>(e.length);
      const int l = std::max(n_, m);
      int shared = bound;
      if (planes_exact_) {
        shared = (e.count == StoreIndex::kCapped ? d.multiplicity
                                                 : std::min<int>(d.multiplicity, e.count)) +
                 std::popcount(e.signature & p[0]) + 2 * std::popcount(e.signature & p[1]) +
                 4 * std::popcount(e.signature & p[2]) + 8 * std::popcount(e.signature & p[3]);
        for (size_t later : repeats_) {
          if (later > step && (e.signature & StoreIndex::TokenBit(distinct_[later].id)) &&
              (e.repeated & StoreIndex::RepeatBit(distinct_[later].id))) {
            shared += distinct_[later].multiplicity - 1;
          }
        }
      }
      // Cheap bounds first; only survivors touch per-slot memory.
      const int overlap = capped ? std::min(bound, shared) : std::min({bound, shared, m});
      if (100 * overlap < Threshold() * l) continue;
      // A slot that cannot enter now never can (the bar only rises), so it is not marked
      // seen: met again at a later step (with a bound too low for it), it is only rejected
      // again or verified exactly.
      if (!CouldEnter(e.slot, 100 * overlap / l)) continue;
      if (!scratch_.FirstVisit(e.slot) || (any_dead_ && !index_.alive_[e.slot])) continue;
      ++stats_->candidates;
      Consider(e.slot, overlap);
    }
  }

  // Scores `slot` and offers it; `overlap_bound` caps its overlap with the query.
  void Consider(uint32_t slot, int overlap_bound) {
    const uint32_t* keys = index_.keys_.data() + index_.key_begin_[slot];
    const int m = static_cast<int>(index_.key_begin_[slot + 1] - index_.key_begin_[slot]);
    int base;
    Analysis candidate;
    bool analyzed = false;
    if (n_ == 0 || m == 0) {
      if (n_ != 0 || m != 0) return;  // one side has words, the other none: no match
      candidate = Analyze(index_.Source(slot));
      analyzed = true;
      base = EmptyKeyBaseScore(q_, candidate);
    } else {
      const int l = std::max(n_, m);
      const int threshold = Threshold();
      if (100 * std::min({overlap_bound, n_, m}) < threshold * l) return;
      int overlap = scratch_.distance.Overlap(keys, m);
      if (100 * overlap < threshold * l) return;
      ++stats_->verified;
      base = BaseScore(n_, m, scratch_.distance.Distance(keys, m));
    }
    // Penalties only lower a score: if even the base less the penalties' floor (which the
    // slot's sketch gives without analyzing its text) would not make the top k, stop here.
    const int best = analyzed ? base : base - PenaltyFloor(sketch_, index_.sketches_[slot]);
    if (best < Threshold() || !CouldEnter(slot, best)) return;
    Hit hit;
    if (analyzed) {
      hit.penalties = ComputePenalties(q_, candidate);
    } else {
      // The candidates of one lookup often share their source (short strings such as "%s:" or
      // "Cancel" are in a TM many times): its penalties are computed once.
      const std::string_view source = index_.Source(slot);
      auto [it, fresh] = penalties_.try_emplace(source);
      if (fresh) it->second = ComputePenalties(q_, Analyze(source));
      hit.penalties = it->second;
    }
    hit.base = base;
    hit.score = std::max(0, base - hit.penalties.total());
    // Below the minimum Offer drops it: the id and date (two more reads at random) are not needed.
    if (hit.score < query_.min_score) return;
    hit.segment_id = index_.ids_[slot];
    hit.changed_at_micros = index_.changed_at_[slot];
    hit.slot = slot;
    if (hit.score == 100 && index_.ContextMatches(query_.context, slot)) {
      hit.score = 101;
      hit.context_match = true;
    }
    Offer(hit);
  }

  const StoreIndex& index_;
  const LookupQuery& query_;
  LookupStats* stats_;
  Scratch& scratch_;
  Analysis q_;
  uint32_t sketch_ = 0;  // PenaltySketch(q_)
  int n_ = 0;
  int k_ = 1;
  std::vector<uint32_t> ids_;
  std::vector<Hit> top_;
  absl::flat_hash_map<std::string_view, Penalties> penalties_;  // by candidate source
  // The fuzzy walk's steps: the query's distinct tokens, rarest first.
  struct Distinct {
    uint32_t id;
    int multiplicity;
    size_t postings;
  };
  std::vector<Distinct> distinct_;
  std::vector<size_t> repeats_;  // steps whose token the query holds more than once
  bool planes_exact_ = true;     // whether the later-token counts per signature bit fit 4 bits
  bool any_dead_ = false;        // an index without dead slots need not read alive_
  std::array<int, StoreIndex::kRuns> run_order_{-1};
};

std::vector<Hit> StoreIndex::Lookup(const LookupQuery& query, LookupStats* stats) const {
  LookupStats local;
  return IndexSearch(*this, query, stats ? stats : &local).Run(/*exhaustive=*/false);
}

std::vector<Hit> StoreIndex::Scan(const LookupQuery& query, LookupStats* stats) const {
  LookupStats local;
  return IndexSearch(*this, query, stats ? stats : &local).Run(/*exhaustive=*/true);
}

namespace {

// Whether the text word `word` matches query word `k` of `n` under `mode`.
bool WordMatches(std::string_view word, std::string_view query, size_t k, size_t n,
                 ConcordanceMatchMode mode) {
  switch (mode) {
    case ConcordanceMatchMode::kWords:
      return word == query;
    case ConcordanceMatchMode::kPrefix:
      return word.starts_with(query);
    case ConcordanceMatchMode::kSubstring:
      if (n == 1) return word.find(query) != std::string_view::npos;
      if (k == 0) return word.ends_with(query);
      if (k == n - 1) return word.starts_with(query);
      return word == query;
  }
  return false;
}

// Finds `phrase` (concordance keys) as a consecutive run of word/number/placeholder tokens of
// `markup`; returns the byte ranges of every occurrence's tokens.
std::vector<std::pair<uint32_t, uint32_t>> FindPhrase(std::string_view markup,
                                                      const std::vector<std::string>& phrase,
                                                      ConcordanceMatchMode mode) {
  std::vector<text::Token> tokens;
  for (text::Token& t : text::Tokenize(markup)) {
    if (t.kind == text::TokenKind::kWord || t.kind == text::TokenKind::kNumber ||
        t.kind == text::TokenKind::kPlaceholder) {
      tokens.push_back(std::move(t));
    }
  }
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  const size_t n = phrase.size();
  if (phrase.empty() || tokens.size() < n) return ranges;
  for (size_t i = 0; i + n <= tokens.size(); ++i) {
    bool match = true;
    for (size_t k = 0; k < n && match; ++k) {
      match = WordMatches(tokens[i + k].key, phrase[k], k, n, mode);
    }
    if (match) {
      ranges.emplace_back(tokens[i].begin, tokens[i + n - 1].end);
      i += n - 1;
    }
  }
  return ranges;
}

uint32_t SlotOf(uint32_t slot) { return slot; }
template <typename P>
uint32_t SlotOf(const P& posting) {
  return posting.slot;
}

// Slots (newest first) present in every list; each list is in slot order.
template <typename List>
std::vector<uint32_t> Intersect(std::vector<const List*> lists) {
  std::sort(lists.begin(), lists.end(),
            [](const auto* a, const auto* b) { return a->size() < b->size(); });
  std::vector<uint32_t> out;
  const List& first = *lists[0];
  for (auto it = first.rbegin(); it != first.rend(); ++it) {
    const uint32_t slot = SlotOf(*it);
    bool all = true;
    for (size_t l = 1; l < lists.size() && all; ++l) {
      auto pos = std::lower_bound(lists[l]->begin(), lists[l]->end(), slot,
                                  [](const auto& e, uint32_t s) { return SlotOf(e) < s; });
      all = pos != lists[l]->end() && SlotOf(*pos) == slot;
    }
    if (all) out.push_back(slot);
  }
  return out;
}

}  // namespace

namespace {

// `slots` in slot order, each once. One posting list is in order already (the common case:
// linear); the lists of several vocabulary words are merged by sorting.
void SortUnique(std::vector<uint32_t>* slots) {
  if (!std::is_sorted(slots->begin(), slots->end())) std::sort(slots->begin(), slots->end());
  slots->erase(std::unique(slots->begin(), slots->end()), slots->end());
}

// Candidates of more than this many are counted, not all verified, for the total.
constexpr size_t kVerifyAllUpTo = 10000;

}  // namespace

std::vector<uint32_t> StoreIndex::ConcordanceCandidates(const std::vector<std::string>& keys,
                                                        bool source,
                                                        ConcordanceMatchMode mode) const {
  // One slot list per query word: the slots holding a word that matches it.
  std::vector<std::vector<uint32_t>> per_word;
  const size_t n = keys.size();
  for (size_t k = 0; k < n; ++k) {
    const std::string& key = keys[k];
    // Source postings hold every number under one key.
    const bool number = source && key[0] >= '0' && key[0] <= '9';
    std::vector<uint32_t> ids;
    auto add_source = [&](uint32_t list) {
      const std::vector<Posting>& postings = postings_[list];
      const auto from = ids.end() - ids.begin();
      for (const Posting& p : postings) ids.push_back(p.slot);
      // A list in runs: each run, and the postings inserted since, is in slot order.
      if (auto runs = runs_.find(list); runs != runs_.end()) {
        const Runs& r = runs->second;
        for (int b = 1; b <= kRuns; ++b) {
          const size_t end = b < kRuns ? r[b + 1] : postings.size();
          std::inplace_merge(ids.begin() + from, ids.begin() + from + r[b],
                             ids.begin() + from + end);
        }
      }
    };
    auto add_target = [&](uint32_t list) {
      ids.insert(ids.end(), target_postings_[list].begin(), target_postings_[list].end());
    };
    if (mode == ConcordanceMatchMode::kWords || number) {
      if (source) {
        auto it = vocab_.find(number ? std::string(kNumberKey) : key);
        if (it != vocab_.end()) add_source(it->second);
      } else if (auto it = target_vocab_.find(key); it != target_vocab_.end()) {
        add_target(it->second);
      }
    } else if (source) {
      for (const auto& [word, list] : vocab_) {
        if (WordMatches(word, key, k, n, mode)) add_source(list);
      }
    } else {
      for (const auto& [word, list] : target_vocab_) {
        if (WordMatches(word, key, k, n, mode)) add_target(list);
      }
    }
    if (ids.empty()) return {};
    SortUnique(&ids);
    per_word.push_back(std::move(ids));
  }
  std::vector<const std::vector<uint32_t>*> lists;
  for (const auto& l : per_word) lists.push_back(&l);
  return Intersect(lists);
}

StoreIndex::ConcordancePage StoreIndex::Concordance(std::string_view phrase,
                                                    const ConcordanceOptions& options) const {
  ConcordancePage page;
  std::vector<std::string> keys = ConcordanceKey(phrase);
  if (keys.empty() || options.limit <= 0) return page;
  struct Candidate {
    int64_t id;
    bool in_source;
    uint32_t slot;
  };
  std::vector<Candidate> candidates;
  for (bool source : {true, false}) {
    if (!(source ? options.source : options.target)) continue;
    for (uint32_t slot : ConcordanceCandidates(keys, source, options.match)) {
      if (alive_[slot]) candidates.push_back({ids_[slot], source, slot});
    }
  }
  // Newest first; one segment's source before its target.
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.id != b.id ? a.id > b.id : a.in_source > b.in_source;
  });
  auto after_cursor = [&](const Candidate& c) {
    if (options.before_id <= 0) return true;
    return c.id < options.before_id ||
           (c.id == options.before_id && options.before_in_source && !c.in_source);
  };
  auto verify = [&](const Candidate& c) {
    return FindPhrase(c.in_source ? Source(c.slot) : Target(c.slot), keys, options.match);
  };
  // A candidate surely matches when it holds the one whole word asked for (not a number folded
  // into the source's number key): then counting is enough.
  const bool sure = options.match == ConcordanceMatchMode::kWords && keys.size() == 1 &&
                    !(keys[0][0] >= '0' && keys[0][0] <= '9');
  const bool verify_all = !sure && candidates.size() <= kVerifyAllUpTo;
  page.total_exact = sure || verify_all;
  for (const Candidate& c : candidates) {
    const bool wanted = after_cursor(c) && !page.more;
    if (!wanted && !verify_all) {
      ++page.total;
      continue;
    }
    auto ranges = verify(c);  // wanted, or every candidate is verified
    if (ranges.empty()) continue;
    ++page.total;
    if (!wanted) continue;
    if (static_cast<int>(page.hits.size()) == options.limit) {
      page.more = true;
      continue;
    }
    page.hits.push_back({c.id, c.in_source, std::move(ranges)});
  }
  return page;
}

StoreIndex::Memory StoreIndex::MemoryUsage() const {
  Memory m;
  m.slots = ids_.size();
  m.live = live_;
  m.vocabulary = vocab_.size();
  size_t bytes = 0;
  for (const auto& list : postings_) {
    m.postings += list.size();
    bytes += list.capacity() * sizeof(Posting) + sizeof(list);
  }
  for (const auto& list : target_postings_) {
    bytes += list.capacity() * sizeof(uint32_t) + sizeof(list);
  }
  auto map_bytes = [](const auto& map, size_t entry) { return map.capacity() * (entry + 1); };
  bytes += map_bytes(vocab_, sizeof(std::string) + 4) +
           map_bytes(target_vocab_, sizeof(std::string) + 4);
  for (const auto& [k, v] : vocab_) bytes += k.capacity() > 15 ? k.capacity() : 0;
  for (const auto& [k, v] : target_vocab_) bytes += k.capacity() > 15 ? k.capacity() : 0;
  bytes += ids_.capacity() * 8 + alive_.capacity() + lengths_.capacity() +
           sketches_.capacity() * 4 + key_begin_.capacity() * 4 + keys_.capacity() * 4 +
           text_offsets_.capacity() * 8 + text_.capacity() + changed_at_.capacity() * 8 +
           context_key_.capacity() * 8 + context_around_.capacity() * 8 +
           exact_next_.capacity() * 4;
  bytes += map_bytes(exact_head_, 16) + map_bytes(slot_of_, 16) + exact_sorted_.capacity() * 16 +
           map_bytes(runs_, sizeof(Runs) + 4);
  m.bytes = bytes;
  return m;
}

}  // namespace verso::tm
