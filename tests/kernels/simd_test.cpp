// Every SIMD target this CPU runs against the scalar reference kernels, over
// awkward sizes and misaligned rows. Targets with fused multiply-add add in
// the reference's exact order and must agree bit for bit; SSE4.2 has no FMA
// and must agree to within a few units in the last place of the sum's size.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <tuple>

#include "kernels/attention.hpp"
#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kernel_table.hpp"
#include "kernels/matmul.hpp"
#include "kernels/quantize.hpp"
#include "kernels/type_traits.hpp"
#include "support/test_support.hpp"
#include "ullm/error.hpp"

namespace ullm::kernels {
namespace {

using test::random_floats;

// Bytes of `n` elements of `type` at `offset` bytes into a buffer, so rows
// start at unaligned addresses.
std::vector<std::byte> encode_at(DType type, const std::vector<float>& x, size_t offset) {
  std::vector<std::byte> out(offset + row_size(type, static_cast<int64_t>(x.size())));
  type_kernels(type)->from_float(x.data(), out.data() + offset, static_cast<int64_t>(x.size()));
  return out;
}

class SimdTargetTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SimdTargetTest, DotProductsMatchScalar) {
  const KernelTable& simd = target_kernel_table(GetParam());
  const KernelTable& scalar = scalar_kernel_table();
  const bool exact = GetParam() != "sse4";
  for (DType type : kComputeTypes) {
    const TypeKernels& ref = *scalar.find(type);
    const TypeKernels& got = *simd.find(type);
    if (ref.dot == nullptr) continue;  // activation-only format
    const int64_t block = dtype_info(type).block_size;
    for (int64_t n : {1, 3, 15, 16, 17, 32, 63, 64, 65, 96, 172, 256, 768, 1000, 2048, 5632, 11008}) {
      if (n % block != 0) continue;
      // Rows start off SIMD alignment but on their element's own (as GGUF
      // rows do; activations hold floats in F32 and Q8_K).
      const size_t unit = type == DType::F32 ? 4 : 2;
      const size_t x_unit = ref.activation_type == DType::F32 || ref.activation_type == DType::Q8_K ? 4 : 2;
      for (size_t step : {0, 1, 2, 3}) {
        const size_t offset = step * unit, x_offset = (3 - step) * x_unit;
        auto wf = random_floats(static_cast<size_t>(n), static_cast<uint32_t>(n) * 7 + 1);
        const auto xf = random_floats(static_cast<size_t>(n), static_cast<uint32_t>(n) * 7 + 2);
        const auto w = encode_at(type, wf, offset);
        const auto x = encode_at(ref.activation_type, xf, x_offset);
        double magnitude = 0;
        for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(static_cast<double>(wf[i]) * xf[i]);
        for (auto [name, ref_dot, got_dot] :
             {std::tuple{"vector", ref.dot, got.dot}, std::tuple{"tiled", ref.dot_tiled, got.dot_tiled}}) {
          const float expected = ref_dot(n, w.data() + offset, x.data() + x_offset);
          const float actual = got_dot(n, w.data() + offset, x.data() + x_offset);
          if (exact) {
            ASSERT_EQ(actual, expected) << dtype_name(type) << " " << name << " n " << n << " offset " << offset;
          } else {
            ASSERT_NEAR(actual, expected, 1e-6 * magnitude)
                << dtype_name(type) << " " << name << " n " << n << " offset " << offset;
          }
        }
      }
    }
  }
}

TEST_P(SimdTargetTest, ExtremeBlockValues) {
  // Weights of -128 and activations at +-127 are where 8-bit tricks overflow.
  const KernelTable& simd = target_kernel_table(GetParam());
  const TypeKernels& ref = *scalar_kernel_table().find(DType::Q8_0);
  const TypeKernels& got = *simd.find(DType::Q8_0);
  std::vector<std::byte> w(34 * 4), x(34 * 4);
  for (int b = 0; b < 4; ++b) {
    const uint16_t one = 0x3c00;
    std::memcpy(&w[34 * b], &one, 2);
    std::memcpy(&x[34 * b], &one, 2);
    for (int i = 0; i < 32; ++i) {
      w[34 * b + 2 + i] = static_cast<std::byte>(static_cast<int8_t>(b % 2 ? -128 : 127));
      x[34 * b + 2 + i] = static_cast<std::byte>(static_cast<int8_t>(i % 2 ? -127 : 127));
    }
  }
  EXPECT_EQ(got.dot(128, w.data(), x.data()), ref.dot(128, w.data(), x.data()));
}

TEST_P(SimdTargetTest, ActivationQuantizersMatchScalar) {
  const KernelTable& simd = target_kernel_table(GetParam());
  for (DType type : kComputeTypes) {
    const TypeKernels& ref = *scalar_kernel_table().find(type);
    const TypeKernels& got = *simd.find(type);
    for (int64_t n : {32, 64, 2048}) {
      if (n % dtype_info(type).block_size != 0) continue;
      auto x = random_floats(static_cast<size_t>(n), 5);
      x[3] = 0.0f;
      for (int i = 32; i < 64 && i < n; ++i) x[i] = 0.0f;     // an all-zero block
      if (n > 64) x[70] = 1e30f;                              // a huge value
      if (n > 300) x[290] = 1e20f, x[292] = x[300] = -1e20f;  // ties of magnitudes: the first one counts
      if (n > 600) x[600] = NAN;                              // garbage in: the same garbage out on every target
      if (n > 1280) {  // whole blocks so small that their scale's reciprocal overflows
        for (int i = 1024; i < 1280; ++i) x[i] *= (i % 3 == 0 ? 1e-40f : 1e-38f);
        x[1030] = 0.0f;
      }
      if (n > 128) {  // a Q8_0 block scaled by exactly 1, its products ties: to even
        x[96] = 127.0f;
        for (int i = 97; i < 128; ++i) x[i] = static_cast<float>(i - 112) + 0.5f;
      }
      std::vector<std::byte> a(row_size(type, n)), b(a.size());
      ref.from_float(x.data(), a.data(), n);
      got.from_float(x.data(), b.data(), n);
      EXPECT_EQ(a, b) << dtype_name(type) << " n " << n;
    }
  }
}

// Floats to halves (the F16 KV cache, F16 activations) on bit patterns
// across the whole float range — NaNs, infinities, the subnormal halves,
// ties to even, the overflow edge — in a count that leaves a scalar tail.
// RMSNorm, SwiGLU and RoPE's rotation over lengths around every vector
// width, from misaligned pointers. RMSNorm and the rotation have no fused
// steps: every target matches to the bit; SwiGLU's exponential does (SSE4.2
// rounds it once more per step: within 4 ulps).
TEST_P(SimdTargetTest, RowKernelsMatchScalar) {
  const KernelTable& simd = target_kernel_table(GetParam());
  const KernelTable& scalar = scalar_kernel_table();
  const bool fused = GetParam() != "sse4";
  for (const int64_t n : {1, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 288, 2048, 5635}) {
    const auto x = random_floats(static_cast<size_t>(n + 1), 80, 30.0f), w = random_floats(x.size(), 81);
    std::vector<float> want(x.size()), got(x.size());
    scalar.rows.rms_norm(x.data() + 1, w.data() + 1, n, 1e-6f, want.data() + 1);
    simd.rows.rms_norm(x.data() + 1, w.data() + 1, n, 1e-6f, got.data() + 1);
    ASSERT_EQ(got, want) << "rms_norm n " << n;

    auto gate = random_floats(x.size(), 82, 20.0f);  // past the exponential's ends as well:
    gate[1] = -95.0f, gate[n] = 95.0f;
    scalar.rows.swiglu(gate.data() + 1, w.data() + 1, n, want.data() + 1);
    simd.rows.swiglu(gate.data() + 1, w.data() + 1, n, got.data() + 1);
    for (int64_t i = 1; i <= n; ++i) {
      if (fused) {
        ASSERT_EQ(got[i], want[i]) << "swiglu n " << n << " i " << i;
      } else {
        ASSERT_LE(std::abs(std::bit_cast<int32_t>(got[i]) - std::bit_cast<int32_t>(want[i])), 4)
            << "swiglu n " << n << " i " << i;
      }
    }
  }
  for (const int64_t n_pairs : {1, 2, 3, 4, 7, 8, 9, 16, 17, 32, 64, 100, 300}) {
    const int64_t head_dim = 2 * n_pairs + 3, heads = 3;  // dimensions past the rotated ones stay
    const auto angles = random_floats(static_cast<size_t>(2 * n_pairs), 83, 3.0f);
    std::vector<float> cos(angles.size()), sin(angles.size());
    for (size_t i = 0; i < angles.size(); ++i) cos[i] = std::cos(angles[i]), sin[i] = std::sin(angles[i]);
    for (const RopeStyle style : {RopeStyle::Adjacent, RopeStyle::Neox}) {
      auto want = random_floats(static_cast<size_t>(heads * head_dim + 1), 84), got = want;
      scalar.rows.rotate_pairs(want.data() + 1, heads, head_dim, n_pairs, cos.data() + 1, sin.data() + 1, style);
      simd.rows.rotate_pairs(got.data() + 1, heads, head_dim, n_pairs, cos.data() + 1, sin.data() + 1, style);
      ASSERT_EQ(got, want) << "rotate_pairs n_pairs " << n_pairs << (style == RopeStyle::Neox ? " neox" : "");
    }
  }
}

// Every type expanded to floats (embedding rows) from rows of 1, 3 and 7
// blocks (float formats: 37, 111 and 259 values) 4 bytes past an alignment:
// blocks hold fields of up to 4 bytes, vectors stay unaligned. Block formats from
// random bytes (every value and scale code) under finite f16 scales, float
// formats from random values. Bit for bit, -0 included.
TEST_P(SimdTargetTest, DequantizationMatchesScalar) {
  const KernelTable& simd = target_kernel_table(GetParam());
  const KernelTable& scalar = scalar_kernel_table();
  std::mt19937 rng(23);
  for (size_t t = 0; t < kComputeTypes.size(); ++t) {
    const DType type = kComputeTypes[t];
    const DTypeInfo info = dtype_info(type);
    const bool is_float = type == DType::F32 || type == DType::F16 || type == DType::BF16;
    // The f16 scales each block keeps (Q6_K last, the rest first; Q8_K's is
    // a float, and it is an activation format only).
    size_t scales = 1;
    if (is_float || type == DType::Q8_K) scales = 0;
    for (const DType two : {DType::Q4_1, DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q8_1}) {
      if (type == two) scales = 2;
    }
    for (const int64_t blocks : {1, 3, 7}) {
      const int64_t n = blocks * info.block_size * (is_float ? 37 : 1);  // float rows past a vector
      constexpr size_t kOffset = 4;
      std::vector<std::byte> raw(row_size(type, n) + kOffset);
      if (is_float) {
        raw = encode_at(type, random_floats(static_cast<size_t>(n), 24, 5.0f), kOffset);
      } else {
        for (auto& b : raw) b = static_cast<std::byte>(rng());
        for (size_t b = 0; b < static_cast<size_t>(blocks); ++b) {
          const size_t at = kOffset + b * info.block_bytes + (type == DType::Q6_K ? info.block_bytes - 2 : 0);
          for (size_t i = 0; i < scales; ++i) {
            const auto scale = static_cast<uint16_t>(0x2c00 + rng() % 0x800 + (rng() % 2 ? 0x8000 : 0));
            std::memcpy(&raw[at + 2 * i], &scale, 2);
          }
        }
      }
      std::vector<float> want(static_cast<size_t>(n)), got(want.size());
      scalar.types[t].to_float(raw.data() + kOffset, want.data(), n);
      simd.types[t].to_float(raw.data() + kOffset, got.data(), n);
      ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
          << dtype_name(type) << " blocks " << blocks;
    }
  }
}

TEST_P(SimdTargetTest, F16ConversionMatchesScalar) {
  const KernelTable& simd = target_kernel_table(GetParam());
  std::vector<float> x;
  for (uint64_t u = 0; u <= 0xffffffffu; u += 0x10001u) x.push_back(std::bit_cast<float>(static_cast<uint32_t>(u)));
  for (float f : {65504.0f, 65519.99f, 65520.0f, 6.1035156e-05f, 5.9604645e-08f, 2.9802322e-08f, -0.0f}) {
    x.push_back(f);
    x.push_back(std::nextafter(f, 0.0f));
  }
  for (uint32_t h = 0; h < 0x7c00; h += 37) {  // halfway between neighbouring halves
    x.push_back(0.5f * (f16_to_f32(static_cast<uint16_t>(h)) + f16_to_f32(static_cast<uint16_t>(h + 1))));
  }
  if (x.size() % 2 == 0) x.push_back(1.0f);
  std::vector<uint16_t> want(x.size()), got(x.size());
  const auto n = static_cast<int64_t>(x.size());
  scalar_kernel_table().find(DType::F16)->from_float(x.data(), reinterpret_cast<std::byte*>(want.data()), n);
  simd.find(DType::F16)->from_float(x.data(), reinterpret_cast<std::byte*>(got.data()), n);
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << "float bits " << std::hex << std::bit_cast<uint32_t>(x[i]);
  }
  // And back: every half (zeros, subnormals, infinities, NaNs) to the
  // reference's float bits.
  std::vector<uint16_t> halves(0x10000);
  for (size_t h = 0; h < halves.size(); ++h) halves[h] = static_cast<uint16_t>(h);
  std::vector<float> widened(halves.size());
  simd.find(DType::F16)->to_float(reinterpret_cast<const std::byte*>(halves.data()), widened.data(), 0x10000);
  for (size_t h = 0; h < halves.size(); ++h) {
    ASSERT_EQ(std::bit_cast<uint32_t>(widened[h]), std::bit_cast<uint32_t>(f16_to_f32(halves[h])))
        << "half bits " << std::hex << h;
  }
}

