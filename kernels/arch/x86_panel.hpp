// Panel GEMM kernels for many tokens (prefill) on the AVX2 and AVX-512
// targets: Q4_0 weights against Q8_0 activations.
//
// Row-at-a-time kernels (x86_256.hpp) leave each block's products spread over
// eight int32 lanes, so every block of every row and token costs a
// conversion and a fused multiply-add for 32 products. Here a panel of rows
// (one per 32-bit lane: 16 with AVX-512, 8 with AVX2) is repacked so that
// lane r holds four consecutive values of row r; a block's integer dot
// product then completes inside its lane, from one activation broadcast per
// four values, and the conversion and multiply-add serve a whole panel.
// ggml repacks weights this way once at load (its Q4_0_8x8 layout), which
// costs seconds of start-up and a second copy of the weights; here a chunk
// of a panel is repacked into a stack buffer and reused by every token.
// Measured on Zen 5 (AVX-512), 512 tokens through 5632x2048: 2.5x the
// row-at-a-time tiles.
//
// Q8_0 has no panel kernel: one float per block changes the order of its
// sums, and llama.cpp (which does not repack Q8_0 on x86) adds them per
// lane as ullm's tiles do, so Q8_0 matches it bit for bit that way.
//
// Included only by kernels/arch/avx2.cpp and avx512.cpp; everything has
// internal linkage, and each file gets the variant its flags allow.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "kernels/blocks.hpp"
#include "kernels/type_traits.hpp"

