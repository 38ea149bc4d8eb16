// Durable storage: the records verso keeps and the repository interfaces that hold them. The
// SQLite implementation (embedded, the default) lives in sqlite/; a PostgreSQL one will implement
// the same interfaces and pass the same shared test suite (storage/tm_repository_suite.h).
//
// Every write method is one transaction: when it returns OK the data survives a kill -9 (SQLite
// in WAL mode with synchronous=FULL fsyncs the log before acknowledging a commit).
#ifndef VERSO_STORAGE_STORAGE_H_
#define VERSO_STORAGE_STORAGE_H_

#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace verso::storage {

class TmShardOps;

struct TmStoreRecord {
  std::string id;  // "tm_..."
  std::string tenant;
  std::string name;
  std::string source_lang;  // canonical BCP 47
  std::string target_lang;
  absl::Time created_at;
  // Where the store's data lives when TM data is sharded (ShardedTm): the shard's name, the
  // change log that records its changes, and how many times it moved (its placement's version).
  // Empty / 0 / 0 otherwise.
  std::string shard;
  int log = 0;
  int64_t placement = 0;
};

// Positions in the TM change logs. A database holding TM data keeps one log whose sequence
// numbers grow; when TM data is sharded over several databases, log L's sequence number S is
// the position (L << 48) | S, so that one int64 names a point in one log (log 0's positions are
// its plain sequence numbers). Positions of one log compare; positions of two logs do not.
inline constexpr int kMaxChangeLogs = 64;
constexpr int64_t ChangePosition(int log, int64_t seq) {
  return (static_cast<int64_t>(log) << 48) | seq;
}
constexpr int ChangeLog(int64_t position) { return static_cast<int>(position >> 48); }
constexpr int64_t ChangeSeq(int64_t position) { return position & ((int64_t{1} << 48) - 1); }

// A write refused because the store has moved to another database (TM shards): the error
// carries the shard it moved to, which MovedTo reads back (nullopt for any other status).
absl::Status StoreMovedError(std::string_view store_id, std::string_view shard);
std::optional<std::string> MovedTo(const absl::Status& status);

// A commit whose outcome is unknown: the connection broke while the server was committing, so
// the write may or may not have taken effect (Unavailable, marked). Storage never runs such a
// write again; its caller may, when the write is idempotent.
absl::Status CommitInDoubt();
bool IsCommitInDoubt(const absl::Status& status);

// Database attempts run again after a failure that took no effect (the server unreachable, gone
// or read-only: a failover), and failures returned after the last retry. Process-wide.
struct DatabaseRetryCounts {
  int64_t retried = 0;
  int64_t gave_up = 0;
};
DatabaseRetryCounts DatabaseRetries();

// After failed attempt `attempt` (0-based) of a database call with `status`: true when the call
// should run again, having waited the platform spec's database-write delay (3 retries,
// 50/100/200 ms ± 25 ms). Only for a failure that certainly took no effect: Unavailable (the
// server unreachable, gone or read-only before the commit), never a commit in doubt or a moved
// store (its caller routes it).
bool RetryUnapplied(int attempt, const absl::Status& status);

// Where a property or note belongs: the whole unit, or only its source or target side.
enum class Scope : uint8_t { kUnit = 0, kSource = 1, kTarget = 2 };

// A free property. TMX <prop type=".."> maps here; TMX attributes that verso does not model
// (tuid, datatype, o-tmf, ...) are kept as properties whose type starts with '@'.
struct Property {
  Scope scope = Scope::kUnit;
  std::string type;
  std::string value;
  std::string lang;  // xml:lang of the property, if any
  bool operator==(const Property&) const = default;
};

struct Note {
  Scope scope = Scope::kUnit;
  std::string text;
  std::string lang;
  bool operator==(const Note&) const = default;
};

// Where a segment occurred: a key (resource id, msgctxt) and/or the hashes of the segments
// before and after it. Both hashes 0 means "unknown".
struct SegmentContext {
  std::string key;
  int64_t prev_hash = 0;
  int64_t next_hash = 0;
  bool empty() const { return key.empty() && prev_hash == 0 && next_hash == 0; }
  bool operator==(const SegmentContext&) const = default;
};

struct SegmentRecord {
  int64_t id = 0;      // assigned by the repository, increasing
  std::string source;  // tagged text (see text/text.h)
  std::string target;
  SegmentContext context;
  std::string creator;
  std::string changer;
  absl::Time created_at = absl::UnixEpoch();
  absl::Time changed_at = absl::UnixEpoch();
  absl::Time last_used_at = absl::InfinitePast();  // never used
  int64_t usage_count = 0;
  std::vector<Property> properties;
  std::vector<Note> notes;
};

// Result of writing one segment: its id, and whether it was new or merged into an existing
// segment with the same source and target (same store).
struct PutOutcome {
  int64_t id = 0;
  bool inserted = false;
};

// A write transaction on one store. Puts are invisible to readers until Commit(); destroying
// the writer without committing rolls everything back. Holds the store's write lock for its
// lifetime. Not thread-safe.
class SegmentWriter {
 public:
  virtual ~SegmentWriter() = default;
  // Inserts `segment`, or, when the store already holds a segment with the same source and
  // target, merges into it: metadata, properties and notes are replaced by the new record's,
  // usage counts add up, the earlier creation date is kept. Sets segment->id.
  virtual absl::StatusOr<PutOutcome> Put(SegmentRecord* segment) = 0;
  virtual absl::Status Commit() = 0;
};

// Thread-safe.
// A change to a TM store or its segments, by any process on the database (written by the
// database itself, so no writer can forget it): what other processes' indexes must learn.
struct TmChange {
  enum class Kind : char {
    kSegmentAdded = 'i',
    kSegmentChanged = 'u',
    kSegmentDeleted = 'd',
    kStore = 's'
  };
  int64_t seq = 0;
  std::string store_id;    // empty when the store is gone
  int64_t segment_id = 0;  // 0 for kStore
  Kind kind = Kind::kStore;
};

