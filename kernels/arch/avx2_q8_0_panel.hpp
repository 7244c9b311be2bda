// Q8_0 rows repacked for the AVX2 and avxvnni targets, in Q8_0's per-lane
// order (their 8-bit dot product `U8S8`: maddubs + madd, or VNNI).
//
// The row tiles (x86_256.hpp) read four rows' blocks 34 bytes apart — half
// their 32-byte loads straddle a cache line — and gather each row's f16
// scales one by one, eight inserts per eight blocks. Repacked (once, on
// first demand, like the other panel formats), four rows are one stream: per
// group of up to eight blocks, each row's scales side by side (one load and
// one conversion for eight), then the blocks' values, row after row.
//
// maddubs and VNNI need one unsigned operand. The tiles take |w| and move w's sign
// onto x: two sign operations per block, row and token. Here x's sign moves
// onto w instead — |x| once per block and token for all rows, one sign
// operation per block, row and token (+11 % in L2 on Zen 1) — which is exact
// unless w is -128 (its negation does not fit a byte). No quantizer writes
// -128, but a file may hold it: rows that do are refused at repacking and
// stay with the tiles. The lanes' integers are the tiles' (exact either
// way), and the scale products and multiply-adds are the same in the same
// order, so the bits are the same.
//
// A panel, per group of c <= 8 blocks:
//   row r's c f16 scales, for r = 0..3                 8c bytes
//   per block, per row: its 32 values                128c bytes
// 136c bytes: exactly the four rows' c blocks.
//
// Included only by kernels/arch/avx2.cpp and avxvnni.cpp.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "kernels/arch/x86_256.hpp"
#include "kernels/blocks.hpp"
#include "kernels/type_traits.hpp"

namespace ullm::kernels::simd {
namespace {

inline constexpr int kQ8_0PanelRows = 4;
inline constexpr int kQ8_0Group = kScaleBatch;

bool repack_q8_0_rows(int64_t n, const std::byte* w, size_t w_stride, int64_t rows, std::byte* out) {
  const __m256i min_value = _mm256_set1_epi8(-128);
  __m256i has_min = _mm256_setzero_si256();
  const auto group = [&](const BlockQ8_0* const(&row)[kQ8_0PanelRows], int64_t first, int count) {
    for (int r = 0; r < kQ8_0PanelRows; ++r) {
      for (int j = 0; j < count; ++j, out += 2) std::memcpy(out, &row[r][first + j].d, 2);
    }
    for (int j = 0; j < count; ++j) {
      for (int r = 0; r < kQ8_0PanelRows; ++r, out += kQK8_0) {
        const __m256i v = load_256(row[r][first + j].qs);
        has_min = _mm256_or_si256(has_min, _mm256_cmpeq_epi8(v, min_value));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), v);
      }
    }
  };
  for_each_q8_0_group<kQ8_0PanelRows, kQ8_0Group>(n, w, w_stride, rows, group);
  return _mm256_testz_si256(has_min, has_min) != 0;
}

