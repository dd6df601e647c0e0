#pragma once
// Films an environment as it runs: call capture(env) after reset and after every step; a frame
// is written whenever simulated time passes the next frame's time (repeated when one control
// step spans several frames), so the video plays at the speed of the simulation.
//
//   render::Recorder recorder("walk.mp4", env.model(),
//                             {.render = {.camera = render::Camera::tracking("torso")}, .fps = 30});
//   env.reset(rng);  recorder.capture(env);
//   while (...) { env.step(action); recorder.capture(env); }
//   recorder.finish();
#include <filesystem>
#include <string>

#include "../mujoco/env.hpp"
#include "renderer.hpp"
#include "video_writer.hpp"

namespace spindle::render {

struct RecorderOptions {
  RenderOptions render{};
  double fps = 30.0;
  int quality = 20;               // H.264 CRF
  std::string ffmpeg = "ffmpeg";
};

class Recorder {
 public:
  Recorder(const std::filesystem::path& path, const mujoco::Model& model, const RecorderOptions& options = {})
      : renderer_(model, options.render),
        video_(path, options.render.width, options.render.height, {options.fps, options.quality, options.ffmpeg}),
        period_(1.0 / options.fps) {}

  /// Writes the frames due at the environment's current time; returns how many.
  int capture(const mujoco::Model& model, const mjData& data) {
    const double t = data.time;
    if (!started_ || t < last_time_) next_frame_ = t;  // first call, or a new episode
    started_ = true;
    last_time_ = t;
    int written = 0;
    const double tolerance = 1e-9 * period_;
    if (t + tolerance >= next_frame_) {
      const Image& frame = renderer_.render(model, data);
      while (t + tolerance >= next_frame_) {
        video_.write(frame);
        next_frame_ += period_;
        ++written;
      }
    }
    return written;
  }
  int capture(const mujoco::Env& env) { return capture(env.model(), env.data()); }

  void finish() { video_.finish(); }
  long frames() const noexcept { return video_.frames(); }
  Renderer& renderer() noexcept { return renderer_; }

 private:
  Renderer renderer_;
  VideoWriter video_;
  double period_;
  double next_frame_ = 0.0, last_time_ = 0.0;
  bool started_ = false;
};

}  // namespace spindle::render
