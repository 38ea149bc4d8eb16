// StoreIndex as bytes (index.h: WriteTo, ReadFrom). Every table in memory order: vectors as a
// count and their raw elements, hash maps as their entries; the id -> slot map is rebuilt from
// the slots. Native byte order (a snapshot is read back by verso on the same architecture; the
// header that TmService writes names it). Reading checks every count against the bytes left
// before allocating, and every slot and offset against the tables it indexes.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "common/clock.h"
#include "common/hash.h"
#include "common/status.h"
#include "common/strings.h"
#include "tm/index.h"
#include "tm/store.h"
#include "tm/tm.h"

namespace verso::tm {

class SnapshotWriter {
 public:
  explicit SnapshotWriter(std::FILE* out) : out_(out) {}
  bool ok() const { return ok_; }

  void Raw(const void* data, size_t bytes) {
    if (ok_ && bytes > 0 && std::fwrite(data, 1, bytes, out_) != bytes) ok_ = false;
    offset_ += bytes;
  }
  // Zeros up to the next multiple of 8 bytes, so that the reader can use tables in place.
  void Align() {
    static constexpr char kZeros[8] = {};
    if (offset_ % 8 != 0) Raw(kZeros, 8 - offset_ % 8);
  }
  void U64(uint64_t v) { Raw(&v, sizeof(v)); }
  template <typename T>
  void Vector(const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= 8);
    U64(v.size());
    Raw(v.data(), v.size() * sizeof(T));
    Align();
  }
  void String(std::string_view s) {
    U64(s.size());
    Raw(s.data(), s.size());
    Align();
  }
  template <typename T>
  void Nested(const std::vector<std::vector<T>>& v) {
    U64(v.size());
    for (const auto& inner : v) Vector(inner);
  }
  // Entries as one block of (id, length) pairs, then the words one after the other.
  void Vocabulary(const absl::flat_hash_map<std::string, uint32_t>& vocab) {
    U64(vocab.size());
    std::vector<uint64_t> entries;
    entries.reserve(2 * vocab.size());
    std::string words;
    for (const auto& [word, id] : vocab) {
      entries.push_back(id);
      entries.push_back(word.size());
      words += word;
    }
    Vector(entries);
    String(words);
  }

  void Index(const StoreIndex& x) {
    Vocabulary(x.vocab_);
    Nested(x.postings_);
    Vocabulary(x.target_vocab_);
    Nested(x.target_postings_);
    Vector(x.ids_);
    Vector(x.alive_);
    Vector(x.lengths_);
    Vector(x.sketches_);
    Vector(x.key_begin_);
    Vector(x.keys_);
    Vector(x.text_offsets_);
    String(x.text_);
    Vector(x.changed_at_);
    Vector(x.context_key_);
    Vector(x.context_around_);
    std::vector<uint64_t> exact;
    exact.reserve(2 * (x.exact_head_.size() + x.exact_sorted_.size()));
    for (const auto& [hash, slot] : x.exact_head_) {
      exact.push_back(hash);
      exact.push_back(slot);
    }
    for (const auto& [hash, slot] : x.exact_sorted_) {
      if (x.exact_head_.contains(hash)) continue;  // the map's head is newer
      exact.push_back(hash);
      exact.push_back(slot);
    }
    Vector(exact);
    Vector(x.exact_next_);
    // Lists in runs: the token, then where each run starts and where the runs end.
    std::vector<uint32_t> runs;
    runs.reserve(x.runs_.size() * (StoreIndex::kRuns + 2));
    for (const auto& [token, starts] : x.runs_) {
      runs.push_back(token);
      runs.insert(runs.end(), starts.begin(), starts.end());
    }
    Vector(runs);
  }

 private:
  std::FILE* out_;
  bool ok_ = true;
  uint64_t offset_ = 0;
};

