// SIMD float dot products, written once over the xsimd target and
// instantiated per target in kernels/arch/. They add in exactly the order of
// the scalar references in kernels/dot.cpp (16 logical lanes, however wide
// the registers), so every target gives the scalar result bit for bit
// wherever it has fused multiply-add.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/attention.hpp"
#include "kernels/blocks.hpp"
#include "kernels/dot.hpp"
#include "kernels/exp.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kernel_table.hpp"
#include "kernels/quantize.hpp"
#include "kernels/simd/dequantize_simd.hpp"
#include "kernels/simd/quantize_simd.hpp"
#include "kernels/simd/row_simd.hpp"
#include "kernels/simd/target_ops.hpp"

namespace ullm::kernels::simd {
// Internal linkage: see kernels/fp16.hpp.
namespace {

inline float reduce_16(const float* a) {
  float t[8], u[4];
  for (int i = 0; i < 8; ++i) t[i] = a[i + 8] + a[i];
  for (int i = 0; i < 4; ++i) u[i] = t[i + 4] + t[i];
  return (u[0] + u[2]) + (u[1] + u[3]);
}

inline float reduce_8(const float* a) {
  float r[4];
  for (int i = 0; i < 4; ++i) r[i] = a[i + 4] + a[i];
  return (r[0] + r[2]) + (r[1] + r[3]);
}

// A bfloat16 value, apart from uint16_t (which holds halves).
struct Bf16 {
  uint16_t bits;
};

// Reads float, half or bfloat16 rows as batches and as single values.
template <class Arch, typename T>
struct FloatRow {
  using batch = xsimd::batch<float, Arch>;
  const T* p;
  batch at(int64_t i) const {
    if constexpr (std::is_same_v<T, float>) {
      return batch::load_unaligned(p + i);
    } else if constexpr (std::is_same_v<T, Bf16>) {
      return TargetOps<Arch>::load_bf16(reinterpret_cast<const uint16_t*>(p + i));
    } else {
      return TargetOps<Arch>::load_f16(p + i);
    }
  }
  float scalar(int64_t i) const {
    T v;
    std::memcpy(&v, p + i, sizeof(T));
    if constexpr (std::is_same_v<T, float>) {
      return v;
    } else if constexpr (std::is_same_v<T, Bf16>) {
      return bf16_to_f32(v.bits);
    } else {
      return f16_to_f32(v);
    }
  }
};

// ggml's vector order: four groups of 16 lanes over whole 64-element steps,
// reduced (the tail is added by the caller). Sums may be carried from one
// stretch of a row to the next.
template <class Arch>
struct VectorOrderSums {
  using batch = xsimd::batch<float, Arch>;
  static constexpr int kW = static_cast<int>(batch::size);
  static constexpr int kB = 16 / kW;  // registers per 16 logical lanes
  batch acc[4][kB];                   // left uninitialised until zero(): tiles hold many, use few

