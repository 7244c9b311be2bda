// 256-bit integer block kernels shared by the x86 targets with AVX2 (avx2,
// avxvnni, avx512). Included only by their files in kernels/arch/, each
// compiled with its own flags; everything here has internal linkage so the
// copies never mix.
#pragma once

#include <immintrin.h>
#include <algorithm>
#include <bit>

#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels/arch/x86_panel.hpp"
#include "kernels/blocks.hpp"
#include "kernels/simd/dot_simd.hpp"

namespace ullm::kernels::simd {
namespace {

// Integer dot products of one 32-byte block as eight int32 lanes, each the
// sum of four adjacent byte products, added to `acc`, with `U8S8` supplying
// that for an unsigned left and a signed right operand (maddubs+madd, or
// VNNI, which adds to its accumulator in the same instruction).
inline __m256i u8s8_maddubs(__m256i acc, __m256i u, __m256i s) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
#if ULLM_X86_VNNI
// The EVEX form with AVX-512 VL, the VEX form with AVX-VNNI: the same instruction.
inline __m256i u8s8_vnni(__m256i acc, __m256i u, __m256i s) {
#ifdef __AVX512VNNI__
  return _mm256_dpbusd_epi32(acc, u, s);
#else
  return _mm256_dpbusd_avx_epi32(acc, u, s);
#endif
}
#endif

// Eight lanes summed as reduce_8 does: halves, then (l0 + l2) + (l1 + l3).
inline float reduce_8_128(__m256 t) {
  const __m128 u = _mm_add_ps(_mm256_extractf128_ps(t, 1), _mm256_castps256_ps128(t));
  const __m128 pairs = _mm_add_ps(u, _mm_movehl_ps(u, u));
  return _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehdup_ps(pairs)));
}

