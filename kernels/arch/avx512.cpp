// The AVX-512 target (F, BW, DQ, VL and VNNI). Compiled with this target's
// flags and only called after a run-time check.
#include "kernels/arch/x86_256.hpp"

namespace ullm::kernels::simd {
namespace {

inline __m256i u8s8_vnni(__m256i acc, __m256i u, __m256i s) {
  return _mm256_dpbusd_epi32(acc, u, s);
}

}  // namespace

template <>
struct TargetOps<xsimd::avx512bw> {
  static xsimd::batch<float, xsimd::avx512bw> load_f16(const uint16_t* p) {
    // The zero-masking form: GCC 12 warns falsely about the plain one.
    return _mm512_maskz_cvtph_ps(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static xsimd::batch<float, xsimd::avx512bw> fma(xsimd::batch<float, xsimd::avx512bw> a,
                                                  xsimd::batch<float, xsimd::avx512bw> b,
                                                  xsimd::batch<float, xsimd::avx512bw> c) {
    return _mm512_fmadd_ps(a, b, c);
  }
  static void store_f16(uint16_t* p, xsimd::batch<float, xsimd::avx512bw> v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                        _mm512_maskz_cvtps_ph(0xffff, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};

template <>
const KernelTable& TargetTable::operator()(xsimd::avx512bw) const {
  static const KernelTable table = [] {
    KernelTable t = TableBuilder{}(xsimd::avx512bw{}, "avx512");
    set_block_kernels<u8s8_vnni>(t);
    return t;
  }();
  return table;
}

}  // namespace ullm::kernels::simd
