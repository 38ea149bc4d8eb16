// libFuzzer target: TMX from bytes (formats::TmxReader), every unit read.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "formats/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto reader = verso::formats::TmxReader::OpenMemory(in, "fuzz.tmx");
  if (!reader.ok()) return 0;
  if (!(*reader)->ReadHeader().ok()) return 0;
  verso::formats::TmxUnit unit;
  for (int i = 0; i < 100000; ++i) {
    auto more = (*reader)->Next(&unit);
    if (!more.ok() || !*more) break;
  }
  return 0;
}
