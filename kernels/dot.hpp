// Scalar reference dot products, one per (weight type, activation type) pair.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"

namespace ullm::kernels {

// Float formats have two summation orders, both ggml's: the vector order
// (one token) and the tiled order (a GEMM over many tokens).
float dot_f32_f32(int64_t n, const std::byte* w, const std::byte* x);
float dot_f16_f16(int64_t n, const std::byte* w, const std::byte* x);
float dot_bf16_bf16(int64_t n, const std::byte* w, const std::byte* x);
float dot_f32_f32_tiled(int64_t n, const std::byte* w, const std::byte* x);
float dot_f16_f16_tiled(int64_t n, const std::byte* w, const std::byte* x);
float dot_bf16_bf16_tiled(int64_t n, const std::byte* w, const std::byte* x);

// Q8_0, Q4_0 and Q5_0 add one float per block: each block's integer dot
// product whole, converted once (ggml's repacked order).
float dot_q8_0_q8_0(int64_t n, const std::byte* w, const std::byte* x);
float dot_q4_0_q8_0(int64_t n, const std::byte* w, const std::byte* x);
float dot_q5_0_q8_0(int64_t n, const std::byte* w, const std::byte* x);
// The offset formats add sum(m * s) after the block sums, as ggml does.
float dot_q4_1_q8_1(int64_t n, const std::byte* w, const std::byte* x);
float dot_q5_1_q8_1(int64_t n, const std::byte* w, const std::byte* x);
// K-quants against Q8_K in the order of ggml's repacked GEMMs: per
// super-block the scaled sub-block sums (and for Q4_K/Q5_K the minimum
// terms) in integers, converted once.
float dot_q4_k_q8_k(int64_t n, const std::byte* w, const std::byte* x);
float dot_q5_k_q8_k(int64_t n, const std::byte* w, const std::byte* x);
float dot_q6_k_q8_k(int64_t n, const std::byte* w, const std::byte* x);

// The steps after the integer products, shared by the references and the
// SIMD kernels that compute those products their own way, so every target
// adds alike. A Q4_K / Q5_K super-block from its eight sub-block dot
// products (values 0-15 / 0-31 times x), added to acc.
template <typename Block>
float add_q4_or_5_k_super_block(const Block& w, const BlockQ8_K& x, const int32_t (&sub_block)[kQK_K / 32], float acc) {
  int32_t sums = 0, mins = 0;
  for (int j = 0; j < kQK_K / 32; ++j) {
    int sc, m;
    k_scale_min(w.scales, j, sc, m);
    sums += sc * sub_block[j];
    mins += m * (x.bsums[2 * j] + x.bsums[2 * j + 1]);
  }
  acc = std::fma(static_cast<float>(sums), f16_to_f32(w.d) * x.d, acc);
  return std::fma(-static_cast<float>(mins), f16_to_f32(w.dmin) * x.d, acc);
}
// A Q6_K super-block from its sixteen sub-block dot products (values 0-63
// times x; the -32 offsets go through the activation sums), added to acc.
inline float add_q6_k_super_block(const BlockQ6_K& w, const BlockQ8_K& x, const int32_t (&sub_block)[kQK_K / 16],
                                  float acc) {
  int32_t sum = 0;
  for (int j = 0; j < kQK_K / 16; ++j) sum += w.scales[j] * (sub_block[j] - 32 * x.bsums[j]);
  return std::fma(static_cast<float>(sum), f16_to_f32(w.d) * x.d, acc);
}

}  // namespace ullm::kernels
