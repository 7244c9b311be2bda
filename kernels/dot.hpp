// Scalar reference dot products, one per (weight type, activation type) pair.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ullm::kernels {

// Float formats have two summation orders, both ggml's: the vector order
// (one token) and the tiled order (a GEMM over many tokens).
float dot_f32_f32(int64_t n, const std::byte* w, const std::byte* x);
float dot_f16_f16(int64_t n, const std::byte* w, const std::byte* x);
float dot_bf16_bf16(int64_t n, const std::byte* w, const std::byte* x);
float dot_f32_f32_tiled(int64_t n, const std::byte* w, const std::byte* x);
float dot_f16_f16_tiled(int64_t n, const std::byte* w, const std::byte* x);
float dot_bf16_bf16_tiled(int64_t n, const std::byte* w, const std::byte* x);

float dot_q8_0_q8_0(int64_t n, const std::byte* w, const std::byte* x);
// Q4_0 and Q5_0 add one float per block: each block's integer dot product
// whole, converted once (ggml's repacked order; Q8_0 keeps 8 lanes).
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

}  // namespace ullm::kernels
