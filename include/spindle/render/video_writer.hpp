#pragma once
// Frames to a video file: MP4 (H.264, yuv420p, plays everywhere) or GIF (one palette made from
// all frames), chosen by the file's extension.
#include <filesystem>
#include <memory>
#include <string>

#include "errors.hpp"
#include "ffmpeg.hpp"
#include "image.hpp"

namespace spindle::render {

struct VideoOptions {
  double fps = 30.0;
  int quality = 20;                // H.264 CRF: 0 lossless … 51 worst; 18–23 look clean
  std::string ffmpeg = "ffmpeg";   // the program, found on PATH unless it holds a '/'
};

class VideoWriter {
 public:
  VideoWriter(const std::filesystem::path& path, int width, int height, VideoOptions options = {})
      : width_(width), height_(height) {
    if (width <= 0 || height <= 0)
      throw render_error("render: video size must be positive, got " + std::to_string(width) + "x" + std::to_string(height));
    if (!(options.fps > 0)) throw render_error("render: video frame rate must be positive");
    auto arguments = raw_rgb_input(width, height, options.fps);
    const auto extension = path.extension();
    if (extension == ".mp4") {
      // yuv420p halves the chroma resolution: odd sizes get one padding row/column.
      arguments.insert(arguments.end(), {"-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast",
                                         "-crf", std::to_string(options.quality), "-pix_fmt", "yuv420p",
                                         "-movflags", "+faststart"});
    } else if (extension == ".gif") {
      arguments.insert(arguments.end(), {"-vf", "split[a][b];[a]palettegen[p];[b][p]paletteuse"});
    } else {
      throw render_error("render: '" + path.string() + "': unknown video format (use .mp4 or .gif)");
    }
    process_ = std::make_unique<FfmpegProcess>(options.ffmpeg, arguments, path);
  }

  void write(const Image& frame) {
    if (frame.width != width_ || frame.height != height_)
      throw render_error("render: frame of " + std::to_string(frame.width) + "x" + std::to_string(frame.height) +
                         " for a video of " + std::to_string(width_) + "x" + std::to_string(height_));
    process_->write(frame.rgb.data(), frame.rgb.size());
    ++frames_;
  }
  /// Finishes the file; throws with ffmpeg's messages if it failed. The destructor finishes too,
  /// silently.
  void finish() { process_->finish(); }

  long frames() const noexcept { return frames_; }
  const std::filesystem::path& path() const noexcept { return process_->output(); }

 private:
  int width_, height_;
  long frames_ = 0;
  std::unique_ptr<FfmpegProcess> process_;
};

}  // namespace spindle::render
