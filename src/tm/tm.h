// The translation memory: stores of segments per tenant and language pair, fuzzy and exact
// lookup, concordance, TMX and PO import and TMX export.
//
// TmService is the one entry point. It keeps every store's segments durable in a
// storage::TmRepository and an in-memory index per store (tm/index.h), which it rebuilds from
// storage: for every store at Load(/*build_indexes=*/true) (the server), or for one store on its
// first lookup (the CLI). There is no snapshot file; docs/tm.md gives the rebuild time. Writes go
// to storage first and reach the index before the call returns, so the next lookup sees them.
//
// Tenancy: every call names a tenant; a store of another tenant answers NotFound exactly like a
// missing one. kAnyTenant (the admin CLI) sees every store.
//
// Thread-safe. Lookups run in parallel; writes to one store are serialized.
#ifndef VERSO_TM_TM_H_
#define VERSO_TM_TM_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/storage.h"

namespace verso {
class Clock;
class IdGenerator;
template <typename T>
class Channel;
}  // namespace verso

namespace verso::tm {

using storage::Note;
using storage::Property;
using storage::Scope;
using storage::SegmentContext;
using storage::SegmentRecord;
using storage::TmStoreRecord;

inline constexpr std::string_view kAnyTenant = "*";

struct Hit;             // tm/index.h
struct LookupStats;     // tm/index.h
struct CachedResult;    // tm/store.h
struct ConcordanceHit;  // tm/index.h

// The industry's match bands.
enum class Band { kContext, kExact, k95To99, k85To94, k75To84, k50To74, kNoMatch };
Band BandOf(int score);
// "101", "100", "95-99", "85-94", "75-84", "50-74", "no-match".
std::string_view BandName(Band band);

struct StoreInfo {
  TmStoreRecord record;
  int64_t segment_count = 0;
};

struct LookupOptions {
  int min_score = 50;   // 1..101
  int max_results = 5;  // 1..100
  SegmentContext context;
  // Score every segment instead of using the index (the linear-scan baseline; same results).
  bool exhaustive = false;
  // Never wait: when the answer needs a lock another thread holds, an index not built yet or
  // a record not in memory, answer WouldBlock (common/status.h) at once. For I/O threads.
  bool nonblocking = false;
};

struct Match {
  SegmentRecord segment;
  int score = 0;
  Band band = Band::kNoMatch;
  int base_score = 0;  // before penalties
  // Why the score is below the base: "case", "whitespace", "punctuation", "tags", "numbers".
  std::vector<std::pair<std::string, int>> penalties;
  bool context_match = false;
};

struct LookupResult {
  std::vector<Match> matches;  // best first
  int64_t candidates = 0;      // segments the lookup looked at
  int64_t verified = 0;        // segments whose edit distance it computed
};

// How a concordance query's words match a text's words (case, punctuation and tags ignored).
enum class ConcordanceMatchMode {
  kWords,      // whole words, consecutively ("file save")
  kPrefix,     // each query word starts a text word, consecutively ("fil sav" finds "file saved")
  kSubstring,  // the query inside the text across word boundaries ("ile sa" finds "file save")
};

// Words a prefix or substring concordance query may have (each scans the store's vocabulary).
inline constexpr size_t kMaxPartialWords = 8;

struct ConcordanceOptions {
  bool source = true;
  bool target = false;
  ConcordanceMatchMode match = ConcordanceMatchMode::kWords;
  int limit = 20;  // 1..1000
  // Paging: matches older than this one (segment id; the source side before the target side of
  // one segment). 0: from the newest.
  int64_t before_id = 0;
  bool before_in_source = false;
};

struct ConcordanceMatch {
  SegmentRecord segment;
  bool in_source = true;
  // Byte ranges of the matched words in segment.source (or .target).
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
};

struct ConcordanceResult {
  std::vector<ConcordanceMatch> matches;  // newest first
  int total = 0;            // matches in the whole store (every page), >= matches.size()
  bool total_exact = true;  // false: `total` is an upper bound (not every candidate checked)
  bool more = false;        // matches follow the last one (the next page)
};

struct StoreStats {
  StoreInfo info;
  size_t index_bytes = 0;
  size_t vocabulary = 0;
  size_t postings = 0;
};

struct ImportOptions {
  // Refuse the whole import if any unit is invalid (default: skip it and report why).
  bool strict = false;
  // When set and true, the import stops (Cancelled) and rolls back.
  const std::atomic<bool>* cancel = nullptr;
  // Creator/changer for units that name none.
  std::string user;
  // Called now and then with (bytes read, bytes total, units read); the file is read twice
  // (validated, then written): bytes read go up to twice the total.
  std::function<void(int64_t, int64_t, int64_t)> progress;
  // What errors call the file (empty: its path). Imports of uploads say "the upload" rather
  // than the server's path.
  std::string source_name;
};

struct SkippedUnit {
  int64_t line = 0;
  std::string reason;
};

struct ImportReport {
  int64_t units = 0;     // units read
  int64_t inserted = 0;  // new segments
  int64_t merged = 0;    // units equal to an existing segment (metadata updated)
  int64_t skipped = 0;
  std::vector<SkippedUnit> skipped_units;  // the first 1000, with reasons
  absl::Duration write_time;               // validate, then parse and store
  absl::Duration index_time;               // making the new segments searchable
};

// A background import (of an uploaded file).
struct ImportInfo {
  std::string id;
  std::string store_id;
  std::string status;  // "queued", "running", "succeeded", "failed"
  std::string error;   // when failed
  int64_t bytes_total = 0;
  int64_t bytes_read = 0;  // while running
  int64_t units = 0;       // units read so far (running) or in all (ended)
  ImportReport report;     // when succeeded
  absl::Time created_at;
  absl::Time finished_at = absl::InfinitePast();
};

struct LoadStats {
  int64_t stores = 0;
  int64_t segments = 0;
  absl::Duration elapsed;
};

// Lookup results kept for repeated lookups: in this process (L1) and, when `l2_get`/`l2_put`
// are set, in a cache every process shares (L2: Redis, the platform spec's table). An entry's
// key carries the store's position in the change log as this process has applied it, so a
// process never reads a result computed on an older view of the store than its own, and one
// that lags writes only under its own older key. While a write of this process is not yet read
// back from the log, its store bypasses the cache (read-your-writes). Lookups with
// min_score >= 100 are exact-match lookups ("tm:STORE:..."); the rest fuzzy ("tm_fuzzy:...").
struct ResultCacheOptions {
  size_t l1_bytes = 32 << 20;
  absl::Duration fuzzy_ttl = absl::Minutes(10);
  // The spec keeps exact matches until the store changes; with the position in the key an
  // entry is unreachable from then on, so it need not outlive a day.
  absl::Duration exact_ttl = absl::Hours(24);
  std::function<std::optional<std::string>(const std::string& key)> l2_get;
  std::function<void(const std::string& key, const std::string& value, absl::Duration ttl)> l2_put;
  // After each write this process makes to a store (the spec's InvalidateTMCache).
  std::function<void(const std::string& store_id)> l2_invalidate;
};

struct ResultCacheStats {
  int64_t l1_hits = 0;
  int64_t l2_hits = 0;
  int64_t misses = 0;    // computed
  int64_t bypassed = 0;  // a write of this process not yet read back
  int64_t l1_entries = 0;
  int64_t l1_bytes = 0;
};

// Where stores' indexes are when not every process holds every one: the TM nodes of a cluster
// (`verso serve --roles tm`; cluster/cluster.h). A process that does not hold a store's index
// asks a peer that does for a lookup's or a concordance query's hits, and reads the records
// itself (its record cache, the database), as it does for a cached answer. Thread-safe.
class IndexPeers {
 public:
  virtual ~IndexPeers() = default;
  // Whether this process holds the store's index: builds it, keeps it current and answers
  // peers' requests from it. Cheap: asked on every lookup.
  virtual bool Holds(std::string_view store_id) = 0;
  // Sends `request` (what TmService encodes) to a peer holding the store's index and returns
  // its answer, trying the store's other holders when one cannot answer. Unavailable when none
  // could.
  virtual absl::StatusOr<std::string> Ask(std::string_view store_id, std::string_view method,
                                          const std::string& request) = 0;
};

class TmService {
 public:
  // `db`, `clock` and `ids` must outlive the service.
  TmService(storage::Database* db, const Clock* clock, IdGenerator* ids);
  ~TmService();