  void zero() {
    for (auto& group : acc) {
      for (auto& b : group) b = batch(0.0f);
    }
  }
  // Adds the products of the first `values` (a multiple of 64) of w and x.
  template <typename WT, typename XT>
  void add(int64_t values, const FloatRow<Arch, WT>& w, const FloatRow<Arch, XT>& x) {
    batch a[4][kB];  // a copy in registers (batches may alias the rows)
    for (int j = 0; j < 4; ++j) {
      for (int b = 0; b < kB; ++b) a[j][b] = acc[j][b];
    }
    for (int64_t i = 0; i < values; i += 64) {
      for (int j = 0; j < 4; ++j) {
        for (int b = 0; b < kB; ++b) {
          const int64_t e = i + 16 * j + kW * b;
          a[j][b] = TargetOps<Arch>::fma(w.at(e), x.at(e), a[j][b]);
        }
      }
    }
    for (int j = 0; j < 4; ++j) {
      for (int b = 0; b < kB; ++b) acc[j][b] = a[j][b];
    }
  }
  // The four groups added into one group of 16 lanes, which reduce_16 sums.
  void lanes(batch (&out)[kB]) const {
    for (int b = 0; b < kB; ++b) out[b] = (acc[0][b] + acc[2][b]) + (acc[1][b] + acc[3][b]);
  }
  float reduce() const {
    batch out[kB];
    lanes(out);
    return TargetOps<Arch>::reduce_16(out);
  }
};

// `rest` (< 64) values from p as floats (a row's tail, or a whole short
// row): p itself for F32; 16-bit values converted into `buffer` a batch at a
// time (one by one halves convert slowly), a last partial batch as the batch
// ending at `rest` (overlapping the one before), or where `rest` is less
// than a batch, from a copy padded with zeros. (A padded copy after whole
// batches had stalled on store forwarding: its narrow stores read back
// wide.)
template <class Arch, typename T>
const float* tail_floats(const T* p, int64_t rest, float* buffer) {
  if constexpr (std::is_same_v<T, float>) {
    return p;
  } else {
    using batch = xsimd::batch<float, Arch>;
    constexpr int64_t kW = batch::size;
    const int64_t whole = rest / kW * kW;
    const FloatRow<Arch, T> row{p};
    for (int64_t i = 0; i < whole; i += kW) row.at(i).store_aligned(buffer + i);
    if (whole == rest) return buffer;
    if (whole > 0) {
      row.at(rest - kW).store_unaligned(buffer + rest - kW);
    } else {
      alignas(64) T padded[kW] = {};
      std::memcpy(padded, p, static_cast<size_t>(rest) * sizeof(T));
      const FloatRow<Arch, T> last{padded};
      last.at(0).store_aligned(buffer);
    }
    return buffer;
  }
}

// The tails' products added one at a time, in order, to the sums of
// `Tokens` tokens by kTileRows rows: fused into float sums, or rounded to
// float and added in double. The tile's chains run side by side with
// compile-time bounds, so they stay in registers (bounded by the tile's
// actual rows and tokens, GCC had kept them in memory: a store-forwarding
// delay on every add, a third of stories260K's F16 ffn_down).
template <int Tokens, typename Tail>
void add_tail_products(int64_t rest, int rows, int tokens, const float* const* w_tail, const float* const* x_tail,
                       Tail (&sums)[kTileTokens][kTileRows]) {
  Tail acc[Tokens][kTileRows];
  for (int t = 0; t < Tokens; ++t) {
    for (int r = 0; r < kTileRows; ++r) acc[t][r] = t < tokens && r < rows ? sums[t][r] : Tail{0};
  }
  for (int64_t i = 0; i < rest; ++i) {
    for (int t = 0; t < Tokens; ++t) {
      for (int r = 0; r < kTileRows; ++r) {
        if constexpr (std::is_same_v<Tail, double>) {
          acc[t][r] += static_cast<double>(w_tail[r][i] * x_tail[t][i]);
        } else {
          acc[t][r] = std::fma(w_tail[r][i], x_tail[t][i], acc[t][r]);
        }
      }
    }
  }
  for (int t = 0; t < tokens; ++t) {
    for (int r = 0; r < rows; ++r) sums[t][r] = acc[t][r];
  }
}

// Dot products of `rows` weight rows (w_stride bytes apart) with `tokens`
// activation rows in ggml's vector order: the bulk, then the tail one product
// at a time — fused into the float sum for F32, added in double for 16-bit
// inputs (Tail). Each tail is a chain of dependent adds; the tile's chains run
// side by side, so odd row lengths cost little more than even ones.
// Activations of type TX: the weights' own, or floats already widened from
// them (16-bit weights' PreparedActivations::widened).
template <class Arch, typename T, typename Tail, typename TX = T>
void dot_tile_vector_order(int64_t n, const std::byte* w, size_t w_stride, const std::byte* x, size_t x_stride,
                           int rows, int tokens, float* out, int64_t out_stride) {
  const auto row = [](const std::byte* base, size_t stride, int i) {
    return reinterpret_cast<const T*>(base + static_cast<size_t>(i) * stride);
  };
  const auto x_row = [&](int t) { return reinterpret_cast<const TX*>(x + static_cast<size_t>(t) * x_stride); };
  const int64_t bulk = n & ~int64_t{63}, rest = n - bulk;
  using Sums = VectorOrderSums<Arch>;
  using Lanes = typename Sums::batch[kTileRows][Sums::kB];
  Tail sums[kTileTokens][kTileRows];
  // Token t's sums from its rows' lanes: a whole tile's four rows reduced
  // together (one at a time, the reductions' shuffles had outweighed 64-value
  // rows' multiply-adds).
  const auto reduce_rows = [&](int t, const Lanes& lanes) {
    if (rows == kTileRows) {
      float four[kTileRows];
      TargetOps<Arch>::reduce_16_x4(lanes, four);
      for (int r = 0; r < rows; ++r) sums[t][r] = four[r];
    } else {
      for (int r = 0; r < rows; ++r) sums[t][r] = TargetOps<Arch>::reduce_16(lanes[r]);
    }
  };
  if constexpr (std::is_same_v<T, float>) {
    // F32 rows reduce one at a time, as soon as each is summed: through the
    // shared path below (lanes kept for four rows, then reduce_rows) they
    // measured 4-8 % slower on 64- and 288-value rows.
    for (int t = 0; t < tokens; ++t) {
      for (int r = 0; r < rows; ++r) {
        Sums bulk_sum;
        bulk_sum.zero();
        bulk_sum.add(bulk, FloatRow<Arch, T>{row(w, w_stride, r)}, FloatRow<Arch, TX>{x_row(t)});
        sums[t][r] = bulk_sum.reduce();
      }
    }
  } else {
    // The activations widened once for all rows, a stretch at a time (each
    // row widening them again had doubled the conversions: compute-bound),
    // unless they come widened.
    constexpr int64_t kStretch = 512;
    alignas(64) float x_floats[kTileTokens][kStretch];
    const float* x_stretch[kTileTokens];  // token t's stretch as floats
    const auto widen = [&](int64_t s, int64_t values) {
      for (int t = 0; t < tokens; ++t) {
        if constexpr (std::is_same_v<TX, float>) {
          x_stretch[t] = x_row(t) + s;
        } else {
          const FloatRow<Arch, TX> xt{x_row(t) + s};
          for (int64_t i = 0; i < values; i += Sums::kW) xt.at(i).store_aligned(x_floats[t] + i);
          x_stretch[t] = x_floats[t];
        }
      }
    };
    if (bulk <= kStretch || std::is_same_v<TX, float>) {
      // One stretch (most small models' rows, or any row against widened
      // activations): each sum from zero to its lanes in registers. (Carried
      // in memory, as below, its zeroing and stores had cost more than its
      // multiply-adds on 64-value rows.)
      widen(0, bulk);
      for (int t = 0; t < tokens; ++t) {
        Lanes lanes;
        for (int r = 0; r < rows; ++r) {
          Sums bulk_sum;
          bulk_sum.zero();
          bulk_sum.add(bulk, FloatRow<Arch, T>{row(w, w_stride, r)}, FloatRow<Arch, float>{x_stretch[t]});
          bulk_sum.lanes(lanes[r]);
        }
        reduce_rows(t, lanes);
      }
    } else {
      Sums bulk_sums[kTileTokens][kTileRows];
      for (int t = 0; t < tokens; ++t) {
        for (int r = 0; r < rows; ++r) bulk_sums[t][r].zero();
      }
      for (int64_t s = 0; s < bulk; s += kStretch) {
        const int64_t values = std::min(kStretch, bulk - s);
        widen(s, values);
        for (int t = 0; t < tokens; ++t) {
          for (int r = 0; r < rows; ++r) {
            bulk_sums[t][r].add(values, FloatRow<Arch, T>{row(w, w_stride, r) + s},
                                FloatRow<Arch, float>{x_stretch[t]});
          }
        }
      }
      for (int t = 0; t < tokens; ++t) {
        Lanes lanes;
        for (int r = 0; r < rows; ++r) bulk_sums[t][r].lanes(lanes[r]);
        reduce_rows(t, lanes);
      }
    }
  }
  if (rest > 0) {
    alignas(64) float buffer[kTileRows + kTileTokens][64];
    const float *w_tail[kTileRows] = {}, *x_tail[kTileTokens] = {};  // (zeroed: GCC cannot tell tokens >= 1)
    for (int r = 0; r < rows; ++r) w_tail[r] = tail_floats<Arch>(row(w, w_stride, r) + bulk, rest, buffer[r]);
    for (int t = 0; t < tokens; ++t) {
      x_tail[t] = tail_floats<Arch>(x_row(t) + bulk, rest, buffer[kTileRows + t]);
    }
    // A partial tile's missing rows and tokens repeat its first; their sums are dropped.
    for (int r = rows; r < kTileRows; ++r) w_tail[r] = w_tail[0];
    for (int t = tokens; t < kTileTokens; ++t) x_tail[t] = x_tail[0];
    if (tokens == 1) {
      add_tail_products<1>(rest, rows, tokens, w_tail, x_tail, sums);
    } else {
      add_tail_products<kTileTokens>(rest, rows, tokens, w_tail, x_tail, sums);
    }
  }
  for (int t = 0; t < tokens; ++t) {
    for (int r = 0; r < rows; ++r) out[t * out_stride + r] = static_cast<float>(sums[t][r]);
  }
}

template <class Arch, typename T, typename Tail>
float dot_vector_order(int64_t n, const std::byte* w, const std::byte* x) {
  float out;
  dot_tile_vector_order<Arch, T, Tail>(n, w, 0, x, 0, 1, 1, &out, 1);
  return out;
}

template <class Arch, typename T, typename Tail, typename TX = T>
void dot_tiles_vector_order(int64_t n, const std::byte* w, size_t w_stride, const std::byte* x, size_t x_stride,
                            int tokens, float* out, int64_t out_stride) {
  dot_tile_vector_order<Arch, T, Tail, TX>(n, w, w_stride, x, x_stride, kTileRows, tokens, out, out_stride);
}

// ggml's tiled-GEMM order: one group of 16 lanes over 16-element chunks, the
// last chunk partial. `Rows` weight rows times `Tokens` activation rows at a
// time, every product's accumulator in registers, so each load feeds several
// multiply-adds (one product at a time was bound by its two loads).
template <class Arch, typename TW, typename TX, int Rows, int Tokens>
void tile_order_block(int64_t n, const TW* const* w, const TX* const* x, float* out, int64_t out_stride) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int kW = static_cast<int>(batch::size);
  constexpr int kB = 16 / kW;
  batch acc[Rows][Tokens][kB];
  for (auto& row : acc) {
    for (auto& token : row) {
      for (auto& b : token) b = batch(0.0f);
    }
  }
  const int64_t full = n & ~int64_t{15};
  for (int64_t c = 0; c < full; c += 16) {
    for (int b = 0; b < kB; ++b) {
      batch xv[Tokens];
      for (int t = 0; t < Tokens; ++t) xv[t] = FloatRow<Arch, TX>{x[t]}.at(c + kW * b);
      for (int r = 0; r < Rows; ++r) {
        const batch wv = FloatRow<Arch, TW>{w[r]}.at(c + kW * b);
        for (int t = 0; t < Tokens; ++t) acc[r][t][b] = TargetOps<Arch>::fma(wv, xv[t], acc[r][t][b]);
      }
    }
  }
  if (full < n) {
    // The partial chunk's products added lane by lane, as a vector: the
    // lanes past the row's end add w = -0 times x = 0, which leaves every
    // sum as it was (+0 would turn a -0 into +0).
    alignas(64) float w_tail[Rows][16], x_tail[Tokens][16];
    for (int r = 0; r < Rows; ++r) {
      const FloatRow<Arch, TW> wr{w[r]};
      for (int64_t i = 0; i < 16; ++i) w_tail[r][i] = full + i < n ? wr.scalar(full + i) : -0.0f;
    }
    for (int t = 0; t < Tokens; ++t) {
      const FloatRow<Arch, TX> xt{x[t]};
      for (int64_t i = 0; i < 16; ++i) x_tail[t][i] = full + i < n ? xt.scalar(full + i) : 0.0f;
    }
    for (int r = 0; r < Rows; ++r) {
      for (int t = 0; t < Tokens; ++t) {
        for (int b = 0; b < kB; ++b) {
          acc[r][t][b] = TargetOps<Arch>::fma(batch::load_aligned(w_tail[r] + kW * b),
                                              batch::load_aligned(x_tail[t] + kW * b), acc[r][t][b]);
        }
      }
    }
  }
  // The (row, token) sums reduced four at a time where the block has a
  // multiple of four, else one by one. (One by one through memory, the
  // reductions had outweighed the multiply-adds of 64-value rows.)
  constexpr int kPairs = Rows * Tokens;
  const auto lanes = [&](int pair) -> const batch(&)[kB] { return acc[pair / Tokens][pair % Tokens]; };
  const auto store = [&](int pair, float sum) { out[(pair % Tokens) * out_stride + pair / Tokens] = sum; };
  if constexpr (kPairs % 4 == 0) {
    for (int pair = 0; pair < kPairs; pair += 4) {
      batch four[4][kB];
      for (int i = 0; i < 4; ++i) {
        for (int b = 0; b < kB; ++b) four[i][b] = lanes(pair + i)[b];
      }
      float sums[4];
      TargetOps<Arch>::reduce_16_x4(four, sums);
      for (int i = 0; i < 4; ++i) store(pair + i, sums[i]);
    }
  } else {
    for (int pair = 0; pair < kPairs; ++pair) store(pair, TargetOps<Arch>::reduce_16(lanes(pair)));
  }
}

template <class Arch, typename T>
float dot_tile_order(int64_t n, const std::byte* w, const std::byte* x) {
  const T* wr = reinterpret_cast<const T*>(w);
  const T* xr = reinterpret_cast<const T*>(x);
  float out;
  tile_order_block<Arch, T, T, 1, 1>(n, &wr, &xr, &out, 1);
  return out;
}

// kTileRows rows x `tokens` tokens in the tiled order, in blocks of rows x
// tokens that keep eight registers of accumulators (sixteen lanes each).
// Activations of type TX: the weights' own, converted again for every tile
// (blocks of two rows by two tokens in 256-bit registers, four in 512-bit,
// one in 128-bit), or floats widened from them once for all tiles, where
// the weights' conversions are what is left to share: as many tokens a row
// as fit (one row by four tokens in 256-bit registers: F16 prefill 26.5-26.8
// against 21.1-21.7 GOP/s for two by two on Zen 1; two rows by four in
// 512-bit, one by two in 128-bit).
template <class Arch, typename TW, typename TX = TW>
void dot_tiles_tile_order(int64_t n, const std::byte* w, size_t w_stride, const std::byte* x, size_t x_stride,
                          int tokens, float* out, int64_t out_stride) {
  constexpr int kB = 16 / static_cast<int>(xsimd::batch<float, Arch>::size);
  constexpr bool kWide = std::is_same_v<TX, float> && !std::is_same_v<TW, float>;
  constexpr int kTokens = kWide ? std::min(kTileTokens, 8 / kB) : std::max(1, 4 / kB);
  constexpr int kRows = kWide ? 8 / (kTokens * kB) : 2;
  const TW* wr[kTileRows];
  const TX* xr[kTileTokens];
  for (int r = 0; r < kTileRows; ++r) wr[r] = reinterpret_cast<const TW*>(w + static_cast<size_t>(r) * w_stride);
  for (int t = 0; t < tokens; ++t) xr[t] = reinterpret_cast<const TX*>(x + static_cast<size_t>(t) * x_stride);
  for (int r = 0; r < kTileRows; r += kRows) {
    int t = 0;
    for (; t + kTokens <= tokens; t += kTokens) {
      tile_order_block<Arch, TW, TX, kRows, kTokens>(n, wr + r, xr + t, out + t * out_stride + r, out_stride);
    }
    for (; t < tokens; ++t) {
      tile_order_block<Arch, TW, TX, kRows, 1>(n, wr + r, xr + t, out + t * out_stride + r, out_stride);
    }
  }
}

// Value sums of ggml's F16 flash attention, `Heads` heads x `Batches`
// batches of dimensions held in registers across all rows: each step rounds
// to f16 and back in the register (the scalar reference stores and reloads
// halves; the values are the same), and the heads' chains run side by side.
// `Shared`: the heads read the same values (one KV head), converted once a
// row; otherwise head h's are head_stride halves on.
template <class Arch, int Heads, int Batches, bool Shared>
void accumulate_values_block(const uint16_t* v, int64_t stride, int64_t head_stride, int64_t rows, const float* rescale,
                             const float* weight, int64_t coef_stride, uint16_t* acc, int64_t d) {
  using batch = xsimd::batch<float, Arch>;
  using Ops = TargetOps<Arch>;
  constexpr int64_t kW = batch::size;
  batch a[Heads][Batches];
  for (int h = 0; h < Heads; ++h) {
    for (int b = 0; b < Batches; ++b) a[h][b] = Ops::load_f16(acc + h * d + b * kW);
  }
  for (int64_t j = 0; j < rows; ++j) {
    batch vj[Batches];
    if constexpr (Shared) {
      for (int b = 0; b < Batches; ++b) vj[b] = Ops::load_f16(v + j * stride + b * kW);
    }
    for (int h = 0; h < Heads; ++h) {
      if constexpr (!Shared) {
        for (int b = 0; b < Batches; ++b) vj[b] = Ops::load_f16(v + h * head_stride + j * stride + b * kW);
      }
      const float r = rescale[h * coef_stride + j];
      if (r != 1.0f) {
        for (int b = 0; b < Batches; ++b) a[h][b] = Ops::round_f16(a[h][b] * batch(r));
      }
      const batch w(weight[h * coef_stride + j]);
      for (int b = 0; b < Batches; ++b) a[h][b] = Ops::round_f16(Ops::fma(vj[b], w, a[h][b]));
    }
  }
  for (int h = 0; h < Heads; ++h) {
    for (int b = 0; b < Batches; ++b) Ops::store_f16(acc + h * d + b * kW, a[h][b]);
  }
}

// Blocks of `Batches` batches from dimension i on while they fit, then
// narrower ones (the powers of two below): each block walks every row once
// with heads x batches independent chains, and a step's latency (a
// multiply-add and an f16 round trip) is hidden only by as many chains.
// (One batch at a time had run a 64-wide head of one query head as four
// passes of a single chain: 13 % of stories110M decode.)
template <class Arch, int Heads, int Batches, bool Shared>
void accumulate_values_blocks(int64_t& i, int64_t d, const uint16_t* v, int64_t stride, int64_t head_stride,
                              int64_t rows, const float* rescale, const float* weight, int64_t coef_stride,
                              uint16_t* acc) {
  constexpr int64_t kW = xsimd::batch<float, Arch>::size;
  for (; i + Batches * kW <= d; i += Batches * kW) {
    accumulate_values_block<Arch, Heads, Batches, Shared>(v + i, stride, head_stride, rows, rescale, weight,
                                                          coef_stride, acc + i, d);
  }
  if constexpr (Batches > 1) {
    constexpr int kNarrower = std::bit_floor(static_cast<unsigned>(Batches - 1));
    accumulate_values_blocks<Arch, Heads, kNarrower, Shared>(i, d, v, stride, head_stride, rows, rescale, weight,
                                                             coef_stride, acc);
  }
}

// The dimensions from i on (fewer than a batch; all of them for heads
// narrower than a batch, e.g. 8 with AVX-512) of heads sharing their
// values: one batch on copies padded with zeros, whose extra lanes compute
// nothing that is kept. Rows a block at a time.
template <class Arch, int Heads>
void accumulate_values_tail(int64_t i, int64_t d, const uint16_t* v, int64_t stride, int64_t rows, const float* rescale,
                            const float* weight, int64_t coef_stride, uint16_t* acc) {
  constexpr int64_t kW = xsimd::batch<float, Arch>::size;
  constexpr int64_t kRows = 64;
  alignas(64) uint16_t tail_acc[Heads][kW] = {}, tail_v[kRows][kW] = {};
  const int64_t tail = d - i;
  for (int h = 0; h < Heads; ++h) std::copy_n(acc + h * d + i, tail, tail_acc[h]);
  for (int64_t j0 = 0; j0 < rows; j0 += kRows) {
    const int64_t n = std::min(kRows, rows - j0);
    for (int64_t j = 0; j < n; ++j) std::copy_n(v + (j0 + j) * stride + i, tail, tail_v[j]);
    accumulate_values_block<Arch, Heads, 1, true>(&tail_v[0][0], kW, 0, n, rescale + j0, weight + j0, coef_stride,
                                                  &tail_acc[0][0], kW);
  }
  for (int h = 0; h < Heads; ++h) std::copy_n(tail_acc[h], tail, acc + h * d + i);
}

// Register blocks of up to 16 batches in all (heads x batches), then the
// dimensions left over. (On 16-register targets that spills a little; 8
// measured no faster on Zen 1.)
template <class Arch, int Heads>
void accumulate_values_heads(int64_t d, const uint16_t* v, int64_t stride, int64_t head_stride, int64_t rows,
                             const float* rescale, const float* weight, int64_t coef_stride, uint16_t* acc) {
  int64_t i = 0;
  if (head_stride == 0) {
    accumulate_values_blocks<Arch, Heads, 16 / Heads, true>(i, d, v, stride, 0, rows, rescale, weight, coef_stride,
                                                            acc);
    if (i < d) accumulate_values_tail<Arch, Heads>(i, d, v, stride, rows, rescale, weight, coef_stride, acc);
    return;
  }
  accumulate_values_blocks<Arch, Heads, 16 / Heads, false>(i, d, v, stride, head_stride, rows, rescale, weight,
                                                           coef_stride, acc);
  if (i == d) return;
  for (int h = 0; h < Heads; ++h) {  // each head's own values, one at a time
    accumulate_values_tail<Arch, 1>(i, d, v + h * head_stride, stride, rows, rescale + h * coef_stride,
                                    weight + h * coef_stride, coef_stride, acc + h * d);
  }
}

template <class Arch>
void accumulate_values_f16_simd(int64_t d, const uint16_t* v, int64_t stride, int64_t head_stride, int64_t rows,
                                int heads, const float* rescale, const float* weight, int64_t coef_stride,
                                uint16_t* acc) {
  static_assert(kMaxValueHeads == 4);
  switch (heads) {
    case 1:
      return accumulate_values_heads<Arch, 1>(d, v, stride, head_stride, rows, rescale, weight, coef_stride, acc);
    case 2:
      return accumulate_values_heads<Arch, 2>(d, v, stride, head_stride, rows, rescale, weight, coef_stride, acc);
    case 3:
      return accumulate_values_heads<Arch, 3>(d, v, stride, head_stride, rows, rescale, weight, coef_stride, acc);
    default:
      return accumulate_values_heads<Arch, 4>(d, v, stride, head_stride, rows, rescale, weight, coef_stride, acc);
  }
}

// Attention scores of up to kMaxValueHeads query heads (q + h * d) against
// the same key rows, each in the vector order of the F16 dot product. Heads
// of 64 or more widen each key row once for all heads, then take one head
// at a time, its four accumulators in registers (all heads' at once had
// spilled on 16-register targets: 46 % of TinyLlama-shape decode attention);
// the query is widened to floats once.
template <class Arch>
void dot_rows_vector_order(int64_t d, const uint16_t* k, int64_t stride, int64_t rows, int heads, const float* qf,
                           float* out, int64_t out_stride) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int kW = static_cast<int>(batch::size);
  constexpr int kB = 16 / kW;
  const int64_t bulk = d & ~int64_t{63};
  alignas(64) float kf[kMaxHeadDim];
  for (int64_t j = 0; j < rows; ++j) {
    const uint16_t* kj = k + j * stride;
    for (int64_t i = 0; i < bulk; i += kW) TargetOps<Arch>::load_f16(kj + i).store_aligned(kf + i);
    for (int h = 0; h < heads; ++h) {
      const float* qh = qf + h * d;
      batch acc[4][kB];
      for (auto& group : acc) {
        for (auto& b : group) b = batch(0.0f);
      }
      for (int64_t i = 0; i < bulk; i += 64) {
        for (int g = 0; g < 4; ++g) {
          for (int b = 0; b < kB; ++b) {
            const int64_t e = i + 16 * g + kW * b;
            acc[g][b] = TargetOps<Arch>::fma(batch::load_aligned(kf + e), batch::load_unaligned(qh + e), acc[g][b]);
          }
        }
      }
      batch lanes[kB];
      for (int b = 0; b < kB; ++b) lanes[b] = (acc[0][b] + acc[2][b]) + (acc[1][b] + acc[3][b]);
      double sum = TargetOps<Arch>::reduce_16(lanes);
      for (int64_t i = bulk; i < d; ++i) sum += static_cast<double>(f16_to_f32(kj[i]) * qh[i]);
      out[h * out_stride + j] = static_cast<float>(sum);
    }
  }
}

