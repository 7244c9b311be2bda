// K-quant dot products on 16-byte integer vectors, for the targets without
// panel kernels (sse4, neon): each sub-block's integer product in SIMD, the
// rest as the scalar reference does it (add_q4_or_5_k_super_block,
// add_q6_k_super_block), so results are the reference's bit for bit. Written
// once over `Ops`, which each target file supplies:
//   Bytes, Lanes                  16 unsigned bytes, 4 int32 lanes
//   Bytes load(const uint8_t*)
//   Bytes mask(Bytes, uint8_t m)   each byte ANDed with m
//   Bytes or_(Bytes, Bytes)
//   Bytes shr<n>(Bytes), shl<n>(Bytes)   each byte shifted on its own
//   Bytes fifth_bit(Bytes top, uint8_t bit)   0x10 where top & bit, else 0
//   Lanes dot(Bytes values, const int8_t* x)  16 values (below 64) times 16
//                                  activation bytes, four adjacent products a lane
//   Lanes add(Lanes, Lanes), Lanes zero(), int32_t sum(Lanes)
// Included only by kernels/arch/sse4.cpp and neon.cpp; internal linkage.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/blocks.hpp"
#include "kernels/dot.hpp"

namespace ullm::kernels::simd {
namespace {

// Q4_K and Q5_K: each 32 bytes of qs hold sub-block 2c in their low nibbles
// and 2c + 1 in their high ones; Q5_K's fifth bit of value l of sub-block j
// is bit j of qh[l].
template <class Ops, bool FifthBit, class Block>
float dot_q4_or_5_k_128(int64_t n, const std::byte* wp, const std::byte* xp) {
  const auto* w = reinterpret_cast<const Block*>(wp);
  const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int32_t sub_block[kQK_K / 32];
    for (int c = 0; c < kQK_K / 64; ++c) {
      auto low = Ops::zero(), high = Ops::zero();
      for (int h = 0; h < 2; ++h) {
        const auto q = Ops::load(w[b].qs + 32 * c + 16 * h);
        auto lo = Ops::mask(q, 0x0f), hi = Ops::template shr<4>(q);
        if constexpr (FifthBit) {
          const auto top = Ops::load(w[b].qh + 16 * h);
          lo = Ops::or_(lo, Ops::fifth_bit(top, static_cast<uint8_t>(1u << (2 * c))));
          hi = Ops::or_(hi, Ops::fifth_bit(top, static_cast<uint8_t>(1u << (2 * c + 1))));
        }
        low = Ops::add(low, Ops::dot(lo, x[b].qs + 64 * c + 16 * h));
        high = Ops::add(high, Ops::dot(hi, x[b].qs + 64 * c + 32 + 16 * h));
      }
      sub_block[2 * c] = Ops::sum(low);
      sub_block[2 * c + 1] = Ops::sum(high);
    }
    acc = add_q4_or_5_k_super_block(w[b], x[b], sub_block, acc);
  }
  return acc;
}

// Q6_K: per 128 values, 16 of ql's and qh's bytes give four runs of 16
// values: low nibbles of ql bytes 0-31 (values 0-31) and 32-63 (32-63), high
// nibbles (64-95, 96-127), each with two bits of qh.
template <class Ops>
float dot_q6_k_128(int64_t n, const std::byte* wp, const std::byte* xp) {
  const auto* w = reinterpret_cast<const BlockQ6_K*>(wp);
  const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int32_t sub_block[kQK_K / 16];
    for (int half = 0; half < 2; ++half) {
      for (int s = 0; s < 2; ++s) {
        const auto ql0 = Ops::load(w[b].ql + 64 * half + 16 * s);
        const auto ql1 = Ops::load(w[b].ql + 64 * half + 32 + 16 * s);
        const auto qh = Ops::load(w[b].qh + 32 * half + 16 * s);
        const decltype(qh) q[4] = {
            Ops::or_(Ops::mask(ql0, 0x0f), Ops::template shl<4>(Ops::mask(qh, 3))),
            Ops::or_(Ops::mask(ql1, 0x0f), Ops::template shl<4>(Ops::mask(Ops::template shr<2>(qh), 3))),
            Ops::or_(Ops::template shr<4>(ql0), Ops::template shl<4>(Ops::mask(Ops::template shr<4>(qh), 3))),
            Ops::or_(Ops::template shr<4>(ql1), Ops::template shl<4>(Ops::template shr<6>(qh))),
        };
        for (int quarter = 0; quarter < 4; ++quarter) {
          const int j = 8 * half + 2 * quarter + s;  // the 16 values' sub-block
          sub_block[j] = Ops::sum(Ops::dot(q[quarter], x[b].qs + 16 * j));
        }
      }
    }
    acc = add_q6_k_super_block(w[b], x[b], sub_block, acc);
  }
  return acc;
}

}  // namespace
}  // namespace ullm::kernels::simd
