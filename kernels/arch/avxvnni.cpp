// The AVX2 target with AVX-VNNI (Intel since Alder Lake, AMD since Zen 5),
// for CPUs that have it without AVX-512: its unscaled integer dot products
// are VNNI's vpdpbusd in the 256-bit VEX form (see x86_panel.hpp for what
// keeps maddubs). The float kernels are the
// avx2 target's. Compiled with this target's flags and only called after a
// run-time check.
#include "kernels/arch/x86_256.hpp"

namespace ullm::kernels::simd {

template <>
const KernelTable& TargetTable::operator()(AvxVnni) const {
  static const KernelTable table = [] {
    KernelTable t = TargetTable{}(xsimd::fma3<xsimd::avx2>{});
    t.name = "avxvnni";
    set_block_kernels<u8s8_vnni>(t);
    return t;
  }();
  return table;
}

}  // namespace ullm::kernels::simd