// Every byte value (-128 included, which quantized activations never hold
// but a caller could pass) in blocks of any count, off SIMD alignment (on
// the blocks' own two bytes, as GGUF rows are).
TEST_P(SimdTargetTest, Q8_0BlockSumsMatchScalar) {
  const KernelTable& simd = target_kernel_table(GetParam());
  std::mt19937 rng(17);
  for (int64_t count : {0, 1, 7, 65}) {
    std::vector<std::byte> bytes(2 + static_cast<size_t>(count) * sizeof(BlockQ8_0));
    for (auto& b : bytes) b = static_cast<std::byte>(rng());
    auto* blocks = reinterpret_cast<BlockQ8_0*>(bytes.data() + 2);
    if (count > 2) {
      std::fill(std::begin(blocks[1].qs), std::end(blocks[1].qs), int8_t{-128});
      std::fill(std::begin(blocks[2].qs), std::end(blocks[2].qs), int8_t{127});
    }
    for (int32_t factor : {-128, -16, -8, 1}) {
      std::vector<float> want_scales(static_cast<size_t>(count)), got_scales(want_scales.size());
      std::vector<int32_t> want_sums(want_scales.size()), got_sums(want_scales.size());
      q8_0_block_sums(bytes.data() + 2, count, factor, want_scales.data(), want_sums.data());
      simd.q8_0_block_sums(bytes.data() + 2, count, factor, got_scales.data(), got_sums.data());
      EXPECT_EQ(got_sums, want_sums) << "count " << count << " factor " << factor;
      for (size_t i = 0; i < want_scales.size(); ++i) {
        // Bit patterns, but any NaN for a NaN: random scales include
        // signalling NaNs, which F16C returns quieted.
        if (std::isnan(want_scales[i]) && std::isnan(got_scales[i])) continue;
        EXPECT_EQ(std::bit_cast<uint32_t>(got_scales[i]), std::bit_cast<uint32_t>(want_scales[i])) << i;
      }
    }
  }
}

