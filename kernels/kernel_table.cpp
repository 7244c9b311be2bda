#include "kernels/kernel_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>
#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

#include "kernels/activation.hpp"
#include "kernels/attention.hpp"
#include "kernels/matmul.hpp"
#include "kernels/norm.hpp"
#include "kernels/quantize.hpp"
#include "kernels/simd/target_ops.hpp"
#include "ullm/error.hpp"

namespace ullm::kernels {

const TypeKernels* KernelTable::find(DType type) const {
  for (size_t i = 0; i < kComputeTypes.size(); ++i) {
    if (kComputeTypes[i] == type) return &types[i];
  }
  return nullptr;
}

TypeKernels* KernelTable::find(DType type) {
  return const_cast<TypeKernels*>(std::as_const(*this).find(type));
}

void KernelTable::to_f16(const float* src, uint16_t* dst, int64_t n) const {
  find(DType::F16)->from_float(src, reinterpret_cast<std::byte*>(dst), n);
}

const KernelTable& scalar_kernel_table() {
  static const KernelTable table = [] {
    KernelTable t;
    t.name = "scalar";
    for (size_t i = 0; i < kComputeTypes.size(); ++i) t.types[i] = *type_kernels(kComputeTypes[i]);
    t.half = {accumulate_values_f16, dot_rows_f16};
    t.f32 = {dot_rows_f32, accumulate_rows_f32};
    t.tile = {tile_load_f16, tile_scores_f32, tile_scale_max, tile_exp_sum, tile_accumulate_f32};
    t.q8_0_block_sums = q8_0_block_sums;
    t.rows = {rms_norm, swiglu, rotate_pairs};
    return t;
  }();
  return table;
}

namespace {

// Deterministic test values in [-2, 2).
std::vector<float> test_values(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(seed >> 8) * 0x1p-22f - 2.0f;
  }
  return v;
}

#if defined(__x86_64__) || defined(_M_X64) || defined(__aarch64__)
// What a target's self-check found (run once; empty if it agrees).
template <class Arch>
const std::string& disagreement() {
  static const std::string found = self_check_disagreement(simd::TargetTable{}(Arch{}));
  return found;
}

UnsupportedError self_check_failure(std::string_view target, std::string_view what) {
  return UnsupportedError(fmt::format(
      "kernel target '{}' disagrees with the scalar reference kernels on this CPU (first in: {})", target, what));
}
#endif

}  // namespace

