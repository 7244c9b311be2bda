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

}  // namespace ullm::kernels
