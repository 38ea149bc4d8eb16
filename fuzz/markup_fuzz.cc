// libFuzzer target: the tokenizer and the markup parser (text/text.h) on any bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "text/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (!verso::text::IsValidUtf8(in)) return 0;  // the edge refuses invalid UTF-8 before these
  (void)verso::text::ParseMarkup(in);
  (void)verso::text::Tokenize(in);
  (void)verso::text::TokenizePlain(in);
  (void)verso::text::PlainText(in);
  return 0;
}
