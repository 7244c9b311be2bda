// 256-bit integer block kernels shared by the AVX2 and AVX-512 targets.
// Included only by kernels/arch/avx2.cpp and avx512.cpp, each compiled with
// its own flags; everything here has internal linkage so the two copies
// never mix.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/blocks.hpp"
#include "kernels/simd/dot_simd.hpp"

namespace ullm::kernels::simd {
namespace {

// Integer dot products of one 32-byte block as eight int32 lanes, each the
// sum of four adjacent byte products, with `U8S8` supplying that for an
// unsigned left and a signed right operand (maddubs+madd, or VNNI).
inline __m256i u8s8_maddubs(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

inline __m256i load_256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// The 32 low nibbles of a Q4/Q5 block in element order: the 16 bytes loaded
// into both halves (a load, no shuffle), the upper half shifted by 4.
inline __m256i nibbles_256(const uint8_t* qs) {
  const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  return _mm256_and_si256(_mm256_srlv_epi32(both, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(0x0f));
}

// 0x10 in byte j where bit j of the 32-bit qh is set (Q5's fifth bits).
inline __m256i fifth_bits_256(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  // Bytes 0-7 take qh's byte 0, 8-15 byte 1, ... (the shuffle stays within 128-bit halves).
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(h)),
      _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

// Q8_0 weights are signed: the sign trick moves w's sign onto x. The
// activation side never holds -128 (the Q8_0 quantizer stays in [-127, 127]).
template <__m256i (*U8S8)(__m256i, __m256i)>
struct Q8_0Weights {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr bool kOffset = false;
  struct Values {
    __m256i signs, magnitudes;
  };
  static __m256i per_token(__m256i) { return _mm256_setzero_si256(); }
  static Values values(const Block& w) {
    const __m256i v = load_256(w.qs);
    return {v, _mm256_sign_epi8(v, v)};
  }
  static __m256i lanes(const Values& w, __m256i x, __m256i) { return U8S8(w.magnitudes, _mm256_sign_epi8(x, w.signs)); }
};

// Q4_0 weights are nibbles q in [0, 15] standing for q - 8: sum (q - 8) x is
// sum q x minus 8 sum x, and 8 sum x is computed once per activation block.
template <__m256i (*U8S8)(__m256i, __m256i)>
struct Q4_0Weights {
  using Block = BlockQ4_0;
  using Act = BlockQ8_0;
  static constexpr bool kOffset = false;
  using Values = __m256i;
  static __m256i per_token(__m256i x) { return _mm256_slli_epi32(U8S8(_mm256_set1_epi8(1), x), 3); }
  static Values values(const Block& w) { return nibbles_256(w.qs); }
  static __m256i lanes(const Values& nibbles, __m256i x, __m256i eight_sum_x) {
    return _mm256_sub_epi32(U8S8(nibbles, x), eight_sum_x);
  }
};

// Q5_0: q in [0, 31] standing for q - 16, handled like Q4_0.
template <__m256i (*U8S8)(__m256i, __m256i)>
struct Q5_0Weights {
  using Block = BlockQ5_0;
  using Act = BlockQ8_0;
  static constexpr bool kOffset = false;
  using Values = __m256i;
  static __m256i per_token(__m256i x) { return _mm256_slli_epi32(U8S8(_mm256_set1_epi8(1), x), 4); }
  static Values values(const Block& w) { return _mm256_or_si256(nibbles_256(w.qs), fifth_bits_256(w.qh)); }
  static __m256i lanes(const Values& q, __m256i x, __m256i sixteen_sum_x) {
    return _mm256_sub_epi32(U8S8(q, x), sixteen_sum_x);
  }
};

// Q4_1 and Q5_1: unsigned q times x; the offsets m are added through the
// activation sums s, apart from the lanes.
template <__m256i (*U8S8)(__m256i, __m256i), class B>
struct OffsetWeights {
  using Block = B;
  using Act = BlockQ8_1;
  static constexpr bool kOffset = true;
  using Values = __m256i;
  static __m256i per_token(__m256i) { return _mm256_setzero_si256(); }
  static Values values(const Block& w) {
    if constexpr (std::is_same_v<B, BlockQ5_1>) {
      return _mm256_or_si256(nibbles_256(w.qs), fifth_bits_256(w.qh));
    } else {
      return nibbles_256(w.qs);
    }
  }
  static __m256i lanes(const Values& q, __m256i x, __m256i) { return U8S8(q, x); }
};

// One row: blocks in order into one 8-lane accumulator.
template <class Weights>
float dot_256(int64_t n, const std::byte* wp, const std::byte* xp) {
  const auto* w = reinterpret_cast<const typename Weights::Block*>(wp);
  const auto* x = reinterpret_cast<const typename Weights::Act*>(xp);
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0.0f;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    if constexpr (Weights::kOffset) offsets = std::fma(_cvtsh_ss(w[b].m), _cvtsh_ss(x[b].s), offsets);
    const __m256i xv = load_256(x[b].qs);
    const __m256 lanes = _mm256_cvtepi32_ps(Weights::lanes(Weights::values(w[b]), xv, Weights::per_token(xv)));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d)), lanes, acc);
  }
  alignas(32) float out[8];
  _mm256_store_ps(out, acc);
  return reduce_8(out) + offsets;
}

