// XLIFF reading and inline-code writing (private to formats/; documents.cc dispatches).
#ifndef VERSO_FORMATS_XLIFF_INTERNAL_H_
#define VERSO_FORMATS_XLIFF_INTERNAL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "formats/formats.h"

namespace verso::formats {

// Reads XLIFF 2.x or 1.2 (Document::format "xliff2" / "xliff12").
absl::StatusOr<Document> ReadXliff(std::string_view data, const std::string& name);

// A unit's translation (markup) as the XLIFF inline content of its <target>: XLIFF 2 codes
// become the source's elements they stand for; a code the source lacks is an error.
absl::StatusOr<std::string> XliffInline(const DocumentUnit& unit, std::string_view markup,
                                        std::string_view format);

}  // namespace verso::formats

#endif  // VERSO_FORMATS_XLIFF_INTERNAL_H_
