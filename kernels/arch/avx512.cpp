// The AVX-512 target (F, BW, DQ, VL and VNNI). Compiled with this target's
// flags and only called after a run-time check.
#include "kernels/arch/x86_256.hpp"

namespace ullm::kernels::simd {

template <>
struct TargetOps<xsimd::avx512bw> {
  static xsimd::batch<float, xsimd::avx512bw> load_f16(const uint16_t* p) {
    // The zero-masking form: GCC 12 warns falsely about the plain one.
    return _mm512_maskz_cvtph_ps(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static xsimd::batch<float, xsimd::avx512bw> load_bf16(const uint16_t* p) {
    // The zero-masking forms: GCC 12 warns falsely about the plain ones.
    const __m512i wide = _mm512_maskz_cvtepu16_epi32(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xffff, wide, 16));
  }
  static xsimd::batch<float, xsimd::avx512bw> load_i8(const int8_t* p) {
    // The zero-masking forms: GCC 12 warns falsely about the plain ones.
    const __m512i wide = _mm512_maskz_cvtepi8_epi32(0xffff, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm512_maskz_cvtepi32_ps(0xffff, wide);
  }
  static xsimd::batch<float, xsimd::avx512bw> fma(xsimd::batch<float, xsimd::avx512bw> a,
                                                  xsimd::batch<float, xsimd::avx512bw> b,
                                                  xsimd::batch<float, xsimd::avx512bw> c) {
    return _mm512_fmadd_ps(a, b, c);
  }
  static xsimd::batch<float, xsimd::avx512bw> round_f16(xsimd::batch<float, xsimd::avx512bw> v) {
    return _mm512_maskz_cvtph_ps(0xffff,
                                 _mm512_maskz_cvtps_ph(0xffff, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  // Halves added: the masked extracts, as GCC 12 warns falsely about casts and plain extracts.
  static __m256 fold_halves(__m512 a) {
    return _mm256_add_ps(_mm512_maskz_extractf32x8_ps(0xff, a, 1), _mm512_maskz_extractf32x8_ps(0xff, a, 0));
  }
  static float reduce_16(const xsimd::batch<float, xsimd::avx512bw> (&v)[1]) { return reduce_8_128(fold_halves(v[0])); }
  static void reduce_16_x4(const xsimd::batch<float, xsimd::avx512bw> (&v)[4][1], float* out) {
    reduce_8_128_x4(fold_halves(v[0][0]), fold_halves(v[1][0]), fold_halves(v[2][0]), fold_halves(v[3][0]), out);
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
