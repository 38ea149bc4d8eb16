// TmService's lookup-result cache (tm.h: ResultCacheOptions): keys, the L2 value format, and
// when a store's results may be cached.
#include <charconv>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/hash.h"
#include "common/strings.h"
#include "tm/index.h"
#include "tm/store.h"
#include "tm/tm.h"

namespace verso::tm {
namespace {

using Entry = CachedResult;

// Everything a lookup's answer depends on besides the store.
std::string Query(std::string_view source, const LookupOptions& o) {
  return StrCat(o.min_score, ",", o.max_results, ",", o.context.prev_hash, ",", o.context.next_hash,
                ",", o.context.key.size(), ":", o.context.key, source);
}

bool IsExactLookup(const LookupOptions& o) { return o.min_score >= 100; }

std::string Key(std::string_view store_id, int64_t version, std::string_view query,
                const LookupOptions& o) {
  char hash[17];
  std::snprintf(hash, sizeof(hash), "%016llx",
                static_cast<unsigned long long>(StableHash64(StrCat("q", query))));
  return StrCat(IsExactLookup(o) ? "tm:" : "tm_fuzzy:", store_id, ":", version, ":", hash);
}

// A second, independent hash of the query, kept in the value: a key's 64-bit hash colliding is
// not enough to answer another query.
uint64_t Check(std::string_view query) { return StableHash64(StrCat("c", query)); }

}  // namespace

// "r1 CHECK CANDIDATES VERIFIED\n" and one line per hit:
// "ID SCORE BASE CONTEXT CHANGED CASE WHITESPACE PUNCTUATION TAGS NUMBERS".
std::string EncodeHits(const Entry& e) {
  std::string out = StrCat("r1 ", e.check, " ", e.candidates, " ", e.verified, "\n");
  for (const Hit& h : e.hits) {
    const Penalties& p = h.penalties;
    StrAppend(&out, h.segment_id, " ", h.score, " ", h.base, " ", h.context_match ? 1 : 0, " ",
              h.changed_at_micros, " ", p.case_diff, " ", p.whitespace, " ", p.punctuation, " ",
              p.tags, " ", p.numbers, "\n");
  }
  return out;
}

namespace {

// Reads the next space- or newline-ended number; false at anything else.
template <typename T>
bool Number(std::string_view* in, T* out) {
  auto [end, ec] = std::from_chars(in->data(), in->data() + in->size(), *out);
  if (ec != std::errc() || end == in->data() + in->size() || (*end != ' ' && *end != '\n')) {
    return false;
  }
  in->remove_prefix(end - in->data() + 1);
  return true;
}

}  // namespace

std::optional<Entry> DecodeHits(std::string_view in) {
  if (!in.starts_with("r1 ")) return std::nullopt;
  in.remove_prefix(3);
  Entry e;
  if (!Number(&in, &e.check) || !Number(&in, &e.candidates) || !Number(&in, &e.verified)) {
    return std::nullopt;
  }
  while (!in.empty()) {
    Hit h;
    Penalties& p = h.penalties;
    int context = 0;
    if (!Number(&in, &h.segment_id) || !Number(&in, &h.score) || !Number(&in, &h.base) ||
        !Number(&in, &context) || !Number(&in, &h.changed_at_micros) ||
        !Number(&in, &p.case_diff) || !Number(&in, &p.whitespace) || !Number(&in, &p.punctuation) ||
        !Number(&in, &p.tags) || !Number(&in, &p.numbers)) {
      return std::nullopt;
    }
    h.context_match = context != 0;
    e.hits.push_back(h);
  }
  return e;
}

TmService::ResultCache::ResultCache(ResultCacheOptions o, const Clock* clock)
    : options(std::move(o)), l1(options.l1_bytes, options.fuzzy_ttl, clock, [](const Entry& e) {
        return sizeof(Entry) + e.hits.size() * sizeof(Hit);
      }) {}

void TmService::EnableResultCache(ResultCacheOptions options) {
  results_ = std::make_unique<ResultCache>(std::move(options), clock_);
}

void TmService::DropCachedResults(std::string_view store_id) {
  if (results_ == nullptr) return;
  results_->l1.ErasePrefix(StrCat("tm:", store_id, ":"));
  results_->l1.ErasePrefix(StrCat("tm_fuzzy:", store_id, ":"));
}

ResultCacheStats TmService::CacheStats() {
  ResultCacheStats s;
  if (results_ == nullptr) return s;
  s.l1_hits = results_->l1_hits;
  s.l2_hits = results_->l2_hits;
  s.misses = results_->misses;
  s.bypassed = results_->bypassed;
  cache::CacheStats l1 = results_->l1.stats();
  s.l1_entries = l1.entries;
  s.l1_bytes = l1.bytes;
  return s;
}

void TmService::Wrote(Store* store) {
  const int64_t epoch = ++own_writes_;
  store->own_write = epoch;  // peers are asked to read the log to its end (PeerFloor)
  if (results_ == nullptr) return;
  store->cache_version = 0;
  {
    absl::MutexLock lock(&results_->mu);
    results_->written[store->record.id] = epoch;
  }
  if (results_->options.l2_invalidate) results_->options.l2_invalidate(store->record.id);
}

void TmService::ReleaseWritten(int64_t epoch) {
  if (results_ == nullptr) return;
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&results_->mu);
    for (const auto& [id, written] : results_->written) {
      if (written <= epoch) ids.push_back(id);
    }
  }
  for (const std::string& id : ids) {
    std::shared_ptr<Store> store;
    {
      absl::ReaderMutexLock lock(&stores_->mu);
      auto it = stores_->by_id.find(id);
      if (it != stores_->by_id.end()) store = it->second;
    }
    // Under the store's write lock: a write made meanwhile is either counted already (its epoch
    // is newer and the store stays out) or comes after.
    if (store == nullptr) {  // deleted
      absl::MutexLock lock(&results_->mu);
      if (auto it = results_->written.find(id);
          it != results_->written.end() && it->second <= epoch) {
        results_->written.erase(it);
      }
      continue;
    }
    absl::MutexLock write(&store->write_mu);
    absl::MutexLock lock(&results_->mu);
    auto it = results_->written.find(id);
    if (it == results_->written.end() || it->second > epoch) continue;
    results_->written.erase(it);
    // Every change to the store up to the log's end as read is applied: the last one is where
    // its view is, the same position any other process that applied it keys its results by.
    store->cache_version = store->last_change + 1;
  }
}

