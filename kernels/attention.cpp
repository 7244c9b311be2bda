#include "kernels/attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/dot.hpp"
#include "kernels/exp.hpp"
#include "kernels/fp16.hpp"

namespace ullm::kernels {

void attend_f32_cache(const KernelTable& table, const AttentionShape& shape, const float* q, int64_t tokens,
                      const float* k_cache, const float* v_cache, int64_t first_end, int64_t window, int64_t head_begin,
                      int64_t head_end, float* scores, float* out) {
  const int64_t d = shape.head_dim;
  const int64_t kv_row = shape.n_head_kv * d;
  const int64_t q_width = shape.n_head * d;
  const int64_t group = shape.n_head / shape.n_head_kv;
  const auto visible_begin = [&](int64_t t) { return window > 0 ? std::max<int64_t>(0, first_end + t - window) : 0; };
  // `count` queries from (token t0, head h0), stepping through one token's
  // heads of a KV head or through one head's tokens.
  const auto attend = [&](int64_t t0, int64_t h0, int64_t count, bool step_heads) {
    const int64_t begin = visible_begin(t0), end = first_end + t0 + (step_heads ? 0 : count - 1);
    const int64_t kv_off = (h0 / group) * d, width = end - begin;
    table.f32.dot_rows(d, k_cache + begin * kv_row + kv_off, kv_row, width, count, q + t0 * q_width + h0 * d,
                       step_heads ? d : q_width, scores, width);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t t = step_heads ? t0 : t0 + i, h = step_heads ? h0 + i : h0;
      const int64_t first = visible_begin(t), rows = first_end + t - first;
      float* s = scores + i * width + (first - begin);
      float max = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < rows; ++j) max = std::max(max, s[j] *= shape.scale);
      double sum = 0.0;
      for (int64_t j = 0; j < rows; ++j) {
        s[j] = std::exp(s[j] - max);
        sum += s[j];
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < rows; ++j) s[j] *= inv;
      float* oh = out + t * q_width + h * d;
      std::fill_n(oh, d, 0.0f);
      table.f32.accumulate(d, v_cache + first * kv_row + kv_off, kv_row, rows, s, oh);
    }
  };
  if (tokens == 1) {
    for (int64_t h = head_begin; h < head_end;) {
      const int64_t group_end = std::min(head_end, (h / group + 1) * group);
      const int64_t count = std::min(kF32AttentionQueries, group_end - h);
      attend(0, h, count, true);
      h += count;
    }
    return;
  }
  for (int64_t h = head_begin; h < head_end; ++h) {
    for (int64_t t = 0; t < tokens; t += kF32AttentionQueries) {
      attend(t, h, std::min(kF32AttentionQueries, tokens - t), false);
    }
  }
}

void dot_rows_f32(int64_t d, const float* k, int64_t stride, int64_t rows, int64_t queries, const float* q,
                  int64_t q_stride, float* out, int64_t out_stride) {
  for (int64_t h = 0; h < queries; ++h) {
    for (int64_t j = 0; j < rows; ++j) {
      float s = 0.0f;
      for (int64_t i = 0; i < d; ++i) s += k[j * stride + i] * q[h * q_stride + i];
      out[h * out_stride + j] = s;
    }
  }
}

void accumulate_rows_f32(int64_t d, const float* v, int64_t stride, int64_t rows, const float* p, float* acc) {
  for (int64_t j = 0; j < rows; ++j) {
    for (int64_t i = 0; i < d; ++i) acc[i] += p[j] * v[j * stride + i];
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

void tile_load_f16(int64_t d, int64_t dv, const uint16_t* k, const uint16_t* v, int64_t stride, int64_t n, float* keys,
                   float* values) {
  for (int64_t j = 0; j < kKvTile; ++j) {
    for (int64_t i = 0; i < d; ++i) {
      keys[i * kKvTile + j] = j < n ? f16_to_f32(k[j * stride + i]) : 0.0f;
      values[j * dv + i] = j < n ? f16_to_f32(v[j * stride + i]) : 0.0f;
    }
  }
}

void tile_scores_f32(int64_t d, const float* q, int64_t q_stride, int64_t rows, const float* keys, float* scores) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < kKvTile; ++j) {
      float s = 0.0f;
      for (int64_t i = 0; i < d; ++i) s = std::fma(q[r * q_stride + i], keys[i * kKvTile + j], s);
      scores[r * kKvTile + j] = s;
    }
  }
}

