// Background imports: a durable record per import, a thread per running import, live progress.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/ids.h"
#include "common/json.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "tm/store.h"
#include "tm/tm.h"

namespace verso::tm {
namespace {

std::string ReportJson(const ImportReport& r) {
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& s : r.skipped_units) skipped.push_back({{"line", s.line}, {"reason", s.reason}});
  return DumpJson(nlohmann::json{{"units", r.units},
                                 {"inserted", r.inserted},
                                 {"merged", r.merged},
                                 {"skipped", r.skipped},
                                 {"skipped_units", skipped},
                                 {"write_micros", absl::ToInt64Microseconds(r.write_time)},
                                 {"index_micros", absl::ToInt64Microseconds(r.index_time)}});
}

ImportReport ParseReport(const std::string& text) {
  ImportReport r;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return r;
  r.units = j.value("units", int64_t{0});
  r.inserted = j.value("inserted", int64_t{0});
  r.merged = j.value("merged", int64_t{0});
  r.skipped = j.value("skipped", int64_t{0});
  if (j.contains("skipped_units") && j["skipped_units"].is_array()) {
    for (const auto& s : j["skipped_units"]) {
      r.skipped_units.push_back({s.value("line", int64_t{0}), s.value("reason", std::string())});
    }
  }
  r.write_time = absl::Microseconds(j.value("write_micros", int64_t{0}));
  r.index_time = absl::Microseconds(j.value("index_micros", int64_t{0}));
  return r;
}

ImportInfo InfoOf(const storage::ImportRecord& r) {
  ImportInfo info;
  info.id = r.id;
  info.store_id = r.store_id;
  info.status = r.status;
  info.error = r.error;
  info.bytes_total = r.bytes_total;
  info.created_at = r.created_at;
  info.finished_at = r.finished_at;
  if (!r.report.empty()) {
    info.report = ParseReport(r.report);
    info.units = info.report.units;
    info.bytes_read = r.bytes_total;
  }
  return info;
}

}  // namespace

absl::StatusOr<ImportReport> TmService::ImportFile(const std::string& tenant,
                                                   const std::string& store_id,
                                                   const std::string& file,
                                                   const std::string& format,
                                                   const ImportOptions& options) {
  if (format == "po") return ImportPo(tenant, store_id, file, options);
  return ImportTmx(tenant, store_id, file, options);
}

absl::StatusOr<ImportInfo> TmService::StartImport(std::string_view tenant,
                                                  std::string_view store_id,
                                                  const std::string& file, std::string_view format,
                                                  std::string_view user) {
  if (format != "tmx" && format != "po") {
    return absl::InvalidArgumentError(StrCat("format: \"", format, "\" is not tmx or po"));
  }
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  {
    absl::MutexLock lock(&imports_->mu);
    int pending = 0;
    for (const auto& [id, p] : imports_->running) pending += p->tenant == store->record.tenant;
    if (pending >= Imports::kMaxPendingPerTenant) {
      return Throttled(StrCat("this tenant has ", pending,
                              " imports queued or running; start more when one has ended"));
    }
  }
  std::error_code ec;
  int64_t size = static_cast<int64_t>(std::filesystem::file_size(file, ec));
  if (ec) return absl::NotFoundError("the upload is gone");
  storage::ImportRecord record;
  record.id = ids_->Next("imp");
  record.store_id = store->record.id;
  record.tenant = store->record.tenant;
  record.file = file;
  record.format = std::string(format);
  record.user = std::string(user);
  record.status = "queued";
  record.bytes_total = size;
  record.created_at = clock_->Now();
  VERSO_RETURN_IF_ERROR(db_->imports().SaveImport(record));
  ImportInfo info = InfoOf(record);
  {
    absl::MutexLock lock(&imports_->mu);
    if (imports_->stop) return absl::UnavailableError("the server is shutting down");
    auto progress = std::make_shared<Imports::Progress>();
    progress->tenant = record.tenant;
    imports_->running[record.id] = std::move(progress);
    imports_->threads.emplace_back([this, record] { RunBackgroundImport(record); });
  }
  log::Info("tm.import.queued",
            {{"import", record.id}, {"store", record.store_id}, {"bytes", record.bytes_total}});
  return info;
}

