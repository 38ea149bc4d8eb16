// Request bodies in (api/json.h): JSON objects checked at the edge, their fields read with
// errors that name them, segments, contexts, cursors. Apart from the response writers of json.cc
// so that the libFuzzer target fuzz/request_fuzz.cc builds them without the rest of the API.
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "api/json.h"
#include "common/json.h"
#include "common/status.h"
#include "common/strings.h"
#include "text/text.h"

namespace verso::api {
namespace {

constexpr char kHttpPayload[] = "verso.dev/http-status";

absl::StatusOr<storage::Scope> ParseScope(const std::string& s, const std::string& field) {
  if (s.empty() || s == "unit") return storage::Scope::kUnit;
  if (s == "source") return storage::Scope::kSource;
  if (s == "target") return storage::Scope::kTarget;
  return BadRequest(StrCat(field, ": \"", s, "\" is not unit, source or target"));
}

const char* TypeName(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::number_float:
      return "a number";
    default:
      return "an integer";
  }
}

}  // namespace

absl::Status BadRequest(std::string_view message) {
  absl::Status s = absl::InvalidArgumentError(std::string(message));
  s.SetPayload(kHttpPayload, absl::Cord("400"));
  return s;
}

bool IsBadRequest(const absl::Status& status) {
  auto payload = status.GetPayload(kHttpPayload);
  return payload.has_value() && *payload == "400";
}

absl::StatusOr<Json> ParseObject(std::string_view body) {
  if (body.empty()) return BadRequest("the request body must be a JSON object (it is empty)");
  size_t bad = 0;
  if (!text::IsValidUtf8(body, &bad)) {
    return BadRequest(StrCat("the request body is not valid UTF-8 (byte ", bad, ")"));
  }
  JsonError why = JsonError::kNone;
  absl::StatusOr<Json> j = ParseJson(body, JsonLimits{kMaxRequestDepth}, &why);
  if (!j.ok()) {
    // A number out of range is a value the field cannot take (422, naming it); the rest is
    // not JSON we can read (400).
    if (why == JsonError::kRange) return j.status();
    return BadRequest(ToStd(j.status().message()));
  }
  if (!j->is_object()) {
    return BadRequest(StrCat("the request body must be a JSON object, not ", TypeName(*j)));
  }
  return j;
}

Fields::Fields(const Json& object, std::string path) : object_(object), path_(std::move(path)) {}

const Json* Fields::Get(const char* name, bool required, const char* type) {
  known_.emplace_back(name);
  if (!status_.ok()) return nullptr;
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) {
    if (required) status_ = BadRequest(StrCat(path_, name, ": is required"));
    return nullptr;
  }
  bool ok = false;
  std::string_view t(type);
  if (t == "string") ok = it->is_string();
  if (t == "integer") ok = it->is_number_integer();
  if (t == "number") ok = it->is_number();
  if (t == "boolean") ok = it->is_boolean();
  if (t == "object") ok = it->is_object();
  if (t == "array") ok = it->is_array();
  if (!ok) {
    status_ = BadRequest(StrCat(path_, name, ": expected ",
                                t == "integer"                    ? "an integer"
                                : (t == "array" || t == "object") ? StrCat("an ", t)
                                                                  : StrCat("a ", t),
                                ", got ", TypeName(*it)));
    return nullptr;
  }
  return &*it;
}

bool Fields::String(const char* name, std::string* out, bool required) {
  const Json* j = Get(name, required, "string");
  if (j) *out = j->get<std::string>();
  return status_.ok();
}

bool Fields::Int(const char* name, int64_t* out, bool required) {
  const Json* j = Get(name, required, "integer");
  if (j) *out = j->get<int64_t>();
  return status_.ok();
}

bool Fields::Number(const char* name, double* out, bool required) {
  const Json* j = Get(name, required, "number");
  if (j) *out = j->get<double>();
  return status_.ok();
}

bool Fields::Bool(const char* name, bool* out, bool required) {
  const Json* j = Get(name, required, "boolean");
  if (j) *out = j->get<bool>();
  return status_.ok();
}

const Json* Fields::Object(const char* name, bool required) {
  return Get(name, required, "object");
}
const Json* Fields::Array(const char* name, bool required) { return Get(name, required, "array"); }

