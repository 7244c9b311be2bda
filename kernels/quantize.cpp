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
    qs[i] = static_cast<int8_t>(std::nearbyint(x[i] * id));
    sum += qs[i];
  }
  return amax / 127.0f;
}

}  // namespace

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
float signed_extreme(const float* x) {
  float amax = 0.0f, extreme = 0.0f;
  for (int i = 0; i < kQK4_0; ++i) {
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
      q[i] = std::min(kTop, static_cast<int>(static_cast<int8_t>(v)));
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

}  // namespace ullm::kernels
