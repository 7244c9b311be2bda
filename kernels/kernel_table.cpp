#include "kernels/kernel_table.hpp"

#include <fmt/format.h>

#include "kernels/attention.hpp"
#include "kernels/simd/target_ops.hpp"
#include "ullm/error.hpp"

namespace ullm::kernels {

const TypeKernels* KernelTable::find(DType type) const {
  for (size_t i = 0; i < kComputeTypes.size(); ++i) {
    if (kComputeTypes[i] == type) return &types[i];
  }
  return nullptr;
}

const KernelTable& scalar_kernel_table() {
  static const KernelTable table = [] {
    KernelTable t;
    t.name = "scalar";
    for (size_t i = 0; i < kComputeTypes.size(); ++i) t.types[i] = *type_kernels(kComputeTypes[i]);
    t.half = {axpy_f16, scale_f16, dot_rows_f16};
    return t;
  }();
  return table;
}

#if defined(__x86_64__) || defined(_M_X64)
namespace {

// xsimd's detection, plus the extensions our target files also rely on.
bool runs_avx512() {
  return xsimd::available_architectures().avx512bw && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("f16c");
}
bool runs_avx2() {
  return xsimd::available_architectures().fma3_avx2 && __builtin_cpu_supports("f16c");
}
bool runs_sse4() {
  return xsimd::available_architectures().sse4_2 && __builtin_cpu_supports("ssse3");
}

// The best table for this CPU, through xsimd's dispatcher; plain SSE2 falls
// back to the scalar kernels.
struct BestTable {
  template <class Arch>
  const KernelTable& operator()(Arch) const {
    if constexpr (std::is_same_v<Arch, xsimd::avx512bw>) {
      if (runs_avx512()) return simd::TargetTable{}(Arch{});
    } else if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>>) {
      if (runs_avx2()) return simd::TargetTable{}(Arch{});
    } else if constexpr (std::is_same_v<Arch, xsimd::sse4_2>) {
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
  if (runs_avx512()) out.push_back("avx512");
  return out;
}

const KernelTable& select_kernel_table(std::string_view target) {
  if (target.empty()) {
    return xsimd::dispatch<xsimd::arch_list<xsimd::avx512bw, xsimd::fma3<xsimd::avx2>, xsimd::sse4_2, xsimd::sse2>>(
        BestTable{})();
  }
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
  if (target == "avx512") {
    if (!runs_avx512()) throw unavailable();
    return simd::TargetTable{}(xsimd::avx512bw{});
  }
  throw InvalidArgument(fmt::format("unknown kernel target '{}' (known: scalar, sse4, avx2, avx512)", target));
}

#else  // targets without SIMD kernels yet run the scalar references

std::vector<std::string> available_targets() {
  return {"scalar"};
}

const KernelTable& select_kernel_table(std::string_view target) {
  if (target.empty() || target == "scalar") return scalar_kernel_table();
  throw UnsupportedError(fmt::format("kernel target '{}' is not available on this machine (it runs: scalar)", target));
}

#endif

}  // namespace ullm::kernels
