// The NEON target (AArch64, where Advanced SIMD with fused multiply-add and
// half-precision conversion is always present). Float kernels come from the
// shared xsimd bodies; Q8_0, Q4_0, Q5_0 and the K-quants have integer kernels
// here (Q4_1 and Q5_1 run their scalar references).
#include <arm_neon.h>

#include "kernels/simd/dot_simd.hpp"
#include "kernels/simd/k_quant_128.hpp"

namespace ullm::kernels::simd {
namespace {

// Four int32 lanes of four adjacent int8 products for 16 bytes (products fit
// in 16 bits, the pairwise sums are exact).
inline int32x4_t lanes_16(int8x16_t w, int8x16_t x) {
  const int32x4_t low = vpaddlq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(x)));
  const int32x4_t high = vpaddlq_s16(vmull_high_s8(w, x));
  return vpaddq_s32(low, high);
}

// The order of Q8_0, Q4_0 and Q5_0: each block's dot product whole, then
// one fused multiply-add. values(block, lo, hi) gives a block's 32 signed
// values as two halves.
template <class Block, class Values>
float dot_whole_blocks_neon(int64_t n, const std::byte* wp, const std::byte* xp, const Values& values) {
  const auto* w = reinterpret_cast<const Block*>(wp);
  const auto* x = reinterpret_cast<const BlockQ8_0*>(xp);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    int8x16_t w_lo, w_hi;
    values(w[b], w_lo, w_hi);
    const int32_t sum =
        vaddvq_s32(vaddq_s32(lanes_16(w_lo, vld1q_s8(x[b].qs)), lanes_16(w_hi, vld1q_s8(x[b].qs + 16))));
    acc = std::fma(static_cast<float>(sum), f16_to_f32(w[b].d) * f16_to_f32(x[b].d), acc);
  }
  return acc;
}

float dot_q8_0_neon(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_whole_blocks_neon<BlockQ8_0>(n, w, x, [](const BlockQ8_0& b, int8x16_t& lo, int8x16_t& hi) {
    lo = vld1q_s8(b.qs);
    hi = vld1q_s8(b.qs + 16);
  });
}

float dot_q4_0_neon(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_whole_blocks_neon<BlockQ4_0>(n, w, x, [](const BlockQ4_0& b, int8x16_t& lo, int8x16_t& hi) {
    const uint8x16_t q = vld1q_u8(b.qs);
    lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), vdupq_n_s8(8));
    hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8));
  });
}

// Q5_0: the fifth bit of value i is bit i of qh.
float dot_q5_0_neon(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_whole_blocks_neon<BlockQ5_0>(n, w, x, [](const BlockQ5_0& b, int8x16_t& lo, int8x16_t& hi) {
    const uint8x16_t bit_of_byte = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t q = vld1q_u8(b.qs);
    // Values 0-15 take qh bytes 0-1, values 16-31 bytes 2-3.
    const uint8x16_t top_lo = vcombine_u8(vdup_n_u8(b.qh[0]), vdup_n_u8(b.qh[1]));
    const uint8x16_t top_hi = vcombine_u8(vdup_n_u8(b.qh[2]), vdup_n_u8(b.qh[3]));
    const auto value = [&](uint8x16_t nibbles, uint8x16_t top) {
      const uint8x16_t fifth = vandq_u8(vtstq_u8(top, bit_of_byte), vdupq_n_u8(0x10));
      return vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(nibbles, fifth)), vdupq_n_s8(16));
    };
    lo = value(vandq_u8(q, vdupq_n_u8(0x0f)), top_lo);
    hi = value(vshrq_n_u8(q, 4), top_hi);
  });
}