// How far ahead of the weights being read to prefetch. A tile reads its rows
// side by side, which the hardware prefetcher follows poorly (measured on
// TinyLlama-1.1B Q4_0 decode: 11 -> 18 tokens/s on one thread); the rows lie
// next to each other (and the next tile's after them), so one region is
// prefetched at the rate the tile consumes it.
inline constexpr size_t kPrefetchDistance = 4096;

// `Rows` weight rows x `Tokens` activation rows, each product accumulated
// exactly as in the one-row kernel above (one 8-lane accumulator per pair,
// blocks in order); rows share activation loads, tokens share unpacking.
template <class Weights, int Rows, int Tokens>
void tile_256(int64_t n, const std::byte* wp, size_t w_stride, const std::byte* xp, size_t x_stride, float* out,
              int64_t out_stride) {
  using Block = typename Weights::Block;
  using Act = typename Weights::Act;
  const Block* w[Rows];
  const Act* x[Tokens];
  for (int r = 0; r < Rows; ++r) w[r] = reinterpret_cast<const Block*>(wp + r * w_stride);
  for (int t = 0; t < Tokens; ++t) x[t] = reinterpret_cast<const Act*>(xp + t * x_stride);
  __m256 acc[Rows][Tokens];
  float offsets[Rows][Tokens] = {};
  for (auto& row : acc) {
    for (auto& a : row) a = _mm256_setzero_ps();
  }
  const char* ahead = reinterpret_cast<const char*>(wp) + kPrefetchDistance;
  for (int64_t b = 0; b < n / kQK8_0; ++b, ahead += Rows * sizeof(Block)) {
    _mm_prefetch(ahead, _MM_HINT_T0);
    if constexpr (Rows * sizeof(Block) > 64) _mm_prefetch(ahead + 64, _MM_HINT_T0);
    __m256i xv[Tokens], xt[Tokens];
    __m256 xd[Tokens];
    for (int t = 0; t < Tokens; ++t) {
      xv[t] = load_256(x[t][b].qs);
      xt[t] = Weights::per_token(xv[t]);
      xd[t] = _mm256_set1_ps(_cvtsh_ss(x[t][b].d));
    }
    for (int r = 0; r < Rows; ++r) {
      const auto values = Weights::values(w[r][b]);
      const __m256 wd = _mm256_set1_ps(_cvtsh_ss(w[r][b].d));
      for (int t = 0; t < Tokens; ++t) {
        if constexpr (Weights::kOffset) {
          offsets[r][t] = std::fma(_cvtsh_ss(w[r][b].m), _cvtsh_ss(x[t][b].s), offsets[r][t]);
        }
        const __m256 lanes = _mm256_cvtepi32_ps(Weights::lanes(values, xv[t], xt[t]));
        acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(wd, xd[t]), lanes, acc[r][t]);
      }
    }
  }
  alignas(32) float lanes[8];
  for (int r = 0; r < Rows; ++r) {
    for (int t = 0; t < Tokens; ++t) {
      _mm256_store_ps(lanes, acc[r][t]);
      out[t * out_stride + r] = reduce_8(lanes) + offsets[r][t];
    }
  }
}

// kTileRows rows x 1..kTileTokens tokens, shaped to fit 16 registers: 4x1 and
// 4x2 for few tokens, two 2x4 (or 2x3) halves for more.
template <class Weights>
void dot_tile_256(int64_t n, const std::byte* w, size_t w_stride, const std::byte* x, size_t x_stride, int tokens,
                  float* out, int64_t out_stride) {
  static_assert(kTileRows == 4 && kTileTokens == 4);
  switch (tokens) {
    case 1:
      return tile_256<Weights, 4, 1>(n, w, w_stride, x, x_stride, out, out_stride);
    case 2:
      return tile_256<Weights, 4, 2>(n, w, w_stride, x, x_stride, out, out_stride);
    case 3:
      tile_256<Weights, 2, 3>(n, w, w_stride, x, x_stride, out, out_stride);
      return tile_256<Weights, 2, 3>(n, w + 2 * w_stride, w_stride, x, x_stride, out + 2, out_stride);
    default:
      tile_256<Weights, 2, 4>(n, w, w_stride, x, x_stride, out, out_stride);
      return tile_256<Weights, 2, 4>(n, w + 2 * w_stride, w_stride, x, x_stride, out + 2, out_stride);
  }
}

