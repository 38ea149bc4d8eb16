// The durable task queue's throughput on either backend: N tasks queued (in batches of 1,000 per
// transaction), then W worker threads lease and finish them until none is left, as the job
// workers do (LeaseTask, then Apply with finish_task): W is how many worker threads there are
// across processes (one process here, so PostgreSQL groups their leases as one process's workers
// would be grouped). Prints tasks/s for both phases and the lease latency percentiles.
//   queue_bench URL TASKS WORKERS [TENANTS]
// URL: sqlite:PATH or postgresql://... (an empty, migrated database).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "storage/storage.h"

using namespace verso::storage;

namespace {

absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& url) {
  if (url.rfind("sqlite:", 0) == 0) {
    SqliteOptions options;
    options.synchronous_full = true;
    return OpenSqlite(url.substr(7), options);
  }
  PostgresOptions options;
  options.migrate = true;
  options.listen = false;
  options.connections = 32;
  return OpenPostgres(url, options);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: queue_bench URL TASKS WORKERS [TENANTS]\n");
    return 2;
  }
  const std::string url = argv[1];
  const int tasks = std::atoi(argv[2]);
  const int workers = std::atoi(argv[3]);
  const int tenants = argc > 4 ? std::atoi(argv[4]) : 4;
  auto db = Open(url);
  if (!db.ok()) {
    std::fprintf(stderr, "queue_bench: %s\n", std::string(db.status().message()).c_str());
    return 1;
  }
  JobRepository& jobs = (*db)->jobs();
  const absl::Time now = absl::Now();

  // One job per tenant; the tasks spread over them.
  auto start = std::chrono::steady_clock::now();
  JobChange setup;
  for (int t = 0; t < tenants; ++t) {
    JobRecord j;
    j.id = "job_bench_" + std::to_string(t);
    j.tenant = "tenant" + std::to_string(t);
    j.source_lang = "en";
    j.target_langs = {"es"};
    j.format = "segments";
    j.created_at = j.updated_at = now;
    setup.jobs.push_back(j);
  }
  if (auto s = jobs.Apply(setup); !s.ok()) {
    std::fprintf(stderr, "queue_bench: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  for (int done = 0; done < tasks;) {
    JobChange batch;
    for (int i = 0; i < 1000 && done < tasks; ++i, ++done) {
      TaskRecord t;
      t.job_id = "job_bench_" + std::to_string(done % tenants);
      t.kind = TaskKind::kMt;
      t.target_lang = "es";
      t.run_after = now;
      t.created_at = now;
      batch.enqueue.push_back(t);
    }
    if (auto s = jobs.Apply(batch); !s.ok()) {
      std::fprintf(stderr, "queue_bench: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  const double enqueue_s = Seconds(start);

  std::atomic<int> finished{0}, failed{0};
  std::vector<std::vector<double>> lease_us(workers);
  start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      const std::string owner = "bench-" + std::to_string(w);
      while (true) {
        auto t0 = std::chrono::steady_clock::now();
        const absl::Time at = absl::Now();
        auto task = jobs.LeaseTask(owner, at, at + absl::Minutes(5));
        lease_us[w].push_back(Seconds(t0) * 1e6);
        if (absl::IsNotFound(task.status())) return;
        if (!task.ok()) {
          ++failed;
          continue;
        }
        JobChange done;
        done.finish_task = task->id;
        done.finish_owner = owner;
        if (jobs.Apply(done).ok()) {
          ++finished;
        } else {
          ++failed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double run_s = Seconds(start);
  std::vector<double> all;
  for (auto& v : lease_us) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[static_cast<size_t>(p * (all.size() - 1))];
  };
  std::printf(
      "%-10s tasks=%d workers=%d tenants=%d  enqueue %.0f tasks/s  lease+finish %.0f tasks/s  "
      "lease p50 %.0f us p99 %.0f us  finished=%d failed=%d\n",
      url.rfind("sqlite:", 0) == 0 ? "sqlite" : "postgresql", tasks, workers, tenants,
      tasks / enqueue_s, finished.load() / run_s, pct(0.5), pct(0.99), finished.load(),
      failed.load());
  return finished.load() == tasks ? 0 : 1;
}