// reduce_8_128 of four vectors at once, into out[0..3]: the four halves'
// sums side by side, then their pairs, then the pairs' sums (the same
// additions of the same operands).
inline void reduce_8_128_x4(__m256 t0, __m256 t1, __m256 t2, __m256 t3, float* out) {
  const __m256 u01 = _mm256_add_ps(_mm256_permute2f128_ps(t0, t1, 0x31), _mm256_permute2f128_ps(t0, t1, 0x20));
  const __m256 u23 = _mm256_add_ps(_mm256_permute2f128_ps(t2, t3, 0x31), _mm256_permute2f128_ps(t2, t3, 0x20));
  // Lanes 0-3: t0's and t2's (u0 + u2, u1 + u3); lanes 4-7: t1's and t3's.
  const __m256 pairs = _mm256_add_ps(_mm256_shuffle_ps(u01, u23, _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm256_shuffle_ps(u01, u23, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m256 sums = _mm256_add_ps(pairs, _mm256_movehdup_ps(pairs));  // t0, t2 in lanes 0, 2; t1, t3 in 4, 6
  const __m256 ordered = _mm256_permutevar8x32_ps(sums, _mm256_setr_epi32(0, 4, 2, 6, 1, 3, 5, 7));
  _mm_storeu_ps(out, _mm256_castps256_ps128(ordered));
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

// q with 0x10 added in byte j where bit j of the 32-bit qh is set (Q5_0's and
// Q5_1's fifth bits). AVX-512 (the avx512 target file) takes qh as a byte
// mask: one masked add.
inline __m256i add_fifth_bits_256(__m256i q, const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
#ifdef __AVX512F__
  return _mm256_mask_add_epi8(q, static_cast<__mmask32>(h), q, _mm256_set1_epi8(0x10));
#else
  // Bytes 0-7 take qh's byte 0, 8-15 byte 1, ... (the shuffle stays within 128-bit halves).
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(h)),
      _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_or_si256(
      q, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10)));
#endif
}

// Q4_1 and Q5_1: unsigned q times x; the offsets m are added through the
// activation sums s, apart from the lanes.
template <__m256i (*U8S8)(__m256i, __m256i, __m256i), class B>
struct OffsetWeights {
  using Block = B;
  using Act = BlockQ8_1;
  using Values = __m256i;
  static Values values(const Block& w) {
    if constexpr (std::is_same_v<B, BlockQ5_1>) {
      return add_fifth_bits_256(nibbles_256(w.qs), w.qh);
    } else {
      return nibbles_256(w.qs);
    }
  }
  static __m256i lanes(const Values& q, __m256i x) { return U8S8(_mm256_setzero_si256(), q, x); }
};

// A tile reads its rows side by side, which hardware prefetchers follow
// poorly: while a tile reads block b of its rows, it asks for block b of the
// next tile's rows (the following `Rows` rows, or at least 8 KiB on) to be
// brought into L2, so the next tile starts on cached data. Measured on a
// Zen 5 with the Q8_0 tiles of the time, decode of a 71 MiB matrix on one
// thread: 11 GB/s -> 25 GB/s,
// the memory-read baseline; one region 4 KiB ahead into L1 (the previous
// scheme, tuned on a Zen 2/3 VM) and per-row distances into L1 did not get
// past 17 GB/s.
inline constexpr size_t kMinPrefetchDistance = 8192;

template <int Rows, class Block>
inline void prefetch_next_tile(const Block* const (&w)[Rows], int64_t b, size_t w_stride) {
  const size_t distance = std::max<size_t>(Rows * w_stride, kMinPrefetchDistance);
  for (int r = 0; r < Rows; ++r) {
    const char* next = reinterpret_cast<const char*>(w[r] + b) + distance;
    for (size_t line = 0; line < sizeof(Block); line += 64) _mm_prefetch(next + line, _MM_HINT_T1);
  }
}

// The f16 scales of eight consecutive blocks (`stride` bytes apart) as
// floats, built lane by lane: eight narrow stores and a wide load would stall
// store forwarding.
inline __m256 eight_scales(const uint16_t* first, size_t stride) {
  const auto at = [&](int j) {
    uint16_t h;
    std::memcpy(&h, reinterpret_cast<const std::byte*>(first) + j * stride, 2);
    return static_cast<int>(h);
  };
  __m128i h = _mm_cvtsi32_si128(at(0));
  h = _mm_insert_epi16(h, at(1), 1);
  h = _mm_insert_epi16(h, at(2), 2);
  h = _mm_insert_epi16(h, at(3), 3);
  h = _mm_insert_epi16(h, at(4), 4);
  h = _mm_insert_epi16(h, at(5), 5);
  h = _mm_insert_epi16(h, at(6), 6);
  h = _mm_insert_epi16(h, at(7), 7);
  return _mm256_cvtph_ps(h);
}

// Blocks whose scale products a tile computes together, eight at a time.
inline constexpr int kScaleBatch = 8;

// Every loop over a tile's accumulators is unrolled, so that GCC replaces
// the array by registers: one loop left rolled (a range-for here) kept the
// array in memory, and each block's four FMA results went back to the stack
// (Q8_0's tiles of the time, decode in L2 on Zen 1: 21 -> 24 GOP/s unrolled). The zeros are ones
// the compiler cannot see as constants: GCC turns a loop storing a constant
// zero into a memset (rep stos) and then keeps the accumulators in memory —
// 3 % of a short-row decode at the tile's entry alone.
template <int Rows, int Tokens>
inline void zero_lanes(__m256 (&acc)[Rows][Tokens]) {
  __m256 zero = _mm256_setzero_ps();
  __asm__("" : "+x"(zero));
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 16
    for (int t = 0; t < Tokens; ++t) acc[r][t] = zero;
  }
}

// out[t * out_stride + r] = the eight lanes of acc[r][t] summed as reduce_8
// sums them.
template <int Rows, int Tokens>
inline void store_lane_sums(const __m256 (&acc)[Rows][Tokens], float* out, int64_t out_stride) {
  alignas(32) float lanes[8];
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 16
    for (int t = 0; t < Tokens; ++t) {
      _mm256_store_ps(lanes, acc[r][t]);
      out[t * out_stride + r] = reduce_8(lanes);
    }
  }
}