  // Makes this process hold only the indexes `peers` says it holds, asking peers for the others
  // (`peers` must outlive the service). Call before Load.
  void SetIndexPeers(IndexPeers* peers) { peers_ = peers; }
  // A peer's request (IndexPeers::Ask): "lookup" and "concordance" of a store this process holds
  // the index of, answered once it has applied the change log as far as the asker had;
  // "ready" (no store): which of the store ids the request lists, one per line, this process
  // holds a built index of. FailedPrecondition when it does not hold the store's index or is
  // still building it (the asker tries another peer); InvalidArgument for a malformed request.
  // `nonblocking`: WouldBlock (common/status.h) instead of reading the log or waiting on a lock
  // (for I/O threads; asked again on a thread that may wait).
  absl::StatusOr<std::string> AnswerPeer(std::string_view method, std::string_view store_id,
                                         std::string_view request, bool nonblocking = false);
  // Index snapshots: a store's index written to DIR/STORE.snap with the change-log position it
  // reflects. Once enabled, an index this process builds starts from the store's snapshot when
  // there is one younger than `max_age` (the change log keeps an hour of changes), plus the
  // changes since, instead of reading and tokenizing every segment. Call before Load.
  void EnableSnapshots(std::string dir, absl::Duration max_age = absl::Minutes(30));
  // Writes the snapshot of one store whose index is built here (FailedPrecondition if not).
  absl::Status WriteSnapshot(std::string_view store_id);
  // Writes the snapshot of every store whose index is built here and changed since its last
  // snapshot (or has none, or its snapshot is half as old as `max_age`), at most once per
  // `interval` per store; returns how many.
  absl::StatusOr<int> WriteSnapshots(absl::Duration interval);
  // Frees a store's index (this process no longer holds it); rebuilt if ever used again.
  void DropIndex(std::string_view store_id);
  // Every store's id (for placement).
  std::vector<std::string> StoreIds();
  // Reads the stores from storage, and builds every store's index when `build_indexes` (else
  // each index is built on the store's first lookup). Call once, before anything else.
  absl::StatusOr<LoadStats> Load(bool build_indexes = true);
  // Brings this process's stores and indexes up to what the database holds: the changes any
  // process made since the last call (a store created, a segment added by `verso tm` or a
  // worker's confirm, updated or deleted), from the database's change log. Returns how many
  // changes it read. The server calls it about once a second; at most every ten minutes it
  // prunes changes older than an hour from the log.
  absl::StatusOr<int64_t> Sync();
  // Caches lookup results from now on (the server and workers; needs Sync to run). Call
  // before serving.
  void EnableResultCache(ResultCacheOptions options);
  // Drops this process's L1 results of a store (another process announced a change).
  void DropCachedResults(std::string_view store_id);
  ResultCacheStats CacheStats();

