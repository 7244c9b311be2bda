// Kernel benchmarks with bytes/s and ops/s counters, next to two baselines
// measured by the same binary in the same run: the memory read bandwidth and
// the peak 8-bit dot-product throughput. Every figure then reads as a
// fraction of what this machine can do.
//   ./build/bench/ullm_kernel_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <new>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/attention.hpp"
#include "kernels/fp16.hpp"
#include "kernels/kernel_table.hpp"
#include "kernels/matmul.hpp"
#include "kernels/rope.hpp"
#include "runtime/huge_pages.hpp"
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

// Reads `bytes` with 512-bit loads, eight sums in flight, each line asked
// for 2 KiB ahead into L1 (as the decode kernels ask for theirs): without,
// a buffer in L2 read at about half the rate on Zen 5 (137 against 262
// GB/s), the hardware prefetchers bringing lines to L1 too late.
__attribute__((target("avx512f"))) int64_t read_buffer_512(const std::byte* p, size_t bytes) {
  constexpr size_t kAhead = 2048;
  __m512i acc[8];
#pragma GCC unroll 8
  for (__m512i& a : acc) a = _mm512_setzero_si512();
  for (size_t i = 0; i + 512 <= bytes; i += 512) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      _mm_prefetch(reinterpret_cast<const char*>(p + i + 64 * j + kAhead), _MM_HINT_T0);
      acc[j] = _mm512_add_epi64(acc[j], _mm512_load_si512(reinterpret_cast<const __m512i*>(p + i + 64 * j)));
    }
  }
#pragma GCC unroll 8
  for (int j = 1; j < 8; ++j) acc[0] = _mm512_add_epi64(acc[0], acc[j]);
  alignas(64) int64_t lanes[8];
  _mm512_store_si512(lanes, acc[0]);
  return lanes[0];
}

// The read bandwidth of a cache level: a buffer of range(0) KiB (512: held
// in a 1 MiB L2) read again and again with 512-bit loads, as the decode
// kernels read panels: the rate at which weights in that cache can reach a
// kernel, whatever its arithmetic.
void BM_CacheRead(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx512f")) {
    state.SkipWithError("needs AVX-512");
    return;
  }
  const size_t bytes = static_cast<size_t>(state.range(0)) << 10;
  const ullm::HugePageBuffer buffer = ullm::huge_page_buffer(bytes);
  std::memset(buffer.get(), 1, bytes);
  for (auto _ : state) {
    benchmark::DoNotOptimize(read_buffer_512(buffer.get(), bytes));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_CacheRead)->Arg(512)->Arg(32)->UseRealTime()->Threads(1);

// Peak 8-bit multiply-accumulate throughput of AVX2: six independent
// chains on registers (2 ops per multiply-add, 32 per maddubs). The empty
// asm makes the inputs opaque each step, so the compiler can neither hoist
// the products out of the loop nor share them between chains, and keeps
// every value in a register.
// - maddubs + madd, ggml's per-lane pattern (which Q4_1 and Q5_1 keep): the baseline
//   of the AVX2 fractions;
// - maddubs + a 16-bit add: the ceiling of the AVX2 panels, which add eight
//   (4-bit values), four (5-bit) or two (6-bit) maddubs results in 16 bits
//   before one madd widens them. On Zen 1 madd shares maddubs' one pipe, so
//   this reads about twice the other, and those panels can pass that one.
template <bool SixteenBitSums>
__attribute__((target("avx2"))) void peak_int8(benchmark::State& state) {
  const __m256i w = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
  const auto step = [&](__m256i acc, __m256i x) __attribute__((target("avx2"))) {
    const __m256i pairs = _mm256_maddubs_epi16(x, w);
    return SixteenBitSums ? _mm256_add_epi16(acc, pairs) : _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
  };
  __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0, acc2 = acc0, acc3 = acc0, acc4 = acc0, acc5 = acc0;
  __m256i x0 = _mm256_set1_epi8(1), x1 = _mm256_set1_epi8(2), x2 = _mm256_set1_epi8(3), x3 = _mm256_set1_epi8(4),
          x4 = _mm256_set1_epi8(5), x5 = _mm256_set1_epi8(6);
  constexpr int kSteps = 1 << 16;
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s) {
      __asm__ volatile("" : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5));
      acc0 = step(acc0, x0);
      acc1 = step(acc1, x1);
      acc2 = step(acc2, x2);
      acc3 = step(acc3, x3);
      acc4 = step(acc4, x4);
      acc5 = step(acc5, x5);
      __asm__ volatile("" : "+x"(acc0), "+x"(acc1), "+x"(acc2), "+x"(acc3), "+x"(acc4), "+x"(acc5));
    }
  }
  benchmark::DoNotOptimize(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(acc0, acc1), acc2),
                                            _mm256_add_epi32(_mm256_add_epi32(acc3, acc4), acc5)));
  state.counters["ops/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kSteps * 6 * 32 * 2, benchmark::Counter::kIsRate);
}