class TmRepository {
 public:
  virtual ~TmRepository() = default;

  // Changes after position `seq`, oldest first, at most `limit`, all of seq's log (their seq
  // fields are positions of that log); the newest position of log 0 (its seq 0: none).
  virtual absl::StatusOr<std::vector<TmChange>> ChangesAfter(int64_t seq, int limit) = 0;
  virtual absl::StatusOr<int64_t> LastChange() = 0;
  // How many change logs there are (one per database holding TM data), and the newest position
  // of log `log`.
  virtual int ChangeLogs() { return 1; }
  virtual absl::StatusOr<int64_t> LastChangeIn(int log) { return LastChange(); }
  // Forgets changes recorded before `before` (every process has read them by then).
  virtual absl::Status PruneChanges(absl::Time before) = 0;
  // After a bulk load into a store: the database's planner statistics for the store's segments
  // are brought up to date (PostgreSQL: ANALYZE, so that no connection keeps a plan made while
  // the table was small); nothing where the planner needs none.
  virtual absl::Status RefreshStatistics(std::string_view /*store_id*/) { return absl::OkStatus(); }

  virtual absl::Status CreateStore(const TmStoreRecord& store) = 0;         // AlreadyExists
  virtual absl::StatusOr<TmStoreRecord> GetStore(std::string_view id) = 0;  // NotFound
  // All stores of `tenant`, or of every tenant when `tenant` is empty; ordered by id.
  virtual absl::StatusOr<std::vector<TmStoreRecord>> ListStores(std::string_view tenant) = 0;
  // Removes the store and all its segments.
  virtual absl::Status DeleteStore(std::string_view id) = 0;

  virtual absl::StatusOr<std::unique_ptr<SegmentWriter>> BeginWrite(std::string_view store_id) = 0;
  // Replaces source, target, context, changer, changed_at, properties and notes of segment `id`.
  // AlreadyExists when another segment of the store has the same source and target.
  virtual absl::Status UpdateSegment(std::string_view store_id, const SegmentRecord& segment) = 0;
  virtual absl::Status DeleteSegment(std::string_view store_id, int64_t id) = 0;  // NotFound
  // Adds each use's `count` to its segment's usage_count and moves last_used_at to `when` (if
  // later), in one transaction. Segments (or stores) that no longer exist are skipped; returns
  // how many segments were updated. Usage is not a change of the segment (no TmChange).
  struct SegmentUse {
    std::string store_id;
    int64_t id = 0;
    int64_t count = 0;
    absl::Time when;
  };
  virtual absl::StatusOr<int64_t> RecordUsage(const std::vector<SegmentUse>& uses) = 0;

  virtual absl::StatusOr<SegmentRecord> GetSegment(std::string_view store_id, int64_t id) = 0;
  // The segments with these ids that exist in the store, in the order of `ids`.
  virtual absl::StatusOr<std::vector<SegmentRecord>> GetSegments(
      std::string_view store_id, const std::vector<int64_t>& ids) = 0;
  virtual absl::StatusOr<int64_t> CountSegments(std::string_view store_id) = 0;
  // Calls `fn` for every segment of the store in id order (a consistent snapshot); stops early
  // when `fn` returns false. Segments with id <= after_id are skipped.
  virtual absl::Status ScanSegments(std::string_view store_id, int64_t after_id,
                                    const std::function<bool(const SegmentRecord&)>& fn) = 0;
  // Like ScanSegments, but fills only id, source, target, context and changed_at (what an index
  // needs), and `fn` may move from the record.
  virtual absl::Status ScanSegmentTexts(std::string_view store_id, int64_t after_id,
                                        const std::function<bool(SegmentRecord&)>& fn) = 0;
};

// An API key. The key itself is never stored: only its SHA-256 and its first characters (the
// prefix, for people to tell keys apart).
struct ApiKeyRecord {
  std::string id;  // "key_..."
  std::string tenant;
  std::string name;
  std::vector<std::string> scopes;  // "admin", "translate", "tm:read", "tm:write"
  std::string hash;                 // SHA-256 of the key, hex
  std::string prefix;
  absl::Time created_at;
  absl::Time revoked_at = absl::InfinitePast();  // not revoked
  bool revoked() const { return revoked_at != absl::InfinitePast(); }
};

// Thread-safe.
class KeyRepository {
 public:
  virtual ~KeyRepository() = default;
  virtual absl::Status CreateKey(const ApiKeyRecord& key) = 0;
  // Keys of `tenant`, or of every tenant when empty; revoked ones included; ordered by id.
  virtual absl::StatusOr<std::vector<ApiKeyRecord>> ListKeys(std::string_view tenant) = 0;
  virtual absl::StatusOr<ApiKeyRecord> FindKeyByHash(std::string_view hash) = 0;  // NotFound
  virtual absl::Status RevokeKey(std::string_view id, absl::Time when) = 0;       // NotFound
};

// A person who signs in to the workbench (API keys stay for machines). The email is the sign-in
// name, unique within the tenant, kept lower-case.
struct UserRecord {
  std::string id;  // "usr_..."
  std::string tenant;
  std::string email;
  std::string name;           // shown to others
  std::string role;           // "post-editor", "reviewer" or "manager" (auth::Role)
  std::string password_hash;  // argon2id, in the PHC string format
  absl::Time created_at;
  absl::Time disabled_at = absl::InfinitePast();  // not disabled
  bool disabled() const { return disabled_at != absl::InfinitePast(); }
};

