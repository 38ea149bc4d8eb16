#include <cstdio>

#include "common/status.h"
#include "common/strings.h"
#include "ops/ops.h"

namespace verso::ops {
namespace {

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                   const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    StrAppend(&out, out.empty() ? "" : ",", names[i], "=\"", EscapeLabel(values[i]), "\"");
  }
  if (!extra.empty()) StrAppend(&out, out.empty() ? "" : ",", extra);
  return out.empty() ? "" : StrCat("{", out, "}");
}

std::string Number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

}  // namespace

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size()]) {
  for (size_t i = 0; i < bounds->size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double value) {
  for (size_t i = 0; i < bounds_->size(); ++i) {
    if (value <= (*bounds_)[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  double old = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(old, old + value, std::memory_order_relaxed)) {
  }
}

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double>* b =
      new std::vector<double>{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                              0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *b;
}

Registry::Family& Registry::GetFamily(const std::string& name, const std::string& help,
                                      const std::string& type,
                                      const std::vector<std::string>& label_names) {
  auto [it, fresh] = families_.try_emplace(name);
  if (fresh) {
    it->second.help = help;
    it->second.type = type;
    it->second.label_names = label_names;
  }
  VERSO_CHECK(it->second.type == type && it->second.label_names == label_names, name);
  return it->second;
}

Counter* Registry::GetCounter(const std::string& name, const std::string& help,
                              const std::vector<std::string>& label_names,
                              const std::vector<std::string>& labels) {
  absl::MutexLock lock(&mu_);
  Family& f = GetFamily(name, help, "counter", label_names);
  auto& slot = f.counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Histogram* Registry::GetHistogram(const std::string& name, const std::string& help,
                                  const std::vector<std::string>& label_names,
                                  const std::vector<std::string>& labels,
                                  const std::vector<double>& bounds) {
  absl::MutexLock lock(&mu_);
  Family& f = GetFamily(name, help, "histogram", label_names);
  if (f.bounds.empty()) f.bounds = bounds;
  auto& slot = f.histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(&f.bounds);
  return slot.get();
}

void Registry::AddGauge(const std::string& name, const std::string& help,
                        const std::vector<std::string>& label_names,
                        std::function<GaugeSeries()> fn) {
  absl::MutexLock lock(&mu_);
  GetFamily(name, help, "gauge", label_names).gauge = std::move(fn);
}

std::string Registry::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    StrAppend(&out, "# HELP ", name, " ", f.help, "\n# TYPE ", name, " ", f.type, "\n");
    for (const auto& [labels, c] : f.counters) {
      StrAppend(&out, name, Labels(f.label_names, labels), " ", c->value(), "\n");
    }
    for (const auto& [labels, h] : f.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < f.bounds.size(); ++i) {
        cumulative += h->buckets_[i].load(std::memory_order_relaxed);
        StrAppend(&out, name, "_bucket",
                  Labels(f.label_names, labels, StrCat("le=\"", Number(f.bounds[i]), "\"")), " ",
                  cumulative, "\n");
      }
      uint64_t count = h->count();
      StrAppend(&out, name, "_bucket", Labels(f.label_names, labels, "le=\"+Inf\""), " ", count,
                "\n");
      StrAppend(&out, name, "_sum", Labels(f.label_names, labels), " ",
                Number(h->sum_.load(std::memory_order_relaxed)), "\n");
      StrAppend(&out, name, "_count", Labels(f.label_names, labels), " ", count, "\n");
    }
    if (f.gauge) {
      for (const auto& [labels, value] : f.gauge()) {
        StrAppend(&out, name, Labels(f.label_names, labels), " ", Number(value), "\n");
      }
    }
  }
  return out;
}

}  // namespace verso::ops
