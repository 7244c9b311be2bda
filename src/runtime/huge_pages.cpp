#include "runtime/huge_pages.hpp"

#include <sys/mman.h>

namespace ullm {

HugePageBuffer huge_page_buffer(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t size = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = std::aligned_alloc(kHuge, size);
  if (p != nullptr) ::madvise(p, size, MADV_HUGEPAGE);
  return HugePageBuffer(static_cast<std::byte*>(p));
}

}  // namespace ullm
