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
    float* out = dst + b * kQK4_0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      out[j] = static_cast<float>((blocks[b].qs[j] & 0x0f) - 8) * d;
      out[j + kQK4_0 / 2] = static_cast<float>((blocks[b].qs[j] >> 4) - 8) * d;
    }
  }
}

namespace {

// Element j of a 32-element block from its nibble byte array: j < 16 in the
// low nibbles, j >= 16 in the high ones.
int nibble(const uint8_t* qs, int j) { return j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4; }

int fifth_bit(const uint8_t* qh, int j) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  return static_cast<int>((h >> j) & 1) << 4;
}

}  // namespace

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

void float_to_q8_0(const float* src, std::byte* dst, int64_t n) {
  auto* blocks = reinterpret_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float* x = src + b * kQK8_0;
    float amax = 0.0f;
    for (int i = 0; i < kQK8_0; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    blocks[b].d = f32_to_f16(d);
    // nearbyint rounds half to even in the default rounding mode, as the
    // SIMD quantizer's round instruction does.
    for (int i = 0; i < kQK8_0; ++i) blocks[b].qs[i] = static_cast<int8_t>(std::nearbyint(x[i] * id));
  }
}

void float_to_q8_1(const float* src, std::byte* dst, int64_t n) {
  auto* blocks = reinterpret_cast<BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float* x = src + b * kQK8_0;
    float amax = 0.0f;
    for (int i = 0; i < kQK8_0; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (int i = 0; i < kQK8_0; ++i) {
      blocks[b].qs[i] = static_cast<int8_t>(std::nearbyint(x[i] * id));
      sum += blocks[b].qs[i];
    }
    blocks[b].d = f32_to_f16(d);
    blocks[b].s = f32_to_f16(d * static_cast<float>(sum));
  }
}

namespace {

// Stores 32 values of 5 bits: low nibbles in qs, fifth bits in qh.
void pack_5_bits(const int* q, uint8_t* qs, uint8_t* qh) {
  uint32_t h = 0;
  for (int j = 0; j < kQK4_0 / 2; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
    h |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
    h |= static_cast<uint32_t>((q[j + 16] >> 4) & 1) << (j + 16);
  }
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

void float_to_q4_1(const float* src, std::byte* dst, int64_t n) {
  auto* blocks = reinterpret_cast<BlockQ4_1*>(dst);
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const float* x = src + b * kQK4_0;
    float min, d;
    min_and_step(x, 15, min, d);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = f32_to_f16(d);
    blocks[b].m = f32_to_f16(min);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const auto lo = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>((x[j] - min) * id + 0.5f))));
      const auto hi =
          static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>((x[j + 16] - min) * id + 0.5f))));
      blocks[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void float_to_q5_0(const float* src, std::byte* dst, int64_t n) {
  auto* blocks = reinterpret_cast<BlockQ5_0*>(dst);
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const float* x = src + b * kQK4_0;
    float amax = 0.0f, extreme = 0.0f;
    for (int i = 0; i < kQK4_0; ++i) {
      if (std::fabs(x[i]) > amax) {
        amax = std::fabs(x[i]);
        extreme = x[i];
      }
    }
    const float d = extreme / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = f32_to_f16(d);
    int q[kQK4_0];
    for (int i = 0; i < kQK4_0; ++i) q[i] = std::min(31, static_cast<int>(static_cast<int8_t>(x[i] * id + 16.5f)));
    pack_5_bits(q, blocks[b].qs, blocks[b].qh);
  }
}

void float_to_q5_1(const float* src, std::byte* dst, int64_t n) {
  auto* blocks = reinterpret_cast<BlockQ5_1*>(dst);
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const float* x = src + b * kQK4_0;
    float min, d;
    min_and_step(x, 31, min, d);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = f32_to_f16(d);
    blocks[b].m = f32_to_f16(min);
    int q[kQK4_0];
    for (int i = 0; i < kQK4_0; ++i) q[i] = std::min(31, static_cast<int>(static_cast<uint8_t>((x[i] - min) * id + 0.5f)));
    pack_5_bits(q, blocks[b].qs, blocks[b].qh);
  }
}

void float_to_q4_0(const float* src, std::byte* dst, int64_t n) {
  auto* blocks = reinterpret_cast<BlockQ4_0*>(dst);
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const float* x = src + b * kQK4_0;
    float amax = 0.0f;
    float extreme = 0.0f;
    for (int i = 0; i < kQK4_0; ++i) {
      if (std::fabs(x[i]) > amax) {
        amax = std::fabs(x[i]);
        extreme = x[i];
      }
    }
    const float d = extreme / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = f32_to_f16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const auto lo = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f))));
      const auto hi =
          static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x[j + kQK4_0 / 2] * id + 8.5f))));
      blocks[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

}  // namespace ullm::kernels
