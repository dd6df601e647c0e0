// Test helper (no test cases): counts heap allocations for the allocation-free checks.
#include "alloc_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::size_t> g_allocations{0};
}

namespace spindle_test {
std::size_t allocations() noexcept { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace spindle_test

// Eigen takes its heap memory from std::malloc, not operator new: count malloc too, by
// interposing it over glibc's (not under AddressSanitizer, whose runtime owns malloc; there
// only operator new is counted).
#if defined(__SANITIZE_ADDRESS__)  // GCC's name for -fsanitize=address
#define SPINDLE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)  // Clang's (Clang 14 does not define GCC's)
#define SPINDLE_TEST_ASAN 1
#endif
#endif
#if !defined(SPINDLE_TEST_ASAN)
extern "C" void* __libc_malloc(std::size_t size);
extern "C" void* malloc(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}
#endif

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
