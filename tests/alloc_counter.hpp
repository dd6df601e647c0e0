#pragma once
// Counts heap allocations made by this test binary (global operator new and, outside
// AddressSanitizer builds, malloc are replaced in alloc_counter.cpp). Use: auto n0 = allocations(); ...; CHECK(allocations() == n0);
#include <cstddef>

namespace spindle_test {
std::size_t allocations() noexcept;
}