// Heads shorter than 64 are all "tail" in the vector order: one sequential
// sum in double per row and head, a chain of dependent additions. Eight rows
// run their chains side by side, each still adding in exactly that order
// (eight against four: dot_rows 17 % -> 15 % of stories15M decode in perf);
// several heads (tokens of a prompt sharing the keys) also run theirs side by
// side, four heads' products a vector, widened to doubles a vector
// (stories15M prefill: dot_rows 35 % -> 20 % of the time).
template <class Arch>
void dot_rows_short(int64_t d, const uint16_t* k, int64_t stride, int64_t rows, int heads, const float* qf, float* out,
                    int64_t out_stride) {
  // GCC's generic vectors: xsimd 8.1 has no float-to-double widening.
  using Float4 = float __attribute__((vector_size(16)));
  using Double4 = double __attribute__((vector_size(32)));
  constexpr int kGroup = 8;
  alignas(64) float kf[kGroup][64];
  static_assert(kMaxValueHeads == 4);
  Float4 q_by_dim[64];  // value i of each head (0 past `heads`)
  for (int64_t i = 0; i < d; ++i) {
    for (int h = 0; h < 4; ++h) q_by_dim[i][h] = h < heads ? qf[h * d + i] : 0.0f;
  }
  for (int64_t j = 0; j < rows; j += kGroup) {
    const int group = static_cast<int>(std::min<int64_t>(kGroup, rows - j));
    for (int g = 0; g < group; ++g) tail_floats<Arch>(k + (j + g) * stride, d, kf[g]);
    for (int g = group; g < kGroup; ++g) std::fill_n(kf[g], d, 0.0f);  // a last partial group's unused rows
    if (heads == 1) {
      double acc[kGroup] = {};
      for (int64_t i = 0; i < d; ++i) {
        for (int g = 0; g < kGroup; ++g) acc[g] += static_cast<double>(kf[g][i] * qf[i]);
      }
      for (int g = 0; g < group; ++g) out[j + g] = static_cast<float>(acc[g]);
      continue;
    }
    Double4 acc[kGroup] = {};
    for (int64_t i = 0; i < d; ++i) {
      for (int g = 0; g < kGroup; ++g) {
        const Float4 p = kf[g][i] * q_by_dim[i];
        acc[g] += Double4{p[0], p[1], p[2], p[3]};  // (one widening; __builtin_convertvector made two)
      }
    }
    for (int g = 0; g < group; ++g) {
      for (int h = 0; h < heads; ++h) out[h * out_stride + j + g] = static_cast<float>(acc[g][h]);
    }
  }
}

