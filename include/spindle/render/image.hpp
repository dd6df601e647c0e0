#pragma once
// An RGB image, 8 bits per channel, rows top to bottom (as image files and video frames store
// them; OpenGL's pixels come bottom-up and are flipped on the way in).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace spindle::render {

struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb{};  // width · height · 3 bytes, row-major from the top-left pixel

  std::uint8_t channel(int x, int y, int c) const noexcept {
    return rgb[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * 3 +
               static_cast<std::size_t>(c)];
  }
};

}  // namespace spindle::render
