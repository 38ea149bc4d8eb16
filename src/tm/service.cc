#include <malloc.h>
#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/channel.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/parallel.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/tenant.h"
#include "text/text.h"
#include "tm/index.h"
#include "tm/store.h"
#include "tm/tm.h"

namespace verso::tm {

namespace {

absl::Status ValidateLookupOptions(const LookupOptions& options) {
  if (options.min_score < 1 || options.min_score > 101) {
    return absl::InvalidArgumentError(
        StrCat("min_score: must be between 1 and 101 (got ", options.min_score, ")"));
  }
  if (options.max_results < 1 || options.max_results > 100) {
    return absl::InvalidArgumentError(
        StrCat("max_results: must be between 1 and 100 (got ", options.max_results, ")"));
  }
  return absl::OkStatus();
}

constexpr size_t kIndexBatch = 8192;
// Units one import writes after which the database's planner statistics are refreshed.
constexpr int64_t kAnalyzeAfter = 10'000;
// A store built from storage with this many segments gives the freed heap back (malloc_trim).
constexpr size_t kTrimAfter = 100'000;

absl::Status StoreNotFound(std::string_view id) {
  return absl::NotFoundError(StrCat("TM store ", id, " not found"));
}

absl::Time NowSeconds(const Clock& clock) {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(clock.Now()));
}

absl::Status ValidateTenant(std::string_view tenant) {
  if (tenant == kAnyTenant) return absl::OkStatus();
  return ValidateTenantName(tenant);
}

// Prepares records for the index on all cores.
std::vector<PreparedSegment> PrepareAll(const std::vector<SegmentRecord>& records) {
  std::vector<PreparedSegment> out(records.size());
  ParallelFor(records.size(), 0, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) out[i] = PrepareSegment(records[i]);
  });
  return out;
}

}  // namespace

Band BandOf(int score) {
  if (score >= 101) return Band::kContext;
  if (score == 100) return Band::kExact;
  if (score >= 95) return Band::k95To99;
  if (score >= 85) return Band::k85To94;
  if (score >= 75) return Band::k75To84;
  if (score >= 50) return Band::k50To74;
  return Band::kNoMatch;
}

std::string_view BandName(Band band) {
  switch (band) {
    case Band::kContext:
      return "101";
    case Band::kExact:
      return "100";
    case Band::k95To99:
      return "95-99";
    case Band::k85To94:
      return "85-94";
    case Band::k75To84:
      return "75-84";
    case Band::k50To74:
      return "50-74";
    case Band::kNoMatch:
      return "no-match";
  }
  return "no-match";
}

absl::Status ValidateText(std::string_view text, std::string_view field) {
  if (text.size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(
        StrCat(field, ": longer than ", kMaxTextBytes, " bytes (", text.size(), ")"));
  }
  size_t bad = 0;
  if (!text::IsValidUtf8(text, &bad)) {
    return absl::InvalidArgumentError(StrCat(field, ": invalid UTF-8 at byte ", bad));
  }
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "%04X", c);
      return absl::InvalidArgumentError(
          StrCat(field, ": control character U+", hex, " at byte ", i));
    }
  }
  if (text.find_first_of("<&") == std::string_view::npos) return absl::OkStatus();  // plain text
  auto runs = text::ParseMarkup(text);
  if (!runs.ok()) return absl::InvalidArgumentError(StrCat(field, ": ", runs.status().message()));
  return absl::OkStatus();
}

TmService::TmService(storage::Database* db, const Clock* clock, IdGenerator* ids)
    : db_(db),
      repo_(&db->tm()),
      clock_(clock),
      ids_(ids),
      stores_(std::make_unique<Stores>()),
      imports_(std::make_unique<Imports>()) {}

TmService::~TmService() { StopImports(); }

absl::StatusOr<LoadStats> TmService::Load(bool build_indexes) {
  absl::Time start = clock_->MonotonicNow();
  {
    // What changes after this point Sync applies (again: applying one twice changes nothing).
    absl::MutexLock lock(&sync_mu_);
    const int logs = std::min(repo_->ChangeLogs(), storage::kMaxChangeLogs);
    synced_seq_.assign(logs, 0);
    for (int log = 0; log < logs; ++log) {
      VERSO_ASSIGN_OR_RETURN(synced_seq_[log], repo_->LastChangeIn(log));
      synced_at_[log] = synced_seq_[log];
    }
  }
  VERSO_ASSIGN_OR_RETURN(std::vector<TmStoreRecord> records, repo_->ListStores(""));
  LoadStats stats;
  for (TmStoreRecord& record : records) {
    auto store = std::make_shared<Store>();
    store->record = std::move(record);
    int64_t loaded_at;
    {
      absl::MutexLock sync(&sync_mu_);
      loaded_at = SyncedIn(store->record.log);
    }
    store->log = store->record.log;
    store->placement = store->record.placement;
    {
      absl::MutexLock write(&store->write_mu);  // not shared yet; the lock keeps the rule simple
      store->last_change = loaded_at;
    }
    store->applied_change = loaded_at;
    store->cache_version = loaded_at + 1;  // what storage holds now is at least that
    {
      absl::WriterMutexLock lock(&stores_->mu);
      stores_->by_id[store->record.id] = store;
    }
    ++stats.stores;
    if (!build_indexes || !HeldHere(store->record.id)) continue;
    VERSO_RETURN_IF_ERROR(EnsureIndexed(store.get()));
    absl::ReaderMutexLock lock(&store->index_mu);
    stats.segments += static_cast<int64_t>(store->index.size());
  }
  stats.elapsed = clock_->MonotonicNow() - start;
  return stats;
}

int64_t TmService::SyncedIn(int log) const {
  return log >= 0 && log < static_cast<int>(synced_seq_.size()) ? synced_seq_[log]
                                                                : storage::ChangePosition(log, 0);
}

absl::StatusOr<int64_t> TmService::Sync() {
  absl::MutexLock lock(&sync_mu_);
  // This process's writes until now are in the logs this call reads.
  const int64_t epoch = own_writes_;
  int64_t read = 0;
  for (size_t log = 0; log < synced_seq_.size(); ++log) {
    VERSO_ASSIGN_OR_RETURN(int64_t n, SyncLog(static_cast<int>(log)));
    read += n;
  }
  synced_epoch_ = epoch;
  ReleaseWritten(epoch);
  // Pruning scans the log: every ten minutes, not on every busy second.
  const absl::Time now = clock_->Now();
  if (read > 0 && now - pruned_at_ >= absl::Minutes(10)) {
    VERSO_RETURN_IF_ERROR(repo_->PruneChanges(now - absl::Hours(1)));
    pruned_at_ = now;
  }
  return read;
}