std::optional<std::vector<Hit>> TmService::CachedHits(Store* store, std::string_view source,
                                                      const LookupOptions& options,
                                                      LookupStats* stats, std::string* key) {
  key->clear();
  if (results_ == nullptr || options.exhaustive) return std::nullopt;
  const int64_t version = store->cache_version;
  if (version == 0) {
    ++results_->bypassed;
    return std::nullopt;
  }
  const std::string query = Query(source, options);
  *key = Key(store->record.id, version, query, options);
  const uint64_t check = Check(query);
  std::optional<Entry> e = results_->l1.Get(*key);
  if (e.has_value() && e->check == check) {
    ++results_->l1_hits;
  } else if (!options.nonblocking && results_->options.l2_get) {  // L2 is a network call
    e.reset();
    if (std::optional<std::string> value = results_->options.l2_get(*key)) {
      e = DecodeHits(*value);
      if (e.has_value() && e->check == check) {
        ++results_->l2_hits;
        results_->l1.Put(*key, *e);
      } else {
        e.reset();
      }
    }
  } else {
    e.reset();
  }
  if (!e.has_value()) {
    // A nonblocking lookup with L2 to ask is tried again on a thread that may wait: counted then.
    if (!options.nonblocking || !results_->options.l2_get) ++results_->misses;
    return std::nullopt;
  }
  stats->candidates = e->candidates;
  stats->verified = e->verified;
  return std::move(e->hits);
}

void TmService::PutHits(const std::string& key, std::string_view source,
                        const std::vector<Hit>& hits, const LookupStats& stats,
                        const LookupOptions& options) {
  Entry e;
  e.hits = hits;
  e.check = Check(Query(source, options));
  e.candidates = stats.candidates;
  e.verified = stats.verified;
  if (!options.nonblocking && results_->options.l2_put) {
    results_->options.l2_put(
        key, EncodeHits(e),
        IsExactLookup(options) ? results_->options.exact_ttl : results_->options.fuzzy_ttl);
  }
  results_->l1.Put(key, std::move(e));
}

}  // namespace verso::tm
