// The platform spec's scaling table, evaluated on Prometheus samples: what each role should scale
// to (`verso autoscale plan`). deploy/kubernetes holds the same table for HPA and KEDA, which
// approximate its "for N minutes" with stabilization windows; this is the exact reading:
//
//   role     signal (from verso's /metrics)                  out when          in when min  max api
//   CPU: rate(verso_process_cpu_seconds)            > 70 % for 2 min  < 30 % for 10 min    3   20
//            / verso_cpu_limit_cores, mean of the instances
//   workers  verso_queue_oldest_seconds{queue="tasks"}       > 5 min           queue empty 10 min
//   2  100 tm       resident / limit memory, the fullest instance;  > 80 % or > 50 ms < 50 % for 10
//   min    3   30
//            p99 of verso_http_request_duration_seconds
//            {route="/internal/tm/lookup"} over 2 min
//   editor   verso_queue_depth{queue="post_edit"}            > 1000            < 100 for 10 min 1
//   20 qe       p95 of verso_qe_duration_seconds over 2 min     > 100 ms          < 30 ms for 10
//   min   2   20
//
// Out: +2 instances; in: -1; always within min and max. The spec gives no window for some rows:
// a scale-out without one acts on the latest sample, a scale-in without one waits 10 quiet
// minutes (as the others). Process metrics (CPU, memory, latency) are told apart by a `role`
// label (what Prometheus's relabeling adds per scrape job); queue metrics by none.
#ifndef VERSO_OPS_AUTOSCALE_H_
#define VERSO_OPS_AUTOSCALE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace verso::ops {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
  absl::Time time;
};

// Prometheus text exposition (0.0.4): "name{label="value",...} value [timestamp_ms]" per line,
// # comments skipped. A sample without a timestamp gets `now`. Errors name the line and column.
absl::StatusOr<std::vector<Sample>> ParsePrometheusText(std::string_view text, absl::Time now);
// Back to text, with timestamps (for a state file).
std::string FormatPrometheusText(const std::vector<Sample>& samples);

enum class ScaleAction { kOut, kIn, kHold };
std::string_view ScaleActionName(ScaleAction action);  // "scale_out", "scale_in", "hold"

struct ScaleDecision {
  std::string role;
  ScaleAction action = ScaleAction::kHold;
  int current = 0;
  int desired = 0;
  bool clamped = false;          // the step was cut short by min or max
  std::optional<double> signal;  // the policy's signal at the latest sample (none: no data)
  std::string reason;
};

struct PlanOptions {
  // Instances of each role now; a role not named counts the distinct `instance` labels of its
  // process metrics at the latest sample, else its minimum.
  std::map<std::string, int> replicas;
};

// One decision per role of the table, in its order, evaluated at the latest sample's time.
std::vector<ScaleDecision> PlanScaling(const std::vector<Sample>& samples,
                                       const PlanOptions& options);

}  // namespace verso::ops

#endif  // VERSO_OPS_AUTOSCALE_H_
