// Norm, RoPE, activation and attention kernels against direct formulas.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include "kernels/activation.hpp"
#include "kernels/attention.hpp"
#include "kernels/exp.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kernel_table.hpp"
#include "kernels/norm.hpp"
#include "kernels/rope.hpp"
#include "support/test_support.hpp"

namespace ullm::kernels {
namespace {

using test::random_floats;

TEST(RmsNorm, MatchesFormula) {
  for (size_t n : {1u, 7u, 64u, 2048u}) {
    const auto x = random_floats(n, 1), w = random_floats(n, 2);
    std::vector<float> out(n);
    rms_norm(x.data(), w.data(), static_cast<int64_t>(n), 1e-5f, out.data());
    double ss = 0;
    for (float v : x) ss += static_cast<double>(v) * v;
    const double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + 1e-5);
    for (size_t i = 0; i < n; ++i)
      EXPECT_NEAR(out[i], x[i] * scale * w[i], 1e-5 * std::fabs(x[i] * scale * w[i]) + 1e-6);
  }
}

TEST(Rope, RotatesPairsByPositionAngles) {
  const int64_t heads = 3, dim = 16, n_rot = 12, pos = 37;
  const float base = 10000.0f;
  const float factors[6] = {1.0f, 1.0f, 2.0f, 4.0f, 8.0f, 8.0f};
  for (RopeStyle style : {RopeStyle::Adjacent, RopeStyle::Neox}) {
    // Plain; linearly scaled (x 1/4); with per-pair divisors (Llama 3).
    for (const RopeFrequencies freq :
         {RopeFrequencies{base}, RopeFrequencies{base, 0.25f}, RopeFrequencies{base, 1.0f, factors}}) {
      auto x = random_floats(static_cast<size_t>(heads * dim), 3);
      const auto original = x;
      rope(scalar_kernel_table(), x.data(), heads, dim, n_rot, pos, freq, style);
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t i = 0; i < n_rot / 2; ++i) {
          const double theta = freq.scale * pos * std::pow(static_cast<double>(base), -2.0 * i / n_rot) /
                               (freq.factors != nullptr ? freq.factors[i] : 1.0f);
          const int64_t a = h * dim + (style == RopeStyle::Adjacent ? 2 * i : i);
          const int64_t b = a + (style == RopeStyle::Adjacent ? 1 : n_rot / 2);
          EXPECT_NEAR(x[a], original[a] * std::cos(theta) - original[b] * std::sin(theta), 1e-4);
          EXPECT_NEAR(x[b], original[a] * std::sin(theta) + original[b] * std::cos(theta), 1e-4);
        }
        for (int64_t i = n_rot; i < dim; ++i) EXPECT_EQ(x[h * dim + i], original[h * dim + i]);
      }
    }
  }
  auto y = random_floats(16, 4);
  const auto before = y;
  rope(scalar_kernel_table(), y.data(), 1, 16, 16, 0, RopeFrequencies{base}, RopeStyle::Adjacent);
  EXPECT_EQ(y, before);  // position 0 is the identity
}

TEST(Activation, SwiGlu) {
  const auto g = random_floats(100, 5), u = random_floats(100, 6);
  std::vector<float> out(100);
  swiglu(g.data(), u.data(), 100, out.data());
  for (size_t i = 0; i < 100; ++i) {
    EXPECT_NEAR(out[i], g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i], 1e-6);
  }
}

