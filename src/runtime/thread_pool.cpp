#include "runtime/thread_pool.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ullm {
namespace {

constexpr int kSpinRounds = 20000;  // ~50-100 us of polling before sleeping

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::drain(int thread) {
  for (int64_t t; (t = next_task_.fetch_add(1, std::memory_order_relaxed)) < n_tasks_;) (*job_)(t, thread);
}

void ThreadPool::run(int64_t n_tasks, Job job) {
  if (workers_.empty() || n_tasks <= 1) {
    for (int64_t t = 0; t < n_tasks; ++t) job(t, 0);
    return;
  }
  job_ = &job;
  n_tasks_ = n_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  busy_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  // Publish, then look for sleepers; a worker going to sleep does the
  // opposite (count itself, then look for work), so with sequentially
  // consistent order one of the two always sees the other.
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_seq_cst) > 0) {
    { std::lock_guard lock(mutex_); }  // a sleeper is either waiting already or will see the new generation
    wake_.notify_all();
  }
  drain(0);
  // Spin for the stragglers, but yield soon: with more threads than cores a
  // worker may be waiting for this very core.
  for (int spins = 0; busy_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 1000) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  job_ = nullptr;
}

void ThreadPool::work(int thread) {
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < kSpinRounds && generation_.load(std::memory_order_acquire) == seen; ++i) {
      cpu_relax();
      if (i % 1024 == 1023) std::this_thread::yield();  // let an oversubscribed caller run
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock lock(mutex_);
      sleeping_.fetch_add(1, std::memory_order_seq_cst);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_seq_cst) != seen; });
      sleeping_.fetch_sub(1, std::memory_order_seq_cst);
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_) return;
    drain(thread);
    busy_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

int physical_cores() {
  std::set<std::pair<std::string, std::string>> cores;
  for (int cpu = 0;; ++cpu) {
    const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream core(base + "core_id"), package(base + "physical_package_id");
    std::string c, p;
    if (!(core >> c) || !(package >> p)) break;
    cores.insert({p, c});
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

size_t last_level_cache_bytes() {
  size_t largest = 0;
  for (int index = 0;; ++index) {
    std::ifstream size_file("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/size");
    size_t size = 0;
    std::string unit;
    if (!(size_file >> size)) break;
    size_file >> unit;  // "K" or "M" right after the number, or nothing
    if (unit == "K") size <<= 10;
    if (unit == "M") size <<= 20;
    largest = std::max(largest, size);
  }
  return largest;
}

}  // namespace ullm
