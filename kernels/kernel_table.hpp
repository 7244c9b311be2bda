// The kernels chosen for one instruction-set target. A Model picks one table
// when it loads (the best the CPU runs, or the one ULLM_ARCH names) and every
// Session computes with it.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/rope.hpp"
#include "kernels/type_traits.hpp"

namespace ullm::kernels {

// The types with kernels, in table order (Q8_1 and Q8_K only as activation
// formats).
inline constexpr std::array<DType, 13> kComputeTypes{DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0,
                                                     DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K,
                                                     DType::Q6_K, DType::Q8_1, DType::Q8_K};

// Vector operations on half-precision rows (ggml's F16 flash attention).
inline constexpr int kMaxValueHeads = 4;

struct HalfVectorKernels {
  // The online-softmax value sums of `heads` (<= kMaxValueHeads) query heads
  // over rows [0, rows) of their values (rows `stride` halves apart; head
  // h's at v + h * head_stride: 0 for heads sharing a KV head, the head size
  // for heads of successive KV heads), kept in f16 as ggml keeps them: for
  // each row j in order and head h, with r = rescale[h * coef_stride + j]
  // and w = weight[h * coef_stride + j],
  //   if r != 1: acc_h[i] = f16(acc_h[i] * r);  then
  //   acc_h[i] = f16(fma(v_hj[i], w, acc_h[i])),
  // where acc_h is the d halves at acc + h * d.
  void (*accumulate_values)(int64_t d, const uint16_t* v, int64_t stride, int64_t head_stride, int64_t rows, int heads,
                            const float* rescale, const float* weight, int64_t coef_stride, uint16_t* acc);
  // out[h * out_stride + j] = the F16 `dot` of row j of k (rows `stride`
  // halves apart) with q + h * d, for j < rows and h < heads (<=
  // kMaxValueHeads): the attention scores of query heads sharing a KV head.
  void (*dot_rows)(int64_t d, const uint16_t* k, int64_t stride, int64_t rows, int heads, const uint16_t* q, float* out,
                   int64_t out_stride);
};

// Vector operations on float rows (attention over an F32 cache, ggml's
// exact softmax). Each sum adds rounded products in the written order.
struct FloatVectorKernels {
  // out[h * out_stride + j] = sum over i = 0, 1, ... of k_j[i] * q_h[i], from
  // 0, for j < rows and h < queries: row j of k at k + j * stride, query h at
  // q + h * q_stride (queries that share the rows share their loads).
  void (*dot_rows)(int64_t d, const float* k, int64_t stride, int64_t rows, int64_t queries, const float* q,
                   int64_t q_stride, float* out, int64_t out_stride);
  // acc[i] = acc[i] + p[j] * v_j[i] for j = 0 .. rows - 1 in order and i <
  // d: row j of v at v + j * stride.
  void (*accumulate)(int64_t d, const float* v, int64_t stride, int64_t rows, const float* p, float* acc);
};

// The steps of tiled attention (llama.cpp's for prompts): a tile of kKvTile
// cache rows widened to floats, then scores, weights and value sums for up
// to kKvTile query rows. Every sum is one chain of fused multiply-adds in a
// fixed order, so any target with FMA gives the scalar reference's bits.
inline constexpr int64_t kKvTile = 64;
inline constexpr int64_t kTileLanes = 16;  // value rows are padded to a multiple of this

struct TileAttentionKernels {
  // Rows [0, n) of a cache tile (rows `stride` halves apart, keys at k and
  // values at v, d of each) as floats: keys transposed (value i of row j at
  // keys[i * kKvTile + j]), values by row (at values[j * dv + i]); rows n ..
  // kKvTile - 1 as zeros. A value row's padding past d is left as it is.
  void (*load)(int64_t d, int64_t dv, const uint16_t* k, const uint16_t* v, int64_t stride, int64_t n, float* keys,
               float* values);
  // scores[r * kKvTile + j] = q_r . key j, for r < rows and j < kKvTile,
  // where q_r is the d floats at q + r * q_stride and `keys` holds the tile
  // transposed (value i of key j at keys[i * kKvTile + j]); the sum runs
  // s = fma(q_r[i], key_j[i], s) for i = 0, 1, ... from s = 0.
  void (*scores)(int64_t d, const float* q, int64_t q_stride, int64_t rows, const float* keys, float* scores);
  // x[j] *= scale for j in [lo, hi); returns the largest of them (-inf if
  // none).
  float (*scale_max)(float* x, int64_t lo, int64_t hi, float scale);
  // x[j] = e^(x[j] - shift) (exp_nonpositive: x[j] <= shift) for j in [lo,
  // hi) and 0 for the rest of [0, kKvTile); returns their sum in double:
  // sixteen sums s_m of the x[j] with j % 16 == m in order, then t_m =
  // (s_m + s_m+4) + (s_m+8 + s_m+12) and (t0 + t1) + (t2 + t3) (sixteen
  // short chains: one of 64 dependent adds had cost more than the
  // exponentials).
  double (*exp_sum)(float* x, int64_t lo, int64_t hi, float shift);
  // acc[r * dv + i] continues, for j = 0 .. kKvTile - 1 in order, as
  // fma(p[r * kKvTile + j], values[j * dv + i], acc[r * dv + i]), for r <
  // rows and i < dv (a multiple of kTileLanes): the weighted value sums.
  void (*accumulate)(int64_t dv, const float* p, int64_t rows, const float* values, float* acc);
};

// Element-wise and per-row steps of the forward pass, each in its scalar
// reference's order, so every target with fused multiply-add gives its bits.
struct RowKernels {
  void (*rms_norm)(const float* x, const float* weight, int64_t n, float eps, float* out);  // kernels/norm.hpp
  void (*swiglu)(const float* gate, const float* up, int64_t n, float* out);                // kernels/activation.hpp
  void (*rotate_pairs)(float* x, int64_t n_heads, int64_t head_dim, int64_t n_pairs, const float* cos, const float* sin,
                       RopeStyle style);  // kernels/rope.hpp
};

// For each of `count` Q8_0 blocks: its scale as a float and the sum of its
// values times `factor` (what panel kernels read besides the activation
// rows, PanelInput::kBlockSums).
using BlockSumsFn = void (*)(const std::byte* blocks, int64_t count, int32_t factor, float* scales, int32_t* sums);

struct KernelTable {
  std::string name;  // "scalar", "sse4", "avx2", "avxvnni" (AVX2 with AVX-VNNI), "avx512" (with VNNI)
  std::array<TypeKernels, kComputeTypes.size()> types{};
  HalfVectorKernels half{};
  FloatVectorKernels f32{};
  TileAttentionKernels tile{};
  RowKernels rows{};
  BlockSumsFn q8_0_block_sums = nullptr;