template <class Arch>
void dot_rows_f16_simd(int64_t d, const uint16_t* k, int64_t stride, int64_t rows, int heads, const uint16_t* q,
                       float* out, int64_t out_stride) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t kW = batch::size;
  alignas(64) float qf[kMaxValueHeads * kMaxHeadDim];
  int64_t i = 0;
  for (; i + kW <= heads * d; i += kW) TargetOps<Arch>::load_f16(q + i).store_aligned(qf + i);
  for (; i < heads * d; ++i) qf[i] = f16_to_f32(q[i]);
  if (d < 64) return dot_rows_short<Arch>(d, k, stride, rows, heads, qf, out, out_stride);
  dot_rows_vector_order<Arch>(d, k, stride, rows, heads, qf, out, out_stride);
}

// Tiled attention's GEMM steps, kTileLanes columns at a time (one vector
// with AVX-512, two with AVX2, four with 128-bit vectors): `Rows` rows of a
// column together keep eight accumulators, each one element's FMA chain in
// the reference's order, so FMA latency hides behind the other chains.
template <class Arch>
constexpr int kTileVectors = static_cast<int>(kTileLanes / xsimd::batch<float, Arch>::size);

// One block of either step: c[r][0, kTileLanes) for r < Rows continues, for
// k = 0 .. n - 1 in order, as fma(a[r][k], b[k][...], c), from zero
// (FromZero) or from c's values; rows of a, b and c lie *_stride floats apart.
template <class Arch, int Rows, bool FromZero>
void tile_gemm_block(int64_t n, const float* a, int64_t a_stride, const float* b, int64_t b_stride, float* c,
                     int64_t c_stride) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int kV = kTileVectors<Arch>;
  batch acc[Rows][kV];
  for (int r = 0; r < Rows; ++r) {
    for (int v = 0; v < kV; ++v)
      acc[r][v] = FromZero ? batch(0.0f) : batch::load_unaligned(c + r * c_stride + v * batch::size);
  }
  for (int64_t k = 0; k < n; ++k) {
    batch bk[kV];
    for (int v = 0; v < kV; ++v) bk[v] = batch::load_unaligned(b + k * b_stride + v * batch::size);
    for (int r = 0; r < Rows; ++r) {
      const batch ak(a[r * a_stride + k]);
      for (int v = 0; v < kV; ++v) acc[r][v] = TargetOps<Arch>::fma(ak, bk[v], acc[r][v]);
    }
  }
  for (int r = 0; r < Rows; ++r) {
    for (int v = 0; v < kV; ++v) acc[r][v].store_unaligned(c + r * c_stride + v * batch::size);
  }
}

