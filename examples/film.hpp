#pragma once
// --video for the examples: films deterministic episodes of a policy with spindle::render
// (headless OSMesa; ffmpeg encodes). Examples built without spindle::render keep the option
// and say what is missing.
#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <spindle/core.hpp>
#include <spindle/mujoco.hpp>
#ifdef SPINDLE_EXAMPLES_RENDER
#include <spindle/render.hpp>
#endif

namespace spindle_examples {

struct FilmOptions {
  std::string video;      // .mp4 or .gif
  std::string still{};    // optional .png: the frame at still_step of the first episode
  long still_step = 100;
  int episodes = 1;
  int width = 640, height = 480;
  double fps = 30;
  std::function<void()> on_reset{};  // after each env.reset (e.g. clear a policy's history)
#ifdef SPINDLE_EXAMPLES_RENDER
  spindle::render::Camera camera = spindle::render::Camera::free();
  spindle::render::Decoration decorate{};
#endif
};

/// The MuJoCo environment inside `env`: itself, or what a task's env() or a wrapper's inner() returns.
template <class E>
const spindle::mujoco::Env& physics_of(const E& env) {
  if constexpr (requires { env.env(); }) return physics_of(env.env());
  else if constexpr (requires { env.inner(); }) return physics_of(env.inner());
  else return env;
}

/// Runs `episodes` episodes of `act(observation, action)` on `env` (a mujoco::Env or a task that
/// wraps one, such as MyoSuite's) and films them.
template <class E, class Act>
void film(E& env, spindle::Rng& rng, Act&& act, const FilmOptions& o) {
#ifdef SPINDLE_EXAMPLES_RENDER
  namespace render = spindle::render;
  render::RecorderOptions options;
  options.render.width = o.width;
  options.render.height = o.height;
  options.render.camera = o.camera;
  options.render.decorate = o.decorate;
  options.fps = o.fps;
  render::Recorder recorder(o.video, physics_of(env).model(), options);
  Eigen::VectorXf a(physics_of(env).action_size());  // the task's actions are the model's actuators
  double render_seconds = 0;
  long rendered = 0;
  auto capture = [&] {
    const auto t0 = std::chrono::steady_clock::now();
    rendered += recorder.capture(physics_of(env)) > 0;
    render_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  for (int e = 0; e < o.episodes; ++e) {
    auto obs = env.reset(rng);
    if (o.on_reset) o.on_reset();
    capture();
    long step = 0;
    for (bool done = false; !done;) {
      act(obs, a);
      const auto s = env.step(a);
      obs = s.observation;
      done = s.terminated || s.truncated;
      capture();
      if (e == 0 && ++step == o.still_step && !o.still.empty())
        render::write_png(o.still, recorder.renderer().render(physics_of(env)));
    }
  }
  recorder.finish();
  std::printf("video %s: %ld frames at %.0f fps, %dx%d, %.1f ms per frame rendered and encoded (%ld rendered)\n",
              o.video.c_str(), recorder.frames(), o.fps, o.width, o.height,
              rendered > 0 ? 1e3 * render_seconds / double(rendered) : 0.0, rendered);
  if (!o.still.empty()) std::printf("still frame %s\n", o.still.c_str());
#else
  (void)env, (void)rng, (void)act, (void)o;
  throw std::runtime_error("--video: this example was built without spindle::render (Debian: apt-get install "
                           "libosmesa6-dev ffmpeg, then configure again)");
#endif
}

}  // namespace spindle_examples
