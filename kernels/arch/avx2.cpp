// The AVX2 + FMA + F16C target. Compiled with this target's flags and only
// called after a run-time check.
#include "kernels/arch/x86_256.hpp"

namespace ullm::kernels::simd {

using Avx2 = xsimd::fma3<xsimd::avx2>;

template <>
struct TargetOps<Avx2> {
  static xsimd::batch<float, Avx2> load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static xsimd::batch<float, Avx2> load_bf16(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static xsimd::batch<float, Avx2> load_i8(const int8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static xsimd::batch<float, Avx2> fma(xsimd::batch<float, Avx2> a, xsimd::batch<float, Avx2> b,
                                       xsimd::batch<float, Avx2> c) {
    return xsimd::fma(a, b, c);
  }
  static xsimd::batch<float, Avx2> round_f16(xsimd::batch<float, Avx2> v) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  static float reduce_16(const xsimd::batch<float, Avx2> (&v)[2]) { return reduce_8_128(_mm256_add_ps(v[1], v[0])); }
  static void reduce_16_x4(const xsimd::batch<float, Avx2> (&v)[4][2], float* out) {
    reduce_8_128_x4(_mm256_add_ps(v[0][1], v[0][0]), _mm256_add_ps(v[1][1], v[1][0]), _mm256_add_ps(v[2][1], v[2][0]),
                    _mm256_add_ps(v[3][1], v[3][0]), out);
  }
  static void store_f16(uint16_t* p, xsimd::batch<float, Avx2> v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
};

template <>
const KernelTable& TargetTable::operator()(Avx2) const {
  static const KernelTable table = [] {
    KernelTable t = TableBuilder{}(Avx2{}, "avx2");
    set_block_kernels<u8s8_maddubs>(t);
    return t;
  }();
  return table;
}

}  // namespace ullm::kernels::simd
