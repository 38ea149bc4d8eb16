#include "common/tenant.h"

#include "common/strings.h"

namespace verso {

absl::Status ValidateTenantName(std::string_view tenant) {
  if (tenant.empty() || tenant.size() > 64) {
    return absl::InvalidArgumentError("tenant: must be 1 to 64 characters");
  }
  for (char c : tenant) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) {
      return absl::InvalidArgumentError(
          StrCat("tenant: \"", tenant, "\" may contain only a-z, 0-9, '-', '_' and '.'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace verso