std::string self_check_disagreement(const KernelTable& t) {
  const KernelTable& ref = scalar_kernel_table();
  for (size_t i = 0; i < kComputeTypes.size(); ++i) {
    const DType type = kComputeTypes[i];
    const TypeKernels& r = ref.types[i];
    const TypeKernels& k = t.types[i];
    const TypeKernels& ra = *ref.find(r.activation_type);
    const TypeKernels& ka = *t.find(r.activation_type);
    if (r.dot == nullptr) continue;                        // an activation-only format
    for (int64_t n : {32, 45, 96, 172, 256, 768, 2080}) {  // 45, 172: float rows with partial batches
      if (n % dtype_info(type).block_size != 0 || n % dtype_info(r.activation_type).block_size != 0) continue;
      const auto wf = test_values(static_cast<size_t>(4 * n), static_cast<uint32_t>(n));
      const auto xf = test_values(static_cast<size_t>(4 * n), static_cast<uint32_t>(n) + 7);
      const size_t wrow = row_size(type, n), xrow = row_size(r.activation_type, n);
      std::vector<std::byte> w(4 * wrow), x(4 * xrow), x2(4 * xrow);
      for (int j = 0; j < 4; ++j) {
        r.from_float(wf.data() + j * n, w.data() + j * wrow, n);
        ra.from_float(xf.data() + j * n, x.data() + j * xrow, n);
        ka.from_float(xf.data() + j * n, x2.data() + j * xrow, n);
      }
      const std::string_view name = dtype_info(type).name;
      if (x != x2) return fmt::format("{} activation quantizer", dtype_info(r.activation_type).name);
      std::vector<float> expanded(static_cast<size_t>(n)), expanded2(expanded.size());
      r.to_float(w.data(), expanded.data(), n);
      k.to_float(w.data(), expanded2.data(), n);
      if (expanded != expanded2) return fmt::format("{} expansion to floats", name);
      for (int j = 0; j < 4; ++j) {
        const std::byte* wj = w.data() + j * wrow;
        if (k.dot(n, wj, x.data()) != r.dot(n, wj, x.data()) ||
            k.dot_tiled(n, wj, x.data()) != r.dot_tiled(n, wj, x.data())) {
          return fmt::format("{} dot product of {} values", name, n);
        }
      }
      // The activations widened, as the wide tile kernels read them (where the type has those).
      std::vector<float> wide;
      if (k.dot_tile_wide != nullptr || k.dot_tiled_tile_wide != nullptr) {
        wide.resize(static_cast<size_t>(4 * n));
        for (int j = 0; j < 4; ++j) ra.to_float(x.data() + j * xrow, wide.data() + j * n, n);
      }
      const std::byte* narrow_x = x.data();
      const auto* wide_x = reinterpret_cast<const std::byte*>(wide.data());
      const size_t wide_row = static_cast<size_t>(n) * sizeof(float);
      for (auto [tile, dot, tile_x, tile_xrow] :
           {std::tuple{k.dot_tile, r.dot, narrow_x, xrow}, std::tuple{k.dot_tiled_tile, r.dot_tiled, narrow_x, xrow},
            std::tuple{k.dot_tile_wide, r.dot, wide_x, wide_row},
            std::tuple{k.dot_tiled_tile_wide, r.dot_tiled, wide_x, wide_row}}) {
        if (tile == nullptr) continue;
        for (int tokens = 1; tokens <= kTileTokens; ++tokens) {
          float out[kTileTokens * kTileRows];
          tile(n, w.data(), wrow, tile_x, tile_xrow, tokens, out, kTileRows);
          for (int tk = 0; tk < tokens; ++tk) {
            for (int row = 0; row < kTileRows; ++row) {
              if (out[tk * kTileRows + row] != dot(n, w.data() + row * wrow, x.data() + tk * xrow)) {
                return fmt::format("{} tile of {} tokens x {} values", name, tokens, n);
              }
            }
          }
        }
      }
    }
  }
  // The panel kernels, through whole matmuls: two panels, a few tokens,
  // rows of at least 288 values.
  for (size_t i = 0; i < kComputeTypes.size(); ++i) {
    const TypeKernels& k = t.types[i];
    if (k.panel.fn == nullptr && k.panel.repacked == nullptr) continue;
    const DType type = kComputeTypes[i];
    const int64_t block = dtype_info(type).block_size;
    const int64_t n = std::max<int64_t>(3 * block, 288), rows = 2 * k.panel.rows, tokens = 3;
    const auto wf = test_values(static_cast<size_t>(rows * n), 11);
    const auto xf = test_values(static_cast<size_t>(tokens * n), 12);
    std::vector<std::byte> w(row_size(type, n) * static_cast<size_t>(rows));
    ref.types[i].from_float(wf.data(), w.data(), rows * n);
    const TensorView view{"self-check", type, 2, {n, rows, 1, 1}, w.data(), w.size()};
    PreparedActivations x, rx;
    x.prepare(t, type, xf.data(), tokens, n);
    rx.prepare(ref, type, xf.data(), tokens, n);
    std::vector<float> got(static_cast<size_t>(rows * tokens)), want(got.size());
    matmul(t, view, x, got.data());
    matmul(ref, view, rx, want.data());
    const std::string_view name = dtype_info(type).name;
    if (got != want) return fmt::format("{} panel matmul", name);
    if (k.panel.repack != nullptr) {
      std::vector<std::byte> repacked(w.size());
      repack_weights(t, view, repacked.data(), 0, rows);
      std::fill(got.begin(), got.end(), 0.0f);
      matmul_rows(t, view, x, got.data(), 0, rows, repacked.data());
      if (got != want) return fmt::format("{} repacked matmul", name);
    }
  }
  // Value sums: two heads over five rows of 40 halves, one rescale.
  const auto hf = test_values(280, 3);
  std::vector<uint16_t> h(hf.size());
  ref.find(DType::F16)->from_float(hf.data(), reinterpret_cast<std::byte*>(h.data()), 280);
  const float rescale[2][5] = {{1, 1, 0.5f, 1, 1}, {0.25f, 1, 1, 1, 0.75f}};
  const float weight[2][5] = {{0.3f, 0.9f, 1, 0.2f, 0.6f}, {1, 0.4f, 0.7f, 0.1f, 1}};
  std::vector<uint16_t> a(h.begin(), h.begin() + 80), b = a;
  ref.half.accumulate_values(40, h.data() + 80, 40, 0, 5, 2, &rescale[0][0], &weight[0][0], 5, a.data());
  t.half.accumulate_values(40, h.data() + 80, 40, 0, 5, 2, &rescale[0][0], &weight[0][0], 5, b.data());
  // ... and two heads of 20 with values of their own, side by side in the rows.
  ref.half.accumulate_values(20, h.data() + 80, 40, 20, 5, 2, &rescale[0][0], &weight[0][0], 5, a.data());
  t.half.accumulate_values(20, h.data() + 80, 40, 20, 5, 2, &rescale[0][0], &weight[0][0], 5, b.data());
  // Scores: two heads of 16 and of 80 (vector order plus a tail) over three rows.
  float sa[12], sb[12];
  ref.half.dot_rows(16, h.data(), 16, 3, 2, h.data() + 64, sa, 3);
  t.half.dot_rows(16, h.data(), 16, 3, 2, h.data() + 64, sb, 3);
  ref.half.dot_rows(80, h.data(), 40, 3, 2, h.data() + 100, sa + 6, 3);
  t.half.dot_rows(80, h.data(), 40, 3, 2, h.data() + 100, sb + 6, 3);
  // Tiled attention: a tile of 9 rows of 20 halves loaded, five query rows
  // of 20 against a tile, weights onto value sums of 32.
  std::vector<float> ka(kKvTile * 20), kb(ka.size()), la(kKvTile * 32), lb(la.size());
  ref.tile.load(20, 32, h.data(), h.data() + 20, 25, 9, ka.data(), la.data());
  t.tile.load(20, 32, h.data(), h.data() + 20, 25, 9, kb.data(), lb.data());
  const auto tf = test_values(static_cast<size_t>(kKvTile * 52 + 5 * 52), 5);
  const float* tq = tf.data() + kKvTile * 52;
  std::vector<float> ta(5 * kKvTile), tb(ta.size()), va(tq, tq + 5 * 32), vb = va;
  ref.tile.scores(20, tq, 52, 5, tf.data(), ta.data());
  t.tile.scores(20, tq, 52, 5, tf.data(), tb.data());
  ref.tile.accumulate(32, tf.data(), 5, tf.data() + 5 * kKvTile, va.data());
  t.tile.accumulate(32, tf.data(), 5, tf.data() + 5 * kKvTile, vb.data());
  std::vector<float> ea(tf.begin(), tf.begin() + kKvTile), eb = ea;  // in [-2, 2): scaled by 0.5, below 1
  const bool max_agrees = ref.tile.scale_max(ea.data(), 3, 50, 0.5f) == t.tile.scale_max(eb.data(), 3, 50, 0.5f);
  const bool sum_agrees = ref.tile.exp_sum(ea.data(), 3, 50, 1.0f) == t.tile.exp_sum(eb.data(), 3, 50, 1.0f);
  // Float rows: scores of three rows of 40 (a stride of 45) for five
  // queries, their sums onto 40 values.
  const auto fk = test_values(3 * 45, 10), fq = test_values(5 * 40, 11);
  float fa[15], fb[15];
  ref.f32.dot_rows(40, fk.data(), 45, 3, 5, fq.data(), 40, fa, 3);
  t.f32.dot_rows(40, fk.data(), 45, 3, 5, fq.data(), 40, fb, 3);
  std::vector<float> facc(fq.begin(), fq.begin() + 40), facc2 = facc;
  ref.f32.accumulate(40, fk.data(), 45, 3, fk.data() + 100, facc.data());
  t.f32.accumulate(40, fk.data(), 45, 3, fk.data() + 100, facc2.data());
  if (!std::equal(fa, fa + 15, fb) || facc != facc2) return "F32 attention rows";
  // Row kernels: 45 values (vectors and a tail), SiLU from -40 to 40; ten
  // pairs of two heads of 24, both ways.
  const auto rx = test_values(45, 6), rw = test_values(45, 7), angles = test_values(20, 8);
  std::vector<float> gate(rx);
  for (float& g : gate) g *= 20.0f;
  std::vector<float> ra(45), rb(45), ga(45), gb(45);
  ref.rows.rms_norm(rx.data(), rw.data(), 45, 1e-5f, ra.data());
  t.rows.rms_norm(rx.data(), rw.data(), 45, 1e-5f, rb.data());
  ref.rows.swiglu(gate.data(), rw.data(), 45, ga.data());
  t.rows.swiglu(gate.data(), rw.data(), 45, gb.data());
  for (const RopeStyle style : {RopeStyle::Adjacent, RopeStyle::Neox}) {
    auto pa = test_values(48, 9), pb = pa;
    ref.rows.rotate_pairs(pa.data(), 2, 24, 10, angles.data(), angles.data() + 10, style);
    t.rows.rotate_pairs(pb.data(), 2, 24, 10, angles.data(), angles.data() + 10, style);
    if (pa != pb) return "RoPE rotation";
  }
  for (const auto& [agrees, what] : {std::pair{a == b, "F16 value sums"},
                                     {std::equal(sa, sa + 12, sb), "F16 attention scores"},
                                     {ka == kb && la == lb, "attention tile loads"},
                                     {ta == tb, "attention tile scores"},
                                     {va == vb, "attention tile value sums"},
                                     {max_agrees, "attention tile maximum"},
                                     {sum_agrees && ea == eb, "attention tile exponentials"},
                                     {ra == rb, "RMSNorm"},
                                     {ga == gb, "SwiGLU"}}) {
    if (!agrees) return what;
  }
  return {};
}

