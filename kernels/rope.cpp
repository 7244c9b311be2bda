#include "kernels/rope.hpp"

#include <cmath>
#include <vector>

#include "kernels/kernel_table.hpp"

namespace ullm::kernels {

void rope(const KernelTable& table, float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos,
          const RopeFrequencies& freq, RopeStyle style) {
  const float theta_scale = std::pow(freq.base, -2.0f / static_cast<float>(n_rot));
  const int64_t n_pairs = n_rot / 2;
  // The angles' cosines and sines, shared by every head.
  constexpr int64_t kOnStack = 256;
  float on_stack[2 * kOnStack];
  std::vector<float> heap;
  float* cos = on_stack;
  if (n_pairs > kOnStack) {
    heap.resize(static_cast<size_t>(2 * n_pairs));
    cos = heap.data();
  }
  float* sin = cos + n_pairs;
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < n_pairs; ++i) {
    const float angle = freq.scale * (theta / (freq.factors != nullptr ? freq.factors[i] : 1.0f));
    cos[i] = std::cos(angle);
    sin[i] = std::sin(angle);
    theta *= theta_scale;
  }
  table.rows.rotate_pairs(x, n_heads, head_dim, n_pairs, cos, sin, style);
}

void rotate_pairs(float* x, int64_t n_heads, int64_t head_dim, int64_t n_pairs, const float* cos, const float* sin,
                  RopeStyle style) {
  const int64_t stride = style == RopeStyle::Adjacent ? 1 : n_pairs;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (int64_t i = 0; i < n_pairs; ++i) {
      const int64_t a = style == RopeStyle::Adjacent ? 2 * i : i;
      const float x0 = v[a];
      const float x1 = v[a + stride];
      v[a] = x0 * cos[i] - x1 * sin[i];
      v[a + stride] = x0 * sin[i] + x1 * cos[i];
    }
  }
}

}  // namespace ullm::kernels
