#pragma once
// A small pool of persistent threads for fork-join loops (vector-env steps).
//
// parallel_for(n, f) splits [0, n) into one contiguous chunk per thread, runs
// chunk 0 on the calling thread and the rest on the workers, and returns when
// all are done. Nothing is allocated and no thread is created per call; idle
// workers spin briefly (a step of a cheap environment is microseconds) and then
// sleep on a futex (std::atomic::wait). Chunks are a pure function of n and the
// thread count, so results never depend on scheduling.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace spindle {

class ThreadPool {
 public:
  /// `n_threads` counts the calling thread; 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(int n_threads = 0) {
    if (n_threads < 0) throw std::invalid_argument("ThreadPool: n_threads must be >= 0");
    if (n_threads == 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    errors_.resize(static_cast<std::size_t>(n_threads));
    workers_.reserve(static_cast<std::size_t>(n_threads - 1));
    for (int t = 1; t < n_threads; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  ~ThreadPool() {
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
  }

  int size() const noexcept { return static_cast<int>(workers_.size()) + 1; }

  /// Calls f(begin, end) on disjoint chunks covering [0, n); rethrows the first
  /// exception (lowest chunk) after every chunk has finished.
  template <class F>
  void parallel_for(std::int64_t n, F&& f) {
    if (n <= 0) return;
    const int threads = size();
    if (threads == 1 || n == 1) {
      f(std::int64_t{0}, n);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    job_.run = [](void* ctx, std::int64_t b, std::int64_t e) { (*static_cast<Fn*>(ctx))(b, e); };
    job_.ctx = const_cast<void*>(static_cast<const void*>(&f));
    job_.n = n;
    pending_.store(threads - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();

    run_chunk(0);
    for (int spin = 0;; ++spin) {
      const int p = pending_.load(std::memory_order_acquire);
      if (p == 0) break;
      if (spin < kSpins)
        pause();
      else
        pending_.wait(p, std::memory_order_acquire);
    }
    for (auto& e : errors_)
      if (e) {
        auto first = e;
        for (auto& x : errors_) x = nullptr;
        std::rethrow_exception(first);
      }
  }

 private:
  struct Job {
    void (*run)(void*, std::int64_t, std::int64_t) = nullptr;
    void* ctx = nullptr;
    std::int64_t n = 0;
  };
  static constexpr int kSpins = 20000;

  static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
  }

  void run_chunk(int t) noexcept {
    const std::int64_t threads = size();
    const std::int64_t b = job_.n * t / threads, e = job_.n * (t + 1) / threads;
    if (b >= e) return;
    try {
      job_.run(job_.ctx, b, e);
    } catch (...) {
      errors_[static_cast<std::size_t>(t)] = std::current_exception();
    }
  }

  void worker_loop(int t) {
    std::uint32_t seen = 0;
    for (;;) {
      std::uint32_t g;
      for (int spin = 0;; ++spin) {
        g = generation_.load(std::memory_order_acquire);
        if (g != seen) break;
        if (spin < kSpins)
          pause();
        else
          generation_.wait(seen, std::memory_order_acquire);
      }
      seen = g;
      if (stop_.load(std::memory_order_acquire)) return;
      run_chunk(t);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::vector<std::exception_ptr> errors_;
  Job job_;
  std::atomic<std::uint32_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace spindle
