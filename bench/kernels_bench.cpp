// Kernel benchmarks with bytes/s and ops/s counters, next to two baselines
// measured by the same binary in the same run: the memory read bandwidth and
// the peak 8-bit dot-product throughput. Every figure then reads as a
// fraction of what this machine can do.
//   ./build/bench/ullm_kernel_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/kernel_table.hpp"
#include "kernels/matmul.hpp"
#include "runtime/thread_pool.hpp"

namespace {

using ullm::DType;

// Reads 256 MiB per thread (far beyond the caches) with 256-bit loads.
__attribute__((target("avx2"))) uint64_t read_buffer(const std::vector<uint64_t>& buffer) {
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  const auto* p = reinterpret_cast<const __m256i*>(buffer.data());
  const size_t n = buffer.size() / 4;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_add_epi64(acc[j], _mm256_load_si256(p + i + j));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(acc[0], acc[1]), _mm256_add_epi64(acc[2], acc[3]));
  return static_cast<uint64_t>(_mm256_extract_epi64(s, 0) + _mm256_extract_epi64(s, 3));
}

void BM_MemoryRead(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx2")) {
    state.SkipWithError("needs AVX2");
    return;
  }
  const size_t bytes = size_t{256} << 20;
  std::vector<uint64_t> buffer(bytes / sizeof(uint64_t), 1);  // 32-byte aligned by the allocator in practice
  for (auto _ : state) benchmark::DoNotOptimize(read_buffer(buffer));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_MemoryRead)->Unit(benchmark::kMillisecond)->UseRealTime()->Threads(1)->Threads(2);

// Peak 8-bit multiply-accumulate throughput: 8 independent maddubs+madd
// chains on registers (2 ops per multiply-add, 32 per instruction pair).
__attribute__((target("avx2"))) void peak_int8(benchmark::State& state) {
  __m256i acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = _mm256_set1_epi32(i);
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
  constexpr int kSteps = 1 << 16;
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s) {
      for (int i = 0; i < 8; ++i)
        acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
      __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]));
    }
  }
  benchmark::DoNotOptimize(acc);
  state.counters["ops/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kSteps * 8 * 32 * 2, benchmark::Counter::kIsRate);
}

void BM_PeakInt8Dot(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx2")) {
    state.SkipWithError("needs AVX2");
    return;
  }
  peak_int8(state);
}
BENCHMARK(BM_PeakInt8Dot)->UseRealTime()->Threads(1)->Threads(2);

// The same with AVX-512 VNNI: 8 independent vpdpbusd chains on 512-bit
// registers (64 multiply-adds per instruction), where the CPU has it.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void peak_int8_vnni512(benchmark::State& state) {
  __m512i acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  constexpr int kSteps = 1 << 16;
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s) {
      for (int i = 0; i < 8; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
      __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]));
    }
  }
  benchmark::DoNotOptimize(acc);
  state.counters["ops/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kSteps * 8 * 64 * 2, benchmark::Counter::kIsRate);
}

void BM_PeakInt8DotVnni512(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512bw")) {
    state.SkipWithError("needs AVX-512 VNNI");
    return;
  }
  peak_int8_vnni512(state);
}
BENCHMARK(BM_PeakInt8DotVnni512)->UseRealTime()->Threads(1)->Threads(2);

// Matrix x vector (one token) on `threads` threads with weights of each type,
// through the kernels of `target`: bytes/s of weights read and ops/s.
void BM_MatVec(benchmark::State& state, DType type, const char* target) {
  const ullm::kernels::KernelTable* table = nullptr;
  try {
    table = &ullm::kernels::select_kernel_table(target);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const int64_t rows = state.range(0), k = state.range(1);
  const int threads = static_cast<int>(state.range(2));
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
  ullm::ThreadPool pool(threads);
  // Split as the forward pass splits its matmuls.
  const int64_t chunk = ullm::kernels::matmul_rows_per_task(rows, threads);
  for (auto _ : state) {
    act.prepare(*table, type, x.data(), 1, k);
    const auto task = [&](int64_t i, int) {
      ullm::kernels::matmul_rows(*table, view, act, y.data(), i * chunk, std::min(rows, (i + 1) * chunk));
    };
    pool.run((rows + chunk - 1) / chunk, task);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.size()));
  state.counters["ops/s"] = benchmark::Counter(
      static_cast<double>(2 * rows * k) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// {rows, k, threads}: an L2-sized matrix and one far larger than L3 (32 MiB here).
#define ULLM_MATVEC(type, target)                                     \
  BENCHMARK_CAPTURE(BM_MatVec, type##_##target, DType::type, #target) \
      ->Args({256, 2048, 1})                                          \
      ->Args({16384, 4096, 1})                                        \
      ->Args({16384, 4096, 2})                                        \
      ->UseRealTime()                                                 \
      ->Unit(benchmark::kMicrosecond)

ULLM_MATVEC(Q8_0, avx2);
ULLM_MATVEC(Q4_0, avx2);
ULLM_MATVEC(Q4_1, avx2);
ULLM_MATVEC(Q5_0, avx2);
ULLM_MATVEC(Q5_1, avx2);
ULLM_MATVEC(Q4_K, avx2);
ULLM_MATVEC(Q5_K, avx2);
ULLM_MATVEC(Q6_K, avx2);
ULLM_MATVEC(F16, avx2);
ULLM_MATVEC(F32, avx2);
ULLM_MATVEC(Q8_0, avx512);
ULLM_MATVEC(Q4_0, avx512);
ULLM_MATVEC(Q4_K, avx512);
ULLM_MATVEC(Q8_0, sse4);
ULLM_MATVEC(Q4_0, sse4);
ULLM_MATVEC(Q8_0, scalar);
ULLM_MATVEC(Q4_0, scalar);
ULLM_MATVEC(Q4_K, scalar);

}  // namespace

BENCHMARK_MAIN();
