#include "ops/autoscale.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <set>

#include "common/strings.h"

namespace verso::ops {
namespace {

// ---- Parsing -----------------------------------------------------------------------------

absl::Status ParseError(int line, size_t column, std::string_view what) {
  return absl::InvalidArgumentError(
      StrCat("metrics line ", line, ", column ", column + 1, ": ", what));
}

bool NameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

absl::Status ParseLine(std::string_view line, int number, absl::Time now, Sample* out) {
  size_t i = 0;
  while (i < line.size() && NameChar(line[i], i == 0)) ++i;
  if (i == 0) return ParseError(number, 0, "expected a metric name");
  out->name = std::string(line.substr(0, i));
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      while (i < line.size() && (line[i] == ' ' || line[i] == ',')) ++i;
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      const size_t start = i;
      while (i < line.size() && NameChar(line[i], i == start)) ++i;
      if (i == start) return ParseError(number, i, "expected a label name or }");
      const std::string label(line.substr(start, i - start));
      if (i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
        return ParseError(number, i, "expected =\" after a label name");
      }
      i += 2;
      std::string value;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < line.size()) {
          ++i;
          value += line[i] == 'n' ? '\n' : line[i];
        } else {
          value += line[i];
        }
        ++i;
      }
      if (i >= line.size()) return ParseError(number, i, "unterminated label value");
      ++i;
      out->labels[label] = std::move(value);
    }
  }
  std::vector<std::string_view> rest;
  for (std::string_view f : Split(line.substr(i), ' ')) {
    if (!f.empty()) rest.push_back(f);
  }
  if (rest.empty() || rest.size() > 2) {
    return ParseError(number, i, "expected a value and an optional timestamp");
  }
  const std::string value(rest[0]);
  char* end = nullptr;
  out->value = std::strtod(value.c_str(), &end);
  if (value == "+Inf") out->value = std::numeric_limits<double>::infinity();
  if (value == "-Inf") out->value = -std::numeric_limits<double>::infinity();
  if (end != value.c_str() + value.size() && value != "+Inf" && value != "-Inf") {
    return ParseError(number, i, StrCat("\"", value, "\" is not a number"));
  }
  out->time = now;
  if (rest.size() == 2) {
    int64_t ms = 0;
    if (!ParseInt64(rest[1], &ms)) {
      return ParseError(number, i, StrCat("\"", rest[1], "\" is not a timestamp in ms"));
    }
    out->time = absl::FromUnixMillis(ms);
  }
  return absl::OkStatus();
}

// ---- Signals -----------------------------------------------------------------------------

// The samples of one scrape time.
struct Snapshot {
  absl::Time time;
  std::vector<const Sample*> samples;
};
using Snapshots = std::vector<Snapshot>;

bool Has(const Sample& s, const std::map<std::string, std::string>& labels) {
  for (const auto& [k, v] : labels) {
    auto it = s.labels.find(k);
    if (it == s.labels.end() || it->second != v) return false;
  }
  return true;
}

std::vector<const Sample*> Find(const Snapshot& snap, std::string_view name,
                                const std::map<std::string, std::string>& labels) {
  std::vector<const Sample*> out;
  for (const Sample* s : snap.samples) {
    if (s->name == name && Has(*s, labels)) out.push_back(s);
  }
  return out;
}

// The same series (name and every label) in another snapshot.
const Sample* Same(const Snapshot& snap, const Sample& s) {
  for (const Sample* o : snap.samples) {
    if (o->name == s.name && o->labels == s.labels) return o;
  }
  return nullptr;
}

std::optional<double> Max(const Snapshot& snap, std::string_view name,
                          const std::map<std::string, std::string>& labels) {
  std::optional<double> out;
  for (const Sample* s : Find(snap, name, labels)) out = std::max(out.value_or(s->value), s->value);
  return out;
}

// The value of `name` for the same instance (and role) as `s`.
std::optional<double> OfInstance(const Snapshot& snap, std::string_view name, const Sample& s) {
  std::map<std::string, std::string> labels;
  for (const char* k : {"instance", "role"}) {
    if (auto it = s.labels.find(k); it != s.labels.end()) labels[k] = it->second;
  }
  return Max(snap, name, labels);
}