// SiLU over a sweep of floats from -87 to 87 (both formulas: x >= 0 and x <
// 0), within 3 ulps of silu in double; 0 below -87, x itself far above.
TEST(Activation, SiluWithinThreeUlps) {
  int64_t checked = 0;
  for (const float sign : {1.0f, -1.0f}) {
    for (uint32_t bits = std::bit_cast<uint32_t>(1e-30f); std::bit_cast<float>(bits) <= 87.0f; bits += 997) {
      const float x = sign * std::bit_cast<float>(bits);
      const auto want = static_cast<float>(x / (1.0 + std::exp(-static_cast<double>(x))));
      const float got = silu<ScalarExpOps>(x);
      ASSERT_LE(std::abs(std::bit_cast<int32_t>(got) - std::bit_cast<int32_t>(want)), 3) << "x = " << x;
      ++checked;
    }
  }
  EXPECT_GT(checked, 1'700'000);
  EXPECT_EQ(silu<ScalarExpOps>(0.0f), 0.0f);
  EXPECT_EQ(silu<ScalarExpOps>(-90.0f), 0.0f);
  EXPECT_EQ(silu<ScalarExpOps>(200.0f), 200.0f);
  EXPECT_EQ(silu<ScalarExpOps>(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(silu<ScalarExpOps>(std::numeric_limits<float>::quiet_NaN())));
}

// (600 values: the conversion to halves runs in chunks of 256.)
TEST(Activation, GeGluThroughTheHalfTable) {
  constexpr int64_t kN = 600;
  std::vector<float> g = random_floats(kN, 7, 4.0f), u = random_floats(kN, 8);
  g[0] = -10.0f, g[1] = -25.0f, g[2] = 10.0f, g[3] = 31.5f;  // outside the table
  std::vector<float> out(kN), best(kN);
  geglu(scalar_kernel_table(), g.data(), u.data(), kN, out.data());
  geglu(select_kernel_table(), g.data(), u.data(), kN, best.data());
  EXPECT_EQ(out, best);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[2], 10.0f * u[2]);
  EXPECT_EQ(out[3], 31.5f * u[3]);
  for (size_t i = 4; i < g.size(); ++i) {
    const double x = g[i];
    const double gelu = 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * x * (1.0 + 0.044715 * x * x)));
    // The input and the result are each rounded to f16: about 2^-10 relative, twice.
    EXPECT_NEAR(out[i], gelu * u[i], 3e-3 * std::fabs(gelu * u[i]) + 1e-4) << "x " << x;
  }
}

// Plain softmax attention in double, for one query over a cache.
std::vector<double> reference_attention(const AttentionShape& s, const std::vector<float>& q,
                                        const std::vector<float>& k, const std::vector<float>& v, int64_t begin,
                                        int64_t end) {
  std::vector<double> out(static_cast<size_t>(s.n_head * s.head_dim));
  const int64_t row = s.n_head_kv * s.head_dim;
  for (int64_t h = 0; h < s.n_head; ++h) {
    const int64_t kvh = h / (s.n_head / s.n_head_kv);
    std::vector<double> p;
    double max = -1e300;
    for (int64_t j = begin; j < end; ++j) {
      double dot = 0;
      for (int64_t i = 0; i < s.head_dim; ++i)
        dot += static_cast<double>(q[h * s.head_dim + i]) * k[j * row + kvh * s.head_dim + i];
      p.push_back(dot * s.scale);
      max = std::max(max, p.back());
    }
    double sum = 0;
    for (auto& x : p) sum += (x = std::exp(x - max));
    for (int64_t i = 0; i < s.head_dim; ++i) {
      double acc = 0;
      for (int64_t j = begin; j < end; ++j) acc += p[j - begin] / sum * v[j * row + kvh * s.head_dim + i];
      out[h * s.head_dim + i] = acc;
    }
  }
  return out;
}

TEST(Attention, BothCacheTypesMatchSoftmaxAttention) {
  const AttentionShape shape{8, 2, 16, 0.25f};
  const int64_t ctx = 300, row = shape.n_head_kv * shape.head_dim;  // the f16 kernel takes keys 128 a block
  const auto q = random_floats(static_cast<size_t>(shape.n_head * shape.head_dim), 7);
  auto k = random_floats(static_cast<size_t>(ctx * row), 8);
  auto v = random_floats(static_cast<size_t>(ctx * row), 9);
  // Round the cache to f16 so both kernels see the same values.
  std::vector<uint16_t> k16(k.size()), v16(v.size());
  for (size_t i = 0; i < k.size(); ++i) {
    k16[i] = f32_to_f16(k[i]);
    k[i] = f16_to_f32(k16[i]);
    v16[i] = f32_to_f16(v[i]);
    v[i] = f16_to_f32(v16[i]);
  }
  for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, 1}, {0, 17}, {0, 40}, {12, 40}, {0, 300}, {130, 300}}) {
    const auto expected = reference_attention(shape, q, k, v, begin, end);
    std::vector<float> out32(expected.size()), out16(expected.size()), scores(kF32AttentionQueries * ctx);
    attend_f32_cache(scalar_kernel_table(), shape, q.data(), 1, k.data(), v.data(), end, end - begin, 0, shape.n_head,
                     scores.data(), out32.data());
    attend_f16_cache(scalar_kernel_table(), shape, q.data(), k16.data(), v16.data(), begin, end, 0, shape.n_head,
                     out16.data());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_NEAR(out32[i], expected[i], 1e-5) << "f32 cache, window [" << begin << ", " << end << ")";
      // The f16 kernel rounds q and its running sum to half precision.
      EXPECT_NEAR(out16[i], expected[i], 5e-3) << "f16 cache, window [" << begin << ", " << end << ")";
    }
  }
}