// The 16-byte operations of k_quant_128.hpp.
struct Bytes128 {
  static uint8x16_t load(const uint8_t* p) { return vld1q_u8(p); }
  static uint8x16_t mask(uint8x16_t v, uint8_t m) { return vandq_u8(v, vdupq_n_u8(m)); }
  static uint8x16_t or_(uint8x16_t a, uint8x16_t b) { return vorrq_u8(a, b); }
  template <int N>
  static uint8x16_t shr(uint8x16_t v) {
    return vshrq_n_u8(v, N);
  }
  template <int N>
  static uint8x16_t shl(uint8x16_t v) {
    return vshlq_n_u8(v, N);
  }
  static uint8x16_t fifth_bit(uint8x16_t top, uint8_t bit) {
    return vandq_u8(vtstq_u8(top, vdupq_n_u8(bit)), vdupq_n_u8(0x10));
  }
  static int32x4_t dot(uint8x16_t values, const int8_t* x) {
    return lanes_16(vreinterpretq_s8_u8(values), vld1q_s8(x));
  }
  static int32x4_t add(int32x4_t a, int32x4_t b) { return vaddq_s32(a, b); }
  static int32x4_t zero() { return vdupq_n_s32(0); }
  static int32_t sum(int32x4_t v) { return vaddvq_s32(v); }
};

}  // namespace

template <>
struct TargetOps<xsimd::neon64> {
  static xsimd::batch<float, xsimd::neon64> load_f16(const uint16_t* p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
  }
  static xsimd::batch<float, xsimd::neon64> load_bf16(const uint16_t* p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
  }
  static xsimd::batch<float, xsimd::neon64> load_i8(const int8_t* p) {
    int32_t four;
    std::memcpy(&four, p, 4);
    const int16x8_t wide = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(four)));
    return vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide)));
  }
  static xsimd::batch<float, xsimd::neon64> fma(xsimd::batch<float, xsimd::neon64> a,
                                                xsimd::batch<float, xsimd::neon64> b,
                                                xsimd::batch<float, xsimd::neon64> c) {
    return xsimd::fma(a, b, c);
  }
  static xsimd::batch<float, xsimd::neon64> round_f16(xsimd::batch<float, xsimd::neon64> v) {
    return vcvt_f32_f16(vcvt_f16_f32(v));
  }
  static float reduce_16(const xsimd::batch<float, xsimd::neon64> (&v)[4]) {
    alignas(16) float lanes[16];
    for (int b = 0; b < 4; ++b) v[b].store_aligned(lanes + 4 * b);
    return simd::reduce_16(lanes);
  }
  static void reduce_16_x4(const xsimd::batch<float, xsimd::neon64> (&v)[4][4], float* out) {
    for (int i = 0; i < 4; ++i) out[i] = reduce_16(v[i]);
  }
  static void store_f16(uint16_t* p, xsimd::batch<float, xsimd::neon64> v) {
    vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v)));
  }
};

template <>
const KernelTable& TargetTable::operator()(xsimd::neon64) const {
  static const KernelTable table = [] {
    KernelTable t = TableBuilder{}(xsimd::neon64{}, "neon");
    for (size_t i = 0; i < kComputeTypes.size(); ++i) {
      DotFn dot = nullptr;
      switch (kComputeTypes[i]) {
        case DType::Q8_0:
          dot = dot_q8_0_neon;
          break;
        case DType::Q4_0:
          dot = dot_q4_0_neon;
          break;
        case DType::Q5_0:
          dot = dot_q5_0_neon;
          break;
        case DType::Q4_K:
          dot = dot_q4_or_5_k_128<Bytes128, false, BlockQ4_K>;
          break;
        case DType::Q5_K:
          dot = dot_q4_or_5_k_128<Bytes128, true, BlockQ5_K>;
          break;
        case DType::Q6_K:
          dot = dot_q6_k_128<Bytes128>;
          break;
        default:
          continue;
      }
      t.types[i].dot = t.types[i].dot_tiled = dot;
    }
    t.find(DType::Q8_0)->from_float = quantize_q8_0_simd<xsimd::neon64>;
    t.find(DType::Q8_K)->from_float = quantize_q8_k_simd<xsimd::neon64>;
    return t;
  }();
  return table;
}

}  // namespace ullm::kernels::simd
