// Kernel benchmarks with bytes/s counters, and a memory-read baseline in the
// same binary so every figure can be read as a fraction of the machine.
//   ./build/bench/ullm_kernel_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/matmul.hpp"
#include "kernels/type_traits.hpp"

namespace {

using ullm::DType;

// Reads a buffer far larger than the caches: the DRAM read bandwidth.
void BM_MemoryRead(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0)) / sizeof(uint64_t);
  std::vector<uint64_t> buffer(n, 1);
  for (auto _ : state) {
    uint64_t s[8] = {};
    for (size_t i = 0; i < n; i += 8) {
      for (int j = 0; j < 8; ++j) s[j] += buffer[i + j];
    }
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_MemoryRead)->Arg(256 << 20)->Unit(benchmark::kMillisecond);

// Matrix x vector (one token) with weights of each type: bytes/s of weights.
void BM_MatVec(benchmark::State& state, DType type) {
  const auto& table = ullm::kernels::select_kernel_table();
  const int64_t rows = state.range(0), k = state.range(1);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  std::vector<float> wf(static_cast<size_t>(rows * k)), x(static_cast<size_t>(k));
  for (auto& v : wf) v = dist(rng);
  for (auto& v : x) v = dist(rng);
  std::vector<std::byte> w(ullm::kernels::row_size(type, rows * k));
  ullm::kernels::type_kernels(type)->from_float(wf.data(), w.data(), rows * k);
  const ullm::TensorView view{"w", type, 2, {k, rows, 1, 1}, w.data(), w.size()};
  std::vector<float> y(static_cast<size_t>(rows));
  ullm::kernels::PreparedActivations act;
  for (auto _ : state) {
    act.prepare(table, type, x.data(), 1, k);
    ullm::kernels::matmul(table, view, act, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.size()));
  state.counters["ops/s"] = benchmark::Counter(
      static_cast<double>(2 * rows * k) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_MatVec, f32, DType::F32)->Args({2048, 2048})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MatVec, f16, DType::F16)->Args({2048, 2048})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MatVec, q8_0, DType::Q8_0)
    ->Args({256, 2048})
    ->Args({2048, 2048})
    ->Args({5632, 2048})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MatVec, q4_0, DType::Q4_0)
    ->Args({256, 2048})
    ->Args({2048, 2048})
    ->Args({5632, 2048})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