// Rows [r, rows) of one column in blocks of `Rows`, then of the powers of
// two below; `block(rows_in_block, r)` runs one block.
template <int Rows, class Block>
void tile_row_blocks(int64_t r, int64_t rows, const Block& block) {
  for (; r + Rows <= rows; r += Rows) block(std::integral_constant<int, Rows>{}, r);
  if constexpr (Rows > 1) tile_row_blocks<Rows / 2>(r, rows, block);
}

template <class Arch>
void tile_load_f16_simd(int64_t d, int64_t dv, const uint16_t* k, const uint16_t* v, int64_t stride, int64_t n,
                        float* keys, float* values) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t kW = batch::size;
  alignas(64) float key[kMaxHeadDim];
  const int64_t bulk = d / kW * kW;
  for (int64_t j = 0; j < n; ++j) {
    const uint16_t* kj = k + j * stride;
    const uint16_t* vj = v + j * stride;
    for (int64_t i = 0; i < bulk; i += kW) {
      TargetOps<Arch>::load_f16(kj + i).store_aligned(key + i);
      TargetOps<Arch>::load_f16(vj + i).store_unaligned(values + j * dv + i);
    }
    for (int64_t i = bulk; i < d; ++i) {
      key[i] = f16_to_f32(kj[i]);
      values[j * dv + i] = f16_to_f32(vj[i]);
    }
    for (int64_t i = 0; i < d; ++i) keys[i * kKvTile + j] = key[i];
  }
  for (int64_t j = n; j < kKvTile; ++j) {
    std::fill_n(values + j * dv, d, 0.0f);
    for (int64_t i = 0; i < d; ++i) keys[i * kKvTile + j] = 0.0f;
  }
}

