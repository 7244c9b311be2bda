// Panel GEMM kernels on the AVX2 and AVX-512 targets: Q8_0, Q4_0 and Q5_0
// against Q8_0 activations, Q4_K, Q5_K and Q6_K against Q8_K, for any
// number of tokens.
//
// Row-at-a-time kernels (x86_256.hpp) leave each block's products spread over
// eight int32 lanes, so every block of every row and token costs a
// conversion and a fused multiply-add for 32 products. Here a panel of rows
// (one per 32-bit lane: 16 with AVX-512, 8 with AVX2) is laid out so that
// lane r holds four consecutive values of row r; a block's integer dot
// product then completes inside its lane, from one activation broadcast per
// four values, and the conversion and multiply-add serve a whole panel.
// ggml repacks weights this way (its Q4_0_8x8 and Q4_K_8x8 layouts; Q8_0_4x8
// on Arm). Here each format's pack() reads a panel's blocks through a
// source: from the rows, transposing into a stack buffer that every token
// reuses (panel_gemm), or from a recording of those reads made once at load
// (Repacked, repacked_gemm), which needs no transposing and streams well for
// decode. Measured on Zen 5 (AVX-512), 512 tokens through 5632x2048: 2.5x
// the row-at-a-time tiles.
//
// Included only by the x86 target files (kernels/arch/avx2.cpp,
// avxvnni.cpp, avx512.cpp); everything has internal linkage, and each file
// gets the variant its flags allow: 512-bit panels with AVX-512, 256-bit
// ones otherwise, and VNNI's vpdpbusd wherever the file has it (AVX-512
// VNNI, or AVX-VNNI's 256-bit form) in place of AVX2's maddubs pair sums.
#pragma once

#if defined(__AVX512VNNI__) || defined(__AVXVNNI__)
#define ULLM_X86_VNNI 1
#else
#define ULLM_X86_VNNI 0
#endif

#include <immintrin.h>

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstring>
#include <functional>
#include <type_traits>

#include "kernels/blocks.hpp"
#include "kernels/type_traits.hpp"

