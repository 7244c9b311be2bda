// Operations xsimd 8.1 has no word for (half-precision loads), or no fast one
// (its AVX-512 fma is a multiply and a separate add: not fused). Each target defines its specialisation with intrinsics
// in kernels/arch/<target>.cpp, the only files compiled with that target's flags.
#pragma once

#include <cstdint>

namespace ullm::kernels::simd {

template <class Arch>
struct TargetOps;
// Every specialisation provides
//   static xsimd::batch<float, Arch> load_f16(const uint16_t* p);
//   static void store_f16(uint16_t* p, xsimd::batch<float, Arch> v);
// converting batch::size halves to floats and back (round to nearest even),
//   static xsimd::batch<float, Arch> load_bf16(const uint16_t* p);
// widening batch::size bfloat16 values to floats, and
//   static xsimd::batch<float, Arch> load_i8(const int8_t* p);
// batch::size signed bytes as floats, and
//   static xsimd::batch<float, Arch> fma(batch a, batch b, batch c);
// a * b + c, fused wherever the target has fused multiply-add, and
//   static xsimd::batch<float, Arch> round_f16(batch v);
// v rounded to the nearest half (even on ties), as a float, and
//   static float reduce_16(const batch (&v)[16 / batch::size]);
// the 16 logical lanes of v summed as a 512-bit reduction sums them: halves,
// then quarters, then (l0 + l2) + (l1 + l3) (see reduce_16 in dot_simd.hpp), and
//   static void reduce_16_x4(const batch (&v)[4][16 / batch::size], float* out);
// out[i] = reduce_16(v[i]) for four vectors at once.

}  // namespace ullm::kernels::simd

#include <string>
#include <xsimd/xsimd.hpp>

#include "kernels/kernel_table.hpp"

namespace ullm::kernels::simd {

// The kernel table of one target, built on first use. Specialised in
// kernels/arch/<target>.cpp for each target ullm compiles; xsimd::dispatch
// calls the best one this CPU runs.
struct TargetTable {
  template <class Arch>
  const KernelTable& operator()(Arch) const;
};

#if defined(__x86_64__) || defined(_M_X64)
// AVX2 with AVX-VNNI (kernels/arch/avxvnni.cpp): xsimd 8.1 has no such arch,
// and its float kernels are AVX2's, so a tag of ours names it.
struct AvxVnni {};

template <>
const KernelTable& TargetTable::operator()(xsimd::avx512bw) const;
template <>
const KernelTable& TargetTable::operator()(AvxVnni) const;
template <>
const KernelTable& TargetTable::operator()(xsimd::fma3<xsimd::avx2>) const;
template <>
const KernelTable& TargetTable::operator()(xsimd::sse4_2) const;
#elif defined(__aarch64__)
template <>
const KernelTable& TargetTable::operator()(xsimd::neon64) const;
#endif

}  // namespace ullm::kernels::simd