// `Tokens` tokens from `first_token` through one repacked panel of `blocks`
// blocks a row: tile_256's loop over the panel's stream.
template <__m256i (*U8S8)(__m256i, __m256i, __m256i), int Tokens>
void q8_0_panel_pass(const std::byte* in, int64_t blocks, const PanelActivations& x, int64_t first_token, float* out,
                     int64_t out_stride) {
  constexpr int kRows = kQ8_0PanelRows;
  const BlockQ8_0* xr[Tokens];
  const float* xd[Tokens];  // the activation blocks' scales as floats
  for (int t = 0; t < Tokens; ++t) {
    xr[t] = reinterpret_cast<const BlockQ8_0*>(x.rows + static_cast<size_t>(first_token + t) * x.stride);
    xd[t] = x.scales + (first_token + t) * blocks;
  }
  __m256 acc[kRows][Tokens];  // (every loop over them unrolled: see zero_lanes)
  zero_lanes(acc);
  for (int64_t first = 0; first < blocks; first += kQ8_0Group) {
    const int count = static_cast<int>(std::min<int64_t>(kQ8_0Group, blocks - first));
    const auto* wd = reinterpret_cast<const uint16_t*>(in);  // row r's scales at wd + r * count
    alignas(32) float scale[kRows][Tokens][kQ8_0Group];
    if (count == kQ8_0Group) {
      for (int r = 0; r < kRows; ++r) {
        const __m256 w_scales = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wd + r * count)));
        for (int t = 0; t < Tokens; ++t) {
          _mm256_store_ps(scale[r][t], _mm256_mul_ps(w_scales, _mm256_loadu_ps(xd[t] + first)));
        }
      }
    } else {
      for (int r = 0; r < kRows; ++r) {
        for (int t = 0; t < Tokens; ++t) {
          for (int j = 0; j < count; ++j) scale[r][t][j] = _cvtsh_ss(wd[r * count + j]) * xd[t][first + j];
        }
      }
    }
    in += kRows * count * sizeof(uint16_t);
    for (int j = 0; j < count; ++j, in += kRows * kQK8_0) {
      // One stream: the lines kStreamAheadBytes ahead (a block
      // column is two lines; into L2, as that stream asked when this was
      // measured).
      _mm_prefetch(reinterpret_cast<const char*>(in) + kStreamAheadBytes, _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(in) + kStreamAheadBytes + 64, _MM_HINT_T1);
      __m256i x_signs[Tokens], x_magnitudes[Tokens];
      for (int t = 0; t < Tokens; ++t) {
        x_signs[t] = load_256(xr[t][first + j].qs);
        x_magnitudes[t] = _mm256_sign_epi8(x_signs[t], x_signs[t]);
      }
#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r) {
        const __m256i wv = load_256(in + r * kQK8_0);
#pragma GCC unroll 8
        for (int t = 0; t < Tokens; ++t) {
          const __m256i lanes_int = U8S8(_mm256_setzero_si256(), x_magnitudes[t], _mm256_sign_epi8(wv, x_signs[t]));
          const __m256 lanes = _mm256_cvtepi32_ps(lanes_int);
          acc[r][t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&scale[r][t][j]), lanes, acc[r][t]);
        }
      }
    }
  }
  store_lane_sums(acc, out + first_token * out_stride, out_stride);
}

// Every token through every panel: pairs of tokens share each block's
// values (the tiles' 4 x 2), a last odd token goes alone.
template <__m256i (*U8S8)(__m256i, __m256i, __m256i)>
void repacked_q8_0_gemm(int64_t n, const std::byte* w, size_t, int64_t rows, const PanelActivations& x, float* out,
                        int64_t out_stride) {
  const int64_t blocks = n / kQK8_0;
  const size_t panel_bytes = static_cast<size_t>(blocks) * kQ8_0PanelRows * sizeof(BlockQ8_0);
  for (int64_t r0 = 0; r0 + kQ8_0PanelRows <= rows; r0 += kQ8_0PanelRows) {
    const std::byte* panel = w + static_cast<size_t>(r0 / kQ8_0PanelRows) * panel_bytes;
    int64_t t = 0;
    for (; t + 2 <= x.tokens; t += 2) q8_0_panel_pass<U8S8, 2>(panel, blocks, x, t, out + r0, out_stride);
    if (t < x.tokens) q8_0_panel_pass<U8S8, 1>(panel, blocks, x, t, out + r0, out_stride);
  }
}

// Repacked only: without the copy, the row tiles read the file.
template <__m256i (*U8S8)(__m256i, __m256i, __m256i)>
constexpr PanelKernel q8_0_repacked_kernel() {
  return {.rows = kQ8_0PanelRows,
          .input = PanelInput::kBlockSums,
          .sum_factor = 0,
          .fn = nullptr,
          .repack = repack_q8_0_rows,
          .repacked = repacked_q8_0_gemm<U8S8>};
}

}  // namespace
}  // namespace ullm::kernels::simd
