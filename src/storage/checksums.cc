// Checksums of what verso keeps (storage.h: DataChecksum), for `verso verify` and backups.
#include <algorithm>
#include <set>

#include "common/crypto.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/storage.h"

namespace verso::storage {

namespace {
void Field(std::string* out, std::string_view v) { StrAppend(out, v.size(), ":", v, ";"); }
}  // namespace

absl::StatusOr<std::vector<DataChecksum>> Checksums(Database& db) {
  std::vector<DataChecksum> out;
  std::set<std::string> tenants;
  VERSO_ASSIGN_OR_RETURN(std::vector<TmStoreRecord> stores, db.tm().ListStores(""));
  for (const TmStoreRecord& store : stores) {
    tenants.insert(store.tenant);
    DataChecksum c{"tm", store.id, 0, ""};
    std::string all;
    VERSO_RETURN_IF_ERROR(db.tm().ScanSegments(store.id, 0, [&](const SegmentRecord& s) {
      std::string row = StrCat(s.id, ";", absl::ToUnixMicros(s.changed_at), ";");
      for (std::string_view f : {std::string_view(s.source), std::string_view(s.target),
                                 std::string_view(s.context.key)}) {
        Field(&row, f);
      }
      StrAppend(&row, s.context.prev_hash, ";", s.context.next_hash, "\n");
      all += Sha256Hex(row);  // a digest per segment keeps `all` small
      ++c.count;
      return true;
    }));
    c.sha256 = Sha256Hex(all);
    out.push_back(std::move(c));
  }
  VERSO_ASSIGN_OR_RETURN(std::vector<ApiKeyRecord> keys, db.keys().ListKeys(""));
  for (const ApiKeyRecord& k : keys) tenants.insert(k.tenant);
  for (const std::string& tenant : tenants) {
    VERSO_ASSIGN_OR_RETURN(std::vector<GlossaryRecord> glossaries,
                           db.glossaries().ListGlossaries(tenant));
    for (const GlossaryRecord& g : glossaries) {
      VERSO_ASSIGN_OR_RETURN(std::vector<ConceptRecord> concepts,
                             db.glossaries().ListConcepts(tenant, g.name));
      DataChecksum c{"glossary", StrCat(tenant, "/", g.name), static_cast<int64_t>(concepts.size()),
                     ""};
      std::string all;
      for (const ConceptRecord& cr : concepts) {
        Field(&all, cr.id);
        Field(&all, cr.data);
      }
      c.sha256 = Sha256Hex(all);
      out.push_back(std::move(c));
    }
    absl::Time after = absl::InfiniteFuture();
    std::string after_id;
    while (true) {
      VERSO_ASSIGN_OR_RETURN(std::vector<JobRecord> jobs,
                             db.jobs().ListJobs(tenant, 500, after, after_id));
      if (jobs.empty()) break;
      for (const JobRecord& job : jobs) {
        VERSO_ASSIGN_OR_RETURN(std::vector<JobSegmentRecord> segments,
                               db.jobs().GetJobSegments(job.id, ""));
        DataChecksum c{"job", job.id, static_cast<int64_t>(segments.size()), ""};
        std::string all = StrCat(EnumName(job.status), "\n");
        for (const JobSegmentRecord& s : segments) {
          Field(&all, s.target_lang);
          StrAppend(&all, s.index, ";", EnumName(s.state), ";");
          Field(&all, s.target);
        }
        c.sha256 = Sha256Hex(all);
        out.push_back(std::move(c));
      }
      after = jobs.back().created_at;
      after_id = jobs.back().id;
    }
  }
  std::sort(out.begin(), out.end(), [](const DataChecksum& a, const DataChecksum& b) {
    return std::tie(a.kind, a.id) < std::tie(b.kind, b.id);
  });
  return out;
}

}  // namespace verso::storage