absl::StatusOr<int64_t> TmService::SyncLog(int log) {
  int64_t read = 0;
  // A slow pass is logged with where its time went (lookups through a TM node wait for it).
  const absl::Time start = clock_->MonotonicNow();
  absl::Duration reading, slowest;
  std::string slowest_store;
  while (true) {
    const absl::Time before_read = clock_->MonotonicNow();
    VERSO_ASSIGN_OR_RETURN(std::vector<storage::TmChange> changes,
                           repo_->ChangesAfter(synced_seq_[log], 10'000));
    reading += clock_->MonotonicNow() - before_read;
    if (changes.empty()) break;
    read += static_cast<int64_t>(changes.size());
    bool stores_changed = false;
    std::map<std::string, std::vector<storage::TmChange>> by_store;
    for (storage::TmChange& c : changes) {
      if (c.kind == storage::TmChange::Kind::kStore) {
        stores_changed = true;
      } else if (!c.store_id.empty()) {
        by_store[c.store_id].push_back(std::move(c));
      }
    }
    if (stores_changed) VERSO_RETURN_IF_ERROR(SyncStores());
    for (const auto& [id, list] : by_store) {
      std::shared_ptr<Store> store;
      {
        absl::ReaderMutexLock l(&stores_->mu);
        auto it = stores_->by_id.find(id);
        if (it != stores_->by_id.end()) store = it->second;
      }
      if (store == nullptr) continue;
      const absl::Time before_apply = clock_->MonotonicNow();
      VERSO_RETURN_IF_ERROR(SyncSegments(store.get(), list));
      const absl::Duration applying = clock_->MonotonicNow() - before_apply;
      if (applying > slowest) slowest = applying, slowest_store = id;
    }
    synced_seq_[log] = changes.back().seq;
    synced_at_[log] = synced_seq_[log];
  }
  if (const absl::Duration took = clock_->MonotonicNow() - start; took > absl::Seconds(1)) {
    log::Warn("tm.sync_slow", {{"log", log},
                               {"changes", read},
                               {"ms", absl::ToInt64Milliseconds(took)},
                               {"reading_ms", absl::ToInt64Milliseconds(reading)},
                               {"slowest_store", slowest_store},
                               {"slowest_ms", absl::ToInt64Milliseconds(slowest)}});
  }
  return read;
}

absl::Status TmService::SyncStores() {
  // The list is read under the lock: a store this process creates meanwhile is either in it or
  // added after the new map is in place, never dropped with its index.
  absl::WriterMutexLock lock(&stores_->mu);
  VERSO_ASSIGN_OR_RETURN(std::vector<TmStoreRecord> records, repo_->ListStores(""));
  absl::flat_hash_map<std::string, std::shared_ptr<Store>> fresh;
  for (TmStoreRecord& r : records) {
    auto it = stores_->by_id.find(r.id);
    if (it != stores_->by_id.end()) {
      // A store that moved to another TM shard: its index stays (the data is the same); its
      // changes are now in that shard's log.
      Store& store = *it->second;
      store.log = r.log;
      store.placement = r.placement;
      fresh[r.id] = it->second;
      continue;
    }
    auto store = std::make_shared<Store>();  // indexed on first use
    store->record = std::move(r);
    store->log = store->record.log;
    store->placement = store->record.placement;
    // A store created since this process read the log: every segment it has comes after its
    // creation in the log, which this Sync goes on to apply. A TM node that holds it starts its
    // index empty now, so that it answers for it at once (as for a store it creates itself).
    if (peers_ != nullptr && peers_->Holds(store->record.id)) {
      absl::MutexLock write(&store->write_mu);
      absl::WriterMutexLock index(&store->index_mu);
      store->indexed = true;
    }
    fresh[store->record.id] = std::move(store);
  }
  stores_->by_id = std::move(fresh);
  return absl::OkStatus();
}

absl::Status TmService::SyncSegments(Store* store, const std::vector<storage::TmChange>& changes) {
  absl::MutexLock write(&store->write_mu);
  bool indexed;
  {
    absl::ReaderMutexLock lock(&store->index_mu);
    for (const storage::TmChange& c : changes) store->records.Erase(c.segment_id);
    indexed = store->indexed;  // else built from storage on first use
  }
  if (indexed) VERSO_RETURN_IF_ERROR(ApplyToIndex(store, changes));
  CompactIfNeeded(store);
  if (!changes.empty()) {
    store->last_change = changes.back().seq;
    store->applied_change = store->last_change;
  }
  if (results_ != nullptr && !changes.empty()) {
    absl::MutexLock lock(&results_->mu);
    // A write of this process not read back yet keeps the store out of the cache.
    if (!results_->written.contains(store->record.id)) {
      store->cache_version = store->last_change + 1;
    }
  }
  return absl::OkStatus();
}

absl::Status TmService::ApplyToIndex(Store* store, const std::vector<storage::TmChange>& changes) {
  std::vector<int64_t> refresh, deleted;
  {
    absl::ReaderMutexLock lock(&store->index_mu);
    for (const storage::TmChange& c : changes) {
      switch (c.kind) {
        case storage::TmChange::Kind::kSegmentAdded:
          // This process's own writes are indexed already.
          if (!store->index.Contains(c.segment_id)) refresh.push_back(c.segment_id);
          break;
        case storage::TmChange::Kind::kSegmentChanged:
          refresh.push_back(c.segment_id);
          break;
        case storage::TmChange::Kind::kSegmentDeleted:
          deleted.push_back(c.segment_id);
          break;
        case storage::TmChange::Kind::kStore:
          break;
      }
    }
  }
  if (!refresh.empty()) VERSO_RETURN_IF_ERROR(IndexFromStorage(store, -1, refresh));
  if (!deleted.empty()) {
    absl::WriterMutexLock lock(&store->index_mu);
    for (int64_t id : deleted) store->index.Remove(id);
  }
  return absl::OkStatus();
}

absl::StatusOr<TmService::Warmed> TmService::Warm(std::string_view tenant,
                                                  std::string_view store_id) {
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  absl::Time start = clock_->MonotonicNow();
  {
    absl::ReaderMutexLock lock(&store->index_mu);
    if (store->indexed) return Warmed{absl::ZeroDuration(), store->from_snapshot};
  }
  VERSO_RETURN_IF_ERROR(EnsureIndexed(store.get()));
  const absl::Duration took = clock_->MonotonicNow() - start;
  bool from_snapshot = false;
  {
    absl::ReaderMutexLock lock(&store->index_mu);
    from_snapshot = store->from_snapshot;
  }
  if (!snapshot_dir_.empty() && !from_snapshot) {
    if (absl::Status s = WriteSnapshot(store->record.id); !s.ok()) {
      log::Warn("tm.snapshot", {{"store", store->record.id}, {"error", s.message()}});
    }
  }
  return Warmed{took, from_snapshot};
}

absl::Status TmService::EnsureIndexed(Store* store) {
  {
    absl::ReaderMutexLock lock(&store->index_mu);
    if (store->indexed) return absl::OkStatus();
  }
  // From a snapshot, the log must not move while the index catches up with it: Sync's lock
  // first (Sync's order: sync_mu_, then a store's write_mu).
  const bool snapshot =
      !snapshot_dir_.empty() && std::filesystem::exists(SnapshotPath(store->record.id));
  std::optional<absl::MutexLock> sync;
  if (snapshot) sync.emplace(&sync_mu_);
  absl::MutexLock write(&store->write_mu);
  {
    absl::ReaderMutexLock lock(&store->index_mu);
    if (store->indexed) return absl::OkStatus();
  }
  absl::Time start = clock_->MonotonicNow();
  bool from_snapshot = false;
  if (snapshot) {
    absl::StatusOr<bool> read = IndexFromSnapshot(store);
    if (!read.ok()) {
      log::Warn("tm.snapshot.unusable",
                {{"store", store->record.id}, {"error", read.status().message()}});
      absl::WriterMutexLock lock(&store->index_mu);
      store->index = StoreIndex();
    }
    from_snapshot = read.ok() && *read;
  }
  if (!from_snapshot) VERSO_RETURN_IF_ERROR(IndexFromStorage(store, 0, {}));
  absl::WriterMutexLock lock(&store->index_mu);
  if (!from_snapshot) {
    // Built one insert at a time: give the tables' slack back, and after a big store the freed
    // memory (the build's batches, the tables' old copies) back to the system (a walk of the
    // heap: not after every small store of a start-up).
    store->index.ShrinkToFit();
    if (store->index.size() >= kTrimAfter) malloc_trim(0);
  }
  // Lookups read the tables at random: with huge pages a big index misses the TLB far less.
  const size_t huge = store->index.AdviseHugePages();
  store->indexed = true;
  store->from_snapshot = from_snapshot;
  log::Info("tm.index.built", {{"store", store->record.id},
                               {"segments", static_cast<int64_t>(store->index.size())},
                               {"from", from_snapshot ? "snapshot" : "storage"},
                               {"huge_pages_mb", static_cast<int64_t>(huge >> 20)},
                               {"ms", absl::ToInt64Milliseconds(clock_->MonotonicNow() - start)}});
  return absl::OkStatus();
}

absl::Status TmService::IndexFromStorage(Store* store, int64_t after_id,
                                         const std::vector<int64_t>& ids) {
  // Three stages so that reading SQLite, tokenizing and inserting overlap: this thread reads
  // batches, workers prepare them (tokenize), an inserter adds them to the index in order.
  struct Batch {
    size_t seq = 0;
    std::vector<SegmentRecord> records;
    std::vector<PreparedSegment> prepared;
  };
  Channel<Batch> to_prepare(4), to_insert(4);
  const int workers = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> preparers;
  for (int w = 0; w < workers; ++w) {
    preparers.emplace_back([&] {
      Batch b;
      while (to_prepare.Pop(&b)) {
        b.prepared.reserve(b.records.size());
        for (const SegmentRecord& r : b.records) b.prepared.push_back(PrepareSegment(r));
        b.records.clear();
        if (!to_insert.Push(std::move(b))) return;
      }
    });
  }
  std::thread inserter([&] {
    std::map<size_t, Batch> pending;
    size_t next = 0;
    Batch b;
    while (to_insert.Pop(&b)) {
      pending.emplace(b.seq, std::move(b));
      while (!pending.empty() && pending.begin()->first == next) {
        absl::WriterMutexLock lock(&store->index_mu);
        for (PreparedSegment& p : pending.begin()->second.prepared)
          store->index.Insert(std::move(p));
        pending.erase(pending.begin());
        ++next;
      }
    }
  });
  size_t seq = 0;
  Batch batch;
  auto flush = [&] {
    batch.seq = seq++;
    to_prepare.Push(std::move(batch));
    batch = Batch{};
    batch.records.reserve(kIndexBatch);
  };
  absl::Status status;
  for (size_t i = 0; i < ids.size() && status.ok(); i += kIndexBatch) {
    std::vector<int64_t> chunk(ids.begin() + i,
                               ids.begin() + std::min(ids.size(), i + kIndexBatch));
    absl::StatusOr<std::vector<SegmentRecord>> records =
        repo_->GetSegments(store->record.id, chunk);
    if (!records.ok()) {
      status = records.status();
      break;
    }
    batch.records = std::move(*records);
    flush();
  }
  if (status.ok() && after_id >= 0) {
    status = repo_->ScanSegmentTexts(store->record.id, after_id, [&](SegmentRecord& r) {
      batch.records.push_back(std::move(r));
      if (batch.records.size() >= kIndexBatch) flush();
      return true;
    });
  }
  if (status.ok() && !batch.records.empty()) flush();
  to_prepare.Close();
  for (auto& t : preparers) t.join();
  to_insert.Close();
  inserter.join();
  return status;
}

void TmService::CompactIfNeeded(Store* store) {
  {
    absl::ReaderMutexLock lock(&store->index_mu);
    if (!store->indexed || !store->index.NeedsCompaction()) return;
  }
  // The caller holds write_mu, so nothing changes the index while the copy is built; lookups
  // go on against the old one.
  absl::Time start = clock_->MonotonicNow();
  StoreIndex fresh;
  size_t dead;
  {
    absl::ReaderMutexLock lock(&store->index_mu);
    dead = store->index.dead_slots();
    fresh = store->index.Compacted();
  }
  fresh.AdviseHugePages();
  absl::WriterMutexLock lock(&store->index_mu);
  store->index = std::move(fresh);
  log::Info("tm.index.compacted",
            {{"store", store->record.id},
             {"dead_slots", static_cast<int64_t>(dead)},
             {"ms", absl::ToInt64Milliseconds(clock_->MonotonicNow() - start)}});
}

absl::StatusOr<std::shared_ptr<TmService::Store>> TmService::FindStore(std::string_view tenant,
                                                                       std::string_view store_id,
                                                                       bool nonblocking) {
  VERSO_RETURN_IF_ERROR(ValidateTenant(tenant));
  if (!nonblocking) {
    stores_->mu.ReaderLock();
  } else if (!stores_->mu.ReaderTryLock()) {
    return WouldBlock("the store list");
  }
  std::shared_ptr<Store> found;
  auto it = stores_->by_id.find(std::string(store_id));
  if (it != stores_->by_id.end() && (tenant == kAnyTenant || it->second->record.tenant == tenant)) {
    found = it->second;
  }
  stores_->mu.ReaderUnlock();
  if (found != nullptr) return found;
  // Another process may have made it since this one last read the log (a create through one
  // API process, then a write through another): if storage has it, read the log now.
  if (nonblocking) return WouldBlock("looking for the store in storage");
  auto stored = repo_->GetStore(store_id);
  if (!stored.ok() || (tenant != kAnyTenant && stored->tenant != tenant)) {
    return StoreNotFound(store_id);
  }
  VERSO_RETURN_IF_ERROR(Sync().status());
  absl::ReaderMutexLock lock(&stores_->mu);
  it = stores_->by_id.find(std::string(store_id));
  if (it == stores_->by_id.end()) return StoreNotFound(store_id);
  return it->second;
}

absl::StatusOr<StoreInfo> TmService::CreateStore(std::string_view tenant, std::string_view name,
                                                 std::string_view source_lang,
                                                 std::string_view target_lang) {
  if (tenant == kAnyTenant) return absl::InvalidArgumentError("tenant: a store needs a tenant");
  VERSO_RETURN_IF_ERROR(ValidateTenant(tenant));
  if (name.empty() || name.size() > 200) {
    return absl::InvalidArgumentError("name: must be 1 to 200 characters");
  }
  if (!text::IsValidUtf8(name)) return absl::InvalidArgumentError("name: invalid UTF-8");
  auto src = text::CanonicalLanguageTag(source_lang);
  if (!src.ok()) return absl::InvalidArgumentError(StrCat("source_lang: ", src.status().message()));
  auto tgt = text::CanonicalLanguageTag(target_lang);
  if (!tgt.ok()) return absl::InvalidArgumentError(StrCat("target_lang: ", tgt.status().message()));
  if (*src == *tgt) {
    return absl::InvalidArgumentError(
        StrCat("target_lang: must differ from source_lang (both ", *src, ")"));
  }
  {
    // Names are how people tell stores apart: one per tenant (another process's new store is
    // seen once Sync has run).
    absl::ReaderMutexLock lock(&stores_->mu);
    for (const auto& [id, other] : stores_->by_id) {
      if (other->record.tenant == tenant && other->record.name == name) {
        return absl::AlreadyExistsError(
            StrCat("name: the tenant already has a store named \"", name, "\" (", id, ")"));
      }
    }
  }
  auto store = std::make_shared<Store>();
  store->record.id = ids_->Next("tm");
  store->record.tenant = std::string(tenant);
  store->record.name = std::string(name);
  store->record.source_lang = *src;
  store->record.target_lang = *tgt;
  store->record.created_at = clock_->Now();
  {
    absl::MutexLock lock(&store->index_mu);       // not shared yet; the lock keeps the rule simple
    store->indexed = HeldHere(store->record.id);  // empty (else a peer's)
  }
  VERSO_RETURN_IF_ERROR(repo_->CreateStore(store->record));
  if (repo_->ChangeLogs() > 1) {  // TM shards: the shard the repository chose
    auto stored = repo_->GetStore(store->record.id);
    if (stored.ok()) {
      store->log = stored->log;
      store->placement = stored->placement;
    }
  }
  {
    absl::WriterMutexLock lock(&stores_->mu);
    stores_->by_id[store->record.id] = store;
  }
  log::Info("tm.store.created", {{"store", store->record.id},
                                 {"tenant", store->record.tenant},
                                 {"pair", StrCat(*src, ">", *tgt)}});
  return StoreInfo{store->record, 0};
}

absl::StatusOr<StoreInfo> TmService::GetStore(std::string_view tenant, std::string_view store_id) {
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  return Info(*store);
}

absl::StatusOr<StoreInfo> TmService::Info(const Store& store) {
  {
    absl::ReaderMutexLock lock(&store.index_mu);
    if (store.indexed) return StoreInfo{store.record, static_cast<int64_t>(store.index.size())};
  }
  VERSO_ASSIGN_OR_RETURN(int64_t count, repo_->CountSegments(store.record.id));
  return StoreInfo{store.record, count};
}

absl::StatusOr<std::vector<StoreInfo>> TmService::ListStores(std::string_view tenant) {
  VERSO_RETURN_IF_ERROR(ValidateTenant(tenant));
  std::vector<std::shared_ptr<Store>> stores;
  {
    absl::ReaderMutexLock lock(&stores_->mu);
    for (const auto& [id, store] : stores_->by_id) {
      if (tenant == kAnyTenant || store->record.tenant == tenant) stores.push_back(store);
    }
  }
  std::vector<StoreInfo> out;
  for (const auto& store : stores) {
    VERSO_ASSIGN_OR_RETURN(StoreInfo info, Info(*store));
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(),
            [](const StoreInfo& a, const StoreInfo& b) { return a.record.id < b.record.id; });
  return out;
}

absl::Status TmService::DeleteStore(std::string_view tenant, std::string_view store_id) {
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  absl::MutexLock write(&store->write_mu);
  VERSO_RETURN_IF_ERROR(repo_->DeleteStore(store->record.id));
  Wrote(store.get());
  // Its snapshot holds the store's texts: deleted with it.
  if (!snapshot_dir_.empty()) std::remove(SnapshotPath(store->record.id).c_str());
  absl::WriterMutexLock lock(&stores_->mu);
  stores_->by_id.erase(store->record.id);
  log::Info("tm.store.deleted", {{"store", store->record.id}});
  return absl::OkStatus();
}

absl::Status TmService::ValidateAndComplete(SegmentRecord* s, std::string_view user,
                                            absl::Time now) {
  VERSO_RETURN_IF_ERROR(ValidateText(s->source, "source"));
  VERSO_RETURN_IF_ERROR(ValidateText(s->target, "target"));
  if (StripAsciiWhitespace(s->source).empty())
    return absl::InvalidArgumentError("source: is empty");
  if (StripAsciiWhitespace(s->target).empty())
    return absl::InvalidArgumentError("target: is empty");
  if (s->context.key.size() > 1000) {
    return absl::InvalidArgumentError("context.key: longer than 1000 bytes");
  }
  if (!text::IsValidUtf8(s->context.key)) {
    return absl::InvalidArgumentError("context.key: invalid UTF-8");
  }
  if (s->usage_count < 0) return absl::InvalidArgumentError("usage_count: must not be negative");
  if (s->creator.empty()) s->creator = std::string(user);
  if (s->changer.empty()) s->changer = s->creator;
  if (s->created_at == absl::UnixEpoch()) s->created_at = now;
  if (s->changed_at == absl::UnixEpoch()) s->changed_at = s->created_at;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SegmentRecord>> TmService::AddSegments(
    std::string_view tenant, std::string_view store_id, std::vector<SegmentRecord> segments,
    std::string_view user) {
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  absl::Time now = clock_->Now();
  for (size_t i = 0; i < segments.size(); ++i) {
    absl::Status s = ValidateAndComplete(&segments[i], user, now);
    if (!s.ok()) {
      return absl::InvalidArgumentError(StrCat("segments[", i, "].", s.message()));
    }
  }
  std::vector<PreparedSegment> prepared = PrepareAll(segments);
  absl::MutexLock write(&store->write_mu);
  std::vector<int64_t> merged;
  // A transaction the database lost before its commit (a failover) took no effect: it runs
  // again per the database-write retry policy.
  for (int attempt = 0;; ++attempt) {
    merged.clear();
    absl::Status written = [&]() -> absl::Status {
      VERSO_ASSIGN_OR_RETURN(auto writer, repo_->BeginWrite(store->record.id));
      for (size_t i = 0; i < segments.size(); ++i) {
        VERSO_ASSIGN_OR_RETURN(storage::PutOutcome out, writer->Put(&segments[i]));
        prepared[i].id = out.id;
        if (!out.inserted) merged.push_back(out.id);
      }
      return writer->Commit();
    }();
    if (written.ok()) break;
    if (!storage::RetryUnapplied(attempt, written)) return written;
  }
  Wrote(store.get());
  for (int64_t id : merged) store->records.Erase(id);
  if (merged.empty()) {
    absl::WriterMutexLock lock(&store->index_mu);
    if (store->indexed) {
      for (PreparedSegment& p : prepared) store->index.Insert(std::move(p));
    }
    return segments;
  }
  // Merged segments carry stored metadata (e.g. creation date); return and index what storage
  // holds.
  std::vector<int64_t> ids;
  for (const SegmentRecord& s : segments) ids.push_back(s.id);
  VERSO_ASSIGN_OR_RETURN(std::vector<SegmentRecord> stored,
                         repo_->GetSegments(store->record.id, ids));
  {
    absl::WriterMutexLock lock(&store->index_mu);
    if (store->indexed) {
      for (PreparedSegment& p : prepared) {
        for (const SegmentRecord& s : stored) {
          if (s.id == p.id) p.changed_at = s.changed_at;
        }
        store->index.Insert(std::move(p));
      }
    }
  }
  CompactIfNeeded(store.get());
  return stored;
}

absl::StatusOr<SegmentRecord> TmService::UpdateSegment(std::string_view tenant,
                                                       std::string_view store_id,
                                                       SegmentRecord segment,
                                                       std::string_view user) {
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  absl::MutexLock write(&store->write_mu);
  VERSO_ASSIGN_OR_RETURN(SegmentRecord current, repo_->GetSegment(store->record.id, segment.id));
  SegmentRecord updated = current;
  updated.source = std::move(segment.source);
  updated.target = std::move(segment.target);
  updated.context = std::move(segment.context);
  updated.properties = std::move(segment.properties);
  updated.notes = std::move(segment.notes);
  updated.changer = std::string(user);
  updated.changed_at = clock_->Now();
  VERSO_RETURN_IF_ERROR(ValidateAndComplete(&updated, user, updated.changed_at));
  PreparedSegment prepared = PrepareSegment(updated);
  VERSO_RETURN_IF_ERROR(repo_->UpdateSegment(store->record.id, updated));
  Wrote(store.get());
  store->records.Erase(updated.id);
  {
    absl::WriterMutexLock lock(&store->index_mu);
    if (store->indexed) store->index.Insert(std::move(prepared));
  }
  CompactIfNeeded(store.get());
  return updated;
}

absl::Status TmService::DeleteSegment(std::string_view tenant, std::string_view store_id,
                                      int64_t id) {
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  absl::MutexLock write(&store->write_mu);
  VERSO_RETURN_IF_ERROR(repo_->DeleteSegment(store->record.id, id));
  Wrote(store.get());
  store->records.Erase(id);
  {
    absl::WriterMutexLock lock(&store->index_mu);
    if (store->indexed) store->index.Remove(id);
  }
  CompactIfNeeded(store.get());
  return absl::OkStatus();
}

absl::StatusOr<SegmentRecord> TmService::GetSegment(std::string_view tenant,
                                                    std::string_view store_id, int64_t id) {
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  return repo_->GetSegment(store->record.id, id);
}

void TmService::RecordUse(std::string_view store_id, int64_t id) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&usage_mu_);
  auto& [count, last] = usage_[{std::string(store_id), id}];
  ++count;
  last = now;
}

absl::StatusOr<int64_t> TmService::FlushUsage() {
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, absl::Time>> pending;
  {
    absl::MutexLock lock(&usage_mu_);
    pending.swap(usage_);
  }
  if (pending.empty()) return 0;
  std::vector<storage::TmRepository::SegmentUse> uses;
  uses.reserve(pending.size());
  for (const auto& [key, value] : pending) {
    uses.push_back({key.first, key.second, value.first, value.second});
  }
  absl::StatusOr<int64_t> updated = repo_->RecordUsage(uses);
  if (!updated.ok()) {  // kept for the next flush
    absl::MutexLock lock(&usage_mu_);
    for (const auto& [key, value] : pending) {
      auto& [count, last] = usage_[key];
      count += value.first;
      last = std::max(last, value.second);
    }
    return updated.status();
  }
  // Cached records of these segments carry the old counts: counted there too, instead of being
  // dropped (a job's exact matches would all be read from storage again by the next job).
  for (const auto& u : uses) {
    if (auto store = FindStore(kAnyTenant, u.store_id); store.ok()) {
      (*store)->records.AddUse(u.id, u.count, u.when);
    }
  }
  return updated;
}

absl::StatusOr<std::vector<SegmentRecord>> TmService::ListSegments(std::string_view tenant,
                                                                   std::string_view store_id,
                                                                   int64_t after_id, int limit,
                                                                   bool* more) {
  if (limit < 1 || limit > 1000) {
    return absl::InvalidArgumentError(
        StrCat("limit: must be between 1 and 1000 (got ", limit, ")"));
  }
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  std::vector<SegmentRecord> out;
  *more = false;
  VERSO_RETURN_IF_ERROR(
      repo_->ScanSegments(store->record.id, after_id, [&](const SegmentRecord& segment) {
        if (static_cast<int>(out.size()) == limit) {
          *more = true;
          return false;
        }
        out.push_back(segment);
        return true;
      }));
  return out;
}

absl::StatusOr<LookupResult> TmService::Lookup(std::string_view tenant, std::string_view store_id,
                                               std::string_view source,
                                               const LookupOptions& options) {
  VERSO_RETURN_IF_ERROR(ValidateLookupOptions(options));
  VERSO_RETURN_IF_ERROR(ValidateText(source, "source"));
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id, options.nonblocking));
  if (!options.nonblocking && HeldHere(store->record.id)) {
    VERSO_RETURN_IF_ERROR(EnsureIndexed(store.get()));
  }
  LookupStats stats;
  VERSO_ASSIGN_OR_RETURN(std::vector<Hit> hits, HitsOf(store.get(), source, options, &stats));
  return MatchesOf(store.get(), hits, stats, options.nonblocking);
}