// The F32-cache kernel scores several queries against each key block: a
// prompt's tokens (with and without a sliding window), one token's heads of a
// KV head (more than a block of them), any range of heads. Each comes out as
// it does alone, bit for bit, on every target.
TEST(Attention, F32QueriesTogetherEqualEachAlone) {
  for (const AttentionShape shape : {AttentionShape{6, 6, 48, 0.2f}, AttentionShape{20, 2, 16, 0.3f}}) {
    const int64_t tokens = 11, first_end = 30, ctx = first_end + tokens, q_width = shape.n_head * shape.head_dim;
    const int64_t row = shape.n_head_kv * shape.head_dim;
    const auto q = random_floats(static_cast<size_t>(tokens * q_width), 27);
    const auto k = random_floats(static_cast<size_t>(ctx * row), 28), v = random_floats(k.size(), 29);
    std::vector<float> scores(static_cast<size_t>(kF32AttentionQueries * ctx));
    for (const char* target : {"scalar", "best"}) {
      const KernelTable& table = std::string(target) == "scalar" ? scalar_kernel_table() : select_kernel_table();
      for (const int64_t window : {int64_t{0}, int64_t{7}}) {
        for (auto [h0, h1] : {std::pair<int64_t, int64_t>{0, shape.n_head}, {3, 14}}) {
          if (h1 > shape.n_head) continue;
          std::vector<float> together(q.size(), 0.0f), alone(q.size(), 0.0f);
          attend_f32_cache(table, shape, q.data(), tokens, k.data(), v.data(), first_end, window, h0, h1, scores.data(),
                           together.data());
          for (int64_t t = 0; t < tokens; ++t) {
            for (int64_t h = h0; h < h1; ++h) {
              attend_f32_cache(table, shape, &q[t * q_width], 1, k.data(), v.data(), first_end + t, window, h, h + 1,
                               scores.data(), &alone[t * q_width]);
            }
          }
          EXPECT_EQ(together, alone) << target << " heads " << shape.n_head << "/" << shape.n_head_kv << " window "
                                     << window << " [" << h0 << ", " << h1 << ")";
        }
      }
    }
  }
}

// Without grouped-query attention the f16 kernel sums several heads' values
// side by side; each head must come out as it does alone.
TEST(Attention, F16HeadsSummedTogetherEqualEachAlone) {
  for (const AttentionShape shape : {AttentionShape{6, 6, 48, 0.2f}, AttentionShape{5, 5, 8, 0.3f}}) {
    const int64_t ctx = 200, row = shape.n_head_kv * shape.head_dim;
    const auto q = random_floats(static_cast<size_t>(shape.n_head * shape.head_dim), 17);
    const auto kf = random_floats(static_cast<size_t>(ctx * row), 18), vf = random_floats(kf.size(), 19);
    std::vector<uint16_t> k(kf.size()), v(vf.size());
    for (size_t i = 0; i < kf.size(); ++i) k[i] = f32_to_f16(kf[i]), v[i] = f32_to_f16(vf[i]);
    for (const KernelTable* table : {&scalar_kernel_table(), &select_kernel_table()}) {
      std::vector<float> together(q.size()), alone(q.size());
      attend_f16_cache(*table, shape, q.data(), k.data(), v.data(), 0, ctx, 0, shape.n_head, together.data());
      for (int64_t h = 0; h < shape.n_head; ++h) {
        attend_f16_cache(*table, shape, q.data(), k.data(), v.data(), 0, ctx, h, h + 1, alone.data());
      }
      EXPECT_EQ(together, alone) << table->name << " head size " << shape.head_dim;
    }
  }
}

