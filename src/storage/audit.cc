// The audit log's hash chain (storage.h: AuditRecord), shared by both backends and VerifyAudit.
#include "common/crypto.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/storage.h"

namespace verso::storage {

namespace {
// Length-prefixed, so that no two different records serialize alike.
void Field(std::string* out, std::string_view value) {
  StrAppend(out, value.size(), ":", value, ";");
}
}  // namespace

std::string AuditDigest(const AuditRecord& r, std::string_view prev_hash) {
  std::string canonical = StrCat("verso-audit-1;", r.seq, ";", absl::ToUnixMicros(r.at), ";");
  for (std::string_view f :
       {std::string_view(r.tenant), std::string_view(r.actor), std::string_view(r.action),
        std::string_view(r.target), std::string_view(r.detail), std::string_view(r.request_id),
        prev_hash}) {
    Field(&canonical, f);
  }
  return Sha256Hex(canonical);
}

absl::StatusOr<AuditCheck> VerifyAudit(AuditRepository& audit) {
  VERSO_ASSIGN_OR_RETURN(AuditRepository::Anchor anchor, audit.AuditAnchor());
  AuditCheck check;
  check.first_seq = anchor.seq + 1;
  check.head_seq = anchor.seq;
  check.head = anchor.hash;
  int64_t after = anchor.seq;
  while (true) {
    VERSO_ASSIGN_OR_RETURN(std::vector<AuditRecord> page, audit.ReadAudit(after, 5000));
    if (page.empty()) return check;
    for (const AuditRecord& r : page) {
      if (r.seq != check.head_seq + 1) {
        check.problem = absl::DataLossError(
            check.head_seq == anchor.seq && r.seq > check.head_seq + 1
                ? StrCat("audit records ", check.head_seq + 1, " to ", r.seq - 1,
                         " are missing (the log starts after ", anchor.seq, ")")
                : StrCat("audit records ", check.head_seq + 1, " to ", r.seq - 1, " are missing (",
                         check.head_seq, " is followed by ", r.seq, ")"));
        return check;
      }
      if (r.prev_hash != check.head) {
        check.problem = absl::DataLossError(
            StrCat("audit record ", r.seq, " does not follow record ", check.head_seq,
                   " (its previous hash differs): a record before it was changed or removed"));
        return check;
      }
      if (AuditDigest(r, r.prev_hash) != r.hash) {
        check.problem = absl::DataLossError(
            StrCat("audit record ", r.seq, " was changed: its hash does not match its content"));
        return check;
      }
      ++check.records;
      check.head_seq = r.seq;
      check.head = r.hash;
    }
    after = page.back().seq;
  }
}

}  // namespace verso::storage
