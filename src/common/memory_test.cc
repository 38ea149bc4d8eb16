#include "common/memory.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace verso {
namespace {

constexpr size_t kHuge = size_t{2} << 20;

// AnonHugePages (kB) of the mapping that starts at `start`, from /proc/self/smaps.
long AnonHugeKb(const void* start) {
  char prefix[32];
  std::snprintf(prefix, sizeof(prefix), "%lx-", reinterpret_cast<unsigned long>(start));
  std::ifstream smaps("/proc/self/smaps");
  bool in = false;
  for (std::string line; std::getline(smaps, line);) {
    if (line.rfind(prefix, 0) == 0) {
      in = true;
    } else if (in && line.rfind("AnonHugePages:", 0) == 0) {
      return std::stol(line.substr(14));
    }
  }
  return -1;
}

TEST(MemoryTest, OnlyWholeHugePagesInsideTheRangeAreAdvisedAndTheDataStays) {
  // Three huge pages' worth, aligned: the range [1 MiB, 5 MiB + 1) holds exactly one whole one.
  const size_t size = 3 * kHuge;
  void* raw =
      ::mmap(nullptr, size + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(raw, MAP_FAILED);
  auto* base = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(raw) + kHuge - 1) &
                                       ~uintptr_t{kHuge - 1});
  for (size_t i = 0; i < size; ++i) base[i] = static_cast<char>(i * 7 + i / 4096);

  EXPECT_EQ(AdviseHugePages(nullptr, size), 0u);
  EXPECT_EQ(AdviseHugePages(base + 1, kHuge), 0u);  // no whole huge page inside
  const size_t got = AdviseHugePages(base + (1 << 20), 2 * kHuge + 1);
  // Either the kernel collapsed exactly the one whole page inside, or it could not (no THP).
  EXPECT_TRUE(got == 0 || got == kHuge) << got;
  if (got == kHuge) {
    // madvise split the mapping at the advised page: it is a mapping of its own, huge.
    EXPECT_EQ(AnonHugeKb(base + kHuge), static_cast<long>(kHuge >> 10));
  }
  for (size_t i = 0; i < size; ++i) {
    ASSERT_EQ(base[i], static_cast<char>(i * 7 + i / 4096)) << "byte " << i;
  }
  ::munmap(raw, size + kHuge);
}

}  // namespace
}  // namespace verso