  // Counts one use of segment `id` of store `store_id` now: a match applied as a translation
  // (an exact match that /v1/translate answers with, or that a job's pre-translation takes).
  // Only counted in memory here; FlushUsage writes the counts (usage_count, last_used_at), so
  // that a lookup never writes. Lookups that only show matches are not uses.
  void RecordUse(std::string_view store_id, int64_t id);
  // Writes the uses counted since the last flush in one transaction; returns how many segments
  // it updated. The server calls it with Sync, and at shutdown.
  absl::StatusOr<int64_t> FlushUsage();
  // Builds one store's index now if it is not built yet; returns how long that took (zero when
  // it was built already). With snapshots on, an index read from storage is written as the
  // store's snapshot (the next process, a CLI command, starts from it).
  struct Warmed {
    absl::Duration took;         // zero: it was built already
    bool from_snapshot = false;  // read from the store's snapshot (and the changes since)
  };
  absl::StatusOr<Warmed> Warm(std::string_view tenant, std::string_view store_id);

  absl::StatusOr<StoreInfo> CreateStore(std::string_view tenant, std::string_view name,
                                        std::string_view source_lang, std::string_view target_lang);
  absl::StatusOr<StoreInfo> GetStore(std::string_view tenant, std::string_view store_id);
  absl::StatusOr<std::vector<StoreInfo>> ListStores(std::string_view tenant);
  absl::Status DeleteStore(std::string_view tenant, std::string_view store_id);

