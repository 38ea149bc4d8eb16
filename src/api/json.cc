#include "api/json.h"

#include "common/json.h"
#include "common/json_escape.h"
#include "common/status.h"
#include "common/strings.h"
#include "text/text.h"

namespace verso::api {
namespace {

const char* ScopeName(storage::Scope s) {
  switch (s) {
    case storage::Scope::kSource:
      return "source";
    case storage::Scope::kTarget:
      return "target";
    default:
      return "unit";
  }
}

}  // namespace

Json StoreJson(const tm::StoreInfo& s) {
  return {{"id", s.record.id},
          {"name", s.record.name},
          {"tenant", s.record.tenant},
          {"source_lang", s.record.source_lang},
          {"target_lang", s.record.target_lang},
          {"created_at", Rfc3339(s.record.created_at)},
          {"segment_count", s.segment_count}};
}

JsonWriter& JsonWriter::BeginObject() {
  Comma();
  out_->push_back('{');
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::EndObject() {
  out_->push_back('}');
  first_.pop_back();
  return *this;
}
JsonWriter& JsonWriter::BeginArray() {
  Comma();
  out_->push_back('[');
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::EndArray() {
  out_->push_back(']');
  first_.pop_back();
  return *this;
}
JsonWriter& JsonWriter::Key(std::string_view key) {
  Comma();
  out_->append(JsonQuote(key));
  out_->push_back(':');
  after_key_ = true;
  return *this;
}
JsonWriter& JsonWriter::String(std::string_view value) {
  Comma();
  // Texts are checked for UTF-8 where they come in; a bad byte is still replaced, as DumpJson
  // does, rather than written out as JSON that no client can read.
  if (IsUtf8(value)) {
    out_->append(JsonQuote(value));
  } else {
    out_->append(DumpJson(Json(std::string(value))));
  }
  return *this;
}
JsonWriter& JsonWriter::Raw(std::string_view json) {
  Comma();
  out_->append(json);
  return *this;
}
JsonWriter& JsonWriter::Members(std::string_view members) {
  if (members.empty()) return *this;
  Comma();
  out_->append(members);
  return *this;
}
JsonWriter& JsonWriter::Int(int64_t value) {
  Comma();
  StrAppend(out_, value);
  return *this;
}
JsonWriter& JsonWriter::Bool(bool value) {
  Comma();
  out_->append(value ? "true" : "false");
  return *this;
}
JsonWriter& JsonWriter::Null() {
  Comma();
  out_->append("null");
  return *this;
}
JsonWriter& JsonWriter::Time(absl::Time t) {
  if (t == absl::InfinitePast()) return Null();
  return String(Rfc3339(t));
}
void JsonWriter::Comma() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (first_.empty()) return;
  if (!first_.back()) out_->push_back(',');
  first_.back() = false;
}

void WriteSegment(JsonWriter& w, const tm::SegmentRecord& r, bool plain) {
  w.BeginObject();
  w.Key("changed_at").Time(r.changed_at);
  w.Key("changer").String(r.changer);
  w.Key("context").BeginObject();
  w.Key("key").String(r.context.key).Key("next_hash").Int(r.context.next_hash);
  w.Key("prev_hash").Int(r.context.prev_hash).EndObject();
  w.Key("created_at").Time(r.created_at);
  w.Key("creator").String(r.creator);
  w.Key("id").Int(r.id);
  w.Key("last_used_at").Time(r.last_used_at);
  w.Key("notes").BeginArray();
  for (const auto& n : r.notes) {
    w.BeginObject().Key("lang").String(n.lang).Key("scope").String(ScopeName(n.scope));
    w.Key("text").String(n.text).EndObject();
  }
  w.EndArray();
  w.Key("properties").BeginArray();
  for (const auto& p : r.properties) {
    w.BeginObject().Key("lang").String(p.lang).Key("scope").String(ScopeName(p.scope));
    w.Key("type").String(p.type).Key("value").String(p.value).EndObject();
  }
  w.EndArray();
  w.Key("source").String(plain ? text::PlainText(r.source) : r.source);
  w.Key("target").String(plain ? text::PlainText(r.target) : r.target);
  w.Key("usage_count").Int(r.usage_count);
  w.EndObject();
}

void WriteMatch(JsonWriter& w, const tm::Match& m, bool plain) {
  w.BeginObject();
  w.Key("band").String(tm::BandName(m.band));
  w.Key("base_score").Int(m.base_score);
  w.Key("context_match").Bool(m.context_match);
  w.Key("penalties").BeginObject();
  for (const auto& [name, value] : m.penalties) w.Key(name).Int(value);
  w.EndObject();
  w.Key("score").Int(m.score);
  w.Key("segment");
  WriteSegment(w, m.segment, plain);
  w.EndObject();
}

namespace {
size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

Json CharRanges(const std::string& markup, const std::vector<std::pair<uint32_t, uint32_t>>& ranges,
                bool plain) {
  auto runs = plain ? text::ParseMarkup(markup) : absl::StatusOr<std::vector<text::Run>>();
  auto offset = [&](uint32_t byte) -> int64_t {
    if (!plain || !runs.ok()) return CodePoints(std::string_view(markup).substr(0, byte));
    int64_t chars = 0;
    for (const text::Run& r : *runs) {
      if (r.kind != text::Run::Kind::kText) continue;
      if (byte <= r.begin) break;
      if (byte >= r.end) {
        chars += CodePoints(r.text);
        continue;
      }
      chars +=
          CodePoints(text::PlainText(std::string_view(markup).substr(r.begin, byte - r.begin)));
      break;
    }
    return chars;
  };
  Json out = Json::array();
  for (const auto& [b, e] : ranges) out.push_back({offset(b), offset(e)});
  return out;
}

Json SegmentJson(const tm::SegmentRecord& r, bool plain) {
  std::string text;
  JsonWriter w(&text);
  WriteSegment(w, r, plain);
  return Json::parse(text);
}

Json MatchJson(const tm::Match& m, bool plain) {
  std::string text;
  JsonWriter w(&text);
  WriteMatch(w, m, plain);
  return Json::parse(text);
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
  if (i.status == "succeeded" || i.status == "partial") j["report"] = ReportJson(i.report);
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

Json UserJson(const storage::UserRecord& u) {
  return {{"id", u.id},
          {"tenant", u.tenant},
          {"email", u.email},
          {"name", u.name},
          {"role", u.role},
          {"created_at", Rfc3339(u.created_at)},
          {"disabled", u.disabled()}};
}

Json ConcordanceJson(const tm::ConcordanceResult& result, bool plain) {
  Json arr = Json::array();
  for (const auto& m : result.matches) {
    const std::string& text = m.in_source ? m.segment.source : m.segment.target;
    arr.push_back({{"in", m.in_source ? "source" : "target"},
                   {"ranges", CharRanges(text, m.ranges, plain)},
                   {"segment", SegmentJson(m.segment, plain)}});
  }
  Json next = nullptr;
  if (result.more && !result.matches.empty()) {
    const tm::ConcordanceMatch& last = result.matches.back();
    next = EncodeCursor(StrCat(last.segment.id, last.in_source ? ":s" : ":t"));
  }
  return Json{{"matches", arr},
              {"total", result.total},
              {"total_exact", result.total_exact},
              {"next_cursor", next}};
}

}  // namespace verso::api