// Several tokens at once (token u seeing one more row than token u - 1, the
// vectors of a KV head summed side by side across tokens): each token comes
// out as it does alone, with and without grouped queries, heads narrower and
// wider than a vector, windows starting past row 0 and past a key block.
TEST(Attention, F16TokensSummedTogetherEqualEachAlone) {
  for (const AttentionShape shape : {AttentionShape{6, 6, 48, 0.2f}, AttentionShape{9, 3, 64, 0.125f},
                                     AttentionShape{8, 4, 8, 0.3f}, AttentionShape{4, 1, 80, 0.1f}}) {
    const int64_t ctx = 300, row = shape.n_head_kv * shape.head_dim, width = shape.n_head * shape.head_dim;
    const auto kf = random_floats(static_cast<size_t>(ctx * row), 28), vf = random_floats(kf.size(), 29);
    std::vector<uint16_t> k(kf.size()), v(vf.size());
    for (size_t i = 0; i < kf.size(); ++i) k[i] = f32_to_f16(kf[i]), v[i] = f32_to_f16(vf[i]);
    for (int64_t tokens : {2, 3, 6}) {
      const auto q = random_floats(static_cast<size_t>(tokens * width), 27);
      for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, 1}, {0, 150}, {130, 290}}) {
        for (const KernelTable* table : {&scalar_kernel_table(), &select_kernel_table()}) {
          std::vector<float> together(q.size()), alone(q.size());
          attend_f16_cache(*table, shape, q.data(), k.data(), v.data(), begin, end, 0, shape.n_head, together.data(),
                           tokens, width);
          for (int64_t u = 0; u < tokens; ++u) {
            attend_f16_cache(*table, shape, &q[u * width], k.data(), v.data(), begin, end + u, 0, shape.n_head,
                             &alone[u * width]);
          }
          EXPECT_EQ(together, alone) << table->name << " head size " << shape.head_dim << " tokens " << tokens
                                     << " window [" << begin << ", " << end << ")";
        }
      }
    }
  }
}