template <class Arch>
float tile_scale_max_simd(float* x, int64_t lo, int64_t hi, float scale) {
  using batch = xsimd::batch<float, Arch>;
  batch max(-std::numeric_limits<float>::infinity());
  int64_t j = lo;
  for (; j + static_cast<int64_t>(batch::size) <= hi; j += batch::size) {
    const batch v = batch::load_unaligned(x + j) * batch(scale);
    v.store_unaligned(x + j);
    max = xsimd::select(max < v, v, max);  // std::max's choice, NaNs included
  }
  alignas(64) float lanes[batch::size];  // (xsimd 8.1 has no horizontal maximum)
  max.store_aligned(lanes);
  float out = -std::numeric_limits<float>::infinity();
  for (const float lane : lanes) out = std::max(out, lane);
  for (; j < hi; ++j) out = std::max(out, x[j] *= scale);
  return out;
}

template <class Arch>
double tile_exp_sum_simd(float* x, int64_t lo, int64_t hi, float shift) {
  using batch = xsimd::batch<float, Arch>;
  using Double4 = double __attribute__((vector_size(32)));  // (GCC's generic vectors: see dot_rows_short)
  alignas(64) static constexpr auto kIndex = [] {
    std::array<float, kKvTile> index{};
    for (size_t j = 0; j < index.size(); ++j) index[j] = static_cast<float>(j);
    return index;
  }();
  for (int64_t j = 0; j < kKvTile; j += batch::size) {
    const batch index = batch::load_aligned(kIndex.data() + j);
    const auto visible = index >= batch(static_cast<float>(lo)) && index < batch(static_cast<float>(hi));
    const batch e = exp_nonpositive<BatchExpOps<Arch>>(batch::load_unaligned(x + j) - batch(shift));
    xsimd::select(visible, e, batch(0.0f)).store_unaligned(x + j);
  }
  Double4 sums[4] = {};  // lane m of sums[k]: the reference's sum 4k + m
  for (int64_t j = 0; j < kKvTile; j += 4) sums[j / 4 % 4] += Double4{x[j], x[j + 1], x[j + 2], x[j + 3]};
  const Double4 t = (sums[0] + sums[1]) + (sums[2] + sums[3]);
  return (t[0] + t[1]) + (t[2] + t[3]);
}