absl::StatusOr<std::vector<Hit>> TmService::HitsOf(Store* store, std::string_view source,
                                                   const LookupOptions& options,
                                                   LookupStats* stats) {
  const bool remote = !HeldHere(store->record.id);
  LookupQuery query;
  query.source = source;
  query.context = options.context;
  query.min_score = options.min_score;
  query.max_results = options.max_results;
  std::string cache_key;
  std::optional<std::vector<Hit>> hits = CachedHits(store, source, options, stats, &cache_key);
  if (!hits.has_value() && !cache_key.empty() && options.nonblocking && results_->options.l2_get) {
    return WouldBlock("the shared result cache");  // a network call: not on an I/O thread
  }
  if (!hits.has_value() && remote) {
    if (options.nonblocking) return WouldBlock("the TM node holding the store");  // a network call
    VERSO_ASSIGN_OR_RETURN(CachedResult answer, AskLookup(store, source, options));
    stats->candidates = answer.candidates;
    stats->verified = answer.verified;
    hits = std::move(answer.hits);
    if (!cache_key.empty()) PutHits(cache_key, source, *hits, *stats, options);
  }
  if (!hits.has_value()) {
    if (!options.nonblocking) {
      store->index_mu.ReaderLock();
    } else if (!store->index_mu.ReaderTryLock()) {
      return WouldBlock("the store's index");  // being changed
    }
    const bool indexed = store->indexed;
    if (indexed || !options.nonblocking) {
      hits =
          options.exhaustive ? store->index.Scan(query, stats) : store->index.Lookup(query, stats);
    }
    store->index_mu.ReaderUnlock();
    if (!indexed && options.nonblocking) return WouldBlock("the store's index");  // not built yet
    if (!cache_key.empty()) PutHits(cache_key, source, *hits, *stats, options);
  }
  return std::move(*hits);
}

