#include "kernels/activation.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "kernels/exp.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kernel_table.hpp"

namespace ullm::kernels {

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = silu<ScalarExpOps>(gate[i]) * up[i];
}

namespace {

float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kCubic = 0.044715f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCubic * x * x)));
}

// GELU of every half-precision value, as halves: built once, then read-only.
const std::array<uint16_t, 65536>& gelu_f16_table() {
  static const auto table = [] {
    std::array<uint16_t, 65536> t{};
    for (uint32_t h = 0; h < t.size(); ++h) t[h] = f32_to_f16(gelu_tanh(f16_to_f32(static_cast<uint16_t>(h))));
    return t;
  }();
  return table;
}

}  // namespace

void geglu(const KernelTable& kernels, const float* gate, const float* up, int64_t n, float* out) {
  const auto& table = gelu_f16_table();
  constexpr int64_t kChunk = 256;
  uint16_t halves[kChunk];
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    const int64_t count = std::min(kChunk, n - i0);
    kernels.to_f16(gate + i0, halves, count);
    for (int64_t j = 0; j < count; ++j) {
      const int64_t i = i0 + j;
      const float x = gate[i];
      if (x <= -10.0f) {
        out[i] = 0.0f;
      } else if (x >= 10.0f) {
        out[i] = x * up[i];
      } else {
        out[i] = f16_to_f32(table[halves[j]]) * up[i];
      }
    }
  }
}

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void scale_inplace(float* y, float a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

}  // namespace ullm::kernels
