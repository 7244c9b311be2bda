// Q8_0 panels for the AVX-512 target, in Q8_0's per-lane order.
//
// Q8_0 adds its sums as llama.cpp's x86 kernels do: per block, eight int32
// lanes of four byte products each, converted and added into eight float
// lanes with the block's scale product; the lanes are summed at the end. The
// row tiles (x86_256.hpp) spend a 256-bit dot product, a conversion and a
// multiply-add per block, row and token, plus a sign fix-up. Here rows are
// repacked (per call for 32 tokens or more, or once at load for models that
// fit in cache) into panels of eight rows as four row pairs whose four-byte
// groups alternate (row 2p's group i in dword 2i, row 2p+1's in dword
// 2i+1), each byte stored as q + 128 so VNNI takes it unsigned.
// Against activations prepared with each group twice
// (PanelInput::kLanePairs), one 512-bit VNNI instruction started from -128
// times the groups' sums gives both rows' eight exact lanes; one conversion
// and one multiply-add with the pair's two scale products (one 64-bit
// broadcast load) add them. Same bits as the tiles, half the instructions
// per product.
//
// A panel, per group of c <= 8 blocks:
//   the pairs' scales: pair p's c (row 2p, row 2p+1) f16 pairs   16c bytes
//   per block, per pair: 64 bytes of alternating groups          256c bytes
// 272c bytes: exactly the eight rows' c blocks.
//
// Included only by kernels/arch/avx512.cpp.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "kernels/arch/x86_panel.hpp"
#include "kernels/blocks.hpp"
#include "kernels/simd/dot_simd.hpp"
#include "kernels/type_traits.hpp"

namespace ullm::kernels::simd {
namespace {

inline constexpr int kQ8_0PanelRows = 8;
inline constexpr int kQ8_0Pairs = kQ8_0PanelRows / 2;
// Blocks whose scale products are made together: 16 f16 scales a pair.
inline constexpr int kQ8_0Group = 8;
inline constexpr size_t kQ8_0PanelBlockBytes = kQ8_0PanelRows * sizeof(BlockQ8_0);
// Repacked weights that stay in L2 while tokens pass over them.
inline constexpr size_t kQ8_0SpanBytes = size_t{128} << 10;

// In decode, weight loads ask for the line kStreamAheadBytes ahead into L1,
// the scales' lines too, as RepackedSource does (a panel is one stream; with
// several tokens a span is read from L2 again and again). 24 KiB ahead into
// L2 before: L2-resident decode 162 against 224 GOP/s, from memory 31-32
// against 33-34 GB/s (Zen 5).

bool repack_q8_0_pairs(int64_t n, const std::byte* w, size_t w_stride, int64_t rows, std::byte* out) {
  const __m256i to_unsigned = _mm256_set1_epi8(static_cast<char>(0x80));
  const auto group = [&](const BlockQ8_0* const(&row)[kQ8_0PanelRows], int64_t first, int count) {
    for (int p = 0; p < kQ8_0Pairs; ++p) {
      for (int j = 0; j < count; ++j) {
        for (int h = 0; h < 2; ++h, out += 2) std::memcpy(out, &row[2 * p + h][first + j].d, 2);
      }
    }
    for (int j = 0; j < count; ++j) {
      for (int p = 0; p < kQ8_0Pairs; ++p, out += 64) {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row[2 * p][first + j].qs));
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row[2 * p + 1][first + j].qs));
        // Unpacking stays within 128-bit halves: groups 0 1 | 4 5 and 2 3 | 6 7.
        const __m256i low = _mm256_unpacklo_epi32(a, b), high = _mm256_unpackhi_epi32(a, b);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                            _mm256_xor_si256(_mm256_permute2x128_si256(low, high, 0x20), to_unsigned));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32),
                            _mm256_xor_si256(_mm256_permute2x128_si256(low, high, 0x31), to_unsigned));
      }
    }
  };
  for_each_q8_0_group<kQ8_0PanelRows, kQ8_0Group>(n, w, w_stride, rows, group);
  return true;
}