absl::StatusOr<LookupResult> TmService::MatchesOf(Store* store, const std::vector<Hit>& hits,
                                                  const LookupStats& stats, bool nonblocking) {
  LookupResult result;
  result.candidates = stats.candidates;
  result.verified = stats.verified;
  if (hits.empty()) return result;
  std::vector<int64_t> ids;
  for (const Hit& h : hits) ids.push_back(h.segment_id);
  VERSO_ASSIGN_OR_RETURN(std::vector<SegmentRecord> records, FetchRecords(store, ids, nonblocking));
  for (const Hit& h : hits) {
    auto it = std::find_if(records.begin(), records.end(),
                           [&](const SegmentRecord& r) { return r.id == h.segment_id; });
    if (it == records.end()) continue;  // deleted between the index read and now
    Match m;
    m.segment = std::move(*it);
    m.score = h.score;
    m.band = BandOf(h.score);
    m.base_score = h.base;
    m.context_match = h.context_match;
    const Penalties& p = h.penalties;
    for (auto [name, value] : {std::pair<const char*, int>{"case", p.case_diff},
                               {"whitespace", p.whitespace},
                               {"punctuation", p.punctuation},
                               {"tags", p.tags},
                               {"numbers", p.numbers}}) {
      if (value > 0) m.penalties.emplace_back(name, value);
    }
    result.matches.push_back(std::move(m));
  }
  return result;
}

