#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "ops/ops.h"

namespace verso::ops {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, RendersPrometheusTextFormat) {
  Registry r;
  r.GetCounter("http_requests_total", "Requests.", {"route", "status"}, {"/v1/tm", "200"})->Inc(3);
  r.GetCounter("http_requests_total", "Requests.", {"route", "status"}, {"/v1/tm", "404"})->Inc();
  Histogram* h = r.GetHistogram("lat_seconds", "Latency.", {}, {}, {0.1, 1});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(7);
  r.AddGauge("index_segments", "Segments.", {"store"}, [] {
    return Registry::GaugeSeries{{{"tm_a"}, 12}, {{"tm \"b\""}, 3}};
  });
  std::string text = r.Render();
  EXPECT_THAT(
      text,
      HasSubstr("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n"));
  EXPECT_THAT(text, HasSubstr("http_requests_total{route=\"/v1/tm\",status=\"200\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("http_requests_total{route=\"/v1/tm\",status=\"404\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("# TYPE lat_seconds histogram\nlat_seconds_bucket{le=\"0.10000000000000001\"} 1\n"
                "lat_seconds_bucket{le=\"1\"} 2\nlat_seconds_bucket{le=\"+Inf\"} 3\n"
                "lat_seconds_sum 7.5499999999999998\nlat_seconds_count 3\n"));
  EXPECT_THAT(
      text,
      HasSubstr("index_segments{store=\"tm_a\"} 12\nindex_segments{store=\"tm \\\"b\\\"\"} 3\n"));
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  Counter* c = r.GetCounter("c", "C.", {}, {});
  Histogram* h = r.GetHistogram("h", "H.", {}, {});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c->Inc();
        h->Observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->value(), 40000u);
  EXPECT_EQ(h->count(), 40000u);
  EXPECT_EQ(r.GetCounter("c", "C.", {}, {}), c);  // the same series
}

}  // namespace
}  // namespace verso::ops
