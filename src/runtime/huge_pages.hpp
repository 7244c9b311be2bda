// Memory for weights streamed every token: 2 MiB-aligned, in 2 MiB pages
// where the kernel grants them (transparent huge pages on request), since
// streaming hundreds of MiB per token through 4 KiB pages misses the TLB
// every 4 KiB.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace ullm {

struct FreeHugePages {
  void operator()(std::byte* p) const { std::free(p); }
};
using HugePageBuffer = std::unique_ptr<std::byte, FreeHugePages>;

// `bytes` (rounded up to whole 2 MiB pages), or null if the memory is not there.
HugePageBuffer huge_page_buffer(size_t bytes);

}  // namespace ullm