TEST_P(SimdTargetTest, HalfVectorKernelsMatchScalar) {
  const KernelTable& simd = target_kernel_table(GetParam());
  const KernelTable& scalar = scalar_kernel_table();
  // Value sums: every head count, head sizes off the vector width, long
  // enough to hold several register blocks, rows past a block of the tail's,
  // with rescales on some rows.
  for (int64_t d : {1, 7, 8, 16, 33, 48, 64, 80, 96, 128, 256}) {
    for (int heads = 1; heads <= kMaxValueHeads; ++heads) {
      // Values shared by the heads (one KV head) or their own, side by side.
      for (const bool shared : {true, false}) {
        const int64_t rows = heads == 2 ? 70 : 9, head_stride = shared ? 0 : d, stride = heads * d + 5;
        const auto vf = random_floats(static_cast<size_t>(rows * stride), 35);
        const auto af = random_floats(static_cast<size_t>(heads * d), 36);
        std::vector<uint16_t> v(vf.size()), a(af.size());
        float_to_f16(vf.data(), reinterpret_cast<std::byte*>(v.data()), static_cast<int64_t>(v.size()));
        float_to_f16(af.data(), reinterpret_cast<std::byte*>(a.data()), static_cast<int64_t>(a.size()));
        std::vector<float> rescale(static_cast<size_t>(heads * rows)), weight(rescale.size());
        for (size_t i = 0; i < rescale.size(); ++i) {
          rescale[i] = i % 4 == 1 ? 0.3f + 0.05f * static_cast<float>(i % 7) : 1.0f;
          weight[i] = 0.1f + 0.09f * static_cast<float>(i % 10);
        }
        auto expected = a, actual = a;
        scalar.half.accumulate_values(d, v.data(), stride, head_stride, rows, heads, rescale.data(), weight.data(),
                                      rows, expected.data());
        simd.half.accumulate_values(d, v.data(), stride, head_stride, rows, heads, rescale.data(), weight.data(), rows,
                                    actual.data());
        if (GetParam() == "sse4") {  // no fused multiply-add: an f16 step apart at most
          for (size_t i = 0; i < a.size(); ++i) {
            EXPECT_NEAR(f16_to_f32(actual[i]), f16_to_f32(expected[i]),
                        2e-3f * (1 + std::fabs(f16_to_f32(expected[i]))));
          }
        } else {
          EXPECT_EQ(actual, expected) << "accumulate_values d " << d << " heads " << heads << " shared " << shared;
        }
      }
    }
  }
  // Attention scores: short heads (the double-sum path), long heads with and
  // without a tail, every head count, odd row counts.
  for (int64_t d : {8, 16, 20, 48, 63, 64, 80, 128, 256}) {
    for (auto [heads, rows] : {std::pair{1, 11}, {1, 37}, {2, 11}, {3, 11}, {4, 11}}) {
      const int64_t stride = 2 * d + 3, out_stride = rows + 2;
      const auto kf = random_floats(static_cast<size_t>(rows * stride), 33),
                 qf = random_floats(static_cast<size_t>(heads * d), 34);
      std::vector<uint16_t> k(kf.size()), q(qf.size());
      float_to_f16(kf.data(), reinterpret_cast<std::byte*>(k.data()), static_cast<int64_t>(k.size()));
      float_to_f16(qf.data(), reinterpret_cast<std::byte*>(q.data()), static_cast<int64_t>(q.size()));
      std::vector<float> a(static_cast<size_t>(heads * out_stride)), b(a.size());
      scalar.half.dot_rows(d, k.data(), stride, rows, heads, q.data(), a.data(), out_stride);
      simd.half.dot_rows(d, k.data(), stride, rows, heads, q.data(), b.data(), out_stride);
      if (GetParam() == "sse4" && d >= 64) {
        for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-4f * (1 + std::fabs(a[i])));
      } else {
        EXPECT_EQ(a, b) << "dot_rows d " << d << " heads " << heads;
      }
    }
  }
}

