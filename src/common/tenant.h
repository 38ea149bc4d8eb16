// Tenant names: the owners of stores, keys and (later) glossaries and jobs.
#ifndef VERSO_COMMON_TENANT_H_
#define VERSO_COMMON_TENANT_H_

#include <string_view>

#include "absl/status/status.h"

namespace verso {

// 1 to 64 characters of a-z, 0-9, '-', '_' and '.'. InvalidArgument naming the field otherwise.
absl::Status ValidateTenantName(std::string_view tenant);

}  // namespace verso

#endif  // VERSO_COMMON_TENANT_H_
