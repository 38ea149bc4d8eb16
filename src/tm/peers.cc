// TmService across processes (tm.h: IndexPeers): the requests a process that does not hold a
// store's index sends to one that does, and the answers. Text, versioned by their first word:
//
//   lookup       "l1 FLOOR MIN_SCORE MAX_RESULTS EXHAUSTIVE PREV_HASH NEXT_HASH KEY_BYTES\n"
//                KEY SOURCE                                   -> EncodeHits (store.h)
//   concordance  "c1 FLOOR SOURCE TARGET MODE LIMIT BEFORE_ID BEFORE_IN_SOURCE\n" PHRASE
//                -> "p1 TOTAL TOTAL_EXACT MORE\n" and per hit "ID IN_SOURCE N BEGIN END ...\n"
//   lookups      "m1 FLOOR MIN_SCORE MAX_RESULTS EXHAUSTIVE COUNT\n", then per query
//                "KEY_BYTES PREV_HASH NEXT_HASH SOURCE_BYTES\n" KEY SOURCE
//                -> per query "BYTES\n" and its EncodeHits
//   ready        store ids, one per line                      -> those held and built
//
// FLOOR is the change-log position the asker has applied of the store (-1: the log's end, while
// its own write is not read back): the peer reads the log that far before it answers, so a
// lookup through a peer never sees less than one in the asking process would.
#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/strings.h"
#include "tm/index.h"
#include "tm/store.h"
#include "tm/tm.h"

namespace verso::tm {
namespace {

// Reads space- or newline-ended numbers off the front of a request.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  bool Number(T* out) {
    auto [end, ec] = std::from_chars(in_.data(), in_.data() + in_.size(), *out);
    if (ec != std::errc() || end == in_.data() + in_.size() || (*end != ' ' && *end != '\n')) {
      return false;
    }
    in_.remove_prefix(end - in_.data() + 1);
    return true;
  }
  bool Word(std::string_view word) {
    if (!in_.starts_with(word)) return false;
    in_.remove_prefix(word.size());
    return true;
  }
  bool Take(size_t n, std::string_view* out) {
    if (n > in_.size()) return false;
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  std::string_view rest() const { return in_; }

 private:
  std::string_view in_;
};

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(StrCat("malformed ", what, " request from a peer"));
}

}  // namespace

int64_t TmService::PeerFloor(const Store& store) const {
  return store.own_write > synced_epoch_ ? -1 : store.applied_change.load();
}

absl::StatusOr<CachedResult> TmService::AskLookup(Store* store, std::string_view source,
                                                  const LookupOptions& o) {
  std::string request =
      StrCat("l1 ", PeerFloor(*store), " ", o.min_score, " ", o.max_results, " ",
             o.exhaustive ? 1 : 0, " ", o.context.prev_hash, " ", o.context.next_hash, " ",
             o.context.key.size(), "\n", o.context.key, source);
  VERSO_ASSIGN_OR_RETURN(std::string answer,
                         peers_->Ask(store->record.id, "lookup", std::move(request)));
  std::optional<CachedResult> decoded = DecodeHits(answer);
  if (!decoded.has_value()) {
    return absl::InternalError(
        StrCat("the TM node holding store ", store->record.id, " answered a malformed lookup"));
  }
  return std::move(*decoded);
}

absl::StatusOr<std::vector<CachedResult>> TmService::AskLookups(
    Store* store, const std::vector<BatchQuery>& queries, const LookupOptions& o) {
  std::string request = StrCat("m1 ", PeerFloor(*store), " ", o.min_score, " ", o.max_results, " ",
                               o.exhaustive ? 1 : 0, " ", queries.size(), "\n");
  for (const BatchQuery& q : queries) {
    StrAppend(&request, q.context.key.size(), " ", q.context.prev_hash, " ", q.context.next_hash,
              " ", q.source.size(), "\n", q.context.key, q.source);
  }
  VERSO_ASSIGN_OR_RETURN(std::string answer,
                         peers_->Ask(store->record.id, "lookups", std::move(request)));
  const absl::Status malformed = absl::InternalError(
      StrCat("the TM node holding store ", store->record.id, " answered malformed lookups"));
  Reader in(answer);
  std::vector<CachedResult> out;
  for (size_t i = 0; i < queries.size(); ++i) {
    size_t bytes = 0;
    std::string_view one;
    if (!in.Number(&bytes) || !in.Take(bytes, &one)) return malformed;
    std::optional<CachedResult> decoded = DecodeHits(one);
    if (!decoded.has_value()) return malformed;
    out.push_back(std::move(*decoded));
  }
  if (!in.rest().empty()) return malformed;
  return out;
}