// Tiled attention's steps: head sizes off and on the vector width, row
// counts that leave every smaller row block, partial tiles.
// Float rows (attention over an F32 cache): scores and value sums for head
// sizes and row counts around every vector width, rows apart by a stride
// that is no multiple of one. No fused steps: bit for bit on every target.
TEST_P(SimdTargetTest, FloatVectorKernelsMatchScalar) {
  const KernelTable& simd = target_kernel_table(GetParam());
  const KernelTable& scalar = scalar_kernel_table();
  for (const int64_t d : {1, 7, 8, 16, 48, 64, 80, 128, 200}) {
    for (const int64_t rows : {1, 5, 8, 9, 17, 37}) {
      const int64_t stride = d + 3;
      const auto kv = random_floats(static_cast<size_t>(rows * stride), 90);
      for (const int64_t queries : {1, 2, 3, 4, 5, 8}) {  // every block of queries, and two blocks
        const int64_t q_stride = d + 5, out_stride = rows + 2;
        const auto q = random_floats(static_cast<size_t>(queries * q_stride), 91);
        std::vector<float> want(static_cast<size_t>(queries * out_stride), -1.0f), got(want);
        scalar.f32.dot_rows(d, kv.data(), stride, rows, queries, q.data(), q_stride, want.data(), out_stride);
        simd.f32.dot_rows(d, kv.data(), stride, rows, queries, q.data(), q_stride, got.data(), out_stride);
        ASSERT_EQ(got, want) << "dot_rows d " << d << " rows " << rows << " queries " << queries;
      }
      const auto p = random_floats(static_cast<size_t>(rows), 92);
      auto acc = random_floats(static_cast<size_t>(d), 93), acc2 = acc;
      scalar.f32.accumulate(d, kv.data(), stride, rows, p.data(), acc.data());
      simd.f32.accumulate(d, kv.data(), stride, rows, p.data(), acc2.data());
      ASSERT_EQ(acc2, acc) << "accumulate d " << d << " rows " << rows;
    }
  }
}

