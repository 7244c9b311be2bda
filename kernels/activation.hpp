#pragma once

#include <cstdint>

namespace ullm::kernels {

inline float silu(float x) {
  return x / (1.0f + __builtin_expf(-x));
}

// out[i] = silu(gate[i]) * up[i]; out may alias gate.
void swiglu(const float* gate, const float* up, int64_t n, float* out);

// y[i] += x[i]
void add_inplace(float* y, const float* x, int64_t n);

}  // namespace ullm::kernels
