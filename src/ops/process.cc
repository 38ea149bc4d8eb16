// The process's own resources as gauges: what autoscaling reads (the spec's "CPU > 70 %",
// "memory > 80 %"), with the limits the container runs under (cgroup v2), else the machine's.
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "ops/ops.h"

namespace verso::ops {
namespace {

// The first line of a file ("" when unreadable).
std::string FirstLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

double CpuSeconds() {
  // /proc/self/stat: fields 14 and 15 are utime and stime in clock ticks; field 2, the command,
  // is in parentheses and may hold spaces.
  const std::string stat = FirstLine("/proc/self/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double ResidentBytes() {
  std::istringstream in(FirstLine("/proc/self/statm"));
  double pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

// cgroup v2 memory.max, else the machine's memory.
double MemoryLimit() {
  const std::string max = FirstLine("/sys/fs/cgroup/memory.max");
  if (!max.empty() && max != "max") return std::stod(max);
  return static_cast<double>(::sysconf(_SC_PHYS_PAGES)) *
         static_cast<double>(::sysconf(_SC_PAGESIZE));
}

// cgroup v2 cpu.max ("QUOTA PERIOD"), else the cores.
double CpuLimit() {
  std::istringstream in(FirstLine("/sys/fs/cgroup/cpu.max"));
  std::string quota;
  double period = 0;
  if (in >> quota >> period && quota != "max" && period > 0) return std::stod(quota) / period;
  return static_cast<double>(std::thread::hardware_concurrency());
}

}  // namespace

void AddProcessMetrics(Registry* r) {
  r->AddGauge("verso_process_cpu_seconds", "CPU time this process has used (user + system).", {},
              [] {
                return Registry::GaugeSeries{{{}, CpuSeconds()}};
              });
  r->AddGauge("verso_cpu_limit_cores", "Cores this process may use (cgroup cpu.max, else all).", {},
              [] {
                return Registry::GaugeSeries{{{}, CpuLimit()}};
              });
  r->AddGauge("verso_process_resident_memory_bytes", "Resident memory of this process.", {}, [] {
    return Registry::GaugeSeries{{{}, ResidentBytes()}};
  });
  r->AddGauge("verso_memory_limit_bytes",
              "Memory this process may use (cgroup memory.max, else the machine's).", {}, [] {
                return Registry::GaugeSeries{{{}, MemoryLimit()}};
              });
}

}  // namespace verso::ops
