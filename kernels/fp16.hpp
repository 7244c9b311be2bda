// IEEE half and bfloat16 conversions, bit-exact with the hardware
// instructions ggml uses (F16C's vcvtps2ph with round-to-nearest-even).
#pragma once

#include <bit>
#include <cstdint>

namespace ullm::kernels {

// Internal linkage on purpose: the per-target kernel files include this header
// under different instruction-set flags, and an inline function with external
// linkage could be merged across them, running AVX-512 code on any CPU.

static inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  const uint32_t mantissa = h & 0x3ff;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
  }
  if (exponent == 31) {  // infinity, or a NaN made quiet as F16C and NEON make it
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13) | (mantissa != 0 ? 0x400000u : 0u));
  }
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

static inline uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t a = x & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00 | static_cast<uint16_t>((a >> 13) & 0x3ff);  // NaN stays NaN
  if (a >= 0x47800000) return sign | 0x7c00;                                            // >= 2^16: infinity
  if (a < 0x38800000) {                                                                 // below 2^-14: subnormal
    if (a <= 0x33000000) return sign;  // at most half the smallest subnormal: ties to even zero
    const uint32_t exponent = a >> 23;
    const uint32_t mantissa = (a & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - exponent;  // 14..24
    uint32_t r = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (r & 1))) ++r;
    return sign | static_cast<uint16_t>(r);
  }
  uint32_t r = (a >> 13) - (112u << 10);
  const uint32_t rest = a & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (r & 1))) ++r;  // a carry may round up to infinity, as it should
  return sign | static_cast<uint16_t>(r);
}

static inline float bf16_to_f32(uint16_t h) {
  return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

static inline uint16_t f32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

}  // namespace ullm::kernels