#if defined(__x86_64__) || defined(_M_X64)
namespace {

// CPUID directly: clang before 17 has no "f16c" for __builtin_cpu_supports.
bool has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

// xsimd's detection, plus the extensions our target files also rely on.
// AVX-512 without VNNI (Skylake-SP/X) takes the avx2 target: VNNI is what the
// 512-bit target is for, and one set of flags per file keeps it inlinable.
bool runs_avx512() {
  return xsimd::available_architectures().avx512bw && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni") && has_f16c();
}
bool runs_avx2() {
  return xsimd::available_architectures().fma3_avx2 && has_f16c();
}
// AVX-VNNI (CPUID leaf 7, sub-leaf 1, EAX bit 4): xsimd 8.1 does not detect it.
bool runs_avxvnni() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return runs_avx2() && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) != 0 && (eax & (1u << 4)) != 0;
}
bool runs_sse4() {
  return xsimd::available_architectures().sse4_2 && __builtin_cpu_supports("ssse3");
}

// A target's table if the CPU runs it and it passes the self-check.
template <class Arch>
const KernelTable* checked(bool runs) {
  return runs && disagreement<Arch>().empty() ? &simd::TargetTable{}(Arch{}) : nullptr;
}

// The best table for this CPU, through xsimd's dispatcher, stepping down a
// target when the CPU lacks an extension a target file uses; plain SSE2 gets
// the scalar kernels.
struct BestTable {
  template <class Arch>
  const KernelTable& operator()(Arch) const {
    if constexpr (std::is_same_v<Arch, xsimd::avx512bw>) {
      if (const KernelTable* t = checked<Arch>(runs_avx512())) return *t;
      return (*this)(xsimd::fma3<xsimd::avx2>{});
    } else if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>>) {
      // AVX-VNNI has no xsimd arch: tried here, before plain AVX2.
      if (const KernelTable* t = checked<simd::AvxVnni>(runs_avxvnni())) return *t;
      if (const KernelTable* t = checked<Arch>(runs_avx2())) return *t;
      return (*this)(xsimd::sse4_2{});
    } else if constexpr (std::is_same_v<Arch, xsimd::sse4_2>) {
      // No fused multiply-add: agrees with the references to ulps, not bits,
      // so the exact self-check does not apply; the tests cover it.
      if (runs_sse4()) return simd::TargetTable{}(Arch{});
    }
    return scalar_kernel_table();
  }
};

}  // namespace

