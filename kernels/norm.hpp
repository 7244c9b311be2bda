#pragma once

#include <cstdint>

namespace ullm::kernels {

// out = x / sqrt(mean(x^2) + eps) * weight, as ggml computes it: the sum of
// squares in double, the scale applied before the weight.
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);

}  // namespace ullm::kernels
