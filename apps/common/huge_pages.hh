// Transparent huge pages for a large array the stack hands out before it
// touches it (tw::AdviseLarge: the TIME_WAIT table's entries and index). At
// 10 M entries those are hundreds of MB, and with 4 KiB pages every random
// lookup also walks the page table. Only the 2 MiB-aligned interior is
// advised; where the kernel has THP off ("never"), madvise fails and the
// memory keeps 4 KiB pages, which changes nothing else. Memory never
// touched stays unbacked either way.
#pragma once

#include <cstddef>
#include <cstdint>

#include <sys/mman.h>

namespace twstack::app {

inline void advise_huge_pages(void* p, std::size_t bytes) {
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t lo = (a + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t hi = (a + bytes) & ~(kHuge - 1);
  if (hi > lo) (void)::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
}

}  // namespace twstack::app
