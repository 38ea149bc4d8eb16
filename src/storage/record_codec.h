// How both backends encode a TM segment's parts in columns: the hash that makes "the same source,
// target and context" one segment, and properties and notes as compact JSON.
#ifndef VERSO_STORAGE_RECORD_CODEC_H_
#define VERSO_STORAGE_RECORD_CODEC_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "storage/storage.h"

namespace verso::storage {

int64_t PairHash(const SegmentRecord& s);
std::string PropsJson(const std::vector<Property>& props);  // "" when there are none
std::string NotesJson(const std::vector<Note>& notes);
absl::Status ParseProps(std::string_view text, std::vector<Property>* out);  // DataLoss
absl::Status ParseNotes(std::string_view text, std::vector<Note>* out);

// SQL text from a column list ("a, b, c"), the same for both backends' upserts and joins:
// "a=excluded.a, ..." for every column but `except`, and "p.a, p.b, ...".
std::string ExcludedAssignments(std::string_view columns,
                                std::initializer_list<std::string_view> except);
std::string PrefixColumns(std::string_view prefix, std::string_view columns);

}  // namespace verso::storage

#endif  // VERSO_STORAGE_RECORD_CODEC_H_
