// The NEON target (AArch64, where Advanced SIMD with fused multiply-add and
// half-precision conversion is always present). Float kernels come from the
// shared xsimd bodies; Q8_0 and Q4_0 have integer kernels here; the other
// block formats run their scalar references.
#include <arm_neon.h>

#include "kernels/simd/dot_simd.hpp"

namespace ullm::kernels::simd {
namespace {

// Four int32 lanes of four adjacent int8 products for 16 bytes (products fit
// in 16 bits, the pairwise sums are exact).
inline int32x4_t lanes_16(int8x16_t w, int8x16_t x) {
  const int32x4_t low = vpaddlq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(x)));
  const int32x4_t high = vpaddlq_s16(vmull_high_s8(w, x));
  return vpaddq_s32(low, high);
}

// One 32-element block given as its two 16-byte halves, into 8 float lanes.
inline void accumulate(int8x16_t w_lo, int8x16_t w_hi, const BlockQ8_0& x, float scale, float32x4_t& acc_lo,
                       float32x4_t& acc_hi) {
  const float32x4_t s = vdupq_n_f32(scale);
  acc_lo = vfmaq_f32(acc_lo, s, vcvtq_f32_s32(lanes_16(w_lo, vld1q_s8(x.qs))));
  acc_hi = vfmaq_f32(acc_hi, s, vcvtq_f32_s32(lanes_16(w_hi, vld1q_s8(x.qs + 16))));
}

float finish(float32x4_t lo, float32x4_t hi) {
  alignas(16) float out[8];
  vst1q_f32(out, lo);
  vst1q_f32(out + 4, hi);
  return reduce_8(out);
}

float dot_q8_0_neon(int64_t n, const std::byte* wp, const std::byte* xp) {
  const auto* w = reinterpret_cast<const BlockQ8_0*>(wp);
  const auto* x = reinterpret_cast<const BlockQ8_0*>(xp);
  float32x4_t lo = vdupq_n_f32(0.0f), hi = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    accumulate(vld1q_s8(w[b].qs), vld1q_s8(w[b].qs + 16), x[b], f16_to_f32(w[b].d) * f16_to_f32(x[b].d), lo, hi);
  }
  return finish(lo, hi);
}

// Q4_0's order: each block's dot product whole, then one fused
// multiply-add (see dot_q4_0_q8_0_tiled).
float dot_q4_0_whole_blocks_neon(int64_t n, const std::byte* wp, const std::byte* xp) {
  const auto* w = reinterpret_cast<const BlockQ4_0*>(wp);
  const auto* x = reinterpret_cast<const BlockQ8_0*>(xp);
  const int8x16_t eight = vdupq_n_s8(8);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const uint8x16_t q = vld1q_u8(w[b].qs);
    const int8x16_t w_lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), eight);
    const int8x16_t w_hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
    const int32_t sum =
        vaddvq_s32(vaddq_s32(lanes_16(w_lo, vld1q_s8(x[b].qs)), lanes_16(w_hi, vld1q_s8(x[b].qs + 16))));
    acc = std::fma(static_cast<float>(sum), f16_to_f32(w[b].d) * f16_to_f32(x[b].d), acc);
  }
  return acc;
}

}  // namespace

template <>
struct TargetOps<xsimd::neon64> {
  static xsimd::batch<float, xsimd::neon64> load_f16(const uint16_t* p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
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
  static void store_f16(uint16_t* p, xsimd::batch<float, xsimd::neon64> v) {
    vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v)));
  }
};

template <>
const KernelTable& TargetTable::operator()(xsimd::neon64) const {
  static const KernelTable table = [] {
    KernelTable t = TableBuilder{}(xsimd::neon64{}, "neon");
    for (size_t i = 0; i < kComputeTypes.size(); ++i) {
      if (kComputeTypes[i] == DType::Q8_0) t.types[i].dot = t.types[i].dot_tiled = dot_q8_0_neon;
      if (kComputeTypes[i] == DType::Q4_0) {
        t.types[i].dot = t.types[i].dot_tiled = dot_q4_0_whole_blocks_neon;
      }
    }
    return t;
  }();
  return table;
}

}  // namespace ullm::kernels::simd