namespace ullm::kernels::simd {
namespace {

inline __m128i load_128(const std::byte* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// Four activation bytes as one int32, to broadcast to every lane.
inline int32_t four_bytes(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

#ifdef __AVX512F__
// 16 rows a panel; 8 tokens a pass keep 8 packed groups and 8 accumulators in
// 32 registers.
// (The zero-masking forms: GCC 12 warns falsely about the plain ones.)
struct PanelIsa {
  using Int = __m512i;
  using Float = __m512;
  static constexpr int kRows = 16;
  static constexpr int kTokens = 8;
  // 128-bit lane j holds the 16 bytes at at[j].
  static Int lanes_128(const std::byte* const (&at)[4]) {
    Int v = _mm512_zextsi128_si512(load_128(at[0]));
    v = _mm512_inserti32x4(v, load_128(at[1]), 1);
    v = _mm512_inserti32x4(v, load_128(at[2]), 2);
    return _mm512_inserti32x4(v, load_128(at[3]), 3);
  }
  static Int unpack_lo_32(Int a, Int b) { return _mm512_maskz_unpacklo_epi32(0xffff, a, b); }
  static Int unpack_hi_32(Int a, Int b) { return _mm512_maskz_unpackhi_epi32(0xffff, a, b); }
  static Int unpack_lo_64(Int a, Int b) { return _mm512_maskz_unpacklo_epi64(0xff, a, b); }
  static Int unpack_hi_64(Int a, Int b) { return _mm512_maskz_unpackhi_epi64(0xff, a, b); }
  static Int bytes(int v) { return _mm512_set1_epi8(static_cast<char>(v)); }
  static Int low_nibbles(Int v) { return _mm512_and_si512(v, bytes(0x0f)); }
  static Int or_(Int a, Int b) { return _mm512_or_si512(a, b); }
  static Int xor_(Int a, Int b) { return _mm512_xor_si512(a, b); }
  static Int and_(Int a, Int b) { return _mm512_and_si512(a, b); }
  static Int sub(Int a, Int b) { return _mm512_sub_epi32(a, b); }
  static Int add_32(Int a, Int b) { return _mm512_add_epi32(a, b); }
  static Int mul_32(Int a, Int b) { return _mm512_mullo_epi32(a, b); }
  static Int dpbusd(Int acc, Int u, Int s) { return _mm512_dpbusd_epi32(acc, u, s); }
  static Int dpwssd(Int acc, Int a, Int b) { return _mm512_dpwssd_epi32(acc, a, b); }
  static Int shift_left(Int v, int n) { return _mm512_maskz_sll_epi32(0xffff, v, _mm_cvtsi32_si128(n)); }
  static Int shift_right(Int v, int n) { return _mm512_maskz_srl_epi32(0xffff, v, _mm_cvtsi32_si128(n)); }
  static Int shift_right_signed(Int v, int n) { return _mm512_maskz_sra_epi32(0xffff, v, _mm_cvtsi32_si128(n)); }
  static Int high_nibbles(Int v) { return _mm512_and_si512(_mm512_maskz_srli_epi32(0xffff, v, 4), bytes(0x0f)); }
  // The high nibbles left in place: 16 times their values.
  static Int high_nibbles_times_16(Int v) { return _mm512_and_si512(v, bytes(0xf0)); }
  static Int splat(int32_t v) { return _mm512_set1_epi32(v); }
  static void shuffled_groups(const int8_t* x, Int (&out)[4]) {
    const Int v = _mm512_maskz_broadcast_i32x4(0xffff, _mm_loadu_si128(reinterpret_cast<const __m128i*>(x)));
    out[0] = _mm512_maskz_shuffle_epi32(0xffff, v, _MM_PERM_AAAA);
    out[1] = _mm512_maskz_shuffle_epi32(0xffff, v, _MM_PERM_BBBB);
    out[2] = _mm512_maskz_shuffle_epi32(0xffff, v, _MM_PERM_CCCC);
    out[3] = _mm512_maskz_shuffle_epi32(0xffff, v, _MM_PERM_DDDD);
  }
  // Every 128-bit lane holds four 32-bit lanes with these four controls.
  static Int lanes_of_128(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3) {
    return _mm512_setr_epi32(c0, c1, c2, c3, c0, c1, c2, c3, c0, c1, c2, c3, c0, c1, c2, c3);
  }
  static Int shuffle_bytes(Int v, Int control) { return _mm512_maskz_shuffle_epi8(~0ull, v, control); }
  static Float to_float(Int v) { return _mm512_maskz_cvtepi32_ps(0xffff, v); }
  static Float splat(float v) { return _mm512_set1_ps(v); }
  static Float zero() { return _mm512_setzero_ps(); }
  static Float load(const float* p) { return _mm512_loadu_ps(p); }
  static Float load_halves(const uint16_t* p) {
    return _mm512_maskz_cvtph_ps(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static Int load_int_unaligned(const std::byte* p) { return _mm512_loadu_si512(p); }
  static void store_int_unaligned(std::byte* p, Int v) { _mm512_storeu_si512(p, v); }
  static void store(float* p, Float v) { _mm512_storeu_ps(p, v); }
  static Float mul(Float a, Float b) { return _mm512_mul_ps(a, b); }
  static Float fma(Float a, Float b, Float c) { return _mm512_fmadd_ps(a, b, c); }
  static Float fnma(Float a, Float b, Float c) { return _mm512_fnmadd_ps(a, b, c); }
};
#else
// 8 rows a panel; 4 tokens a pass (16 registers: the packed groups are
// reloaded from L1 as needed).
struct PanelIsa {
  using Int = __m256i;
  using Float = __m256;
  static constexpr int kRows = 8;
  static constexpr int kTokens = 4;
  static Int lanes_128(const std::byte* const (&at)[2]) { return _mm256_set_m128i(load_128(at[1]), load_128(at[0])); }
  static Int unpack_lo_32(Int a, Int b) { return _mm256_unpacklo_epi32(a, b); }
  static Int unpack_hi_32(Int a, Int b) { return _mm256_unpackhi_epi32(a, b); }
  static Int unpack_lo_64(Int a, Int b) { return _mm256_unpacklo_epi64(a, b); }
  static Int unpack_hi_64(Int a, Int b) { return _mm256_unpackhi_epi64(a, b); }
  static Int bytes(int v) { return _mm256_set1_epi8(static_cast<char>(v)); }
  static Int low_nibbles(Int v) { return _mm256_and_si256(v, bytes(0x0f)); }
  static Int or_(Int a, Int b) { return _mm256_or_si256(a, b); }
  static Int xor_(Int a, Int b) { return _mm256_xor_si256(a, b); }
  static Int and_(Int a, Int b) { return _mm256_and_si256(a, b); }
  static Int sub(Int a, Int b) { return _mm256_sub_epi32(a, b); }
  static Int shift_left(Int v, int n) { return _mm256_sll_epi32(v, _mm_cvtsi32_si128(n)); }
  static Int shift_right(Int v, int n) { return _mm256_srl_epi32(v, _mm_cvtsi32_si128(n)); }
  static Int shift_right_signed(Int v, int n) { return _mm256_sra_epi32(v, _mm_cvtsi32_si128(n)); }
  static Int high_nibbles(Int v) { return _mm256_and_si256(_mm256_srli_epi32(v, 4), bytes(0x0f)); }
  static Int high_nibbles_times_16(Int v) { return _mm256_and_si256(v, bytes(0xf0)); }
  static Int splat(int32_t v) { return _mm256_set1_epi32(v); }
  static Int lanes_of_128(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3) {
    return _mm256_setr_epi32(c0, c1, c2, c3, c0, c1, c2, c3);
  }
  static Int shuffle_bytes(Int v, Int control) { return _mm256_shuffle_epi8(v, control); }
  static Float to_float(Int v) { return _mm256_cvtepi32_ps(v); }
  static Float splat(float v) { return _mm256_set1_ps(v); }
  static Float zero() { return _mm256_setzero_ps(); }
  static Float load(const float* p) { return _mm256_loadu_ps(p); }
  static Float load_halves(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static Int load_int_unaligned(const std::byte* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void store_int_unaligned(std::byte* p, Int v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static void store(float* p, Float v) { _mm256_storeu_ps(p, v); }
  static Float mul(Float a, Float b) { return _mm256_mul_ps(a, b); }
  static Float fma(Float a, Float b, Float c) { return _mm256_fmadd_ps(a, b, c); }
  static Float fnma(Float a, Float b, Float c) { return _mm256_fnmadd_ps(a, b, c); }
  // (clang-format splits one-line functions under a preprocessor condition.)
  // clang-format off
  static Int add_32(Int a, Int b) { return _mm256_add_epi32(a, b); }
#if ULLM_X86_VNNI
  static Int dpbusd(Int acc, Int u, Int s) { return _mm256_dpbusd_avx_epi32(acc, u, s); }
  static Int dpwssd(Int acc, Int a, Int b) { return _mm256_dpwssd_avx_epi32(acc, a, b); }
#endif
  // clang-format on
};
#endif

using Int = PanelIsa::Int;
constexpr int kPanelRows = PanelIsa::kRows;

// The 16 bytes at `offset` in block b of each panel row, transposed to four
// vectors: out[g] lane r holds bytes 4g..4g+3 of row r's chunk. Rows are
// gathered r, r+4, r+8, ... per 128-bit lane, so a 4x4 transpose inside each
// 128-bit lane leaves the rows in lane order.
template <class Block>
__attribute__((always_inline)) inline void transpose_chunk(const std::byte* w, size_t w_stride, int64_t b,
                                                           size_t offset, Int (&out)[4]) {
  constexpr int kLanes128 = kPanelRows / 4;
  Int z[4];
  for (int q = 0; q < 4; ++q) {
    const std::byte* at[kLanes128];
    for (int j = 0; j < kLanes128; ++j) {
      at[j] = w + static_cast<size_t>(q + 4 * j) * w_stride + static_cast<size_t>(b) * sizeof(Block) + offset;
    }
    z[q] = PanelIsa::lanes_128(at);
  }
  const Int t0 = PanelIsa::unpack_lo_32(z[0], z[1]), t1 = PanelIsa::unpack_hi_32(z[0], z[1]);
  const Int t2 = PanelIsa::unpack_lo_32(z[2], z[3]), t3 = PanelIsa::unpack_hi_32(z[2], z[3]);
  out[0] = PanelIsa::unpack_lo_64(t0, t2);
  out[1] = PanelIsa::unpack_hi_64(t0, t2);
  out[2] = PanelIsa::unpack_lo_64(t1, t3);
  out[3] = PanelIsa::unpack_hi_64(t1, t3);
}

// The f16 halves of each lane (the low or the high 16 bits), as floats.
inline PanelIsa::Float halves_to_float(Int v, bool high) {
  const Int h = high ? PanelIsa::shift_right(v, 16) : PanelIsa::and_(v, PanelIsa::splat(0xffff));
#ifdef __AVX512F__
  return _mm512_maskz_cvtph_ps(0xffff, _mm512_maskz_cvtepi32_epi16(0xffff, h));
#else
  return _mm256_cvtph_ps(_mm_packus_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
#endif
}

// The low or high 16 bits of each lane, packed as kPanelRows halves.
inline void store_halves(std::byte* out, Int v, bool high) {
  const Int h = high ? PanelIsa::shift_right(v, 16) : PanelIsa::and_(v, PanelIsa::splat(0xffff));
#ifdef __AVX512F__
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm512_maskz_cvtepi32_epi16(0xffff, h));
#else
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                   _mm_packus_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
#endif
}

// The four bytes at `offset` in block b of each panel row, gathered.
template <class Block>
Int gather_dwords(const std::byte* w, size_t w_stride, int64_t b, size_t offset) {
  const auto* base = reinterpret_cast<const int*>(w + static_cast<size_t>(b) * sizeof(Block) + offset);
  const int stride = static_cast<int>(w_stride);  // a panel spans few rows: far below 2 GiB
#ifdef __AVX512F__
  const __m512i rows = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32(stride));
  return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), 0xffff, rows, base, 1);
#else
  const __m256i rows = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(stride));
  return _mm256_i32gather_epi32(base, rows, 1);
#endif
}

// Where a format's pack() reads a panel's blocks from: the rows themselves
// (transposing as it goes), or a recording of those reads made once at load
// (see repacked_gemm), which replays them as plain loads.
struct RowSource {
  const std::byte* w;
  size_t w_stride;
  bool next_panel = false;  // whether a whole panel of rows follows (see prefetch_next_panel)
  // Asks for block b of the next panel's rows, if any, to be brought into L2, each
  // line once (those that start inside block b of the first row; the other
  // rows' alike where rows take whole lines): a panel reads its rows side
  // by side, which hardware prefetchers follow poorly (as the row tiles in
  // x86_256.hpp found). Decode from the file's rows, from memory (16384 x
  // 4096, one thread, Zen 5): Q4_0 x1.9, Q8_0 x1.7, Q6_K x1.5, Q4_K x1.2; in L2 or L3
  // the prefetches cost 20-25 %, which the repacked copy, what a loaded
  // model decodes from, never pays. (Statements: GCC 12 drops a builtin
  // prefetch under a run-time condition.)
  template <class Block>
  void prefetch_next_panel(int64_t b) const {
    if (!next_panel) return;
    const size_t begin = static_cast<size_t>(b) * sizeof(Block), end = begin + sizeof(Block);
    const char* next = reinterpret_cast<const char*>(w + kPanelRows * w_stride);
    for (size_t line = (begin + 63) / 64 * 64; line < end; line += 64) {
      for (int r = 0; r < kPanelRows; ++r) __asm__ volatile("prefetcht1 %0" : : "m"(next[r * w_stride + line]));
    }
  }
  template <class Block>
  void chunk(int64_t b, size_t offset, Int (&out)[4]) const {
    transpose_chunk<Block>(w, w_stride, b, offset, out);
  }
  // The dword at `offset` of every row, passed through `transform`.
  template <class Block, class Transform = std::identity>
  Int dwords(int64_t b, size_t offset, Transform transform = {}) const {
    return transform(gather_dwords<Block>(w, w_stride, b, offset));
  }
  // The f16 in the low or high half of the dword at `offset`, as floats.
  template <class Block>
  PanelIsa::Float halves(int64_t b, size_t offset, bool high) const {
    return halves_to_float(dwords<Block>(b, offset), high);
  }
  // Unpacked values (an array of vectors) that a repacked panel stores in
  // `Code`, cheaper to unpack than the block's own layout: read(rows,
  // values) unpacks them from the rows, and Code::encode / Code::decode
  // translate each Code::kValues vectors to Code::kStored and back.
  template <class Code, class Values, class Read>
  void recoded(Values& values, const Read& read) const {
    read(*this, values);
  }
};

// The vectors of an array of vectors of any rank, in order.
template <class Values>
Int* vectors_of(Values& values) {
  return reinterpret_cast<Int*>(&values);
}
// How many units of a code an array of vectors makes.
template <class Code, class Values>
consteval int code_units() {
  constexpr int kVectors = sizeof(Values) / sizeof(Int);
  static_assert(kVectors % Code::kValues == 0);
  return kVectors / Code::kValues;
}

// A RowSource that also appends every vector it reads to `out`.
struct RecordingSource {
  RowSource rows;
  mutable std::byte* out;
  template <class Block>
  void chunk(int64_t b, size_t offset, Int (&v)[4]) const {
    rows.chunk<Block>(b, offset, v);
    for (const Int& x : v) put(x);
  }
  template <class Block>
  PanelIsa::Float halves(int64_t b, size_t offset, bool high) const {
    const Int x = rows.dwords<Block>(b, offset);
    store_halves(out, x, high);
    out += kPanelRows * sizeof(uint16_t);
    return halves_to_float(x, high);
  }
  template <class Code, class Values, class Read>
  void recoded(Values& values, const Read& read) const {
    read(rows, values);
    for (int u = 0; u < code_units<Code, Values>(); ++u) {
      Int stored[Code::kStored];
      Code::encode(vectors_of(values) + u * Code::kValues, stored);
      for (const Int& x : stored) put(x);
    }
  }
  void put(Int x) const {
    PanelIsa::store_int_unaligned(out, x);
    out += sizeof(Int);
  }
};

// How far ahead a panel's stream is prefetched into L1. Measured on Zen 5
// VMs, TinyLlama-1.1B decode on one thread: 64 KiB (an earlier choice) cost
// Q4_0 a fifth (33-34 against 40-47 tok/s); none at all cost Q4_K_M 40 %
// (15-23 against 25-35 tok/s); 4 KiB rather than 1 KiB gave Q4_K_M 37-41
// against 25-35 tok/s, and into L1 rather than L2 35-39 against 32-37.
// Formats of 256-value super-blocks go twice as far: from memory on one
// thread (16384 x 4096, alternating runs) Q4_K 24 -> 27 GB/s, Q5_K 22 ->
// 29, Q6_K 22 -> 30, two threads equal; Q4_0 and Q5_0 reach the memory
// baseline at 4 KiB and gained nothing on one thread at 8 (on two, Q4_0
// read 37 against 46 GB/s).
inline constexpr size_t kStreamAheadBytes = 4096;
template <class Format>
inline constexpr size_t kStreamAheadBytesFor = Format::kValues == kQK_K ? 2 * kStreamAheadBytes : kStreamAheadBytes;

// Replays a recording in order: one sequential stream per panel, every load
// asking for the line `AheadBytes` ahead. The prefetches are statements GCC
// keeps in program order: as builtins it gathered a K-quant super-block's
// 36 into one or two runs of 15-20, and those streams ran slower (spread
// out, from L3 in two alternating runs: Q4_K x1.12-1.23, Q5_K x1.13-1.16,
// Q6_K x1.09-1.11; Q4_0's were spread already).
template <size_t AheadBytes>
struct RepackedSource {
  mutable const std::byte* in;
  template <class Block>
  void chunk(int64_t, size_t, Int (&v)[4]) const {
    for (Int& x : v) x = get();
  }
  template <class Block>
  PanelIsa::Float halves(int64_t, size_t, bool) const {
    prefetch_ahead();
    const PanelIsa::Float x = PanelIsa::load_halves(reinterpret_cast<const uint16_t*>(in));
    in += kPanelRows * sizeof(uint16_t);
    return x;
  }
  template <class Code, class Values, class Read>
  void recoded(Values& values, const Read&) const {
#pragma GCC unroll 4
    for (int u = 0; u < code_units<Code, Values>(); ++u) {
      Int stored[Code::kStored];
#pragma GCC unroll 8
      for (Int& x : stored) x = get();
      Code::decode(stored, vectors_of(values) + u * Code::kValues);
    }
  }
  // (The stream asks for its own lines as it reads.)
  template <class Block>
  void prefetch_next_panel(int64_t) const {}
  void prefetch_ahead() const {
    __asm__ volatile("prefetcht0 %0" : : "m"(*(reinterpret_cast<const char*>(in) + AheadBytes)));
  }
  Int get() const {
    prefetch_ahead();
    const Int x = PanelIsa::load_int_unaligned(in);
    in += sizeof(Int);
    return x;
  }
};

// How a pass of `Tokens` tokens computes its dot products.
// - chains: independent vpdpbusd chains per dot product. Each token's
//   products are one chain of dependent steps (4 cycles each on Zen 5) and
//   program order puts a token's steps one after another, so the
//   out-of-order window sees few independent ones; four chains per token
//   made K-quant prefill 22 % faster (the integer sums are exact in any
//   order). One token keeps one chain: the extra adds cost more than the
//   latency they hide (Q4_K decode in L2 15 % slower, Q4_0 unchanged).
// - shuffled_broadcasts: activation groups reach every lane by in-lane
//   shuffles of one 16-byte load per four groups, not broadcasts from
//   memory. On Zen 5 a 512-bit broadcast from memory takes a vector pipe as
//   a shuffle does, and decode, bound by vector operations, gained from the
//   shuffles' fewer loads (L2-resident decode +3-16 %); prefill, whose
//   load ports idle, lost 6-16 % with them, and 256-bit decode (avxvnni)
//   gained nothing, so it keeps memory broadcasts: on Intel cores they are
//   load-port operations only.
template <int Chains, bool ShuffledBroadcasts>
struct DotPlan {
  static_assert(Chains == 1 || Chains == 4);
  static constexpr int chains = Chains;
  static constexpr bool shuffled_broadcasts = ShuffledBroadcasts;
};
#ifdef __AVX512F__
inline constexpr bool kShuffledBroadcastsInDecode = true;
#else
inline constexpr bool kShuffledBroadcastsInDecode = false;
#endif
template <int Tokens>
using DotPlanFor = DotPlan<(Tokens == 1 ? 1 : 4), Tokens == 1 && kShuffledBroadcastsInDecode>;
// The same plan with one chain.
template <class Plan>
using OneChain = DotPlan<1, Plan::shuffled_broadcasts>;

// Activation bytes 4g..4g+3 in every lane, for the four groups of 16 bytes at x.
template <class Plan>
inline void broadcast_groups(const int8_t* x, Int (&out)[4]) {
#ifdef __AVX512F__
  if constexpr (Plan::shuffled_broadcasts) return PanelIsa::shuffled_groups(x, out);
#endif
  for (int g = 0; g < 4; ++g) out[g] = PanelIsa::splat(four_bytes(x + 4 * g));
}

// The integer dot product of `Groups` groups of four packed unsigned bytes
// per lane with 4 Groups activation bytes, added to `start`.
#if ULLM_X86_VNNI
template <class Plan, int Groups>
inline Int dot_groups(const Int* q, const int8_t* x, Int start) {
  constexpr int kChains = Plan::chains;
  static_assert(Groups % 4 == 0);
  Int s[kChains];
  s[0] = start;
  for (int c = 1; c < kChains; ++c) s[c] = PanelIsa::splat(0);
  for (int g = 0; g < Groups; g += 4) {
    Int xg[4];
    broadcast_groups<Plan>(x + 4 * g, xg);
    for (int k = 0; k < 4; ++k) s[(g + k) % kChains] = PanelIsa::dpbusd(s[(g + k) % kChains], q[g + k], xg[k]);
  }
  // Written out: a loop adding pairs made GCC keep s[] in memory (0.27 of
  // the peak for Q4_K prefill against 0.62).
  if constexpr (kChains == 4) return PanelIsa::add_32(PanelIsa::add_32(s[0], s[1]), PanelIsa::add_32(s[2], s[3]));
  return s[0];
}
#endif
#ifndef __AVX512F__
// maddubs' pairs of products summed over `groups` groups in 16 bits.
inline __m256i pair_sums(const Int* q, const int8_t* x, int groups) {
  __m256i pairs = _mm256_maddubs_epi16(q[0], PanelIsa::splat(four_bytes(x)));
  for (int g = 1; g < groups; ++g) {
    pairs = _mm256_add_epi16(pairs, _mm256_maddubs_epi16(q[g], PanelIsa::splat(four_bytes(x + 4 * g))));
  }
  return pairs;
}
// The pair sums of `Groups` groups of unsigned `Bits`-bit values widened to
// int32 lanes through madd with `factor` (16-bit pairs: ones, or a sub-block
// scale), added to `sum`. maddubs' pairs reach 2 (2^Bits - 1) 128, so eight
// groups of 4-bit values share a 16-bit sum below 2^15, four of 5-bit, two
// of 6-bit.
template <int Bits, int Groups>
inline Int add_pair_sums(Int sum, const Int (&q)[Groups], const int8_t* x, Int factor) {
  static_assert(Bits >= 4 && Bits <= 6);
  constexpr int kShared = std::min(Groups, Bits == 4 ? 8 : Bits == 5 ? 4 : 2);
  static_assert(Groups % kShared == 0);
  for (int g = 0; g < Groups; g += kShared) {
    sum = _mm256_add_epi32(sum, _mm256_madd_epi16(pair_sums(q + g, x + 4 * g, kShared), factor));
    // The sum stays one chain in program order: otherwise GCC gathers a
    // block's products first and adds them at the end, sending most of them
    // to the stack (Q6_K decode 5 % slower).
    __asm__("" : "+x"(sum));
  }
  return sum;
}
#endif
#if ULLM_X86_VNNI
// 4-bit values come with groups 4-7 as 16 times their values: the high
// nibbles masked in place, a shift fewer per vector (their sums reach 240 x
// 128 x 16, exact in 32 bits, and are shifted back once).
inline Int high_nibbles_for_dot_32(Int v) {
  return PanelIsa::high_nibbles_times_16(v);
}
template <int Bits, class Plan>
inline Int dot_32(const Int (&q)[8], const int8_t* x, Int start) {
  if constexpr (Bits == 4) {
    const Int low = dot_groups<OneChain<Plan>, 4>(q, x, start);
    const Int high_times_16 = dot_groups<OneChain<Plan>, 4>(q + 4, x + 16, PanelIsa::splat(0));
    return PanelIsa::add_32(low, PanelIsa::shift_right_signed(high_times_16, 4));
  }
  return dot_groups<Plan, 8>(q, x, start);
}
#else
inline Int high_nibbles_for_dot_32(Int v) {
  return PanelIsa::high_nibbles(v);
}
// (AVX2 adds the 16-bit pair sums before widening: one chain.) Signed
// 8-bit values (Q8_0) take the sign trick, |q| against x with q's sign, so
// that a pair stays below 2^15 (q + 128 would saturate), widened group by
// group.
template <int Bits, class>
inline Int dot_32(const Int (&q)[8], const int8_t* x, Int start) {
  if constexpr (Bits == 8) {
    for (int g = 0; g < 8; ++g) {
      const Int pairs =
          _mm256_maddubs_epi16(_mm256_abs_epi8(q[g]), _mm256_sign_epi8(PanelIsa::splat(four_bytes(x + 4 * g)), q[g]));
      start = PanelIsa::add_32(start, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    }
    return start;
  } else {
    return add_pair_sums<Bits>(start, q, x, _mm256_set1_epi16(1));
  }
}
#endif

// Bytes of each 32-bit lane rearranged in one shuffle: byte i of the result
// is the lane's byte from[i], or zero where from[i] < 0.
inline Int lane_bytes(Int v, const int (&from)[4]) {
  uint32_t control[4] = {};
  for (int lane = 0; lane < 4; ++lane) {  // the shuffle indexes bytes of a 128-bit lane
    for (int i = 0; i < 4; ++i) {
      const uint32_t index = from[i] < 0 ? 0x80u : static_cast<uint32_t>(4 * lane + from[i]);
      control[lane] |= index << (8 * i);
    }
  }
  return PanelIsa::shuffle_bytes(v, PanelIsa::lanes_of_128(control[0], control[1], control[2], control[3]));
}

// Each format reads a block of a panel in parts, so that decode can use each
// part as it arrives (a whole unpacked K-quant block is 80-90 vectors, far
// more than the registers, and spilling it cost more than the products):
// - read_head: the per-block factors (scales, minimums), and any bits the
//   parts share (`Carry`);
// - read_piece: the unpacked values of piece i of kPieces;
// - start, add_piece, finish: a few tokens' integer sums (kSums per token,
//   dot products as `Plan` says), and the float accumulators
//   at the end, in the order of the format's scalar `dot_tiled`.
// The read order defines the layout weights are repacked into at load.
struct NoCarry {};

// The K-quants' sums start from zero.
struct SumsFromZero {
  template <int Tokens, int Sums>
  static void start(const int64_t (&)[Tokens], const PanelActivations&, Int (&sums)[Sums][Tokens]) {
    for (auto& per_token : sums) {
      for (Int& sum : per_token) sum = PanelIsa::splat(0);
    }
  }
};

// Each byte's bits from bit `from` moved to start at bit `to`, masked by
// `mask` (which keeps only bits that came from the same byte).
inline Int take_bits(Int v, int from, int to, int mask) {
  const Int moved = from == to  ? v
                    : from < to ? PanelIsa::shift_left(v, to - from)
                                : PanelIsa::shift_right(v, from - to);
  return PanelIsa::and_(moved, PanelIsa::bytes(mask));
}

// The bits of each 32-bit lane reordered so that bit 4g + i moves to bit
// 8i + g (g < 8, i < 4): four swaps of bit-index bits, each a delta swap.
inline Int bits_by_group(Int v) {
  // Swaps each bit set in `mask` with the bit `delta` above it.
  const auto swap = [](Int x, int delta, uint32_t mask) {
    const Int t =
        PanelIsa::and_(PanelIsa::xor_(PanelIsa::shift_right(x, delta), x), PanelIsa::splat(static_cast<int32_t>(mask)));
    return PanelIsa::xor_(x, PanelIsa::xor_(t, PanelIsa::shift_left(t, delta)));
  };
  v = swap(v, 3, 0x0a0a0a0a);     // index bits 0 and 2
  v = swap(v, 6, 0x00cc00cc);     // 1 and 3
  v = swap(v, 12, 0x0000f0f0);    // 2 and 4
  return swap(v, 8, 0x0000ff00);  // 3 and 4
}

// Denser codes of small unsigned values (one per byte) for repacked
// panels: each byte of a stored vector holds one value in its low bits and
// a few bits of the unit's remaining values above it. A vector comes back
// with one mask, the others from the stored bytes' top bits (the stored
// vector XOR its masked value, or masked: either stays inside its byte when
// shifted) shifted into place and ORed, all fewer operations than from the
// blocks' own split of low nibbles and high bits (4.5 a vector, an OR
// included). Few mask constants: each is a register held through a block.
//
// 6-bit values, four vectors in three: value i < 3 in the low six bits of
// stored[i], value 3's bits 2i, 2i + 1 in its top two. 2.75 operations a
// vector.
struct SixBitCode {
  static constexpr int kValues = 4;
  static constexpr int kStored = 3;
  static void encode(const Int* values, Int (&stored)[kStored]) {
    for (int i = 0; i < 3; ++i) {
      stored[i] = PanelIsa::or_(values[i], take_bits(values[3], 2 * i, 6, 0xc0));
    }
  }
  static void decode(const Int (&s)[kStored], Int* v) {
    using I = PanelIsa;
    for (int i = 0; i < 3; ++i) v[i] = I::and_(s[i], I::bytes(0x3f));
    const Int bits01 = I::shift_right(I::xor_(s[0], v[0]), 6);
    const Int bits23 = I::shift_right(I::xor_(s[1], v[1]), 4);
    const Int bits45 = I::shift_right(I::xor_(s[2], v[2]), 2);
    v[3] = I::or_(I::or_(bits01, bits23), bits45);
  }
};

// 5-bit values, eight vectors in five: value i < 5 in the low five bits of
// stored[i]; the top three bits of stored[0] and [2] hold the low three
// bits of values 5 and 6, bits 5-6 of stored[1] and [3] their top two;
// value 7's low three bits top stored[4], its bits 3 and 4 are bit 7 of
// stored[1] and [3]. One mask: the tops of stored[1] and [3] shifted to bits
// 3-5 are masked to values 5's and 6's bits 3-4, and what the mask leaves
// out is value 7's bit. 3.1 operations a vector.
struct FiveBitCode {
  static constexpr int kValues = 8;
  static constexpr int kStored = 5;
  static void encode(const Int* v, Int (&stored)[kStored]) {
    using I = PanelIsa;
    stored[0] = I::or_(v[0], take_bits(v[5], 0, 5, 0xe0));
    stored[1] = I::or_(I::or_(v[1], take_bits(v[5], 3, 5, 0x60)), take_bits(v[7], 3, 7, 0x80));
    stored[2] = I::or_(v[2], take_bits(v[6], 0, 5, 0xe0));
    stored[3] = I::or_(I::or_(v[3], take_bits(v[6], 3, 5, 0x60)), take_bits(v[7], 4, 7, 0x80));
    stored[4] = I::or_(v[4], take_bits(v[7], 0, 5, 0xe0));
  }
  static void decode(const Int (&s)[kStored], Int* v) {
    using I = PanelIsa;
    const Int low5 = I::bytes(0x1f);
    for (int i = 0; i < 5; ++i) v[i] = I::and_(s[i], low5);
    const Int tops1 = I::shift_right(I::xor_(s[1], v[1]), 2);  // value 5's bits 3-4, value 7's bit 3 at bit 5
    const Int tops3 = I::shift_right(I::xor_(s[3], v[3]), 2);  // value 6's, value 7's bit 4 likewise
    const Int v5_high = I::and_(tops1, low5), v6_high = I::and_(tops3, low5);
    const Int v7_bit3 = I::shift_right(I::xor_(tops1, v5_high), 2);
    const Int v7_bit4 = I::shift_right(I::xor_(tops3, v6_high), 1);
    v[5] = I::or_(I::shift_right(I::xor_(s[0], v[0]), 5), v5_high);
    v[6] = I::or_(I::shift_right(I::xor_(s[2], v[2]), 5), v6_high);
    v[7] = I::or_(I::or_(I::shift_right(I::xor_(s[4], v[4]), 5), v7_bit3), v7_bit4);
  }
};

// Values a repacked panel stores as they are: eight vectors in eight (one
// unit: in units of one vector, GCC copied a block's values through the
// stack, and Q8_0's L2-resident decode ran at half the speed).
struct AsRead {
  static constexpr int kValues = 8;
  static constexpr int kStored = 8;
  static void encode(const Int* values, Int (&stored)[kStored]) {
#pragma GCC unroll 8
    for (int i = 0; i < kStored; ++i) stored[i] = values[i];
  }
  static void decode(const Int (&stored)[kStored], Int* values) {
#pragma GCC unroll 8
    for (int i = 0; i < kStored; ++i) values[i] = stored[i];
  }
};

// The formats of one scale per 32 values, against Q8_0 activations.
// Q4_0: the nibbles q as unsigned bytes; sum (q - 8) x = sum q x - 8 sum x.
// Q5_0: q with its fifth bit from qh (bit i for value i), sum (q - 16) x.
// Its qh is read with its bits by group (bits_by_group), where one shift
// puts group g's four bits at bit 4 of their bytes; spreading them from
// qh's own order took a shuffle and a compare per group (Q5_0 decode in L2
// on Zen 1: 25.7 against 29.4 GOP/s). A repacked panel stores the values
// in FiveBitCode.
// Q8_0: with VNNI, q + 128 as unsigned bytes (q with its top bit flipped,
// stored so in a repacked panel), sum q x = sum (q + 128) x - 128 sum x;
// without, the signed q for dot_32's sign trick.
template <int Bits>
struct PanelQn_0 {
  static_assert(Bits == 4 || Bits == 5 || Bits == 8);
  using Block = std::conditional_t<Bits == 4, BlockQ4_0, std::conditional_t<Bits == 5, BlockQ5_0, BlockQ8_0>>;
  using Act = BlockQ8_0;
  static constexpr int kValues = kQK8_0;
  static constexpr int32_t kSumFactor = Bits == 4 ? -8 : Bits == 5 ? -16 : ULLM_X86_VNNI ? -128 : 0;
  static constexpr int kPieces = 1;
  static constexpr int kSums = 1;
  using Carry = NoCarry;
  struct Head {
    PanelIsa::Float d;
  };
  struct Piece {
    Int q[8];
  };
  template <class Source>
  static void read_head(const Source& src, int64_t b, Carry&, Head& head) {
    head.d = src.template halves<Block>(b, offsetof(Block, d), false);
  }
  template <class Source>
  static void read_piece(const Source& src, int64_t b, int, Carry&, Piece& piece) {
    const auto read = [b](const auto& source, Int(&q)[8]) {
      Int u[4];
      source.template chunk<Block>(b, offsetof(Block, qs), u);
      if constexpr (Bits == 8) {
        Int upper[4];
        source.template chunk<Block>(b, offsetof(Block, qs) + 16, upper);
        const auto value = [](Int v) { return ULLM_X86_VNNI ? PanelIsa::xor_(v, PanelIsa::bytes(0x80)) : v; };
        for (int g = 0; g < 4; ++g) {
          q[g] = value(u[g]);          // values 4g..4g+3
          q[g + 4] = value(upper[g]);  // 16+4g..16+4g+3
        }
      } else {
        for (int g = 0; g < 4; ++g) {
          q[g] = PanelIsa::low_nibbles(u[g]);                                                   // values 4g..4g+3
          q[g + 4] = Bits == 5 ? PanelIsa::high_nibbles(u[g]) : high_nibbles_for_dot_32(u[g]);  // 16+4g..16+4g+3
        }
      }
      if constexpr (Bits == 5) {
        const Int high = source.template dwords<Block>(b, offsetof(Block, qh), bits_by_group);
        for (int g = 0; g < 8; ++g) q[g] = PanelIsa::or_(q[g], take_bits(high, g, 4, 0x10));
      }
    };
    if constexpr (Bits == 4) {
      read(src, piece.q);  // the nibbles as stored: a repacked panel replays the chunks
    } else {
      src.template recoded<std::conditional_t<Bits == 5, FiveBitCode, AsRead>>(piece.q, read);
    }
  }
  // at[t]: the index of token t's block in x.scales and x.sums.
  template <int Tokens>
  static void start(const int64_t (&at)[Tokens], const PanelActivations& xa, Int (&sums)[kSums][Tokens]) {
    for (int t = 0; t < Tokens; ++t) sums[0][t] = PanelIsa::splat(xa.sums[at[t]]);
  }
  template <int Tokens, class Plan>
  static void add_piece(const Head&, const Piece& piece, int, const Act* const (&x)[Tokens],
                        Int (&sums)[kSums][Tokens]) {
    for (int t = 0; t < Tokens; ++t) sums[0][t] = dot_32<Bits, Plan>(piece.q, x[t]->qs, sums[0][t]);
  }
  template <int Tokens>
  static void finish(const Head& head, const Act* const (&)[Tokens], const int64_t (&at)[Tokens],
                     const PanelActivations& xa, const Int (&sums)[kSums][Tokens], PanelIsa::Float (&acc)[Tokens]) {
    for (int t = 0; t < Tokens; ++t) {
      acc[t] = PanelIsa::fma(PanelIsa::to_float(sums[0][t]), PanelIsa::mul(head.d, PanelIsa::splat(xa.scales[at[t]])),
                             acc[t]);
    }
  }
};

// Pairs of 16-value activation sums (Q8_K's bsums 2i and 2i + 1) as one
// int32, to broadcast against pairs of 16-bit weight factors.
inline int32_t bsum_pair(const BlockQ8_K& x, int i) {
  int32_t v;
  std::memcpy(&v, x.bsums + 2 * i, 4);
  return v;
}

// The sum of pairs[i] . bsum pair i over the eight pairs of a super-block,
// in two chains. A super-block's work nearly fills the out-of-order window
// and this sum comes last in it, so its latency holds back the next block:
// against one chain of eight steps, alternating runs on Zen 5 gave Q6_K
// prefill 145 -> 264 GOP/s, Q5_K prefill x1.14, L2-resident decode Q6_K
// x1.21 and AVX2 Q4_K/Q6_K x1.05 (AVX-512 Q4_K within noise).
inline Int bsum_products(const Int (&pairs)[8], const BlockQ8_K& x) {
  Int chain[2] = {PanelIsa::splat(0), PanelIsa::splat(0)};
  for (int i = 0; i < 8; ++i) {
#if ULLM_X86_VNNI
    chain[i % 2] = PanelIsa::dpwssd(chain[i % 2], pairs[i], PanelIsa::splat(bsum_pair(x, i)));
#else
    chain[i % 2] = PanelIsa::add_32(chain[i % 2], _mm256_madd_epi16(pairs[i], PanelIsa::splat(bsum_pair(x, i))));
#endif
  }
  return PanelIsa::add_32(chain[0], chain[1]);
}

// Byte k (0-3) of each lane as an unsigned int32, or as a pair of 16-bit
// halves (k, k).
inline Int unsigned_byte(Int v, int k) {
  return lane_bytes(v, {k, -1, -1, -1});
}
inline Int unsigned_byte_pair(Int v, int k) {
  return lane_bytes(v, {k, -1, k, -1});
}
// Signed bytes k and k + 1 as a pair of 16-bit halves, each times 256 (the
// byte in the high half carries its sign).
inline Int signed_byte_pair_times_256(Int v, int k) {
  return lane_bytes(v, {-1, k, -1, k + 1});
}

// Scale byte k of each row's lane as a sub-block scale: one int32 (AVX-512,
// multiplied with mullo) or a 16-bit pair (256-bit panels, multiplied into
// maddubs' pair sums by madd). Signed: the byte moved to the top, shifted
// back down. (The avxvnni target keeps the pairs: its VNNI sums multiplied
// with mullo made Q5_K and Q6_K prefill 15-25 % slower on Zen 5.)
inline Int unsigned_scale(Int v, int k) {
#ifdef __AVX512F__
  return unsigned_byte(v, k);
#else
  return unsigned_byte_pair(v, k);
#endif
}
inline Int signed_scale(Int v, int k) {
#ifdef __AVX512F__
  return PanelIsa::shift_right_signed(lane_bytes(v, {-1, -1, -1, k}), 24);
#else
  return _mm256_srai_epi16(lane_bytes(v, {-1, k, -1, k}), 8);
#endif
}

// sum += scale * (the dot product of `Groups` groups of packed values with
// x), per lane. Q6_K's sub-blocks of 16 values (four groups) keep one
// chain: four chains of one step each, added up, cost more than they hide
// (Q6_K prefill 164-179 -> 290-330 GOP/s on Zen 5, 0.17 -> 0.31 of the peak).
template <int Bits, class Plan, int Groups>
inline Int add_scaled_dot(Int sum, const Int (&q)[Groups], const int8_t* x, Int scale) {
#ifdef __AVX512F__
  return PanelIsa::add_32(
      sum, PanelIsa::mul_32(
               dot_groups<std::conditional_t<(Groups >= 8), Plan, OneChain<Plan>>, Groups>(q, x, PanelIsa::splat(0)),
               scale));
#else
  return add_pair_sums<Bits>(sum, q, x, scale);
#endif
}

// Q4_K and Q5_K: per super-block, the integer sums of the eight sub-blocks
// times their scales, and the minimums times the sub-block sums of x, each
// converted once and scaled. Q5_K adds bit j of qh[l] as bit 4 of value l of
// sub-block j. Piece c: sub-blocks 2c (low nibbles) and 2c + 1 (high), from
// qs bytes 32c.. (values 0-15 of each from the first 16, 16-31 from the
// rest). With AVX2, Q5_K's pieces are those halves (piece 4 half + c), so
// that only the current half's qh bytes are carried: sixteen registers held
// neither a whole piece beside both halves' qh bytes nor eight unpacked
// scales and minimums (they stay bytes until used), and GCC sent a third of
// a block's vectors to the stack and back. A repacked Q5_K panel stores
// the values in FiveBitCode. Q4_K with AVX-512 sums sixteenfold: the high
// nibbles masked in place (16 times their values) and the low sub-blocks'
// scales taken 16 times, so the integer sum is 16 times the exact one
// (below 2^29) and is shifted back once per token: the same integers, a
// shift fewer per vector of nibbles. (Taking d a sixteenth instead, once
// for all tokens, is not exact: its product with a tiny activation scale can
// round below float's normal range.)
template <bool FifthBit>
struct PanelQ4Or5K : SumsFromZero {
  using Block = std::conditional_t<FifthBit, BlockQ5_K, BlockQ4_K>;
  using Act = BlockQ8_K;
  static constexpr int kBits = FifthBit ? 5 : 4;
  static constexpr int kValues = kQK_K;
  static constexpr int32_t kSumFactor = 0;
  static constexpr int kHalvesPerPiece = FifthBit && kPanelRows == 8 ? 1 : 2;
#ifdef __AVX512F__
  static constexpr bool kSixteenfold = !FifthBit;
#else
  static constexpr bool kSixteenfold = false;
#endif
  static constexpr int kPieces = 4 * 2 / kHalvesPerPiece;
  static constexpr int kSums = 1;
  struct QhChunks {
    Int high[kHalvesPerPiece][4];  // qh bytes 16 half.. of a piece's halves, read with sub-blocks 0 and 1
  };
  using Carry = std::conditional_t<FifthBit, QhChunks, NoCarry>;
  struct Head {
    Int scale_bytes[2];  // sc of sub-blocks 0-3 and 4-7, one byte each
    Int min_bytes[2];    // m, likewise
    PanelIsa::Float d, dmin;
  };
  struct Piece {
    Int q[2][4 * kHalvesPerPiece];  // sub-block 2c + s, group
  };
  static int sub_block_pair(int piece) {
    return piece % 4;
  }
  static int first_half(int piece) {
    return piece / 4;
  }
  template <class Source>
  static void read_head(const Source& src, int64_t b, Carry&, Head& head) {
    // Bytes 0-15 of every row: d and dmin, then the 12 scale bytes; see
    // k_scale_min: sub-blocks 0-3 in the low six bits of scale bytes 0-3
    // (sc) and 4-7 (m), sub-blocks 4-7 in bytes 8-11 plus those bytes' top
    // two bits.
    static_assert(offsetof(Block, dmin) == 2 && offsetof(Block, scales) == 4);
    Int raw[4];
    src.template chunk<Block>(b, 0, raw);
    head.d = halves_to_float(raw[0], false);
    head.dmin = halves_to_float(raw[0], true);
    const Int(&u)[3] = reinterpret_cast<const Int(&)[3]>(raw[1]);
    const Int low6 = PanelIsa::bytes(0x3f), low4 = PanelIsa::bytes(0x0f), top2 = PanelIsa::bytes(0x30);
    head.scale_bytes[0] = PanelIsa::and_(u[0], low6);
    head.scale_bytes[1] =
        PanelIsa::or_(PanelIsa::and_(u[2], low4), PanelIsa::and_(PanelIsa::shift_right(u[0], 2), top2));
    head.min_bytes[0] = PanelIsa::and_(u[1], low6);
    head.min_bytes[1] = PanelIsa::or_(PanelIsa::and_(PanelIsa::shift_right(u[2], 4), low4),
                                      PanelIsa::and_(PanelIsa::shift_right(u[1], 2), top2));
  }
  template <class Source>
  static void read_piece(const Source& src, int64_t b, int i, Carry& carry, Piece& piece) {
    const auto read = [&](const auto& source, Int(&q)[2][4 * kHalvesPerPiece]) {
      const int c = sub_block_pair(i);
      for (int k = 0; k < kHalvesPerPiece; ++k) {
        const int half = first_half(i) + k;
        Int u[4];
        source.template chunk<Block>(b, offsetof(Block, qs) + 32 * c + 16 * half, u);
        if constexpr (FifthBit) {
          if (c == 0) source.template chunk<Block>(b, offsetof(Block, qh) + 16 * half, carry.high[k]);
        }
        for (int g = 0; g < 4; ++g) {
          Int& low = q[0][4 * k + g];
          Int& upper = q[1][4 * k + g];
          low = PanelIsa::low_nibbles(u[g]);
          upper = kSixteenfold ? PanelIsa::high_nibbles_times_16(u[g]) : PanelIsa::high_nibbles(u[g]);
          if constexpr (FifthBit) {
            low = PanelIsa::or_(low, take_bits(carry.high[k][g], 2 * c, 4, 0x10));
            upper = PanelIsa::or_(upper, take_bits(carry.high[k][g], 2 * c + 1, 4, 0x10));
          }
        }
      }
    };
    if constexpr (FifthBit) {
      src.template recoded<FiveBitCode>(piece.q, read);
    } else {
      read(src, piece.q);
    }
  }
  template <int Tokens, class Plan>
  static void add_piece(const Head& head, const Piece& piece, int i, const Act* const (&x)[Tokens],
                        Int (&sums)[kSums][Tokens]) {
    for (int s = 0; s < 2; ++s) {
      const int j = 2 * sub_block_pair(i) + s;
      Int scale = unsigned_scale(head.scale_bytes[j / 4], j % 4);
      if (kSixteenfold && s == 0) scale = PanelIsa::shift_left(scale, 4);
      for (int t = 0; t < Tokens; ++t) {
        const int8_t* xj = x[t]->qs + 32 * j + 16 * first_half(i);
        sums[0][t] = add_scaled_dot<kBits, Plan>(sums[0][t], piece.q[s], xj, scale);
      }
    }
  }
  template <int Tokens>
  static void finish(const Head& head, const Act* const (&x)[Tokens], const int64_t (&)[Tokens],
                     const PanelActivations&, const Int (&sums)[kSums][Tokens], PanelIsa::Float (&acc)[Tokens]) {
    Int min_pairs[8];  // (m, m) of sub-block i against bsums 2i, 2i + 1
    for (int j = 0; j < 8; ++j) min_pairs[j] = unsigned_byte_pair(head.min_bytes[j / 4], j % 4);
    for (int t = 0; t < Tokens; ++t) {
      const Int mins = bsum_products(min_pairs, *x[t]);
      const PanelIsa::Float xd = PanelIsa::splat(x[t]->d);
      const Int sum = kSixteenfold ? PanelIsa::shift_right_signed(sums[0][t], 4) : sums[0][t];
      acc[t] = PanelIsa::fma(PanelIsa::to_float(sum), PanelIsa::mul(head.d, xd), acc[t]);
      acc[t] = PanelIsa::fnma(PanelIsa::to_float(mins), PanelIsa::mul(head.dmin, xd), acc[t]);
    }
  }
};

// Q6_K: 6-bit values q standing for q - 32, sixteen sub-blocks of 16 with
// signed 8-bit scales. Per super-block one integer sum,
// sum_j sc_j (q.x over j - 32 bsum_j), converted once and scaled. Half h
// (128 values) holds four quarters of 32: quarter p's low four bits are
// nibbles of ql's 32-byte run p % 2 (low nibbles for p < 2), its top two
// bits are bits 2p of qh's 32 bytes. Piece 4h + 2s + run reads 16 bytes of
// each: qh bytes 16s.. (kept for the next piece) and ql run `run` bytes
// 16s..; its values are sub-blocks 8h + 2p + s of quarters p = run and
// run + 2. (Pieces of eight vectors: with sixteen, and the qh bytes of both
// chunks carried, GCC spilled a third of a block's vectors to the stack.) A
// repacked panel stores each piece's values in SixBitCode.
struct PanelQ6_K : SumsFromZero {
  using Block = BlockQ6_K;
  using Act = BlockQ8_K;
  static constexpr int kValues = kQK_K;
  static constexpr int32_t kSumFactor = 0;
  static constexpr int kPieces = 8;
  static constexpr int kSums = 1;
  struct Carry {
    Int top[4];  // the piece's 16 qh bytes of every row
  };
  // The scales stay bytes until used: unpacked here, the 24 vectors of
  // scales went to the stack and back.
  struct Head {
    Int scales[4];  // the 16 signed scale bytes of every row
    PanelIsa::Float d;
  };
  struct Piece {
    Int q[2][4];  // quarters run and run + 2; group
  };
  static int sub_block(int piece, int k) {
    const int h = piece / 4, s = piece / 2 % 2, run = piece % 2;
    return 8 * h + 2 * (run + 2 * k) + s;
  }
  template <class Source>
  static void read_head(const Source& src, int64_t b, Carry&, Head& head) {
    src.template chunk<Block>(b, offsetof(Block, scales), head.scales);
    // d ends the block: the dword ending with it, high half (no read past the block).
    static_assert(offsetof(Block, d) + 2 == sizeof(Block));
    head.d = src.template halves<Block>(b, offsetof(Block, d) - 2, true);
  }
  template <class Source>
  static void read_piece(const Source& src, int64_t b, int i, Carry& carry, Piece& piece) {
    const auto read = [&](const RowSource& rows, Int(&q)[2][4]) {
      const int h = i / 4, s = i / 2 % 2, run = i % 2;
      if (run == 0) rows.chunk<Block>(b, offsetof(Block, qh) + 32 * h + 16 * s, carry.top);
      Int low[4];
      rows.chunk<Block>(b, offsetof(Block, ql) + 64 * h + 32 * run + 16 * s, low);
      for (int g = 0; g < 4; ++g) {
        for (int k = 0; k < 2; ++k) {
          const int quarter = run + 2 * k;
          const Int nib = k == 0 ? PanelIsa::low_nibbles(low[g]) : PanelIsa::high_nibbles(low[g]);
          q[k][g] = PanelIsa::or_(nib, take_bits(carry.top[g], 2 * quarter, 4, 0x30));
        }
      }
    };
    src.template recoded<SixBitCode>(piece.q, read);
  }
  template <int Tokens, class Plan>
  static void add_piece(const Head& head, const Piece& piece, int i, const Act* const (&x)[Tokens],
                        Int (&sums)[kSums][Tokens]) {
    for (int k = 0; k < 2; ++k) {
      const int j = sub_block(i, k);
      const Int scale = signed_scale(head.scales[j / 4], j % 4);
      for (int t = 0; t < Tokens; ++t) {
        sums[0][t] = add_scaled_dot<6, Plan>(sums[0][t], piece.q[k], x[t]->qs + 16 * j, scale);
      }
    }
  }
  template <int Tokens>
  static void finish(const Head& head, const Act* const (&x)[Tokens], const int64_t (&)[Tokens],
                     const PanelActivations&, const Int (&sums)[kSums][Tokens], PanelIsa::Float (&acc)[Tokens]) {
    Int scale_pairs[8];  // 256 (sc, sc') of sub-blocks 2i, 2i + 1
    for (int i = 0; i < 8; ++i) scale_pairs[i] = signed_byte_pair_times_256(head.scales[i / 2], 2 * (i % 2));
    for (int t = 0; t < Tokens; ++t) {
      // 256 sum_j sc_j bsum_j, exact in int32 (|256 sc| <= 2^15, |bsum| <= 2^11);
      // the offsets are -32 times that sum, so a shift by 3 divides exactly.
      const Int offsets = bsum_products(scale_pairs, *x[t]);
      const Int sum = PanelIsa::sub(sums[0][t], PanelIsa::shift_right_signed(offsets, 3));
      acc[t] = PanelIsa::fma(PanelIsa::to_float(sum), PanelIsa::mul(head.d, PanelIsa::splat(x[t]->d)), acc[t]);
    }
  }
};

// A whole block of a panel unpacked: what the many-token passes reuse.
template <class Format>
struct Packed {
  typename Format::Head head;
  typename Format::Piece pieces[Format::kPieces];
};

template <class Format, class Source>
void pack(const Source& src, int64_t b, Packed<Format>& p) {
  typename Format::Carry carry{};  // (zeroed: GCC cannot tell every part is read before use)
  Format::read_head(src, b, carry, p.head);
  for (int i = 0; i < Format::kPieces; ++i) Format::read_piece(src, b, i, carry, p.pieces[i]);
}

// Adds one block's products with a few tokens' activation blocks x (at:
// their indices in xa's scales and sums) to their accumulators, the block's
// pieces from piece_at(i). A format of one piece finishes each token before
// the next, so one token's sums are live at a time (all eight tokens' sums
// held across the piece had cost Q4_0 prefill 5-8 %); formats of several
// pieces add piece by piece for every token.
template <class Format, int Tokens, class PieceAt>
__attribute__((always_inline)) inline void add_block(const typename Format::Head& head, const PieceAt& piece_at,
                                                     const typename Format::Act* const (&x)[Tokens],
                                                     const int64_t (&at)[Tokens], const PanelActivations& xa,
                                                     PanelIsa::Float (&acc)[Tokens]) {
  using Plan = DotPlanFor<Tokens>;
  if constexpr (Format::kPieces == 1) {
    const typename Format::Piece& piece = piece_at(0);
    for (int t = 0; t < Tokens; ++t) {
      Int sums[Format::kSums][1];
      const typename Format::Act* const x_t[1] = {x[t]};
      const int64_t at_t[1] = {at[t]};
      PanelIsa::Float acc_t[1] = {acc[t]};
      Format::template start<1>(at_t, xa, sums);
      Format::template add_piece<1, Plan>(head, piece, 0, x_t, sums);
      Format::template finish<1>(head, x_t, at_t, xa, sums, acc_t);
      acc[t] = acc_t[0];
    }
  } else {
    Int sums[Format::kSums][Tokens];
    Format::template start<Tokens>(at, xa, sums);
#pragma GCC unroll 8
    for (int i = 0; i < Format::kPieces; ++i) {
      Format::template add_piece<Tokens, Plan>(head, piece_at(i), i, x, sums);
    }
    Format::template finish<Tokens>(head, x, at, xa, sums, acc);
  }
}

// A packed block's products.
template <class Format, int Tokens>
void accumulate(const Packed<Format>& p, const typename Format::Act* const (&x)[Tokens], const int64_t (&at)[Tokens],
                const PanelActivations& xa, PanelIsa::Float (&acc)[Tokens]) {
  add_block<Format, Tokens>(
      p.head, [&](int i) -> const typename Format::Piece& { return p.pieces[i]; }, x, at, xa, acc);
}

// The same, reading the block piece by piece from `src` as it goes. Inlined
// into the loop over blocks, so the stream pointer stays in a register.
template <class Format, int Tokens, class Source>
__attribute__((always_inline)) inline void read_and_accumulate(const Source& src, int64_t b,
                                                               const typename Format::Act* const (&x)[Tokens],
                                                               const int64_t (&at)[Tokens], const PanelActivations& xa,
                                                               PanelIsa::Float (&acc)[Tokens]) {
  typename Format::Carry carry{};  // (zeroed: GCC cannot tell every part is read before use)
  typename Format::Head head;
  Format::read_head(src, b, carry, head);
  const auto piece_at = [&](int i) {
    typename Format::Piece piece;
    Format::read_piece(src, b, i, carry, piece);
    return piece;
  };
  add_block<Format, Tokens>(head, piece_at, x, at, xa, acc);
}

// A panel's blocks repacked at a time: 2048 values a row, 36-40 KiB of stack
// for 16 rows (L1-sized, and a stack buffer needs no allocation per call).
inline constexpr int kPanelChunkValues = 2048;

// `Tokens` tokens from `first_token` through the packed blocks [first,
// first + count), their sums continuing from out (or from zero if `start`).
template <class Format, int Tokens>
void panel_pass(const Packed<Format>* packed, int64_t first, int count, const PanelActivations& x, int64_t first_token,
                int64_t blocks_per_row, bool start, float* out, int64_t out_stride) {
  using Act = typename Format::Act;
  PanelIsa::Float acc[Tokens];
  const Act* rows[Tokens];
  for (int t = 0; t < Tokens; ++t) {
    acc[t] = start ? PanelIsa::zero() : PanelIsa::load(out + (first_token + t) * out_stride);
    rows[t] = reinterpret_cast<const Act*>(x.rows + static_cast<size_t>(first_token + t) * x.stride);
  }
  for (int j = 0; j < count; ++j) {
    const int64_t b = first + j;
    const Act* xb[Tokens];
    int64_t at[Tokens];
    for (int t = 0; t < Tokens; ++t) {
      xb[t] = rows[t] + b;
      at[t] = (first_token + t) * blocks_per_row + b;
    }
    accumulate<Format, Tokens>(packed[j], xb, at, x, acc);
  }
  for (int t = 0; t < Tokens; ++t) PanelIsa::store(out + (first_token + t) * out_stride, acc[t]);
}

// Runs pass.operator()<Tokens>(first_token) over every token: passes of
// MaxTokens (a power of two, at most 8), then the last few in passes of
// halving size.
template <int MaxTokens = PanelIsa::kTokens, class Pass>
void token_passes(int64_t tokens, const Pass& pass) {
  static_assert(MaxTokens == 8 || MaxTokens == 4 || MaxTokens == 2 || MaxTokens == 1);
  int64_t t = 0;
  for (; t + MaxTokens <= tokens; t += MaxTokens) pass.template operator()<MaxTokens>(t);
  for (int size = MaxTokens / 2; size >= 1; size /= 2) {
    if (tokens - t < size) continue;
    if (size == 4) pass.template operator()<4>(t);
    if (size == 2) pass.template operator()<2>(t);
    if (size == 1) pass.template operator()<1>(t);
    t += size;
  }
}

// Panels of rows, each packed a chunk at a time into a stack buffer that
// every token reuses; source_at(r0, first) reads the panel at row r0 from
// block `first` on.
template <class Format, class SourceAt>
void chunked_gemm(int64_t n, int64_t rows, const PanelActivations& x, float* out, int64_t out_stride,
                  const SourceAt& source_at) {
  constexpr int kChunk = kPanelChunkValues / Format::kValues;
  const int64_t blocks = n / Format::kValues;
  Packed<Format> packed[kChunk];
  for (int64_t r0 = 0; r0 + kPanelRows <= rows; r0 += kPanelRows) {
    for (int64_t first = 0; first < blocks; first += kChunk) {
      const int count = static_cast<int>(std::min<int64_t>(kChunk, blocks - first));
      const auto source = source_at(r0, first);
      for (int j = 0; j < count; ++j) {
        source.template prefetch_next_panel<typename Format::Block>(first + j);
        pack(source, first + j, packed[j]);
      }
      token_passes(x.tokens, [&]<int Tokens>(int64_t t) {
        panel_pass<Format, Tokens>(packed, first, count, x, t, blocks, first == 0, out + r0, out_stride);
      });
    }
  }
}

template <class Format>
void panel_gemm(int64_t n, const std::byte* w, size_t w_stride, int64_t rows, const PanelActivations& x, float* out,
                int64_t out_stride) {
  chunked_gemm<Format>(n, rows, x, out, out_stride, [&](int64_t r0, int64_t) {
    return RowSource{w + static_cast<size_t>(r0) * w_stride, w_stride, r0 + 2 * kPanelRows <= rows};
  });
}

// Weights repacked once at load: each panel's pack() reads recorded block
// by block, in order — one sequential stream per panel holding exactly the
// vectors pack() reads (the transposed chunks and gathered words, or the
// values they give in a code of as many bits), so pack() replays them with
// no transposing. Every format reads each byte of its blocks once (scales
// as packed halves), so a repacked panel has the rows' own size.
template <class Format>
struct Repacked {
  static size_t panel_bytes(int64_t blocks) {
    return static_cast<size_t>(blocks) * kPanelRows * sizeof(typename Format::Block);
  }
  static void repack(int64_t n, const std::byte* w, size_t w_stride, int64_t rows, std::byte* out) {
    const int64_t blocks = n / Format::kValues;
    for (int64_t r0 = 0; r0 + kPanelRows <= rows; r0 += kPanelRows) {
      const RecordingSource src{{w + static_cast<size_t>(r0) * w_stride, w_stride},
                                out + static_cast<size_t>(r0 / kPanelRows) * panel_bytes(blocks)};
      Packed<Format> scratch;
      for (int64_t b = 0; b < blocks; ++b) pack(src, b, scratch);
      assert(src.out == out + static_cast<size_t>(r0 / kPanelRows + 1) * panel_bytes(blocks));
    }
  }
};

// `Tokens` tokens from `first_token` through one repacked panel.
template <class Format, int Tokens>
void repacked_pass(const std::byte* panel, int64_t blocks, const PanelActivations& x, int64_t first_token, float* out,
                   int64_t out_stride) {
  using Act = typename Format::Act;
  PanelIsa::Float acc[Tokens];
  const Act* rows[Tokens];
  for (int t = 0; t < Tokens; ++t) {
    acc[t] = PanelIsa::zero();
    rows[t] = reinterpret_cast<const Act*>(x.rows + static_cast<size_t>(first_token + t) * x.stride);
  }
  const RepackedSource<kStreamAheadBytesFor<Format>> src{panel};
  for (int64_t b = 0; b < blocks; ++b) {
    const Act* xb[Tokens];
    int64_t at[Tokens];
    for (int t = 0; t < Tokens; ++t) {
      xb[t] = rows[t] + b;
      at[t] = (first_token + t) * blocks + b;
    }
    read_and_accumulate<Format, Tokens>(src, b, xb, at, x, acc);
  }
  for (int t = 0; t < Tokens; ++t) PanelIsa::store(out + (first_token + t) * out_stride, acc[t]);
}

// Few tokens (decode): each pass replays the panel and unpacks as it goes.
// More: a chunk is unpacked once for all of them, as panel_gemm does.
template <class Format>
void repacked_gemm(int64_t n, const std::byte* w, size_t, int64_t rows, const PanelActivations& x, float* out,
                   int64_t out_stride) {
  const int64_t blocks = n / Format::kValues;
  const auto panel = [&](int64_t r0) {
    return w + static_cast<size_t>(r0 / kPanelRows) * Repacked<Format>::panel_bytes(blocks);
  };
  if (x.tokens > PanelIsa::kTokens) {
    return chunked_gemm<Format>(n, rows, x, out, out_stride, [&](int64_t r0, int64_t first) {
      return RepackedSource<kStreamAheadBytesFor<Format>>{panel(r0) + Repacked<Format>::panel_bytes(first)};
    });
  }
  for (int64_t r0 = 0; r0 + kPanelRows <= rows; r0 += kPanelRows) {
    token_passes(x.tokens, [&]<int Tokens>(int64_t t) {
      repacked_pass<Format, Tokens>(panel(r0), blocks, x, t, out + r0, out_stride);
    });
  }
}

template <class Format>
constexpr PanelKernel panel_kernel() {
  return {.rows = kPanelRows,
          .sum_factor = Format::kSumFactor,
          .fn = panel_gemm<Format>,
          .repack = Repacked<Format>::repack,
          .repacked = repacked_gemm<Format>};
}

}  // namespace
}  // namespace ullm::kernels::simd
