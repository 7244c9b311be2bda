#include "kernels/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"

namespace ullm::kernels {

void f32_to_float(const std::byte* src, float* dst, int64_t n) {
  std::memcpy(dst, src, n * sizeof(float));
}

void f16_to_float(const std::byte* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = f16_to_f32(h);
  }
}

void bf16_to_float(const std::byte* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = bf16_to_f32(h);
  }
}

void q8_0_to_float(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ8_0*>(src);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    for (int i = 0; i < kQK8_0; ++i) dst[b * kQK8_0 + i] = blocks[b].qs[i] * d;
  }
}

void q4_0_to_float(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ4_0*>(src);
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    for (int j = 0; j < kQK4_0; ++j) dst[b * kQK4_0 + j] = static_cast<float>(nibble(blocks[b].qs, j) - 8) * d;
  }
}

void q4_1_to_float(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ4_1*>(src);
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const float d = f16_to_f32(blocks[b].d), m = f16_to_f32(blocks[b].m);
    for (int j = 0; j < kQK4_0; ++j) dst[b * kQK4_0 + j] = static_cast<float>(nibble(blocks[b].qs, j)) * d + m;
  }
}

void q5_0_to_float(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ5_0*>(src);
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    for (int j = 0; j < kQK4_0; ++j) {
      dst[b * kQK4_0 + j] = static_cast<float>((nibble(blocks[b].qs, j) | fifth_bit(blocks[b].qh, j)) - 16) * d;
    }
  }
}

void q5_1_to_float(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ5_1*>(src);
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const float d = f16_to_f32(blocks[b].d), m = f16_to_f32(blocks[b].m);
    for (int j = 0; j < kQK4_0; ++j) {
      dst[b * kQK4_0 + j] = static_cast<float>(nibble(blocks[b].qs, j) | fifth_bit(blocks[b].qh, j)) * d + m;
    }
  }
}

void q8_1_to_float(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ8_1*>(src);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    for (int i = 0; i < kQK8_0; ++i) dst[b * kQK8_0 + i] = blocks[b].qs[i] * d;
  }
}

void float_to_f32(const float* src, std::byte* dst, int64_t n) {
  std::memcpy(dst, src, n * sizeof(float));
}

void float_to_f16(const float* src, std::byte* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_f16(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

void float_to_bf16(const float* src, std::byte* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_bf16(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

namespace {

// An activation times its block's inverse scale, rounded, as a byte: at most
// 127, and -128 where the product is not finite (a block so small that the
// inverse scale overflows, or a NaN), as x86's conversion and saturating
// packs make it.
int8_t rounded_product_to_int8(float product) {
  const float v = std::nearbyint(product);
  return std::isfinite(v) ? static_cast<int8_t>(std::min(127.0f, v)) : int8_t{-128};
}

// One block of 32 activations to 8 bits, as ggml's x86 quantizer does it:
// scale amax/127, values times 127/amax rounded half to even (nearbyint in
// the default rounding mode, like the SIMD round instruction). Returns d and
// the sum of the quantized values.
float quantize_8_bits(const float* x, int8_t* qs, int32_t& sum) {
  float amax = 0.0f;
  for (int i = 0; i < kQK8_0; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  sum = 0;
  for (int i = 0; i < kQK8_0; ++i) {
    qs[i] = rounded_product_to_int8(x[i] * id);
    sum += qs[i];
  }
  return amax / 127.0f;
}

}  // namespace

void q8_0_block_sums(const std::byte* blocks, int64_t count, int32_t factor, float* scales, int32_t* sums) {
  const auto* b = reinterpret_cast<const BlockQ8_0*>(blocks);
  for (int64_t i = 0; i < count; ++i) {
    int32_t sum = 0;
    for (int8_t q : b[i].qs) sum += q;
    scales[i] = f16_to_f32(b[i].d);
    sums[i] = sum * factor;
  }
}

void float_to_q8_0(const float* src, std::byte* dst, int64_t n) {
  auto* blocks = reinterpret_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    int32_t sum;
    blocks[b].d = f32_to_f16(quantize_8_bits(src + b * kQK8_0, blocks[b].qs, sum));
  }
}

void float_to_q8_1(const float* src, std::byte* dst, int64_t n) {
  auto* blocks = reinterpret_cast<BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    int32_t sum;
    const float d = quantize_8_bits(src + b * kQK8_0, blocks[b].qs, sum);
    blocks[b].d = f32_to_f16(d);
    blocks[b].s = f32_to_f16(d * static_cast<float>(sum));
  }
}

namespace {

// The value of largest magnitude, with its sign (the first one on ties).
float signed_extreme(const float* x, int n = kQK4_0) {
  float amax = 0.0f, extreme = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      extreme = x[i];
    }
  }
  return extreme;
}

// Stores the low four bits of 32 values: element j in byte j % 16.
void pack_4_bits(const int* q, uint8_t* qs) {
  for (int j = 0; j < kQK4_0 / 2; ++j) qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
}

// Stores 32 values of 5 bits: low nibbles in qs, fifth bits in qh.
void pack_5_bits(const int* q, uint8_t* qs, uint8_t* qh) {
  pack_4_bits(q, qs);
  uint32_t h = 0;
  for (int j = 0; j < kQK4_0; ++j) h |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  std::memcpy(qh, &h, 4);
}

// min, and (max - min) / levels, as ggml's offset quantizers compute them.
void min_and_step(const float* x, int levels, float& min, float& d) {
  min = x[0];
  float max = x[0];
  for (int i = 1; i < kQK4_0; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
  }
  d = (max - min) / static_cast<float>(levels);
}

}  // namespace

namespace {

// Q4_0, Q4_1, Q5_0 and Q5_1 as ggml's reference quantizers make them:
// symmetric formats map the signed extreme to -2^(bits-1); offset formats
// map [min, max] onto [0, 2^bits - 1].
template <typename Block, int Bits, bool Offset>
void quantize_small(const float* src, std::byte* dst, int64_t n) {
  constexpr int kTop = (1 << Bits) - 1;
  constexpr float kHalf = static_cast<float>(1 << (Bits - 1));
  auto* blocks = reinterpret_cast<Block*>(dst);
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const float* x = src + b * kQK4_0;
    float min = 0.0f, d;
    if constexpr (Offset) {
      min_and_step(x, kTop, min, d);
      blocks[b].m = f32_to_f16(min);
    } else {
      d = signed_extreme(x) / -kHalf;
    }
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = f32_to_f16(d);
    int q[kQK4_0];
    for (int i = 0; i < kQK4_0; ++i) {
      const float v = Offset ? (x[i] - min) * id + 0.5f : x[i] * id + (kHalf + 0.5f);
      // ggml truncates through int8_t; a product that is not finite (a block
      // holding an infinity or a NaN, or so small that id overflows) gives 0,
      // what x86's conversion gave, without the UB.
      q[i] = std::isfinite(v) ? std::min(kTop, static_cast<int>(static_cast<int8_t>(v))) : 0;
    }
    if constexpr (Bits == 4) {
      pack_4_bits(q, blocks[b].qs);
    } else {
      pack_5_bits(q, blocks[b].qs, blocks[b].qh);
    }
  }
}

}  // namespace