float tile_scale_max(float* x, int64_t lo, int64_t hi, float scale) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t j = lo; j < hi; ++j) max = std::max(max, x[j] *= scale);
  return max;
}

double tile_exp_sum(float* x, int64_t lo, int64_t hi, float shift) {
  double sums[16] = {};
  for (int64_t j = 0; j < kKvTile; ++j) {
    x[j] = j >= lo && j < hi ? exp_nonpositive<ScalarExpOps>(x[j] - shift) : 0.0f;
    sums[j % 16] += x[j];
  }
  double t[4];
  for (int m = 0; m < 4; ++m) t[m] = (sums[m] + sums[m + 4]) + (sums[m + 8] + sums[m + 12]);
  return (t[0] + t[1]) + (t[2] + t[3]);
}

void tile_accumulate_f32(int64_t dv, const float* p, int64_t rows, const float* values, float* acc) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < dv; ++i) {
      float a = acc[r * dv + i];
      for (int64_t j = 0; j < kKvTile; ++j) a = std::fma(p[r * kKvTile + j], values[j * dv + i], a);
      acc[r * dv + i] = a;
    }
  }
}

void attend_f16_cache_tiled(const KernelTable& table, const AttentionShape& shape, const float* q,
                            const uint16_t* k_cache, const uint16_t* v_cache, int64_t kv_end, int64_t window,
                            int64_t head_begin, int64_t head_end, int64_t tokens, int64_t row_stride, float* out) {
  const int64_t d = shape.head_dim;
  const int64_t dv = (d + kTileLanes - 1) / kTileLanes * kTileLanes;
  const int64_t kv_row = shape.n_head_kv * d;
  const int64_t group = shape.n_head / shape.n_head_kv;
  const int64_t most_heads = std::min(group, head_end - head_begin);
  const auto first_visible = [&](int64_t u) { return window > 0 ? std::max<int64_t>(0, kv_end + u - window) : 0; };
  // The tile's keys (transposed) and values as floats (values padded with
  // zeros to dv), the scores (then weights) of one head's block of tokens,
  // and per head of the KV head its tokens' value sums, maxima and sums.
  std::vector<float> scratch(static_cast<size_t>(kKvTile * (d + dv + kKvTile) + most_heads * kKvTile * (dv + 2)));
  float* keys = scratch.data();
  float* values = keys + kKvTile * d;
  float* p = values + kKvTile * dv;
  float* acc = p + kKvTile * kKvTile;
  float* running_max = acc + most_heads * kKvTile * dv;
  float* running_sum = running_max + most_heads * kKvTile;
  for (int64_t kv_head = head_begin / group; kv_head * group < head_end; ++kv_head) {
    const int64_t h_begin = std::max(head_begin, kv_head * group), h_end = std::min(head_end, (kv_head + 1) * group);
    const int64_t heads = h_end - h_begin;
    for (int64_t u0 = 0; u0 < tokens; u0 += kKvTile) {
      const int64_t rows = std::min(kKvTile, tokens - u0);
      std::fill_n(acc, heads * kKvTile * dv, 0.0f);
      std::fill_n(running_max, heads * kKvTile, -std::numeric_limits<float>::infinity());
      std::fill_n(running_sum, heads * kKvTile, 0.0f);
      const int64_t end = kv_end + u0 + rows - 1;  // past the last row any token sees
      for (int64_t c0 = first_visible(u0) / kKvTile * kKvTile; c0 < end; c0 += kKvTile) {
        const int64_t at = c0 * kv_row + kv_head * d;
        table.tile.load(d, dv, k_cache + at, v_cache + at, kv_row, std::min(kKvTile, end - c0), keys, values);
        for (int64_t h = 0; h < heads; ++h) {  // the query heads sharing this tile
          float* head_acc = acc + h * kKvTile * dv;
          float* head_max = running_max + h * kKvTile;
          float* head_sum = running_sum + h * kKvTile;
          table.tile.scores(d, q + u0 * row_stride + (h_begin + h) * d, row_stride, rows, keys, p);
          for (int64_t r = 0; r < rows; ++r) {
            // This token's rows of the tile: [lo, hi).
            const int64_t lo = std::max<int64_t>(0, first_visible(u0 + r) - c0);
            const int64_t hi = std::min(kKvTile, kv_end + u0 + r - c0);
            float* pr = p + r * kKvTile;
            const float tile_max = table.tile.scale_max(pr, lo, hi, shape.scale);
            if (tile_max == -std::numeric_limits<float>::infinity()) {  // no visible row
              std::fill_n(pr, kKvTile, 0.0f);
              continue;
            }
            if (tile_max > head_max[r]) {
              const float rescale = std::exp(head_max[r] - tile_max);
              for (int64_t i = 0; i < dv; ++i) head_acc[r * dv + i] *= rescale;
              head_sum[r] *= rescale;
              head_max[r] = tile_max;
            }
            head_sum[r] = static_cast<float>(head_sum[r] + table.tile.exp_sum(pr, lo, hi, head_max[r]));
          }
          table.tile.accumulate(dv, p, rows, values, head_acc);
        }
      }
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t r = 0; r < rows; ++r) {
          const float sum = running_sum[h * kKvTile + r];
          const float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
          const float* a = acc + (h * kKvTile + r) * dv;
          float* o = out + (u0 + r) * row_stride + (h_begin + h) * d;
          for (int64_t i = 0; i < d; ++i) o[i] = a[i] * inv;
        }
      }
    }
  }
}

