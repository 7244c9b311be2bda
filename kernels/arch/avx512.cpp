// The AVX-512 target (F, BW, DQ, VL and VNNI). Compiled with this target's
// flags and only called after a run-time check.
#include "kernels/arch/avx512_q8_0_panel.hpp"
#include "kernels/arch/x86_256.hpp"

namespace ullm::kernels::simd {
namespace {

inline __m256i u8s8_vnni(__m256i acc, __m256i u, __m256i s) {
  return _mm256_dpbusd_epi32(acc, u, s);
}

// Q8_0 weights with VNNI, without the sign trick: sum w x is
// sum w (x + 128) - 128 sum w, exactly (x + 128 fits a byte as x stays in
// [-127, 127]; no sum overflows). x + 128 is made once per activation block,
// -128 sum w once per weight block, so each row and token costs one VNNI
// instruction instead of a sign fix-up and one (maddubs would saturate here).
// For one token the -128 sum w is not shared (measured -15 % in L2 against
// the sign trick), so one token takes Q8_0VnniOneToken below.
struct Q8_0Vnni {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr bool kOffset = false;
  struct Values {
    __m256i w, minus_128_sum_w;
  };
  static __m256i per_token(__m256i x) { return _mm256_xor_si256(x, _mm256_set1_epi8(static_cast<char>(0x80))); }
  static Values values(const Block& b) {
    const __m256i w = load_256(b.qs);
    const __m256i zero = _mm256_setzero_si256();
    const __m256i sum = _mm256_dpbusd_epi32(zero, _mm256_set1_epi8(static_cast<char>(0x80)), w);
    return {w, _mm256_sub_epi32(zero, sum)};
  }
  static __m256i lanes(const Values& v, __m256i, __m256i x_plus_128) {
    return _mm256_dpbusd_epi32(v.minus_128_sum_w, x_plus_128, v.w);
  }
};

// One token: the other way round, sum (w + 128) x - 128 sum x, the lanes'
// -128 sum x made once per activation block and shared by a tile's rows, so
// each row costs one XOR and one VNNI instruction (the sign trick: two sign
// operations and one).
struct Q8_0VnniOneToken {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr bool kOffset = false;
  using Values = __m256i;
  static __m256i per_token(__m256i x) {
    const __m256i zero = _mm256_setzero_si256();
    return _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, _mm256_set1_epi8(static_cast<char>(0x80)), x));
  }
  static Values values(const Block& b) {
    return _mm256_xor_si256(load_256(b.qs), _mm256_set1_epi8(static_cast<char>(0x80)));
  }
  static __m256i lanes(const Values& w_plus_128, __m256i x, __m256i minus_128_sum_x) {
    return _mm256_dpbusd_epi32(minus_128_sum_x, w_plus_128, x);
  }
};

void dot_tile_q8_0_vnni(int64_t n, const std::byte* w, size_t w_stride, const std::byte* x, size_t x_stride, int tokens,
                        float* out, int64_t out_stride) {
  if (tokens == 1) return dot_tile_256<Q8_0VnniOneToken>(n, w, w_stride, x, x_stride, 1, out, out_stride);
  dot_tile_256<Q8_0Vnni>(n, w, w_stride, x, x_stride, tokens, out, out_stride);
}

}  // namespace

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
    TypeKernels& q8_0 = *t.find(DType::Q8_0);
    q8_0.dot_tile = dot_tile_q8_0_vnni;
    q8_0.panel = q8_0_panel_kernel();
    return t;
  }();
  return table;
}

}  // namespace ullm::kernels::simd