absl::Status Fields::Finish() {
  if (!status_.ok()) return status_;
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (std::find(known_.begin(), known_.end(), it.key()) == known_.end()) {
      return BadRequest(StrCat(path_, "unknown field \"", it.key(), "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<storage::SegmentContext> ParseContext(const Json& object, const std::string& path) {
  storage::SegmentContext c;
  Fields f(object, path);
  f.String("key", &c.key);
  f.Int("prev_hash", &c.prev_hash);
  f.Int("next_hash", &c.next_hash);
  VERSO_RETURN_IF_ERROR(f.Finish());
  return c;
}

absl::StatusOr<bool> ParseTextFormat(const std::string& format) {
  if (format != "plain" && format != "markup") {
    return BadRequest(StrCat("text_format: \"", format, "\" is not plain or markup"));
  }
  return format == "plain";
}

absl::StatusOr<std::string> ParseText(const Json& value, const std::string& path, bool plain) {
  if (!value.is_string()) return BadRequest(StrCat(path, ": not a string"));
  std::string t = value.get<std::string>();
  if (!text::IsValidUtf8(t)) return absl::InvalidArgumentError(StrCat(path, ": not valid UTF-8"));
  if (plain) return text::EscapeText(t);
  if (auto runs = text::ParseMarkup(t); !runs.ok()) {
    return absl::InvalidArgumentError(StrCat(path, ": ", runs.status().message()));
  }
  return t;
}

absl::StatusOr<tm::SegmentRecord> ParseSegment(const Json& object, const std::string& path,
                                               bool plain) {
  tm::SegmentRecord r;
  Fields f(object, path);
  f.String("source", &r.source, /*required=*/true);
  f.String("target", &r.target, /*required=*/true);
  f.String("creator", &r.creator);
  f.Int("usage_count", &r.usage_count);
  const Json* context = f.Object("context");
  const Json* props = f.Array("properties");
  const Json* notes = f.Array("notes");
  VERSO_RETURN_IF_ERROR(f.Finish());
  if (plain) {
    r.source = text::EscapeText(r.source);
    r.target = text::EscapeText(r.target);
  }
  if (context) {
    VERSO_ASSIGN_OR_RETURN(r.context, ParseContext(*context, StrCat(path, "context.")));
  }
  for (size_t i = 0; props && i < props->size(); ++i) {
    std::string p = StrCat(path, "properties[", i, "].");
    if (!(*props)[i].is_object())
      return BadRequest(StrCat(p.substr(0, p.size() - 1), ": expected an object"));
    Fields pf((*props)[i], p);
    std::string scope;
    storage::Property prop;
    pf.String("scope", &scope);
    pf.String("type", &prop.type, true);
    pf.String("value", &prop.value, true);
    pf.String("lang", &prop.lang);
    VERSO_RETURN_IF_ERROR(pf.Finish());
    VERSO_ASSIGN_OR_RETURN(prop.scope, ParseScope(scope, StrCat(p, "scope")));
    r.properties.push_back(std::move(prop));
  }
  for (size_t i = 0; notes && i < notes->size(); ++i) {
    std::string p = StrCat(path, "notes[", i, "].");
    if (!(*notes)[i].is_object())
      return BadRequest(StrCat(p.substr(0, p.size() - 1), ": expected an object"));
    Fields nf((*notes)[i], p);
    std::string scope;
    storage::Note note;
    nf.String("scope", &scope);
    nf.String("text", &note.text, true);
    nf.String("lang", &note.lang);
    VERSO_RETURN_IF_ERROR(nf.Finish());
    VERSO_ASSIGN_OR_RETURN(note.scope, ParseScope(scope, StrCat(p, "scope")));
    r.notes.push_back(std::move(note));
  }
  return r;
}

}  // namespace verso::api

namespace verso::api {
namespace {
constexpr std::string_view kCursorMagic = "v1:";
}  // namespace

std::string EncodeCursor(std::string_view key) {
  const std::string raw = StrCat(kCursorMagic, key);
  return absl::WebSafeBase64Escape(absl::string_view(raw.data(), raw.size()));
}

absl::StatusOr<std::string> DecodeCursor(std::string_view cursor) {
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(absl::string_view(cursor.data(), cursor.size()), &decoded) ||
      !std::string_view(decoded).starts_with(kCursorMagic) ||
      decoded.size() == kCursorMagic.size()) {
    return BadRequest("cursor: not a cursor this list gave (pass next_cursor as it came)");
  }
  return decoded.substr(kCursorMagic.size());
}

absl::StatusOr<tm::ConcordanceMatchMode> ParseConcordanceMatch(std::string_view value,
                                                               std::string_view field) {
  if (value == "words") return tm::ConcordanceMatchMode::kWords;
  if (value == "prefix") return tm::ConcordanceMatchMode::kPrefix;
  if (value == "substring") return tm::ConcordanceMatchMode::kSubstring;
  return BadRequest(
      StrCat(field, ": \"", Abbreviate(value, 40), "\" is not words, prefix or substring"));
}

// A concordance cursor's key: the last match's segment id and side ("123:s", "123:t").
absl::Status ApplyConcordanceCursor(std::string_view cursor, tm::ConcordanceOptions* options) {
  VERSO_ASSIGN_OR_RETURN(std::string key, DecodeCursor(cursor));
  std::string_view after = key;
  const size_t colon = after.rfind(':');
  if (colon == std::string_view::npos || !ParseInt64(after.substr(0, colon), &options->before_id) ||
      (after.substr(colon + 1) != "s" && after.substr(colon + 1) != "t")) {
    return BadRequest("cursor: not a cursor of this list");
  }
  options->before_in_source = after.substr(colon + 1) == "s";
  return absl::OkStatus();
}

}  // namespace verso::api
