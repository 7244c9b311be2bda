// Per-type kernel table, in the spirit of ggml's type traits: one row per
// element type says how to expand it to floats, how to produce it from
// floats, and how to take a dot product against the activation format the
// type pairs with. Code that needs a type's kernels looks it up here instead
// of switching on the type.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ullm/tensor.hpp"

namespace ullm::kernels {

using ToFloatFn = void (*)(const std::byte* src, float* dst, int64_t n);
using FromFloatFn = void (*)(const float* src, std::byte* dst, int64_t n);
// Dot product of n elements: `w` in the weight type, `x` in its activation type.
using DotFn = float (*)(int64_t n, const std::byte* w, const std::byte* x);

// A tile of dot products: kTileRows weight rows (w_stride bytes apart) times
// `tokens` activation rows (x_stride bytes apart, 1 <= tokens <= kTileTokens);
// out[t * out_stride + r]. Each product is computed exactly as DotFn computes
// it; the tile only shares loads between them.
inline constexpr int kTileRows = 4;
inline constexpr int kTileTokens = 4;
using DotTileFn = void (*)(int64_t n, const std::byte* w, size_t w_stride, const std::byte* x, size_t x_stride,
                           int tokens, float* out, int64_t out_stride);

// Activations as a panel kernel reads them: the activation rows, and per
// token t and block b at [t * blocks + b], for Q8_0 activations, the block's
// scale as a float and its value sum times the kernel's `sum_factor` (Q8_K
// blocks hold a float scale and their 16-value sums).
struct PanelActivations {
  const std::byte* rows;
  size_t stride;
  int64_t tokens;
  const float* scales;
  const int32_t* sums;
};

// Products of `rows` weight rows (a multiple of PanelKernel::rows, w_stride
// bytes apart) with every token: out[t * out_stride + r].
using PanelFn = void (*)(int64_t n, const std::byte* w, size_t w_stride, int64_t rows, const PanelActivations& x,
                         float* out, int64_t out_stride);

// Rearranges `rows` rows (a multiple of PanelKernel::rows, w_stride bytes
// apart) of n values into panel order, into `out` (as many bytes as the rows).
using RepackFn = void (*)(int64_t n, const std::byte* w, size_t w_stride, int64_t rows, std::byte* out);

// A GEMM kernel that works on panels of rows laid out so that each SIMD lane
// holds one row (ggml's repacked layouts): a block's integer dot product is
// then complete in its lane and costs one conversion and one fused
// multiply-add per `rows` products, where row-at-a-time kernels spend those
// per product. `fn` lays panels out on the fly in a small buffer; weights
// repacked once at load skip that. Panels add in the order of the format's
// `dot_tiled` (for the formats with panels, also their `dot`).
struct PanelKernel {
  int rows = 0;  // rows per panel: the SIMD width in 32-bit lanes
  // What the integer dot product of a block misses, per activation sum:
  // weights are kept as unsigned bytes (Q4_0's q, standing for q - 8), so
  // the kernel starts each block from this times sum x (-8; Q5_0 -16; Q8_0
  // with VNNI -128).
  int32_t sum_factor = 0;
  PanelFn fn = nullptr;
  // Optional, for weights repacked once at load: `repack` writes rows in
  // panel order, where a panel's blocks need no transposing; `repacked` is
  // `fn` reading them (its w is the repacked panels; w_stride unused).
  RepackFn repack = nullptr;
  PanelFn repacked = nullptr;
};

struct TypeKernels {
  // Activations are converted to this type once per step before dot products
  // (ggml's vec_dot_type): quantized weights pair with Q8_0 activations so the
  // inner loop is an integer dot product.
  DType activation_type;
  ToFloatFn to_float;
  FromFloatFn from_float;
  DotFn dot;
  // The same product in the summation order of a many-token GEMM, used when
  // a matmul has several tokens and rows % 4 == 0 (where ggml tiles): the
  // float formats' tiled order; for block formats the same as `dot` (Q8_0,
  // Q4_0, Q5_0 and the K-quants convert once per block for any token count,
  // as ggml's repacked kernels do; Q4_1 and Q5_1 add per lane, as ggml's
  // vector kernels do).
  DotFn dot_tiled;
  // Optional (nullptr: one dot at a time): `dot` in tiles.
  DotTileFn dot_tile;
  // Optional: `dot_tiled` in tiles, where it differs from `dot` (the float
  // formats).
  DotTileFn dot_tiled_tile = nullptr;
  // Optional: `dot_tile` and `dot_tiled_tile` reading the activations as
  // floats, widened from the activation type once per matmul
  // (PreparedActivations::widened) instead of in every tile: 16-bit float
  // weights, whose kernels then convert only the weights.
  DotTileFn dot_tile_wide = nullptr;
  DotTileFn dot_tiled_tile_wide = nullptr;
  // Optional: panels of rows times any number of tokens, in `dot_tiled`'s order.
  PanelKernel panel{};
};

// The kernels of a type, or nullptr if ullm cannot compute with it.
const TypeKernels* type_kernels(DType type);

// Bytes taken by n elements of `type`; n must be a multiple of its block size.
size_t row_size(DType type, int64_t n);

}  // namespace ullm::kernels
