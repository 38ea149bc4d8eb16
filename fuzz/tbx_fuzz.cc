// libFuzzer target: a TBX termbase (formats::ReadTbx) and a glossary CSV.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "formats/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)verso::formats::ReadTbx(in, "fuzz.tbx");
  return 0;
}
