// GGML's quantized block layouts, bit for bit, so GGUF tensors are used as
// they are stored. Scales are IEEE halves kept as raw bits.
#pragma once

#include <cstdint>
#include <cstring>

namespace ullm::kernels {

inline constexpr int kQK8_0 = 32;
inline constexpr int kQK4_0 = 32;

// 32 signed 8-bit values times one scale: x[i] = d * qs[i].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34, "BlockQ8_0 must match ggml's block_q8_0");

// 32 unsigned 4-bit values offset by 8 times one scale: x[i] = d * (q[i] - 8).
// Byte j holds element j in its low nibble and element j + 16 in its high nibble.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18, "BlockQ4_0 must match ggml's block_q4_0");

// Q4_0 with an offset instead of a fixed -8: x[i] = d * q[i] + m.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_1) == 20, "BlockQ4_1 must match ggml's block_q4_1");

// 5-bit values: the low four bits as in Q4_0, the fifth bit of element j in
// bit j of qh (little-endian). x[i] = d * (q[i] - 16).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22, "BlockQ5_0 must match ggml's block_q5_0");

// Q5_0 with an offset: x[i] = d * q[i] + m.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ5_1) == 24, "BlockQ5_1 must match ggml's block_q5_1");

// Q8_0 plus s = d * sum(qs): the activation format of Q4_1 and Q5_1, whose
// offsets multiply the sum of the activations.
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_1) == 36, "BlockQ8_1 must match ggml's block_q8_1");

// Element j of a Q4/Q5 block's low nibbles: j < 16 in the low halves of
// qs, j >= 16 in the high halves. (Internal linkage: see fp16.hpp.)
static inline int nibble(const uint8_t* qs, int j) {
  return j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4;
}

// Bit 4 of element j of a Q5 block: bit j of the little-endian qh.
static inline int fifth_bit(const uint8_t* qh, int j) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  return static_cast<int>((h >> j) & 1) << 4;
}

// K-quants: super-blocks of 256 values in sub-blocks with their own scales.
inline constexpr int kQK_K = 256;

// 8 sub-blocks of 32 unsigned 4-bit values: x = d * sc[j] * q - dmin * m[j],
// the 6-bit sc and m packed into 12 bytes (see k_scale_min). Each 32 bytes of
// qs hold 64 values: sub-block 2i in the low nibbles, 2i + 1 in the high.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144, "BlockQ4_K must match ggml's block_q4_K");

// Q4_K plus a fifth bit: bit i of qh[l] belongs to value l of sub-block i.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176, "BlockQ5_K must match ggml's block_q5_K");

// 16 sub-blocks of 16 6-bit values offset by 32: x = d * scales[j] * (q - 32).
// Per 128 values, ql's 64 bytes hold the low nibbles (values 0-31 and 32-63
// low, 64-95 and 96-127 high) and qh's 32 bytes the top two bits (values
// 0-31, 32-63, 64-95, 96-127 in bits 0-1, 2-3, 4-5, 6-7).
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210, "BlockQ6_K must match ggml's block_q6_K");

// The activation format of the K-quants: a float scale, 256 signed bytes,
// and the sum of each 16 of them (for the formats' offsets).
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292, "BlockQ8_K must match ggml's block_q8_K");

// Fills bsums from qs.
static inline void sum_q8_k_groups(BlockQ8_K& y) {
  for (int g = 0; g < kQK_K / 16; ++g) {
    int sum = 0;
    for (int i = 0; i < 16; ++i) sum += y.qs[16 * g + i];
    y.bsums[g] = static_cast<int16_t>(sum);
  }
}

// Scale and min of sub-block j (0-7) of a Q4_K / Q5_K block: 6 bits each,
// j < 4 in the low bits of bytes j and j + 4, j >= 4 split between byte
// j + 4 (low four bits) and the top two bits of bytes j - 4 and j.
static inline void k_scale_min(const uint8_t* scales, int j, int& sc, int& m) {
  if (j < 4) {
    sc = scales[j] & 63;
    m = scales[j + 4] & 63;
  } else {
    sc = (scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4);
    m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}

// Value i (0-255) of a Q6_K block, in [0, 63] (before the offset of 32).
static inline int q6_k_value(const BlockQ6_K& b, int i) {
  const int half = i / 128, r = i % 128, quarter = r / 32, l = r % 32;
  const uint8_t low = b.ql[64 * half + 32 * (quarter & 1) + l];
  const int nib = quarter < 2 ? low & 0x0f : low >> 4;
  return nib | (((b.qh[32 * half + l] >> (2 * quarter)) & 3) << 4);
}

// Value i (0-255) of a Q4_K block's 4-bit part, and its Q5_K fifth bit.
static inline int q4_k_nibble(const uint8_t* qs, int i) {
  const uint8_t byte = qs[32 * (i / 64) + i % 32];
  return (i / 32) % 2 == 0 ? byte & 0x0f : byte >> 4;
}
static inline int q5_k_fifth_bit(const uint8_t* qh, int i) {
  return ((qh[i % 32] >> (i / 32)) & 1) << 4;
}

}  // namespace ullm::kernels
