#include "kernels/attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/fp16.hpp"

namespace ullm::kernels {

void attend_f32_cache(const AttentionShape& shape, const float* q, const float* k_cache, const float* v_cache,
                      int64_t kv_begin, int64_t kv_end, int64_t head_begin, int64_t head_end, float* scores,
                      float* out) {
  const int64_t d = shape.head_dim;
  const int64_t kv_row = shape.n_head_kv * d;
  const int64_t group = shape.n_head / shape.n_head_kv;
  for (int64_t h = head_begin; h < head_end; ++h) {
    const float* qh = q + h * d;
    const int64_t kv_off = (h / group) * d;
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t j = kv_begin; j < kv_end; ++j) {
      const float* kj = k_cache + j * kv_row + kv_off;
      float s = 0.0f;
      for (int64_t i = 0; i < d; ++i) s += kj[i] * qh[i];
      scores[j] = s * shape.scale;
      max = std::max(max, scores[j]);
    }
    double sum = 0.0;
    for (int64_t j = kv_begin; j < kv_end; ++j) {
      scores[j] = std::exp(scores[j] - max);
      sum += scores[j];
    }
    const float inv = static_cast<float>(1.0 / sum);
    float* oh = out + h * d;
    for (int64_t i = 0; i < d; ++i) oh[i] = 0.0f;
    for (int64_t j = kv_begin; j < kv_end; ++j) {
      const float p = scores[j] * inv;
      const float* vj = v_cache + j * kv_row + kv_off;
      for (int64_t i = 0; i < d; ++i) oh[i] += p * vj[i];
    }
  }
}

void attend_f16_cache(const AttentionShape& shape, const float* q, const uint16_t* k_cache, const uint16_t* v_cache,
                      int64_t kv_begin, int64_t kv_end, int64_t head_begin, int64_t head_end, float* out) {
  const int64_t d = shape.head_dim;
  const int64_t kv_row = shape.n_head_kv * d;
  const int64_t group = shape.n_head / shape.n_head_kv;
  float q16[kMaxHeadDim];
  uint16_t acc[kMaxHeadDim];
  for (int64_t h = head_begin; h < head_end; ++h) {
    const int64_t kv_off = (h / group) * d;
    for (int64_t i = 0; i < d; ++i) q16[i] = round_to_f16(q[h * d + i]);
    std::fill(acc, acc + d, uint16_t{0});
    float running_sum = 0.0f;
    float running_max = -std::numeric_limits<float>::infinity();
    for (int64_t j = kv_begin; j < kv_end; ++j) {
      const uint16_t* kj = k_cache + j * kv_row + kv_off;
      // Products of two halves are exact in float; their sum is taken in double.
      double dot = 0.0;
      for (int64_t i = 0; i < d; ++i) dot += static_cast<double>(f16_to_f32(kj[i]) * q16[i]);
      const float s = static_cast<float>(dot) * shape.scale;
      float rescale = 1.0f;
      float weight = 1.0f;
      if (s > running_max) {
        rescale = std::exp(running_max - s);
        running_max = s;
        for (int64_t i = 0; i < d; ++i) acc[i] = f32_to_f16(f16_to_f32(acc[i]) * rescale);
      } else {
        weight = std::exp(s - running_max);
      }
      const uint16_t* vj = v_cache + j * kv_row + kv_off;
      for (int64_t i = 0; i < d; ++i) acc[i] = f32_to_f16(f16_to_f32(acc[i]) + f16_to_f32(vj[i]) * weight);
      running_sum = running_sum * rescale + weight;
    }
    const float inv = running_sum == 0.0f ? 0.0f : 1.0f / running_sum;
    for (int64_t i = 0; i < d; ++i) out[h * d + i] = f16_to_f32(acc[i]) * inv;
  }
}

}  // namespace ullm::kernels