// A signed-in browser. The token itself is never stored: only its SHA-256.
struct SessionRecord {
  std::string hash;  // SHA-256 of the token, hex
  std::string user_id;
  absl::Time created_at;
  absl::Time expires_at;
};

// A range of a job's segments in one target language that a manager gave a user
// (indexes first..last, inclusive).
struct AssignmentRecord {
  std::string job_id;
  std::string user_id;
  std::string target_lang;
  int64_t first = 0;
  int64_t last = 0;
};

// Thread-safe.
class UserRepository {
 public:
  virtual ~UserRepository() = default;
  // AlreadyExists when the tenant has a user of that email.
  virtual absl::Status CreateUser(const UserRecord& user) = 0;
  virtual absl::StatusOr<std::vector<UserRecord>> ListUsers(std::string_view tenant) = 0;
  virtual absl::StatusOr<UserRecord> FindUser(std::string_view id) = 0;  // NotFound
  virtual absl::StatusOr<UserRecord> FindUserByEmail(std::string_view tenant,
                                                     std::string_view email) = 0;  // NotFound
  // Name, role, password hash and disabled_at of the user `user.id` (NotFound).
  virtual absl::Status UpdateUser(const UserRecord& user) = 0;
  virtual absl::Status CreateSession(const SessionRecord& session) = 0;
  // The session and its user, read from the primary (a sign-out is seen at once). NotFound.
  virtual absl::StatusOr<std::pair<SessionRecord, UserRecord>> FindSession(
      std::string_view hash) = 0;
  virtual absl::Status DeleteSession(std::string_view hash) = 0;  // none: OK
  // Every session of the user (its password, role or access changed); returns how many.
  virtual absl::StatusOr<int64_t> DeleteUserSessions(std::string_view user_id) = 0;
  // Sessions that expired before `now`; returns how many.
  virtual absl::StatusOr<int64_t> DeleteExpiredSessions(absl::Time now) = 0;
  // Replaces the job's assignments with `assignments` (all of job_id), in one transaction.
  virtual absl::Status SetAssignments(std::string_view job_id,
                                      const std::vector<AssignmentRecord>& assignments) = 0;
  // The job's assignments by target language, first index and user.
  virtual absl::StatusOr<std::vector<AssignmentRecord>> ListAssignments(
      std::string_view job_id) = 0;
};

// A TMX or PO import that runs in the background, durable so that a restart resumes it.
struct ImportRecord {
  std::string id;  // "imp_..."
  std::string store_id;
  std::string tenant;
  std::string file;    // the uploaded file, kept until the import ends
  std::string format;  // "tmx" or "po"
  std::string user;
  std::string status;  // "queued", "running", "succeeded", "failed"
  std::string error;   // why it failed
  std::string report;  // JSON of the import report once it ended
  int64_t bytes_total = 0;
  absl::Time created_at;
  absl::Time finished_at = absl::InfinitePast();
};

// Thread-safe.
class ImportRepository {
 public:
  virtual ~ImportRepository() = default;
  virtual absl::Status SaveImport(const ImportRecord& record) = 0;          // insert or replace
  virtual absl::StatusOr<ImportRecord> GetImport(std::string_view id) = 0;  // NotFound
  // Imports that were queued or running (e.g. when the process stopped), oldest first.
  virtual absl::StatusOr<std::vector<ImportRecord>> UnfinishedImports() = 0;
};

// A named machine-translation engine chain of a tenant ("default" is the tenant's default).
struct EnginePolicyRecord {
  std::string tenant;
  std::string name;
  std::vector<std::string> engines;  // engine names, in the order they are tried
  absl::Time updated_at;
};

// Thread-safe.
class PolicyRepository {
 public:
  virtual ~PolicyRepository() = default;
  virtual absl::Status PutPolicy(const EnginePolicyRecord& policy) = 0;  // insert or replace
  virtual absl::StatusOr<EnginePolicyRecord> GetPolicy(std::string_view tenant,
                                                       std::string_view name) = 0;  // NotFound
  // The tenant's policies, by name.
  virtual absl::StatusOr<std::vector<EnginePolicyRecord>> ListPolicies(std::string_view tenant) = 0;
  virtual absl::Status DeletePolicy(std::string_view tenant,
                                    std::string_view name) = 0;  // NotFound
};

// A tenant's glossary; its concepts are stored as JSON documents (terms/ owns their shape).
struct GlossaryRecord {
  std::string tenant;
  std::string name;
  std::string description;
  int64_t concepts = 0;  // filled by Get/List
  int64_t terms = 0;
  absl::Time created_at;
  absl::Time updated_at;
};

struct ConceptRecord {
  std::string id;
  std::string data;  // JSON
  int64_t terms = 0;
};

// Thread-safe.
class GlossaryRepository {
 public:
  virtual ~GlossaryRepository() = default;
  virtual absl::Status CreateGlossary(const GlossaryRecord& g) = 0;  // AlreadyExists
  virtual absl::StatusOr<GlossaryRecord> GetGlossary(std::string_view tenant,
                                                     std::string_view name) = 0;  // NotFound
  virtual absl::StatusOr<std::vector<GlossaryRecord>> ListGlossaries(std::string_view tenant) = 0;
  virtual absl::Status DeleteGlossary(std::string_view tenant,
                                      std::string_view name) = 0;  // NotFound; with its concepts
  // In one transaction: with `replace_all` removes every concept first; then inserts or
  // replaces `concepts` by id and sets the glossary's updated_at. Here and in DeleteConcept,
  // updated_at becomes `updated_at` or, if that is not later, its last value + 1 µs: it is the
  // glossary's version, which no two states share (caches of other processes compare it).
  virtual absl::Status PutConcepts(std::string_view tenant, std::string_view name,
                                   const std::vector<ConceptRecord>& concepts, bool replace_all,
                                   absl::Time updated_at) = 0;
  // By id.
  virtual absl::StatusOr<std::vector<ConceptRecord>> ListConcepts(std::string_view tenant,
                                                                  std::string_view name) = 0;
  virtual absl::Status DeleteConcept(std::string_view tenant, std::string_view name,
                                     std::string_view id, absl::Time updated_at) = 0;  // NotFound
};