template <bool SixteenBitSums>
void BM_PeakInt8(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx2")) {
    state.SkipWithError("needs AVX2");
    return;
  }
  peak_int8<SixteenBitSums>(state);
}
BENCHMARK(BM_PeakInt8<false>)->Name("BM_PeakInt8Dot")->UseRealTime()->Threads(1)->Threads(2);
BENCHMARK(BM_PeakInt8<true>)->Name("BM_PeakInt8Dot16BitSums")->UseRealTime()->Threads(1)->Threads(2);

// Peak float multiply-add throughput with AVX2 + FMA, the yardstick of the
// float formats' prefill: ten independent vfmadd chains (2 ops per lane).
__attribute__((target("avx2,fma"))) void peak_f32_fma(benchmark::State& state) {
  __m256 a0 = _mm256_set1_ps(0.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
  const __m256 x = _mm256_set1_ps(1.0f), w = _mm256_set1_ps(1e-9f);
  constexpr int kSteps = 1 << 16;
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s) {
      a0 = _mm256_fmadd_ps(x, w, a0);
      a1 = _mm256_fmadd_ps(x, w, a1);
      a2 = _mm256_fmadd_ps(x, w, a2);
      a3 = _mm256_fmadd_ps(x, w, a3);
      a4 = _mm256_fmadd_ps(x, w, a4);
      a5 = _mm256_fmadd_ps(x, w, a5);
      a6 = _mm256_fmadd_ps(x, w, a6);
      a7 = _mm256_fmadd_ps(x, w, a7);
      a8 = _mm256_fmadd_ps(x, w, a8);
      a9 = _mm256_fmadd_ps(x, w, a9);
      __asm__ volatile(""
                       : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7), "+x"(a8),
                         "+x"(a9));
    }
  }
  benchmark::DoNotOptimize(
      _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                    _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)), _mm256_add_ps(a8, a9))));
  state.counters["ops/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kSteps * 10 * 8 * 2, benchmark::Counter::kIsRate);
}

void BM_PeakF32Fma(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    state.SkipWithError("needs AVX2 and FMA");
    return;
  }
  peak_f32_fma(state);
}
BENCHMARK(BM_PeakF32Fma)->UseRealTime()->Threads(1)->Threads(2);

// The same with AVX-512 VNNI: twelve independent vpdpbusd chains on 512-bit
// registers (64 multiply-adds per instruction; twelve cover its latency).
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void peak_int8_vnni512(benchmark::State& state) {
  __m512i a0 = _mm512_set1_epi32(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0,
          a10 = a0, a11 = a0;
  const __m512i x = _mm512_set1_epi8(3), w = _mm512_set1_epi8(-2);
  constexpr int kSteps = 1 << 16;
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s) {
      a0 = _mm512_dpbusd_epi32(a0, x, w);
      a1 = _mm512_dpbusd_epi32(a1, x, w);
      a2 = _mm512_dpbusd_epi32(a2, x, w);
      a3 = _mm512_dpbusd_epi32(a3, x, w);
      a4 = _mm512_dpbusd_epi32(a4, x, w);
      a5 = _mm512_dpbusd_epi32(a5, x, w);
      a6 = _mm512_dpbusd_epi32(a6, x, w);
      a7 = _mm512_dpbusd_epi32(a7, x, w);
      a8 = _mm512_dpbusd_epi32(a8, x, w);
      a9 = _mm512_dpbusd_epi32(a9, x, w);
      a10 = _mm512_dpbusd_epi32(a10, x, w);
      a11 = _mm512_dpbusd_epi32(a11, x, w);
      __asm__ volatile(""
                       : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), "+v"(a8),
                         "+v"(a9), "+v"(a10), "+v"(a11));
    }
  }
  const __m512i sum =
      _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                                        _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7))),
                       _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)));
  benchmark::DoNotOptimize(sum);
  state.counters["ops/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kSteps * 12 * 64 * 2, benchmark::Counter::kIsRate);
}