// Mean CPU utilization of the role's instances between the previous scrape and this one.
std::optional<double> Cpu(const Snapshots& snaps, size_t i, const std::string& role) {
  if (i == 0) return std::nullopt;
  const double dt = absl::ToDoubleSeconds(snaps[i].time - snaps[i - 1].time);
  if (dt <= 0) return std::nullopt;
  double sum = 0;
  int n = 0;
  for (const Sample* s : Find(snaps[i], "verso_process_cpu_seconds", {{"role", role}})) {
    const Sample* before = Same(snaps[i - 1], *s);
    std::optional<double> cores = OfInstance(snaps[i], "verso_cpu_limit_cores", *s);
    if (before == nullptr || !cores.has_value() || *cores <= 0) continue;
    sum += (s->value - before->value) / dt / *cores;
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

// Resident over limit memory of the role's fullest instance.
std::optional<double> Memory(const Snapshots& snaps, size_t i, const std::string& role) {
  std::optional<double> out;
  for (const Sample* s : Find(snaps[i], "verso_process_resident_memory_bytes", {{"role", role}})) {
    std::optional<double> limit = OfInstance(snaps[i], "verso_memory_limit_bytes", *s);
    if (!limit.has_value() || *limit <= 0) continue;
    out = std::max(out.value_or(0), s->value / *limit);
  }
  return out;
}

// Prometheus's histogram_quantile over the increase of `name`'s buckets in the 2 minutes before
// snapshot i (from the first snapshot when the data is shorter).
std::optional<double> Quantile(const Snapshots& snaps, size_t i, double q, const std::string& name,
                               const std::map<std::string, std::string>& labels) {
  size_t j = 0;
  for (size_t k = 0; k < i; ++k) {
    if (snaps[k].time <= snaps[i].time - absl::Minutes(2)) j = k;
  }
  if (j == i) return std::nullopt;
  std::map<double, double> cumulative;  // le -> increase
  for (const Sample* s : Find(snaps[i], name + "_bucket", labels)) {
    auto le = s->labels.find("le");
    if (le == s->labels.end()) continue;
    const Sample* before = Same(snaps[j], *s);
    const double bound = le->second == "+Inf" ? std::numeric_limits<double>::infinity()
                                              : std::strtod(le->second.c_str(), nullptr);
    cumulative[bound] += s->value - (before != nullptr ? before->value : 0);
  }
  if (cumulative.empty()) return std::nullopt;
  const double total = cumulative.rbegin()->second;
  if (total <= 0) return std::nullopt;
  const double rank = q * total;
  double lower = 0, below = 0;
  for (const auto& [bound, count] : cumulative) {
    if (count >= rank) {
      if (std::isinf(bound)) return lower;
      if (count == below) return bound;
      return lower + (bound - lower) * (rank - below) / (count - below);
    }
    lower = bound;
    below = count;
  }
  return lower;
}

// ---- Policies ----------------------------------------------------------------------------

// A condition at one snapshot: true or false, or nothing to judge by; `detail` says what it saw.
using Condition = std::function<std::optional<bool>(const Snapshots&, size_t, std::string*)>;

struct Rule {
  Condition holds;
  absl::Duration window;  // how long it must have held (0: at the latest sample)
};

struct Policy {
  std::string role;
  int min, max;
  std::function<std::optional<double>(const Snapshots&, size_t)> signal;
  Rule out, in;
};

std::string Percent(double v) { return StrCat(static_cast<int>(std::lround(v * 100)), " %"); }
std::string Ms(double v) { return StrCat(static_cast<int>(std::lround(v * 1000)), " ms"); }

// A condition on one signal against a bound.
template <typename Signal>
Condition Compare(Signal signal, bool above, double bound, std::string what,
                  std::string (*format)(double)) {
  return [=](const Snapshots& snaps, size_t i, std::string* detail) -> std::optional<bool> {
    std::optional<double> v = signal(snaps, i);
    if (!v.has_value()) return std::nullopt;
    *detail = StrCat(what, " ", format(*v), above ? " > " : " < ", format(bound));
    return above ? *v > bound : *v < bound;
  };
}

std::string Plain(double v) { return StrCat(static_cast<int64_t>(std::llround(v))); }
std::string Seconds(double v) { return StrCat(static_cast<int64_t>(std::llround(v)), " s"); }

std::vector<Policy> Table() {
  const std::map<std::string, std::string> tasks = {{"queue", "tasks"}};
  const std::map<std::string, std::string> post_edit = {{"queue", "post_edit"}};
  auto cpu = [](const Snapshots& s, size_t i) { return Cpu(s, i, "api"); };
  auto queue_age = [tasks](const Snapshots& s, size_t i) {
    return Max(s[i], "verso_queue_oldest_seconds", tasks);
  };
  auto queue_depth = [tasks](const Snapshots& s, size_t i) {
    return Max(s[i], "verso_queue_depth", tasks);
  };
  auto memory = [](const Snapshots& s, size_t i) { return Memory(s, i, "tm"); };
  auto tm_p99 = [](const Snapshots& s, size_t i) {
    return Quantile(s, i, 0.99, "verso_http_request_duration_seconds",
                    {{"role", "tm"}, {"route", "/internal/tm/lookup"}});
  };
  auto mtpe = [post_edit](const Snapshots& s, size_t i) {
    return Max(s[i], "verso_queue_depth", post_edit);
  };
  auto qe_p95 = [](const Snapshots& s, size_t i) {
    return Quantile(s, i, 0.95, "verso_qe_duration_seconds", {});
  };
  Condition memory_out = Compare(memory, true, 0.80, "memory", Percent);
  Condition latency_out = Compare(tm_p99, true, 0.050, "p99 lookup latency", Ms);
  Condition tm_out = [=](const Snapshots& s, size_t i, std::string* detail) -> std::optional<bool> {
    std::string a, b;
    std::optional<bool> x = memory_out(s, i, &a), y = latency_out(s, i, &b);
    if (!x.has_value() && !y.has_value()) return std::nullopt;
    *detail = (x.value_or(false) || !y.has_value()) ? a : b;
    return x.value_or(false) || y.value_or(false);
  };
  const absl::Duration quiet = absl::Minutes(10);
  return {
      {"api",
       3,
       20,
       cpu,
       {Compare(cpu, true, 0.70, "CPU", Percent), absl::Minutes(2)},
       {Compare(cpu, false, 0.30, "CPU", Percent), quiet}},
      {"workers",
       2,
       100,
       queue_age,
       {Compare(queue_age, true, 300, "oldest queued task", Seconds), absl::ZeroDuration()},
       {Compare(queue_depth, false, 1, "tasks queued", Plain), quiet}},
      {"tm",
       3,
       30,
       memory,
       {tm_out, absl::ZeroDuration()},
       {Compare(memory, false, 0.50, "memory", Percent), quiet}},
      {"editor",
       1,
       20,
       mtpe,
       {Compare(mtpe, true, 1000, "segments awaiting post-editing", Plain), absl::ZeroDuration()},
       {Compare(mtpe, false, 100, "segments awaiting post-editing", Plain), quiet}},
      {"qe",
       2,
       20,
       qe_p95,
       {Compare(qe_p95, true, 0.100, "QE p95", Ms), absl::ZeroDuration()},
       {Compare(qe_p95, false, 0.030, "QE p95", Ms), quiet}},
  };
}

// Whether `rule` held at every snapshot of its window, which the data covers; *detail says what
// the latest one saw.
bool Held(const Rule& rule, const Snapshots& snaps, std::string* detail) {
  const size_t last = snaps.size() - 1;
  std::optional<bool> now = rule.holds(snaps, last, detail);
  if (!now.value_or(false)) return false;
  if (rule.window == absl::ZeroDuration()) return true;
  const absl::Time from = snaps[last].time - rule.window;
  if (snaps.front().time > from) return false;  // the data does not reach back that far
  std::string ignored;
  // The snapshots after `from` (a rate's or a quantile's at one of them covers the time before
  // it, back to the previous scrape).
  for (size_t i = 0; i < last; ++i) {
    if (snaps[i].time <= from) continue;
    if (!rule.holds(snaps, i, &ignored).value_or(false)) return false;
  }
  return true;
}

std::string Window(absl::Duration d) { return StrCat(absl::ToInt64Minutes(d), " min"); }

}  // namespace

absl::StatusOr<std::vector<Sample>> ParsePrometheusText(std::string_view text, absl::Time now) {
  std::vector<Sample> out;
  int number = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++number;
    line = StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    if (absl::Status st = ParseLine(line, number, now, &s); !st.ok()) return st;
    out.push_back(std::move(s));
  }
  return out;
}

