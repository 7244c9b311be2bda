// Attention of one query position over a KV cache, per head, with grouped
// query heads sharing a KV head.
#pragma once

#include <cstdint>

#include "kernels/kernel_table.hpp"

namespace ullm::kernels {

struct AttentionShape {
  int64_t n_head;     // query heads
  int64_t n_head_kv;  // key/value heads; n_head is a multiple of it
  int64_t head_dim;
  float scale;  // applied to q.k before the softmax
};

inline constexpr int64_t kMaxHeadDim = 1024;

// Cache rows hold one position each: n_head_kv * head_dim values. The query
// sees cache positions [kv_begin, kv_end); query heads [head_begin, head_end)
// are computed into their slots of `out` (n_head * head_dim floats).

// F32 cache: exact softmax over all scores (ggml's attention without flash
// attention, the sum of exponentials in double), through `table`'s float
// row kernels, for `tokens` consecutive queries (n_head * head_dim floats
// apart in q and out): token t sees cache positions [first_end + t - window,
// first_end + t), from 0 when window is 0. Queries that share cache rows —
// one token's heads of a KV head, or one head's tokens — share their key
// loads, kF32AttentionQueries at a time; each query's result is the same as
// alone. `scores` needs kF32AttentionQueries * (first_end + tokens - 1)
// floats.
inline constexpr int64_t kF32AttentionQueries = 8;
void attend_f32_cache(const KernelTable& table, const AttentionShape& shape, const float* q, int64_t tokens,
                      const float* k_cache, const float* v_cache, int64_t first_end, int64_t window, int64_t head_begin,
                      int64_t head_end, float* scores, float* out);

// F16 cache: the query is rounded to f16 and the softmax runs online with the
// weighted value sum kept in f16, reproducing ggml's CPU flash attention
// (llama.cpp's default setting) so results agree with it closely. q.k is
// the table's F16 dot product, as ggml's is its f16 dot. Query vectors that
// share a KV head (query heads of grouped-query attention, the same head of
// successive tokens) or, for one token without grouped queries, successive
// heads are summed together, up to kMaxValueHeads at a time, so their f16
// rounding chains overlap instead of waiting on each other.
// `tokens` successive positions: token u's query at q + u * row_stride sees
// cache positions [kv_begin, kv_end + u), and its output goes to
// out + u * row_stride.
void attend_f16_cache(const KernelTable& table, const AttentionShape& shape, const float* q, const uint16_t* k_cache,
                      const uint16_t* v_cache, int64_t kv_begin, int64_t kv_end, int64_t head_begin, int64_t head_end,
                      float* out, int64_t tokens = 1, int64_t row_stride = 0);

// F16 cache, a prompt of kTiledAttentionTokens or more (llama.cpp's tiled
// flash attention, which its CPU backend runs for batches that long): query
// heads [head_begin, head_end) of `tokens` successive positions, token u's
// query for head h at q + u * row_stride + h * d and its output at
// out + u * row_stride + h * d. Token u sees cache positions
// [kv_end + u - window, kv_end + u) (from 0 if window is 0 or reaches past
// it). The query stays in f32; cache rows are widened to floats kKvTile at
// a time (tiles aligned to position 0, as llama.cpp walks its cache), once
// for all the heads of a KV head; per tile, each query's scores (an FMA
// chain over the dimensions, then times the scale), its running maximum and
// sum (the tile's exponentials added in double), and its f32 value sums
// (rescaled when the maximum grows, then the tile's FMA chain over rows).
// Queries do not affect each other's results: any split of the tokens or
// heads gives the same bits.
inline constexpr int64_t kTiledAttentionTokens = 64;
void attend_f16_cache_tiled(const KernelTable& table, const AttentionShape& shape, const float* q,
                            const uint16_t* k_cache, const uint16_t* v_cache, int64_t kv_end, int64_t window,
                            int64_t head_begin, int64_t head_end, int64_t tokens, int64_t row_stride, float* out);

// Scalar references of the tiled attention's steps.
void tile_load_f16(int64_t d, int64_t dv, const uint16_t* k, const uint16_t* v, int64_t stride, int64_t n, float* keys,
                   float* values);
void tile_scores_f32(int64_t d, const float* q, int64_t q_stride, int64_t rows, const float* keys, float* scores);
float tile_scale_max(float* x, int64_t lo, int64_t hi, float scale);
double tile_exp_sum(float* x, int64_t lo, int64_t hi, float shift);
void tile_accumulate_f32(int64_t dv, const float* p, int64_t rows, const float* values, float* acc);

// Scalar references of the float row kernels (FloatVectorKernels).
void dot_rows_f32(int64_t d, const float* k, int64_t stride, int64_t rows, int64_t queries, const float* q,
                  int64_t q_stride, float* out, int64_t out_stride);
void accumulate_rows_f32(int64_t d, const float* v, int64_t stride, int64_t rows, const float* p, float* acc);

// Scalar references of the half-precision vector kernels.
void accumulate_values_f16(int64_t d, const uint16_t* v, int64_t stride, int64_t head_stride, int64_t rows, int heads,
                           const float* rescale, const float* weight, int64_t coef_stride, uint16_t* acc);
void dot_rows_f16(int64_t d, const uint16_t* k, int64_t stride, int64_t rows, int heads, const uint16_t* q, float* out,
                  int64_t out_stride);

}  // namespace ullm::kernels
