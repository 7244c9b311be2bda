// The activation quantizers (floats to Q8_0 and Q8_K blocks) for any xsimd
// arch, in the scalar references' arithmetic (kernels/quantize.cpp): the
// same largest magnitude (NaNs skipped), the same scale and the same
// round-to-nearest-even products. SSE4.2 and NEON use these; AVX2 and
// AVX-512 have their own (kernels/arch/x86_256.hpp). Included by
// dot_simd.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"
#include "kernels/quantize.hpp"

namespace ullm::kernels::simd {
// Internal linkage: see kernels/fp16.hpp.
namespace {

// Rounded products as bytes, as the scalar references'
// rounded_product_to_int8 makes them: at most 127, and -128 where not finite.
// (GCC's generic conversion narrows: xsimd 8.1 narrows nothing.)
template <class Arch>
void store_as_int8(xsimd::batch<float, Arch> rounded, int8_t* out) {
  using batch = xsimd::batch<float, Arch>;
  const auto finite = xsimd::abs(rounded) < batch(INFINITY);
  const batch v = xsimd::select(finite, xsimd::min(batch(127.0f), rounded), batch(-128.0f));
  using Register = typename batch::register_type;
  typedef int8_t Bytes __attribute__((vector_size(sizeof(Register) / 4)));
  const Bytes b = __builtin_convertvector(static_cast<Register>(v), Bytes);
  std::memcpy(out, &b, sizeof b);
}

// The largest |x| of n values (a multiple of the batch size), NaNs skipped
// as std::max(amax, |x|) skips them; and whether there was a NaN.
template <class Arch>
float largest_magnitude(const float* x, int64_t n, bool& nan) {
  using batch = xsimd::batch<float, Arch>;
  batch amax(0.0f);
  xsimd::batch_bool<float, Arch> unordered(false);
  for (int64_t i = 0; i < n; i += batch::size) {
    const batch v = xsimd::abs(batch::load_unaligned(x + i));
    amax = xsimd::select(amax < v, v, amax);
    unordered = unordered || (v != v);
  }
  nan = xsimd::any(unordered);
  alignas(64) float lanes[batch::size];
  amax.store_aligned(lanes);
  float largest = 0.0f;
  for (const float v : lanes) largest = std::max(largest, v);
  return largest;
}

template <class Arch>
void quantize_q8_0_simd(const float* src, std::byte* dst, int64_t n) {
  using batch = xsimd::batch<float, Arch>;
  auto* blocks = reinterpret_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const float* x = src + b * kQK8_0;
    bool nan;
    const float amax = largest_magnitude<Arch>(x, kQK8_0, nan);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int i = 0; i < kQK8_0; i += batch::size) {
      store_as_int8<Arch>(xsimd::nearbyint(batch::load_unaligned(x + i) * batch(id)), blocks[b].qs + i);
    }
    blocks[b].d = f32_to_f16(amax / 127.0f);
  }
}

template <class Arch>
void quantize_q8_k_simd(const float* src, std::byte* dst, int64_t n) {
  using batch = xsimd::batch<float, Arch>;
  auto* blocks = reinterpret_cast<BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    BlockQ8_K& y = blocks[b];
    bool nan;
    const float largest = largest_magnitude<Arch>(x, kQK_K, nan);
    int first = 0;  // the reference scales by the first value of that magnitude, with its sign
    while (first < kQK_K && std::fabs(x[first]) != largest) ++first;
    if (largest == 0.0f || first == kQK_K || nan) {  // zeros or NaNs: as the reference does
      float_to_q8_k(x, reinterpret_cast<std::byte*>(&y), kQK_K);
      continue;
    }
    const float iscale = -127.0f / x[first];
    for (int i = 0; i < kQK_K; i += batch::size) {
      store_as_int8<Arch>(xsimd::nearbyint(batch(iscale) * batch::load_unaligned(x + i)), y.qs + i);
    }
    sum_q8_k_groups(y);
    y.d = 1.0f / iscale;
  }
}

}  // namespace
}  // namespace ullm::kernels::simd