// Reads from memory (the file mapped), 8-byte aligned as the writer left it.
class SnapshotReader {
 public:
  SnapshotReader(const char* data, uint64_t bytes) : p_(data), left_(bytes) {}
  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty(); }

  bool Fail(std::string what) {
    if (error_.empty()) error_ = std::move(what);
    return false;
  }
  bool Skip(uint64_t bytes) {
    if (bytes > left_) return Fail("truncated");
    p_ += bytes;
    left_ -= bytes;
    return true;
  }
  bool Align() { return offset() % 8 == 0 || Skip(8 - offset() % 8); }
  bool U64(uint64_t* v) {
    if (!ok() || left_ < sizeof(*v)) return Fail("truncated");
    std::memcpy(v, p_, sizeof(*v));
    return Skip(sizeof(*v));
  }
  // A table of n elements of T in place: its first element (aligned), checked to fit.
  template <typename T>
  bool Table(const T** first, uint64_t* n, const char* what) {
    if (!U64(n)) return false;
    if (*n > left_ / sizeof(T)) return Fail(StrCat(what, ": count past the end"));
    *first = reinterpret_cast<const T*>(p_);
    return Skip(*n * sizeof(T)) && Align();
  }
  template <typename T>
  bool Vector(std::vector<T>* v, const char* what) {
    const T* first = nullptr;
    uint64_t n = 0;
    if (!Table(&first, &n, what)) return false;
    v->assign(first, first + n);
    return true;
  }
  bool String(std::string* s, const char* what) {
    const char* first = nullptr;
    uint64_t n = 0;
    if (!Table(&first, &n, what)) return false;
    s->assign(first, n);
    return true;
  }
  template <typename T>
  bool Nested(std::vector<std::vector<T>>* v, const char* what) {
    uint64_t n = 0;
    if (!U64(&n)) return false;
    if (n > left_ / sizeof(uint64_t)) return Fail(StrCat(what, ": count past the end"));
    v->resize(n);
    for (auto& inner : *v) {
      if (!Vector(&inner, what)) return false;
    }
    return true;
  }
  bool Vocabulary(absl::flat_hash_map<std::string, uint32_t>* vocab, const char* what) {
    uint64_t n = 0, pairs = 0, total = 0;
    const uint64_t* entries = nullptr;
    const char* words = nullptr;
    if (!U64(&n) || !Table(&entries, &pairs, what) || !Table(&words, &total, what)) return false;
    if (pairs != 2 * n) return Fail(StrCat(what, ": entries and words disagree"));
    vocab->reserve(n);
    uint64_t at = 0;
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t id = entries[2 * i], length = entries[2 * i + 1];
      if (length > total - at) return Fail(StrCat(what, ": words past the end"));
      if (id >= UINT32_MAX) return Fail(StrCat(what, ": token id out of range"));
      vocab->emplace(std::string(words + at, length), static_cast<uint32_t>(id));
      at += length;
    }
    return true;
  }

  bool Index(StoreIndex* x) {
    std::vector<uint64_t> exact;
    std::vector<uint32_t> runs;
    if (!Vocabulary(&x->vocab_, "vocabulary") || !Nested(&x->postings_, "postings") ||
        !Vocabulary(&x->target_vocab_, "target vocabulary") ||
        !Nested(&x->target_postings_, "target postings") || !Vector(&x->ids_, "ids") ||
        !Vector(&x->alive_, "alive") || !Vector(&x->lengths_, "lengths") ||
        !Vector(&x->sketches_, "penalty sketches") || !Vector(&x->key_begin_, "key offsets") ||
        !Vector(&x->keys_, "keys") || !Vector(&x->text_offsets_, "text offsets") ||
        !String(&x->text_, "text") || !Vector(&x->changed_at_, "change dates") ||
        !Vector(&x->context_key_, "context keys") || !Vector(&x->context_around_, "contexts") ||
        !Vector(&exact, "exact matches") || !Vector(&x->exact_next_, "exact chains") ||
        !Vector(&runs, "posting runs")) {
      return false;
    }
    if (left_ != 0) return Fail("bytes after the end");
    if (!Runs(runs, x)) return false;
    if (exact.size() % 2 != 0) return Fail("exact matches: odd");
    // The exact-match heads sort into their table beside the checks (ids: a map to fill).
    bool exact_ok = true;
    std::thread exact_thread([&] {
      x->exact_sorted_.reserve(exact.size() / 2);
      for (size_t i = 0; i < exact.size(); i += 2) {
        if (exact[i + 1] >= x->ids_.size()) exact_ok = false;
        x->exact_sorted_.emplace_back(exact[i], static_cast<uint32_t>(exact[i + 1]));
      }
      std::sort(x->exact_sorted_.begin(), x->exact_sorted_.end());
      for (size_t i = 1; i < x->exact_sorted_.size(); ++i) {
        if (x->exact_sorted_[i].first == x->exact_sorted_[i - 1].first) exact_ok = false;
      }
    });
    const bool checked = Check(*x);
    exact_thread.join();
    return checked && (exact_ok || Fail("exact matches: a slot out of range or a key twice"));
  }

  // The lists in runs: each token's once, its runs in order within its list, and every posting
  // of a run of the run's lengths (a lookup skips a run by its lengths).
  bool Runs(const std::vector<uint32_t>& flat, StoreIndex* x) {
    constexpr size_t kEntry = StoreIndex::kRuns + 2;
    if (flat.size() % kEntry != 0) return Fail("posting runs: not whole entries");
    for (size_t at = 0; at < flat.size(); at += kEntry) {
      const uint32_t token = flat[at];
      if (token >= x->postings_.size()) return Fail("posting runs: token out of range");
      StoreIndex::Runs starts;
      std::copy(flat.begin() + at + 1, flat.begin() + at + kEntry, starts.begin());
      const auto& list = x->postings_[token];
      if (starts[0] != 0 || starts[StoreIndex::kRuns] > list.size()) {
        return Fail("posting runs: past the list");
      }
      for (int b = 0; b < StoreIndex::kRuns; ++b) {
        if (starts[b] > starts[b + 1]) return Fail("posting runs: out of order");
        for (uint32_t i = starts[b]; i < starts[b + 1]; ++i) {
          if (StoreIndex::RunOf(list[i].length) != b)
            return Fail("posting runs: a length elsewhere");
        }
      }
      if (!x->runs_.emplace(token, starts).second) return Fail("posting runs: a token twice");
    }
    return true;
  }

  // Every table the size the slots say; every slot, token and offset within its table.
  bool Check(StoreIndex& x) {
    const uint64_t slots = x.ids_.size();
    if (x.alive_.size() != slots || x.lengths_.size() != slots || x.sketches_.size() != slots ||
        x.changed_at_.size() != slots || x.context_key_.size() != slots ||
        x.context_around_.size() != slots || x.exact_next_.size() != slots ||
        x.key_begin_.size() != slots + 1 || x.text_offsets_.size() != 2 * slots + 1) {
      return Fail("tables of different sizes");
    }
    for (uint64_t s = 0; s < slots; ++s) {
      if (x.key_begin_[s] > x.key_begin_[s + 1]) return Fail("key offsets out of order");
    }
    if (x.key_begin_[0] != 0 || x.key_begin_[slots] != x.keys_.size()) {
      return Fail("key offsets past the keys");
    }
    for (uint64_t i = 0; i + 1 < x.text_offsets_.size(); ++i) {
      if (x.text_offsets_[i] > x.text_offsets_[i + 1]) return Fail("text offsets out of order");
    }
    if (x.text_offsets_[0] != 0 || x.text_offsets_.back() != x.text_.size()) {
      return Fail("text offsets past the text");
    }
    for (uint32_t token : x.keys_) {
      if (token >= x.postings_.size()) return Fail("key token out of range");
    }
    for (const auto& list : x.postings_) {
      for (const auto& p : list) {
        if (p.slot >= slots) return Fail("posting slot out of range");
      }
    }
    for (const auto& list : x.target_postings_) {
      for (uint32_t slot : list) {
        if (slot >= slots) return Fail("target posting slot out of range");
      }
    }
    for (const auto& [word, id] : x.vocab_) {
      if (id >= x.postings_.size()) return Fail("vocabulary token out of range");
    }
    for (const auto& [word, id] : x.target_vocab_) {
      if (id >= x.target_postings_.size()) return Fail("target vocabulary token out of range");
    }
    for (uint32_t next : x.exact_next_) {
      if (next != 0xFFFFFFFFu && next >= slots) return Fail("exact chain out of range");
    }
    // Ids: the ascending range first (as Insert left it), then the map for the slots after it.
    x.sorted_end_ = 0;
    while (x.sorted_end_ < slots &&
           (x.sorted_end_ == 0 || x.ids_[x.sorted_end_] > x.ids_[x.sorted_end_ - 1])) {
      ++x.sorted_end_;
    }
    x.slots_in_tie_order_ = true;
    for (uint32_t s = 1; s < slots; ++s) x.NoteTieOrder(s);
    x.live_ = 0;
    for (uint64_t s = 0; s < slots; ++s) {
      if (x.alive_[s] == 0) continue;
      if (s >= x.sorted_end_) {
        if (x.SlotOf(x.ids_[s]) != StoreIndex::kNoSlot) return Fail("a segment in two live slots");
        x.slot_of_.emplace(x.ids_[s], static_cast<uint32_t>(s));
      }
      ++x.live_;
    }
    return true;
  }

 private:
  uint64_t offset() const { return static_cast<uint64_t>(p_ - base_); }
  const char* p_;
  const char* base_ = p_;
  uint64_t left_;
  std::string error_;
};

