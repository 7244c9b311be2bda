// The SSE4.2 target. These CPUs have no fused multiply-add, so sums round
// once more per step than the scalar reference: results agree with it to a
// few units in the last place rather than bit for bit.
#include <immintrin.h>

#include "kernels/simd/dot_simd.hpp"
#include "kernels/simd/k_quant_128.hpp"

namespace ullm::kernels::simd {
namespace {

// Four int32 lanes of four adjacent int8 products, for 16 bytes.
inline __m128i lanes_128(__m128i w, __m128i x) {
  const __m128i pairs = _mm_maddubs_epi16(_mm_sign_epi8(w, w), _mm_sign_epi8(x, w));
  return _mm_madd_epi16(pairs, _mm_set1_epi16(1));
}

inline __m128i load_128(const void* p) {
  return _mm_loadu_si128(static_cast<const __m128i*>(p));
}

// 0x10 in each byte where `top` has that byte's bit of `bits` (a fifth bit).
inline __m128i fifth_bits(__m128i top, __m128i bits) {
  return _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(top, bits), bits), _mm_set1_epi8(0x10));
}

// The 16-byte operations of k_quant_128.hpp. SSE shifts 16-bit lanes: a
// mask keeps each byte's own bits.
struct Bytes128 {
  static __m128i load(const uint8_t* p) { return load_128(p); }
  static __m128i mask(__m128i v, uint8_t m) { return _mm_and_si128(v, _mm_set1_epi8(static_cast<char>(m))); }
  static __m128i or_(__m128i a, __m128i b) { return _mm_or_si128(a, b); }
  template <int N>
  static __m128i shr(__m128i v) {
    return mask(_mm_srli_epi16(v, N), static_cast<uint8_t>(0xff >> N));
  }
  template <int N>
  static __m128i shl(__m128i v) {
    return mask(_mm_slli_epi16(v, N), static_cast<uint8_t>(0xff << N));
  }
  static __m128i fifth_bit(__m128i top, uint8_t bit) { return fifth_bits(top, _mm_set1_epi8(static_cast<char>(bit))); }
  // maddubs' unsigned operand: the values (below 64, so pairs stay below 2^15).
  static __m128i dot(__m128i values, const int8_t* x) {
    return _mm_madd_epi16(_mm_maddubs_epi16(values, load_128(x)), _mm_set1_epi16(1));
  }
  static __m128i add(__m128i a, __m128i b) { return _mm_add_epi32(a, b); }
  static __m128i zero() { return _mm_setzero_si128(); }
  static int32_t sum(__m128i v) {
    const __m128i pairs = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtsi128_si32(_mm_add_epi32(pairs, _mm_shuffle_epi32(pairs, _MM_SHUFFLE(2, 3, 0, 1))));
  }
};

// The order of Q8_0, Q4_0 and Q5_0: each block's dot product whole, then
// its scaled sum (a product and a sum: no fused multiply-add here).
// values(block, lo, hi) gives a block's 32 signed values as two halves.
template <class Block, class Values>
float dot_whole_blocks_sse4(int64_t n, const std::byte* wp, const std::byte* xp, const Values& values) {
  const auto* w = reinterpret_cast<const Block*>(wp);
  const auto* x = reinterpret_cast<const BlockQ8_0*>(xp);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    __m128i w_lo, w_hi;
    values(w[b], w_lo, w_hi);
    const int32_t sum =
        Bytes128::sum(_mm_add_epi32(lanes_128(w_lo, load_128(x[b].qs)), lanes_128(w_hi, load_128(x[b].qs + 16))));
    acc += static_cast<float>(sum) * (f16_to_f32(w[b].d) * f16_to_f32(x[b].d));
  }
  return acc;
}

float dot_q8_0_sse4(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_whole_blocks_sse4<BlockQ8_0>(n, w, x, [](const BlockQ8_0& b, __m128i& lo, __m128i& hi) {
    lo = load_128(b.qs);
    hi = load_128(b.qs + 16);
  });
}

float dot_q4_0_sse4(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_whole_blocks_sse4<BlockQ4_0>(n, w, x, [](const BlockQ4_0& b, __m128i& lo, __m128i& hi) {
    const __m128i q = load_128(b.qs), eight = _mm_set1_epi8(8);
    lo = _mm_sub_epi8(Bytes128::mask(q, 0x0f), eight);
    hi = _mm_sub_epi8(Bytes128::shr<4>(q), eight);
  });
}