// Activations to Q8_0 exactly as the scalar quantizer does: the same amax,
// scale and reciprocal, the product rounded half to even.
void quantize_q8_0_256(const float* src, std::byte* dst, int64_t n) {
  auto* blocks = reinterpret_cast<BlockQ8_0*>(dst);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float* x = src + b * kQK8_0;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(x + 8 * i);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[i]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float max = _mm_cvtss_f32(m);
    const float id = max != 0.0f ? 127.0f / max : 0.0f;
    blocks[b].d = f32_to_f16(max / 127.0f);
    const __m256 scale = _mm256_set1_ps(id);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) {
      q[i] = _mm256_cvtps_epi32(
          _mm256_round_ps(_mm256_mul_ps(v[i], scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // Pack 32 int32 to 32 int8 in order (the packs interleave 128-bit halves).
    const __m256i q16a = _mm256_packs_epi32(q[0], q[1]);
    const __m256i q16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i q8 = _mm256_packs_epi16(q16a, q16b);
    const __m256i ordered = _mm256_permutevar8x32_epi32(q8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(blocks[b].qs), ordered);
  }
}

// K-quants against Q8_K. ggml's AVX2 kernels multiply bytes into 16-bit
// pairs (maddubs) and those by 16-bit sub-block scales (madd), giving eight
// int32 lanes of four products each; the values stay small enough that no
// step saturates, so these lanes equal the scalar reference's exactly.

// Prefetches the weights kPrefetchDistance bytes past a block being read.
template <typename Block>
void prefetch_block(const Block* block) {
  const char* ahead = reinterpret_cast<const char*>(block) + kPrefetchDistance;
  for (size_t line = 0; line < sizeof(Block); line += 64) _mm_prefetch(ahead + line, _MM_HINT_T0);
}

// Q4_K / Q5_K sub-block scales (bytes 0-7) and minimums (bytes 8-15).
inline __m128i k_scales_and_mins(const uint8_t* packed) {
  uint32_t a[3];
  std::memcpy(a, packed, 12);
  const uint32_t scales_low = a[0] & 0x3f3f3f3f, mins_low = a[1] & 0x3f3f3f3f;
  const uint32_t scales_high = (a[2] & 0x0f0f0f0f) | (((a[0] >> 6) & 0x03030303) << 4);
  const uint32_t mins_high = ((a[2] >> 4) & 0x0f0f0f0f) | (((a[1] >> 6) & 0x03030303) << 4);
  return _mm_setr_epi32(static_cast<int>(scales_low), static_cast<int>(scales_high), static_cast<int>(mins_low),
                        static_cast<int>(mins_high));
}

// sum over sub-block pairs k of m[2k] * chunk_sum[2k] + m[2k+1] * chunk_sum[2k+1],
// as four int32 lanes (chunk sums from the activation's 16-value sums).
inline __m128i k_min_pairs(__m128i scales_and_mins, const int16_t* bsums) {
  const __m256i sums = load_256(bsums);
  const __m128i chunk_sums = _mm_hadd_epi16(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
  return _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(scales_and_mins, 8)), chunk_sums);
}

// Unsigned values q (< 64) times signed activations, pairs times `scale`.
inline __m256i k_scaled_lanes(__m256i q, __m256i x, __m256i scale) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(q, x), scale);
}

template <bool FifthBit>
float dot_q4_or_q5_k_256(int64_t n, const std::byte* wp, const std::byte* xp) {
  using Block = std::conditional_t<FifthBit, BlockQ5_K, BlockQ4_K>;
  const auto* w = reinterpret_cast<const Block*>(wp);
  const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  __m256 acc = _mm256_setzero_ps();
  __m128 min_lanes = _mm_setzero_ps();
  float min_total = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    prefetch_block(&w[b]);
    const __m128i scales_and_mins = k_scales_and_mins(w[b].scales);
    alignas(16) uint8_t scales[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(scales), scales_and_mins);
    const __m128i min_pairs = k_min_pairs(scales_and_mins, x[b].bsums);
    const float dmin = -x[b].d * _cvtsh_ss(w[b].dmin);
    if constexpr (FifthBit) {
      const __m128i half = _mm_hadd_epi32(min_pairs, min_pairs);
      min_total = std::fma(dmin, static_cast<float>(_mm_cvtsi128_si32(_mm_hadd_epi32(half, half))), min_total);
    } else {
      min_lanes = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(min_pairs), min_lanes);
    }
    __m256i high_bits;
    if constexpr (FifthBit) high_bits = load_256(w[b].qh);
    __m256i sum = _mm256_setzero_si256();
    for (int j = 0; j < kQK_K / 64; ++j) {
      const __m256i packed = load_256(w[b].qs + 32 * j);
      __m256i q[2] = {_mm256_and_si256(packed, low4), _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4)};
      for (int h = 0; h < 2; ++h) {
        const int chunk = 2 * j + h;
        if constexpr (FifthBit) {
          const __m256i bit = _mm256_srl_epi16(high_bits, _mm_cvtsi32_si128(chunk));
          q[h] = _mm256_or_si256(q[h], _mm256_and_si256(_mm256_slli_epi16(bit, 4), _mm256_set1_epi8(0x10)));
        }
        sum = _mm256_add_epi32(sum, k_scaled_lanes(q[h], load_256(x[b].qs + 32 * chunk),
                                                   _mm256_set1_epi16(static_cast<int16_t>(scales[chunk]))));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(x[b].d * _cvtsh_ss(w[b].d)), _mm256_cvtepi32_ps(sum), acc);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  if constexpr (FifthBit) return reduce_8(lanes) + min_total;
  alignas(16) float mins[4];
  _mm_store_ps(mins, min_lanes);
  return reduce_8(lanes) + ((mins[0] + mins[2]) + (mins[1] + mins[3]));
}

