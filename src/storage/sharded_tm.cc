#include "storage/sharded_tm.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "common/strings.h"

namespace verso::storage {

namespace {

const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

struct Shard {
  std::string name;
  int num = 0;  // its change log
  std::unique_ptr<Database> db;
  TmShardOps* ops = nullptr;
  TmRepository& tm() const { return db->tm(); }
};

struct Route {
  Shard* shard = nullptr;
  int64_t version = 0;
};

class ShardedTmImpl : public ShardedTm, public TmRepository {
 public:
  ShardedTmImpl(std::vector<std::unique_ptr<Shard>> shards,
                std::function<std::string(std::string_view)> place)
      : shards_(std::move(shards)), place_(std::move(place)) {
    for (auto& s : shards_) {
      by_name_[s->name] = s.get();
      logs_ = std::max(logs_, s->num + 1);
      by_log_[s->num] = s.get();
    }
  }

  Shard& home() const { return *shards_.front(); }
  TmShardOps& directory() const { return *home().ops; }

  // ---- Database: TM is sharded, the rest is the home database's ----
  TmRepository& tm() override { return *this; }
  KeyRepository& keys() override { return home().db->keys(); }
  ImportRepository& imports() override { return home().db->imports(); }
  PolicyRepository& policies() override { return home().db->policies(); }
  GlossaryRepository& glossaries() override { return home().db->glossaries(); }
  QaProfileRepository& qa_profiles() override { return home().db->qa_profiles(); }
  JobRepository& jobs() override { return home().db->jobs(); }
  ClusterRepository& cluster() override { return home().db->cluster(); }
  AuditRepository& audit() override { return home().db->audit(); }
  UserRepository& users() override { return home().db->users(); }
  absl::Status Ping() override {
    for (const auto& s : shards_) {
      if (absl::Status p = s->db->Ping(); !p.ok()) {
        return Annotate(p, StrCat("TM shard ", s->name));
      }
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> Maintain(absl::Time now) override {
    return home().db->Maintain(now);
  }
  bool OnTmChanged(std::function<void()> fn) override {
    bool all = true;
    for (const auto& s : shards_) all = s->db->OnTmChanged(fn) && all;
    return all;
  }
  std::vector<ReplicaState> Replicas() override { return home().db->Replicas(); }
  absl::StatusOr<std::vector<std::string>> ArchiveJobs(absl::Time before) override {
    return home().db->ArchiveJobs(before);
  }

  std::vector<std::string> ShardNames() const override {
    std::vector<std::string> out;
    for (const auto& s : shards_) out.push_back(s->name);
    return out;
  }

  // ---- The change logs: one per shard ----
  int ChangeLogs() override { return logs_; }

  absl::StatusOr<int64_t> LastChange() override { return LastChangeIn(0); }

  absl::StatusOr<int64_t> LastChangeIn(int log) override {
    Shard* s = Log(log);
    if (s == nullptr) return ChangePosition(log, 0);  // a shard this process does not use
    VERSO_ASSIGN_OR_RETURN(int64_t seq, s->tm().LastChange());
    return ChangePosition(log, seq);
  }

  absl::StatusOr<std::vector<TmChange>> ChangesAfter(int64_t position, int limit) override {
    const int log = ChangeLog(position);
    Shard* s = Log(log);
    if (s == nullptr) return std::vector<TmChange>{};
    VERSO_ASSIGN_OR_RETURN(std::vector<TmChange> changes,
                           s->tm().ChangesAfter(ChangeSeq(position), limit));
    for (TmChange& c : changes) c.seq = ChangePosition(log, c.seq);
    return changes;
  }

  absl::Status RefreshStatistics(std::string_view store_id) override {
    return Routed(store_id, [&](Shard& s) { return s.tm().RefreshStatistics(store_id); });
  }
  absl::Status PruneChanges(absl::Time before) override {
    for (const auto& s : shards_) VERSO_RETURN_IF_ERROR(s->tm().PruneChanges(before));
    return absl::OkStatus();
  }

  // ---- Stores ----
  absl::Status CreateStore(const TmStoreRecord& store) override {
    Shard* shard = Named(place_(store.id));
    if (shard == nullptr) shard = &home();
    VERSO_ASSIGN_OR_RETURN(std::optional<TmShardOps::Placement> existing,
                           directory().GetPlacement(store.id));
    if (existing.has_value()) {
      return absl::AlreadyExistsError(StrCat("TM store ", store.id, " already exists"));
    }
    // The directory first: a store is never in a shard without a row naming it.
    VERSO_RETURN_IF_ERROR(directory().PutPlacement({store.id, shard->name, 1}));
    absl::Status made = shard->tm().CreateStore(store);
    if (!made.ok()) {
      (void)directory().DeletePlacement(store.id);
      return made;
    }
    Remember(store.id, {shard, 1});
    return absl::OkStatus();
  }

  absl::StatusOr<TmStoreRecord> GetStore(std::string_view id) override {
    VERSO_ASSIGN_OR_RETURN(TmStoreRecord record,
                           Routed(id, [&](Shard& s) { return s.tm().GetStore(id); }));
    VERSO_ASSIGN_OR_RETURN(Route route, ReadRoute(id));  // where Routed found it
    Fill(&record, route);
    return record;
  }

  absl::StatusOr<std::vector<TmStoreRecord>> ListStores(std::string_view tenant) override {
    VERSO_ASSIGN_OR_RETURN(std::vector<TmShardOps::Placement> placements,
                           directory().ListPlacements());
    absl::flat_hash_map<std::string, Route> routes;
    for (const TmShardOps::Placement& p : placements) {
      if (Shard* s = Named(p.shard); s != nullptr) routes[p.store_id] = {s, p.version};
    }
    // Each shard lists the stores that live there (not copies arriving, not tombstones). A store
    // live in two shards is between a move's steps 4 and 5: the directory's shard is the one.
    std::map<std::string, std::vector<std::pair<Shard*, TmStoreRecord>>> live;
    for (const auto& s : shards_) {
      VERSO_ASSIGN_OR_RETURN(std::vector<TmStoreRecord> records, s->tm().ListStores(tenant));
      for (TmStoreRecord& r : records) live[r.id].emplace_back(s.get(), std::move(r));
    }
    std::vector<TmStoreRecord> out;
    for (auto& [id, where] : live) {
      auto it = routes.find(id);
      // A store without a directory row is one made before sharding: the home database's.
      Route route = it != routes.end() ? it->second : Route{&home(), 0};
      auto in = std::find_if(where.begin(), where.end(),
                             [&](const auto& w) { return w.first == route.shard; });
      if (in == where.end()) {
        if (where.size() != 1) continue;
        // The directory lags a move that stopped after marking its source: the store lives
        // where its only live row is.
        in = where.begin();
        route = {in->first, route.version + 1};
        routes[id] = route;
      }
      Fill(&in->second, route);
      out.push_back(std::move(in->second));
    }
    // The shards are read one after another: a store whose move switched between two reads
    // (its target read before the switch, its source after) is in neither. Omitting it would
    // look like its deletion to every process, which would drop its index: ask its route.
    // (The whole list is what processes sync their stores by; a tenant's is only shown.)
    bool added = false;
    for (const TmShardOps::Placement& p : placements) {
      if (!tenant.empty() || live.contains(p.store_id)) continue;
      Forget(p.store_id);
      auto record = GetStore(p.store_id);
      if (absl::IsNotFound(record.status())) continue;  // deleted meanwhile
      if (!record.ok()) return record.status();
      if (Shard* s = Named(record->shard); s != nullptr)
        routes[p.store_id] = {s, record->placement};
      out.push_back(std::move(*record));
      added = true;
    }
    if (added) {
      std::sort(out.begin(), out.end(),
                [](const TmStoreRecord& a, const TmStoreRecord& b) { return a.id < b.id; });
    }
    if (tenant.empty()) {
      absl::MutexLock lock(&routes_mu_);
      routes_ = std::move(routes);
    }
    return out;
  }

  absl::Status DeleteStore(std::string_view id) override {
    VERSO_ASSIGN_OR_RETURN(Route route, ReadRoute(id));
    VERSO_RETURN_IF_ERROR(route.shard->tm().DeleteStore(id));
    // The tombstones of earlier moves (or a copy a stopped move left) go too.
    for (const auto& s : shards_) {
      if (s.get() == route.shard) continue;
      absl::Status gone = s->tm().DeleteStore(id);
      if (!gone.ok() && !absl::IsNotFound(gone)) return gone;
    }
    VERSO_RETURN_IF_ERROR(directory().DeletePlacement(id));
    Forget(id);
    return absl::OkStatus();
  }

  // ---- Segments: routed to the store's shard ----
  absl::StatusOr<std::unique_ptr<SegmentWriter>> BeginWrite(std::string_view store_id) override {
    return Routed(store_id, [&](Shard& s) { return s.tm().BeginWrite(store_id); });
  }
  absl::Status UpdateSegment(std::string_view store_id, const SegmentRecord& segment) override {
    return Routed(store_id, [&](Shard& s) { return s.tm().UpdateSegment(store_id, segment); });
  }
  absl::Status DeleteSegment(std::string_view store_id, int64_t id) override {
    return Routed(store_id, [&](Shard& s) { return s.tm().DeleteSegment(store_id, id); });
  }
  absl::StatusOr<SegmentRecord> GetSegment(std::string_view store_id, int64_t id) override {
    return Routed(store_id, [&](Shard& s) { return s.tm().GetSegment(store_id, id); });
  }
  absl::StatusOr<std::vector<SegmentRecord>> GetSegments(std::string_view store_id,
                                                         const std::vector<int64_t>& ids) override {
    return Routed(store_id, [&](Shard& s) { return s.tm().GetSegments(store_id, ids); });
  }
  absl::StatusOr<int64_t> CountSegments(std::string_view store_id) override {
    return Routed(store_id, [&](Shard& s) { return s.tm().CountSegments(store_id); });
  }
  absl::Status ScanSegments(std::string_view store_id, int64_t after_id,
                            const std::function<bool(const SegmentRecord&)>& fn) override {
    return Routed(store_id, [&](Shard& s) { return s.tm().ScanSegments(store_id, after_id, fn); });
  }
  absl::Status ScanSegmentTexts(std::string_view store_id, int64_t after_id,
                                const std::function<bool(SegmentRecord&)>& fn) override {
    return Routed(store_id,
                  [&](Shard& s) { return s.tm().ScanSegmentTexts(store_id, after_id, fn); });
  }

  // Uses go to each store's shard, one batch per shard; a batch refused because one of its
  // stores moved (nothing of it applied) is routed again.
  absl::StatusOr<int64_t> RecordUsage(const std::vector<SegmentUse>& uses) override {
    std::vector<SegmentUse> pending = uses;
    int64_t applied = 0;
    for (int attempt = 0; !pending.empty(); ++attempt) {
      std::map<Shard*, std::vector<SegmentUse>> by_shard;
      for (SegmentUse& u : pending) {
        auto route = ReadRoute(u.store_id);
        if (!route.ok()) continue;  // a store gone: skipped, as a missing segment is
        by_shard[route->shard].push_back(std::move(u));
      }
      pending.clear();
      for (auto& [shard, batch] : by_shard) {
        auto n = shard->tm().RecordUsage(batch);
        if (n.ok()) {
          applied += *n;
          continue;
        }
        if (!MovedTo(n.status()).has_value() || attempt >= kRouteAttempts) return n.status();
        for (const SegmentUse& u : batch) Forget(u.store_id);
        pending.insert(pending.end(), batch.begin(), batch.end());
      }
    }
    return applied;
  }

  absl::StatusOr<MoveReport> MoveStore(std::string_view store_id, std::string_view to,
                                       const MoveOptions& options) override;

 private:
  static constexpr int kRouteAttempts = 4;

  Shard* Named(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : it->second;
  }
  Shard* Log(int log) const { return log >= 0 && log < kMaxChangeLogs ? by_log_[log] : nullptr; }

  static void Fill(TmStoreRecord* r, const Route& route) {
    r->shard = route.shard->name;
    r->log = route.shard->num;
    r->placement = route.version;
  }

  void Remember(std::string_view id, Route route) {
    absl::MutexLock lock(&routes_mu_);
    routes_[std::string(id)] = route;
  }
  void Forget(std::string_view id) {
    absl::MutexLock lock(&routes_mu_);
    routes_.erase(std::string(id));
  }

  // The store's shard: remembered, else read from the directory.
  absl::StatusOr<Route> ReadRoute(std::string_view id) {
    {
      absl::MutexLock lock(&routes_mu_);
      auto it = routes_.find(std::string(id));
      if (it != routes_.end()) return it->second;
    }
    VERSO_ASSIGN_OR_RETURN(std::optional<TmShardOps::Placement> p, directory().GetPlacement(id));
    Route route{&home(), 0};
    if (p.has_value()) {
      route = {Named(p->shard), p->version};
      if (route.shard == nullptr) {
        return absl::UnavailableError(StrCat("TM store ", id, " is in TM shard ", p->shard,
                                             ", which storage.tm_shards does not name"));
      }
    }
    Remember(id, route);
    return route;
  }

  // Runs fn(shard) on the store's shard; when the store moved meanwhile, on its new one.
  template <typename F>
  auto Routed(std::string_view id, F&& fn) -> decltype(fn(std::declval<Shard&>())) {
    for (int attempt = 0;; ++attempt) {
      VERSO_ASSIGN_OR_RETURN(Route route, ReadRoute(id));
      auto result = fn(*route.shard);
      std::optional<std::string> moved = MovedTo(StatusOf(result));
      if (!moved.has_value() || attempt + 1 >= kRouteAttempts) return result;
      // The source says where the store went before the directory does (step 4 precedes 5).
      Shard* next = Named(*moved);
      if (next != nullptr) {
        Remember(id, {next, route.version + 1});
      } else {
        Forget(id);
        absl::SleepFor(absl::Milliseconds(20 << attempt));  // a copy still arriving
      }
    }
  }

  // Copies the source's current rows of `ids` into the target (ids gone are deleted there).
  static absl::StatusOr<int64_t> CopyIds(Shard& from, Shard& to, std::string_view store_id,
                                         const std::set<int64_t>& ids);
  // The store's changed segment ids in `from`'s log after `*seq` (advanced to the log's end).
  static absl::StatusOr<std::set<int64_t>> ChangedIds(Shard& from, std::string_view store_id,
                                                      int64_t* seq);
  absl::StatusOr<MoveReport> FinishMove(std::string_view store_id, Shard& from, Shard& to,
                                        const MoveOptions& options, MoveReport report);

  std::vector<std::unique_ptr<Shard>> shards_;  // "main" first
  std::function<std::string(std::string_view)> place_;
  absl::flat_hash_map<std::string, Shard*> by_name_;
  Shard* by_log_[kMaxChangeLogs] = {};
  int logs_ = 1;
  absl::Mutex routes_mu_;
  absl::flat_hash_map<std::string, Route> routes_ ABSL_GUARDED_BY(routes_mu_);
};

absl::StatusOr<int64_t> ShardedTmImpl::CopyIds(Shard& from, Shard& to, std::string_view store_id,
                                               const std::set<int64_t>& ids) {
  constexpr size_t kBatch = 2000;
  std::vector<int64_t> batch;
  int64_t copied = 0;
  for (auto it = ids.begin(); it != ids.end();) {
    batch.clear();
    for (; it != ids.end() && batch.size() < kBatch; ++it) batch.push_back(*it);
    VERSO_ASSIGN_OR_RETURN(std::vector<SegmentRecord> rows, from.tm().GetSegments(store_id, batch));
    VERSO_RETURN_IF_ERROR(to.ops->ReplaceSegments(store_id, batch, rows));
    copied += static_cast<int64_t>(batch.size());
  }
  return copied;
}

absl::StatusOr<std::set<int64_t>> ShardedTmImpl::ChangedIds(Shard& from, std::string_view store_id,
                                                            int64_t* seq) {
  std::set<int64_t> ids;
  while (true) {
    VERSO_ASSIGN_OR_RETURN(std::vector<TmChange> changes, from.tm().ChangesAfter(*seq, 10'000));
    if (changes.empty()) return ids;
    for (const TmChange& c : changes) {
      if (c.store_id == store_id && c.segment_id != 0) ids.insert(c.segment_id);
    }
    *seq = changes.back().seq;
  }
}

absl::StatusOr<MoveReport> ShardedTmImpl::MoveStore(std::string_view store_id,
                                                    std::string_view to_name,
                                                    const MoveOptions& options) {
  auto say = [&](std::string_view line) {
    if (options.progress) options.progress(line);
  };
  const absl::Time start = absl::Now();
  Shard* to = Named(to_name);
  if (to == nullptr) {
    return absl::InvalidArgumentError(StrCat("--to: no TM shard named \"", to_name, "\" (shards: ",
                                             absl::StrJoin(ShardNames(), ", "), ")"));
  }
  Forget(store_id);
  VERSO_ASSIGN_OR_RETURN(Route route, ReadRoute(store_id));
  Shard& from = *route.shard;
  if (&from == to) {
    return absl::FailedPreconditionError(
        StrCat("TM store ", store_id, " is in TM shard ", to->name, " already"));
  }
  if (from.ops == nullptr || to->ops == nullptr) {
    return absl::FailedPreconditionError("moving TM stores needs PostgreSQL shards");
  }
  MoveReport report;
  report.from = from.name;
  report.to = to->name;
  if (route.version == 0) {  // a store made before sharding: its directory row first
    VERSO_RETURN_IF_ERROR(directory().PutPlacement({std::string(store_id), from.name, 0}));
  }
  VERSO_ASSIGN_OR_RETURN(std::string moved, from.ops->WhereMoved(store_id));
  if (moved == to->name) {  // an earlier move stopped after step 4: finish it
    say("the source is marked moved already: finishing the earlier move");
    return FinishMove(store_id, from, *to, options, std::move(report));
  }
  VERSO_ASSIGN_OR_RETURN(TmStoreRecord record, from.tm().GetStore(store_id));

  // 1-2: the fenced copy and the bulk of the segments.
  VERSO_RETURN_IF_ERROR(to->ops->BeginIncoming(record));
  const absl::Time began = absl::Now();
  VERSO_ASSIGN_OR_RETURN(int64_t seq, from.tm().LastChange());
  std::vector<SegmentRecord> rows;
  std::vector<int64_t> ids;
  absl::Status copy_status;
  auto flush = [&]() -> absl::Status {
    VERSO_RETURN_IF_ERROR(to->ops->ReplaceSegments(store_id, ids, rows));
    report.copied += static_cast<int64_t>(rows.size());
    rows.clear();
    ids.clear();
    return absl::OkStatus();
  };
  VERSO_RETURN_IF_ERROR(from.tm().ScanSegments(store_id, 0, [&](const SegmentRecord& r) {
    ids.push_back(r.id);
    rows.push_back(r);
    if (rows.size() >= 2000) copy_status = flush();
    return copy_status.ok();
  }));
  VERSO_RETURN_IF_ERROR(copy_status);
  VERSO_RETURN_IF_ERROR(flush());
  say(StrCat("copied ", report.copied, " segments from ", from.name, " to ", to->name));

  // 3: catch up while writers go on.
  while (report.rounds < options.max_catch_up_rounds) {
    VERSO_ASSIGN_OR_RETURN(std::set<int64_t> changed, ChangedIds(from, store_id, &seq));
    VERSO_ASSIGN_OR_RETURN(int64_t n, CopyIds(from, *to, store_id, changed));
    report.replayed += n;
    ++report.rounds;
    if (n <= options.freeze_below) break;
  }

  // 4: freeze, copy the rest, switch.
  const absl::Time frozen = absl::Now();
  VERSO_ASSIGN_OR_RETURN(std::unique_ptr<TmShardOps::Fence> fence, from.ops->Freeze(store_id));
  VERSO_ASSIGN_OR_RETURN(std::set<int64_t> changed, ChangedIds(from, store_id, &seq));
  VERSO_ASSIGN_OR_RETURN(int64_t n, CopyIds(from, *to, store_id, changed));
  report.replayed += n;
  VERSO_ASSIGN_OR_RETURN(std::vector<SegmentRecord> used,
                         from.ops->UsedSince(store_id, began - options.usage_margin));
  VERSO_RETURN_IF_ERROR(to->ops->SetUsage(store_id, used));
  report.usage = static_cast<int64_t>(used.size());
  VERSO_RETURN_IF_ERROR(to->ops->GoLive(store_id));
  VERSO_RETURN_IF_ERROR(fence->MarkMoved(to->name));
  report.frozen = absl::Now() - frozen;
  say(StrCat("switched after ", report.rounds, " catch-up rounds (", report.replayed,
             " segments copied again); writers waited ", absl::FormatDuration(report.frozen)));
  report.total = absl::Now() - start;
  return FinishMove(store_id, from, *to, options, std::move(report));
}

absl::StatusOr<MoveReport> ShardedTmImpl::FinishMove(std::string_view store_id, Shard& from,
                                                     Shard& to, const MoveOptions& options,
                                                     MoveReport report) {
  const absl::Time start = absl::Now();
  // 5: the directory, then a store change in the target's log for every process to read it.
  VERSO_ASSIGN_OR_RETURN(std::optional<TmShardOps::Placement> p,
                         directory().GetPlacement(store_id));
  const int64_t version = (p.has_value() ? p->version : 0) + 1;
  VERSO_RETURN_IF_ERROR(directory().PutPlacement({std::string(store_id), to.name, version}));
  Remember(store_id, {&to, version});
  VERSO_RETURN_IF_ERROR(to.ops->TouchStore(store_id));
  // 6: the source's copy, once every process has had time to read the move.
  absl::SleepFor(options.grace);
  VERSO_RETURN_IF_ERROR(from.ops->DropMovedSegments(store_id));
  if (options.progress) {
    options.progress(StrCat("TM store ", store_id, " is in TM shard ", to.name, "; the copy in ",
                            from.name, " is dropped"));
  }
  report.total += absl::Now() - start;
  return report;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShardedTm>> OpenShardedTm(
    std::unique_ptr<Database> home, std::vector<TmShardSpec> specs,
    std::function<std::string(std::string_view)> place) {
  TmShardOps* directory = home->tm_shard_ops();
  if (directory == nullptr) {
    return absl::InvalidArgumentError(
        "storage.tm_shards: TM shards need a PostgreSQL storage.url (the home database keeps "
        "their directory)");
  }
  std::vector<std::unique_ptr<Shard>> shards;
  auto main = std::make_unique<Shard>();
  main->name = std::string(kHomeShard);
  main->db = std::move(home);
  main->ops = directory;
  shards.push_back(std::move(main));
  std::set<std::string> names = {std::string(kHomeShard)};
  for (TmShardSpec& spec : specs) {
    if (!names.insert(spec.name).second) {
      return absl::InvalidArgumentError(
          StrCat("storage.tm_shards: the shard name \"", spec.name, "\" is used twice"));
    }
    auto shard = std::make_unique<Shard>();
    shard->name = std::move(spec.name);
    shard->db = std::move(spec.db);
    shard->ops = shard->db->tm_shard_ops();
    if (shard->ops == nullptr) {
      return absl::InvalidArgumentError(
          StrCat("storage.tm_shards: shard ", shard->name, " must be a PostgreSQL database"));
    }
    VERSO_ASSIGN_OR_RETURN(shard->num, directory->ShardNumber(shard->name));
    if (shard->num >= kMaxChangeLogs) {
      return absl::InvalidArgumentError(
          StrCat("storage.tm_shards: at most ", kMaxChangeLogs - 1, " shards"));
    }
    VERSO_RETURN_IF_ERROR(shard->ops->ReserveSegmentIds(int64_t{shard->num} << 44));
    shards.push_back(std::move(shard));
  }
  return std::unique_ptr<ShardedTm>(new ShardedTmImpl(std::move(shards), std::move(place)));
}

}  // namespace verso::storage
