#include "live/live.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/json.h"
#include "common/strings.h"

namespace verso::live {
namespace {

using Json = nlohmann::json;

Json EditorJson(const Editor& e) { return Json{{"id", e.id}, {"name", e.name}}; }

// A lock message's segment: {"target": "es", "index": 3}; the error names the field.
std::optional<std::string> ReadSegment(const Json& m, std::string* target, int64_t* index) {
  auto t = m.find("target");
  auto i = m.find("index");
  if (t == m.end() || !t->is_string() || t->get_ref<const std::string&>().empty() ||
      t->get_ref<const std::string&>().size() > 35) {
    return "target: a language code is required";
  }
  if (i == m.end() || !i->is_number_integer() || i->get<int64_t>() < 0) {
    return "index: a segment index (0 or more) is required";
  }
  *target = t->get<std::string>();
  *index = i->get<int64_t>();
  return std::nullopt;
}

std::string Error(std::string_view message) {
  return DumpJson(Json{{"type", "error"}, {"message", message}});
}

}  // namespace

Hub::Hub(const Clock* clock, HubOptions options, Backplane* backplane, std::string origin)
    : clock_(clock), options_(options), backplane_(backplane), origin_(std::move(origin)) {}
Hub::~Hub() = default;

int64_t Hub::Join(std::string_view job, const Editor& editor, Peer* peer) {
  absl::MutexLock lock(&mu_);
  std::vector<int64_t>& on_job = jobs_[std::string(job)];
  if (static_cast<int>(on_job.size()) >= options_.max_peers_per_job) {
    if (on_job.empty()) jobs_.erase(std::string(job));
    return 0;
  }
  const int64_t id = next_peer_++;
  Member& m = members_[id];
  m.job = std::string(job);
  m.editor = editor;
  m.peer = peer;
  on_job.push_back(id);
  peer->Send(HelloLocked(id, m));
  PresenceLocked(job);
  AnnounceLocked(job);
  return id;
}

std::string Hub::HelloLocked(int64_t peer, const Member& m) {
  Json editors = Json::array();
  for (const Editor& e : EditorsLocked(m.job)) editors.push_back(EditorJson(e));
  Json locks = Json::array();
  const absl::Time now = clock_->Now();
  for (auto it = locks_.lower_bound({m.job, "", 0});
       it != locks_.end() && std::get<0>(it->first) == m.job; ++it) {
    if (it->second.until <= now) continue;  // Sweep tells everyone soon
    locks.push_back(Json{{"target", std::get<1>(it->first)},
                         {"index", std::get<2>(it->first)},
                         {"by", EditorJson(it->second.editor)},
                         {"mine", it->second.peer == peer},
                         {"until", Rfc3339(it->second.until)}});
  }
  return DumpJson(Json{{"type", "hello"},
                       {"job_id", m.job},
                       {"you", EditorJson(m.editor)},
                       {"editors", editors},
                       {"locks", locks},
                       {"lock_seconds", absl::ToInt64Seconds(options_.lock_ttl)}});
}

void Hub::Leave(int64_t peer) {
  absl::MutexLock lock(&mu_);
  auto it = members_.find(peer);
  if (it == members_.end()) return;
  const std::string job = it->second.job;
  members_.erase(it);
  std::vector<int64_t>& on_job = jobs_[job];
  on_job.erase(std::remove(on_job.begin(), on_job.end(), peer), on_job.end());
  std::vector<SegmentKey> held;
  for (auto l = locks_.lower_bound({job, "", 0}); l != locks_.end() && std::get<0>(l->first) == job;
       ++l) {
    if (l->second.peer == peer) held.push_back(l->first);
  }
  for (const SegmentKey& key : held) ReleaseLocked(key);
  AnnounceLocked(job);
  if (on_job.empty()) {
    jobs_.erase(job);
    announced_.erase(job);
  } else {
    PresenceLocked(job);
  }
}

void Hub::Receive(int64_t peer, std::string_view message) {
  absl::MutexLock lock(&mu_);
  auto it = members_.find(peer);
  if (it == members_.end()) return;
  Member& m = it->second;
  absl::StatusOr<Json> parsed = ParseJson(message, JsonLimits{.max_depth = 4});
  if (!parsed.ok() || !parsed->is_object()) {
    m.peer->Send(Error(parsed.ok() ? std::string_view("a message is a JSON object")
                                   : ToStd(parsed.status().message())));
    return;
  }
  const Json& msg = *parsed;
  auto type = msg.find("type");
  const std::string kind = type != msg.end() && type->is_string() ? type->get<std::string>() : "";
  if (kind == "ping") {
    m.peer->Send(R"({"type":"pong"})");
    return;
  }
  if (kind != "lock" && kind != "unlock") {
    m.peer->Send(Error(
        StrCat("type: \"lock\", \"unlock\" or \"ping\" (not \"", Abbreviate(kind, 20), "\")")));
    return;
  }
  std::string target;
  int64_t index = 0;
  if (auto bad = ReadSegment(msg, &target, &index)) {
    m.peer->Send(Error(*bad));
    return;
  }
  if (kind == "lock") {
    TakeLocked(peer, m, target, index);
    return;
  }
  auto l = locks_.find({m.job, target, index});
  if (l != locks_.end() && l->second.peer == peer) ReleaseLocked(l->first);
}

void Hub::TakeLocked(int64_t peer, const Member& m, const std::string& target, int64_t index) {
  const SegmentKey key{m.job, target, index};
  const absl::Time until = clock_->Now() + options_.lock_ttl;
  auto l = locks_.find(key);
  if (l != locks_.end() && l->second.until <= clock_->Now()) {  // expired: free (and said so)
    ReleaseLocked(key);
    l = locks_.end();
  }
  // Held by another editor (the same one in a second tab or on another process may take it).
  if (l != locks_.end() && l->second.peer != peer && l->second.editor.id != m.editor.id) {
    m.peer->Send(DumpJson(Json{{"type", "lock_refused"},
                               {"target", target},
                               {"index", index},
                               {"by", EditorJson(l->second.editor)},
                               {"until", Rfc3339(l->second.until)}}));
    return;
  }
  if (l == locks_.end()) {
    // One editor edits one segment: a new lock ends the peer's others past the allowance.
    std::vector<std::pair<absl::Time, SegmentKey>> mine;
    for (auto o = locks_.lower_bound({m.job, "", 0});
         o != locks_.end() && std::get<0>(o->first) == m.job; ++o) {
      if (o->second.peer == peer) mine.emplace_back(o->second.until, o->first);
    }
    std::sort(mine.begin(), mine.end());
    for (size_t i = 0; i + options_.max_locks_per_peer <= mine.size(); ++i) {
      ReleaseLocked(mine[i].second);
    }
  }
  const absl::Time since = l != locks_.end() ? l->second.since : clock_->Now();
  locks_[key] = Lock{peer, m.editor, until, since};
  SendLocked(m.job, DumpJson(Json{{"type", "lock"},
                                  {"target", target},
                                  {"index", index},
                                  {"by", EditorJson(m.editor)},
                                  {"until", Rfc3339(until)}}));
  ShareLocked("lock", m.job,
              Json{{"t", target},
                   {"i", index},
                   {"by", EditorJson(m.editor)},
                   {"until", absl::ToUnixMicros(until)},
                   {"since", absl::ToUnixMicros(since)}});
}

void Hub::ReleaseLocked(const SegmentKey& key) {
  auto l = locks_.find(key);
  if (l == locks_.end()) return;
  if (l->second.peer != 0) {  // ours: the other processes let it go too
    ShareLocked(
        "unlock", std::get<0>(key),
        Json{{"t", std::get<1>(key)}, {"i", std::get<2>(key)}, {"by", l->second.editor.id}});
  }
  locks_.erase(l);
  SendLocked(std::get<0>(key),
             DumpJson(Json{
                 {"type", "unlock"}, {"target", std::get<1>(key)}, {"index", std::get<2>(key)}}));
}

void Hub::Publish(std::string_view job, std::string_view message) {
  absl::MutexLock lock(&mu_);
  SendLocked(job, std::string(message));
  ShareLocked("m", job, Json{{"m", message}});
}

void Hub::SendLocked(std::string_view job, const std::string& message) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  for (int64_t id : it->second) {
    members_[id].peer->Send(message);
    ++messages_;
  }
}