absl::StatusOr<std::vector<LookupResult>> TmService::LookupMany(
    std::string_view tenant, std::string_view store_id, const std::vector<BatchQuery>& queries,
    const LookupOptions& options, size_t* failed) {
  std::vector<LookupResult> out;
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id, options.nonblocking));
  if (HeldHere(store->record.id) || queries.size() < 2) {
    // Each query's hits, then the records of them all in one read (on PostgreSQL the first job
    // after a start read its 4,000 exact matches' records one query each), then the answers.
    VERSO_RETURN_IF_ERROR(ValidateLookupOptions(options));
    if (!options.nonblocking && HeldHere(store->record.id)) {
      VERSO_RETURN_IF_ERROR(EnsureIndexed(store.get()));
    }
    std::vector<std::vector<Hit>> hits(queries.size());
    std::vector<LookupStats> stats(queries.size());
    std::vector<int64_t> ids;
    for (size_t i = 0; i < queries.size(); ++i) {
      LookupOptions o = options;
      o.context = queries[i].context;
      absl::Status valid = ValidateText(queries[i].source, "source");
      absl::StatusOr<std::vector<Hit>> h =
          valid.ok() ? HitsOf(store.get(), queries[i].source, o, &stats[i]) : valid;
      if (!h.ok()) {
        if (failed != nullptr) *failed = i;
        return h.status();
      }
      hits[i] = std::move(*h);
      for (const Hit& hit : hits[i]) ids.push_back(hit.segment_id);
    }
    if (!ids.empty()) {
      VERSO_RETURN_IF_ERROR(FetchRecords(store.get(), ids, options.nonblocking).status());
    }
    for (size_t i = 0; i < queries.size(); ++i) {
      VERSO_ASSIGN_OR_RETURN(LookupResult r,
                             MatchesOf(store.get(), hits[i], stats[i], options.nonblocking));
      out.push_back(std::move(r));
    }
    return out;
  }
  // A peer holds the index: the cached answers, then one request for the rest.
  VERSO_RETURN_IF_ERROR(ValidateLookupOptions(options));
  if (options.nonblocking) return WouldBlock("the TM node holding the store");
  std::vector<std::optional<std::vector<Hit>>> hits(queries.size());
  std::vector<LookupStats> stats(queries.size());
  std::vector<std::string> keys(queries.size());
  std::vector<BatchQuery> asked;
  std::vector<size_t> asked_index;
  for (size_t i = 0; i < queries.size(); ++i) {
    LookupOptions o = options;
    o.context = queries[i].context;
    absl::Status valid = ValidateText(queries[i].source, "source");
    if (!valid.ok()) {
      if (failed != nullptr) *failed = i;
      return valid;
    }
    hits[i] = CachedHits(store.get(), queries[i].source, o, &stats[i], &keys[i]);
    if (!hits[i].has_value()) {
      asked.push_back(queries[i]);
      asked_index.push_back(i);
    }
  }
  if (!asked.empty()) {
    VERSO_ASSIGN_OR_RETURN(std::vector<CachedResult> answers,
                           AskLookups(store.get(), asked, options));
    for (size_t k = 0; k < asked.size(); ++k) {
      const size_t i = asked_index[k];
      stats[i].candidates = answers[k].candidates;
      stats[i].verified = answers[k].verified;
      hits[i] = std::move(answers[k].hits);
      if (!keys[i].empty()) {
        LookupOptions o = options;
        o.context = queries[i].context;
        PutHits(keys[i], queries[i].source, *hits[i], stats[i], o);
      }
    }
  }
  // The records of every query's hits, read together (the record cache keeps them for each).
  std::vector<int64_t> ids;
  for (const auto& h : hits) {
    for (const Hit& hit : *h) ids.push_back(hit.segment_id);
  }
  if (!ids.empty()) VERSO_RETURN_IF_ERROR(FetchRecords(store.get(), ids).status());
  for (size_t i = 0; i < queries.size(); ++i) {
    VERSO_ASSIGN_OR_RETURN(LookupResult r, MatchesOf(store.get(), *hits[i], stats[i], false));
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<ConcordanceResult> TmService::Concordance(std::string_view tenant,
                                                         std::string_view store_id,
                                                         std::string_view phrase,
                                                         const ConcordanceOptions& options) {
  if (options.limit < 1 || options.limit > 1000) {
    return absl::InvalidArgumentError(
        StrCat("limit: must be between 1 and 1000 (got ", options.limit, ")"));
  }
  if (!options.source && !options.target) {
    return absl::InvalidArgumentError("search at least one of source and target");
  }
  VERSO_RETURN_IF_ERROR(ValidateText(phrase, "query"));
  // Each word of a prefix or substring query scans the store's vocabulary: a bounded few.
  if (options.match != ConcordanceMatchMode::kWords &&
      ConcordanceKey(phrase).size() > kMaxPartialWords) {
    return absl::InvalidArgumentError(
        StrCat("q: at most ", kMaxPartialWords, " words with match=prefix or match=substring"));
  }
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  StoreIndex::ConcordancePage page;
  if (!HeldHere(store->record.id)) {
    ConcordanceResult totals;
    VERSO_RETURN_IF_ERROR(AskConcordance(store.get(), phrase, options, &page.hits, &totals));
    page.total = totals.total;
    page.total_exact = totals.total_exact;
    page.more = totals.more;
  } else {
    VERSO_RETURN_IF_ERROR(EnsureIndexed(store.get()));
    absl::ReaderMutexLock lock(&store->index_mu);
    page = store->index.Concordance(phrase, options);
  }
  ConcordanceResult result;
  result.total = page.total;
  result.total_exact = page.total_exact;
  result.more = page.more;
  std::vector<ConcordanceHit>& hits = page.hits;
  std::vector<int64_t> ids;
  for (const auto& h : hits) ids.push_back(h.segment_id);
  VERSO_ASSIGN_OR_RETURN(std::vector<SegmentRecord> records, FetchRecords(store.get(), ids));
  for (auto& h : hits) {
    auto it = std::find_if(records.begin(), records.end(),
                           [&](const SegmentRecord& r) { return r.id == h.segment_id; });
    if (it == records.end()) continue;
    result.matches.push_back({*it, h.in_source, std::move(h.ranges)});
  }
  return result;
}

absl::StatusOr<StoreStats> TmService::Stats(std::string_view tenant, std::string_view store_id) {
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  // A store whose index a peer holds has no index here to measure.
  if (HeldHere(store->record.id)) VERSO_RETURN_IF_ERROR(EnsureIndexed(store.get()));
  VERSO_ASSIGN_OR_RETURN(int64_t count, repo_->CountSegments(store->record.id));
  StoreStats stats;
  stats.info = {store->record, count};
  absl::ReaderMutexLock lock(&store->index_mu);
  StoreIndex::Memory m = store->index.MemoryUsage();
  stats.index_bytes = m.bytes;
  stats.vocabulary = m.vocabulary;
  stats.postings = m.postings;
  return stats;
}

absl::StatusOr<std::vector<SegmentRecord>> TmService::FetchRecords(Store* store,
                                                                   const std::vector<int64_t>& ids,
                                                                   bool nonblocking) {
  // An id may come more than once (two queries of a batch matching one segment): it is read
  // once, and each place gets the whole record.
  std::vector<std::shared_ptr<const SegmentRecord>> cached(ids.size());
  std::vector<int64_t> missing;
  absl::flat_hash_set<int64_t> asked;
  for (size_t i = 0; i < ids.size(); ++i) {
    cached[i] = store->records.Get(ids[i]);
    if (!cached[i] && asked.insert(ids[i]).second) missing.push_back(ids[i]);
  }
  if (!missing.empty() && nonblocking) return WouldBlock("reading segments from storage");
  std::vector<SegmentRecord> fetched;
  absl::flat_hash_map<int64_t, size_t> fetched_at;  // id -> its place in `fetched`
  if (!missing.empty()) {
    // The record cache's generation before the read (only a read fills it).
    const uint64_t generation = store->records.Generation();
    VERSO_ASSIGN_OR_RETURN(fetched, repo_->GetSegments(store->record.id, missing));
    for (size_t k = 0; k < fetched.size(); ++k) {  // a segment deleted since is not there
      fetched_at[fetched[k].id] = k;
      store->records.Put(fetched[k], generation);
    }
  }
  std::vector<SegmentRecord> out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (cached[i]) {
      out.push_back(*cached[i]);
    } else if (auto it = fetched_at.find(ids[i]); it != fetched_at.end()) {
      out.push_back(fetched[it->second]);
    }
  }
  return out;
}