absl::Status StoreIndex::WriteTo(std::FILE* out) const {
  SnapshotWriter w(out);
  w.Index(*this);
  if (!w.ok()) return absl::UnavailableError("writing the index snapshot failed");
  return absl::OkStatus();
}

absl::StatusOr<StoreIndex> StoreIndex::ReadFrom(const char* data, uint64_t bytes) {
  StoreIndex x;
  SnapshotReader r(data, bytes);
  if (!r.Index(&x)) return absl::DataLossError(StrCat("index snapshot: ", r.error()));
  return x;
}

}  // namespace verso::tm

// ---- TmService's snapshot files ----
//
// DIR/STORE.snap: the line "verso-tm-snapshot 5 STORE POSITION WRITTEN_MICROS ENDIAN PLACEMENT
// CHECKSUM\n" (padded with spaces to a multiple of 8 bytes), then StoreIndex::WriteTo's bytes to
// the end of the file, which a reader maps and copies its tables from. CHECKSUM is the XXH3-64
// of those bytes (16 hex digits): a reader checks it before it trusts any table (a flipped bit in
// a posting list passes every structural check and answers wrongly). Written to a temporary
// file, fsynced, then renamed over the old one: a reader sees a whole snapshot or the previous
// one.

namespace verso::tm {
namespace {

constexpr std::string_view kMagic = "verso-tm-snapshot";
// 2: the store's placement version ends the header. 3: long posting lists in runs by key length
// (StoreIndex::runs_), and a key-less text's exact-match hash is its plain text's. 4: each
// slot's penalty sketch (StoreIndex::sketches_). 5: the header ends with the body's checksum.
constexpr int kVersion = 5;
constexpr size_t kMaxHeader = 512;

// A checksum as the header writes it: 16 hex digits.
std::string Hex16(uint64_t v) {
  char out[17];
  std::snprintf(out, sizeof(out), "%016llx", static_cast<unsigned long long>(v));
  return out;
}

bool ParseHex16(std::string_view s, uint64_t* v) {
  if (s.size() != 16) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v, 16);
  return ec == std::errc() && end == s.data() + s.size();
}

// A header line's fields (it is padded with spaces).
std::vector<std::string_view> HeaderFields(std::string_view line) {
  std::vector<std::string_view> fields;
  for (std::string_view f : Split(line, ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  return fields;
}

std::string_view Endian() { return std::endian::native == std::endian::little ? "le" : "be"; }

// A snapshot's first line: what it is, the change-log position its index reflects, when it was
// written (Unix microseconds), byte order, the store's placement and the body's checksum (always
// 16 digits: the header's size does not depend on it). Padded with spaces to a multiple of 8
// bytes: the index's tables stay aligned in the file.
std::string SnapshotHeader(std::string_view store_id, int64_t position, int64_t written,
                           int64_t placement, uint64_t checksum) {
  std::string h = StrCat(kMagic, " ", kVersion, " ", store_id, " ", position, " ", written, " ",
                         Endian(), " ", placement, " ", Hex16(checksum));
  h.append(7 - h.size() % 8, ' ');
  return h + '\n';
}

struct Closer {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

using File = std::unique_ptr<std::FILE, Closer>;

// The XXH3-64 of file `fd`'s bytes from `offset` to its end.
absl::StatusOr<uint64_t> HashFrom(int fd, size_t offset) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return absl::UnavailableError(std::strerror(errno));
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < offset) return absl::InternalError("the snapshot is shorter than its header");
  void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (mapped == MAP_FAILED) return absl::UnavailableError(std::strerror(errno));
  const uint64_t h =
      StableHash64(std::string_view(static_cast<const char*>(mapped) + offset, size - offset));
  ::munmap(mapped, size);
  return h;
}

}  // namespace

void TmService::EnableSnapshots(std::string dir, absl::Duration max_age) {
  snapshot_dir_ = std::move(dir);
  snapshot_max_age_ = max_age;
}

std::string TmService::SnapshotPath(std::string_view store_id) const {
  return StrCat(snapshot_dir_, "/", store_id, ".snap");
}

absl::StatusOr<bool> TmService::IndexFromSnapshot(Store* store) {
  sync_mu_.AssertHeld();
  store->write_mu.AssertHeld();
  const std::string path = SnapshotPath(store->record.id);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size == 0) {
    ::close(fd);
    return false;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  ::close(fd);
  if (mapped == MAP_FAILED) {
    return absl::UnavailableError(StrCat(path, ": ", std::strerror(errno)));
  }
  struct Unmap {
    void* p;
    size_t n;
    ~Unmap() { ::munmap(p, n); }
  } unmap{mapped, size};
  const std::string_view file(static_cast<const char*>(mapped), size);
  const size_t eol = file.substr(0, kMaxHeader).find('\n');
  if (eol == std::string_view::npos || (eol + 1) % 8 != 0) {
    return absl::DataLossError(StrCat(path, ": no header"));
  }
  const std::vector<std::string_view> fields = HeaderFields(file.substr(0, eol));
  int64_t position = 0, written = 0, placement = 0;
  uint64_t checksum = 0;
  if (fields.size() != 8 || fields[0] != kMagic || fields[1] != StrCat(kVersion) ||
      !ParseInt64(fields[3], &position) || !ParseInt64(fields[4], &written) ||
      !ParseInt64(fields[6], &placement) || !ParseHex16(fields[7], &checksum)) {
    return absl::DataLossError(StrCat(path, ": not a verso TM snapshot of this version"));
  }
  if (fields[2] != store->record.id || fields[5] != Endian()) {
    return absl::DataLossError(StrCat(path, ": the snapshot of another store or machine"));
  }
  const absl::Duration age = clock_->Now() - absl::FromUnixMicros(written);
  if (age > snapshot_max_age_) return false;  // the log may no longer hold the changes since
  // Written before the store last moved between TM shards: the changes since are in two logs.
  const int log = storage::ChangeLog(position);
  if (log != store->log || placement != store->placement) return false;
  // Beyond the log's head: written before the database was restored to an earlier time (`verso
  // restore`), so it may hold segments the database no longer has.
  if (position > SyncedIn(log)) return false;
  if (const uint64_t body = StableHash64(file.substr(eol + 1)); body != checksum) {
    return absl::DataLossError(StrCat(path, ": damaged: its checksum is ", Hex16(checksum),
                                      ", its index's bytes hash to ", Hex16(body)));
  }
  VERSO_ASSIGN_OR_RETURN(StoreIndex index,
                         StoreIndex::ReadFrom(file.data() + eol + 1, size - eol - 1));
  {
    absl::WriterMutexLock lock(&store->index_mu);
    store->index = std::move(index);
  }
  // The changes to this store between the snapshot and what this process has read of the log
  // (later ones: Sync, once the index is in place).
  std::vector<storage::TmChange> since;
  const int64_t synced = SyncedIn(log);
  for (int64_t after = position; after < synced;) {
    VERSO_ASSIGN_OR_RETURN(std::vector<storage::TmChange> changes,
                           repo_->ChangesAfter(after, 10'000));
    if (changes.empty()) break;
    for (storage::TmChange& c : changes) {
      if (c.seq > synced) break;
      if (c.store_id == store->record.id) since.push_back(std::move(c));
    }
    after = changes.back().seq;
  }
  VERSO_RETURN_IF_ERROR(ApplyToIndex(store, since));
  store->snapshot_change = position;
  store->snapshot_at = absl::FromUnixMicros(written);
  return true;
}

absl::Status TmService::WriteSnapshot(std::string_view store_id) {
  if (snapshot_dir_.empty()) return absl::FailedPreconditionError("snapshots are not enabled");
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(kAnyTenant, store_id));
  // The position first, then the index: the index holds every change up to the position and
  // perhaps some after it, which a reader applies again (applying one twice changes nothing).
  // So the file is written holding only the index's reader lock, and flushed to disk holding
  // nothing: a node's Sync, and the lookups that wait for it, are not held up by the disk.
  int64_t position, placement;
  {
    absl::MutexLock sync(&sync_mu_);  // Sync moves both
    position = SyncedIn(store->log);
    placement = store->placement;
  }
  std::error_code ec;
  std::filesystem::create_directories(snapshot_dir_, ec);
  const std::string path = SnapshotPath(store->record.id);
  static std::atomic<int64_t> writes{0};
  const std::string temp = StrCat(path, ".", ::getpid(), ".", writes++, ".tmp");
  const absl::Time now = clock_->Now();
  File f(std::fopen(temp.c_str(), "w+b"));  // read back for the checksum
  if (f == nullptr) {
    return absl::UnavailableError(StrCat(temp, ": cannot be written: ", std::strerror(errno)));
  }
  // The checksum is written over the header's zeros once the body is on disk.
  const std::string header =
      SnapshotHeader(store->record.id, position, absl::ToUnixMicros(now), placement, 0);
  absl::Status s = absl::OkStatus();
  {
    absl::ReaderMutexLock lock(&store->index_mu);
    if (!store->indexed) {
      s = absl::FailedPreconditionError(StrCat("store ", store_id, "'s index is not built here"));
    } else if (storage::ChangeLog(position) != store->log || placement != store->placement) {
      s = absl::FailedPreconditionError(StrCat("store ", store_id, " moved while written"));
    }
    if (s.ok() && std::fwrite(header.data(), 1, header.size(), f.get()) != header.size()) {
      s = absl::UnavailableError("writing the index snapshot failed");
    }
    if (s.ok()) s = store->index.WriteTo(f.get());
  }
  if (s.ok() && std::fflush(f.get()) != 0) {
    s = absl::UnavailableError(StrCat(temp, ": ", std::strerror(errno)));
  }
  if (s.ok()) {
    absl::StatusOr<uint64_t> body = HashFrom(fileno(f.get()), header.size());
    s = body.status();
    if (s.ok()) {
      const std::string sealed =
          SnapshotHeader(store->record.id, position, absl::ToUnixMicros(now), placement, *body);
      if (::pwrite(fileno(f.get()), sealed.data(), sealed.size(), 0) !=
              static_cast<ssize_t>(sealed.size()) ||
          ::fsync(fileno(f.get())) != 0) {
        s = absl::UnavailableError(StrCat(temp, ": ", std::strerror(errno)));
      }
    }
  }
  f.reset();
  if (s.ok() && std::rename(temp.c_str(), path.c_str()) != 0) {
    s = absl::UnavailableError(StrCat(path, ": ", std::strerror(errno)));
  }
  if (!s.ok()) {
    std::remove(temp.c_str());
    return s;
  }
  absl::MutexLock write(&store->write_mu);
  store->snapshot_change = position;
  store->snapshot_at = now;
  return absl::OkStatus();
}

absl::StatusOr<bool> TmService::RefreshSnapshot(Store* store, int64_t position, int64_t placement) {
  const std::string path = SnapshotPath(store->record.id);
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  char buffer[kMaxHeader];
  const ssize_t got = ::pread(fd, buffer, sizeof(buffer), 0);
  if (got <= 0) return false;
  const std::string_view head(buffer, static_cast<size_t>(got));
  const size_t eol = head.find('\n');
  if (eol == std::string_view::npos) return false;
  const std::vector<std::string_view> fields = HeaderFields(head.substr(0, eol));
  int64_t was = 0;
  uint64_t checksum = 0;
  if (fields.size() != 8 || !ParseInt64(fields[4], &was) || !ParseHex16(fields[7], &checksum)) {
    return false;
  }
  // The header this process would write for the index in the file (whose bytes, and so their
  // checksum, stay as they are), but for its time.
  auto header_at = [&](int64_t written) {
    return SnapshotHeader(store->record.id, position, written, placement, checksum);
  };
  if (head.substr(0, eol + 1) != header_at(was)) return false;
  const std::string fresh = header_at(absl::ToUnixMicros(clock_->Now()));
  if (fresh.size() != eol + 1) return false;
  // Within the first page: a reader sees the old header or the new one.
  if (::pwrite(fd, fresh.data(), fresh.size(), 0) != static_cast<ssize_t>(fresh.size()) ||
      ::fdatasync(fd) != 0) {
    return absl::UnavailableError(StrCat(path, ": ", std::strerror(errno)));
  }
  return true;
}

absl::StatusOr<int> TmService::WriteSnapshots(absl::Duration interval) {
  std::vector<std::shared_ptr<Store>> stores;
  {
    absl::ReaderMutexLock lock(&stores_->mu);
    for (const auto& [id, store] : stores_->by_id) stores.push_back(store);
  }
  int written = 0;
  const absl::Time now = clock_->Now();
  for (const auto& store : stores) {
    bool unchanged;
    int64_t position;
    {
      absl::MutexLock write(&store->write_mu);
      absl::ReaderMutexLock lock(&store->index_mu);
      // An unchanged store's snapshot is written again once it is half as old as a snapshot
      // may be (older ones are not used: the log may no longer hold the changes since).
      unchanged =
          storage::ChangeLog(store->last_change) == storage::ChangeLog(store->snapshot_change) &&
          store->last_change <= store->snapshot_change;
      if (!store->indexed || now - store->snapshot_at < interval ||
          (unchanged && now - store->snapshot_at < snapshot_max_age_ / 2)) {
        continue;
      }
      position = store->snapshot_change;
    }
    // Unchanged: the file's index is still right and only its time is renewed (a whole rewrite
    // was 34 MB per 100,000 segments every 15 minutes).
    if (unchanged) {
      absl::StatusOr<bool> refreshed = RefreshSnapshot(store.get(), position, store->placement);
      if (refreshed.ok() && *refreshed) {
        absl::MutexLock write(&store->write_mu);
        if (store->snapshot_change == position) store->snapshot_at = now;
        ++written;
        continue;
      }
    }
    absl::Status s = WriteSnapshot(store->record.id);
    if (absl::IsNotFound(s) || absl::IsFailedPrecondition(s)) continue;  // gone meanwhile
    VERSO_RETURN_IF_ERROR(s);
    ++written;
  }
  return written;
}

}  // namespace verso::tm
