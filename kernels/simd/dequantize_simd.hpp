// Block formats expanded to floats (embedding rows), 16 values at a time,
// each value as its scalar reference computes it: scale * q - offset with
// the reference's scale and offset (offset 0 for formats without minimums:
// x - 0 is x). The values are unpacked as bytes with GCC's generic vectors
// (16 bytes: one register on every target), then widened to floats by the
// target's load_i8 (xsimd 8.1 widens no bytes). Included by dot_simd.hpp, so
// compiled once per target.
#pragma once

#include <cstdint>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/simd/target_ops.hpp"

namespace ullm::kernels::simd {
// Internal linkage: see kernels/fp16.hpp.
namespace {

using Bytes16 = uint8_t __attribute__((vector_size(16)));
using Signed16 = int8_t __attribute__((vector_size(16)));

inline Bytes16 load_bytes(const uint8_t* p) {
  Bytes16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class Arch>
void store_scaled(Signed16 q, float scale, float offset, float* out) {
  using batch = xsimd::batch<float, Arch>;
  int8_t bytes[16];
  std::memcpy(bytes, &q, sizeof bytes);
  for (size_t i = 0; i < 16; i += batch::size) {
    (batch(scale) * TargetOps<Arch>::load_i8(bytes + i) - batch(offset)).store_unaligned(out + i);
  }
}

inline Signed16 as_signed(Bytes16 v) {
  return reinterpret_cast<Signed16>(v);
}

template <class Arch>
void q8_0_to_float_simd(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ8_0*>(src);
  for (int64_t b = 0; b < n / kQK8_0; ++b, dst += kQK8_0) {
    const float d = f16_to_f32(blocks[b].d);
    const auto* qs = reinterpret_cast<const uint8_t*>(blocks[b].qs);
    store_scaled<Arch>(as_signed(load_bytes(qs)), d, 0.0f, dst);
    store_scaled<Arch>(as_signed(load_bytes(qs + 16)), d, 0.0f, dst + 16);
  }
}

template <class Arch>
void q4_0_to_float_simd(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ4_0*>(src);
  for (int64_t b = 0; b < n / kQK4_0; ++b, dst += kQK4_0) {
    const float d = f16_to_f32(blocks[b].d);
    const Bytes16 qs = load_bytes(blocks[b].qs);
    store_scaled<Arch>(as_signed(qs & 0x0f) - 8, d, 0.0f, dst);
    store_scaled<Arch>(as_signed(qs >> 4) - 8, d, 0.0f, dst + 16);
  }
}

// Q4_K and Q5_K: sub-block s (32 values) is the low (s even) or high nibbles
// of qs[32 (s / 2) ..], plus for Q5_K bit s of qh[0 .. 32] as bit 4.
template <class Arch, class Block>
void k_quant_4_or_5_to_float_simd(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const Block*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const Block& k = blocks[b];
    const float d = f16_to_f32(k.d), dmin = f16_to_f32(k.dmin);
    for (int s = 0; s < kQK_K / 32; ++s) {
      int sc, m;
      k_scale_min(k.scales, s, sc, m);
      const float scale = d * static_cast<float>(sc), offset = dmin * static_cast<float>(m);
      for (int half = 0; half < 2; ++half, dst += 16) {
        const Bytes16 bytes = load_bytes(k.qs + 32 * (s / 2) + 16 * half);
        Bytes16 q = s % 2 == 0 ? bytes & 0x0f : bytes >> 4;
        if constexpr (requires { k.qh; }) q |= ((load_bytes(k.qh + 16 * half) >> s) & 1) << 4;
        store_scaled<Arch>(as_signed(q), scale, offset, dst);
      }
    }
  }
}

// Q6_K: value l of quarter r (32 values) of half h is the low (r < 2) or high
// nibble of ql[64 h + 32 (r % 2) + l] with bits 2r, 2r + 1 of qh[32 h + l] on
// top, minus 32; a scale per 16 values.
template <class Arch>
void q6_k_to_float_simd(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ6_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const BlockQ6_K& k = blocks[b];
    const float d = f16_to_f32(k.d);
    for (int i = 0; i < kQK_K / 16; ++i, dst += 16) {
      const int h = i / 8, r = i / 2 % 4, l = 16 * (i % 2);
      const Bytes16 low = load_bytes(k.ql + 64 * h + 32 * (r % 2) + l);
      const Bytes16 q = (r < 2 ? low & 0x0f : low >> 4) | ((load_bytes(k.qh + 32 * h + l) >> (2 * r)) & 3) << 4;
      store_scaled<Arch>(as_signed(q) - 32, d * static_cast<float>(k.scales[i]), 0.0f, dst);
    }
  }
}

}  // namespace
}  // namespace ullm::kernels::simd
