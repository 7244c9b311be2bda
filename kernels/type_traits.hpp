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
};

// The kernels of a type, or nullptr if ullm cannot compute with it.
const TypeKernels* type_kernels(DType type);

// Bytes taken by n elements of `type`; n must be a multiple of its block size.
size_t row_size(DType type, int64_t n);

}  // namespace ullm::kernels
