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

void accumulate_values_f16(int64_t d, const uint16_t* v, int64_t stride, int64_t head_stride, int64_t rows, int heads,
                           const float* rescale, const float* weight, int64_t coef_stride, uint16_t* acc) {
  for (int64_t j = 0; j < rows; ++j) {
    for (int h = 0; h < heads; ++h) {
      uint16_t* a = acc + h * d;
      const uint16_t* vj = v + h * head_stride + j * stride;
      const float r = rescale[h * coef_stride + j], w = weight[h * coef_stride + j];
      if (r != 1.0f) {
        for (int64_t i = 0; i < d; ++i) a[i] = f32_to_f16(f16_to_f32(a[i]) * r);
      }
      for (int64_t i = 0; i < d; ++i) a[i] = f32_to_f16(std::fma(f16_to_f32(vj[i]), w, f16_to_f32(a[i])));
    }
  }
}

void dot_rows_f16(int64_t d, const uint16_t* k, int64_t stride, int64_t rows, int heads, const uint16_t* q, float* out,
                  int64_t out_stride) {
  for (int h = 0; h < heads; ++h) {
    for (int64_t j = 0; j < rows; ++j) {
      out[h * out_stride + j] = dot_f16_f16(d, reinterpret_cast<const std::byte*>(k + j * stride),
                                            reinterpret_cast<const std::byte*>(q + h * d));
    }
  }
}

void attend_f16_cache(const KernelTable& table, const AttentionShape& shape, const float* q, const uint16_t* k_cache,
                      const uint16_t* v_cache, int64_t kv_begin, int64_t kv_end, int64_t head_begin, int64_t head_end,
                      float* out) {
  // Keys a block: the scores and softmax coefficients of a block stay in L1.
  constexpr int64_t kKeys = 128;
  const int64_t d = shape.head_dim;
  const int64_t kv_row = shape.n_head_kv * d;
  const int64_t group = shape.n_head / shape.n_head_kv;
  uint16_t q16[kMaxValueHeads * kMaxHeadDim];
  uint16_t acc[kMaxValueHeads * kMaxHeadDim];
  float rescale[kMaxValueHeads][kKeys], weight[kMaxValueHeads][kKeys], scores[kMaxValueHeads][kKeys];
  for (int64_t h0 = head_begin; h0 < head_end;) {
    // Heads [h0, h0 + heads) share a KV head, or (group 1) each have their
    // own, side by side in the cache rows.
    const int64_t kv_head = h0 / group;
    const int64_t group_end = group == 1 ? head_end : (kv_head + 1) * group;
    const int heads = static_cast<int>(std::min({head_end, group_end, h0 + kMaxValueHeads}) - h0);
    const int64_t kv_off = kv_head * d, head_stride = group == 1 ? d : 0;
    float running_sum[kMaxValueHeads], running_max[kMaxValueHeads];
    table.to_f16(q + h0 * d, q16, heads * d);
    for (int h = 0; h < heads; ++h) {
      running_sum[h] = 0.0f;
      running_max[h] = -std::numeric_limits<float>::infinity();
    }
    std::fill(acc, acc + heads * d, uint16_t{0});
    for (int64_t j0 = kv_begin; j0 < kv_end; j0 += kKeys) {
      const int64_t n = std::min(kKeys, kv_end - j0);
      if (head_stride == 0) {
        table.half.dot_rows(d, k_cache + j0 * kv_row + kv_off, kv_row, n, heads, q16, &scores[0][0], kKeys);
      } else {
        for (int h = 0; h < heads; ++h) {
          table.half.dot_rows(d, k_cache + j0 * kv_row + kv_off + h * head_stride, kv_row, n, 1, q16 + h * d, scores[h],
                              kKeys);
        }
      }
      for (int h = 0; h < heads; ++h) {
        for (int64_t j = 0; j < n; ++j) {
          const float s = scores[h][j] * shape.scale;
          float r = 1.0f, w = 1.0f;
          if (s > running_max[h]) {
            r = std::exp(running_max[h] - s);
            running_max[h] = s;
          } else {
            w = std::exp(s - running_max[h]);
          }
          rescale[h][j] = r;
          weight[h][j] = w;
          running_sum[h] = running_sum[h] * r + w;
        }
      }
      table.half.accumulate_values(d, v_cache + j0 * kv_row + kv_off, kv_row, head_stride, n, heads, &rescale[0][0],
                                   &weight[0][0], kKeys, acc);
    }
    for (int h = 0; h < heads; ++h) {
      const float inv = running_sum[h] == 0.0f ? 0.0f : 1.0f / running_sum[h];
      for (int64_t i = 0; i < d; ++i) out[(h0 + h) * d + i] = f16_to_f32(acc[h * d + i]) * inv;
    }
    h0 += heads;
  }
}

}  // namespace ullm::kernels
