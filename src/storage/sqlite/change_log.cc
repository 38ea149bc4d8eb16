#include "storage/sqlite/change_log.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"

namespace verso::storage::sqlite {
namespace {

constexpr char kRecord[4] = {'V', 'C', 'L', '1'};
constexpr char kMarker[4] = {'V', 'C', 'P', '1'};
constexpr char kGap[4] = {'V', 'C', 'G', '1'};
constexpr size_t kHeader = 32;  // magic, crc, seq, at, schema, size
constexpr uint32_t kMaxChangeset = 1u << 30;
constexpr int kAutoCheckpointFrames = 1000;  // SQLite's default, which the WAL hook replaces

void Put32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
void Put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint32_t Get32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t Get64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string FileName(const std::string& dir, int64_t first_seq) {
  char name[32];
  std::snprintf(name, sizeof name, "%020lld.log", static_cast<long long>(first_seq));
  return StrCat(dir, "/", name);
}

// The log's files, by first seq.
std::vector<int64_t> Files(const std::string& dir) {
  std::vector<int64_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    int64_t first = 0;
    if (name.size() == 24 && name.ends_with(".log") &&
        ParseInt64(std::string_view(name).substr(0, 20), &first)) {
      out.push_back(first);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool LockWithin(int fd, absl::Duration wait) {
  const absl::Time deadline = absl::Now() + wait;
  absl::Duration pause = absl::Microseconds(50);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) return false;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(1));  // the holder keeps it for an fsync
  }
  return true;
}

enum class Kind { kRecord, kMarker, kGap };

const char* MagicOf(Kind kind) {
  switch (kind) {
    case Kind::kRecord:
      return kRecord;
    case Kind::kMarker:
      return kMarker;
    case Kind::kGap:
      return kGap;
  }
  return kRecord;
}

std::string Encode(Kind kind, int64_t seq, absl::Time at, int schema,
                   const std::string& changeset) {
  std::string entry(kHeader, '\0');
  std::memcpy(entry.data(), MagicOf(kind), 4);
  Put64(entry.data() + 8, static_cast<uint64_t>(seq));
  Put64(entry.data() + 16, static_cast<uint64_t>(absl::ToUnixMicros(at)));
  Put32(entry.data() + 24, static_cast<uint32_t>(schema));
  Put32(entry.data() + 28, static_cast<uint32_t>(changeset.size()));
  entry += changeset;
  const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(entry.data() + 8),
                          static_cast<uInt>(entry.size() - 8));
  Put32(entry.data() + 4, static_cast<uint32_t>(crc));
  return entry;
}

