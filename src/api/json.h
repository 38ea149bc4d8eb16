// JSON for the API (and the CLI's --json): records out, validated request bodies in. No Beast
// here; nlohmann::json is the representation.
#ifndef VERSO_API_JSON_H_
#define VERSO_API_JSON_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "storage/storage.h"
#include "tm/tm.h"

namespace verso::storage {
// States go into JSON by name (as storage keeps them), never as numbers.
template <typename E>
requires requires { EnumNames<E>::kNames; }
void to_json(nlohmann::json& j, E e) { j = EnumName(e); }
}  // namespace verso::storage

namespace verso::api {

using Json = nlohmann::json;

// Appends JSON text without building a document, for the hot paths (lookups). Keeps commas
// right; the caller keeps objects and arrays balanced. Not thread-safe.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  JsonWriter& Time(absl::Time t);  // RFC 3339, null for InfinitePast
  // A value already in JSON text (one value, as DumpJson writes it).
  JsonWriter& Raw(std::string_view json);
  // Members of the open object already in JSON text ("a":1,"b":2, without braces); nothing
  // for "". The caller keeps the keys in the order the object needs.
  JsonWriter& Members(std::string_view members);

 private:
  void Comma();
  std::string* out_;
  std::vector<bool> first_;  // per open container: no element yet
  bool after_key_ = false;
};

// The one JSON shape of each record; *Json() returns the same as a document.
void WriteSegment(JsonWriter& w, const tm::SegmentRecord& segment, bool plain = false);
void WriteMatch(JsonWriter& w, const tm::Match& match, bool plain = false);
Json StoreJson(const tm::StoreInfo& store);
// `plain`: source and target as plain text (tags dropped, entities decoded), as a client that
// sent plain text reads them; else markup.
Json SegmentJson(const tm::SegmentRecord& segment, bool plain = false);
Json MatchJson(const tm::Match& match, bool plain = false);
// Byte ranges in a markup text as [begin, end] character ranges (code points) in what the
// client reads: the plain text, or the markup itself.
Json CharRanges(const std::string& markup, const std::vector<std::pair<uint32_t, uint32_t>>& ranges,
                bool plain);
Json ReportJson(const tm::ImportReport& report);
Json ImportJson(const tm::ImportInfo& import);
Json KeyJson(const storage::ApiKeyRecord& key);  // never the hash
Json UserJson(const storage::UserRecord& user);  // never the password hash

// Lists' cursors: opaque to clients, the key of the last item seen inside.
std::string EncodeCursor(std::string_view key);
// The key in a cursor EncodeCursor made; a 400 otherwise.
absl::StatusOr<std::string> DecodeCursor(std::string_view cursor);

// Concordance: "words" | "prefix" | "substring" -> the mode; a 400 naming `field` otherwise.
absl::StatusOr<tm::ConcordanceMatchMode> ParseConcordanceMatch(std::string_view value,
                                                               std::string_view field = "match");
// Sets options->before_id/before_in_source from a concordance page's next_cursor (a 400 when
// it is not one).
absl::Status ApplyConcordanceCursor(std::string_view cursor, tm::ConcordanceOptions* options);
// A concordance page: matches, total, total_exact and next_cursor.
Json ConcordanceJson(const tm::ConcordanceResult& result, bool plain);

// A malformed request (bad JSON, wrong type, unknown field): HTTP 400. Other InvalidArgument
// errors (a value the domain refuses) are 422.
absl::Status BadRequest(std::string_view message);
bool IsBadRequest(const absl::Status& status);

// How deep request bodies may nest (a TM segment with properties needs 4 levels).
inline constexpr int kMaxRequestDepth = 32;

// Parses a request body that must be a JSON object: UTF-8, nested at most kMaxRequestDepth
// levels. Malformed: 400; a number out of range: 422 naming the field.
absl::StatusOr<Json> ParseObject(std::string_view body);

// Reads the fields of one JSON object, remembering the first problem. Field names in errors are
// prefixed with `path` ("segments[2].").
class Fields {
 public:
  Fields(const Json& object, std::string path = "");

  // Each returns false (and records why) when the field has the wrong type, or is missing and
  // required. Absent optional fields leave *out untouched.
  bool String(const char* name, std::string* out, bool required = false);
  bool Int(const char* name, int64_t* out, bool required = false);
  bool Bool(const char* name, bool* out, bool required = false);
  bool Number(const char* name, double* out, bool required = false);
  const Json* Object(const char* name, bool required = false);
  const Json* Array(const char* name, bool required = false);

  // OK, or the first problem, or an unknown field (one not asked for).
  absl::Status Finish();
  const std::string& path() const { return path_; }

 private:
  const Json* Get(const char* name, bool required, const char* type);
  const Json& object_;
  std::string path_;
  std::vector<std::string> known_;
  absl::Status status_;
};

// "text_format": "plain" -> true, "markup" -> false, anything else a 400.
absl::StatusOr<bool> ParseTextFormat(const std::string& format);
// A text of a request (a JSON string at `path`) as markup: plain text is escaped, markup is
// checked. Not a string: 400; invalid UTF-8 or markup: 422 naming `path`.
absl::StatusOr<std::string> ParseText(const Json& value, const std::string& path, bool plain);

// A segment from a request: source, target, context, creator, properties, notes.
// `plain` escapes the texts (text_format "plain"); otherwise they are tagged text.
absl::StatusOr<tm::SegmentRecord> ParseSegment(const Json& object, const std::string& path,
                                               bool plain);
absl::StatusOr<storage::SegmentContext> ParseContext(const Json& object, const std::string& path);

}  // namespace verso::api

#endif  // VERSO_API_JSON_H_
