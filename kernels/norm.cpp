#include "kernels/norm.hpp"

#include <cmath>

namespace ullm::kernels {

float rms_scale(const double (&sums)[8], int64_t n, float eps) {
  const double total = ((sums[0] + sums[4]) + (sums[2] + sums[6])) + ((sums[1] + sums[5]) + (sums[3] + sums[7]));
  const auto mean = static_cast<float>(total / static_cast<double>(n));
  return 1.0f / std::sqrt(mean + eps);
}

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double sums[8] = {};
  for (int64_t i = 0; i < n; ++i) sums[i % 8] += static_cast<double>(x[i] * x[i]);
  const float scale = rms_scale(sums, n, eps);
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] * scale) * weight[i];
}

}  // namespace ullm::kernels
