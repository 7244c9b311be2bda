#include "kernels/rope.hpp"

#include <cmath>
#include <vector>

namespace ullm::kernels {

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos, const RopeFrequencies& freq,
          RopeStyle style) {
  const float theta_scale = std::pow(freq.base, -2.0f / static_cast<float>(n_rot));
  const int64_t n_pairs = n_rot / 2;
  // cos/sin for each pair, shared by every head.
  float cs[2 * 256];
  std::vector<float> heap;
  float* table = cs;
  if (n_pairs > 256) {
    heap.resize(2 * n_pairs);
    table = heap.data();
  }
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < n_pairs; ++i) {
    const float angle = freq.scale * (theta / (freq.factors != nullptr ? freq.factors[i] : 1.0f));
    table[2 * i] = std::cos(angle);
    table[2 * i + 1] = std::sin(angle);
    theta *= theta_scale;
  }
  const int64_t stride = style == RopeStyle::Adjacent ? 1 : n_pairs;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (int64_t i = 0; i < n_pairs; ++i) {
      const int64_t a = style == RopeStyle::Adjacent ? 2 * i : i;
      const float x0 = v[a];
      const float x1 = v[a + stride];
      const float c = table[2 * i];
      const float s = table[2 * i + 1];
      v[a] = x0 * c - x1 * s;
      v[a + stride] = x0 * s + x1 * c;
    }
  }
}

}  // namespace ullm::kernels
