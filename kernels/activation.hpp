#pragma once

#include <cstdint>

namespace ullm::kernels {

// out[i] = silu(gate[i]) * up[i] with silu from kernels/exp.hpp; out may
// alias gate. The scalar reference of KernelTable::rows.swiglu.
void swiglu(const float* gate, const float* up, int64_t n, float* out);

struct KernelTable;

// out[i] = gelu(gate[i]) * up[i] with tanh-GELU as ggml's CPU backend
// computes it: the input rounded to f16 (by `kernels`' F16 conversion, the
// same on every target) and looked up in a table of f16 results for
// |x| < 10, x itself above, 0 below. out may alias gate.
void geglu(const KernelTable& kernels, const float* gate, const float* up, int64_t n, float* out);

// y[i] += x[i]
void add_inplace(float* y, const float* x, int64_t n);

// y[i] *= a
void scale_inplace(float* y, float a, int64_t n);

}  // namespace ullm::kernels
