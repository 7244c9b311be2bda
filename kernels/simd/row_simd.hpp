// The forward pass's element-wise and per-row steps (RMSNorm, SwiGLU, RoPE's
// rotation) as SIMD bodies for any xsimd arch, each in its scalar
// reference's order (kernels/norm.hpp, activation.hpp, rope.hpp). Included
// by dot_simd.hpp, so compiled once per target.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <xsimd/xsimd.hpp>

#include "kernels/activation.hpp"
#include "kernels/exp.hpp"
#include "kernels/norm.hpp"
#include "kernels/rope.hpp"
#include "kernels/simd/target_ops.hpp"

namespace ullm::kernels::simd {
// Internal linkage: see kernels/fp16.hpp.
namespace {

template <class Arch>
struct BatchExpOps {
  using Float = xsimd::batch<float, Arch>;
  static Float fma(Float a, Float b, Float c) { return TargetOps<Arch>::fma(a, b, c); }
  static Float exponent_bits(Float t) {
    using Int = xsimd::batch<int32_t, Arch>;  // (a shift by a vector: GCC 12 warns falsely on AVX-512 immediates)
    return xsimd::bitwise_cast<Float>(xsimd::bitwise_cast<Int>(t) << Int(23));
  }
  static Float zero_below(Float x, float low, Float v) { return xsimd::select(x < Float(low), Float(0.0f), v); }
  static Float abs(Float x) { return xsimd::abs(x); }
  static Float if_nonnegative(Float x, Float a, Float b) { return xsimd::select(x >= Float(0.0f), a, b); }
  // Through GCC's generic vectors: xsimd 8.1 divides on NEON by a refined
  // reciprocal estimate, an ulp or so off.
  static Float divide(Float a, Float b) {
    using Register = typename Float::register_type;
    return static_cast<Register>(a) / static_cast<Register>(b);
  }
};

// The eight chains of squares as two vectors of four doubles (GCC's generic
// vectors: xsimd 8.1 has no float-to-double widening; wider ones went
// through the stack on AVX2).
template <class Arch>
void rms_norm_simd(const float* x, const float* weight, int64_t n, float eps, float* out) {
  using Float4 = float __attribute__((vector_size(16)));
  using Double4 = double __attribute__((vector_size(32)));
  Double4 chains[2] = {};  // chains 0-3 and 4-7
  const auto add_squares = [&](const float* p) {
    Float4 v[2];
    std::memcpy(v, p, sizeof v);
    for (int h = 0; h < 2; ++h) chains[h] += __builtin_convertvector(v[h] * v[h], Double4);
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) add_squares(x + i);
  if (i < n) {  // zeros past the end add nothing to their chains
    float tail[8] = {};
    std::memcpy(tail, x + i, static_cast<size_t>(n - i) * sizeof(float));
    add_squares(tail);
  }
  double sums[8];
  std::memcpy(sums, chains, sizeof sums);
  const float scale = rms_scale(sums, n, eps);

  using batch = xsimd::batch<float, Arch>;
  for (i = 0; i + static_cast<int64_t>(batch::size) <= n; i += batch::size) {
    ((batch::load_unaligned(x + i) * batch(scale)) * batch::load_unaligned(weight + i)).store_unaligned(out + i);
  }
  for (; i < n; ++i) out[i] = (x[i] * scale) * weight[i];
}

template <class Arch>
void swiglu_simd(const float* gate, const float* up, int64_t n, float* out) {
  using batch = xsimd::batch<float, Arch>;
  int64_t i = 0;
  for (; i + static_cast<int64_t>(batch::size) <= n; i += batch::size) {
    (silu<BatchExpOps<Arch>>(batch::load_unaligned(gate + i)) * batch::load_unaligned(up + i)).store_unaligned(out + i);
  }
  for (; i < n; ++i) out[i] = silu<ScalarExpOps>(gate[i]) * up[i];
}

// Each pair of lanes swapped: a generic shuffle of the batch's register
// (xsimd's swizzle and 64-bit shifts trip false GCC 12 warnings on AVX-512),
// one in-lane permute on x86, a rev64 on NEON.
template <class Arch, size_t... Lanes>
xsimd::batch<float, Arch> swap_pairs(xsimd::batch<float, Arch> v, std::index_sequence<Lanes...>) {
  using Register = typename xsimd::batch<float, Arch>::register_type;
  const Register r = v;
  return __builtin_shufflevector(r, r, static_cast<int>(Lanes ^ 1)...);
}

template <class Arch>
xsimd::batch<float, Arch> swap_pairs(xsimd::batch<float, Arch> v) {
  return swap_pairs(v, std::make_index_sequence<xsimd::batch<float, Arch>::size>());
}

// NeoX pairs (i, i + n_pairs) are two runs of values; adjacent pairs
// (2i, 2i + 1) are rotated a vector at a time as x c' + swap(x) s', with c'
// each cosine twice and s' each sine as (-s, s): x0 c + x1 (-s) and x1 c +
// x0 s round as the reference's x0 c - x1 s and x0 s + x1 c.
template <class Arch>
void rotate_pairs_simd(float* x, int64_t n_heads, int64_t head_dim, int64_t n_pairs, const float* cos, const float* sin,
                       RopeStyle style) {
  using batch = xsimd::batch<float, Arch>;
  constexpr auto kW = static_cast<int64_t>(batch::size);
  const int64_t whole_pairs = n_pairs / kW * kW;  // pairs rotated a vector at a time
  if (style == RopeStyle::Neox) {
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim;
      for (int64_t i = 0; i < whole_pairs; i += kW) {
        const batch x0 = batch::load_unaligned(v + i), x1 = batch::load_unaligned(v + i + n_pairs);
        const batch c = batch::load_unaligned(cos + i), s = batch::load_unaligned(sin + i);
        (x0 * c - x1 * s).store_unaligned(v + i);
        (x0 * s + x1 * c).store_unaligned(v + i + n_pairs);
      }
      for (int64_t i = whole_pairs; i < n_pairs; ++i) {
        const float x0 = v[i], x1 = v[i + n_pairs];
        v[i] = x0 * cos[i] - x1 * sin[i];
        v[i + n_pairs] = x0 * sin[i] + x1 * cos[i];
      }
    }
    return;
  }
  constexpr int64_t kChunk = 128;  // values of c' and s' made at a time, for every head
  alignas(64) float c2[kChunk], s2[kChunk];
  for (int64_t j0 = 0; j0 < 2 * whole_pairs; j0 += kChunk) {
    const int64_t count = std::min(kChunk, 2 * whole_pairs - j0);
    for (int64_t j = 0; j < count; j += 2) {
      c2[j] = c2[j + 1] = cos[(j0 + j) / 2];
      s2[j] = -sin[(j0 + j) / 2];
      s2[j + 1] = sin[(j0 + j) / 2];
    }
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim + j0;
      for (int64_t j = 0; j < count; j += kW) {
        const batch xv = batch::load_unaligned(v + j);
        (xv * batch::load_aligned(c2 + j) + swap_pairs(xv) * batch::load_aligned(s2 + j)).store_unaligned(v + j);
      }
    }
  }
  if (whole_pairs < n_pairs) {
    for (int64_t h = 0; h < n_heads; ++h) {
      rotate_pairs(x + h * head_dim + 2 * whole_pairs, 1, 0, n_pairs - whole_pairs, cos + whole_pairs,
                   sin + whole_pairs, RopeStyle::Adjacent);
    }
  }
}