std::vector<TmService::IndexSize> TmService::IndexSizes() {
  std::vector<std::shared_ptr<Store>> stores;
  {
    absl::ReaderMutexLock lock(&stores_->mu);
    for (const auto& [id, store] : stores_->by_id) stores.push_back(store);
  }
  std::vector<IndexSize> out;
  for (const auto& store : stores) {
    absl::ReaderMutexLock lock(&store->index_mu);
    IndexSize size;
    size.store_id = store->record.id;
    size.built = store->indexed;
    size.from_snapshot = store->from_snapshot;
    if (store->indexed) {
      StoreIndex::Memory m = store->index.MemoryUsage();
      size.segments = m.live;
      size.bytes = m.bytes;
    }
    out.push_back(std::move(size));
  }
  std::sort(out.begin(), out.end(),
            [](const IndexSize& a, const IndexSize& b) { return a.store_id < b.store_id; });
  return out;
}

absl::StatusOr<ImportReport> TmService::RunImport(const std::shared_ptr<Store>& store,
                                                  const OpenImport& open,
                                                  const ImportOptions& options) {
  ImportReport report;
  const absl::Time start = clock_->MonotonicNow();
  const absl::Time now = NowSeconds(*clock_);
  absl::MutexLock write(&store->write_mu);
  VERSO_RETURN_IF_ERROR(CheckImport(open, options, now));
  ImportWrite w = WriteImport(store.get(), open, options, now, &report);
  if (w.written > 0) Wrote(store.get());
  // A bulk load: the database's planner learns the table's new size now, not when autovacuum
  // gets to it (a plan made while it was small made a TM node take 20 s over 100,000 new
  // segments), before the index below reads them back. Best effort.
  if (w.written >= kAnalyzeAfter) {
    if (absl::Status s = repo_->RefreshStatistics(store->record.id); !s.ok()) {
      log::Warn("tm.import.statistics", {{"store", store->record.id}, {"error", s.message()}});
    }
  }
  std::sort(w.merged.begin(), w.merged.end());
  w.merged.erase(std::unique(w.merged.begin(), w.merged.end()), w.merged.end());
  for (int64_t id : w.merged) store->records.Erase(id);
  const absl::Time written_at = clock_->MonotonicNow();
  report.write_time = written_at - start;
  // What was committed is searchable whatever happened next. Everything this store gained has
  // an id >= first_inserted (the store's write lock excluded its other writers). A store whose
  // index is not built yet gets it all on first use.
  bool indexed;
  {
    absl::ReaderMutexLock lock(&store->index_mu);
    indexed = store->indexed;
  }
  if (indexed && w.written > 0) {
    VERSO_RETURN_IF_ERROR(
        IndexFromStorage(store.get(), w.first_inserted < 0 ? -1 : w.first_inserted - 1, w.merged));
    CompactIfNeeded(store.get());
  }
  if (!w.status.ok()) {
    if (w.written == 0 || absl::IsCancelled(w.status)) return w.status;
    return absl::Status(w.status.code(),
                        StrCat(w.status.message(), " (", w.written,
                               " units were written before; importing the file again merges "
                               "them instead of adding them twice)"));
  }
  report.merged = static_cast<int64_t>(w.merged.size());
  report.inserted = report.units - report.skipped - report.merged;
  // An import that takes nothing failed, whatever the reasons.
  if (report.units == 0) {
    return absl::InvalidArgumentError("the file has no translation units; nothing was imported");
  }
  if (report.skipped == report.units) {
    const SkippedUnit& first = report.skipped_units.front();
    return absl::InvalidArgumentError(StrCat("all ", report.units,
                                             " units were skipped, nothing was imported; the "
                                             "first, at line ",
                                             first.line, ": ", first.reason));
  }
  report.index_time = clock_->MonotonicNow() - written_at;
  log::Info("tm.import", {{"store", store->record.id},
                          {"units", report.units},
                          {"inserted", report.inserted},
                          {"merged", report.merged},
                          {"skipped", report.skipped},
                          {"write_ms", absl::ToInt64Milliseconds(report.write_time)},
                          {"index_ms", absl::ToInt64Milliseconds(report.index_time)}});
  return report;
}

