#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <numeric>
#include <spindle/core/thread_pool.hpp>
#include <stdexcept>
#include <vector>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_thread_pool {

TEST_CASE("ThreadPool: parallel_for covers 0 .. n-1 exactly once, for many n") {
  for (int threads : {1, 2, 3}) {
    spindle::ThreadPool pool(threads);
    CHECK(pool.size() == threads);
    for (std::int64_t n : {0, 1, 2, 3, 7, 64, 1001}) {
      std::vector<int> hits(static_cast<std::size_t>(n), 0);
      pool.parallel_for(n, [&](std::int64_t b, std::int64_t e) {
        for (auto i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
      });
      CHECK(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
    }
  }
}

TEST_CASE("ThreadPool: many back-to-back calls (no lost wake-ups)") {
  spindle::ThreadPool pool(2);
  std::atomic<long> total{0};
  for (int k = 0; k < 20000; ++k)
    pool.parallel_for(4, [&](std::int64_t b, std::int64_t e) { total += e - b; });
  CHECK(total.load() == 80000);
}

TEST_CASE("ThreadPool: an exception in a worker chunk reaches the caller after all chunks ran") {
  spindle::ThreadPool pool(2);
  std::atomic<int> ran{0};
  CHECK_THROWS_WITH_AS(pool.parallel_for(2,
                                         [&](std::int64_t b, std::int64_t) {
                                           ++ran;
                                           if (b == 1) throw std::runtime_error("chunk 1 failed");
                                         }),
                       "chunk 1 failed", std::runtime_error);
  CHECK(ran.load() == 2);
  // The pool is still usable afterwards.
  std::atomic<int> again{0};
  pool.parallel_for(2, [&](std::int64_t b, std::int64_t e) { again += int(e - b); });
  CHECK(again.load() == 2);
}

}  // namespace test_thread_pool