// The tiled attention's exponential: within one ulp of libm's expf over
// [-87, 0] (every float there checked once: 1 ulp at most; here every 331st
// bit pattern), exactly 1 at 0, 0 below -87.
TEST(Attention, ExpWithinAnUlpOfLibm) {
  int64_t checked = 0;
  for (uint32_t bits = std::bit_cast<uint32_t>(-0.0f); std::bit_cast<float>(bits) >= -87.0f; bits += 331) {
    const float x = std::bit_cast<float>(bits);
    const auto got = std::bit_cast<int32_t>(exp_nonpositive<ScalarExpOps>(x));
    const auto want = std::bit_cast<int32_t>(std::exp(x));
    ASSERT_LE(std::abs(got - want), 1) << "x = " << x;
    ++checked;
  }
  EXPECT_GT(checked, 3'000'000);
  EXPECT_EQ(exp_nonpositive<ScalarExpOps>(0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive<ScalarExpOps>(-87.5f), 0.0f);
  EXPECT_EQ(exp_nonpositive<ScalarExpOps>(-std::numeric_limits<float>::infinity()), 0.0f);
}

// The tiled kernel for prompts: each token against softmax attention in
// double over the rows it sees (its query kept in f32, its sums in f32:
// closer than the one-token kernel), with grouped queries, heads narrower
// and wider than a vector, windows, and ends in mid-tile.
TEST(Attention, TiledMatchesSoftmaxAttention) {
  for (const AttentionShape shape :
       {AttentionShape{6, 6, 48, 0.2f}, AttentionShape{8, 2, 64, 0.125f}, AttentionShape{4, 1, 20, 0.3f}}) {
    const int64_t ctx = 300, row = shape.n_head_kv * shape.head_dim, width = shape.n_head * shape.head_dim;
    auto kf = random_floats(static_cast<size_t>(ctx * row), 61), vf = random_floats(kf.size(), 62);
    std::vector<uint16_t> k(kf.size()), v(vf.size());
    for (size_t i = 0; i < kf.size(); ++i) {
      k[i] = f32_to_f16(kf[i]), kf[i] = f16_to_f32(k[i]);
      v[i] = f32_to_f16(vf[i]), vf[i] = f16_to_f32(v[i]);
    }
    for (const int64_t window : {int64_t{0}, int64_t{50}}) {
      const int64_t tokens = 130, kv_end = 100;  // token u sees up to row 99 + u
      const auto q = random_floats(static_cast<size_t>(tokens * width), 63);
      for (const KernelTable* table : {&scalar_kernel_table(), &select_kernel_table()}) {
        std::vector<float> out(q.size()), alone(q.size());
        attend_f16_cache_tiled(*table, shape, q.data(), k.data(), v.data(), kv_end, window, 0, shape.n_head, tokens,
                               width, out.data());
        for (int64_t h = 0; h < shape.n_head; ++h) {  // a head alone comes out the same
          attend_f16_cache_tiled(*table, shape, q.data(), k.data(), v.data(), kv_end, window, h, h + 1, tokens, width,
                                 alone.data());
        }
        ASSERT_EQ(alone, out) << table->name << " head size " << shape.head_dim << " window " << window;
        for (int64_t u = 0; u < tokens; ++u) {
          const int64_t end = kv_end + u, begin = window > 0 ? std::max<int64_t>(0, end - window) : 0;
          const std::vector<float> qu(q.begin() + u * width, q.begin() + (u + 1) * width);
          const auto expected = reference_attention(shape, qu, kf, vf, begin, end);
          for (int64_t i = 0; i < width; ++i) {
            ASSERT_NEAR(out[u * width + i], expected[i], 1e-5)
                << table->name << " head size " << shape.head_dim << " window " << window << " token " << u;
          }
        }
      }
    }
  }
}

// Tokens do not affect each other: a prompt's tokens all at once, in
// uneven pieces, or one at a time give the same bits (so do thread counts).
TEST(Attention, TiledTokensAreIndependent) {
  const AttentionShape shape{4, 2, 40, 0.15f};
  const int64_t ctx = 260, row = shape.n_head_kv * shape.head_dim, width = shape.n_head * shape.head_dim;
  const auto kf = random_floats(static_cast<size_t>(ctx * row), 64), vf = random_floats(kf.size(), 65);
  std::vector<uint16_t> k(kf.size()), v(vf.size());
  for (size_t i = 0; i < kf.size(); ++i) k[i] = f32_to_f16(kf[i]), v[i] = f32_to_f16(vf[i]);
  const int64_t tokens = 150, kv_end = 90;
  const auto q = random_floats(static_cast<size_t>(tokens * width), 66);
  const KernelTable& table = select_kernel_table();
  std::vector<float> together(q.size()), pieces(q.size()), alone(q.size());
  for (int64_t h = 0; h < shape.n_head; ++h) {
    attend_f16_cache_tiled(table, shape, q.data(), k.data(), v.data(), kv_end, 0, h, h + 1, tokens, width,
                           together.data());
    for (auto [from, to] : {std::pair<int64_t, int64_t>{0, 70}, {70, 71}, {71, 150}}) {
      attend_f16_cache_tiled(table, shape, &q[from * width], k.data(), v.data(), kv_end + from, 0, h, h + 1, to - from,
                             width, &pieces[from * width]);
    }
    for (int64_t u = 0; u < tokens; ++u) {
      attend_f16_cache_tiled(table, shape, &q[u * width], k.data(), v.data(), kv_end + u, 0, h, h + 1, 1, width,
                             &alone[u * width]);
    }
  }
  EXPECT_EQ(pieces, together);
  EXPECT_EQ(alone, together);
}

}  // namespace
}  // namespace ullm::kernels