namespace ullm::kernels::simd {
namespace {

inline __m128i load_128(const std::byte* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// Four activation bytes as one int32, to broadcast to every lane.
inline int32_t four_bytes(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

#ifdef __AVX512F__
// 16 rows a panel; 8 tokens a pass keep 8 packed groups and 8 accumulators in
// 32 registers.
// (The zero-masking forms: GCC 12 warns falsely about the plain ones.)
struct PanelIsa {
  using Int = __m512i;
  using Float = __m512;
  static constexpr int kRows = 16;
  static constexpr int kTokens = 8;
  // 128-bit lane j holds the 16 bytes at at[j].
  static Int lanes_128(const std::byte* const (&at)[4]) {
    Int v = _mm512_zextsi128_si512(load_128(at[0]));
    v = _mm512_inserti32x4(v, load_128(at[1]), 1);
    v = _mm512_inserti32x4(v, load_128(at[2]), 2);
    return _mm512_inserti32x4(v, load_128(at[3]), 3);
  }
  static Int unpack_lo_32(Int a, Int b) { return _mm512_maskz_unpacklo_epi32(0xffff, a, b); }
  static Int unpack_hi_32(Int a, Int b) { return _mm512_maskz_unpackhi_epi32(0xffff, a, b); }
  static Int unpack_lo_64(Int a, Int b) { return _mm512_maskz_unpacklo_epi64(0xff, a, b); }
  static Int unpack_hi_64(Int a, Int b) { return _mm512_maskz_unpackhi_epi64(0xff, a, b); }
  static Int bytes(int v) { return _mm512_set1_epi8(static_cast<char>(v)); }
  static Int low_nibbles(Int v) { return _mm512_and_si512(v, bytes(0x0f)); }
  static Int high_nibbles(Int v) { return _mm512_and_si512(_mm512_maskz_srli_epi32(0xffff, v, 4), bytes(0x0f)); }
  static Int splat(int32_t v) { return _mm512_set1_epi32(v); }
  static Float to_float(Int v) { return _mm512_maskz_cvtepi32_ps(0xffff, v); }
  static Float splat(float v) { return _mm512_set1_ps(v); }
  static Float zero() { return _mm512_setzero_ps(); }
  static Float load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Float v) { _mm512_storeu_ps(p, v); }
  static Float mul(Float a, Float b) { return _mm512_mul_ps(a, b); }
  static Float fma(Float a, Float b, Float c) { return _mm512_fmadd_ps(a, b, c); }
};
#else
// 8 rows a panel; 4 tokens a pass (16 registers: the packed groups are
// reloaded from L1 as needed).
struct PanelIsa {
  using Int = __m256i;
  using Float = __m256;
  static constexpr int kRows = 8;
  static constexpr int kTokens = 4;
  static Int lanes_128(const std::byte* const (&at)[2]) { return _mm256_set_m128i(load_128(at[1]), load_128(at[0])); }
  static Int unpack_lo_32(Int a, Int b) { return _mm256_unpacklo_epi32(a, b); }
  static Int unpack_hi_32(Int a, Int b) { return _mm256_unpackhi_epi32(a, b); }
  static Int unpack_lo_64(Int a, Int b) { return _mm256_unpacklo_epi64(a, b); }
  static Int unpack_hi_64(Int a, Int b) { return _mm256_unpackhi_epi64(a, b); }
  static Int bytes(int v) { return _mm256_set1_epi8(static_cast<char>(v)); }
  static Int low_nibbles(Int v) { return _mm256_and_si256(v, bytes(0x0f)); }
  static Int high_nibbles(Int v) { return _mm256_and_si256(_mm256_srli_epi32(v, 4), bytes(0x0f)); }
  static Int splat(int32_t v) { return _mm256_set1_epi32(v); }
  static Float to_float(Int v) { return _mm256_cvtepi32_ps(v); }
  static Float splat(float v) { return _mm256_set1_ps(v); }
  static Float zero() { return _mm256_setzero_ps(); }
  static Float load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Float v) { _mm256_storeu_ps(p, v); }
  static Float mul(Float a, Float b) { return _mm256_mul_ps(a, b); }
  static Float fma(Float a, Float b, Float c) { return _mm256_fmadd_ps(a, b, c); }
};
#endif

using Int = PanelIsa::Int;
constexpr int kPanelRows = PanelIsa::kRows;

// The 16 bytes at `offset` in block b of each panel row, transposed to four
// vectors: out[g] lane r holds bytes 4g..4g+3 of row r's chunk. Rows are
// gathered r, r+4, r+8, ... per 128-bit lane, so a 4x4 transpose inside each
// 128-bit lane leaves the rows in lane order.
template <class Block>
void transpose_chunk(const std::byte* w, size_t w_stride, int64_t b, size_t offset, Int (&out)[4]) {
  constexpr int kLanes128 = kPanelRows / 4;
  Int z[4];
  for (int q = 0; q < 4; ++q) {
    const std::byte* at[kLanes128];
    for (int j = 0; j < kLanes128; ++j) {
      at[j] = w + static_cast<size_t>(q + 4 * j) * w_stride + static_cast<size_t>(b) * sizeof(Block) + offset;
    }
    z[q] = PanelIsa::lanes_128(at);
  }
  const Int t0 = PanelIsa::unpack_lo_32(z[0], z[1]), t1 = PanelIsa::unpack_hi_32(z[0], z[1]);
  const Int t2 = PanelIsa::unpack_lo_32(z[2], z[3]), t3 = PanelIsa::unpack_hi_32(z[2], z[3]);
  out[0] = PanelIsa::unpack_lo_64(t0, t2);
  out[1] = PanelIsa::unpack_hi_64(t0, t2);
  out[2] = PanelIsa::unpack_lo_64(t1, t3);
  out[3] = PanelIsa::unpack_hi_64(t1, t3);
}

// Each format packs one block of a panel as eight groups of four values per
// lane and takes its integer dot product with a token's activation block,
// starting from `start` (sum_factor times the activation sum).

// Q4_0: the nibbles q as unsigned bytes; sum (q - 8) x = sum q x - 8 sum x.
struct PanelQ4_0 {
  using Block = BlockQ4_0;
  static constexpr int32_t kSumFactor = -8;
  struct Packed {
    Int q[8];
  };
  static void pack(const std::byte* w, size_t w_stride, int64_t b, Packed& p) {
    Int u[4];
    transpose_chunk<Block>(w, w_stride, b, offsetof(Block, qs), u);
    for (int g = 0; g < 4; ++g) {
      p.q[g] = PanelIsa::low_nibbles(u[g]);       // values 4g..4g+3
      p.q[g + 4] = PanelIsa::high_nibbles(u[g]);  // values 16+4g..16+4g+3
    }
  }
#ifdef __AVX512F__
  static Int dot(const Packed& p, const int8_t* x, Int start) {
    Int s = start;
    for (int g = 0; g < 8; ++g) s = _mm512_dpbusd_epi32(s, p.q[g], PanelIsa::splat(four_bytes(x + 4 * g)));
    return s;
  }
#else
  // Pairs of nibble-times-byte products stay within 16 bits even summed over
  // all eight groups (8 * 2 * 15 * 128 < 2^15), so one widening per block.
  static Int dot(const Packed& p, const int8_t* x, Int start) {
    __m256i pairs = _mm256_maddubs_epi16(p.q[0], PanelIsa::splat(four_bytes(x)));
    for (int g = 1; g < 8; ++g) {
      pairs = _mm256_add_epi16(pairs, _mm256_maddubs_epi16(p.q[g], PanelIsa::splat(four_bytes(x + 4 * g))));
    }
    return _mm256_add_epi32(start, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
#endif
};

// Blocks of a panel repacked at a time: 64 blocks of 16 rows take 36 KiB of
// stack (L1-sized, and a stack buffer needs no allocation per call).
inline constexpr int kPanelChunk = 64;

template <class Format>
struct PanelChunk {
  typename Format::Packed blocks[kPanelChunk];
  alignas(64) float scales[kPanelChunk][kPanelRows];
};

// `Tokens` tokens from `first_token` through the packed blocks [first,
// first + count), their sums continuing from out (or from zero if `start`).
template <class Format, int Tokens>
void panel_pass(const PanelChunk<Format>& chunk, int64_t first, int count, const PanelActivations& x,
                int64_t first_token, int64_t blocks_per_row, bool start, float* out, int64_t out_stride) {
  using Float = PanelIsa::Float;
  Float acc[Tokens];
  const BlockQ8_0* xb[Tokens];
  for (int t = 0; t < Tokens; ++t) {
    acc[t] = start ? PanelIsa::zero() : PanelIsa::load(out + (first_token + t) * out_stride);
    xb[t] = reinterpret_cast<const BlockQ8_0*>(x.rows + static_cast<size_t>(first_token + t) * x.stride);
  }
  for (int j = 0; j < count; ++j) {
    const int64_t b = first + j;
    const typename Format::Packed packed = chunk.blocks[j];
    const Float wd = PanelIsa::load(chunk.scales[j]);
    for (int t = 0; t < Tokens; ++t) {
      const int64_t at = (first_token + t) * blocks_per_row + b;
      const Int sum = Format::dot(packed, xb[t][b].qs, PanelIsa::splat(x.sums[at]));
      acc[t] = PanelIsa::fma(PanelIsa::to_float(sum), PanelIsa::mul(wd, PanelIsa::splat(x.scales[at])), acc[t]);
    }
  }
  for (int t = 0; t < Tokens; ++t) PanelIsa::store(out + (first_token + t) * out_stride, acc[t]);
}

template <class Format>
void panel_gemm(int64_t n, const std::byte* w, size_t w_stride, int64_t rows, const PanelActivations& x, float* out,
                int64_t out_stride) {
  using Block = typename Format::Block;
  const int64_t blocks = n / kQK8_0;
  PanelChunk<Format> chunk;
  for (int64_t r0 = 0; r0 + kPanelRows <= rows; r0 += kPanelRows) {
    const std::byte* panel = w + static_cast<size_t>(r0) * w_stride;
    for (int64_t first = 0; first < blocks; first += kPanelChunk) {
      const int count = static_cast<int>(std::min<int64_t>(kPanelChunk, blocks - first));
      for (int j = 0; j < count; ++j) {
        Format::pack(panel, w_stride, first + j, chunk.blocks[j]);
        for (int r = 0; r < kPanelRows; ++r) {
          const auto* block = reinterpret_cast<const Block*>(panel + static_cast<size_t>(r) * w_stride) + first + j;
          chunk.scales[j][r] = _cvtsh_ss(block->d);
        }
      }
      const bool start = first == 0;
      float* panel_out = out + r0;
      int64_t t = 0;
      for (; t + PanelIsa::kTokens <= x.tokens; t += PanelIsa::kTokens) {
        panel_pass<Format, PanelIsa::kTokens>(chunk, first, count, x, t, blocks, start, panel_out, out_stride);
      }
      // The last few tokens in passes of halving size.
      for (int size = PanelIsa::kTokens / 2; size >= 1; size /= 2) {
        if (x.tokens - t < size) continue;
        if (size == 4) panel_pass<Format, 4>(chunk, first, count, x, t, blocks, start, panel_out, out_stride);
        if (size == 2) panel_pass<Format, 2>(chunk, first, count, x, t, blocks, start, panel_out, out_stride);
        if (size == 1) panel_pass<Format, 1>(chunk, first, count, x, t, blocks, start, panel_out, out_stride);
        t += size;
      }
    }
  }
}

template <class Format>
constexpr PanelKernel panel_kernel() {
  return {kPanelRows, Format::kSumFactor, panel_gemm<Format>};
}

}  // namespace
}  // namespace ullm::kernels::simd