// Runs `peak`, compiled for AVX-512 VNNI, where the CPU has it.
void run_if_vnni512(benchmark::State& state, void (*peak)(benchmark::State&)) {
  if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512bw")) {
    state.SkipWithError("needs AVX-512 VNNI");
    return;
  }
  peak(state);
}

void BM_PeakInt8DotVnni512(benchmark::State& state) {
  run_if_vnni512(state, peak_int8_vnni512);
}
BENCHMARK(BM_PeakInt8DotVnni512)->UseRealTime()->Threads(1)->Threads(2);

// The same with AVX-VNNI's 256-bit form (32 multiply-adds per instruction),
// the yardstick of the avxvnni target.
__attribute__((target("avx2,avxvnni"))) void peak_int8_avx_vnni(benchmark::State& state) {
  __m256i a0 = _mm256_set1_epi32(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0,
          a10 = a0, a11 = a0;
  const __m256i x = _mm256_set1_epi8(3), w = _mm256_set1_epi8(-2);
  constexpr int kSteps = 1 << 16;
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s) {
      a0 = _mm256_dpbusd_avx_epi32(a0, x, w);
      a1 = _mm256_dpbusd_avx_epi32(a1, x, w);
      a2 = _mm256_dpbusd_avx_epi32(a2, x, w);
      a3 = _mm256_dpbusd_avx_epi32(a3, x, w);
      a4 = _mm256_dpbusd_avx_epi32(a4, x, w);
      a5 = _mm256_dpbusd_avx_epi32(a5, x, w);
      a6 = _mm256_dpbusd_avx_epi32(a6, x, w);
      a7 = _mm256_dpbusd_avx_epi32(a7, x, w);
      a8 = _mm256_dpbusd_avx_epi32(a8, x, w);
      a9 = _mm256_dpbusd_avx_epi32(a9, x, w);
      a10 = _mm256_dpbusd_avx_epi32(a10, x, w);
      a11 = _mm256_dpbusd_avx_epi32(a11, x, w);
      __asm__ volatile(""
                       : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7), "+x"(a8),
                         "+x"(a9), "+x"(a10), "+x"(a11));
    }
  }
  const __m256i sum =
      _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3)),
                                        _mm256_add_epi32(_mm256_add_epi32(a4, a5), _mm256_add_epi32(a6, a7))),
                       _mm256_add_epi32(_mm256_add_epi32(a8, a9), _mm256_add_epi32(a10, a11)));
  benchmark::DoNotOptimize(sum);
  state.counters["ops/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kSteps * 12 * 32 * 2, benchmark::Counter::kIsRate);
}

void BM_PeakInt8DotAvxVnni(benchmark::State& state) {
  const std::vector<std::string> targets = ullm::kernels::available_targets();
  if (std::find(targets.begin(), targets.end(), "avxvnni") == targets.end()) {
    state.SkipWithError("needs AVX-VNNI");
    return;
  }
  peak_int8_avx_vnni(state);
}
BENCHMARK(BM_PeakInt8DotAvxVnni)->UseRealTime()->Threads(1)->Threads(2);

// The kernels of `target`, or nullptr with the benchmark skipped (a target
// this CPU lacks).
const ullm::kernels::KernelTable* table_or_skip(benchmark::State& state, const char* target) {
  try {
    return &ullm::kernels::select_kernel_table(target);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return nullptr;
  }
}

// Weight memory as a loaded model holds it (the repacked copy's huge pages;
// mapped files are page-aligned). Heap vectors start 16 bytes past a page,
// which splits every 64-byte load over two cache lines and made a figure
// depend on what the allocator did before.
ullm::HugePageBuffer weight_buffer(size_t bytes) {
  ullm::HugePageBuffer buffer = ullm::huge_page_buffer(bytes);
  if (buffer == nullptr) throw std::bad_alloc();
  return buffer;
}

