// The thread pool on its own: every task runs exactly once, on any number of
// threads, whether the workers are spinning or asleep between jobs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "runtime/thread_pool.hpp"

namespace ullm {
namespace {

TEST(ThreadPool, RunsEveryTaskExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> bad_thread{0};
      const auto job = [&](int64_t task, int thread) {
        hits[static_cast<size_t>(task)].fetch_add(1);
        if (thread < 0 || thread >= threads) bad_thread.fetch_add(1);
      };
      pool.run(n, job);
      for (const auto& h : hits) ASSERT_EQ(h.load(), 1) << threads << " threads, " << n << " tasks";
      EXPECT_EQ(bad_thread.load(), 0);
    }
  }
}

TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool(2);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // long enough for workers to stop spinning
    std::atomic<int> done{0};
    std::atomic<bool> worker_ran{false};
    const auto job = [&](int64_t, int thread) {
      if (thread != 0) worker_ran = true;
      // Slow tasks, so the worker gets some of them once awake.
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      done.fetch_add(1);
    };
    pool.run(64, job);
    EXPECT_EQ(done.load(), 64);
    EXPECT_TRUE(worker_ran.load()) << "round " << round;
  }
}

TEST(ThreadPool, ManyQuickJobsInARow) {
  // Also with more threads than this machine has cores.
  for (int threads : {2, 4}) {
    ThreadPool pool(threads);
    std::atomic<int64_t> total{0};
    const auto job = [&](int64_t task, int) { total.fetch_add(task); };
    for (int i = 0; i < 5000; ++i) pool.run(4, job);
    EXPECT_EQ(total.load(), 5000 * (0 + 1 + 2 + 3)) << threads << " threads";
  }
}

}  // namespace
}  // namespace ullm