void float_to_q4_0(const float* src, std::byte* dst, int64_t n) {
  quantize_small<BlockQ4_0, 4, false>(src, dst, n);
}
void float_to_q4_1(const float* src, std::byte* dst, int64_t n) {
  quantize_small<BlockQ4_1, 4, true>(src, dst, n);
}
void float_to_q5_0(const float* src, std::byte* dst, int64_t n) {
  quantize_small<BlockQ5_0, 5, false>(src, dst, n);
}
void float_to_q5_1(const float* src, std::byte* dst, int64_t n) {
  quantize_small<BlockQ5_1, 5, true>(src, dst, n);
}

void q4_k_to_float(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ4_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = f16_to_f32(blocks[b].d), dmin = f16_to_f32(blocks[b].dmin);
    for (int i = 0; i < kQK_K; ++i) {
      int sc, m;
      k_scale_min(blocks[b].scales, i / 32, sc, m);
      dst[b * kQK_K + i] =
          d * static_cast<float>(sc) * static_cast<float>(q4_k_nibble(blocks[b].qs, i)) - dmin * static_cast<float>(m);
    }
  }
}

void q5_k_to_float(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ5_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = f16_to_f32(blocks[b].d), dmin = f16_to_f32(blocks[b].dmin);
    for (int i = 0; i < kQK_K; ++i) {
      int sc, m;
      k_scale_min(blocks[b].scales, i / 32, sc, m);
      const int q = q4_k_nibble(blocks[b].qs, i) + q5_k_fifth_bit(blocks[b].qh, i);
      dst[b * kQK_K + i] = d * static_cast<float>(sc) * static_cast<float>(q) - dmin * static_cast<float>(m);
    }
  }
}

void q6_k_to_float(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ6_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    for (int i = 0; i < kQK_K; ++i) {
      dst[b * kQK_K + i] =
          d * static_cast<float>(blocks[b].scales[i / 16]) * static_cast<float>(q6_k_value(blocks[b], i) - 32);
    }
  }
}

void q8_k_to_float(const std::byte* src, float* dst, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ8_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    for (int i = 0; i < kQK_K; ++i) dst[b * kQK_K + i] = blocks[b].d * static_cast<float>(blocks[b].qs[i]);
  }
}

void float_to_q8_k(const float* src, std::byte* dst, int64_t n) {
  auto* blocks = reinterpret_cast<BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    BlockQ8_K& y = blocks[b];
    const float extreme = signed_extreme(x, kQK_K);
    if (extreme == 0.0f) {
      std::memset(&y, 0, sizeof y);
      continue;
    }
    const float iscale = -127.0f / extreme;
    for (int i = 0; i < kQK_K; ++i) y.qs[i] = rounded_product_to_int8(iscale * x[i]);
    sum_q8_k_groups(y);
    y.d = 1.0f / iscale;
  }
}