// `Rows` weight rows x `Tokens` activation rows of an offset format (Q4_1,
// Q5_1), each product accumulated exactly as in the one-row kernel (its 1x1
// instance: one 8-lane accumulator per pair, blocks in order); rows share
// activation loads, tokens share unpacking.
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
  zero_lanes(acc);
  float offsets[Rows][Tokens] = {};
  const int64_t blocks = n / kQK8_0;
  for (int64_t first = 0; first < blocks; first += kScaleBatch) {
    // The blocks' scale products wd * xd, each rounded to float as the
    // one-row kernel rounds it: for a whole batch of eight from a few vector
    // operations, rather than a conversion, a product and a broadcast per
    // block and row; for a last partial batch one by one.
    const int count = static_cast<int>(std::min<int64_t>(kScaleBatch, blocks - first));
    alignas(32) float scale[Rows][Tokens][kScaleBatch];
    if (count == kScaleBatch) {
      __m256 xd[Tokens];
      for (int t = 0; t < Tokens; ++t) xd[t] = eight_scales(&x[t][first].d, sizeof(Act));
      for (int r = 0; r < Rows; ++r) {
        const __m256 wd = eight_scales(&w[r][first].d, sizeof(Block));
        for (int t = 0; t < Tokens; ++t) _mm256_store_ps(scale[r][t], _mm256_mul_ps(wd, xd[t]));
      }
    } else {
      for (int r = 0; r < Rows; ++r) {
        for (int t = 0; t < Tokens; ++t) {
          for (int j = 0; j < count; ++j) {
            scale[r][t][j] = _cvtsh_ss(w[r][first + j].d) * _cvtsh_ss(x[t][first + j].d);
          }
        }
      }
    }
    for (int j = 0; j < count; ++j) {
      const int64_t b = first + j;
      prefetch_next_tile<Rows>(w, b, w_stride);
      __m256i xv[Tokens];
      for (int t = 0; t < Tokens; ++t) xv[t] = load_256(x[t][b].qs);
#pragma GCC unroll 16
      for (int r = 0; r < Rows; ++r) {
        const auto values = Weights::values(w[r][b]);
#pragma GCC unroll 16
        for (int t = 0; t < Tokens; ++t) {
          offsets[r][t] = std::fma(_cvtsh_ss(w[r][b].m), _cvtsh_ss(x[t][b].s), offsets[r][t]);
          const __m256 lanes = _mm256_cvtepi32_ps(Weights::lanes(values, xv[t]));
          acc[r][t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&scale[r][t][j]), lanes, acc[r][t]);
        }
      }
    }
  }
  store_lane_sums(acc, out, out_stride);
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 16
    for (int t = 0; t < Tokens; ++t) out[t * out_stride + r] += offsets[r][t];
  }
}

// One row: the 1x1 instance of a tile kernel.
template <void (*Tile)(int64_t, const std::byte*, size_t, const std::byte*, size_t, float*, int64_t)>
float one_row(int64_t n, const std::byte* w, const std::byte* x) {
  float out;
  Tile(n, w, 0, x, 0, &out, 1);
  return out;
}

// Compiled for AVX-512 (the avx512 target file), 32 vector registers: one
// tile holds all four tokens. Otherwise 16: 4x2 and 4x1 tiles (2x4 tiles
// spill and measured a few % slower). 4x4 measured +7-10 % prefill on Zen 5.
#ifdef __AVX512F__
inline constexpr bool kThirtyTwoRegisters = true;
#else
inline constexpr bool kThirtyTwoRegisters = false;
#endif

// kTileRows rows x 1..kTileTokens tokens.
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
      if constexpr (kThirtyTwoRegisters) {
        return tile_256<Weights, 4, 3>(n, w, w_stride, x, x_stride, out, out_stride);
      } else {
        tile_256<Weights, 4, 2>(n, w, w_stride, x, x_stride, out, out_stride);
        return tile_256<Weights, 4, 1>(n, w, w_stride, x + 2 * x_stride, x_stride, out + 2 * out_stride, out_stride);
      }
    default:
      if constexpr (kThirtyTwoRegisters) {
        return tile_256<Weights, 4, 4>(n, w, w_stride, x, x_stride, out, out_stride);
      } else {
        tile_256<Weights, 4, 2>(n, w, w_stride, x, x_stride, out, out_stride);
        return tile_256<Weights, 4, 2>(n, w, w_stride, x + 2 * x_stride, x_stride, out + 2 * out_stride, out_stride);
      }
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
      amax = _mm256_max_ps(_mm256_andnot_ps(sign, v[i]), amax);  // NaNs skipped, as std::max does
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

