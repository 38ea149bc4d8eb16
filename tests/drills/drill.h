// What every drill shares: its size from the environment (`make drills` sets bigger ones) and
// durations in seconds for its printed figures.
#ifndef VERSO_TESTS_DRILLS_DRILL_H_
#define VERSO_TESTS_DRILLS_DRILL_H_

#include <chrono>
#include <cstdlib>

namespace verso::test {

using Clock = std::chrono::steady_clock;

// $name as an integer, or `fallback` when it is not set.
inline int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::atoi(v);
}

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace verso::test

#endif  // VERSO_TESTS_DRILLS_DRILL_H_