TEST_P(SimdTargetTest, TileAttentionKernelsMatchScalar) {
  const KernelTable& simd = target_kernel_table(GetParam());
  const KernelTable& scalar = scalar_kernel_table();
  const bool fused = GetParam() != "sse4";  // no FMA: a rounding per step more
  // Softmax weights: every visible range [lo, hi) of a tile that starts
  // at 0, 5 or 13 (vector tails), scores up to 100 below the shift.
  for (const int64_t lo : {0, 5, 13}) {
    for (int64_t hi = lo; hi <= kKvTile; ++hi) {
      auto x = random_floats(static_cast<size_t>(kKvTile), 50, 50.0f);
      auto y = x;
      const float max = scalar.tile.scale_max(x.data(), lo, hi, 1.5f);
      ASSERT_EQ(simd.tile.scale_max(y.data(), lo, hi, 1.5f), max) << "scale_max [" << lo << ", " << hi << ")";
      ASSERT_EQ(x, y) << "scale_max [" << lo << ", " << hi << ")";
      const float shift = hi > lo ? max : 0.0f;
      const double sum = scalar.tile.exp_sum(x.data(), lo, hi, shift),
                   simd_sum = simd.tile.exp_sum(y.data(), lo, hi, shift);
      if (fused) {
        ASSERT_EQ(x, y) << "exp_sum [" << lo << ", " << hi << ")";
        ASSERT_EQ(simd_sum, sum) << "exp_sum [" << lo << ", " << hi << ")";
      } else {
        for (int64_t j = 0; j < kKvTile; ++j) ASSERT_NEAR(y[j], x[j], 1e-6f * x[j]) << "exp_sum j " << j;
        ASSERT_NEAR(simd_sum, sum, 1e-6 * sum);
      }
    }
  }
  for (int64_t d : {1, 7, 8, 20, 48, 64, 80, 128, 256}) {
    const int64_t dv = (d + kTileLanes - 1) / kTileLanes * kTileLanes, stride = 2 * d + 3;
    const auto kf = random_floats(static_cast<size_t>(kKvTile * stride), 51);
    std::vector<uint16_t> kv(kf.size());
    float_to_f16(kf.data(), reinterpret_cast<std::byte*>(kv.data()), static_cast<int64_t>(kv.size()));
    for (int64_t n : {int64_t{1}, int64_t{37}, kKvTile}) {
      std::vector<float> keys(static_cast<size_t>(kKvTile * d), NAN), values(static_cast<size_t>(kKvTile * dv), 0.0f);
      auto keys2 = keys, values2 = values;
      scalar.tile.load(d, dv, kv.data(), kv.data() + d, stride, n, keys.data(), values.data());
      simd.tile.load(d, dv, kv.data(), kv.data() + d, stride, n, keys2.data(), values2.data());
      ASSERT_EQ(keys, keys2) << "load d " << d << " rows " << n;
      ASSERT_EQ(values, values2) << "load d " << d << " rows " << n;
      for (int64_t rows : {int64_t{1}, int64_t{3}, int64_t{15}, kKvTile}) {
        const int64_t q_stride = d + 5;
        const auto q = random_floats(static_cast<size_t>(rows * q_stride), 52);
        std::vector<float> expected(static_cast<size_t>(rows * kKvTile)), actual(expected.size());
        scalar.tile.scores(d, q.data(), q_stride, rows, keys.data(), expected.data());
        simd.tile.scores(d, q.data(), q_stride, rows, keys.data(), actual.data());
        const auto p = random_floats(expected.size(), 53);
        auto acc = random_floats(static_cast<size_t>(rows * dv), 54), acc2 = acc;
        scalar.tile.accumulate(dv, p.data(), rows, values.data(), acc.data());
        simd.tile.accumulate(dv, p.data(), rows, values.data(), acc2.data());
        if (fused) {
          EXPECT_EQ(actual, expected) << "scores d " << d << " rows " << rows;
          EXPECT_EQ(acc2, acc) << "accumulate d " << d << " rows " << rows;
        } else {
          for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-4f * std::sqrt(d));
          for (size_t i = 0; i < acc.size(); ++i) EXPECT_NEAR(acc2[i], acc[i], 1e-4f * (1 + std::fabs(acc[i])));
        }
      }
    }
  }
}