// Lanes [half * W/2, half * W/2 + W/2) of a and b interleaved (a generic
// shuffle: xsimd 8.1's zip on AVX interleaves within 128-bit lanes).
template <class Arch, int Half, size_t... Lanes>
xsimd::batch<float, Arch> interleave(xsimd::batch<float, Arch> a, xsimd::batch<float, Arch> b,
                                     std::index_sequence<Lanes...>) {
  using Register = typename xsimd::batch<float, Arch>::register_type;
  constexpr int kW = sizeof...(Lanes);
  const Register ra = a, rb = b;
  return __builtin_shufflevector(ra, rb, static_cast<int>(Half * kW / 2 + Lanes / 2 + (Lanes % 2) * kW)...);
}

// A square block of batch::size rows' batch::size values, transposed in
// registers: log2 of the width rounds of interleaving halves.
template <class Arch>
void transpose_square(xsimd::batch<float, Arch>* v) {
  using batch = xsimd::batch<float, Arch>;
  constexpr size_t kW = batch::size;
  const auto lanes = std::make_index_sequence<kW>();
  for (size_t width = 1; width < kW; width *= 2) {
    batch t[kW];
    for (size_t i = 0; i < kW / 2; ++i) {
      t[2 * i] = interleave<Arch, 0>(v[i], v[i + kW / 2], lanes);
      t[2 * i + 1] = interleave<Arch, 1>(v[i], v[i + kW / 2], lanes);
    }
    std::copy_n(t, kW, v);
  }
}