namespace {

// The online softmax of up to kMaxValueHeads query vectors over the same
// cache rows: their f16 queries, f16 value sums and running maxima and sums.
struct QueryChunk {
  static constexpr int64_t kKeys = 128;  // keys a block: scores and coefficients stay in L1
  uint16_t q16[kMaxValueHeads * kMaxHeadDim];
  uint16_t acc[kMaxValueHeads * kMaxHeadDim];
  float running_max[kMaxValueHeads], running_sum[kMaxValueHeads];
  float rescale[kMaxValueHeads][kKeys], weight[kMaxValueHeads][kKeys], scores[kMaxValueHeads][kKeys];

  // Vectors [first, first + count) over cache rows [begin, end), whose keys
  // and values for vector i start at k and v + i * head_stride (0: shared).
  void attend(const KernelTable& table, const AttentionShape& shape, const uint16_t* k, const uint16_t* v,
              int64_t kv_row, int64_t head_stride, int64_t begin, int64_t end, int first, int count) {
    const int64_t d = shape.head_dim;
    for (int64_t j0 = begin; j0 < end; j0 += kKeys) {
      const int64_t n = std::min(kKeys, end - j0);
      if (head_stride == 0) {
        table.half.dot_rows(d, k + j0 * kv_row, kv_row, n, count, q16 + first * d, scores[first], kKeys);
      } else {
        for (int i = first; i < first + count; ++i) {
          table.half.dot_rows(d, k + j0 * kv_row + (i - first) * head_stride, kv_row, n, 1, q16 + i * d, scores[i],
                              kKeys);
        }
      }
      for (int i = first; i < first + count; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          const float s = scores[i][j] * shape.scale;
          float r = 1.0f, w = 1.0f;
          if (s > running_max[i]) {
            r = std::exp(running_max[i] - s);
            running_max[i] = s;
          } else {
            w = std::exp(s - running_max[i]);
          }
          rescale[i][j] = r;
          weight[i][j] = w;
          running_sum[i] = running_sum[i] * r + w;
        }
      }
      table.half.accumulate_values(d, v + j0 * kv_row, kv_row, head_stride, n, count, &rescale[first][0],
                                   &weight[first][0], kKeys, acc + first * d);
    }
  }
};

