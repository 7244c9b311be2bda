// Scalar conversions between floats and each storage format.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ullm::kernels {

void f32_to_float(const std::byte* src, float* dst, int64_t n);
void f16_to_float(const std::byte* src, float* dst, int64_t n);
void bf16_to_float(const std::byte* src, float* dst, int64_t n);
void q8_0_to_float(const std::byte* src, float* dst, int64_t n);
void q4_0_to_float(const std::byte* src, float* dst, int64_t n);
void q4_1_to_float(const std::byte* src, float* dst, int64_t n);
void q5_0_to_float(const std::byte* src, float* dst, int64_t n);
void q5_1_to_float(const std::byte* src, float* dst, int64_t n);
void q8_1_to_float(const std::byte* src, float* dst, int64_t n);
// The K-quants expand as ggml's dequantizers do (products and differences
// rounded separately).
void q4_k_to_float(const std::byte* src, float* dst, int64_t n);
void q5_k_to_float(const std::byte* src, float* dst, int64_t n);
void q6_k_to_float(const std::byte* src, float* dst, int64_t n);
void q8_k_to_float(const std::byte* src, float* dst, int64_t n);

void float_to_f32(const float* src, std::byte* dst, int64_t n);
void float_to_f16(const float* src, std::byte* dst, int64_t n);
void float_to_bf16(const float* src, std::byte* dst, int64_t n);
// Q8_0 as ggml's x86 kernels quantize activations: scale amax/127 stored as
// f16, values multiplied by 127/amax and rounded half to even.
void float_to_q8_0(const float* src, std::byte* dst, int64_t n);
// Each block's scale as a float and the sum of its values times `factor`.
void q8_0_block_sums(const std::byte* blocks, int64_t count, int32_t factor, float* scales, int32_t* sums);
// Q4_0 as ggml's reference quantizer: the signed extreme maps to -8.
void float_to_q4_0(const float* src, std::byte* dst, int64_t n);
// Q4_1, Q5_0 and Q5_1 as ggml's reference quantizers make them.
void float_to_q4_1(const float* src, std::byte* dst, int64_t n);
void float_to_q5_0(const float* src, std::byte* dst, int64_t n);
void float_to_q5_1(const float* src, std::byte* dst, int64_t n);
// Q8_1 as ggml's x86 kernels quantize activations: Q8_0's rounding, and
// s = d * (sum of the quantized values) stored as f16.
void float_to_q8_1(const float* src, std::byte* dst, int64_t n);
// Q8_K as ggml quantizes activations on every CPU: the signed extreme maps to
// -127, values rounded half to even, d = 1 / (-127 / extreme) as a float.
void float_to_q8_k(const float* src, std::byte* dst, int64_t n);
// K-quant weights, for tools and tests: ullm's own quantizer (min/max per
// sub-block, scales rounded to their stored precision before the values are
// chosen), simpler than ggml's search and a little less accurate; any valid
// encoding loads and runs alike.
void float_to_q4_k(const float* src, std::byte* dst, int64_t n);
void float_to_q5_k(const float* src, std::byte* dst, int64_t n);
void float_to_q6_k(const float* src, std::byte* dst, int64_t n);

}  // namespace ullm::kernels