  // Adds segments in one transaction. A segment equal to an existing one (source, target and
  // context) is merged into it (see storage::SegmentWriter::Put). Validation errors name the
  // segment ("segments[3].source: ..."). Missing dates become now; a missing creator `user`.
  absl::StatusOr<std::vector<SegmentRecord>> AddSegments(std::string_view tenant,
                                                         std::string_view store_id,
                                                         std::vector<SegmentRecord> segments,
                                                         std::string_view user);
  // Replaces source, target, context, properties and notes of segment `segment.id`.
  absl::StatusOr<SegmentRecord> UpdateSegment(std::string_view tenant, std::string_view store_id,
                                              SegmentRecord segment, std::string_view user);
  absl::Status DeleteSegment(std::string_view tenant, std::string_view store_id, int64_t id);
  absl::StatusOr<SegmentRecord> GetSegment(std::string_view tenant, std::string_view store_id,
                                           int64_t id);
  // The store's segments in id order after `after_id`, at most `limit` (1..1000); *more tells
  // whether any follow.
  absl::StatusOr<std::vector<SegmentRecord>> ListSegments(std::string_view tenant,
                                                          std::string_view store_id,
                                                          int64_t after_id, int limit, bool* more);

  // `source` is tagged text (text/text.h).
  absl::StatusOr<LookupResult> Lookup(std::string_view tenant, std::string_view store_id,
                                      std::string_view source, const LookupOptions& options);
  // Several lookups in one store with the same options but each its own source and context: as
  // many Lookup calls, but a peer holding the store's index is asked once for all of them and
  // the records are read together. A failure names the query in *failed (its index).
  struct BatchQuery {
    std::string_view source;
    SegmentContext context;
  };
  absl::StatusOr<std::vector<LookupResult>> LookupMany(std::string_view tenant,
                                                       std::string_view store_id,
                                                       const std::vector<BatchQuery>& queries,
                                                       const LookupOptions& options,
                                                       size_t* failed = nullptr);
  absl::StatusOr<ConcordanceResult> Concordance(std::string_view tenant, std::string_view store_id,
                                                std::string_view phrase,
                                                const ConcordanceOptions& options);
  absl::StatusOr<StoreStats> Stats(std::string_view tenant, std::string_view store_id);

  // Every store's index size, without building any (for metrics).
  struct IndexSize {
    std::string store_id;
    bool built = false;
    bool from_snapshot = false;  // built from a snapshot (EnableSnapshots), not from storage
    size_t segments = 0;
    size_t bytes = 0;
  };
  std::vector<IndexSize> IndexSizes();

  // TMX 1.4b import. The file is validated before anything is written: malformed XML, a
  // missing srclang, compressed or unreadable input fail the whole import (nothing is written);
  // invalid units are skipped and reported, or fail it when strict. Then it is written in
  // transactions of about 50 ms (other writers go between them); a failure while writing
  // (disk full, shutdown) leaves what was written, and says how much.
  absl::StatusOr<ImportReport> ImportTmx(std::string_view tenant, std::string_view store_id,
                                         const std::string& path, const ImportOptions& options);
  // gettext PO import: msgid -> msgstr (and msgid_plural -> msgstr[1]), msgctxt as context key,
  // comments as notes. Fuzzy, obsolete and untranslated entries are skipped.
  absl::StatusOr<ImportReport> ImportPo(std::string_view tenant, std::string_view store_id,
                                        const std::string& path, const ImportOptions& options);
  // Imports `file` ("tmx" or "po") in the background; the service owns the file from now on and
  // deletes it when the import ends. The import is durable: if the process stops before it
  // ends, ResumeImports() runs it again from the start (what was committed merges with the
  // repeat, so nothing is added twice). Imports queue: at most two run at once, one per
  // tenant; a tenant with Imports::kMaxPendingPerTenant unfinished ones is Throttled.
  absl::StatusOr<ImportInfo> StartImport(std::string_view tenant, std::string_view store_id,
                                         const std::string& file, std::string_view format,
                                         std::string_view user);
  absl::StatusOr<ImportInfo> GetImport(std::string_view tenant, std::string_view store_id,
                                       std::string_view import_id);
  // Restarts the imports that were queued or running when the process last stopped.
  absl::Status ResumeImports();
  // Waits until every running import has ended.
  void DrainImports();
  // Interrupts running imports (they roll back and resume at the next start) and waits for
  // their threads. Call before destroying the service.
  void StopImports();

  // Writes the store as TMX 1.4b; returns the number of units written.
  absl::StatusOr<int64_t> ExportTmx(std::string_view tenant, std::string_view store_id,
                                    std::ostream* out);