  // nullptr if the type has no kernels.
  const TypeKernels* find(DType type) const;
  TypeKernels* find(DType type);
  // n floats to halves (round to nearest even) through this table's F16
  // conversion: the KV cache, attention queries, GEGLU inputs.
  void to_f16(const float* src, uint16_t* dst, int64_t n) const;
};

// The scalar reference kernels: correct everywhere, the yardstick for the rest.
const KernelTable& scalar_kernel_table();

// The self-check: what `table` computes differently from the scalar
// references on a fixed set of inputs (the first kernel found, e.g. "Q4_K
// panel matmul"), or "" when it reproduces them bit for bit. Run once for
// each target before it is used: the test suite checks targets thoroughly on
// the machines it runs on, and this guards a target a CPU offers that the
// tests never ran on, so it cannot silently change results (a target that
// fails is stepped over, or refused, naming the kernel, if forced).
std::string self_check_disagreement(const KernelTable& table);

// The targets this CPU can run, best last ("scalar" is always there).
std::vector<std::string> available_targets();

// The table for `target` ("scalar", "sse4", "avx2", "avxvnni", "avx512"), or for the best
// target this CPU runs when `target` is empty. Throws InvalidArgument for an
// unknown name and UnsupportedError for a target this CPU cannot run or that
// fails the self-check.
const KernelTable& select_kernel_table(std::string_view target = {});

// The targets this CPU runs that rank above `selected` but failed the
// self-check, best first, each naming the kernel it found (e.g. "avx512
// disagrees with the scalar reference kernels on this CPU (first in:
// RMSNorm)"): why an automatic choice settled lower than the CPU suggests.
// (The automatic choice has run the self-check of every target above the
// one it chose.)
std::vector<std::string> refused_targets(std::string_view selected);

// The kernels compiled for `target` as they are, without the self-check: for
// tests that compare each of a target's kernels with its reference, so that
// a wrong kernel is named, not only its target refused. Throws as
// select_kernel_table does for an unknown or unavailable target.
const KernelTable& target_kernel_table(std::string_view target);

}  // namespace ullm::kernels