absl::Status WriteAll(int fd, const char* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return absl::UnavailableError(StrCat(path, ": ", std::strerror(errno)));
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

struct FileEnd {
  int64_t offset = 0;                    // where the whole entries end
  std::optional<ChangeRecord> dangling;  // a marker last, no record after it (yet)
};

// Reads the entries of one file from `offset`: fn for each record and gap (`gap` set); a marker
// followed by its record or gap is dropped, one followed by another marker is a gap, one at the
// end is returned. An entry cut short at the end (a crash mid-append) ends the file; a whole
// entry whose checksum fails, or bytes that are no entry, are damage: DataLoss naming the byte.
absl::StatusOr<FileEnd> ReadFile(const std::string& path, int64_t offset,
                                 absl::FunctionRef<absl::Status(ChangeRecord&&)> fn) {
  FileEnd end;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::UnavailableError(StrCat(path, ": cannot be read"));
  in.seekg(0, std::ios::end);
  const int64_t file_size = static_cast<int64_t>(in.tellg());
  in.seekg(offset);
  auto damaged = [&](std::string_view what) {
    return absl::DataLossError(StrCat(path, ": byte ", offset, ": ", what));
  };
  char h[kHeader];
  while (offset + static_cast<int64_t>(kHeader) <= file_size && in.read(h, kHeader)) {
    Kind kind = Kind::kRecord;
    if (std::memcmp(h, kMarker, 4) == 0) {
      kind = Kind::kMarker;
    } else if (std::memcmp(h, kGap, 4) == 0) {
      kind = Kind::kGap;
    } else if (std::memcmp(h, kRecord, 4) != 0) {
      return damaged("not a change record");
    }
    const uint32_t size = Get32(h + 28);
    if (size > kMaxChangeset) return damaged("not a change record (size)");
    if (offset + static_cast<int64_t>(kHeader + size) > file_size) break;  // cut short
    ChangeRecord r;
    r.seq = static_cast<int64_t>(Get64(h + 8));
    r.at = absl::FromUnixMicros(static_cast<int64_t>(Get64(h + 16)));
    r.schema = static_cast<int>(Get32(h + 24));
    r.changeset.resize(size);
    if (!in.read(r.changeset.data(), size)) return damaged("cannot be read");
    uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(h + 8), kHeader - 8);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(r.changeset.data()), size);
    if (static_cast<uint32_t>(crc) != Get32(h + 4)) return damaged("the record's checksum fails");
    offset += static_cast<int64_t>(kHeader + size);
    if (end.dangling && (kind == Kind::kMarker || end.dangling->seq != r.seq)) {
      end.dangling->gap = true;
      VERSO_RETURN_IF_ERROR(fn(*std::move(end.dangling)));
    }
    end.dangling.reset();
    if (kind == Kind::kMarker) {
      end.dangling = std::move(r);
      continue;
    }
    r.gap = kind == Kind::kGap;
    VERSO_RETURN_IF_ERROR(fn(std::move(r)));
  }
  end.offset = offset;
  return end;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChangeLog>> ChangeLog::Attach(sqlite3* db, const std::string& dir,
                                                             const std::string& id, int schema,
                                                             bool sync, int64_t max_file_bytes) {
  std::unique_ptr<ChangeLog> log(new ChangeLog());
  log->db_ = db;
  log->dir_ = dir;
  log->schema_ = schema;
  log->sync_ = sync;
  log->max_file_bytes_ = max_file_bytes;
  // Two processes opening a new database at once must not set each other's fresh log aside:
  // the check and the setting up happen under a lock beside the directory.
  const std::string setup_lock = dir + ".lock";
  const int setup_fd = ::open(setup_lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (setup_fd < 0) {
    return absl::UnavailableError(StrCat(setup_lock, ": ", std::strerror(errno)));
  }
  struct SetupLock {
    int fd;
    ~SetupLock() { ::close(fd); }  // closing releases the flock
  } setup{setup_fd};
  ::flock(setup_fd, LOCK_EX);
  std::error_code ec;
  if (IdOf(dir) != id) {
    // Another database's log, or one a restore left behind: set aside, never appended to.
    if (std::filesystem::exists(dir, ec)) {
      std::string aside = StrCat(dir, ".replaced-", absl::ToUnixSeconds(absl::Now()));
      for (int n = 2; std::filesystem::exists(aside, ec); ++n) {  // two restores in a second
        aside = StrCat(dir, ".replaced-", absl::ToUnixSeconds(absl::Now()), "-", n);
      }
      std::filesystem::rename(dir, aside, ec);
      if (ec) return absl::UnavailableError(StrCat(dir, ": cannot be set aside: ", ec.message()));
    }
    std::filesystem::create_directories(dir, ec);
    std::ofstream out(dir + "/ID", std::ios::trunc);
    out << id << "\n";
    out.close();
    if (!out) return absl::UnavailableError(StrCat(dir, "/ID: cannot be written"));
  }
  log->lock_fd_ = ::open((dir + "/LOCK").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (log->lock_fd_ < 0) {
    return absl::UnavailableError(StrCat(dir, "/LOCK: ", std::strerror(errno)));
  }
  // The log's end is read before the first append (CatchUp), not here: a process that only
  // reads (most CLI commands) never reads the log.
  VERSO_RETURN_IF_ERROR(log->StartSession());
  sqlite3_commit_hook(db, &ChangeLog::OnCommit, log.get());
  sqlite3_rollback_hook(db, &ChangeLog::OnRollback, log.get());
  sqlite3_wal_hook(db, &ChangeLog::OnWal, log.get());
  return log;
}

ChangeLog::~ChangeLog() {
  sqlite3_commit_hook(db_, nullptr, nullptr);
  sqlite3_rollback_hook(db_, nullptr, nullptr);
  sqlite3_wal_autocheckpoint(db_, kAutoCheckpointFrames);  // SQLite's own WAL hook again
  if (session_ != nullptr) sqlite3session_delete(session_);
  ReleaseLock();
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string ChangeLog::IdOf(const std::string& dir) {
  std::ifstream in(dir + "/ID");
  std::string id;
  std::getline(in, id);
  return id;
}

absl::Status ChangeLog::StartSession() {
  if (session_ != nullptr) sqlite3session_delete(session_);
  session_ = nullptr;
  if (int rc = sqlite3session_create(db_, "main", &session_); rc != SQLITE_OK) {
    return absl::InternalError(StrCat("change log: no session: ", sqlite3_errstr(rc)));
  }
  if (int rc = sqlite3session_attach(session_, nullptr); rc != SQLITE_OK) {
    return absl::InternalError(StrCat("change log: session: ", sqlite3_errstr(rc)));
  }
  return absl::OkStatus();
}

int ChangeLog::OnCommit(void* self) {
  auto* log = static_cast<ChangeLog*>(self);
  // A transaction that changed no row (an UPDATE that matched none) writes no WAL frame, so no
  // WAL hook would release the lock: it takes none, having nothing to log.
  if (!log->locked_ && !sqlite3session_isempty(log->session_)) {
    // SQLite's write lock is held: commits queue in order.
    if (!LockWithin(log->lock_fd_, lock_wait)) {
      log::Error("sqlite.change_log.lock_timeout",
                 {{"dir", log->dir_}, {"waited", absl::FormatDuration(lock_wait)}});
      return 1;  // the commit becomes a rollback: refused, not hung, not left out of the log
    }
    log->locked_ = true;
    // Not written (the disk is full): the commit goes on; the WAL hook tries the record and
    // keeps the changes for the next one if it cannot.
    if (absl::Status s = log->Reserve(); !s.ok() && !log->failed_) {
      log::Error("sqlite.change_log.failed", {{"dir", log->dir_}, {"error", s.message()}});
      log->failed_ = true;
    }
  }
  return 0;  // commit
}

void ChangeLog::OnRollback(void* self) {
  auto* log = static_cast<ChangeLog*>(self);
  log->DropMarker();
  log->ReleaseLock();
}

void ChangeLog::DropMarker() {
  if (marker_at_ < 0) return;
  (void)::ftruncate(fd_, marker_at_);
  file_end_ = marker_at_;
  marker_at_ = -1;
}

void ChangeLog::ReleaseLock() {
  if (!locked_) return;
  ::flock(lock_fd_, LOCK_UN);
  locked_ = false;
}

int ChangeLog::OnWal(void* self, sqlite3* db, const char* name, int frames) {
  auto* log = static_cast<ChangeLog*>(self);
  if (!sqlite3session_isempty(log->session_)) {
    int size = 0;
    void* data = nullptr;
    absl::Status s;
    if (before_record_for_test != nullptr) before_record_for_test();
    if (int rc = sqlite3session_changeset(log->session_, &size, &data); rc != SQLITE_OK) {
      s = absl::InternalError(StrCat("no changeset: ", sqlite3_errstr(rc)));
    } else if (size > 0) {
      s = log->Append(std::string(static_cast<const char*>(data), static_cast<size_t>(size)));
    }
    sqlite3_free(data);
    // Appended: the next transaction's changes start afresh. Not appended (the disk is full):
    // the session keeps this transaction's changes, and the next record holds both.
    if (s.ok()) s = log->StartSession();
    if (!s.ok() && !log->failed_) {
      log::Error("sqlite.change_log.failed", {{"dir", log->dir_}, {"error", s.message()}});
    }
    log->failed_ = !s.ok();
  }
  log->DropMarker();  // no record followed it (nothing to record, or not written)
  log->ReleaseLock();
  if (frames >= kAutoCheckpointFrames) {
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
  return SQLITE_OK;
}

absl::Status ChangeLog::OpenFile(int64_t first_seq, bool create) {
  if (fd_ >= 0) ::close(fd_);
  const std::string path = FileName(dir_, first_seq);
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
  if (fd_ < 0) return absl::UnavailableError(StrCat(path, ": ", std::strerror(errno)));
  file_first_ = first_seq;
  file_end_ = 0;
  return absl::OkStatus();
}

absl::Status ChangeLog::CatchUp() {
  std::vector<int64_t> files = Files(dir_);
  if (files.empty()) return OpenFile(last_seq_ + 1, /*create=*/true);
  if (fd_ < 0 || files.back() != file_first_) VERSO_RETURN_IF_ERROR(OpenFile(files.back(), false));
  VERSO_ASSIGN_OR_RETURN(FileEnd read,
                         ReadFile(FileName(dir_, file_first_), file_end_, [&](ChangeRecord&& r) {
                           last_seq_ = r.seq;
                           return absl::OkStatus();
                         }));
  const int64_t end = read.offset;
  std::optional<ChangeRecord>& dangling = read.dangling;
  if (last_seq_ < file_first_ - 1) last_seq_ = file_first_ - 1;  // an empty new file
  // A torn entry at the end (a crash mid-append) is cut off, so the next one follows whole ones.
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && st.st_size > end && ::ftruncate(fd_, end) != 0) {
    return absl::UnavailableError(StrCat(dir_, ": ", std::strerror(errno)));
  }
  file_end_ = end;
  if (!dangling) return absl::OkStatus();
  // The lock is ours, so the marker's process is gone: its transaction may have committed.
  const std::string gap = Encode(Kind::kGap, dangling->seq, dangling->at, schema_, "");
  VERSO_RETURN_IF_ERROR(WriteAll(fd_, gap.data(), gap.size(), FileName(dir_, file_first_)));
  if (sync_ && ::fdatasync(fd_) != 0) {
    return absl::UnavailableError(StrCat(dir_, ": ", std::strerror(errno)));
  }
  file_end_ += static_cast<int64_t>(gap.size());
  last_seq_ = dangling->seq;
  log::Error("sqlite.change_log.gap",
             {{"dir", dir_},
              {"seq", dangling->seq},
              {"committed_at", absl::FormatTime(dangling->at, absl::UTCTimeZone())},
              {"detail",
               "a process stopped between a commit and its change record: a restore cannot go "
               "past this time with this log; take a backup"}});
  return absl::OkStatus();
}

absl::Status ChangeLog::Reserve() {
  VERSO_RETURN_IF_ERROR(CatchUp());
  // Files of a bounded size: what a process reads to find the log's end, and what can be deleted
  // once older than the oldest backup. A marker and its record share a file.
  if (file_end_ >= max_file_bytes_) VERSO_RETURN_IF_ERROR(OpenFile(last_seq_ + 1, true));
  const std::string marker = Encode(Kind::kMarker, last_seq_ + 1, absl::Now(), schema_, "");
  VERSO_RETURN_IF_ERROR(WriteAll(fd_, marker.data(), marker.size(), FileName(dir_, file_first_)));
  marker_at_ = file_end_;
  file_end_ += static_cast<int64_t>(marker.size());
  return absl::OkStatus();
}

absl::Status ChangeLog::Append(const std::string& changeset) {
  if (changeset.size() > kMaxChangeset) {
    return absl::ResourceExhaustedError("a transaction's changeset is over 1 GiB");
  }
  if (marker_at_ < 0) VERSO_RETURN_IF_ERROR(Reserve());  // the commit hook could not
  const std::string record = Encode(Kind::kRecord, last_seq_ + 1, absl::Now(), schema_, changeset);
  const std::string path = FileName(dir_, file_first_);
  absl::Status s = WriteAll(fd_, record.data(), record.size(), path);
  if (s.ok() && sync_ && ::fdatasync(fd_) != 0) {
    s = absl::UnavailableError(StrCat(path, ": ", std::strerror(errno)));
  }
  if (!s.ok()) {
    (void)::ftruncate(fd_, file_end_);  // no half record for the next append to follow
    return s;                           // (the marker goes in the WAL hook)
  }
  file_end_ += static_cast<int64_t>(record.size());
  ++last_seq_;
  marker_at_ = -1;  // followed by its record
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ChangeLog::LockForBackup() {
  if (!locked_) {
    if (!LockWithin(lock_fd_, lock_wait)) {
      return absl::UnavailableError(
          StrCat(dir_, ": the change log stayed locked for ", absl::FormatDuration(lock_wait)));
    }
    locked_ = true;
  }
  absl::Status s = CatchUp();
  if (s.ok() && file_end_ > 0) s = OpenFile(last_seq_ + 1, /*create=*/true);
  if (!s.ok()) {
    ReleaseLock();
    return s;
  }
  return last_seq_;
}

void ChangeLog::Unlock() { ReleaseLock(); }

void ChangeLog::RemoveThrough(const std::string& dir, int64_t seq, int* files, int64_t* bytes) {
  const std::vector<int64_t> firsts = Files(dir);
  for (size_t i = 0; i + 1 < firsts.size() && firsts[i + 1] <= seq + 1; ++i) {
    const std::string path = FileName(dir, firsts[i]);
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (std::filesystem::remove(path, ec)) {
      ++*files;
      *bytes += ec ? 0 : static_cast<int64_t>(size);
    }
  }
}

absl::Status ChangeLog::Read(const std::string& dir, int64_t after,
                             absl::FunctionRef<absl::Status(const ChangeRecord&)> fn) {
  std::vector<int64_t> files = Files(dir);
  for (size_t i = 0; i < files.size(); ++i) {
    if (i + 1 < files.size() && files[i + 1] <= after + 1) continue;  // all before `after`
    auto deliver = [&](ChangeRecord&& r) { return r.seq > after ? fn(r) : absl::OkStatus(); };
    VERSO_ASSIGN_OR_RETURN(FileEnd end, ReadFile(FileName(dir, files[i]), 0, deliver));
    // A marker last in a file: its process died, and no process has written to the file since.
    if (end.dangling) {
      end.dangling->gap = true;
      VERSO_RETURN_IF_ERROR(deliver(*std::move(end.dangling)));
    }
  }
  return absl::OkStatus();
}

}  // namespace verso::storage::sqlite