// Q5_0: the fifth bit of value i is bit i of qh.
float dot_q5_0_sse4(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_whole_blocks_sse4<BlockQ5_0>(n, w, x, [](const BlockQ5_0& b, __m128i& lo, __m128i& hi) {
    int32_t qh;
    std::memcpy(&qh, b.qh, 4);
    // Values 0-15 take qh bytes 0-1, values 16-31 bytes 2-3: each byte's
    // qh byte spread over eight, its bit picked.
    const __m128i top = _mm_cvtsi32_si128(qh);
    const __m128i bit_of_byte = _mm_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
    const auto value = [&](__m128i nibbles, int first_qh_byte) {
      const __m128i spread = _mm_shuffle_epi8(
          top, _mm_set_epi64x(0x0101010101010101ll * (first_qh_byte + 1), 0x0101010101010101ll * first_qh_byte));
      return _mm_sub_epi8(_mm_or_si128(nibbles, fifth_bits(spread, bit_of_byte)), _mm_set1_epi8(16));
    };
    const __m128i q = load_128(b.qs);
    lo = value(Bytes128::mask(q, 0x0f), 0);
    hi = value(Bytes128::shr<4>(q), 2);
  });
}

// No F16C here: the scalar conversions' cases side by side, in integers
// where they work in integers. Halves in the low 16 bits of 32-bit lanes.
// f16_to_f32: normal halves rebias their exponent by an add; subnormals
// scale their mantissa by 2^-24, a normal float product (a caller's
// flush-to-zero modes cannot touch it); infinities and (quiet) NaNs take the
// top exponent.
__m128 floats_from_halves(__m128i h) {
  const __m128i magnitude = _mm_and_si128(h, _mm_set1_epi32(0x7fff));
  const __m128i sign = _mm_slli_epi32(_mm_xor_si128(h, magnitude), 16);
  const __m128i shifted = _mm_slli_epi32(magnitude, 13);
  const __m128i normal = _mm_add_epi32(shifted, _mm_set1_epi32(112 << 23));
  const __m128i subnormal = _mm_castps_si128(_mm_mul_ps(_mm_cvtepi32_ps(magnitude), _mm_set1_ps(0x1p-24f)));
  const __m128i quiet = _mm_and_si128(_mm_cmpgt_epi32(magnitude, _mm_set1_epi32(0x7c00)), _mm_set1_epi32(0x400000));
  const __m128i inf_or_nan = _mm_or_si128(_mm_or_si128(shifted, _mm_set1_epi32(0x7f800000)), quiet);
  __m128i bits = _mm_blendv_epi8(normal, subnormal, _mm_cmplt_epi32(magnitude, _mm_set1_epi32(0x400)));
  bits = _mm_blendv_epi8(bits, inf_or_nan, _mm_cmpgt_epi32(magnitude, _mm_set1_epi32(0x7bff)));
  return _mm_castsi128_ps(_mm_or_si128(bits, sign));
}

// f32_to_f16, rounding to nearest even: normal results drop 13 mantissa bits
// with the carry of 0xfff plus the kept bit 0; subnormal ones are the low
// bits of |x| + 0.5 (whose ulp is the subnormal half's, the FPU rounding);
// infinities, and NaNs with their top payload bits made quiet.
__m128i halves_from_floats(__m128 v) {
  const __m128i x = _mm_castps_si128(v);
  const __m128i a = _mm_and_si128(x, _mm_set1_epi32(0x7fffffff));
  const __m128i sign = _mm_and_si128(_mm_srli_epi32(x, 16), _mm_set1_epi32(0x8000));
  const __m128i kept_bit0 = _mm_and_si128(_mm_srli_epi32(a, 13), _mm_set1_epi32(1));
  const __m128i normal = _mm_sub_epi32(
      _mm_srli_epi32(_mm_add_epi32(_mm_add_epi32(a, _mm_set1_epi32(0xfff)), kept_bit0), 13), _mm_set1_epi32(112 << 10));
  const __m128i subnormal =
      _mm_sub_epi32(_mm_castps_si128(_mm_add_ps(_mm_castsi128_ps(a), _mm_set1_ps(0.5f))), _mm_set1_epi32(0x3f000000));
  const __m128i nan = _mm_or_si128(_mm_and_si128(_mm_srli_epi32(a, 13), _mm_set1_epi32(0x3ff)), _mm_set1_epi32(0x7e00));
  __m128i r = _mm_blendv_epi8(normal, subnormal, _mm_cmplt_epi32(a, _mm_set1_epi32(0x38800000)));
  r = _mm_blendv_epi8(r, _mm_set1_epi32(0x7c00), _mm_cmpgt_epi32(a, _mm_set1_epi32(0x477fffff)));
  r = _mm_blendv_epi8(r, nan, _mm_cmpgt_epi32(a, _mm_set1_epi32(0x7f800000)));
  return _mm_or_si128(r, sign);
}

}  // namespace

