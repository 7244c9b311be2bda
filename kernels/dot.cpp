// Scalar reference dot products, in the summation orders llama.cpp's CPU
// kernels use, so results agree with it to the last bit wherever the inputs
// and the order do: a different order changes logits by ~1e-6 relative, and
// later roundings to f16 or int8 amplify that into visible differences.
// The float formats, Q4_1 and Q5_1 follow ggml's x86 vector kernels (8
// integer lanes per block, each scaled into a float lane); Q8_0, Q4_0, Q5_0
// and the K-quants follow ggml's repacked GEMMs (one float per block or
// super-block), which is what llama.cpp runs for those on AVX2 machines
// (Q8_0 on Arm) and what ullm's panel kernels compute.
#include "kernels/dot.hpp"

#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"

namespace ullm::kernels {
namespace {

uint16_t load_u16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

float load_f32(const std::byte* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

// Horizontal sum of 16 lanes in the order of a 512-bit reduction:
// halves, then quarters, then pairs.
float reduce_16_lanes(const float* a) {
  float t[8], u[4];
  for (int i = 0; i < 8; ++i) t[i] = a[i + 8] + a[i];
  for (int i = 0; i < 4; ++i) u[i] = t[i + 4] + t[i];
  return (u[0] + u[2]) + (u[1] + u[3]);
}

// Horizontal sum of 8 lanes in the order of a 256-bit reduction.
float reduce_8_lanes(const float* a) {
  float r[4];
  for (int i = 0; i < 4; ++i) r[i] = a[i + 4] + a[i];
  return (r[0] + r[2]) + (r[1] + r[3]);
}

// Float dot product in the order of ggml's vector kernel (one token): four
// 16-lane fused multiply-add accumulators over 64-element steps, reduced,
// then the tail added one product at a time (in float for F32 inputs, in
// double for 16-bit inputs).
template <typename Tail, typename Load>
float dot_float_vector_order(int64_t n, Load load_w, Load load_x) {
  float acc[4][16] = {};
  const int64_t bulk = n & ~int64_t{63};
  for (int64_t i = 0; i < bulk; i += 64) {
    for (int j = 0; j < 4; ++j) {
      for (int l = 0; l < 16; ++l) {
        const int64_t e = i + 16 * j + l;
        acc[j][l] = std::fma(load_w(e), load_x(e), acc[j][l]);
      }
    }
  }
  for (int l = 0; l < 16; ++l) acc[0][l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
  Tail sum = reduce_16_lanes(acc[0]);
  for (int64_t i = bulk; i < n; ++i) {
    if constexpr (std::is_same_v<Tail, double>) {
      sum += static_cast<double>(load_w(i) * load_x(i));
    } else {
      sum = std::fma(load_w(i), load_x(i), sum);
    }
  }
  return static_cast<float>(sum);
}

// Float dot product in the order of ggml's tiled GEMM (many tokens): one
// 16-lane fused multiply-add accumulator over 16-element chunks, the last
// chunk partial, then reduced.
template <typename Load>
float dot_float_tile_order(int64_t n, Load load_w, Load load_x) {
  float acc[16] = {};
  for (int64_t c = 0; c < n; c += 16) {
    for (int l = 0; l < 16 && c + l < n; ++l) acc[l] = std::fma(load_w(c + l), load_x(c + l), acc[l]);
  }
  return reduce_16_lanes(acc);
}

auto f32_at(const std::byte* p) {
  return [p](int64_t i) { return load_f32(p + 4 * i); };
}
auto f16_at(const std::byte* p) {
  return [p](int64_t i) { return f16_to_f32(load_u16(p + 2 * i)); };
}
auto bf16_at(const std::byte* p) {
  return [p](int64_t i) { return bf16_to_f32(load_u16(p + 2 * i)); };
}

// Integer dot product of one 32-element block as 8 lanes of 4 products,
// each lane scaled and accumulated in float, as the VNNI / maddubs kernels do.
template <typename WeightAt>
void accumulate_block(WeightAt w, const int8_t* x, float scale, float* acc) {
  for (int l = 0; l < 8; ++l) {
    int32_t lane = 0;
    for (int j = 0; j < 4; ++j) lane += w(4 * l + j) * x[4 * l + j];
    acc[l] = std::fma(scale, static_cast<float>(lane), acc[l]);
  }
}

}  // namespace

float dot_f32_f32(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_float_vector_order<float>(n, f32_at(w), f32_at(x));
}
float dot_f16_f16(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_float_vector_order<double>(n, f16_at(w), f16_at(x));
}
float dot_bf16_bf16(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_float_vector_order<double>(n, bf16_at(w), bf16_at(x));
}
float dot_f32_f32_tiled(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_float_tile_order(n, f32_at(w), f32_at(x));
}
float dot_f16_f16_tiled(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_float_tile_order(n, f16_at(w), f16_at(x));
}
float dot_bf16_bf16_tiled(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_float_tile_order(n, bf16_at(w), bf16_at(x));
}

namespace {

// The offset formats (Q4_1, Q5_1) against Q8_1 activations: per block, 8
// integer lanes scaled by the two block scales and accumulated in float; the
// offsets times the activation sums accumulated apart and added last, as
// ggml does.
template <typename Block, typename ValueAt>
float dot_offset_blocks(int64_t n, const std::byte* w, const std::byte* x, ValueAt value) {
  const auto* wb = reinterpret_cast<const Block*>(w);
  const auto* xb = reinterpret_cast<const BlockQ8_1*>(x);
  float acc[8] = {};
  float offsets = 0.0f;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    offsets = std::fma(f16_to_f32(wb[b].m), f16_to_f32(xb[b].s), offsets);
    const float scale = f16_to_f32(wb[b].d) * f16_to_f32(xb[b].d);
    accumulate_block([&](int i) { return value(wb[b], i); }, xb[b].qs, scale, acc);
  }
  return reduce_8_lanes(acc) + offsets;
}

}  // namespace

namespace {

// The order of Q8_0, Q4_0 and Q5_0 (for any token count): each block's
// integer dot product whole, converted once and added with one fused
// multiply-add times the product of the scales. ggml's repacked kernels
// (Q4_0_8x8, which llama.cpp uses on AVX2 and newer for any matrix of 8k
// rows, one token or many; Q8_0_4x8 on Arm) add so, and ullm's panel
// kernels can: their lanes hold whole rows.
template <typename Block, typename ValueAt>
float dot_blocks_whole(int64_t n, const std::byte* w, const std::byte* x, ValueAt value) {
  const auto* wb = reinterpret_cast<const Block*>(w);
  const auto* xb = reinterpret_cast<const BlockQ8_0*>(x);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    int32_t sum = 0;
    for (int i = 0; i < kQK8_0; ++i) sum += value(wb[b], i) * xb[b].qs[i];
    acc = std::fma(static_cast<float>(sum), f16_to_f32(wb[b].d) * f16_to_f32(xb[b].d), acc);
  }
  return acc;
}

}  // namespace

float dot_q8_0_q8_0(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_blocks_whole<BlockQ8_0>(n, w, x, [](const BlockQ8_0& b, int i) { return static_cast<int32_t>(b.qs[i]); });
}

float dot_q4_0_q8_0(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_blocks_whole<BlockQ4_0>(n, w, x, [](const BlockQ4_0& b, int i) { return nibble(b.qs, i) - 8; });
}

float dot_q5_0_q8_0(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_blocks_whole<BlockQ5_0>(
      n, w, x, [](const BlockQ5_0& b, int i) { return (nibble(b.qs, i) | fifth_bit(b.qh, i)) - 16; });
}

float dot_q4_1_q8_1(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_offset_blocks<BlockQ4_1>(n, w, x, [](const BlockQ4_1& b, int i) { return nibble(b.qs, i); });
}

float dot_q5_1_q8_1(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_offset_blocks<BlockQ5_1>(n, w, x,
                                      [](const BlockQ5_1& b, int i) { return nibble(b.qs, i) | fifth_bit(b.qh, i); });
}

namespace {

// Value i of a Q4_K or Q5_K block (0-15 or 0-31).
template <bool FifthBit, typename Block>
int q4_or_5_k_value(const Block& b, int i) {
  if constexpr (FifthBit) return q4_k_nibble(b.qs, i) + q5_k_fifth_bit(b.qh, i);
  return q4_k_nibble(b.qs, i);
}

// K-quants against Q8_K in the order of ggml's repacked GEMMs (and ullm's
// panel kernels, one row per lane), for any token count. Q4_K and Q5_K: per
// super-block, the sub-block dot products times their scales summed in
// integers, and the minimums times the activations' sub-block sums, each
// converted once and added with one FMA.
template <bool FifthBit, typename Block>
float dot_q4_or_5_k(int64_t n, const std::byte* w, const std::byte* x) {
  const auto* wb = reinterpret_cast<const Block*>(w);
  const auto* xb = reinterpret_cast<const BlockQ8_K*>(x);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int32_t sub_block[kQK_K / 32] = {};
    for (int i = 0; i < kQK_K; ++i) sub_block[i / 32] += q4_or_5_k_value<FifthBit>(wb[b], i) * xb[b].qs[i];
    acc = add_q4_or_5_k_super_block(wb[b], xb[b], sub_block, acc);
  }
  return acc;
}

}  // namespace

float dot_q4_k_q8_k(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_q4_or_5_k<false, BlockQ4_K>(n, w, x);
}

float dot_q5_k_q8_k(int64_t n, const std::byte* w, const std::byte* x) {
  return dot_q4_or_5_k<true, BlockQ5_K>(n, w, x);
}

// Q6_K: one integer sum per super-block, sum_j sc_j (q.x over j - 32 bsum_j),
// the offsets taken through the activation sums, converted once.
float dot_q6_k_q8_k(int64_t n, const std::byte* w, const std::byte* x) {
  const auto* wb = reinterpret_cast<const BlockQ6_K*>(w);
  const auto* xb = reinterpret_cast<const BlockQ8_K*>(x);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int32_t sub_block[kQK_K / 16] = {};
    for (int i = 0; i < kQK_K; ++i) sub_block[i / 16] += q6_k_value(wb[b], i) * xb[b].qs[i];
    acc = add_q6_k_super_block(wb[b], xb[b], sub_block, acc);
  }
  return acc;
}

}  // namespace ullm::kernels
