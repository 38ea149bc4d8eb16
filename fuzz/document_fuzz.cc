// libFuzzer target: a document of the format named by VERSO_FUZZ_FORMAT at build time (xliff,
// po, json, text) read, and written back with every unit's source as its translation.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto doc = verso::formats::ReadDocument(in, VERSO_FUZZ_FORMAT, "fuzz", "en");
  if (!doc.ok()) return 0;
  std::vector<std::optional<std::string>> translations;
  for (const auto& unit : doc->units) translations.emplace_back(unit.source);
  (void)verso::formats::WriteDocument(*doc, translations, "es");
  return 0;
}