// Whole F16-cache attention: groups of query heads wider than one value
// block, several key blocks, windows starting mid-block.
TEST_P(SimdTargetTest, F16AttentionMatchesScalar) {
  const KernelTable& simd = target_kernel_table(GetParam());
  for (const AttentionShape shape : {AttentionShape{16, 2, 64, 0.125f}, AttentionShape{6, 6, 80, 0.1f}}) {
    const int64_t ctx = 300, row = shape.n_head_kv * shape.head_dim;
    const auto q = random_floats(static_cast<size_t>(shape.n_head * shape.head_dim), 41);
    const auto kf = random_floats(static_cast<size_t>(ctx * row), 42), vf = random_floats(kf.size(), 43);
    std::vector<uint16_t> k(kf.size()), v(vf.size());
    float_to_f16(kf.data(), reinterpret_cast<std::byte*>(k.data()), static_cast<int64_t>(k.size()));
    float_to_f16(vf.data(), reinterpret_cast<std::byte*>(v.data()), static_cast<int64_t>(v.size()));
    for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, 1}, {0, 300}, {130, 260}}) {
      std::vector<float> expected(q.size()), actual(q.size());
      attend_f16_cache(scalar_kernel_table(), shape, q.data(), k.data(), v.data(), begin, end, 0, shape.n_head,
                       expected.data());
      attend_f16_cache(simd, shape, q.data(), k.data(), v.data(), begin, end, 0, shape.n_head, actual.data());
      if (GetParam() == "sse4") {
        for (size_t i = 0; i < q.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 2e-3f * (1 + std::fabs(expected[i])));
      } else {
        EXPECT_EQ(actual, expected) << "window [" << begin << ", " << end << ")";
      }
    }
  }
}

// A whole matmul of random weights through `simd`, its rows split in two
// ranges at `split` (as threads split them), read from `repacked` if given
// (the weights repacked in two parts, as load tasks do), against the scalar
// kernels: equal, or within a few ulps of the sums for SSE4.2.
void expect_matmul_matches_scalar(const KernelTable& simd, DType type, int64_t k, int64_t rows, int64_t tokens,
                                  int64_t split, bool repack, uint32_t seed) {
  SCOPED_TRACE(
      fmt::format("{} k {} rows {} tokens {}{}", dtype_name(type), k, rows, tokens, repack ? " repacked" : ""));
  const auto wf = random_floats(static_cast<size_t>(rows * k), seed);
  const auto xf = random_floats(static_cast<size_t>(tokens * k), seed + 1);
  const auto w = encode_at(type, wf, 0);
  const TensorView view{"w", type, 2, {k, rows, 1, 1}, w.data(), w.size()};
  std::vector<std::byte> repacked;
  if (repack) {
    ASSERT_TRUE(repacks(simd, view));
    repacked.resize(w.size());
    const int64_t half = rows / panel_rows(simd, type) / 2 * panel_rows(simd, type);
    repack_weights(simd, view, repacked.data(), 0, half);
    repack_weights(simd, view, repacked.data(), half, rows);
  }
  PreparedActivations act;
  act.prepare(simd, type, xf.data(), tokens, k);
  std::vector<float> expected(static_cast<size_t>(rows * tokens)), actual(expected.size(), NAN);
  matmul(scalar_kernel_table(), view, act, expected.data());
  const std::byte* from = repack ? repacked.data() : nullptr;
  matmul_rows(simd, view, act, actual.data(), 0, split, from);
  matmul_rows(simd, view, act, actual.data(), split, rows, from);
  if (simd.name != "sse4") {
    ASSERT_EQ(actual, expected);
  } else {
    for (size_t i = 0; i < expected.size(); ++i)
      ASSERT_NEAR(actual[i], expected[i], 1e-4f * (1 + std::fabs(expected[i])));
  }
}