template <>
struct TargetOps<xsimd::sse4_2> {
  static xsimd::batch<float, xsimd::sse4_2> load_f16(const uint16_t* p) {
    return floats_from_halves(_mm_cvtepu16_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static xsimd::batch<float, xsimd::sse4_2> load_bf16(const uint16_t* p) {
    const __m128i wide = _mm_cvtepu16_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    return _mm_castsi128_ps(_mm_slli_epi32(wide, 16));
  }
  static xsimd::batch<float, xsimd::sse4_2> load_i8(const int8_t* p) {
    int32_t four;
    std::memcpy(&four, p, 4);
    return _mm_cvtepi32_ps(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(four)));
  }
  // No fused multiply-add on SSE4.2: a product rounded, then a sum.
  static xsimd::batch<float, xsimd::sse4_2> fma(xsimd::batch<float, xsimd::sse4_2> a,
                                                xsimd::batch<float, xsimd::sse4_2> b,
                                                xsimd::batch<float, xsimd::sse4_2> c) {
    return xsimd::fma(a, b, c);
  }
  static xsimd::batch<float, xsimd::sse4_2> round_f16(xsimd::batch<float, xsimd::sse4_2> v) {
    return floats_from_halves(halves_from_floats(v));
  }
  static float reduce_16(const xsimd::batch<float, xsimd::sse4_2> (&v)[4]) {
    alignas(16) float lanes[16];
    for (int b = 0; b < 4; ++b) v[b].store_aligned(lanes + 4 * b);
    return simd::reduce_16(lanes);
  }
  static void reduce_16_x4(const xsimd::batch<float, xsimd::sse4_2> (&v)[4][4], float* out) {
    for (int i = 0; i < 4; ++i) out[i] = reduce_16(v[i]);
  }
  static void store_f16(uint16_t* p, xsimd::batch<float, xsimd::sse4_2> v) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi32(halves_from_floats(v), _mm_setzero_si128()));
  }
};

template <>
const KernelTable& TargetTable::operator()(xsimd::sse4_2) const {
  static const KernelTable table = [] {
    KernelTable t = TableBuilder{}(xsimd::sse4_2{}, "sse4");
    TypeKernels& q8_0 = *t.find(DType::Q8_0);
    q8_0.dot = q8_0.dot_tiled = dot_q8_0_sse4;
    TypeKernels& q4_0 = *t.find(DType::Q4_0);
    q4_0.dot = q4_0.dot_tiled = dot_q4_0_sse4;
    TypeKernels& q5_0 = *t.find(DType::Q5_0);
    q5_0.dot = q5_0.dot_tiled = dot_q5_0_sse4;
    TypeKernels& q4_k = *t.find(DType::Q4_K);
    q4_k.dot = q4_k.dot_tiled = dot_q4_or_5_k_128<Bytes128, false, BlockQ4_K>;
    TypeKernels& q5_k = *t.find(DType::Q5_K);
    q5_k.dot = q5_k.dot_tiled = dot_q4_or_5_k_128<Bytes128, true, BlockQ5_K>;
    TypeKernels& q6_k = *t.find(DType::Q6_K);
    q6_k.dot = q6_k.dot_tiled = dot_q6_k_128<Bytes128>;
    t.find(DType::Q8_0)->from_float = quantize_q8_0_simd<xsimd::sse4_2>;
    t.find(DType::Q8_K)->from_float = quantize_q8_k_simd<xsimd::sse4_2>;
    return t;
  }();
  return table;
}

}  // namespace ullm::kernels::simd