absl::Status TmService::AskConcordance(Store* store, std::string_view phrase,
                                       const ConcordanceOptions& o,
                                       std::vector<ConcordanceHit>* hits, ConcordanceResult* page) {
  std::string request = StrCat("c1 ", PeerFloor(*store), " ", o.source ? 1 : 0, " ",
                               o.target ? 1 : 0, " ", static_cast<int>(o.match), " ", o.limit, " ",
                               o.before_id, " ", o.before_in_source ? 1 : 0, "\n", phrase);
  VERSO_ASSIGN_OR_RETURN(std::string answer,
                         peers_->Ask(store->record.id, "concordance", std::move(request)));
  const absl::Status malformed = absl::InternalError(
      StrCat("the TM node holding store ", store->record.id, " answered a malformed concordance"));
  Reader in(answer);
  int exact = 0, more = 0;
  if (!in.Word("p1 ") || !in.Number(&page->total) || !in.Number(&exact) || !in.Number(&more)) {
    return malformed;
  }
  page->total_exact = exact != 0;
  page->more = more != 0;
  while (!in.rest().empty()) {
    ConcordanceHit h;
    int in_source = 0;
    size_t n = 0;
    if (!in.Number(&h.segment_id) || !in.Number(&in_source) || !in.Number(&n) || n > 10'000) {
      return malformed;
    }
    h.in_source = in_source != 0;
    for (size_t i = 0; i < n; ++i) {
      uint32_t begin = 0, end = 0;
      if (!in.Number(&begin) || !in.Number(&end)) return malformed;
      h.ranges.emplace_back(begin, end);
    }
    hits->push_back(std::move(h));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TmService::AnswerPeer(std::string_view method,
                                                  std::string_view store_id,
                                                  std::string_view request, bool nonblocking) {
  if (nonblocking && method != "lookup") return WouldBlock("a peer's request");
  if (method == "ready") {
    std::string out;
    for (std::string_view id : Split(request, '\n')) {
      if (id.empty() || !HeldHere(id)) continue;
      auto store = FindStore(kAnyTenant, id);
      if (!store.ok()) continue;
      absl::ReaderMutexLock lock(&(*store)->index_mu);
      if ((*store)->indexed) StrAppend(&out, id, "\n");
    }
    return out;
  }
  if (method != "lookup" && method != "concordance" && method != "lookups") {
    return absl::InvalidArgumentError(StrCat("unknown peer request \"", method, "\""));
  }
  Reader in(request);
  int64_t floor = 0;
  const std::string_view version = method == "lookup" ? "l1 " : method == "lookups" ? "m1 " : "c1 ";
  if (!in.Word(version) || !in.Number(&floor)) {
    return Malformed(method);
  }
  // Read the log as far as the asker has (a store it just made, a segment it just wrote).
  bool synced = false;
  const int floor_log = storage::ChangeLog(floor);
  if (floor >= 0 && floor_log >= storage::kMaxChangeLogs) return Malformed(method);
  if (floor < 0 || synced_at_[floor_log] < floor) {
    if (nonblocking) return WouldBlock("reading the change log");
    VERSO_RETURN_IF_ERROR(Sync().status());
    synced = true;
  }
  auto store = FindStore(kAnyTenant, store_id, nonblocking);
  if (absl::IsNotFound(store.status()) && !synced) {
    VERSO_RETURN_IF_ERROR(Sync().status());
    store = FindStore(kAnyTenant, store_id);
  }
  if (!store.ok()) return store.status();
  if (!HeldHere(store_id)) {
    return absl::FailedPreconditionError(StrCat("this node does not hold store ", store_id));
  }
  if (method == "lookup") return AnswerLookup(store->get(), in.rest(), nonblocking);
  if (method == "lookups") return AnswerLookups(store->get(), in.rest());
  {
    absl::ReaderMutexLock lock(&(*store)->index_mu);
    if (!(*store)->indexed) {
      return absl::FailedPreconditionError(
          StrCat("this node is still building store ", store_id, "'s index"));
    }
  }
  return AnswerConcordance(store->get(), in.rest());
}

absl::StatusOr<std::string> TmService::AnswerLookup(Store* store, std::string_view request,
                                                    bool nonblocking) {
  Reader in(request);
  LookupQuery q;
  int exhaustive = 0;
  size_t key_bytes = 0;
  std::string_view key;
  if (!in.Number(&q.min_score) || !in.Number(&q.max_results) || !in.Number(&exhaustive) ||
      !in.Number(&q.context.prev_hash) || !in.Number(&q.context.next_hash) ||
      !in.Number(&key_bytes) || !in.Take(key_bytes, &key)) {
    return Malformed("lookup");
  }
  if (q.min_score < 1 || q.min_score > 101 || q.max_results < 1 || q.max_results > 100) {
    return Malformed("lookup");
  }
  q.context.key = std::string(key);
  q.source = in.rest();
  VERSO_RETURN_IF_ERROR(ValidateText(q.source, "source"));
  CachedResult out;
  LookupStats stats;
  if (!nonblocking) {
    store->index_mu.ReaderLock();
  } else if (!store->index_mu.ReaderTryLock()) {
    return WouldBlock("the store's index");  // being changed
  }
  if (!store->indexed) {
    store->index_mu.ReaderUnlock();
    return absl::FailedPreconditionError(
        StrCat("this node does not hold store ", store->record.id, "'s index (yet, or any more)"));
  }
  out.hits = exhaustive != 0 ? store->index.Scan(q, &stats) : store->index.Lookup(q, &stats);
  store->index_mu.ReaderUnlock();
  out.candidates = stats.candidates;
  out.verified = stats.verified;
  return EncodeHits(out);
}

absl::StatusOr<std::string> TmService::AnswerLookups(Store* store, std::string_view request) {
  Reader in(request);
  int min_score = 0, max_results = 0, exhaustive = 0;
  size_t count = 0;
  if (!in.Number(&min_score) || !in.Number(&max_results) || !in.Number(&exhaustive) ||
      !in.Number(&count) || count > 10'000) {
    return Malformed("lookups");
  }
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    size_t key_bytes = 0, source_bytes = 0;
    int64_t prev = 0, next = 0;
    std::string_view key, source;
    if (!in.Number(&key_bytes) || !in.Number(&prev) || !in.Number(&next) ||
        !in.Number(&source_bytes) || !in.Take(key_bytes, &key) || !in.Take(source_bytes, &source)) {
      return Malformed("lookups");
    }
    // One query as AnswerLookup reads it.
    std::string one = StrCat(min_score, " ", max_results, " ", exhaustive, " ", prev, " ", next,
                             " ", key.size(), "\n", key, source);
    VERSO_ASSIGN_OR_RETURN(std::string hits, AnswerLookup(store, one, /*nonblocking=*/false));
    StrAppend(&out, hits.size(), "\n", hits);
  }
  if (!in.rest().empty()) return Malformed("lookups");
  return out;
}

absl::StatusOr<std::string> TmService::AnswerConcordance(Store* store, std::string_view request) {
  Reader in(request);
  ConcordanceOptions o;
  int source = 0, target = 0, mode = 0, before_in_source = 0;
  if (!in.Number(&source) || !in.Number(&target) || !in.Number(&mode) || !in.Number(&o.limit) ||
      !in.Number(&o.before_id) || !in.Number(&before_in_source) || mode < 0 ||
      mode > static_cast<int>(ConcordanceMatchMode::kSubstring) || o.limit < 1 || o.limit > 1000) {
    return Malformed("concordance");
  }
  o.source = source != 0;
  o.target = target != 0;
  o.match = static_cast<ConcordanceMatchMode>(mode);
  o.before_in_source = before_in_source != 0;
  const std::string_view phrase = in.rest();
  VERSO_RETURN_IF_ERROR(ValidateText(phrase, "query"));
  if (o.match != ConcordanceMatchMode::kWords && ConcordanceKey(phrase).size() > kMaxPartialWords) {
    return Malformed("concordance");
  }
  StoreIndex::ConcordancePage page;
  {
    absl::ReaderMutexLock lock(&store->index_mu);
    if (!store->indexed) {
      return absl::FailedPreconditionError(
          StrCat("this node no longer holds store ", store->record.id));
    }
    page = store->index.Concordance(phrase, o);
  }
  std::string out =
      StrCat("p1 ", page.total, " ", page.total_exact ? 1 : 0, " ", page.more ? 1 : 0, "\n");
  for (const ConcordanceHit& h : page.hits) {
    StrAppend(&out, h.segment_id, " ", h.in_source ? 1 : 0, " ", h.ranges.size());
    for (auto [begin, end] : h.ranges) StrAppend(&out, " ", begin, " ", end);
    out += "\n";
  }
  return out;
}

}  // namespace verso::tm