void Hub::PresenceLocked(std::string_view job) {
  if (jobs_.find(job) == jobs_.end()) return;
  Json editors = Json::array();
  for (const Editor& e : EditorsLocked(job)) editors.push_back(EditorJson(e));
  SendLocked(job, DumpJson(Json{{"type", "presence"}, {"editors", editors}}));
}

// This process's editors on `job`, then the other processes' (unexpired), each once.
std::vector<Editor> Hub::EditorsLocked(std::string_view job) {
  std::vector<Editor> out;
  auto seen = [&](const Editor& e) {
    return std::any_of(out.begin(), out.end(), [&](const Editor& o) { return o.id == e.id; });
  };
  if (auto it = jobs_.find(job); it != jobs_.end()) {
    for (int64_t id : it->second) {
      if (!seen(members_[id].editor)) out.push_back(members_[id].editor);
    }
  }
  const absl::Time now = clock_->Now();
  if (auto r = remote_.find(job); r != remote_.end()) {
    for (const auto& [origin, remote] : r->second) {
      if (remote.until <= now) continue;
      for (const Editor& e : remote.editors) {
        if (!seen(e)) out.push_back(e);
      }
    }
  }
  return out;
}

void Hub::ShareLocked(std::string_view kind, std::string_view job, Json body) {
  if (backplane_ == nullptr) return;
  body["o"] = origin_;
  body["k"] = kind;
  body["j"] = job;
  backplane_->Publish(DumpJson(body));
}