absl::Status TmService::CheckImport(const OpenImport& open, const ImportOptions& options,
                                    absl::Time now) {
  // Malformed input (or, in a strict import, an invalid unit: then every unit is converted and
  // checked) fails here, before any write.
  VERSO_ASSIGN_OR_RETURN(ImportSource source,
                         open(options.strict ? ImportPass::kValidate : ImportPass::kScan));
  ImportItem item;
  for (int64_t units = 1;; ++units) {
    if (options.cancel != nullptr && options.cancel->load()) {
      return absl::CancelledError("the import was interrupted");
    }
    item = ImportItem{};
    VERSO_ASSIGN_OR_RETURN(bool more, source.next(&item));
    if (!more) return absl::OkStatus();
    if (options.strict && item.skip.empty()) {
      absl::Status s = ValidateAndComplete(&item.record, options.user, now);
      if (!s.ok()) item.skip = std::string(s.message());
    }
    if (options.strict && !item.skip.empty()) {
      return absl::InvalidArgumentError(
          StrCat("line ", item.line, ": ", item.skip, " (strict import: nothing was imported)"));
    }
    if (source.progress && units % 4096 == 0) source.progress(units);
  }
}

TmService::ImportWrite TmService::WriteImport(Store* store, const OpenImport& open,
                                              const ImportOptions& options, absl::Time now,
                                              ImportReport* report) {
  constexpr size_t kBatch = 512;
  ImportWrite out;
  absl::StatusOr<ImportSource> source = open(ImportPass::kWrite);
  if (!source.ok()) {
    out.status = source.status();
    return out;
  }
  Channel<std::vector<SegmentRecord>> channel(8);
  std::atomic<bool> read_failed{false};  // set before the channel closes
  std::thread writer([&] { WriteBatches(store, &channel, read_failed, &out); });
  absl::Status read_status;
  std::vector<SegmentRecord> batch;
  batch.reserve(kBatch);
  ImportItem item;
  while (true) {
    if (options.cancel != nullptr && options.cancel->load()) {
      read_status = absl::CancelledError("the import was interrupted");
      break;
    }
    item = ImportItem{};
    absl::StatusOr<bool> more = source->next(&item);
    if (!more.ok()) {
      read_status = more.status();  // the file changed under the import
      break;
    }
    if (!*more) break;
    ++report->units;
    if (item.skip.empty()) {
      absl::Status s = ValidateAndComplete(&item.record, options.user, now);
      if (!s.ok()) item.skip = std::string(s.message());
    }
    if (!item.skip.empty()) {
      ++report->skipped;
      if (report->skipped_units.size() < 1000) {
        report->skipped_units.push_back({item.line, std::move(item.skip)});
      }
      continue;
    }
    batch.push_back(std::move(item.record));
    if (batch.size() == kBatch) {
      if (!channel.Push(std::move(batch))) break;  // the writer failed
      batch = {};
      batch.reserve(kBatch);
    }
    if (source->progress && report->units % 4096 == 0) source->progress(report->units);
  }
  if (read_status.ok() && !batch.empty()) channel.Push(std::move(batch));
  read_failed = !read_status.ok();
  channel.Close();
  writer.join();
  if (!read_status.ok()) out.status = read_status;
  if (source->progress) source->progress(report->units);
  return out;
}

