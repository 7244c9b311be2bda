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

struct TypeKernels {
  // Activations are converted to this type once per step before dot products
  // (ggml's vec_dot_type): quantized weights pair with Q8_0 activations so the
  // inner loop is an integer dot product.
  DType activation_type;
  ToFloatFn to_float;
  FromFloatFn from_float;
  DotFn dot;
  // The same product in the summation order of a many-token GEMM, used when
  // a matmul has several tokens and rows % 4 == 0 (where ggml tiles); equal
  // to `dot` for block formats, whose order does not depend on the path.
  DotFn dot_tiled;
  // Optional (nullptr: one dot at a time): `dot` in tiles, for block formats.
  DotTileFn dot_tile;
};

// The kernels of a type, or nullptr if ullm cannot compute with it.
const TypeKernels* type_kernels(DType type);

// Bytes taken by n elements of `type`; n must be a multiple of its block size.
size_t row_size(DType type, int64_t n);

}  // namespace ullm::kernels
