// GGML's quantized block layouts, bit for bit, so GGUF tensors are used as
// they are stored. Scales are IEEE halves kept as raw bits.
#pragma once

#include <cstdint>

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

}  // namespace ullm::kernels