// The chunk of `count` query vectors (token[i], head[i]) sharing KV head
// head[0] / group (head_stride 0), or successive heads of one token
// (head_stride d).
void attend_chunk(QueryChunk& chunk, const KernelTable& table, const AttentionShape& shape, const float* q,
                  const uint16_t* k_cache, const uint16_t* v_cache, int64_t kv_begin, int64_t kv_end, float* out,
                  int64_t row_stride, const int64_t* token, const int64_t* head, int count, int64_t head_stride) {
  const int64_t d = shape.head_dim;
  const int64_t kv_row = shape.n_head_kv * d;
  const int64_t kv_offset = head[0] / (shape.n_head / shape.n_head_kv) * d;
  for (int i = 0; i < count; ++i) {
    table.to_f16(q + token[i] * row_stride + head[i] * d, chunk.q16 + i * d, d);
    chunk.running_sum[i] = 0.0f;
    chunk.running_max[i] = -std::numeric_limits<float>::infinity();
  }
  std::fill(chunk.acc, chunk.acc + count * d, uint16_t{0});
  // Token u sees rows [kv_begin, kv_end + u): all vectors up to the end of
  // the first's (the earliest token's) together, then each the rest alone.
  const int64_t common_end = kv_end + token[0];
  chunk.attend(table, shape, k_cache + kv_offset, v_cache + kv_offset, kv_row, head_stride, kv_begin, common_end, 0,
               count);
  for (int i = 1; i < count; ++i) {
    if (token[i] > token[0]) {
      chunk.attend(table, shape, k_cache + kv_offset, v_cache + kv_offset, kv_row, 0, common_end, kv_end + token[i], i,
                   1);
    }
  }
  for (int i = 0; i < count; ++i) {
    const float inv = chunk.running_sum[i] == 0.0f ? 0.0f : 1.0f / chunk.running_sum[i];
    float* o = out + token[i] * row_stride + head[i] * d;
    for (int64_t e = 0; e < d; ++e) o[e] = f16_to_f32(chunk.acc[i * d + e]) * inv;
  }
}

}  // namespace

void attend_f16_cache(const KernelTable& table, const AttentionShape& shape, const float* q, const uint16_t* k_cache,
                      const uint16_t* v_cache, int64_t kv_begin, int64_t kv_end, int64_t head_begin, int64_t head_end,
                      float* out, int64_t tokens, int64_t row_stride) {
  const int64_t group = shape.n_head / shape.n_head_kv;
  QueryChunk chunk;
  int64_t token[kMaxValueHeads], head[kMaxValueHeads];
  // Chunks of up to kMaxValueHeads query vectors, so their f16 rounding
  // chains overlap instead of waiting on each other: one token's successive
  // heads without grouped queries (side by side in the cache rows), else
  // the vectors of a KV head, token by token, head by head.
  if (tokens == 1 && group == 1) {
    for (int64_t h0 = head_begin; h0 < head_end; h0 += kMaxValueHeads) {
      const int count = static_cast<int>(std::min<int64_t>(kMaxValueHeads, head_end - h0));
      for (int i = 0; i < count; ++i) {
        token[i] = 0;
        head[i] = h0 + i;
      }
      attend_chunk(chunk, table, shape, q, k_cache, v_cache, kv_begin, kv_end, out, row_stride, token, head, count,
                   shape.head_dim);
    }
    return;
  }
  for (int64_t kv_head = head_begin / group; kv_head * group < head_end; ++kv_head) {
    const int64_t h_begin = std::max(head_begin, kv_head * group), h_end = std::min(head_end, (kv_head + 1) * group);
    const int64_t heads = h_end - h_begin;
    for (int64_t index = 0; index < tokens * heads;) {
      int count = 0;
      for (; count < kMaxValueHeads && index < tokens * heads; ++count, ++index) {
        token[count] = index / heads;
        head[count] = h_begin + index % heads;
      }
      attend_chunk(chunk, table, shape, q, k_cache, v_cache, kv_begin, kv_end, out, row_stride, token, head, count, 0);
    }
  }
}

}  // namespace ullm::kernels
