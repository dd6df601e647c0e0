#pragma once
// A bump allocator for tape buffers. Memory comes in large aligned blocks that
// are kept across rewind(), so a forward/backward pass that asks for the same
// sizes in the same order gets the same addresses and allocates nothing.
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

namespace spindle::autodiff {

template <class Scalar>
class Arena {
 public:
  static constexpr std::size_t alignment = 64;  // a cache line; enough for AVX-512 loads

  explicit Arena(std::size_t block_elements = (std::size_t{1} << 20) / sizeof(Scalar))
      : block_elements_(block_elements) {}

  /// Uninitialised storage for n scalars, 64-byte aligned.
  Scalar* allocate(std::size_t n) {
    n = round_up(std::max<std::size_t>(n, 1));
    while (current_ < blocks_.size()) {
      Block& b = blocks_[current_];
      if (b.used + n <= b.size) {
        Scalar* p = b.data.get() + b.used;
        b.used += n;
        return p;
      }
      ++current_;
    }
    blocks_.push_back(Block{allocate_block(std::max(n, block_elements_)), std::max(n, block_elements_), 0});
    Block& b = blocks_.back();
    b.used = n;
    return b.data.get();
  }

  /// Frees everything at once; the blocks stay for the next pass.
  void rewind() noexcept {
    for (auto& b : blocks_) b.used = 0;
    current_ = 0;
  }

  std::size_t capacity() const noexcept {
    std::size_t c = 0;
    for (const auto& b : blocks_) c += b.size;
    return c;
  }

 private:
  struct Free {
    void operator()(Scalar* p) const noexcept { ::operator delete[](p, std::align_val_t(alignment)); }
  };
  struct Block {
    std::unique_ptr<Scalar[], Free> data;
    std::size_t size = 0, used = 0;
  };
  static std::size_t round_up(std::size_t n) noexcept {
    constexpr std::size_t per_line = alignment / sizeof(Scalar);
    return (n + per_line - 1) / per_line * per_line;
  }
  static std::unique_ptr<Scalar[], Free> allocate_block(std::size_t n) {
    return std::unique_ptr<Scalar[], Free>(
        static_cast<Scalar*>(::operator new[](n * sizeof(Scalar), std::align_val_t(alignment))));
  }

  std::size_t block_elements_;
  std::vector<Block> blocks_;
  std::size_t current_ = 0;
};

}  // namespace spindle::autodiff
