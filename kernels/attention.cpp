#include "kernels/attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/dot.hpp"
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

void axpy_f16(int64_t n, uint16_t* y, const uint16_t* x, float a) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16(std::fma(f16_to_f32(x[i]), a, f16_to_f32(y[i])));
}

void scale_f16(int64_t n, uint16_t* y, float a) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16(f16_to_f32(y[i]) * a);
}

void dot_rows_f16(int64_t d, const uint16_t* k, int64_t stride, int64_t rows, const uint16_t* q, float* out) {
  for (int64_t j = 0; j < rows; ++j) {
    out[j] = dot_f16_f16(d, reinterpret_cast<const std::byte*>(k + j * stride), reinterpret_cast<const std::byte*>(q));
  }
}

void attend_f16_cache(const KernelTable& table, const AttentionShape& shape, const float* q, const uint16_t* k_cache,
                      const uint16_t* v_cache, int64_t kv_begin, int64_t kv_end, int64_t head_begin, int64_t head_end,
                      float* scores, float* out) {
  const int64_t d = shape.head_dim;
  const int64_t kv_row = shape.n_head_kv * d;
  const int64_t group = shape.n_head / shape.n_head_kv;
  uint16_t q16[kMaxHeadDim];
  uint16_t acc[kMaxHeadDim];
  for (int64_t h = head_begin; h < head_end; ++h) {
    const int64_t kv_off = (h / group) * d;
    for (int64_t i = 0; i < d; ++i) q16[i] = f32_to_f16(q[h * d + i]);
    std::fill(acc, acc + d, uint16_t{0});
    float running_sum = 0.0f;
    float running_max = -std::numeric_limits<float>::infinity();
    table.half.dot_rows(d, k_cache + kv_begin * kv_row + kv_off, kv_row, kv_end - kv_begin, q16, scores + kv_begin);
    for (int64_t j = kv_begin; j < kv_end; ++j) {
      const float s = scores[j] * shape.scale;
      float rescale = 1.0f;
      float weight = 1.0f;
      if (s > running_max) {
        rescale = std::exp(running_max - s);
        running_max = s;
        table.half.scale(d, acc, rescale);
      } else {
        weight = std::exp(s - running_max);
      }
      table.half.axpy(d, acc, v_cache + j * kv_row + kv_off, weight);
      running_sum = running_sum * rescale + weight;
    }
    const float inv = running_sum == 0.0f ? 0.0f : 1.0f / running_sum;
    for (int64_t i = 0; i < d; ++i) out[h * d + i] = f16_to_f32(acc[i]) * inv;
  }
}

}  // namespace ullm::kernels