namespace {

// An integral float clamped to [lo, hi] before it becomes an int (a value
// past int's range or a NaN, from a block holding an infinity or a NaN,
// would be undefined behaviour): a NaN gives lo.
int clamp_to_int(float integral, int lo, int hi) {
  if (!(integral >= static_cast<float>(lo))) return lo;
  return integral >= static_cast<float>(hi) ? hi : static_cast<int>(integral);
}

int round_clamped(float v, int lo, int hi) {
  return clamp_to_int(std::nearbyint(v), lo, hi);
}

// A sub-block scale in units of the super-block scale `d`, or 0 if d is 0.
int scale_in_units(float scale, float d, int lo, int hi) {
  return d != 0.0f ? round_clamped(scale / d, lo, hi) : 0;
}
// The same rounded up, so the sub-block's range stays covered.
int scale_in_units_up(float scale, float d, int hi) {
  return d != 0.0f ? clamp_to_int(std::ceil(scale / d), 0, hi) : 0;
}

// Q4_K and Q5_K: each 32-value sub-block maps [min(0, lo), hi] onto
// [0, 2^Bits - 1]; the per-sub-block step and offset become 6-bit multiples
// of the f16 super-block scales d and dmin, rounded up to cover the range.
template <typename Block, int Bits>
void quantize_k_offset(const float* src, std::byte* dst, int64_t n) {
  constexpr int kTop = (1 << Bits) - 1;
  auto* blocks = reinterpret_cast<Block*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    Block& y = blocks[b];
    std::memset(&y, 0, sizeof y);
    float step[8], offset[8], max_step = 0.0f, max_offset = 0.0f;
    for (int j = 0; j < 8; ++j) {
      const float lo = std::min(0.0f, *std::min_element(x + 32 * j, x + 32 * j + 32));
      const float hi = *std::max_element(x + 32 * j, x + 32 * j + 32);
      step[j] = (hi - lo) / kTop;
      offset[j] = -lo;
      max_step = std::max(max_step, step[j]);
      max_offset = std::max(max_offset, offset[j]);
    }
    y.d = f32_to_f16(max_step / 63.0f);
    y.dmin = f32_to_f16(max_offset / 63.0f);
    const float d = f16_to_f32(y.d), dmin = f16_to_f32(y.dmin);
    for (int j = 0; j < 8; ++j) {
      const int sc = scale_in_units_up(step[j], d, 63), m = scale_in_units_up(offset[j], dmin, 63);
      if (j < 4) {
        y.scales[j] = static_cast<uint8_t>(sc);
        y.scales[j + 4] = static_cast<uint8_t>(m);
      } else {
        y.scales[j + 4] = static_cast<uint8_t>((sc & 0x0f) | ((m & 0x0f) << 4));
        y.scales[j - 4] |= static_cast<uint8_t>((sc >> 4) << 6);
        y.scales[j] |= static_cast<uint8_t>((m >> 4) << 6);
      }
      const float unit = d * static_cast<float>(sc), shift = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) {
        const int i = 32 * j + l;
        const int q = unit != 0.0f ? round_clamped((x[i] + shift) / unit, 0, kTop) : 0;
        y.qs[32 * (i / 64) + l] |= static_cast<uint8_t>((q & 0x0f) << (4 * (j % 2)));
        if constexpr (Bits == 5) y.qh[l] |= static_cast<uint8_t>((q >> 4) << j);
      }
    }
  }
}

}  // namespace

void float_to_q4_k(const float* src, std::byte* dst, int64_t n) {
  quantize_k_offset<BlockQ4_K, 4>(src, dst, n);
}
void float_to_q5_k(const float* src, std::byte* dst, int64_t n) {
  quantize_k_offset<BlockQ5_K, 5>(src, dst, n);
}

// Q6_K: each 16-value sub-block maps its signed extreme to -32; the
// sub-block scales become int8 multiples of the f16 super-block scale, whose
// own signed extreme maps to -128.
void float_to_q6_k(const float* src, std::byte* dst, int64_t n) {
  auto* blocks = reinterpret_cast<BlockQ6_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    BlockQ6_K& y = blocks[b];
    std::memset(&y, 0, sizeof y);
    float scale[16];
    for (int j = 0; j < 16; ++j) scale[j] = signed_extreme(x + 16 * j, 16) / -32.0f;
    y.d = f32_to_f16(signed_extreme(scale, 16) / -128.0f);
    const float d = f16_to_f32(y.d);
    for (int j = 0; j < 16; ++j) {
      y.scales[j] = static_cast<int8_t>(scale_in_units(scale[j], d, -128, 127));
      const float unit = d * static_cast<float>(y.scales[j]);
      for (int l = 0; l < 16; ++l) {
        const int i = 16 * j + l;
        const int q = (unit != 0.0f ? round_clamped(x[i] / unit, -32, 31) : 0) + 32;
        const int half = i / 128, quarter = (i % 128) / 32, col = i % 32;
        y.ql[64 * half + 32 * (quarter & 1) + col] |= static_cast<uint8_t>((q & 0x0f) << (quarter < 2 ? 0 : 4));
        y.qh[32 * half + col] |= static_cast<uint8_t>((q >> 4) << (2 * quarter));
      }
    }
  }
}

}  // namespace ullm::kernels
