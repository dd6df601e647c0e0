#pragma once
#include <stdexcept>

namespace spindle::render {

/// Rendering or video output failed: no OSMesa context, no ffmpeg, a camera or body the model
/// does not have, an output path that cannot be written, or ffmpeg reporting an error.
struct render_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace spindle::render