// Attention over an F32 cache (FloatVectorKernels): each row's score is a
// chain of rounded products added in order, so batch::size rows run their
// chains side by side over their keys transposed a square block at a time
// (one chain after another had been latency-bound), and up to kQueries
// queries take their chains from each transposed block.
template <class Arch, int kQueries>
void dot_row_block_f32(int64_t d, const float* k, int64_t stride, int64_t n, const float* q, int64_t q_stride,
                       float* out, int64_t out_stride) {
  using batch = xsimd::batch<float, Arch>;
  constexpr auto kW = static_cast<int64_t>(batch::size);
  alignas(64) static constexpr float kZeros[kW] = {};
  const int64_t whole = d / kW * kW;
  batch s[kQueries];
  for (int h = 0; h < kQueries; ++h) s[h] = batch(0.0f);
  for (int64_t i0 = 0; i0 < whole; i0 += kW) {
    batch v[kW];
    for (int64_t r = 0; r < kW; ++r) v[r] = batch::load_unaligned(r < n ? k + r * stride + i0 : kZeros);
    transpose_square<Arch>(v);
    for (int64_t c = 0; c < kW; ++c) {
      for (int h = 0; h < kQueries; ++h) s[h] = s[h] + v[c] * batch(q[h * q_stride + i0 + c]);
    }
  }
  for (int64_t i = whole; i < d; ++i) {  // the last dimensions, a column at a time
    alignas(64) float column[kW] = {};
    for (int64_t r = 0; r < n; ++r) column[r] = k[r * stride + i];
    const batch col = batch::load_aligned(column);
    for (int h = 0; h < kQueries; ++h) s[h] = s[h] + col * batch(q[h * q_stride + i]);
  }
  for (int h = 0; h < kQueries; ++h) {
    alignas(64) float sums[kW];
    s[h].store_aligned(sums);
    std::copy_n(sums, n, out + h * out_stride);
  }
}

template <class Arch>
void dot_rows_f32_simd(int64_t d, const float* k, int64_t stride, int64_t rows, int64_t queries, const float* q,
                       int64_t q_stride, float* out, int64_t out_stride) {
  constexpr auto kW = static_cast<int64_t>(xsimd::batch<float, Arch>::size);
  for (int64_t j = 0; j < rows; j += kW) {
    const int64_t n = std::min(kW, rows - j);
    const float* kj = k + j * stride;
    for (int64_t h = 0; h < queries;) {
      const float* qh = q + h * q_stride;
      float* oh = out + h * out_stride + j;
      switch (std::min<int64_t>(4, queries - h)) {
        case 1:
          dot_row_block_f32<Arch, 1>(d, kj, stride, n, qh, q_stride, oh, out_stride);
          h += 1;
          break;
        case 2:
          dot_row_block_f32<Arch, 2>(d, kj, stride, n, qh, q_stride, oh, out_stride);
          h += 2;
          break;
        case 3:
          dot_row_block_f32<Arch, 3>(d, kj, stride, n, qh, q_stride, oh, out_stride);
          h += 3;
          break;
        default:
          dot_row_block_f32<Arch, 4>(d, kj, stride, n, qh, q_stride, oh, out_stride);
          h += 4;
          break;
      }
    }
  }
}

// Value sums: kVectors vectors of dimensions stay in registers over all the
// rows (through memory, each row's sum waited for the last row's store).
template <class Arch, int kVectors>
void accumulate_row_block_f32(const float* v, int64_t stride, int64_t rows, const float* p, float* acc) {
  using batch = xsimd::batch<float, Arch>;
  constexpr auto kW = static_cast<int64_t>(batch::size);
  batch a[kVectors];
  for (int c = 0; c < kVectors; ++c) a[c] = batch::load_unaligned(acc + c * kW);
  for (int64_t j = 0; j < rows; ++j) {
    const batch pj(p[j]);
    for (int c = 0; c < kVectors; ++c) a[c] = a[c] + pj * batch::load_unaligned(v + j * stride + c * kW);
  }
  for (int c = 0; c < kVectors; ++c) a[c].store_unaligned(acc + c * kW);
}

template <class Arch>
void accumulate_rows_f32_simd(int64_t d, const float* v, int64_t stride, int64_t rows, const float* p, float* acc) {
  constexpr auto kW = static_cast<int64_t>(xsimd::batch<float, Arch>::size);
  const int64_t whole = d / kW * kW;
  for (int64_t i = 0; i < whole;) {
    switch (std::min<int64_t>(4, (whole - i) / kW)) {
      case 1:
        accumulate_row_block_f32<Arch, 1>(v + i, stride, rows, p, acc + i);
        i += kW;
        break;
      case 2:
        accumulate_row_block_f32<Arch, 2>(v + i, stride, rows, p, acc + i);
        i += 2 * kW;
        break;
      case 3:
        accumulate_row_block_f32<Arch, 3>(v + i, stride, rows, p, acc + i);
        i += 3 * kW;
        break;
      default:
        accumulate_row_block_f32<Arch, 4>(v + i, stride, rows, p, acc + i);
        i += 4 * kW;
        break;
    }
  }
  for (int64_t i = whole; i < d; ++i) {
    for (int64_t j = 0; j < rows; ++j) acc[i] += p[j] * v[j * stride + i];
  }
}

}  // namespace
}  // namespace ullm::kernels::simd
