// `verso autoscale plan`: the platform spec's scaling table (ops/autoscale.h) on Prometheus
// samples, from a file of recorded series or a /metrics (or federation) URL. With --state the
// samples of earlier runs (the last 15 minutes) are kept in a file, so that a plan run every
// minute judges the windows ("CPU > 70 % for 2 min") over its own history.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/time/clock.h"
#include "cli/cli.h"
#include "common/file.h"
#include "common/json.h"
#include "common/status.h"
#include "common/strings.h"
#include "net/http_client.h"
#include "ops/autoscale.h"

namespace verso::cli {
namespace {

struct PlanArgs {
  std::string metrics;
  std::vector<std::string> replicas;  // role=n
  std::string state;
  bool json = false;
};

absl::StatusOr<std::string> ReadMetrics(const std::string& from) {
  if (from.rfind("http://", 0) == 0 || from.rfind("https://", 0) == 0) {
    net::HttpRequest req;
    req.method = "GET";
    req.url = from;
    req.deadline = absl::Now() + absl::Seconds(10);
    VERSO_ASSIGN_OR_RETURN(net::HttpResponse r, net::Send(req));
    if (r.status != 200) {
      return absl::UnavailableError(StrCat("--metrics ", from, ": answered ", r.status));
    }
    return r.body;
  }
  auto text = ReadFile(from);
  if (!text.ok()) return Annotate(text.status(), "--metrics");
  return text;
}

// Replaces `path` whole (a temporary file renamed over it): a run killed midway leaves the
// previous state.
absl::Status WriteState(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << text;
    if (!out.flush())
      return absl::UnavailableError(StrCat("--state ", path, ": cannot be written"));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(StrCat("--state ", path, ": cannot be written"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ops::PlanOptions> ParseReplicas(const std::vector<std::string>& items) {
  ops::PlanOptions o;
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    int64_t n = 0;
    if (eq == std::string::npos || !ParseInt64(item.substr(eq + 1), &n) || n < 0 || n > 100000) {
      return absl::InvalidArgumentError(
          StrCat("--replicas: expected role=count (api=3,workers=2), got \"", item, "\""));
    }
    o.replicas[item.substr(0, eq)] = static_cast<int>(n);
  }
  return o;
}

absl::Status Plan(const PlanArgs& a, Environment* env) {
  const absl::Time now = absl::Now();
  VERSO_ASSIGN_OR_RETURN(std::string text, ReadMetrics(a.metrics));
  VERSO_ASSIGN_OR_RETURN(std::vector<ops::Sample> samples, ops::ParsePrometheusText(text, now));
  if (!a.state.empty()) {
    // The history: what earlier runs kept, within 15 minutes of now, then this run's samples.
    std::vector<ops::Sample> history;
    if (auto kept = ReadFile(a.state); kept.ok()) {
      auto parsed = ops::ParsePrometheusText(*kept, now);
      if (!parsed.ok()) return Annotate(parsed.status(), StrCat("--state ", a.state));
      for (ops::Sample& s : *parsed) {
        if (s.time >= now - absl::Minutes(15)) history.push_back(std::move(s));
      }
    }
    history.insert(history.end(), samples.begin(), samples.end());
    samples = std::move(history);
    VERSO_RETURN_IF_ERROR(WriteState(a.state, ops::FormatPrometheusText(samples)));
  }
  VERSO_ASSIGN_OR_RETURN(ops::PlanOptions options, ParseReplicas(a.replicas));
  std::vector<ops::ScaleDecision> plan = ops::PlanScaling(samples, options);
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const ops::ScaleDecision& d : plan) {
      out.push_back({{"role", d.role},
                     {"action", ops::ScaleActionName(d.action)},
                     {"current", d.current},
                     {"desired", d.desired},
                     {"clamped", d.clamped},
                     {"signal", d.signal.has_value() ? nlohmann::json(*d.signal) : nullptr},
                     {"reason", d.reason}});
    }
    env->out() << DumpJson(out) << "\n";
    return absl::OkStatus();
  }
  for (const ops::ScaleDecision& d : plan) {
    env->out() << d.role << ": " << ops::ScaleActionName(d.action) << " " << d.current << " -> "
               << d.desired << " (" << d.reason << ")\n";
  }
  return absl::OkStatus();
}

}  // namespace

void AddAutoscaleCommands(CLI::App* app, Environment* env, int* exit_code) {
  auto* autoscale = app->add_subcommand("autoscale", "The platform spec's scaling policies");
  autoscale->require_subcommand(1);
  auto args = std::make_shared<PlanArgs>();
  auto* plan = autoscale->add_subcommand(
      "plan", "What each role should scale to, from Prometheus samples (docs/deploy.md)");
  plan->add_option("--metrics", args->metrics,
                   "A file of samples (recorded series, with timestamps) or a /metrics URL")
      ->required();
  plan->add_option("--replicas", args->replicas,
                   "Instances of each role now: api=3,workers=2,tm=3,editor=1,qe=2 (default: "
                   "the instances the samples show, else the role's minimum)")
      ->delimiter(',');
  plan->add_option("--state", args->state,
                   "A file keeping the last 15 minutes of samples between runs");
  plan->add_flag("--json", args->json, "Print JSON");
  plan->callback([=] {
    absl::Status s = Plan(*args, env);
    if (!s.ok()) {
      env->err() << "verso: error: " << s.message() << "\n";
      *exit_code = 1;
    }
  });
}

}  // namespace verso::cli