// Two rows' sums of eight lanes held alternately (row A's lane i in lane
// 2i, row B's in 2i + 1), each reduced as reduce_8 does: halves, then
// (l0 + l2) + (l1 + l3). Returns (A, B) in the low two floats.
inline __m128 reduce_8_pairs(__m512 v) {
  const __m256 halves =
      _mm256_add_ps(_mm512_maskz_extractf32x8_ps(0xff, v, 1), _mm512_maskz_extractf32x8_ps(0xff, v, 0));
  const __m128 quarters = _mm_add_ps(_mm256_extractf128_ps(halves, 1), _mm256_castps256_ps128(halves));
  return _mm_add_ps(quarters, _mm_movehl_ps(quarters, quarters));
}

// `Tokens` tokens from `first_token` through one repacked panel.
template <int Tokens>
void q8_0_pairs_pass(const std::byte* panel, int64_t blocks, const PanelActivations& x, int64_t first_token, float* out,
                     int64_t out_stride) {
  __m512 acc[kQ8_0Pairs][Tokens];
  for (auto& pair : acc) {
    for (auto& a : pair) a = _mm512_setzero_ps();
  }
  const std::byte* lanes[Tokens];
  const float* scales[Tokens];
  for (int t = 0; t < Tokens; ++t) {
    lanes[t] = x.lanes + static_cast<size_t>(first_token + t) * x.lanes_stride;
    scales[t] = x.scales + 2 * (first_token + t) * blocks;
  }
  // Each pair's scale products for a group of blocks, rounded to float as
  // the one-row kernel rounds them: (row 2p, row 2p+1) per block. Made a
  // group ahead: loads right after the stores would wait for them (measured
  // 1.45x slower on Zen 5).
  using Products = float[kQ8_0Pairs][Tokens][2 * kQ8_0Group];
  alignas(64) Products products[2];
  const auto make_products = [&](int64_t first, const std::byte* group, Products& into) {
    for (int line = 0; line < 2 && Tokens == 1; ++line) {
      _mm_prefetch(reinterpret_cast<const char*>(group) + kStreamAheadBytes + 64 * line, _MM_HINT_T0);
    }
    const int count = static_cast<int>(std::min<int64_t>(kQ8_0Group, blocks - first));
    const auto valid = static_cast<__mmask16>((1u << (2 * count)) - 1);
    __m512 x_scales[Tokens];
    for (int t = 0; t < Tokens; ++t) x_scales[t] = _mm512_maskz_loadu_ps(valid, scales[t] + 2 * first);
    for (int pair = 0; pair < kQ8_0Pairs; ++pair) {
      const __m512 w_scales = _mm512_maskz_cvtph_ps(0xffff, _mm256_maskz_loadu_epi16(valid, group + 4 * count * pair));
      for (int t = 0; t < Tokens; ++t) _mm512_store_ps(into[pair][t], _mm512_mul_ps(w_scales, x_scales[t]));
    }
  };
  const std::byte* p = panel;
  make_products(0, p, products[0]);
  for (int64_t first = 0, group = 0; first < blocks; first += kQ8_0Group, ++group) {
    const int count = static_cast<int>(std::min<int64_t>(kQ8_0Group, blocks - first));
    const std::byte* next = p + count * kQ8_0PanelBlockBytes;
    if (first + kQ8_0Group < blocks) make_products(first + kQ8_0Group, next, products[(group + 1) % 2]);
    const Products& current = products[group % 2];
    p += 4 * count * kQ8_0Pairs;
    for (int j = 0; j < count; ++j, p += 64 * kQ8_0Pairs) {
      const size_t at = static_cast<size_t>(first + j) * 128;
      __m512i xq[Tokens], start[Tokens];
      for (int t = 0; t < Tokens; ++t) {
        xq[t] = _mm512_loadu_si512(lanes[t] + at);
        start[t] = _mm512_loadu_si512(lanes[t] + at + 64);
      }
      for (int pair = 0; pair < kQ8_0Pairs; ++pair) {
        if constexpr (Tokens == 1) {
          _mm_prefetch(reinterpret_cast<const char*>(p + 64 * pair) + kStreamAheadBytes, _MM_HINT_T0);
        }
        const __m512i w = _mm512_loadu_si512(p + 64 * pair);
        for (int t = 0; t < Tokens; ++t) {
          double two_scales;  // the pair's two products, one 64-bit broadcast
          std::memcpy(&two_scales, &current[pair][t][2 * j], sizeof two_scales);
          const __m512 lane_sums = _mm512_maskz_cvtepi32_ps(0xffff, _mm512_dpbusd_epi32(start[t], w, xq[t]));
          acc[pair][t] = _mm512_fmadd_ps(_mm512_castpd_ps(_mm512_set1_pd(two_scales)), lane_sums, acc[pair][t]);
        }
      }
    }
  }
  for (int pair = 0; pair < kQ8_0Pairs; ++pair) {
    for (int t = 0; t < Tokens; ++t) {
      float* y = out + (first_token + t) * out_stride + 2 * pair;
      _mm_storel_pi(reinterpret_cast<__m64*>(y), reduce_8_pairs(acc[pair][t]));
    }
  }
}

