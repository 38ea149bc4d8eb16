// Operations: metrics in the Prometheus text exposition format (version 0.0.4).
//
// Debian 12 does not package prometheus-cpp, so this is a small registry of its own: counters,
// histograms and callback gauges, each a family of series keyed by label values. Recording is
// lock-free once a series exists (callers on hot paths keep the pointer); rendering takes the
// registry lock. Thread-safe.
#ifndef VERSO_OPS_OPS_H_
#define VERSO_OPS_OPS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace verso::ops {

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double value);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  friend class Registry;
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bound, not cumulative
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 100 µs to 10 s.
const std::vector<double>& LatencyBuckets();

class Registry {
 public:
  // A counter series; created on first use. `labels` are values in the order of the family's
  // label names.
  Counter* GetCounter(const std::string& name, const std::string& help,
                      const std::vector<std::string>& label_names,
                      const std::vector<std::string>& labels);
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<std::string>& label_names,
                          const std::vector<std::string>& labels,
                          const std::vector<double>& bounds = LatencyBuckets());
  // A gauge family whose series are computed when metrics are rendered.
  using GaugeSeries = std::vector<std::pair<std::vector<std::string>, double>>;
  void AddGauge(const std::string& name, const std::string& help,
                const std::vector<std::string>& label_names, std::function<GaugeSeries()> fn);

  std::string Render() const;

 private:
  struct Family {
    std::string help;
    std::string type;  // "counter", "histogram", "gauge"
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    std::map<std::vector<std::string>, std::unique_ptr<Counter>> counters;
    std::map<std::vector<std::string>, std::unique_ptr<Histogram>> histograms;
    std::function<GaugeSeries()> gauge;
  };
  Family& GetFamily(const std::string& name, const std::string& help, const std::string& type,
                    const std::vector<std::string>& label_names) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  mutable absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
};

// The process's CPU time and resident memory, and the limits it runs under (cgroup v2, else the
// machine's): verso_process_cpu_seconds, verso_cpu_limit_cores,
// verso_process_resident_memory_bytes, verso_memory_limit_bytes.
void AddProcessMetrics(Registry* registry);

}  // namespace verso::ops

#endif  // VERSO_OPS_OPS_H_