float dot_q6_k_256(int64_t n, const std::byte* wp, const std::byte* xp) {
  const auto* w = reinterpret_cast<const BlockQ6_K*>(wp);
  const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
  const __m256i low4 = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    prefetch_block(&w[b]);
    __m256i sum = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const __m256i low_a = load_256(w[b].ql + 64 * half), low_b = load_256(w[b].ql + 64 * half + 32);
      const __m256i high = load_256(w[b].qh + 32 * half);
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(low_a, low4), _mm256_and_si256(_mm256_slli_epi16(high, 4), bits45)),
          _mm256_or_si256(_mm256_and_si256(low_b, low4), _mm256_and_si256(_mm256_slli_epi16(high, 2), bits45)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low_a, 4), low4), _mm256_and_si256(high, bits45)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low_b, 4), low4),
                          _mm256_and_si256(_mm256_srli_epi16(high, 2), bits45))};
      for (int k = 0; k < 4; ++k) {
        const int chunk = 4 * half + k;
        const __m256i xv = load_256(x[b].qs + 32 * chunk);
        // (q - 32) x per pair, as q x - 32 x (both fit in 16 bits).
        const __m256i pairs =
            _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], xv), _mm256_maddubs_epi16(_mm256_set1_epi8(32), xv));
        const __m256i scale =
            _mm256_set_m128i(_mm_set1_epi16(w[b].scales[2 * chunk + 1]), _mm_set1_epi16(w[b].scales[2 * chunk]));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, scale));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(x[b].d * _cvtsh_ss(w[b].d)), _mm256_cvtepi32_ps(sum), acc);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  return reduce_8(lanes);
}

// Installs the block-format kernels built on `U8S8` into a table.
template <__m256i (*U8S8)(__m256i, __m256i)>
void set_block_kernels(KernelTable& t) {
  for (size_t i = 0; i < kComputeTypes.size(); ++i) {
    TypeKernels& k = t.types[i];
    if (kComputeTypes[i] == DType::Q8_0) {
      k.from_float = quantize_q8_0_256;
      k.dot = k.dot_tiled = dot_256<Q8_0Weights<U8S8>>;
      k.dot_tile = dot_tile_256<Q8_0Weights<U8S8>>;
    }
    if (kComputeTypes[i] == DType::Q4_0) {
      k.dot = k.dot_tiled = dot_256<Q4_0Weights<U8S8>>;
      k.dot_tile = dot_tile_256<Q4_0Weights<U8S8>>;
    }
    if (kComputeTypes[i] == DType::Q5_0) {
      k.dot = k.dot_tiled = dot_256<Q5_0Weights<U8S8>>;
      k.dot_tile = dot_tile_256<Q5_0Weights<U8S8>>;
    }
    if (kComputeTypes[i] == DType::Q4_1) {
      k.dot = k.dot_tiled = dot_256<OffsetWeights<U8S8, BlockQ4_1>>;
      k.dot_tile = dot_tile_256<OffsetWeights<U8S8, BlockQ4_1>>;
    }
    if (kComputeTypes[i] == DType::Q5_1) {
      k.dot = k.dot_tiled = dot_256<OffsetWeights<U8S8, BlockQ5_1>>;
      k.dot_tile = dot_tile_256<OffsetWeights<U8S8, BlockQ5_1>>;
    }
    if (kComputeTypes[i] == DType::Q4_K) k.dot = k.dot_tiled = dot_q4_or_q5_k_256<false>;
    if (kComputeTypes[i] == DType::Q5_K) k.dot = k.dot_tiled = dot_q4_or_q5_k_256<true>;
    if (kComputeTypes[i] == DType::Q6_K) k.dot = k.dot_tiled = dot_q6_k_256;
  }
}

}  // namespace
}  // namespace ullm::kernels::simd