std::string FormatPrometheusText(const std::vector<Sample>& samples) {
  std::string out;
  for (const Sample& s : samples) {
    out += s.name;
    if (!s.labels.empty()) {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : s.labels) {
        std::string escaped;
        for (char c : v) {
          if (c == '\\' || c == '"') escaped += '\\';
          escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
        }
        StrAppend(&out, first ? "" : ",", k, "=\"", escaped, "\"");
        first = false;
      }
      out += '}';
    }
    const std::string value =
        std::isinf(s.value) ? (s.value > 0 ? "+Inf" : "-Inf") : StrCat(s.value);
    StrAppend(&out, " ", value, " ", absl::ToUnixMillis(s.time), "\n");
  }
  return out;
}

std::string_view ScaleActionName(ScaleAction action) {
  switch (action) {
    case ScaleAction::kOut:
      return "scale_out";
    case ScaleAction::kIn:
      return "scale_in";
    case ScaleAction::kHold:
      return "hold";
  }
  return "hold";
}

std::vector<ScaleDecision> PlanScaling(const std::vector<Sample>& samples,
                                       const PlanOptions& options) {
  std::map<absl::Time, Snapshot> by_time;
  for (const Sample& s : samples) {
    Snapshot& snap = by_time[s.time];
    snap.time = s.time;
    snap.samples.push_back(&s);
  }
  Snapshots snaps;
  for (auto& [t, snap] : by_time) snaps.push_back(std::move(snap));
  std::vector<ScaleDecision> out;
  for (const Policy& p : Table()) {
    ScaleDecision d;
    d.role = p.role;
    if (auto it = options.replicas.find(p.role); it != options.replicas.end()) {
      d.current = it->second;
    } else if (!snaps.empty()) {
      std::set<std::string> instances;
      for (const Sample* s : snaps.back().samples) {
        auto role = s->labels.find("role");
        auto instance = s->labels.find("instance");
        if (role != s->labels.end() && role->second == p.role && instance != s->labels.end()) {
          instances.insert(instance->second);
        }
      }
      d.current = instances.empty() ? p.min : static_cast<int>(instances.size());
    } else {
      d.current = p.min;
    }
    int wanted = d.current;
    std::string detail;
    if (snaps.empty()) {
      d.reason = "no samples";
    } else {
      d.signal = p.signal(snaps, snaps.size() - 1);
      if (Held(p.out, snaps, &detail)) {
        d.action = ScaleAction::kOut;
        wanted = d.current + 2;
        d.reason = p.out.window == absl::ZeroDuration()
                       ? detail
                       : StrCat(detail, " for ", Window(p.out.window));
      } else if (Held(p.in, snaps, &detail)) {
        d.action = ScaleAction::kIn;
        wanted = d.current - 1;
        d.reason = StrCat(detail, " for ", Window(p.in.window));
      } else {
        d.reason = detail.empty() ? "no samples for its signal" : "within bounds";
      }
    }
    d.desired = std::clamp(wanted, p.min, p.max);
    d.clamped = d.desired != wanted;
    if (d.desired == d.current) d.action = ScaleAction::kHold;
    if (d.clamped) StrAppend(&d.reason, " (clamped to ", p.min, "-", p.max, ")");
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace verso::ops
