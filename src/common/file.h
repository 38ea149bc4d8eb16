// Whole-file reads.
#ifndef VERSO_COMMON_FILE_H_
#define VERSO_COMMON_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace verso {

// The file's bytes; NotFound ("PATH: cannot be read") when it cannot be opened or read.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace verso

#endif  // VERSO_COMMON_FILE_H_
