#include "kernels/dot.hpp"

#include <cstring>

#include "kernels/blocks.hpp"
#include "kernels/fp16.hpp"

namespace ullm::kernels {
namespace {

uint16_t load_u16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace

float dot_f32_f32(int64_t n, const std::byte* w, const std::byte* x) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    float a, b;
    std::memcpy(&a, w + 4 * i, 4);
    std::memcpy(&b, x + 4 * i, 4);
    sum += a * b;
  }
  return sum;
}

float dot_f16_f16(int64_t n, const std::byte* w, const std::byte* x) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += f16_to_f32(load_u16(w + 2 * i)) * f16_to_f32(load_u16(x + 2 * i));
  return sum;
}

float dot_bf16_bf16(int64_t n, const std::byte* w, const std::byte* x) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += bf16_to_f32(load_u16(w + 2 * i)) * bf16_to_f32(load_u16(x + 2 * i));
  return sum;
}

float dot_q8_0_q8_0(int64_t n, const std::byte* w, const std::byte* x) {
  const auto* wb = reinterpret_cast<const BlockQ8_0*>(w);
  const auto* xb = reinterpret_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    int32_t isum = 0;
    for (int i = 0; i < kQK8_0; ++i) isum += wb[b].qs[i] * xb[b].qs[i];
    sum += static_cast<float>(isum) * (f16_to_f32(wb[b].d) * f16_to_f32(xb[b].d));
  }
  return sum;
}

float dot_q4_0_q8_0(int64_t n, const std::byte* w, const std::byte* x) {
  const auto* wb = reinterpret_cast<const BlockQ4_0*>(w);
  const auto* xb = reinterpret_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK4_0; ++b) {
    int32_t isum = 0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      isum += ((wb[b].qs[j] & 0x0f) - 8) * xb[b].qs[j];
      isum += ((wb[b].qs[j] >> 4) - 8) * xb[b].qs[j + kQK4_0 / 2];
    }
    sum += static_cast<float>(isum) * (f16_to_f32(wb[b].d) * f16_to_f32(xb[b].d));
  }
  return sum;
}

}  // namespace ullm::kernels
