// Memory placement for large, long-lived, randomly read tables (the TM index).
#ifndef VERSO_COMMON_MEMORY_H_
#define VERSO_COMMON_MEMORY_H_

#include <cstddef>

namespace verso {

// Asks the kernel to back the whole 2 MiB pages inside [data, data + bytes) with transparent
// huge pages, now (MADV_HUGEPAGE, then MADV_COLLAPSE, Linux 6.1+): one TLB entry then covers
// 512 pages, which makes random reads over hundreds of megabytes markedly cheaper. Only pages
// already in use are collapsed, so resident memory does not grow. Returns the bytes collapsed;
// 0 when the range holds no whole huge page, or the kernel has none to give or does not know
// the advice (nothing changes then: the memory works as before).
size_t AdviseHugePages(const void* data, size_t bytes);

}  // namespace verso

#endif  // VERSO_COMMON_MEMORY_H_