void TmService::RunBackgroundImport(storage::ImportRecord record) {
  std::shared_ptr<Imports::Progress> progress;
  {
    // Queued until a slot is free: one per tenant, kMaxRunning in all.
    absl::MutexLock lock(&imports_->mu);
    progress = imports_->running[record.id];
    while (!imports_->stop &&
           (imports_->running_total >= Imports::kMaxRunning ||
            imports_->running_by_tenant[record.tenant] >= Imports::kMaxRunningPerTenant)) {
      imports_->slot_freed.Wait(&imports_->mu);
    }
    if (imports_->stop) {  // still queued: it runs at the next start
      imports_->running.erase(record.id);
      return;
    }
    ++imports_->running_total;
    ++imports_->running_by_tenant[record.tenant];
  }
  struct Slot {
    Imports* imports;
    std::string tenant;
    ~Slot() {
      {
        absl::MutexLock lock(&imports->mu);
        --imports->running_total;
        if (--imports->running_by_tenant[tenant] <= 0) imports->running_by_tenant.erase(tenant);
      }
      imports->slot_freed.SignalAll();
    }
  } slot{imports_.get(), record.tenant};
  record.status = "running";
  absl::Status saved = db_->imports().SaveImport(record);
  ImportOptions options;
  options.user = record.user;
  options.cancel = &imports_->stop;
  options.source_name = "upload";  // never the server's path
  options.progress = [&](int64_t bytes_read, int64_t, int64_t units) {
    progress->bytes_read = bytes_read;
    progress->units = units;
  };
  absl::StatusOr<ImportReport> report = absl::UnknownError("not run");
  if (!saved.ok()) {
    report = saved;
  } else {
    try {  // this thread's own: an exception must fail the import, not end the process
      report = ImportFile(record.tenant, record.store_id, record.file, record.format, options);
    } catch (const std::exception& e) {
      report = absl::InternalError(StrCat("internal error: ", e.what()));
    }
  }
  if (absl::IsCancelled(report.status())) {
    // Interrupted by shutdown: the record stays "running" and the file stays, for resumption.
    log::Info("tm.import.interrupted", {{"import", record.id}});
  } else {
    record.finished_at = clock_->Now();
    if (report.ok()) {
      record.status = report->skipped > 0 ? "partial" : "succeeded";
      record.report = ReportJson(*report);
    } else {
      record.status = "failed";
      record.error = std::string(report.status().message());
    }
    absl::Status s = db_->imports().SaveImport(record);
    if (!s.ok()) log::Error("tm.import.record", {{"import", record.id}, {"error", s.message()}});
    std::error_code ec;
    std::filesystem::remove(record.file, ec);
    log::Info("tm.import.ended", {{"import", record.id}, {"status", record.status}});
  }
  absl::MutexLock lock(&imports_->mu);
  imports_->running.erase(record.id);
}

absl::StatusOr<ImportInfo> TmService::GetImport(std::string_view tenant, std::string_view store_id,
                                                std::string_view import_id) {
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  absl::StatusOr<storage::ImportRecord> record = db_->imports().GetImport(import_id);
  if (!record.ok() || record->store_id != store->record.id) {
    if (record.ok() || absl::IsNotFound(record.status())) {
      return absl::NotFoundError(StrCat("import ", import_id, " not found"));
    }
    return record.status();
  }
  ImportInfo info = InfoOf(*record);
  absl::MutexLock lock(&imports_->mu);
  auto it = imports_->running.find(record->id);
  if (it != imports_->running.end() && info.finished_at == absl::InfinitePast()) {
    info.bytes_read = it->second->bytes_read;
    info.units = it->second->units;
  }
  return info;
}

absl::Status TmService::ResumeImports() {
  VERSO_ASSIGN_OR_RETURN(std::vector<storage::ImportRecord> pending,
                         db_->imports().UnfinishedImports());
  for (storage::ImportRecord& record : pending) {
    log::Info("tm.import.resumed", {{"import", record.id}, {"store", record.store_id}});
    absl::MutexLock lock(&imports_->mu);
    if (imports_->stop) break;
    auto progress = std::make_shared<Imports::Progress>();
    progress->tenant = record.tenant;
    imports_->running[record.id] = std::move(progress);
    imports_->threads.emplace_back([this, record] { RunBackgroundImport(record); });
  }
  return absl::OkStatus();
}

void TmService::DrainImports() {
  while (true) {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&imports_->mu);
      threads.swap(imports_->threads);
    }
    if (threads.empty()) return;
    for (std::thread& t : threads) t.join();
  }
}

void TmService::StopImports() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&imports_->mu);
    imports_->stop = true;
    threads.swap(imports_->threads);
  }
  imports_->slot_freed.SignalAll();  // queued imports stop waiting
  for (std::thread& t : threads) t.join();
}

}  // namespace verso::tm
