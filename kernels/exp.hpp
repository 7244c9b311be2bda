// e^x for the softmax weights of tiled attention (x <= 0, x minus the row's
// maximum) and for SiLU, written once over the value type so that the
// scalar references (float) and the SIMD targets (xsimd batches) compute the
// same bits wherever their multiply-add is fused.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace ullm::kernels {
// Internal linkage on purpose (see fp16.hpp): the per-target files include
// this under their own instruction-set flags, and merged copies could run
// AVX-512 code on any CPU.
namespace {

// Cody and Waite's reduction x = n ln 2 + r, |r| <= ln 2 / 2, then Cephes'
// degree-5 polynomial for e^r: within 2 ulps of libm's expf (tested); 0 for
// x below -87, where e^x nears the smallest normal float (such a weight
// vanishes beside the maximum's 1). `Ops` supplies the value type (Float)
// and fma, exponent_bits (the float with t's low mantissa bits as its
// exponent field), zero_below, abs, if_nonnegative(x, a, b) (a where x >=
// 0, else b) and divide (correctly rounded).
template <class Ops>
typename Ops::Float exp_nonpositive(typename Ops::Float x) {
  using F = typename Ops::Float;
  // 1.5 * 2^23 + 127: adding it rounds x log2(e) to the nearest integer n,
  // kept in the low mantissa bits already biased as an exponent.
  constexpr float kShift = 12583039.0f;
  const F t = Ops::fma(x, F(1.44269504088896341f), F(kShift));
  const F n = t - F(kShift);
  F r = Ops::fma(n, F(-0.693359375f), x);  // ln 2 in two parts: n times the first is exact
  r = Ops::fma(n, F(2.12194440e-4f), r);
  F y = F(1.9875691500e-4f);
  y = Ops::fma(y, r, F(1.3981999507e-3f));
  y = Ops::fma(y, r, F(8.3334519073e-3f));
  y = Ops::fma(y, r, F(4.1665795894e-2f));
  y = Ops::fma(y, r, F(1.6666665459e-1f));
  y = Ops::fma(y, r, F(5.0000001201e-1f));
  y = Ops::fma(y, r * r, r) + F(1.0f);
  return Ops::zero_below(x, -87.0f, y * Ops::exponent_bits(t));
}

// silu(x) = x / (1 + e^-x), taken as x e^x / (1 + e^x) below 0, so that the
// only exponential is of -|x| (nothing overflows; within 3 ulps of the
// exact value, tested). Below -87 e^x is taken as 0, and so is the result
// (the exact one is under 2e-36 in magnitude).
template <class Ops>
typename Ops::Float silu(typename Ops::Float x) {
  using F = typename Ops::Float;
  const F e = exp_nonpositive<Ops>(-Ops::abs(x));
  return Ops::divide(Ops::if_nonnegative(x, x, x * e), F(1.0f) + e);
}

struct ScalarExpOps {
  using Float = float;
  static float fma(float a, float b, float c) { return std::fma(a, b, c); }
  static float exponent_bits(float t) { return std::bit_cast<float>(std::bit_cast<uint32_t>(t) << 23); }
  static float zero_below(float x, float low, float v) { return x < low ? 0.0f : v; }
  static float abs(float x) { return std::fabs(x); }
  static float if_nonnegative(float x, float a, float b) { return x >= 0.0f ? a : b; }
  static float divide(float a, float b) { return a / b; }
};

}  // namespace
}  // namespace ullm::kernels
