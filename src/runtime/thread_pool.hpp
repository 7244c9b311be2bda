// A persistent pool of worker threads for the forward pass. Workers spin
// briefly between jobs (a decode step issues dozens of small ones) and then
// sleep; nothing is allocated per job.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace ullm {

class ThreadPool {
 public:
  // A non-owning reference to a callable taking (task, thread index).
  class Job {
   public:
    template <typename F>
    Job(const F& f)  // NOLINT: implicit on purpose, jobs are lambdas at call sites
        : object_(&f),
          call_([](const void* o, int64_t task, int thread) { (*static_cast<const F*>(o))(task, thread); }) {}
    void operator()(int64_t task, int thread) const { call_(object_, task, thread); }

   private:
    const void* object_;
    void (*call_)(const void*, int64_t, int);
  };

  // `threads` counts the calling thread: threads - 1 workers are started.
  explicit ThreadPool(int threads);
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool();

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs job(task, thread) for every task in [0, n_tasks), spread over the
  // pool and the calling thread (thread index 0); returns when all are done.
  void run(int64_t n_tasks, Job job);

 private:
  void work(int thread);
  void drain(int thread);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> sleeping_{0};
  std::atomic<int> busy_{0};
  std::atomic<int64_t> next_task_{0};
  int64_t n_tasks_ = 0;
  Job* job_ = nullptr;
  bool stop_ = false;
};

// Physical cores of this machine (hyper-threads not counted), at least 1.
int physical_cores();

// Bytes of the last-level cache (the largest cache of CPU 0), or 0 if the
// system does not say.
size_t last_level_cache_bytes();

}  // namespace ullm