// A whole step: c[r][0, columns) for r < rows, in column blocks of
// kTileLanes and row blocks of eight accumulators.
template <class Arch, bool FromZero>
void tile_gemm(int64_t n, const float* a, int64_t a_stride, int64_t rows, const float* b, int64_t b_stride,
               int64_t columns, float* c, int64_t c_stride) {
  constexpr int kRows = 8 / kTileVectors<Arch>;
  for (int64_t j = 0; j < columns; j += kTileLanes) {
    tile_row_blocks<kRows>(0, rows, [&](auto block_rows, int64_t r) {
      tile_gemm_block<Arch, decltype(block_rows)::value, FromZero>(n, a + r * a_stride, a_stride, b + j, b_stride,
                                                                   c + r * c_stride + j, c_stride);
    });
  }
}

template <class Arch>
void tile_scores_simd(int64_t d, const float* q, int64_t q_stride, int64_t rows, const float* keys, float* scores) {
  tile_gemm<Arch, true>(d, q, q_stride, rows, keys, kKvTile, kKvTile, scores, kKvTile);
}

template <class Arch>
void tile_accumulate_simd(int64_t dv, const float* p, int64_t rows, const float* values, float* acc) {
  tile_gemm<Arch, false>(kKvTile, p, kKvTile, rows, values, dv, dv, acc, dv);
}