std::vector<std::string> available_targets() {
  std::vector<std::string> out{"scalar"};
  if (runs_sse4()) out.push_back("sse4");
  if (runs_avx2()) out.push_back("avx2");
  if (runs_avxvnni()) out.push_back("avxvnni");
  if (runs_avx512()) out.push_back("avx512");
  return out;
}

const KernelTable& target_kernel_table(std::string_view target) {
  const auto unavailable = [&]() -> UnsupportedError {
    return UnsupportedError(fmt::format("kernel target '{}' is not supported by this CPU (it runs: {})", target,
                                        fmt::join(available_targets(), ", ")));
  };
  if (target == "scalar") return scalar_kernel_table();
  if (target == "sse4") {
    if (!runs_sse4()) throw unavailable();
    return simd::TargetTable{}(xsimd::sse4_2{});
  }
  if (target == "avx2") {
    if (!runs_avx2()) throw unavailable();
    return simd::TargetTable{}(xsimd::fma3<xsimd::avx2>{});
  }
  if (target == "avxvnni") {
    if (!runs_avxvnni()) throw unavailable();
    return simd::TargetTable{}(simd::AvxVnni{});
  }
  if (target == "avx512") {
    if (!runs_avx512()) throw unavailable();
    return simd::TargetTable{}(xsimd::avx512bw{});
  }
  throw InvalidArgument(fmt::format("unknown kernel target '{}' (known: scalar, sse4, avx2, avxvnni, avx512)", target));
}

