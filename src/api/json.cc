#include "api/json.h"

#include "absl/strings/cord.h"
#include "common/status.h"
#include "common/strings.h"
#include "text/text.h"

namespace verso::api {
namespace {

constexpr char kHttpPayload[] = "verso.dev/http-status";

const char* ScopeName(storage::Scope s) {
  switch (s) {
    case storage::Scope::kSource: return "source";
    case storage::Scope::kTarget: return "target";
    default: return "unit";
  }
}

absl::StatusOr<storage::Scope> ParseScope(const std::string& s, const std::string& field) {
  if (s.empty() || s == "unit") return storage::Scope::kUnit;
  if (s == "source") return storage::Scope::kSource;
  if (s == "target") return storage::Scope::kTarget;
  return BadRequest(StrCat(field, ": \"", s, "\" is not unit, source or target"));
}

const char* TypeName(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::number_float: return "a number";
    default: return "an integer";
  }
}

}  // namespace

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

Json StoreJson(const tm::StoreInfo& s) {
  return {{"id", s.record.id},
          {"name", s.record.name},
          {"tenant", s.record.tenant},
          {"source_lang", s.record.source_lang},
          {"target_lang", s.record.target_lang},
          {"created_at", Rfc3339(s.record.created_at)},
          {"segment_count", s.segment_count}};
}

Json SegmentJson(const tm::SegmentRecord& r) {
  Json props = Json::array(), notes = Json::array();
  for (const auto& p : r.properties) {
    props.push_back(
        {{"scope", ScopeName(p.scope)}, {"type", p.type}, {"value", p.value}, {"lang", p.lang}});
  }
  for (const auto& n : r.notes) {
    notes.push_back({{"scope", ScopeName(n.scope)}, {"text", n.text}, {"lang", n.lang}});
  }
  return {{"id", r.id},
          {"source", r.source},
          {"target", r.target},
          {"context",
           {{"key", r.context.key},
            {"prev_hash", r.context.prev_hash},
            {"next_hash", r.context.next_hash}}},
          {"creator", r.creator},
          {"changer", r.changer},
          {"created_at", Rfc3339(r.created_at)},
          {"changed_at", Rfc3339(r.changed_at)},
          {"last_used_at",
           r.last_used_at == absl::InfinitePast() ? Json(nullptr) : Json(Rfc3339(r.last_used_at))},
          {"usage_count", r.usage_count},
          {"properties", props},
          {"notes", notes}};
}

Json MatchJson(const tm::Match& m) {
  Json penalties = Json::object();
  for (const auto& [name, value] : m.penalties) penalties[name] = value;
  return {{"score", m.score},
          {"band", tm::BandName(m.band)},
          {"base_score", m.base_score},
          {"penalties", penalties},
          {"context_match", m.context_match},
          {"segment", SegmentJson(m.segment)}};
}

Json ReportJson(const tm::ImportReport& r) {
  Json skipped = Json::array();
  for (const auto& s : r.skipped_units) skipped.push_back({{"line", s.line}, {"reason", s.reason}});
  return {{"units", r.units},
          {"inserted", r.inserted},
          {"merged", r.merged},
          {"skipped", r.skipped},
          {"skipped_units", skipped},
          {"write_seconds", absl::ToDoubleSeconds(r.write_time)},
          {"index_seconds", absl::ToDoubleSeconds(r.index_time)}};
}

Json ImportJson(const tm::ImportInfo& i) {
  Json j = {{"id", i.id},
            {"store_id", i.store_id},
            {"status", i.status},
            {"bytes_total", i.bytes_total},
            {"bytes_read", i.bytes_read},
            {"units", i.units},
            {"created_at", Rfc3339(i.created_at)},
            {"finished_at",
             i.finished_at == absl::InfinitePast() ? Json(nullptr) : Json(Rfc3339(i.finished_at))}};
  if (i.status == "succeeded") j["report"] = ReportJson(i.report);
  if (i.status == "failed") j["error"] = i.error;
  return j;
}

Json KeyJson(const storage::ApiKeyRecord& k) {
  return {{"id", k.id},
          {"tenant", k.tenant},
          {"name", k.name},
          {"scopes", k.scopes},
          {"prefix", k.prefix},
          {"created_at", Rfc3339(k.created_at)},
          {"revoked_at", k.revoked() ? Json(Rfc3339(k.revoked_at)) : Json(nullptr)}};
}

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
  Json j;
  try {
    j = Json::parse(body);
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: ..." -> after "error "
    size_t at = what.find("parse error");
    return BadRequest(StrCat("malformed JSON: ", at == std::string::npos ? what : what.substr(at)));
  }
  if (!j.is_object()) {
    return BadRequest(StrCat("the request body must be a JSON object, not ", TypeName(j)));
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
  if (t == "boolean") ok = it->is_boolean();
  if (t == "object") ok = it->is_object();
  if (t == "array") ok = it->is_array();
  if (!ok) {
    status_ = BadRequest(StrCat(path_, name, ": expected ",
                                t == "integer" ? "an integer" : (t == "array" || t == "object")
                                                                     ? StrCat("an ", t)
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

bool Fields::Bool(const char* name, bool* out, bool required) {
  const Json* j = Get(name, required, "boolean");
  if (j) *out = j->get<bool>();
  return status_.ok();
}

const Json* Fields::Object(const char* name, bool required) { return Get(name, required, "object"); }
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
    if (!(*props)[i].is_object()) return BadRequest(StrCat(p.substr(0, p.size() - 1), ": expected an object"));
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
    if (!(*notes)[i].is_object()) return BadRequest(StrCat(p.substr(0, p.size() - 1), ": expected an object"));
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
