// Offscreen rendering speed (spindle::render: OSMesa's software rasteriser, llvmpipe, which
// draws on all cores — hence real time): one 640×480 frame of the quadruped, the muscle arm with its
// muscles drawn, and a MyoSuite scene (the hand in MyoSuite's room, from ../shared or
// $SPINDLE_SHARED), with spindle's fast defaults and with MuJoCo's (shadows, reflections, 4× MSAA);
// and encoding one frame to H.264 through ffmpeg.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <spindle/mujoco.hpp>
#include <spindle/render.hpp>

namespace {

namespace render = spindle::render;

std::filesystem::path shared_file(const char* relative) {
  const char* dir = std::getenv("SPINDLE_SHARED");
  return std::filesystem::path(dir ? dir : SPINDLE_SHARED_DIR) / relative;
}

spindle::mujoco::Env make(const std::string& what) {
  if (what == "quadruped") return spindle::mujoco::quadruped();
  if (what == "muscle_arm") return spindle::mujoco::muscle_arm();
  spindle::mujoco::Model model = spindle::mujoco::Model::from_file(shared_file("myosuite_envs/myohand_pose.xml"));
  return spindle::mujoco::Env(std::move(model), {.frame_skip = 10, .observation = {spindle::mujoco::obs::qpos()}});
}

render::RenderOptions options(const std::string& what, bool mujoco_defaults) {
  render::RenderOptions o{.width = 640, .height = 480};
  if (what == "quadruped") o.camera = render::Camera::tracking("torso", {.distance = 5, .azimuth = 60});
  if (what == "muscle_arm") {
    o.camera = render::Camera::free({.distance = 1.2, .azimuth = 90, .elevation = -89, .lookat = {{0.25, 0, 0}}});
    o.decorate = render::muscle_arm_muscles();
  }
  if (mujoco_defaults) o.shadows = o.reflections = true, o.multisamples = 4;
  return o;
}

void frame(benchmark::State& state, const std::string& what, bool mujoco_defaults) {
  spindle::mujoco::Env env = make(what);
  spindle::Rng rng(0);
  env.reset(rng);
  render::Renderer renderer(env.model(), options(what, mujoco_defaults));
  Eigen::VectorXf a = Eigen::VectorXf::Constant(env.action_size(), 0.3f);
  spindle::Step<spindle::dynamic, float> s;
  for (auto _ : state) {
    state.PauseTiming();
    env.step(a, s);  // a new pose each frame
    if (s.done()) env.reset(rng);
    a = -a;
    state.ResumeTiming();
    benchmark::DoNotOptimize(renderer.render(env).rgb.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void encode(benchmark::State& state) {
  spindle::mujoco::Env env = make("quadruped");
  spindle::Rng rng(0);
  env.reset(rng);
  render::Renderer renderer(env.model(), options("quadruped", false));
  const render::Image image = renderer.render(env);
  const auto path = std::filesystem::temp_directory_path() / "spindle_bench_render.mp4";
  render::VideoWriter video(path, image.width, image.height, {.fps = 30});
  for (auto _ : state) video.write(image);
  video.finish();
  std::filesystem::remove(path);
  state.SetItemsProcessed(state.iterations());
}

[[maybe_unused]] const int registered = [] {
  for (const std::string what : {"quadruped", "muscle_arm", "myohand_scene"}) {
    if (what == "myohand_scene" && !std::filesystem::exists(shared_file("myosuite_envs/myohand_pose.xml"))) continue;
    benchmark::RegisterBenchmark((what + "/fast").c_str(), frame, what, false)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((what + "/mujoco_defaults").c_str(), frame, what, true)->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("encode_h264_640x480", encode)->UseRealTime()->Unit(benchmark::kMillisecond);
  return 0;
}();

}  // namespace

BENCHMARK_MAIN();