namespace {

// The self-check's finding for an available target by name: "" for the
// references themselves, and for sse4 (see BestTable).
const std::string& named_disagreement(std::string_view target) {
  static const std::string none;
  return target == "avx2"      ? disagreement<xsimd::fma3<xsimd::avx2>>()
         : target == "avxvnni" ? disagreement<simd::AvxVnni>()
         : target == "avx512"  ? disagreement<xsimd::avx512bw>()
                               : none;
}

}  // namespace

const KernelTable& select_kernel_table(std::string_view target) {
  if (target.empty()) {
    return xsimd::dispatch<xsimd::arch_list<xsimd::avx512bw, xsimd::fma3<xsimd::avx2>, xsimd::sse4_2, xsimd::sse2>>(
        BestTable{})();
  }
  const KernelTable& table = target_kernel_table(target);
  if (const std::string& found = named_disagreement(target); !found.empty()) throw self_check_failure(target, found);
  return table;
}

#elif defined(__aarch64__)
namespace {

// AArch64 always has NEON; the self-check still guards it.
struct BestTable {
  template <class Arch>
  const KernelTable& operator()(Arch) const {
    if (disagreement<xsimd::neon64>().empty()) return simd::TargetTable{}(xsimd::neon64{});
    return scalar_kernel_table();
  }
};

}  // namespace

std::vector<std::string> available_targets() {
  return {"scalar", "neon"};
}

const KernelTable& target_kernel_table(std::string_view target) {
  if (target == "scalar") return scalar_kernel_table();
  if (target == "neon") return simd::TargetTable{}(xsimd::neon64{});
  throw InvalidArgument(fmt::format("unknown kernel target '{}' (known: scalar, neon)", target));
}

namespace {

const std::string& named_disagreement(std::string_view target) {
  static const std::string none;
  return target == "neon" ? disagreement<xsimd::neon64>() : none;
}

}  // namespace

const KernelTable& select_kernel_table(std::string_view target) {
  if (target.empty()) return xsimd::dispatch<xsimd::arch_list<xsimd::neon64>>(BestTable{})();
  const KernelTable& table = target_kernel_table(target);
  if (const std::string& found = named_disagreement(target); !found.empty()) throw self_check_failure(target, found);
  return table;
}

#else  // targets without SIMD kernels yet run the scalar references

std::vector<std::string> available_targets() {
  return {"scalar"};
}

const KernelTable& target_kernel_table(std::string_view target) {
  if (target == "scalar") return scalar_kernel_table();
  throw UnsupportedError(fmt::format("kernel target '{}' is not available on this machine (it runs: scalar)", target));
}

const KernelTable& select_kernel_table(std::string_view target) {
  return target.empty() ? scalar_kernel_table() : target_kernel_table(target);
}

namespace {

const std::string& named_disagreement(std::string_view) {
  static const std::string none;
  return none;
}

}  // namespace

#endif

std::vector<std::string> refused_targets(std::string_view selected) {
  std::vector<std::string> refused;
  const std::vector<std::string> targets = available_targets();  // best last
  for (auto it = targets.rbegin(); it != targets.rend() && *it != selected; ++it) {
    if (const std::string& found = named_disagreement(*it); !found.empty()) {
      refused.push_back(
          fmt::format("{} disagrees with the scalar reference kernels on this CPU (first in: {})", *it, found));
    }
  }
  return refused;
}

}  // namespace ullm::kernels