 private:
  struct Store;
  absl::StatusOr<std::shared_ptr<Store>> FindStore(std::string_view tenant,
                                                   std::string_view store_id,
                                                   bool nonblocking = false);
  absl::StatusOr<StoreInfo> Info(const Store& store);
  // Checks and completes a segment before it is written.
  absl::Status ValidateAndComplete(SegmentRecord* segment, std::string_view user, absl::Time now);
  // The records of `ids` that exist, in the order of `ids`, from the cache or storage.
  absl::StatusOr<std::vector<SegmentRecord>> FetchRecords(Store* store,
                                                          const std::vector<int64_t>& ids,
                                                          bool nonblocking = false);
  // Builds the store's index if it is not built yet.
  absl::Status EnsureIndexed(Store* store);
  // Rebuilds the store's index without its dead slots when they have piled up. Needs write_mu.
  void CompactIfNeeded(Store* store);
  // Builds the store's index from its snapshot and the changes since (write_mu and sync_mu_
  // held); false when there is no usable snapshot.
  absl::StatusOr<bool> IndexFromSnapshot(Store* store);
  // Makes an unchanged store's snapshot young again by rewriting only its header's time
  // (the index in it still reflects the store): false when the file is not the snapshot this
  // process wrote or read last at `position` (then the caller writes it whole).
  absl::StatusOr<bool> RefreshSnapshot(Store* store, int64_t position, int64_t placement);
  // Applies segment changes to the store's index (write_mu held): re-reads added and changed
  // segments from storage, removes deleted ones.
  absl::Status ApplyToIndex(Store* store, const std::vector<storage::TmChange>& changes);
  std::string SnapshotPath(std::string_view store_id) const;
  std::string snapshot_dir_;  // empty: no snapshots
  absl::Duration snapshot_max_age_;
  // Makes segments that storage holds (ids after `after_id`, plus `ids`) searchable.
  absl::Status IndexFromStorage(Store* store, int64_t after_id, const std::vector<int64_t>& ids);
  // One unit of an import: a record to write, or why the unit is skipped.
  struct ImportItem {
    SegmentRecord record;
    int64_t line = 0;
    std::string skip;
  };
  // One pass over an import's input: `next` yields items until it returns false; `progress`
  // (optional) hears the units read so far.
  struct ImportSource {
    std::function<absl::StatusOr<bool>(ImportItem*)> next;
    std::function<void(int64_t)> progress;
  };
  // The passes over an import's input: kScan only reads it (the items it yields carry nothing
  // but their line), kValidate converts and checks every unit too, kWrite is the pass that
  // writes.
  enum class ImportPass { kScan, kValidate, kWrite };
  using OpenImport = std::function<absl::StatusOr<ImportSource>(ImportPass pass)>;
  // Reads the whole input first (nothing is written if it is malformed, or has an invalid unit
  // in a strict import), then writes it in transactions of about 50 ms each, so that an import
  // never holds the database for long, and indexes what it wrote.
  absl::StatusOr<ImportReport> RunImport(const std::shared_ptr<Store>& store,
                                         const OpenImport& open, const ImportOptions& options);
  // RunImport's steps. Pass 1: reads the input, writes nothing.
  absl::Status CheckImport(const OpenImport& open, const ImportOptions& options, absl::Time now);
  // What pass 2 wrote: committed units, the first id inserted, the ids merged into.
  struct ImportWrite {
    int64_t written = 0;
    int64_t first_inserted = -1;
    std::vector<int64_t> merged;
    absl::Status status;  // the first failure (reading or writing), if any
  };
  // Pass 2: this thread parses and validates into `report`, WriteBatches stores on another.
  ImportWrite WriteImport(Store* store, const OpenImport& open, const ImportOptions& options,
                          absl::Time now, ImportReport* report);
  // Stores the batches `channel` brings in transactions of about 50 ms; the open one is rolled
  // back when `read_failed` is set by the time the channel closes.
  void WriteBatches(Store* store, Channel<std::vector<SegmentRecord>>* channel,
                    const std::atomic<bool>& read_failed, ImportWrite* out);

  // Runs one import to its end and records the outcome.
  void RunBackgroundImport(storage::ImportRecord record);
  absl::StatusOr<ImportReport> ImportFile(const std::string& tenant, const std::string& store_id,
                                          const std::string& file, const std::string& format,
                                          const ImportOptions& options);