// Passes of up to four tokens (16 accumulators) over `count` panels from
// `panel`, of `blocks` blocks each, into rows from `out`.
void q8_0_pairs_span(const std::byte* panel, int64_t count, int64_t blocks, const PanelActivations& x, float* out,
                     int64_t out_stride) {
  const size_t panel_bytes = static_cast<size_t>(blocks) * kQ8_0PanelBlockBytes;
  token_passes<4>(x.tokens, [&]<int Tokens>(int64_t t) {
    for (int64_t i = 0; i < count; ++i) {
      q8_0_pairs_pass<Tokens>(panel + static_cast<size_t>(i) * panel_bytes, blocks, x, t, out + i * kQ8_0PanelRows,
                              out_stride);
    }
  });
}

// Panels in spans whose weights stay in L2 while tokens pass over them, so
// the tokens' activations stay in L1 and only weights move from L2
// (activations are the larger per block: each value twice, plus the sums).
int64_t q8_0_span_panels(int64_t blocks) {
  return std::max<int64_t>(1, static_cast<int64_t>(kQ8_0SpanBytes / (blocks * kQ8_0PanelBlockBytes)));
}

// Weights repacked at load.
void q8_0_pairs_repacked(int64_t n, const std::byte* w, size_t, int64_t rows, const PanelActivations& x, float* out,
                         int64_t out_stride) {
  const int64_t blocks = n / kQK8_0;
  const int64_t panels = rows / kQ8_0PanelRows, span = q8_0_span_panels(blocks);
  for (int64_t first = 0; first < panels; first += span) {
    q8_0_pairs_span(w + static_cast<size_t>(first * blocks) * kQ8_0PanelBlockBytes, std::min(panels - first, span),
                    blocks, x, out + first * kQ8_0PanelRows, out_stride);
  }
}

// Mapped rows: each span repacked into a buffer first. That costs about as
// much as one token's products, so this serves many tokens
// (PanelKernel::min_tokens).
void q8_0_pairs_gemm(int64_t n, const std::byte* w, size_t w_stride, int64_t rows, const PanelActivations& x,
                     float* out, int64_t out_stride) {
  const int64_t blocks = n / kQK8_0;
  const int64_t panels = rows / kQ8_0PanelRows, span = q8_0_span_panels(blocks);
  std::vector<std::byte> repacked(static_cast<size_t>(std::min(span, panels) * blocks) * kQ8_0PanelBlockBytes);
  for (int64_t first = 0; first < panels; first += span) {
    const int64_t count = std::min(panels - first, span);
    repack_q8_0_pairs(n, w + static_cast<size_t>(first * kQ8_0PanelRows) * w_stride, w_stride, count * kQ8_0PanelRows,
                      repacked.data());
    q8_0_pairs_span(repacked.data(), count, blocks, x, out + first * kQ8_0PanelRows, out_stride);
  }
}

// Repacked at load only where the weights stay in cache: there decode from
// the panels is compute-bound and 1.2-1.8x the row tiles (a stories15M-shape
// model in L3); from DRAM it came out 5-10 % below the row tiles, which
// prefetch four rows' next tile (see docs/design.md).
constexpr PanelKernel q8_0_panel_kernel() {
  return {.rows = kQ8_0PanelRows,
          .input = PanelInput::kLanePairs,
          .min_tokens = 32,
          .fn = q8_0_pairs_gemm,
          .repack = repack_q8_0_pairs,
          .repacked = q8_0_pairs_repacked,
          .repack_if_cached = true};
}

}  // namespace
}  // namespace ullm::kernels::simd
