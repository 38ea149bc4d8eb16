#include <utility>

#include "common/strings.h"
#include "formats/formats.h"

namespace verso::formats {

std::string_view CompressionOf(std::string_view head) {
  static constexpr std::pair<std::string_view, std::string_view> kSignatures[] = {
      {std::string_view("\x1f\x8b", 2), "gzip"},
      {std::string_view("\xfd"
                        "7zXZ\0",
                        6),
       "xz"},
      {std::string_view("\x28\xb5\x2f\xfd", 4), "zstd"},
      {std::string_view("PK\x03\x04", 4), "zip"},
      {std::string_view("LZIP", 4), "lzip"},
      {std::string_view("\x1f\x9d", 2), "compress"},
  };
  for (const auto& [magic, name] : kSignatures) {
    if (head.substr(0, magic.size()) == magic) return name;
  }
  // "BZh", the block size '1'-'9', then the first block's magic (pi's digits in BCD).
  if (head.size() >= 10 && head.substr(0, 3) == "BZh" && head[3] >= '1' && head[3] <= '9' &&
      head.substr(4, 6) == "1AY&SY") {
    return "bzip2";
  }
  return "";
}

absl::Status RefuseCompressed(std::string_view head, std::string_view name) {
  std::string_view compression = CompressionOf(head);
  if (compression.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      StrCat(name, ": the file is ", compression,
             "-compressed; verso reads uncompressed files only (unpack it and send that)"));
}

}  // namespace verso::formats