  // Peers' side (peers.cc): whether this process holds the store's index; a lookup's and a
  // concordance query's hits from the peer that does.
  bool HeldHere(std::string_view store_id) { return peers_ == nullptr || peers_->Holds(store_id); }
  absl::StatusOr<CachedResult> AskLookup(Store* store, std::string_view source,
                                         const LookupOptions& options);
  // Several lookups' hits in one request ("lookups").
  absl::StatusOr<std::vector<CachedResult>> AskLookups(Store* store,
                                                       const std::vector<BatchQuery>& queries,
                                                       const LookupOptions& options);
  absl::StatusOr<std::string> AnswerLookups(Store* store, std::string_view request);
  // A lookup's hits: from the result cache, the peer holding the store's index, or the index.
  absl::StatusOr<std::vector<Hit>> HitsOf(Store* store, std::string_view source,
                                          const LookupOptions& options, LookupStats* stats);
  // A lookup's answer from its hits: the records read (from the cache or storage), penalties
  // named. Hits whose segment is gone are left out.
  absl::StatusOr<LookupResult> MatchesOf(Store* store, const std::vector<Hit>& hits,
                                         const LookupStats& stats, bool nonblocking);
  // The hits of a concordance query in *hits, its total, total_exact and more in *page.
  absl::Status AskConcordance(Store* store, std::string_view phrase,
                              const ConcordanceOptions& options, std::vector<ConcordanceHit>* hits,
                              ConcordanceResult* page);
  absl::StatusOr<std::string> AnswerLookup(Store* store, std::string_view request,
                                           bool nonblocking);
  absl::StatusOr<std::string> AnswerConcordance(Store* store, std::string_view request);
  // The change-log position a peer must have applied before answering for `store`: what this
  // process has applied of it, or -1 (the log's end) while a write of its own is not read back.
  int64_t PeerFloor(const Store& store) const;

  IndexPeers* peers_ = nullptr;
  storage::Database* db_;
  storage::TmRepository* repo_;
  const Clock* clock_;
  IdGenerator* ids_;
  struct Stores;
  std::unique_ptr<Stores> stores_;
  struct Imports;
  std::unique_ptr<Imports> imports_;
  // Sync's steps: the store list as storage has it; one store's segment changes.
  // Applies log `log`'s changes after synced_seq_[log]; how many it read.
  absl::StatusOr<int64_t> SyncLog(int log) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  absl::Status SyncStores();
  absl::Status SyncSegments(Store* store, const std::vector<storage::TmChange>& changes);
  // The result cache's steps (result_cache.cc). After a write of this process to `store`
  // committed (write_mu held): the store bypasses the cache until Sync reads the write back.
  void Wrote(Store* store);
  // After Sync read the log to its end, which holds every write of this process up to `epoch`:
  // the stores written before serve from the cache again.
  void ReleaseWritten(int64_t epoch);
  // The cached answer to a lookup, if any; *key is set to where to put it (empty: no caching).
  std::optional<std::vector<Hit>> CachedHits(Store* store, std::string_view source,
                                             const LookupOptions& options, LookupStats* stats,
                                             std::string* key);
  void PutHits(const std::string& key, std::string_view source, const std::vector<Hit>& hits,
               const LookupStats& stats, const LookupOptions& options);
  struct ResultCache;
  std::unique_ptr<ResultCache> results_;  // null: no result cache
  std::atomic<int64_t> own_writes_{0};
  std::atomic<int64_t> synced_epoch_{0};  // own_writes_ when the last Sync began (it read them)
  // Per change log (storage.h: one per database holding TM data): the position of the last
  // change applied, and the same readable without sync_mu_.
  std::atomic<int64_t> synced_at_[storage::kMaxChangeLogs] = {};
  absl::Mutex sync_mu_;
  std::vector<int64_t> synced_seq_ ABSL_GUARDED_BY(sync_mu_);
  // The position log `log` was synced to (its start when this process does not read it).
  int64_t SyncedIn(int log) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  absl::Time pruned_at_ ABSL_GUARDED_BY(sync_mu_) = absl::InfinitePast();
  absl::Mutex usage_mu_;
  // Uses not written yet, by (store id, segment id).
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, absl::Time>> usage_
      ABSL_GUARDED_BY(usage_mu_);
};

// Validates a segment text: well-formed tagged text, valid UTF-8, no control characters other
// than tab, LF and CR, at most kMaxTextBytes. `field` names it in the error ("source").
inline constexpr size_t kMaxTextBytes = 100'000;
absl::Status ValidateText(std::string_view text, std::string_view field);

}  // namespace verso::tm

#endif  // VERSO_TM_TM_H_