// A tenant's named QA settings (a project's: which checks are off, the length limit), which
// requests name with "qa_profile".
struct QaProfileRecord {
  std::string tenant;
  std::string name;
  std::vector<std::string> disabled_checks;
  int64_t max_length = 0;  // 0: no limit
  absl::Time updated_at;
};

// Thread-safe.
class QaProfileRepository {
 public:
  virtual ~QaProfileRepository() = default;
  virtual absl::Status PutQaProfile(const QaProfileRecord& profile) = 0;  // insert or replace
  virtual absl::StatusOr<QaProfileRecord> GetQaProfile(std::string_view tenant,
                                                       std::string_view name) = 0;  // NotFound
  virtual absl::StatusOr<std::vector<QaProfileRecord>> ListQaProfiles(
      std::string_view tenant) = 0;  // by name
  virtual absl::Status DeleteQaProfile(std::string_view tenant,
                                       std::string_view name) = 0;  // NotFound
};

// ---- Jobs: documents or segment lists translated through the pipeline, their segments, the
// durable task queue and the webhook delivery log --------------------------------------------

// Every state is an enum in code; its name (EnumName) is what storage keeps and the API answers,
// and ParseEnum is the one way back, at those two edges.
enum class JobStatus : uint8_t { kQueued, kRunning, kPostEditing, kCompleted, kFailed, kCancelled };
// A job's segment, in pipeline order: new -> analysed -> mt_pending (no exact TM match) ->
// translated -> approved (QE trusted it, or an exact TM match) or awaiting (a post-editor) ->
// confirmed.
enum class SegmentState : uint8_t {
  kNew,
  kAnalysed,
  kMtPending,
  kTranslated,
  kApproved,
  kAwaiting,
  kConfirmed,
  kReviewed  // a reviewer approved it (jobs with review; any job's reviewer may)
};
// Where a segment's translation came from (kNone: none yet).
enum class SegmentOrigin : uint8_t { kNone, kTm, kMt, kHuman };
// The job pipeline's stages, and the outbox's webhook deliveries.
enum class TaskKind : uint8_t { kAnalyse, kPretranslate, kMt, kReview, kWebhook };
enum class TaskState : uint8_t { kQueued, kLeased, kDone, kDead };

template <typename E>
struct EnumNames;
template <>
struct EnumNames<JobStatus> {
  static constexpr std::string_view kNames[] = {"queued",    "running", "post_editing",
                                                "completed", "failed",  "cancelled"};
};
template <>
struct EnumNames<SegmentState> {
  static constexpr std::string_view kNames[] = {"new",      "analysed", "mt_pending", "translated",
                                                "approved", "awaiting", "confirmed",  "reviewed"};
};
template <>
struct EnumNames<SegmentOrigin> {
  static constexpr std::string_view kNames[] = {"", "tm", "mt", "human"};
};
template <>
struct EnumNames<TaskKind> {
  static constexpr std::string_view kNames[] = {"analyse", "pretranslate", "mt", "review",
                                                "webhook"};
};
template <>
struct EnumNames<TaskState> {
  static constexpr std::string_view kNames[] = {"queued", "leased", "done", "dead"};
};