// Activations to Q8_K exactly as the scalar quantizer does: the first value
// of largest magnitude maps to -127, products rounded half to even (the
// saturating packs apply the reference's clamp at 127).
void quantize_q8_k_256(const float* src, std::byte* dst, int64_t n) {
  auto* blocks = reinterpret_cast<BlockQ8_K*>(dst);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    BlockQ8_K& y = blocks[b];
    // Four chains of max and NaN tests (one chain is latency-bound); max is
    // exact in any order.
    __m256 amax[4], nan[4];
    for (int c = 0; c < 4; ++c) amax[c] = nan[c] = _mm256_setzero_ps();
    for (int i = 0; i < kQK_K; i += 32) {
      for (int c = 0; c < 4; ++c) {
        const __m256 v = _mm256_loadu_ps(x + i + 8 * c);
        amax[c] = _mm256_max_ps(amax[c], _mm256_andnot_ps(sign, v));
        nan[c] = _mm256_or_ps(nan[c], _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      }
    }
    const __m256 amax8 = _mm256_max_ps(_mm256_max_ps(amax[0], amax[1]), _mm256_max_ps(amax[2], amax[3]));
    const __m256 any_nan = _mm256_or_ps(_mm256_or_ps(nan[0], nan[1]), _mm256_or_ps(nan[2], nan[3]));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float largest = _mm_cvtss_f32(m);
    // The first value of that magnitude, eight at a time.
    int first = kQK_K;
    for (int i = 0; i < kQK_K; i += 8) {
      const __m256 magnitude = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i));
      const int equal = _mm256_movemask_ps(_mm256_cmp_ps(magnitude, _mm256_set1_ps(largest), _CMP_EQ_OQ));
      if (equal != 0) {
        first = i + std::countr_zero(static_cast<unsigned>(equal));
        break;
      }
    }
    if (largest == 0.0f || first == kQK_K ||
        !_mm256_testz_ps(any_nan, any_nan)) {  // zeros or NaNs: as the reference does
      float_to_q8_k(x, reinterpret_cast<std::byte*>(&y), kQK_K);
      continue;
    }
    const float iscale = -127.0f / x[first];
    const __m256 scale = _mm256_set1_ps(iscale);
    for (int i = 0; i < kQK_K; i += 32) {
      __m256i q[4];
      for (int j = 0; j < 4; ++j) {
        q[j] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * j), scale),
                                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      }
      const __m256i q8 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y.qs + i),
                          _mm256_permutevar8x32_epi32(q8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    }
    sum_q8_k_groups(y);
    y.d = 1.0f / iscale;
  }
}

// Each block's values offset by 128 to unsigned bytes and summed by psadbw
// in four 64-bit lanes, less 32 * 128; the scale through F16C.
void q8_0_block_sums_256(const std::byte* blocks, int64_t count, int32_t factor, float* scales, int32_t* sums) {
  const auto* b = reinterpret_cast<const BlockQ8_0*>(blocks);
  const __m256i to_unsigned = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t i = 0; i < count; ++i) {
    const __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(load_256(b[i].qs), to_unsigned), _mm256_setzero_si256());
    const __m128i pair = _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
    const auto total = static_cast<int32_t>(_mm_cvtsi128_si64(_mm_add_epi64(pair, _mm_unpackhi_epi64(pair, pair))));
    scales[i] = _cvtsh_ss(b[i].d);
    sums[i] = (total - kQK8_0 * 128) * factor;
  }
}

// A block format's one-row product and its tiles.
void install(TypeKernels& k, DotFn row, DotTileFn tiles) {
  k.dot = k.dot_tiled = row;
  k.dot_tile = tiles;
}

// Installs the block-format kernels built on `U8S8` into a table.
template <__m256i (*U8S8)(__m256i, __m256i, __m256i)>
void set_block_kernels(KernelTable& t) {
  using Q4_1 = OffsetWeights<U8S8, BlockQ4_1>;
  using Q5_1 = OffsetWeights<U8S8, BlockQ5_1>;
  t.q8_0_block_sums = q8_0_block_sums_256;
  for (size_t i = 0; i < kComputeTypes.size(); ++i) {
    TypeKernels& k = t.types[i];
    switch (kComputeTypes[i]) {
      case DType::Q8_0:
        k.from_float = quantize_q8_0_256;
        k.panel = panel_kernel<PanelQn_0<8>>();
        break;
      case DType::Q4_1:
        install(k, one_row<tile_256<Q4_1, 1, 1>>, dot_tile_256<Q4_1>);
        break;
      case DType::Q5_1:
        install(k, one_row<tile_256<Q5_1, 1, 1>>, dot_tile_256<Q5_1>);
        break;
      case DType::Q8_K:
        k.from_float = quantize_q8_k_256;
        break;
      case DType::Q4_0:
        k.panel = panel_kernel<PanelQn_0<4>>();
        break;
      case DType::Q5_0:
        k.panel = panel_kernel<PanelQn_0<5>>();
        break;
      case DType::Q4_K:
        k.panel = panel_kernel<PanelQ4Or5K<false>>();
        break;
      case DType::Q5_K:
        k.panel = panel_kernel<PanelQ4Or5K<true>>();
        break;
      case DType::Q6_K:
        k.panel = panel_kernel<PanelQ6_K>();
        break;
      default:
        break;
    }
  }
}

}  // namespace
}  // namespace ullm::kernels::simd
