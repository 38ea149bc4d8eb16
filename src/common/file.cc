#include "common/file.h"

#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace verso {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat(path, ": cannot be read"));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::NotFoundError(StrCat(path, ": cannot be read"));
  return std::move(ss).str();
}

}  // namespace verso
