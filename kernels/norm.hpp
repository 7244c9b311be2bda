#pragma once

#include <cstdint>

namespace ullm::kernels {

// out = x / sqrt(mean(x^2) + eps) * weight, as ggml computes it: each square
// rounded to float and summed in double, the scale applied before the
// weight. The scalar reference of KernelTable::rows.rms_norm. The sum runs
// in eight chains, s_m over the x[i]^2 with i % 8 == m in order, then
// ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)): a vector of eight
// doubles halved twice, which every target computes the same way.
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);

// The scale of that normalisation, 1 / sqrt(mean + eps), from the eight
// chains' sums (shared by the reference and the SIMD kernels).
float rms_scale(const double (&sums)[8], int64_t n, float eps);

}  // namespace ullm::kernels
