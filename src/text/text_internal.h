// Helpers shared by the text area's .cc files; not part of the public interface.
#ifndef VERSO_TEXT_TEXT_INTERNAL_H_
#define VERSO_TEXT_TEXT_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace verso::text {

bool IsAscii(std::string_view s);
// True when the code point starting at byte `pos` is Unicode White_Space; *len is its length.
bool IsWhitespaceAt(std::string_view s, size_t pos, size_t* len);
// Length of a placeholder starting at `pos` in plain text, or 0 when none starts there.
size_t PlaceholderLength(std::string_view s, size_t pos);
// Length of an HTML/XML tag written in plain text starting at `pos` (<b>, </b>, <br/>), or 0.
size_t WrittenTagLength(std::string_view s, size_t pos);
// For the text run [begin, end) of `markup`: the markup offset of every byte of its unescaped
// text, plus one entry for the end.
std::vector<uint32_t> TextRunOffsets(std::string_view markup, uint32_t begin, uint32_t end);

// Tests only: turns the ASCII word-break fast path off (ICU for everything). Not thread-safe.
void SetAsciiFastPath(bool enabled);

}  // namespace verso::text

#endif  // VERSO_TEXT_TEXT_INTERNAL_H_
