// 256-bit integer block kernels shared by the AVX2 and AVX-512 targets.
// Included only by kernels/arch/avx2.cpp and avx512.cpp, each compiled with
// its own flags; everything here has internal linkage so the two copies
// never mix.
#pragma once

#include <immintrin.h>

#include "kernels/blocks.hpp"
#include "kernels/simd/dot_simd.hpp"

namespace ullm::kernels::simd {
namespace {

// Eight int32 lanes, each the sum of four adjacent int8 products. The sign
// trick makes the left operand unsigned, as the instruction needs; the
// activation side never holds -128 (the Q8_0 quantizer stays in [-127, 127]).
inline __m256i lanes_maddubs(__m256i w, __m256i x) {
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

inline __m256i unpack_q4_0(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m256i nibbles = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), mask), _mm_and_si128(q, mask));
  return _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8));
}

inline float block_scale(uint16_t a, uint16_t b) {
  return _cvtsh_ss(a) * _cvtsh_ss(b);
}

inline __m256i load_256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

template <__m256i (*Lanes)(__m256i, __m256i)>
float dot_q8_0_256(int64_t n, const std::byte* wp, const std::byte* xp) {
  const auto* w = reinterpret_cast<const BlockQ8_0*>(wp);
  const auto* x = reinterpret_cast<const BlockQ8_0*>(xp);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const __m256 lanes = _mm256_cvtepi32_ps(Lanes(load_256(w[b].qs), load_256(x[b].qs)));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(block_scale(w[b].d, x[b].d)), lanes, acc);
  }
  alignas(32) float out[8];
  _mm256_store_ps(out, acc);
  return reduce_8(out);
}

template <__m256i (*Lanes)(__m256i, __m256i)>
float dot_q4_0_256(int64_t n, const std::byte* wp, const std::byte* xp) {
  const auto* w = reinterpret_cast<const BlockQ4_0*>(wp);
  const auto* x = reinterpret_cast<const BlockQ8_0*>(xp);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    const __m256 lanes = _mm256_cvtepi32_ps(Lanes(unpack_q4_0(w[b].qs), load_256(x[b].qs)));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(block_scale(w[b].d, x[b].d)), lanes, acc);
  }
  alignas(32) float out[8];
  _mm256_store_ps(out, acc);
  return reduce_8(out);
}

// Replaces the block-format dot products of a table.
inline void set_block_dots(KernelTable& t, DotFn q8_0, DotFn q4_0) {
  for (size_t i = 0; i < kComputeTypes.size(); ++i) {
    if (kComputeTypes[i] == DType::Q8_0) t.types[i].dot = t.types[i].dot_tiled = q8_0;
    if (kComputeTypes[i] == DType::Q4_0) t.types[i].dot = t.types[i].dot_tiled = q4_0;
  }
}

}  // namespace
}  // namespace ullm::kernels::simd
