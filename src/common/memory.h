// Memory placement for large, long-lived, randomly read tables (the TM index).
#ifndef VERSO_COMMON_MEMORY_H_
#define VERSO_COMMON_MEMORY_H_

#include <cstddef>

namespace verso {

// Asks the kernel to back the whole 2 MiB pages inside [data, data + bytes) with transparent
// huge pages, now (MADV_HUGEPAGE, then MADV_COLLAPSE, Linux 6.1+): one TLB entry then covers
// 512 pages, which makes random reads over hundreds of megabytes markedly cheaper. Meant for
// tables whose every page is in use (a collapse fills a huge page's untouched small pages).
// Returns the bytes collapsed; 0 when the range holds no whole huge page, or the kernel could
// not collapse all of it (no huge page free, THP off, a kernel before 6.1: the kernel does not
// say how much it did). The memory works as before either way.
size_t AdviseHugePages(const void* data, size_t bytes);

}  // namespace verso

#endif  // VERSO_COMMON_MEMORY_H_