// This process's editors on `job` to the others (an empty list when none are left).
void Hub::AnnounceLocked(std::string_view job) {
  if (backplane_ == nullptr) return;
  Json editors = Json::array();
  if (auto it = jobs_.find(job); it != jobs_.end()) {
    for (int64_t id : it->second) editors.push_back(EditorJson(members_[id].editor));
  }
  const absl::Time now = clock_->Now();
  announced_[std::string(job)] = now;
  ShareLocked(
      "presence", job,
      Json{{"editors", editors}, {"until", absl::ToUnixMicros(now + options_.presence_ttl)}});
}

namespace {

// An envelope's fields, of the type expected or empty (another process is trusted no more than
// a client: a malformed field is no field).
std::string Str(const Json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t Int(const Json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}
Editor EditorOf(const Json& o) {
  return o.is_object() ? Editor{Str(o, "id"), Str(o, "name")} : Editor{};
}

}  // namespace

void Hub::FromOthers(std::string_view envelope) {
  absl::StatusOr<Json> parsed = ParseJson(envelope, JsonLimits{.max_depth = 8});
  if (!parsed.ok() || !parsed->is_object()) return;
  const Json& e = *parsed;
  const std::string origin = Str(e, "o"), kind = Str(e, "k"), job = Str(e, "j");
  if (origin.empty() || origin == origin_ || job.empty()) return;
  absl::MutexLock lock(&mu_);
  if (kind == "m") {
    const std::string message = Str(e, "m");
    if (!message.empty()) SendLocked(job, message);
  } else if (kind == "presence") {
    auto list = e.find("editors");
    if (list == e.end() || !list->is_array()) return;
    Remote& r = remote_[job][origin];
    r.editors.clear();
    for (const Json& x : *list) {
      Editor editor = EditorOf(x);
      if (!editor.id.empty()) r.editors.push_back(std::move(editor));
    }
    r.until = absl::FromUnixMicros(std::max<int64_t>(0, Int(e, "until")));
    PresenceLocked(job);
  } else if (kind == "lock" || kind == "unlock") {
    const SegmentKey key{job, Str(e, "t"), Int(e, "i")};
    if (std::get<1>(key).empty() || std::get<2>(key) < 0) return;
    if (kind == "unlock") {
      auto l = locks_.find(key);
      if (l != locks_.end() && l->second.peer == 0 && l->second.editor.id == Str(e, "by")) {
        locks_.erase(l);
        SendLocked(job, DumpJson(Json{{"type", "unlock"},
                                      {"target", std::get<1>(key)},
                                      {"index", std::get<2>(key)}}));
      }
      return;
    }
    auto by = e.find("by");
    Editor editor = by != e.end() ? EditorOf(*by) : Editor{};
    if (editor.id.empty()) return;
    RemoteLockLocked(key, Lock{0, std::move(editor), absl::FromUnixMicros(Int(e, "until")),
                               absl::FromUnixMicros(Int(e, "since"))});
  }
}

void Hub::RemoteLockLocked(const SegmentKey& key, Lock remote) {
  const auto& [job, target, index] = key;
  auto l = locks_.find(key);
  if (l != locks_.end() && l->second.peer != 0 && l->second.editor.id == remote.editor.id) {
    return;  // the same editor on two processes: theirs here stays theirs
  }
  if (l != locks_.end() && l->second.peer != 0) {
    // Both processes granted it: the earlier lock wins here as it does there.
    const Lock& mine = l->second;
    const bool theirs = remote.since < mine.since ||
                        (remote.since == mine.since && remote.editor.id < mine.editor.id);
    if (!theirs) return;
    if (auto m = members_.find(mine.peer); m != members_.end()) {
      m->second.peer->Send(DumpJson(Json{{"type", "lock_refused"},
                                         {"target", target},
                                         {"index", index},
                                         {"by", EditorJson(remote.editor)},
                                         {"until", Rfc3339(remote.until)}}));
    }
  }
  const Editor editor = remote.editor;
  const absl::Time until = remote.until;
  locks_[key] = std::move(remote);
  SendLocked(job, DumpJson(Json{{"type", "lock"},
                                {"target", target},
                                {"index", index},
                                {"by", EditorJson(editor)},
                                {"until", Rfc3339(until)}}));
}

std::optional<Editor> Hub::Holder(std::string_view job, std::string_view target, int64_t index) {
  absl::MutexLock lock(&mu_);
  auto l = locks_.find({std::string(job), std::string(target), index});
  if (l == locks_.end() || l->second.until <= clock_->Now()) return std::nullopt;
  return l->second.editor;
}

void Hub::Sweep() {
  absl::MutexLock lock(&mu_);
  // Every socket's writer calls this every few seconds: once a second is enough for all.
  const absl::Time now = clock_->Now();
  if (now - last_sweep_ < absl::Seconds(1)) return;
  last_sweep_ = now;
  SweepLocked(now);
}

bool Hub::Watched(std::string_view job) {
  absl::MutexLock lock(&mu_);
  return !EditorsLocked(job).empty();
}

void Hub::SweepLocked(absl::Time now) {
  std::vector<SegmentKey> expired;
  for (const auto& [key, l] : locks_) {
    if (l.until <= now) expired.push_back(key);
  }
  for (const SegmentKey& key : expired) ReleaseLocked(key);
  if (backplane_ == nullptr) return;
  for (const auto& [job, peers] : jobs_) {
    auto last = announced_.find(job);
    if (last == announced_.end() || now - last->second >= options_.presence_every) {
      AnnounceLocked(job);
    }
  }
  for (auto r = remote_.begin(); r != remote_.end();) {
    for (auto o = r->second.begin(); o != r->second.end();) {
      o = o->second.until <= now ? r->second.erase(o) : std::next(o);
    }
    r = r->second.empty() ? remote_.erase(r) : std::next(r);
  }
}

Hub::Stats Hub::GetStats() {
  absl::MutexLock lock(&mu_);
  return Stats{static_cast<int64_t>(jobs_.size()), static_cast<int64_t>(members_.size()),
               static_cast<int64_t>(locks_.size()), messages_};
}

}  // namespace verso::live