template <typename E>
constexpr std::string_view EnumName(E e) {
  return EnumNames<E>::kNames[static_cast<size_t>(e)];
}
template <typename E>
std::optional<E> ParseEnum(std::string_view name) {
  for (size_t i = 0; i < std::size(EnumNames<E>::kNames); ++i) {
    if (EnumNames<E>::kNames[i] == name) return static_cast<E>(i);
  }
  return std::nullopt;
}
// Every name of E, for messages ("state: one of new, analysed, ...").
template <typename E>
std::string EnumNameList() {
  std::string out;
  for (std::string_view n : EnumNames<E>::kNames) {
    if (n.empty()) continue;
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

struct JobRecord {
  std::string id;  // "job_..."
  std::string tenant;
  JobStatus status = JobStatus::kQueued;
  std::string source_lang;  // canonical BCP 47
  std::vector<std::string> target_langs;
  std::string tm_store;
  std::string glossary;
  std::string engine_policy;
  std::string qa_profile;
  double qe_threshold = -1;  // -1: the server's
  std::string webhook_url;
  std::string idempotency_key;
  std::string format;  // the document's ("xliff2", "xliff12", "po", "json", "text") or "segments"
  std::string file_name;  // as uploaded
  std::string document;   // the original bytes ("" for segments); stored once, never replaced
  std::string error;      // why it failed
  std::string stats;      // JSON: time per stage and other figures
  bool revision = false;  // a post-editor's confirmation waits for a reviewer's approval
  absl::Time created_at;
  absl::Time updated_at;
  absl::Time finished_at = absl::InfinitePast();
};

struct JobSegmentRecord {
  std::string job_id;
  std::string target_lang;
  int64_t index = 0;    // the unit's position in the document
  std::string unit_id;  // the document's id of the unit
  std::string source;   // markup
  std::string target;   // the current translation (markup)
  SegmentOrigin origin = SegmentOrigin::kNone;
  SegmentState state = SegmentState::kNew;
  int tm_score = 0;         // best TM match (analysis)
  std::string tm_target;    // its translation
  bool repetition = false;  // the same source came earlier in the job
  int64_t words = 0;        // GMX-V word count of the source
  int64_t characters = 0;   // its non-white-space characters (GMX-V)
  std::string engine;       // mt: the engine that translated it
  std::string review;       // JSON: QA warnings, terms, QE
  double qe_score = -1;     // -1: not scored
  std::string draft;        // a post-editor's unsaved work
  std::string editor;       // who confirmed it
  absl::Time updated_at;
  // Post-editing: raised by every draft and confirm, so that an edit made on an older version
  // is known for a conflict; `edit_id` is the last edit applied (a resent edit is applied once).
  int64_t version = 0;
  std::string edit_id;
};

// A unit of work in the durable queue.
struct TaskRecord {
  int64_t id = 0;  // assigned by the repository
  std::string job_id;
  TaskKind kind = TaskKind::kAnalyse;
  std::string target_lang;
  std::string payload;  // kind-specific (a webhook's event and body)
  TaskState state = TaskState::kQueued;
  int attempts = 0;  // leases so far
  // Leases that expired while the task was leased: its worker died (crash, kill -9) or stalled.
  int crashes = 0;
  absl::Time run_after;  // not before
  absl::Time lease_until = absl::InfinitePast();
  std::string lease_owner;
  std::string error;  // the last failure
  absl::Time created_at;
};

struct WebhookDeliveryRecord {
  std::string job_id;
  std::string event;
  int attempt = 0;
  int http_status = 0;  // 0: no answer
  std::string error;
  absl::Time at;
};

// What one transaction changes: everything in it is written, or nothing.
// One record of the audit log: who did what to what, when, in which request. Records are
// append-only and hash-chained: each one's hash covers its content and the previous record's
// hash, so editing or removing one breaks every hash after it (VerifyAudit).
struct AuditRecord {
  int64_t seq = 0;  // assigned on append, 1, 2, ...
  absl::Time at;
  std::string tenant;
  std::string actor;       // "key:key_...", "cli:USER", "worker"
  std::string action;      // "POST /v1/tm/{store}/segments", "job.status"
  std::string target;      // "tm_...", "job_..." (path parameters, space-separated)
  std::string detail;      // e.g. "queued -> running", the response status
  std::string request_id;  // "" outside a request
  std::string prev_hash;   // set on append
  std::string hash;
};
// The hex SHA-256 that chains `r` after `prev_hash` (every field but hash).
std::string AuditDigest(const AuditRecord& r, std::string_view prev_hash);
inline const std::string kAuditGenesis(64, '0');

struct JobChange {
  std::vector<JobRecord> jobs;             // insert or replace
  std::vector<JobSegmentRecord> segments;  // insert or replace
  // New tasks (ids assigned): queued, or leased to `lease_owner` until `lease_until` when that
  // is set (a worker that queues a task to run it itself, as a lease it took would be).
  std::vector<TaskRecord> enqueue;
  int64_t finish_task = 0;   // marked done, when > 0 ...
  std::string finish_owner;  // ... if `finish_owner` still holds its lease
  std::vector<WebhookDeliveryRecord> deliveries;
  std::vector<AuditRecord> audit;  // appended in the same transaction
};

// How many segments of a job are in one (target, state, origin, engine), and their words.
struct JobSegmentCount {
  std::string target_lang;
  SegmentState state = SegmentState::kNew;
  SegmentOrigin origin = SegmentOrigin::kNone;
  std::string engine;
  int64_t segments = 0;
  int64_t words = 0;
};

struct QueueStats {
  int64_t queued = 0;  // runnable now or later
  int64_t leased = 0;
  int64_t dead = 0;
  absl::Time oldest_queued = absl::InfiniteFuture();
  int64_t awaiting_post_edit = 0;  // job segments waiting for a post-editor (the MTPE queue)
};

// What a read may return: the latest committed data (the primary), or data at most a bound
// behind it (a read replica's, for status that people and dashboards poll).
enum class Freshness : uint8_t { kLatest, kRecent };

// Thread-safe.
class JobRepository {
 public:
  virtual ~JobRepository() = default;
  // Applies `change` in one transaction. Aborted (nothing written) when
  // `finish_task` is no longer leased by `finish_owner` (its lease expired and another worker
  // took it); AlreadyExists when a new job's idempotency key is taken.
  virtual absl::Status Apply(const JobChange& change) = 0;
  // Records come without the document bytes (`document` is empty): a job's figures and state
  // are read and saved often, its file only to write the translation back.
  virtual absl::StatusOr<JobRecord> GetJob(std::string_view id,
                                           Freshness f = Freshness::kLatest) = 0;  // NotFound
  virtual absl::StatusOr<std::string> GetJobDocument(std::string_view id) = 0;     // NotFound
  virtual absl::StatusOr<JobRecord> FindJobByIdempotencyKey(std::string_view tenant,
                                                            std::string_view key) = 0;  // NotFound
  // The tenant's jobs (Freshness::kRecent), newest first (by creation, then id), after the job
  // created at `after_created` with id `after_id` (the first page: InfiniteFuture and "").
  virtual absl::StatusOr<std::vector<JobRecord>> ListJobs(
      std::string_view tenant, int limit, absl::Time after_created = absl::InfiniteFuture(),
      std::string_view after_id = "") = 0;
  // A job's segments for one target (all targets when empty), by target and index.
  virtual absl::StatusOr<std::vector<JobSegmentRecord>> GetJobSegments(
      std::string_view job_id, std::string_view target_lang) = 0;
  // A page of a job's segments in (target, index) order: after (after_target, after_index)
  // (the first page: after_target ""), of one target and one state when given, at most `limit`.
  virtual absl::StatusOr<std::vector<JobSegmentRecord>> GetJobSegmentsPage(
      std::string_view job_id, std::string_view target_lang, std::string_view state,
      std::string_view after_target, int64_t after_index, int limit) = 0;
  // A job's segments counted per target, state, origin and engine (without reading them).
  virtual absl::StatusOr<std::vector<JobSegmentCount>> CountJobSegments(
      std::string_view job_id, Freshness f = Freshness::kLatest) = 0;
  virtual absl::StatusOr<JobSegmentRecord> GetJobSegment(std::string_view job_id,
                                                         std::string_view target_lang,
                                                         int64_t index) = 0;  // NotFound
  // Segments waiting for a post-editor, of one tenant's jobs (every tenant's when empty),
  // oldest first (by last change, job, target and index), after `after` when given (a segment
  // of the previous page: its updated_at, job_id, target_lang and index are the position).
  virtual absl::StatusOr<std::vector<JobSegmentRecord>> AwaitingSegments(
      std::string_view tenant, int limit, const JobSegmentRecord* after = nullptr) = 0;
  // Leases the next runnable task (queued with run_after <= now, or leased with an expired
  // lease: counted in `crashes`) to `owner` until `lease_until`, counting the attempt; NotFound
  // when there is none. Fair between tenants: the task comes from the tenant with the fewest
  // tasks leased now, and never from one that has `max_per_tenant` leased (0: no limit).
  virtual absl::StatusOr<TaskRecord> LeaseTask(std::string_view owner, absl::Time now,
                                               absl::Time lease_until, int max_per_tenant = 0) = 0;
  // Extends a lease; Aborted when `owner` no longer holds it (and so for FailTask).
  virtual absl::Status RenewLease(int64_t task_id, std::string_view owner,
                                  absl::Time lease_until) = 0;
  // Records a failure: back to the queue from `run_after`, or "dead" when `dead`.
  virtual absl::Status FailTask(int64_t task_id, std::string_view owner, std::string_view error,
                                absl::Time run_after, bool dead) = 0;
  // A job's tasks, by id.
  virtual absl::StatusOr<std::vector<TaskRecord>> JobTasks(std::string_view job_id,
                                                           Freshness f = Freshness::kLatest) = 0;
  virtual absl::StatusOr<QueueStats> GetQueueStats() = 0;
  virtual absl::StatusOr<std::vector<WebhookDeliveryRecord>> Deliveries(
      std::string_view job_id) = 0;
  // Calls `fn` (on another thread) whenever any process may have queued a task, so that idle
  // workers wake at once instead of at their next poll; replaces the previous `fn` (nullptr:
  // none; no call is made after that returns). Returns whether such calls will come:
  // PostgreSQL's LISTEN/NOTIFY; SQLite keeps no such channel (the processes of one machine
  // poll).
  virtual bool OnTasksQueued(std::function<void()> fn) { return false; }
  // Runs fn while no other caller, in this process or (PostgreSQL) any other, runs fn for the
  // same job: the read-modify-write of a job record and its completion (two workers finishing
  // the last tasks of one job, a post-editor confirming its last segment).
  virtual absl::Status Exclusively(std::string_view job_id,
                                   const std::function<absl::Status()>& fn) = 0;
};

// A read replica as the primary's process sees it.
struct ReplicaState {
  std::string name;         // host:port
  double lag_seconds = -1;  // -1: unknown (unreachable)
  bool reachable = false;
  bool in_rotation = false;  // reachable and lag within the ejection bound
};

// A process of a cluster as it announces itself (the TM nodes: `verso serve --roles tm`). A node
// whose heartbeat stopped is gone once `expires_at` passes (by the reader's clock: the cluster's
// machines keep their clocks in step, as PostgreSQL's replication already needs).
struct NodeRecord {
  std::string id;    // stable across restarts ("host:port", or the pod's name)
  std::string role;  // "tm"
  std::string url;   // where it answers: "http://127.0.0.1:7001"
  absl::Time started_at;
  absl::Time expires_at;
};

// Membership and shared settings of the processes on one database. Thread-safe.
class ClusterRepository {
 public:
  virtual ~ClusterRepository() = default;
  // Inserts or refreshes the node's row (a heartbeat); forgets rows expired over an hour ago.
  virtual absl::Status Heartbeat(const NodeRecord& node) = 0;
  // A node leaving on purpose (its successors take over at once, not at expiry).
  virtual absl::Status RemoveNode(std::string_view id) = 0;
  // Every row, expired ones too, by id. Always read on the primary.
  virtual absl::StatusOr<std::vector<NodeRecord>> ListNodes() = 0;
  // The setting's value; when it has none yet, `initial` is stored and returned (the first
  // process to ask decides, every later one reads the same).
  virtual absl::StatusOr<std::string> Setting(std::string_view name, std::string_view initial) = 0;
  // The setting's value, or nullopt when it has none (nothing is stored).
  virtual absl::StatusOr<std::optional<std::string>> GetSetting(std::string_view name) = 0;
  // Stores the setting's value, replacing any.
  virtual absl::Status PutSetting(std::string_view name, std::string_view value) = 0;
};

// The operations of one database that moving a TM store between databases (shards) uses; see
// storage/sharded_tm.h for the protocol. Thread-safe.
class TmShardOps {
 public:
  virtual ~TmShardOps() = default;
  // Makes this database's new segment ids start at `floor` or above, so that ids of different
  // shards never meet (a moved store keeps its segments' ids).
  virtual absl::Status ReserveSegmentIds(int64_t floor) = 0;
  // Prepares an incoming copy of `store`: removes what an earlier copy or an earlier stay left
  // (its segments), and leaves the store's row fenced ("(incoming)": writes are refused) until
  // GoLive.
  virtual absl::Status BeginIncoming(const TmStoreRecord& store) = 0;
  // Replaces segments `ids` of the store by `rows` (each row's id among `ids`; ids without a
  // row are deleted), all in one transaction, keeping ids, usage and times, without entries in
  // the change log (the copy is not a change of the store).
  virtual absl::Status ReplaceSegments(std::string_view store_id, const std::vector<int64_t>& ids,
                                       const std::vector<SegmentRecord>& rows) = 0;
  // Sets usage_count and last_used_at of the store's segments from `rows` (by id).
  virtual absl::Status SetUsage(std::string_view store_id,
                                const std::vector<SegmentRecord>& rows) = 0;
  // Segments of the store used at or after `since`: id, usage_count and last_used_at only.
  virtual absl::StatusOr<std::vector<SegmentRecord>> UsedSince(std::string_view store_id,
                                                               absl::Time since) = 0;
  // Lifts the incoming fence: writes here are accepted.
  virtual absl::Status GoLive(std::string_view store_id) = 0;
  // Removes the store's segments without change-log entries, keeping its row fenced to `shard`
  // (a tombstone: a late writer is told where the store went).
  virtual absl::Status DropMovedSegments(std::string_view store_id) = 0;
  // A held write fence: while it exists, every writer of the store in this database waits.
  class Fence {
   public:
    virtual ~Fence() = default;  // releases it without moving the store
    // Marks the store as moved to `shard` and releases the fence: the waiting writers (and any
    // later one) are refused with StoreMovedError.
    virtual absl::Status MarkMoved(std::string_view shard) = 0;
  };
  // Waits for the store's writes in flight to commit and blocks new ones.
  virtual absl::StatusOr<std::unique_ptr<Fence>> Freeze(std::string_view store_id) = 0;
  // Where the store's row says it went ("" when it lives here); NotFound without a row.
  virtual absl::StatusOr<std::string> WhereMoved(std::string_view store_id) = 0;
  // The directory of stores and shards, kept in the home database: each store's shard and
  // placement version, and each shard's number.
  struct Placement {
    std::string store_id;
    std::string shard;
    int64_t version = 0;
  };
  virtual absl::StatusOr<std::vector<Placement>> ListPlacements() = 0;
  virtual absl::StatusOr<std::optional<Placement>> GetPlacement(std::string_view store_id) = 0;
  // Inserts or replaces the store's row (version given by the caller).
  virtual absl::Status PutPlacement(const Placement& placement) = 0;
  virtual absl::Status DeletePlacement(std::string_view store_id) = 0;
  // The shard's number (assigned on first sight, from 1; the home database is 0).
  virtual absl::StatusOr<int> ShardNumber(std::string_view shard) = 0;
  // Records a TM store change (kStore) for the store's row, so that every process reads the
  // stores' list (and the directory) again.
  virtual absl::Status TouchStore(std::string_view store_id) = 0;
};

// Thread-safe.
class AuditRepository {
 public:
  virtual ~AuditRepository() = default;
  // Appends in one transaction, after every record appended before (by any process): sets
  // seq, prev_hash and hash.
  virtual absl::Status AppendAudit(std::vector<AuditRecord> records) = 0;
  // Records after `after_seq`, by seq, at most `limit`.
  virtual absl::StatusOr<std::vector<AuditRecord>> ReadAudit(int64_t after_seq, int limit) = 0;
  // Where the log starts: the seq and hash of the last record pruned (0 and kAuditGenesis).
  struct Anchor {
    int64_t seq = 0;
    std::string hash;
  };
  virtual absl::StatusOr<Anchor> AuditAnchor() = 0;
  // Removes records older than `before` (retention), moving the anchor; returns how many.
  virtual absl::StatusOr<int64_t> PruneAudit(absl::Time before) = 0;
};

// What VerifyAudit found: the records it checked, the head (the last record's seq and hash:
// keep it, and a later check that ends before it shows the log was cut), and the first problem
// (OK when every record follows its predecessor and matches its hash).
struct AuditCheck {
  int64_t records = 0;
  int64_t first_seq = 0;
  int64_t head_seq = 0;
  std::string head;
  absl::Status problem;
};
// Reads the whole log from its anchor and checks the chain.
absl::StatusOr<AuditCheck> VerifyAudit(AuditRepository& audit);

// One database: every repository over the same storage.
class Database {
 public:
  virtual ~Database() = default;
  virtual TmRepository& tm() = 0;
  virtual KeyRepository& keys() = 0;
  virtual ImportRepository& imports() = 0;
  virtual PolicyRepository& policies() = 0;
  virtual GlossaryRepository& glossaries() = 0;
  virtual QaProfileRepository& qa_profiles() = 0;
  virtual JobRepository& jobs() = 0;
  virtual ClusterRepository& cluster() = 0;
  virtual AuditRepository& audit() = 0;
  virtual UserRepository& users() = 0;
  // A trivial query: is the database reachable?
  virtual absl::Status Ping() = 0;
  // Periodic upkeep (PostgreSQL: the jobs table's monthly partitions, made three months ahead);
  // returns what it created.
  virtual absl::StatusOr<std::vector<std::string>> Maintain(absl::Time now) {
    return std::vector<std::string>{};
  }
  // Takes the jobs submitted before `before` (the first of a month) out of the jobs table by
  // detaching their monthly partitions (PostgreSQL); returns the tables detached, which keep
  // their jobs until someone drops them.
  // Calls `fn` (on another thread) soon after any process commits a TM change (ChangesAfter has
  // it), replacing the previous `fn`; returns whether such calls will come (PostgreSQL's
  // LISTEN/NOTIFY; SQLite: no, its processes poll).
  virtual bool OnTmChanged(std::function<void()> fn) { return false; }
  // The read replicas and their lag (none for SQLite or a PostgreSQL primary alone).
  virtual std::vector<ReplicaState> Replicas() { return {}; }
  // What moving TM stores in and out of this database needs (PostgreSQL; SQLite: none).
  virtual TmShardOps* tm_shard_ops() { return nullptr; }
  // A consistent copy of the whole database in the file `dest`, taken while it is used (SQLite's
  // online backup: one read snapshot). PostgreSQL's backups are pgBackRest's.
  virtual absl::Status Backup(const std::string& dest) {
    return absl::UnimplementedError(
        "verso backup copies an SQLite database; back PostgreSQL up with pgBackRest");
  }
  virtual absl::StatusOr<std::vector<std::string>> ArchiveJobs(absl::Time before) {
    return absl::UnimplementedError(
        "archiving jobs detaches PostgreSQL partitions; this database is SQLite");
  }
};

struct SqliteOptions {
  // FULL: every commit is fsynced before it is acknowledged (survives power loss).
  // NORMAL: WAL is fsynced at checkpoints only (survives kill -9, not power loss).
  bool synchronous_full = true;
  int read_connections = 4;
  // The change log's directory (empty: none): every committed write transaction, for `verso
  // restore --to TIME` between backups. A new file starts once one holds this much.
  std::string change_log;
  int64_t change_log_file_bytes = 16 << 20;
};

// Where an SQLite database keeps its change log (SqliteOptions::change_log) by default.
inline std::string DefaultChangeLog(const std::string& database) { return database + "-changes"; }

struct RestoreOptions {
  // Recover to this time: the backup, then the change log's transactions committed after the
  // backup was taken and at or before `to`. Unset: the backup as it is.
  std::optional<absl::Time> to;
  std::string change_log;  // the database's change log directory
};
struct RestoreReport {
  int64_t applied = 0;                             // change-log transactions applied
  absl::Time last_applied = absl::InfinitePast();  // the commit time of the last one
  absl::Time first_left = absl::InfiniteFuture();  // of the first after `to`
};
// Copies the SQLite backup `src` (checked first: a verso database whose integrity check passes)
// over the database at `dest`, which no process may be using, with the change log applied up to
// options.to. All or nothing: `dest` is replaced only when everything applied. The restored
// database starts a new change log (the old one's later records belong to the history left).
absl::StatusOr<RestoreReport> RestoreSqlite(const std::string& src, const std::string& dest,
                                            const RestoreOptions& options = {});

struct LogPruneReport {
  int files = 0;      // log files removed
  int64_t bytes = 0;  // their size
  int set_aside = 0;  // logs set aside by restores that no kept backup needs, removed whole
};
// Removes what no backup in `kept` (SQLite backups of the database whose change log is `dir`)
// can be brought forward with: the log's files holding only records before the oldest kept
// backup of its history, and the logs restores set aside (`dir`.replaced-*) that are no kept
// backup's. The log's newest file is never removed. Safe while verso runs.
absl::StatusOr<LogPruneReport> PruneChangeLogs(const std::string& dir,
                                               const std::vector<std::string>& kept);

struct BackupRetention {
  int kept = 0;
  int removed = 0;  // older backups of this database, with their manifests
  int foreign = 0;  // backups in the directory that are not this database's: left alone
  LogPruneReport log;
};
// `verso backup DIR --keep N`: of the backups in `dir` (verso-TIME.db, newest by name) that are
// this database's — of its change log `log_dir` or one a restore set aside; without a change log,
// those taken without one — the newest `keep` stay, the older ones go, and so does the change log
// none of the kept ones needs (PruneChangeLogs). Another database's backups are never touched.
absl::StatusOr<BackupRetention> KeepNewestBackups(const std::string& dir,
                                                  const std::string& log_dir, int keep);

// A checksum of one kept thing: a TM store's segments, a glossary's concepts, a job's status and
// segments. `verso verify` prints them; a backup keeps them beside it to compare later.
struct DataChecksum {
  std::string kind;  // "tm", "glossary", "job"
  std::string id;    // the store or job id; "tenant/name" for a glossary
  int64_t count = 0;
  std::string sha256;
};
// Every TM store, glossary and job of every tenant (tenants: those of keys and of stores), by
// kind and id.
absl::StatusOr<std::vector<DataChecksum>> Checksums(Database& db);

// Opens (creating if needed) the SQLite database at `path` and migrates its schema.
absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                                     const SqliteOptions& options);

struct PostgresOptions {
  int connections = 16;  // the pool's most
  // Applies pending migrations when opening (`verso migrate`, tests). Otherwise a database whose
  // schema is not this verso's is refused, naming both versions.
  bool migrate = false;
  // Listens for queued tasks (LISTEN/NOTIFY) on a connection of its own (see OnTasksQueued).
  bool listen = true;
  // Streaming replicas of the primary. Reads that tolerate staleness go to the least-lagging
  // replica within their bound (else to the primary): TM records and stores, key look-ups, job
  // status. A replica lagging more than `eject_lag` leaves the rotation until it catches up.
  // Writes always go to the primary; a read a replica cannot answer (not found: perhaps not
  // replicated yet) is asked of the primary, so a client reads what it just wrote.
  std::vector<std::string> replica_urls;
  absl::Duration max_lag_tm = absl::Seconds(1);
  absl::Duration max_lag_jobs = absl::Seconds(5);
  absl::Duration max_lag_keys = absl::Seconds(1);
  absl::Duration eject_lag = absl::Seconds(30);
};

// Opens the PostgreSQL database at `url` (a libpq URL or key=value string; multi-host URLs with
// target_session_attrs=read-write find the primary).
absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(const std::string& url,
                                                       const PostgresOptions& options);
// Applies the pending migrations; returns the versions applied (none when up to date).
absl::StatusOr<std::vector<int64_t>> MigratePostgres(const std::string& url);

}  // namespace verso::storage

#endif  // VERSO_STORAGE_STORAGE_H_