// Floats to halves (round to nearest even), a vector at a time.
template <class Arch>
void f32_to_f16_simd(const float* src, std::byte* dst, int64_t n) {
  using batch = xsimd::batch<float, Arch>;
  auto* out = reinterpret_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + static_cast<int64_t>(batch::size) <= n; i += batch::size) {
    TargetOps<Arch>::store_f16(out + i, batch::load_unaligned(src + i));
  }
  for (; i < n; ++i) out[i] = f32_to_f16(src[i]);
}

// Halves or bfloat16 values widened to floats.
template <class Arch, typename T>
void widen_to_f32_simd(const std::byte* src, float* out, int64_t n) {
  using batch = xsimd::batch<float, Arch>;
  const FloatRow<Arch, T> row{reinterpret_cast<const T*>(src)};
  int64_t i = 0;
  for (; i + static_cast<int64_t>(batch::size) <= n; i += batch::size) row.at(i).store_unaligned(out + i);
  for (; i < n; ++i) out[i] = row.scalar(i);
}

}  // namespace

// Builds the kernel table of one target with its float dot products; the
// target's own file adds its block-format kernels. Scalar elsewhere.
struct TableBuilder {
  template <class Arch>
  KernelTable operator()(Arch, std::string name) const {
    KernelTable t = scalar_kernel_table();
    t.name = std::move(name);
    const auto set = [&](DType type, DotFn dot, DotFn tiled, DotTileFn tile, DotTileFn tiled_tile,
                         FromFloatFn from_float) {
      for (size_t i = 0; i < kComputeTypes.size(); ++i) {
        if (kComputeTypes[i] == type) {
          t.types[i].dot = dot;
          t.types[i].dot_tiled = tiled;
          t.types[i].dot_tile = tile;
          t.types[i].dot_tiled_tile = tiled_tile;
          if (from_float != nullptr) t.types[i].from_float = from_float;
        }
      }
    };
    set(DType::F32, dot_vector_order<Arch, float, float>, dot_tile_order<Arch, float>,
        dot_tiles_vector_order<Arch, float, float>, dot_tiles_tile_order<Arch, float>, nullptr);
    set(DType::F16, dot_vector_order<Arch, uint16_t, double>, dot_tile_order<Arch, uint16_t>,
        dot_tiles_vector_order<Arch, uint16_t, double>, dot_tiles_tile_order<Arch, uint16_t>, f32_to_f16_simd<Arch>);
    set(DType::BF16, dot_vector_order<Arch, Bf16, double>, dot_tile_order<Arch, Bf16>,
        dot_tiles_vector_order<Arch, Bf16, double>, dot_tiles_tile_order<Arch, Bf16>, nullptr);
    for (size_t i = 0; i < kComputeTypes.size(); ++i) {
      if (kComputeTypes[i] == DType::F16) {
        t.types[i].to_float = widen_to_f32_simd<Arch, uint16_t>;
        t.types[i].dot_tile_wide = dot_tiles_vector_order<Arch, uint16_t, double, float>;
        t.types[i].dot_tiled_tile_wide = dot_tiles_tile_order<Arch, uint16_t, float>;
      }
      if (kComputeTypes[i] == DType::BF16) {
        t.types[i].dot_tile_wide = dot_tiles_vector_order<Arch, Bf16, double, float>;
        t.types[i].dot_tiled_tile_wide = dot_tiles_tile_order<Arch, Bf16, float>;
      }
    }
    t.find(DType::BF16)->to_float = widen_to_f32_simd<Arch, Bf16>;
    t.find(DType::Q8_0)->to_float = q8_0_to_float_simd<Arch>;
    t.find(DType::Q4_0)->to_float = q4_0_to_float_simd<Arch>;
    t.find(DType::Q4_K)->to_float = k_quant_4_or_5_to_float_simd<Arch, BlockQ4_K>;
    t.find(DType::Q5_K)->to_float = k_quant_4_or_5_to_float_simd<Arch, BlockQ5_K>;
    t.find(DType::Q6_K)->to_float = q6_k_to_float_simd<Arch>;
    t.half = {accumulate_values_f16_simd<Arch>, dot_rows_f16_simd<Arch>};
    t.f32 = {dot_rows_f32_simd<Arch>, accumulate_rows_f32_simd<Arch>};
    t.tile = {tile_load_f16_simd<Arch>, tile_scores_simd<Arch>, tile_scale_max_simd<Arch>, tile_exp_sum_simd<Arch>,
              tile_accumulate_simd<Arch>};
    t.rows = {rms_norm_simd<Arch>, swiglu_simd<Arch>, rotate_pairs_simd<Arch>};
    return t;
  }
};

}  // namespace ullm::kernels::simd
