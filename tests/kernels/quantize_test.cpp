// Block formats and dot products against plain float arithmetic.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/matmul.hpp"
#include "kernels/type_traits.hpp"
#include "support/test_support.hpp"
#include "ullm/error.hpp"

namespace ullm::kernels {
namespace {

using test::random_floats;

std::vector<std::byte> encode(DType type, const std::vector<float>& x) {
  std::vector<std::byte> out(row_size(type, static_cast<int64_t>(x.size())));
  type_kernels(type)->from_float(x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

std::vector<float> decode(DType type, const std::vector<std::byte>& b, size_t n) {
  std::vector<float> out(n);
  type_kernels(type)->to_float(b.data(), out.data(), static_cast<int64_t>(n));
  return out;
}

TEST(Blocks, Q8_0Layout) {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>(i - 16);  // amax 16
  const auto b = encode(DType::Q8_0, x);
  const auto* block = reinterpret_cast<const BlockQ8_0*>(b.data());
  EXPECT_EQ(block->d, f32_to_f16(16.0f / 127.0f));
  EXPECT_EQ(block->qs[0], -127);
  EXPECT_EQ(block->qs[16], 0);
  EXPECT_EQ(block->qs[24], 64);  // 8 * 127/16 = 63.5 rounds half to even: 64
}

TEST(Blocks, Q4_0Layout) {
  std::vector<float> x(32, 0.0f);
  x[0] = -8.0f;  // the signed extreme maps to nibble 0, d = 1
  x[1] = 7.0f;
  x[17] = 3.0f;
  const auto b = encode(DType::Q4_0, x);
  const auto* block = reinterpret_cast<const BlockQ4_0*>(b.data());
  EXPECT_EQ(block->d, f32_to_f16(1.0f));
  EXPECT_EQ(block->qs[0] & 0x0f, 0);
  EXPECT_EQ(block->qs[1] & 0x0f, 15);
  EXPECT_EQ(block->qs[1] >> 4, 11);  // element 17 in the high nibble of byte 1
  const auto back = decode(DType::Q4_0, b, 32);
  EXPECT_EQ(back[0], -8.0f);
  EXPECT_EQ(back[1], 7.0f);
  EXPECT_EQ(back[17], 3.0f);
}

TEST(Blocks, Q8_1CarriesTheScaledSum) {
  const auto x = random_floats(96, 9);
  const auto b = encode(DType::Q8_1, x);
  const auto* blocks = reinterpret_cast<const BlockQ8_1*>(b.data());
  const auto q8_0 = encode(DType::Q8_0, x);
  for (int i = 0; i < 3; ++i) {
    // The same quantized values as Q8_0, plus s = d * sum(q) as f16.
    const auto* same = reinterpret_cast<const BlockQ8_0*>(q8_0.data()) + i;
    EXPECT_EQ(blocks[i].d, same->d);
    EXPECT_EQ(std::memcmp(blocks[i].qs, same->qs, 32), 0);
    int sum = 0;
    for (int8_t q : blocks[i].qs) sum += q;
    EXPECT_EQ(blocks[i].s,
              f32_to_f16((std::fabs(*std::max_element(x.begin() + 32 * i, x.begin() + 32 * i + 32,
                                                      [](float a, float c) { return std::fabs(a) < std::fabs(c); })) /
                          127.0f) *
                         static_cast<float>(sum)));
  }
}

TEST(Blocks, Q8_KLayout) {
  auto x = random_floats(512, 4);
  x[300] = -7.0f;  // the signed extreme of the second block maps to -127
  x[301] = 7.0f;   // a tie: the first one counts, so this one is +127
  const auto b = encode(DType::Q8_K, x);
  const auto* blocks = reinterpret_cast<const BlockQ8_K*>(b.data());
  EXPECT_EQ(blocks[1].d, 1.0f / (-127.0f / -7.0f));
  EXPECT_EQ(blocks[1].qs[300 - 256], -127);
  EXPECT_EQ(blocks[1].qs[301 - 256], 127);
  for (int blk = 0; blk < 2; ++blk) {
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += blocks[blk].qs[16 * g + i];
      EXPECT_EQ(blocks[blk].bsums[g], sum);
    }
  }
  const std::vector<float> zeros(256, 0.0f);
  const auto z = encode(DType::Q8_K, zeros);
  EXPECT_TRUE(std::all_of(z.begin(), z.end(), [](std::byte v) { return v == std::byte{0}; }));
}

TEST(Blocks, KQuantLayouts) {
  // Element i of a ramp lands where ggml's dequantizers read it.
  std::vector<float> ramp(256);
  for (int i = 0; i < 256; ++i) ramp[i] = static_cast<float>(i % 32) - 16.0f * static_cast<float>(i / 32 % 2);
  for (DType type : {DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const auto back = decode(type, encode(type, ramp), 256);
    for (int i = 0; i < 256; ++i) EXPECT_NEAR(back[i], ramp[i], 1.1f) << dtype_name(type) << " element " << i;
  }
  std::vector<std::byte> q6(sizeof(BlockQ6_K), std::byte{0});
  auto* block = reinterpret_cast<BlockQ6_K*>(q6.data());
  block->d = f32_to_f16(1.0f);
  for (auto& s : block->scales) s = 1;
  block->ql[64 + 32 + 5] = 0x30;  // value 128 + 96 + 5: low bits 3 (a high nibble)
  block->qh[32 + 5] = 0x80;       // and top bits 2
  const auto v = decode(DType::Q6_K, q6, 256);
  EXPECT_EQ(v[128 + 96 + 5], static_cast<float>((3 | (2 << 4)) - 32));
  EXPECT_EQ(v[128 + 32 + 5], -32.0f);
}

struct FormatCase {
  DType type;
  // Relative to the block's largest magnitude: half a quantization step, or
  // for Q4_0 a whole one (the side opposite the extreme reaches only 7/8 of it).
  float roundtrip_tolerance;
  friend void PrintTo(const FormatCase& c, std::ostream* os) { *os << dtype_name(c.type); }
};

class FormatTest : public ::testing::TestWithParam<FormatCase> {};

TEST_P(FormatTest, RoundTripErrorIsBounded) {
  const auto [type, tolerance] = GetParam();
  for (size_t n : {32u, 64u, 256u, 4096u}) {
    if (n % dtype_info(type).block_size != 0) continue;
    const auto x = random_floats(n, 3);
    const auto y = decode(type, encode(type, x), n);
    for (size_t b = 0; b < n; b += 32) {
      float amax = 0;
      for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(x[i]));
      for (size_t i = b; i < b + 32; ++i) ASSERT_LE(std::fabs(x[i] - y[i]), tolerance * amax) << "n " << n;
    }
  }
}

// The dot product of a stored row with activations equals the float dot of
// the dequantized row with the (quantized) activations.
TEST_P(FormatTest, DotMatchesDequantizedDot) {
  const DType type = GetParam().type;
  const TypeKernels& k = *type_kernels(type);
  for (size_t n : {32u, 64u, 96u, 160u, 172u, 1024u, 5632u}) {
    if (n % dtype_info(type).block_size != 0) continue;
    const auto w = encode(type, random_floats(n, 11));
    const auto x = encode(k.activation_type, random_floats(n, 12, 3.0f));
    const auto wf = decode(type, w, n);
    const auto xf = decode(k.activation_type, x, n);
    double expected = 0, magnitude = 0;
    for (size_t i = 0; i < n; ++i) {
      expected += static_cast<double>(wf[i]) * xf[i];
      magnitude += std::fabs(static_cast<double>(wf[i]) * xf[i]);
    }
    // Offset formats multiply each block's offset m by the activations' sum
    // s, which Q8_1 stores rounded to f16: allow that rounding.
    double offset_rounding = 0;
    if (k.activation_type == DType::Q8_1) {
      for (size_t b = 0; b < n; b += 32) {
        double sum_x = 0;
        for (size_t i = b; i < b + 32; ++i) sum_x += xf[i];
        const float m = *std::min_element(wf.begin() + static_cast<std::ptrdiff_t>(b),
                                          wf.begin() + static_cast<std::ptrdiff_t>(b + 32));
        offset_rounding += std::fabs(m * sum_x) * 0x1p-10;
      }
    }
    for (DotFn dot : {k.dot, k.dot_tiled}) {
      const float got = dot(static_cast<int64_t>(n), w.data(), x.data());
      EXPECT_NEAR(got, expected, 1e-6 * magnitude + offset_rounding + 1e-6) << dtype_name(type) << " n " << n;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, FormatTest,
    ::testing::Values(FormatCase{DType::F32, 0.0f}, FormatCase{DType::F16, 1.0f / 1024},
                      FormatCase{DType::BF16, 1.0f / 128}, FormatCase{DType::Q8_0, 0.5f / 127 + 1e-3f},
                      FormatCase{DType::Q4_0, 1.0f / 8 + 1e-3f}, FormatCase{DType::Q4_1, 0.5f / 15 * 2 + 1e-3f},
                      FormatCase{DType::Q5_0, 1.0f / 16 + 1e-3f}, FormatCase{DType::Q5_1, 0.5f / 31 * 2 + 1e-3f},
                      // K-quants: half a step (Q6_K: a whole one, as Q4_0), plus the rounding of the 6-bit
                      // (8-bit) sub-block scales and minimums, in 1/63 (1/128) of the super-block's largest.
                      FormatCase{DType::Q4_K, 1.0f / 15 + 2.0f / 63}, FormatCase{DType::Q5_K, 1.0f / 31 + 2.0f / 63},
                      FormatCase{DType::Q6_K, 1.0f / 32 + 1.0f / 128}),
    [](const auto& info) { return std::string(dtype_name(info.param.type)); });

TEST(Matmul, MatchesRowByRowDots) {
  const int64_t k = 96, rows = 12, tokens = 3;
  const auto wf = random_floats(static_cast<size_t>(k * rows), 5);
  const auto w_bytes = encode(DType::Q8_0, wf);
  TensorView w{"w", DType::Q8_0, 2, {k, rows, 1, 1}, w_bytes.data(), w_bytes.size()};
  const auto x = random_floats(static_cast<size_t>(k * tokens), 6);
  PreparedActivations act;
  act.prepare(scalar_kernel_table(), DType::Q8_0, x.data(), tokens, k);
  std::vector<float> y(static_cast<size_t>(rows * tokens));
  matmul(scalar_kernel_table(), w, act, y.data());
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      EXPECT_EQ(y[t * rows + r], type_kernels(DType::Q8_0)->dot(k, w.row(r), act.row(t)));
    }
  }
  PreparedActivations wrong;
  wrong.prepare(scalar_kernel_table(), DType::F32, x.data(), tokens, k);
  EXPECT_THROW(matmul(scalar_kernel_table(), w, wrong, y.data()), InvalidArgument);
  // Row ranges outside the weight's rows.
  EXPECT_THROW(matmul_rows(scalar_kernel_table(), w, act, y.data(), 0, rows + 1), InvalidArgument);
  EXPECT_THROW(matmul_rows(scalar_kernel_table(), w, act, y.data(), -1, 4), InvalidArgument);
  EXPECT_THROW(matmul_rows(scalar_kernel_table(), w, act, y.data(), 5, 4), InvalidArgument);
  EXPECT_NO_THROW(matmul_rows(scalar_kernel_table(), w, act, y.data(), rows, rows));
}

}  // namespace
}  // namespace ullm::kernels
