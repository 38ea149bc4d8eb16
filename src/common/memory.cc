#include "common/memory.h"

#include <sys/mman.h>

#include <cstdint>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1; older C library headers do not name it
#endif

namespace verso {

size_t AdviseHugePages(const void* data, size_t bytes) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (data == nullptr || end <= begin) return 0;
  void* start = reinterpret_cast<void*>(begin);
  const size_t length = end - begin;
  if (::madvise(start, length, MADV_HUGEPAGE) != 0) return 0;
  return ::madvise(start, length, MADV_COLLAPSE) == 0 ? length : 0;
}

}  // namespace verso