// Whole matmuls (tiles plus edges, any row range) equal the scalar ones.
TEST_P(SimdTargetTest, MatmulMatchesScalar) {
  const KernelTable& simd = target_kernel_table(GetParam());
  for (DType type : kComputeTypes) {
    if (scalar_kernel_table().find(type)->dot == nullptr) continue;
    // 768: three super-blocks; the float formats also with tails after and
    // instead of whole 64-value steps.
    const bool per_value = dtype_info(type).block_size == 1;
    for (int64_t k : {768, 172, 44}) {
      if (k != 768 && !per_value) continue;
      for (auto [rows, tokens] : {std::pair<int64_t, int64_t>{1, 1}, {7, 1}, {8, 1}, {13, 2}, {16, 3}, {21, 5}}) {
        expect_matmul_matches_scalar(simd, type, k, rows, tokens, rows / 2, false, 21);
      }
    }
  }
}

// Where a target has panel kernels: whole panels, rows left over, token
// counts off the pass size and past a chunk's passes, K over several
// packed chunks (one block, and one more than a chunk of 2048 values), row
// ranges split inside a panel.
TEST_P(SimdTargetTest, PanelMatmulsMatchScalar) {
  const KernelTable& simd = target_kernel_table(GetParam());
  for (DType type : kComputeTypes) {
    const PanelKernel& panel = simd.find(type)->panel;
    if (panel.fn == nullptr) continue;
    const int64_t block = dtype_info(type).block_size;
    for (int64_t k : {block, 2048 + block}) {
      for (int64_t rows : {16, 40, 64}) {
        for (int64_t tokens : {1, 2, 7, 9, 17, 37}) {
          expect_matmul_matches_scalar(simd, type, k, rows, tokens, rows / 2 + 4, false, 23);
        }
      }
    }
  }
}

// The same products from weights repacked once into panel order.
TEST_P(SimdTargetTest, RepackedMatmulsMatchScalar) {
  const KernelTable& simd = target_kernel_table(GetParam());
  for (DType type : kComputeTypes) {
    const int64_t height = panel_rows(simd, type);
    if (height == 0) continue;
    const int64_t block = dtype_info(type).block_size;
    for (int64_t k : {block, 2048 + block}) {
      for (int64_t rows : {height, 3 * height}) {
        for (int64_t tokens : {1, 2, 7, 9, 17}) {
          // Split inside a panel (rows / 2 + 3 is past the end of one panel of 4).
          expect_matmul_matches_scalar(simd, type, k, rows, tokens, std::min(rows - 1, rows / 2 + 3), true, 25);
        }
      }
    }
  }
  // Rows that do not fill whole panels are not repacked.
  std::vector<std::byte> w(row_size(DType::Q4_0, 64) * 5);
  EXPECT_FALSE(repacks(simd, TensorView{"w", DType::Q4_0, 2, {64, 5, 1, 1}, w.data(), w.size()}));
}