void TmService::WriteBatches(Store* store, Channel<std::vector<SegmentRecord>>* channel,
                             const std::atomic<bool>& read_failed, ImportWrite* out) {
  constexpr absl::Duration kHold = absl::Milliseconds(50);
  std::unique_ptr<storage::SegmentWriter> writer;
  int64_t pending = 0;  // written in the open transaction
  absl::Time began;
  auto commit = [&]() -> absl::Status {
    VERSO_RETURN_IF_ERROR(writer->Commit());
    writer.reset();
    out->written += pending;
    pending = 0;
    return absl::OkStatus();
  };
  auto store_batch = [&](std::vector<SegmentRecord>& batch) -> absl::Status {
    if (writer == nullptr) {
      VERSO_ASSIGN_OR_RETURN(writer, repo_->BeginWrite(store->record.id));
      began = clock_->MonotonicNow();
    }
    for (SegmentRecord& r : batch) {
      VERSO_ASSIGN_OR_RETURN(storage::PutOutcome put, writer->Put(&r));
      if (!put.inserted) {
        out->merged.push_back(put.id);
      } else if (out->first_inserted < 0) {
        out->first_inserted = put.id;
      }
    }
    pending += static_cast<int64_t>(batch.size());
    return clock_->MonotonicNow() - began >= kHold ? commit() : absl::OkStatus();
  };
  std::vector<SegmentRecord> batch;
  while (channel->Pop(&batch)) {
    if (absl::Status s = store_batch(batch); !s.ok()) {
      out->status = s;
      channel->Close();
      return;  // the open transaction (if any) rolls back as `writer` goes
    }
  }
  // The channel is closed: commit the rest, unless reading failed (then it rolls back).
  if (writer != nullptr && !read_failed) out->status = commit();
}

void TmService::DropIndex(std::string_view store_id) {
  std::shared_ptr<Store> store;
  {
    absl::ReaderMutexLock lock(&stores_->mu);
    auto it = stores_->by_id.find(std::string(store_id));
    if (it == stores_->by_id.end()) return;
    store = it->second;
  }
  absl::MutexLock write(&store->write_mu);
  absl::WriterMutexLock lock(&store->index_mu);
  if (!store->indexed) return;
  store->indexed = false;
  store->from_snapshot = false;
  store->index = StoreIndex();
  log::Info("tm.index.dropped", {{"store", store->record.id}});
}

std::vector<std::string> TmService::StoreIds() {
  absl::ReaderMutexLock lock(&stores_->mu);
  std::vector<std::string> out;
  out.reserve(stores_->by_id.size());
  for (const auto& [id, store] : stores_->by_id) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace verso::tm