// `tokens` activation rows times a weight matrix of each type on `threads`
// threads, through the kernels of `target`: bytes/s of weights read and ops/s.
// A matrix larger than L2 stands for one of a model's many: iterations cycle
// through copies of it filling four times the last-level cache, so that each
// is read from memory as a decode step reads its layers (one copy of a 38 MiB
// matrix partly stayed in this machine's 32 MiB L3).
// `in_cache` keeps one copy of a larger matrix: one that fits in L3 but not
// in L2 then shows a decode kernel's own speed on a stream, apart from the
// memory bus (the test that showed GCC's gathered prefetches slowing the
// K-quant streams).
// Weights as the file maps them, in panel order, or as Model::load keeps
// them (repacked where the kernels repack the type).
enum class Layout { kMapped, kRepacked, kAsLoaded };

void run_matmul(benchmark::State& state, DType type, const char* target, int64_t tokens,
                Layout layout = Layout::kMapped, bool in_cache = false) {
  const ullm::kernels::KernelTable* table = table_or_skip(state, target);
  if (table == nullptr) return;
  const int64_t rows = state.range(0), k = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  std::vector<float> wf(static_cast<size_t>(rows * k)), x(static_cast<size_t>(k * tokens));
  for (auto& v : wf) v = dist(rng);
  for (auto& v : x) v = dist(rng);
  const size_t bytes = ullm::kernels::row_size(type, rows * k);
  const size_t copies =
      in_cache || bytes <= (size_t{1} << 20) ? 1 : (4 * ullm::last_level_cache_bytes() + bytes - 1) / bytes;
  std::vector<ullm::HugePageBuffer> weights;
  std::vector<ullm::TensorView> views;
  // Weights in panel order, as Model::load keeps them where the kernels repack.
  std::vector<ullm::HugePageBuffer> repacked;
  for (size_t c = 0; c < copies; ++c) {
    weights.push_back(weight_buffer(bytes));
    if (c == 0) {
      ullm::kernels::type_kernels(type)->from_float(wf.data(), weights[0].get(), rows * k);
    } else {
      std::memcpy(weights[c].get(), weights[0].get(), bytes);
    }
    views.push_back({"w", type, 2, {k, rows, 1, 1}, weights[c].get(), bytes});
    if (layout == Layout::kAsLoaded) {
      layout = ullm::kernels::repacks(*table, views[c]) ? Layout::kRepacked : Layout::kMapped;
    }
    if (layout == Layout::kRepacked) {
      if (!ullm::kernels::repacks(*table, views[c])) {
        state.SkipWithError("these kernels do not repack this type");
        return;
      }
      repacked.push_back(weight_buffer(bytes));
      ullm::kernels::repack_weights(*table, views[c], repacked[c].get(), 0, rows);
    }
  }
  std::vector<float> y(static_cast<size_t>(rows * tokens));
  ullm::kernels::PreparedActivations act;
  ullm::ThreadPool pool(threads);
  // Split as the forward pass splits its matmuls.
  const int64_t chunk = ullm::kernels::matmul_rows_per_task(rows, k, tokens, threads);
  size_t next = 0;
  for (auto _ : state) {
    const size_t c = next;
    next = (next + 1) % copies;
    act.prepare(*table, type, x.data(), tokens, k);
    const auto task = [&](int64_t i, int) {
      ullm::kernels::matmul_rows(*table, views[c], act, y.data(), i * chunk, std::min(rows, (i + 1) * chunk),
                                 layout == Layout::kRepacked ? repacked[c].get() : nullptr);
    };
    pool.run((rows + chunk - 1) / chunk, task);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["ops/s"] =
      benchmark::Counter(static_cast<double>(2 * rows * k * tokens) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

// Matrix x vector: one decode step of one weight matrix.
void BM_MatVec(benchmark::State& state, DType type, const char* target) {
  run_matmul(state, type, target, 1, Layout::kMapped, state.range(3) != 0);
}

// The same with the weights repacked into panel order (as loaded models
// keep the panel formats on the AVX2 and AVX-512 targets).
void BM_MatVecRepacked(benchmark::State& state, DType type, const char* target) {
  run_matmul(state, type, target, 1, Layout::kRepacked, state.range(3) != 0);
}
void BM_MatMatRepacked(benchmark::State& state, DType type, const char* target) {
  run_matmul(state, type, target, 512, Layout::kRepacked);
}

// Matrix x matrix: a 512-token prefill through one weight matrix.
void BM_MatMat(benchmark::State& state, DType type, const char* target) {
  run_matmul(state, type, target, 512);
}

// A short prompt or a chat turn: a few tokens through one weight matrix,
// laid out as a loaded model larger than the cache keeps it.
void BM_FewTokens(benchmark::State& state, DType type, const char* target) {
  run_matmul(state, type, target, state.range(3), Layout::kAsLoaded);
}

// Attention over an F16 cache, all heads of one layer on one thread, for
// {n_head, n_head_kv, head_dim}: ops/s counts the score and value-sum
// multiply-adds (2 ops each) against the float peak, bytes/s the cache read.
struct AttentionInputs {
  ullm::kernels::AttentionShape shape;
  std::vector<float> q, out;
  std::vector<uint16_t> k, v;
  std::vector<float> k32, v32;  // the same values, for the F32-cache kernel
};

AttentionInputs attention_inputs(const benchmark::State& state, int64_t tokens, int64_t ctx) {
  AttentionInputs a;
  a.shape = {state.range(0), state.range(1), state.range(2), 0.125f};
  const int64_t width = a.shape.n_head * a.shape.head_dim, kv = a.shape.n_head_kv * a.shape.head_dim;
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  a.q.resize(static_cast<size_t>(tokens * width));
  for (auto& x : a.q) x = dist(rng);
  a.out.resize(a.q.size());
  std::vector<float> cache(static_cast<size_t>(ctx * kv));
  a.k.resize(cache.size());
  a.v.resize(cache.size());
  for (auto& x : cache) x = dist(rng);
  ullm::kernels::scalar_kernel_table().to_f16(cache.data(), a.k.data(), ctx * kv);
  for (auto& x : cache) x = dist(rng);
  ullm::kernels::scalar_kernel_table().to_f16(cache.data(), a.v.data(), ctx * kv);
  for (const auto& [half, full] : {std::pair{&a.k, &a.k32}, std::pair{&a.v, &a.v32}}) {
    full->resize(half->size());
    std::transform(half->begin(), half->end(), full->begin(), [](uint16_t h) { return ullm::kernels::f16_to_f32(h); });
  }
  return a;
}

void set_attention_counters(benchmark::State& state, const AttentionInputs& a, int64_t pairs, int64_t ctx) {
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["ops/s"] = benchmark::Counter(
      4.0 * static_cast<double>(a.shape.n_head * a.shape.head_dim * pairs) * iterations, benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * ctx * a.shape.n_head_kv * a.shape.head_dim *
                          2);
}

// One decode step at position 1023 (1024 cache rows).
void BM_AttentionDecode(benchmark::State& state, const char* target) {
  const ullm::kernels::KernelTable* table = table_or_skip(state, target);
  if (table == nullptr) return;
  constexpr int64_t kCtx = 1024;
  AttentionInputs a = attention_inputs(state, 1, kCtx);
  for (auto _ : state) {
    ullm::kernels::attend_f16_cache(*table, a.shape, a.q.data(), a.k.data(), a.v.data(), 0, kCtx, 0, a.shape.n_head,
                                    a.out.data());
    benchmark::DoNotOptimize(a.out.data());
  }
  set_attention_counters(state, a, kCtx, kCtx);
}

// A 512-token prompt's causal attention: the tiled kernel the forward pass
// runs for it, or (OneToken) the one-token kernel four tokens at a time, as
// before the tiled one.
void run_attention_prefill(benchmark::State& state, const char* target, bool tiled) {
  const ullm::kernels::KernelTable* table = table_or_skip(state, target);
  if (table == nullptr) return;
  constexpr int64_t kTokens = 512;
  AttentionInputs a = attention_inputs(state, kTokens, kTokens);
  const int64_t width = a.shape.n_head * a.shape.head_dim;
  for (auto _ : state) {
    if (tiled) {
      ullm::kernels::attend_f16_cache_tiled(*table, a.shape, a.q.data(), a.k.data(), a.v.data(), 1, 0, 0,
                                            a.shape.n_head, kTokens, width, a.out.data());
    } else {
      for (int64_t t = 0; t < kTokens; t += 4) {
        ullm::kernels::attend_f16_cache(*table, a.shape, &a.q[t * width], a.k.data(), a.v.data(), 0, t + 1, 0,
                                        a.shape.n_head, &a.out[t * width], 4, width);
      }
    }
    benchmark::DoNotOptimize(a.out.data());
  }
  set_attention_counters(state, a, kTokens * (kTokens + 1) / 2, kTokens);
}
void BM_AttentionPrefill(benchmark::State& state, const char* target) {
  run_attention_prefill(state, target, true);
}
void BM_AttentionPrefillOneToken(benchmark::State& state, const char* target) {
  run_attention_prefill(state, target, false);
}

// The same over an F32 cache (`--kv-type f32`): a decode step, and a
// 512-token prompt four tokens a call, as the forward pass runs it.
void BM_AttentionF32Decode(benchmark::State& state, const char* target) {
  const ullm::kernels::KernelTable* table = table_or_skip(state, target);
  if (table == nullptr) return;
  constexpr int64_t kCtx = 1024;
  AttentionInputs a = attention_inputs(state, 1, kCtx);
  std::vector<float> scores(static_cast<size_t>(ullm::kernels::kF32AttentionQueries * kCtx));
  for (auto _ : state) {
    ullm::kernels::attend_f32_cache(*table, a.shape, a.q.data(), 1, a.k32.data(), a.v32.data(), kCtx, 0, 0,
                                    a.shape.n_head, scores.data(), a.out.data());
    benchmark::DoNotOptimize(a.out.data());
  }
  set_attention_counters(state, a, kCtx, kCtx);
}
void BM_AttentionF32Prefill(benchmark::State& state, const char* target) {
  const ullm::kernels::KernelTable* table = table_or_skip(state, target);
  if (table == nullptr) return;
  constexpr int64_t kTokens = 512, kBlock = 4;
  AttentionInputs a = attention_inputs(state, kTokens, kTokens);
  const int64_t width = a.shape.n_head * a.shape.head_dim;
  std::vector<float> scores(static_cast<size_t>(ullm::kernels::kF32AttentionQueries * kTokens));
  for (auto _ : state) {
    for (int64_t t = 0; t < kTokens; t += kBlock) {
      ullm::kernels::attend_f32_cache(*table, a.shape, &a.q[t * width], kBlock, a.k32.data(), a.v32.data(), t + 1, 0, 0,
                                      a.shape.n_head, scores.data(), &a.out[t * width]);
    }
    benchmark::DoNotOptimize(a.out.data());
  }
  set_attention_counters(state, a, kTokens * (kTokens + 1) / 2, kTokens);
}

// The forward pass's per-row steps on rows that stay in L1/L2, as the forward
// pass runs them (TinyLlama's widths): values/s, and bytes/s read and written.
std::vector<float> normal_values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

void set_row_counters(benchmark::State& state, int64_t values, int64_t bytes_per_value) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * values);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * values * bytes_per_value);
}