// K-quants on arbitrary bytes (panels, repacked panels, NEON dots): every
// value, scale and minimum, all-ones the largest (once their f16 scales are
// finite any bytes are a valid block).
TEST_P(SimdTargetTest, KQuantBitPatterns) {
  const KernelTable& simd = target_kernel_table(GetParam());
  std::mt19937 rng(19);
  for (DType type : {DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const int64_t k = 512, rows = 32;
    const size_t block_bytes = dtype_info(type).block_bytes;
    for (int pattern = 0; pattern < 4; ++pattern) {
      std::vector<std::byte> w(row_size(type, k) * rows);
      for (auto& v : w) v = pattern == 0 ? std::byte{0xff} : static_cast<std::byte>(rng());
      for (size_t b = 0; b < w.size(); b += block_bytes) {
        const uint16_t scale = 0x2c00 + static_cast<uint16_t>(rng() % 0x800);  // 0.0625 to 0.125
        // Q6_K keeps its scale last; Q4_K keeps d and dmin first.
        if (type == DType::Q6_K) {
          std::memcpy(&w[b + block_bytes - 2], &scale, 2);
        } else {
          std::memcpy(&w[b], &scale, 2);
          std::memcpy(&w[b + 2], &scale, 2);
        }
      }
      const TensorView view{"w", type, 2, {k, rows, 1, 1}, w.data(), w.size()};
      std::vector<std::byte> repacked;
      if (repacks(simd, view)) {
        repacked.resize(w.size());
        repack_weights(simd, view, repacked.data(), 0, rows);
      }
      for (int64_t tokens : {1, 5}) {
        const auto xf = random_floats(static_cast<size_t>(tokens * k), 50 + static_cast<uint32_t>(pattern));
        PreparedActivations act;
        act.prepare(simd, type, xf.data(), tokens, k);
        std::vector<float> expected(static_cast<size_t>(rows * tokens)), actual(expected.size()),
            from_repacked(expected.size());
        matmul(scalar_kernel_table(), view, act, expected.data());
        matmul(simd, view, act, actual.data());
        ASSERT_EQ(actual, expected) << dtype_name(type) << " pattern " << pattern << " tokens " << tokens;
        if (repacked.empty()) continue;
        matmul_rows(simd, view, act, from_repacked.data(), 0, rows, repacked.data());
        ASSERT_EQ(from_repacked, expected) << dtype_name(type) << " pattern " << pattern << " tokens " << tokens;
      }
    }
  }
}

// Q8_0 weights of every byte value (-128 too, which the quantizer never
// writes but a file may hold) on every target: through the panels where the
// target has them, per call and repacked (VNNI's store q + 128, AVX2's move
// q's signs onto the activations), else its row kernels.
TEST_P(SimdTargetTest, Q8_0AnyWeightBytes) {
  const KernelTable& simd = target_kernel_table(GetParam());
  std::mt19937 rng(29);
  const int64_t k = 320, rows = 48;
  std::vector<BlockQ8_0> blocks(static_cast<size_t>(rows * k / kQK8_0));
  for (BlockQ8_0& b : blocks) {
    b.d = static_cast<uint16_t>(0x2c00 + rng() % 0x800);  // 0.0625 to 0.125
    for (int8_t& q : b.qs) q = static_cast<int8_t>(rng());
  }
  blocks[0].qs[0] = blocks[1].qs[31] = -128;
  for (int8_t& q : blocks[2].qs) q = -128;
  for (int8_t& q : blocks[3].qs) q = 127;
  const auto* w = reinterpret_cast<const std::byte*>(blocks.data());
  const TensorView view{"w", DType::Q8_0, 2, {k, rows, 1, 1}, w, blocks.size() * sizeof(BlockQ8_0)};
  std::vector<std::byte> repacked;
  if (repacks(simd, view)) {
    repacked.resize(view.bytes);
    repack_weights(simd, view, repacked.data(), 0, rows);
  }
  const auto expect_matches = [&](const std::vector<float>& actual, const std::vector<float>& expected) {
    if (simd.name != "sse4") {
      EXPECT_EQ(actual, expected);
      return;
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_NEAR(actual[i], expected[i], 1e-4f * (1 + std::fabs(expected[i])));
    }
  };
  for (int64_t tokens : {1, 3, 9}) {
    SCOPED_TRACE(fmt::format("tokens {}", tokens));
    const auto xf = random_floats(static_cast<size_t>(tokens * k), 31);
    PreparedActivations act;
    act.prepare(simd, DType::Q8_0, xf.data(), tokens, k);
    std::vector<float> expected(static_cast<size_t>(rows * tokens)), actual(expected.size());
    matmul(scalar_kernel_table(), view, act, expected.data());
    matmul(simd, view, act, actual.data());
    expect_matches(actual, expected);
    if (repacked.empty()) continue;
    std::fill(actual.begin(), actual.end(), NAN);
    matmul_rows(simd, view, act, actual.data(), 0, rows, repacked.data());
    expect_matches(actual, expected);
  }
}

std::vector<std::string> simd_targets() {
  std::vector<std::string> t;
  for (const auto& name : available_targets()) {
    if (name != "scalar") t.push_back(name);
  }
  return t;
}

INSTANTIATE_TEST_SUITE_P(Targets, SimdTargetTest, ::testing::ValuesIn(simd_targets()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SimdTargetTest);

float off_by_a_little(int64_t n, const std::byte* w, const std::byte* x) {
  return std::nextafter(scalar_kernel_table().find(DType::Q8_0)->dot(n, w, x), INFINITY);
}

TEST(KernelTargets, SelfCheckCatchesAWrongKernel) {
  KernelTable table = select_kernel_table();
  EXPECT_EQ(self_check_disagreement(table), "");
  for (size_t i = 0; i < kComputeTypes.size(); ++i) {
    if (kComputeTypes[i] == DType::Q8_0) table.types[i].dot = off_by_a_little;
  }
  EXPECT_EQ(self_check_disagreement(table), "Q8_0 dot product of 32 values");
}

TEST(KernelTargets, SelectionAndErrors) {
  EXPECT_EQ(select_kernel_table("scalar").name, "scalar");
  EXPECT_THROW(select_kernel_table("avx9000"), InvalidArgument);
  const auto targets = available_targets();
  EXPECT_EQ(targets.front(), "scalar");
  // The default is the best target available.
  EXPECT_EQ(select_kernel_table().name.substr(0, targets.back().size()), targets.back());
  // So it refused none; had it, each refusal would name the kernel (Model::refused_kernel_targets).
  EXPECT_EQ(refused_targets(select_kernel_table().name), std::vector<std::string>{});
  // A target that passes its self-check is selected as compiled.
  for (const auto& name : targets) EXPECT_EQ(&select_kernel_table(name), &target_kernel_table(name)) << name;
  EXPECT_THROW(target_kernel_table("avx9000"), InvalidArgument);
}

}  // namespace
}  // namespace ullm::kernels
