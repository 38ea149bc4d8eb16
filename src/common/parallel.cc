#include "common/parallel.h"

#include <algorithm>
#include <thread>
#include <vector>

namespace verso {

void ParallelFor(size_t n, int threads, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  size_t t = threads > 0 ? static_cast<size_t>(threads)
                         : std::max<size_t>(1, std::thread::hardware_concurrency());
  t = std::min(t, n);
  if (t == 1) {
    fn(0, n);
    return;
  }
  std::vector<std::thread> workers;
  size_t chunk = (n + t - 1) / t;
  for (size_t i = 1; i < t; ++i) {
    size_t begin = i * chunk, end = std::min(n, begin + chunk);
    if (begin < end) workers.emplace_back([&fn, begin, end] { fn(begin, end); });
  }
  fn(0, std::min(n, chunk));
  for (auto& w : workers) w.join();
}

}  // namespace verso