// RMSNorm of one row of {n} values (reads x and the weight, writes out).
void BM_RmsNorm(benchmark::State& state, const char* target) {
  const ullm::kernels::KernelTable* table = table_or_skip(state, target);
  if (table == nullptr) return;
  const int64_t n = state.range(0);
  const auto x = normal_values(n, 1), w = normal_values(n, 2);
  std::vector<float> out(x.size());
  for (auto _ : state) {
    table->rows.rms_norm(x.data(), w.data(), n, 1e-5f, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  set_row_counters(state, n, 12);
}

// SwiGLU of one row of {n} values in place, as the FFN runs it.
void BM_SwiGlu(benchmark::State& state, const char* target) {
  const ullm::kernels::KernelTable* table = table_or_skip(state, target);
  if (table == nullptr) return;
  const int64_t n = state.range(0);
  const auto gate = normal_values(n, 3), up = normal_values(n, 4);
  std::vector<float> out(gate.size());
  for (auto _ : state) {
    table->rows.swiglu(gate.data(), up.data(), n, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  set_row_counters(state, n, 12);
}

// RoPE of one token's {heads} x {head_dim} query values, all rotated, with
// {style} 0 adjacent pairs (llama), 1 NeoX: the angles' cosines and sines
// (scalar libm, shared by the heads) and the rotation.
void BM_Rope(benchmark::State& state, const char* target) {
  const ullm::kernels::KernelTable* table = table_or_skip(state, target);
  if (table == nullptr) return;
  const int64_t heads = state.range(0), head_dim = state.range(1);
  const auto style = state.range(2) == 0 ? ullm::kernels::RopeStyle::Adjacent : ullm::kernels::RopeStyle::Neox;
  auto x = normal_values(heads * head_dim, 5);
  int64_t pos = 0;
  for (auto _ : state) {
    ullm::kernels::rope(*table, x.data(), heads, head_dim, head_dim, pos++ % 2048, {}, style);
    benchmark::DoNotOptimize(x.data());
  }
  set_row_counters(state, heads * head_dim, 8);
}

// One embedding row of 2048 values expanded to floats, from rows cycled
// through a table as large as the last-level cache (as token ids pick rows
// of a vocabulary's table): values/s, bytes/s of the format read.
void BM_EmbeddingRow(benchmark::State& state, DType type, const char* target) {
  const ullm::kernels::KernelTable* table = table_or_skip(state, target);
  if (table == nullptr) return;
  constexpr int64_t kWidth = 2048;
  const size_t row_bytes = ullm::kernels::row_size(type, kWidth);
  const auto rows = static_cast<int64_t>(ullm::last_level_cache_bytes() / row_bytes);
  ullm::HugePageBuffer weights = weight_buffer(row_bytes * static_cast<size_t>(rows));
  const auto wf = normal_values(kWidth, 6);
  for (int64_t r = 0; r < rows; ++r) {
    ullm::kernels::type_kernels(type)->from_float(wf.data(), weights.get() + r * row_bytes, kWidth);
  }
  const ullm::TensorView view{"token_embd", type, 2, {kWidth, rows, 1, 1}, weights.get(), row_bytes * rows};
  std::vector<float> out(kWidth);
  int64_t row = 0;
  for (auto _ : state) {
    ullm::kernels::dequantize_row(*table, view, row, out.data());
    row = (row + 7919) % rows;  // a prime stride: no two rows in a row share lines
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kWidth);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * row_bytes));
}

// The activation quantizer: one row of 2048 floats to {type} (Q8_0 for the
// legacy formats, Q8_K for the K-quants), as each matmul's input.
void BM_QuantizeActivations(benchmark::State& state, DType type, const char* target) {
  const ullm::kernels::KernelTable* table = table_or_skip(state, target);
  if (table == nullptr) return;
  constexpr int64_t kWidth = 2048;
  const auto x = normal_values(kWidth, 7);
  std::vector<std::byte> out(ullm::kernels::row_size(type, kWidth));
  for (auto _ : state) {
    table->find(type)->from_float(x.data(), out.data(), kWidth);
    benchmark::DoNotOptimize(out.data());
  }
  set_row_counters(state, kWidth, 4);
}

// Every kernel benchmark for every target (one this CPU lacks is listed and
// skipped) and weight type: BM_<kernel>/<type>_<target>/<args>.
void register_kernel_benchmarks() {
  const auto add = [](const std::string& name, auto fn) { return benchmark::RegisterBenchmark(name.c_str(), fn); };
  constexpr DType kPanelTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_0, DType::Q5_K, DType::Q6_K};
  for (const char* target : {"scalar", "sse4", "avx2", "avxvnni", "avx512"}) {
    const std::string t = target;
    const bool wide = t == "avx2" || t == "avxvnni" || t == "avx512";  // the targets with panel kernels
    for (const DType type : ullm::kernels::kComputeTypes) {
      if (ullm::kernels::type_kernels(type)->dot == nullptr) continue;  // an activation format only
      const std::string name = std::string(ullm::dtype_name(type)) + "_" + t;
      const bool panel = std::find(std::begin(kPanelTypes), std::end(kPanelTypes), type) != std::end(kPanelTypes);
      // {rows, k, threads, in cache}: an L2-sized matrix; 2048 x 4096 in one
      // copy (in L3 for the 4-9 MiB quantized formats); one larger than L3,
      // cycled through copies (see run_matmul). Mapped rows or repacked panels.
      const auto matvec = [&](const std::string& bench, auto fn) {
        add(bench + name, [=](benchmark::State& s) { fn(s, type, target); })
            ->Args({256, 2048, 1, 0})
            ->Args({2048, 4096, 1, 1})
            ->Args({16384, 4096, 1, 0})
            ->Args({16384, 4096, 2, 0})
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
      };
      // {rows, k, threads}: TinyLlama's FFN-up shape, 512 tokens.
      const auto matmat = [&](const std::string& bench, auto fn) {
        add(bench + name, [=](benchmark::State& s) { fn(s, type, target); })
            ->Args({5632, 2048, 1})
            ->Args({5632, 2048, 2})
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      };
      matvec("BM_MatVec/", BM_MatVec);
      // Seconds an iteration on the scalar and SSE4.2 targets: Q4_0 and Q8_0 only there.
      if (wide || type == DType::Q4_0 || type == DType::Q8_0) matmat("BM_MatMat/", BM_MatMat);
      if (!wide || !panel) continue;
      matvec("BM_MatVecRepacked/", BM_MatVecRepacked);
      matmat("BM_MatMatRepacked/", BM_MatMatRepacked);
      // {rows, k, threads, tokens}: TinyLlama's FFN-up shape, one thread.
      add("BM_FewTokens/" + name, [=](benchmark::State& s) { BM_FewTokens(s, type, target); })
          ->Args({5632, 2048, 1, 2})
          ->Args({5632, 2048, 1, 4})
          ->Args({5632, 2048, 1, 16})
          ->Args({5632, 2048, 1, 32})
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
    // {rows, k, threads}: short rows, a small model's output head (stories15M's
    // 32000 x 288, which llama-quantize writes in Q8_0 for every quantized
    // type: rows that are not whole 256-blocks), and rows of 64 (stories260K's
    // width; its F16 file is all such rows but ffn_down), L2-sized.
    for (const DType type : {DType::Q8_0, DType::F16, DType::F32}) {
      add("BM_MatVec/" + std::string(ullm::dtype_name(type)) + "_" + t,
          [=](benchmark::State& s) { BM_MatVec(s, type, target); })
          ->Args({32000, 288, 1})
          ->Args({4096, 64, 1})
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
    // {n_head, n_head_kv, head_dim}: stories15M's heads and TinyLlama's.
    for (const auto& [bench, fn] : {std::pair{"BM_AttentionDecode/", &BM_AttentionDecode},
                                    std::pair{"BM_AttentionPrefill/", &BM_AttentionPrefill},
                                    std::pair{"BM_AttentionPrefillOneToken/", &BM_AttentionPrefillOneToken},
                                    std::pair{"BM_AttentionF32Decode/", &BM_AttentionF32Decode},
                                    std::pair{"BM_AttentionF32Prefill/", &BM_AttentionF32Prefill}}) {
      // (fn by an init-capture: clang before 16 cannot capture a structured binding)
      add(bench + t, [=, fn = fn](benchmark::State& s) { fn(s, target); })
          ->Args({6, 6, 48})
          ->Args({32, 4, 64})
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
    add("BM_RmsNorm/" + t, [=](benchmark::State& s) { BM_RmsNorm(s, target); })->Arg(2048)->Arg(64);
    add("BM_SwiGlu/" + t, [=](benchmark::State& s) { BM_SwiGlu(s, target); })->Arg(5632);
    add("BM_Rope/" + t, [=](benchmark::State& s) { BM_Rope(s, target); })->Args({32, 64, 0})->Args({32, 64, 1});
    for (const DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K, DType::F16, DType::BF16}) {
      add("BM_EmbeddingRow/" + std::string(ullm::dtype_name(type)) + "_" + t,
          [=](benchmark::State& s) { BM_EmbeddingRow(s, type, target); });
    }
    for (const DType type : {DType::Q8_0, DType::Q8_K}) {
      add("BM_QuantizeActivations/" + std::string(ullm::dtype_name(type)) + "_" + t,
          [=](benchmark::State& s) { BM_QuantizeActivations(s, type, target); });
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_kernel_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
