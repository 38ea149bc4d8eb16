#include "ops/autoscale.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "common/strings.h"

namespace verso::ops {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// Recorded series: a scrape every 30 s for `minutes`; `at(seconds since the start)` gives each
// scrape's lines (without timestamps, added here).
std::string Record(int minutes, const std::function<std::vector<std::string>(int)>& at) {
  std::string out = "# recorded by the test\n";
  for (int t = 0; t <= minutes * 60; t += 30) {
    for (const std::string& line : at(t)) {
      StrAppend(&out, line, " ", absl::ToUnixMillis(kStart + absl::Seconds(t)), "\n");
    }
  }
  return out;
}

std::vector<ScaleDecision> Plan(const std::string& text, std::map<std::string, int> replicas = {}) {
  auto samples = ParsePrometheusText(text, kStart);
  EXPECT_TRUE(samples.ok()) << samples.status();
  return PlanScaling(*samples, {.replicas = std::move(replicas)});
}

const ScaleDecision& Role(const std::vector<ScaleDecision>& plan, const std::string& role) {
  for (const ScaleDecision& d : plan) {
    if (d.role == role) return d;
  }
  static ScaleDecision none;
  ADD_FAILURE() << "no decision for " << role;
  return none;
}

// Two API instances of 2 cores each, using `busy(t)` of their CPU during the 30 s before t.
std::string ApiCpu(int minutes, const std::function<double(int)>& busy) {
  double used = 0;
  return Record(minutes, [&](int t) {
    if (t > 0) used += busy(t) * 2 * 30;
    std::vector<std::string> lines;
    for (const char* instance : {"api-1", "api-2"}) {
      lines.push_back(
          StrCat("verso_process_cpu_seconds{role=\"api\",instance=\"", instance, "\"} ", used));
      lines.push_back(StrCat("verso_cpu_limit_cores{role=\"api\",instance=\"", instance, "\"} 2"));
    }
    return lines;
  });
}

TEST(AutoscaleTest, ApiScalesOutAfterTwoBusyMinutesAndInAfterTenQuietOnes) {
  // 80 % for the last 3 minutes of 5: +2, from the two instances the samples show.
  auto busy = Plan(ApiCpu(5, [](int t) { return t > 120 ? 0.8 : 0.5; }));
  const ScaleDecision& out = Role(busy, "api");
  EXPECT_EQ(out.action, ScaleAction::kOut);
  EXPECT_EQ(out.current, 2);
  EXPECT_EQ(out.desired, 4);
  EXPECT_NEAR(*out.signal, 0.8, 1e-9);
  EXPECT_EQ(out.reason, "CPU 80 % > 70 % for 2 min");
  // Busy for only the last minute: hold.
  auto brief = Plan(ApiCpu(5, [](int t) { return t > 240 ? 0.8 : 0.5; }), {{"api", 4}});
  EXPECT_EQ(Role(brief, "api").action, ScaleAction::kHold);
  EXPECT_EQ(Role(brief, "api").desired, 4);
  EXPECT_EQ(Role(brief, "api").reason, "within bounds");
  // 20 % for 11 minutes: -1; for only 9 of them: hold.
  auto quiet = Plan(ApiCpu(12, [](int t) { return t > 60 ? 0.2 : 0.5; }), {{"api", 6}});
  EXPECT_EQ(Role(quiet, "api").action, ScaleAction::kIn);
  EXPECT_EQ(Role(quiet, "api").desired, 5);
  EXPECT_EQ(Role(quiet, "api").reason, "CPU 20 % < 30 % for 10 min");
  auto not_yet = Plan(ApiCpu(12, [](int t) { return t > 180 ? 0.2 : 0.5; }), {{"api", 6}});
  EXPECT_EQ(Role(not_yet, "api").action, ScaleAction::kHold);
}

TEST(AutoscaleTest, DecisionsStayWithinTheRolesBounds) {
  const std::string busy = ApiCpu(5, [](int) { return 0.9; });
  EXPECT_EQ(Role(Plan(busy, {{"api", 19}}), "api").desired, 20);
  EXPECT_TRUE(Role(Plan(busy, {{"api", 19}}), "api").clamped);
  EXPECT_EQ(Role(Plan(busy, {{"api", 19}}), "api").action, ScaleAction::kOut);
  const ScaleDecision at_max = Role(Plan(busy, {{"api", 20}}), "api");
  EXPECT_EQ(at_max.action, ScaleAction::kHold);
  EXPECT_EQ(at_max.desired, 20);
  EXPECT_EQ(at_max.reason, "CPU 90 % > 70 % for 2 min (clamped to 3-20)");
  const std::string quiet = ApiCpu(12, [](int) { return 0.1; });
  EXPECT_EQ(Role(Plan(quiet, {{"api", 3}}), "api").action, ScaleAction::kHold);
  EXPECT_EQ(Role(Plan(quiet, {{"api", 3}}), "api").desired, 3);
  // Below the minimum (a role just deployed): up to it.
  EXPECT_EQ(Role(Plan(quiet, {{"api", 1}}), "api").desired, 3);
}

TEST(AutoscaleTest, WorkersFollowTheQueuesAgeAndEmptiness) {
  auto old = Plan(Record(3,
                         [](int t) {
                           return std::vector<std::string>{
                               StrCat("verso_queue_oldest_seconds{queue=\"tasks\"} ", 240 + t / 2),
                               "verso_queue_depth{queue=\"tasks\"} 40"};
                         }),
                  {{"workers", 10}});
  EXPECT_EQ(Role(old, "workers").action, ScaleAction::kOut);
  EXPECT_EQ(Role(old, "workers").desired, 12);
  EXPECT_EQ(Role(old, "workers").reason, "oldest queued task 330 s > 300 s");
  auto empty =
      Plan(Record(11,
                  [](int) {
                    return std::vector<std::string>{"verso_queue_oldest_seconds{queue=\"tasks\"} 0",
                                                    "verso_queue_depth{queue=\"tasks\"} 0"};
                  }),
           {{"workers", 10}});
  EXPECT_EQ(Role(empty, "workers").action, ScaleAction::kIn);
  EXPECT_EQ(Role(empty, "workers").desired, 9);
  // A task queued 5 minutes ago interrupts the quiet window.
  auto busy_once =
      Plan(Record(11,
                  [](int t) {
                    return std::vector<std::string>{
                        "verso_queue_oldest_seconds{queue=\"tasks\"} 0",
                        StrCat("verso_queue_depth{queue=\"tasks\"} ", t == 360 ? 3 : 0)};
                  }),
           {{"workers", 10}});
  EXPECT_EQ(Role(busy_once, "workers").action, ScaleAction::kHold);
}

// TM node instances: memory and a lookup-latency histogram whose every lookup takes `seconds`.
std::string Tm(int minutes, double memory, double seconds) {
  return Record(minutes, [=](int t) {
    std::vector<std::string> lines;
    for (const char* instance : {"tm-1", "tm-2", "tm-3"}) {
      const std::string labels = StrCat("role=\"tm\",instance=\"", instance, "\"");
      lines.push_back(StrCat("verso_process_resident_memory_bytes{", labels, "} ",
                             memory * 8e9 * (instance[3] == '1' ? 1 : 0.5)));
      lines.push_back(StrCat("verso_memory_limit_bytes{", labels, "} 8e9"));
      const int n = t * 10;  // lookups so far
      for (const char* le : {"0.01", "0.05", "0.1", "+Inf"}) {
        const double bound = std::string(le) == "+Inf" ? 1e9 : std::stod(le);
        lines.push_back(StrCat("verso_http_request_duration_seconds_bucket{", labels,
                               ",route=\"/internal/tm/lookup\",le=\"", le, "\"} ",
                               seconds <= bound ? n : 0));
      }
    }
    return lines;
  });
}

TEST(AutoscaleTest, TmNodesScaleOnTheFullestNodesMemoryOrTheirP99Latency) {
  const ScaleDecision full = Role(Plan(Tm(3, 0.85, 0.005)), "tm");
  EXPECT_EQ(full.action, ScaleAction::kOut);
  EXPECT_EQ(full.current, 3);
  EXPECT_EQ(full.desired, 5);
  EXPECT_EQ(full.reason, "memory 85 % > 80 %");
  const ScaleDecision slow = Role(Plan(Tm(3, 0.6, 0.07)), "tm");
  EXPECT_EQ(slow.action, ScaleAction::kOut);
  EXPECT_EQ(slow.reason, "p99 lookup latency 100 ms > 50 ms");  // the bucket's upper bound
  const ScaleDecision fine = Role(Plan(Tm(3, 0.6, 0.005)), "tm");
  EXPECT_EQ(fine.action, ScaleAction::kHold);
  const ScaleDecision idle = Role(Plan(Tm(11, 0.4, 0.005), {{"tm", 5}}), "tm");
  EXPECT_EQ(idle.action, ScaleAction::kIn);
  EXPECT_EQ(idle.desired, 4);
}

TEST(AutoscaleTest, EditorsFollowThePostEditQueueAndQeItsP95) {
  auto deep = Plan(Record(1, [](int) {
    return std::vector<std::string>{"verso_queue_depth{queue=\"post_edit\"} 1500"};
  }));
  EXPECT_EQ(Role(deep, "editor").action, ScaleAction::kOut);
  EXPECT_EQ(Role(deep, "editor").desired, 3);
  auto shallow =
      Plan(Record(11,
                  [](int) {
                    return std::vector<std::string>{"verso_queue_depth{queue=\"post_edit\"} 50"};
                  }),
           {{"editor", 4}});
  EXPECT_EQ(Role(shallow, "editor").desired, 3);
  auto qe = Plan(Record(3, [](int t) {
    std::vector<std::string> lines;
    for (const char* le : {"0.05", "0.1", "0.25", "+Inf"}) {
      // 90 % of calls under 50 ms, the rest between 100 and 250 ms.
      const int n = t * 10;
      const int under = std::string(le) == "0.05" || std::string(le) == "0.1" ? n * 9 / 10 : n;
      lines.push_back(StrCat("verso_qe_duration_seconds_bucket{le=\"", le, "\"} ", under));
    }
    return lines;
  }));
  const ScaleDecision& q = Role(qe, "qe");
  EXPECT_EQ(q.action, ScaleAction::kOut);
  EXPECT_NEAR(*q.signal, 0.175, 1e-9);  // interpolated in (0.1, 0.25]
  // Roles without samples hold at their minimum.
  EXPECT_EQ(Role(qe, "api").action, ScaleAction::kHold);
  EXPECT_EQ(Role(qe, "api").desired, 3);
  EXPECT_EQ(Role(qe, "api").reason, "no samples for its signal");
}

TEST(AutoscaleTest, MalformedSamplesNameTheirLineAndColumn) {
  EXPECT_EQ(ParsePrometheusText("ok 1\nverso_x{a=\"b\" 1\n", kStart).status().message(),
            "metrics line 2, column 15: expected a label name or }");
  EXPECT_EQ(ParsePrometheusText("verso_x abc\n", kStart).status().message(),
            "metrics line 1, column 8: \"abc\" is not a number");
  EXPECT_EQ(ParsePrometheusText("verso_x 1 soon\n", kStart).status().message(),
            "metrics line 1, column 8: \"soon\" is not a timestamp in ms");
  EXPECT_EQ(ParsePrometheusText("{a=\"b\"} 1\n", kStart).status().message(),
            "metrics line 1, column 1: expected a metric name");
  // What FormatPrometheusText writes reads back the same.
  auto samples = ParsePrometheusText("a{x=\"q\\\"uote\"} 1.5 1000\nb +Inf 2000\n", kStart);
  ASSERT_TRUE(samples.ok());
  auto again = ParsePrometheusText(FormatPrometheusText(*samples), kStart);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 2u);
  EXPECT_EQ((*again)[0].labels.at("x"), "q\"uote");
  EXPECT_EQ((*again)[0].value, 1.5);
  EXPECT_EQ((*again)[1].time, absl::FromUnixMillis(2000));
}

}  // namespace
}  // namespace verso::ops
