// Offscreen rendering and video output (label render). Needs OSMesa (the target exists only
// with it) and ffmpeg on PATH; without ffmpeg the video cases say so and pass without checking.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <spindle/core.hpp>
#include <spindle/mujoco.hpp>
#include <spindle/render.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_render {

using namespace spindle;
namespace fs = std::filesystem;

namespace {

// A red box sliding along x over a grey floor, seen by a fixed camera.
const char* slider_xml = R"(<mujoco model="slider">
  <option timestep="0.01"/>
  <worldbody>
    <light pos="0 0 3" dir="0 0 -1"/>
    <geom name="floor" type="plane" size="3 3 0.1" rgba="0.5 0.5 0.5 1"/>
    <camera name="front" pos="0 -2.5 1" xyaxes="1 0 0 0 0.4 1"/>
    <body name="box" pos="0 0 0.3">
      <joint name="slide" type="slide" axis="1 0 0" damping="0.5"/>
      <geom type="box" size="0.2 0.2 0.2" mass="1" rgba="1 0 0 1"/>
    </body>
  </worldbody>
  <actuator><motor joint="slide" gear="5" ctrllimited="true" ctrlrange="-1 1"/></actuator>
</mujoco>)";

mujoco::Env slider() {
  mujoco::Model model = mujoco::Model::from_xml(slider_xml, "slider.xml");
  return mujoco::Env(std::move(model), {.frame_skip = 4, .observation = {mujoco::obs::qpos(), mujoco::obs::qvel()}},
                     {.reward = [](const mujoco::StepView& s) { return s.data.qpos[0]; }});
}

bool have_ffmpeg() {
  try {
    render::detail::find_program("ffmpeg");
    render::detail::find_program("ffprobe");
    return true;
  } catch (const render::render_error&) {
    MESSAGE("ffmpeg/ffprobe not on PATH: video checks skipped (apt-get install ffmpeg)");
    return false;
  }
}

std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  REQUIRE(pipe);
  std::string out;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe.get())) out += buffer;
  return out;
}

double mean_red_x(const render::Image& im) {  // the centre of the red pixels, in columns
  double sum = 0, n = 0;
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x)
      if (im.channel(x, y, 0) > 120 && im.channel(x, y, 1) < 60 && im.channel(x, y, 2) < 60) sum += x, n += 1;
  return n > 0 ? sum / n : -1;
}

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "spindle_test_render";
  fs::create_directories(dir);
  return dir / name;
}

}  // namespace

TEST_CASE("render: a frame has the asked size, is not blank, and follows the body") {
  mujoco::Env env = slider();
  Rng rng(0);
  env.reset(rng);
  render::Renderer renderer(env.model(), {.width = 160, .height = 120, .camera = render::Camera::named("front")});
  const render::Image& first = renderer.render(env);
  CHECK(first.width == 160);
  CHECK(first.height == 120);
  REQUIRE(first.rgb.size() == 160u * 120u * 3u);
  int lo = 255, hi = 0;
  for (auto v : first.rgb) lo = std::min<int>(lo, v), hi = std::max<int>(hi, v);
  CHECK(hi - lo > 50);  // not one flat colour
  const double x0 = mean_red_x(first);
  CHECK(x0 > 60);  // the box sits near the middle of the picture
  CHECK(x0 < 100);
  const std::vector<std::uint8_t> before = first.rgb;

  for (int i = 0; i < 10; ++i) env.step(Eigen::VectorXf::Constant(1, 1.0f));  // push it along +x
  REQUIRE(env.data().qpos[0] > 0.2);
  REQUIRE(env.data().qpos[0] < 1.0);
  const render::Image& moved = renderer.render(env);
  CHECK(moved.rgb != before);
  CHECK(mean_red_x(moved) > x0 + 5);  // to the right, as the camera looks along +y
}

TEST_CASE("render: free and tracking cameras, and unknown names are clear errors") {
  mujoco::Env env = slider();
  Rng rng(0);
  env.reset(rng);
  render::Renderer tracking(env.model(), {.width = 64, .height = 48,
                                          .camera = render::Camera::tracking("box", {.distance = 2, .azimuth = 90, .elevation = -20})});
  const double centred = mean_red_x(tracking.render(env));
  render::Renderer still(env.model(), {.width = 64, .height = 48,
                                       .camera = render::Camera::free({.distance = 2, .azimuth = 90, .elevation = -20,
                                                                        .lookat = {{0, 0, 0.3}}})});
  const double still_before = mean_red_x(still.render(env));
  for (int i = 0; i < 10; ++i) env.step(Eigen::VectorXf::Constant(1, 1.0f));
  const double still_after = mean_red_x(still.render(env));
  double followed = 0;
  for (int i = 0; i < 10; ++i) followed = mean_red_x(tracking.render(env));  // MuJoCo eases the camera in
  MESSAGE("box at x: still camera " << still_before << " -> " << still_after << ", tracking " << centred << " -> " << followed);
  CHECK(still_after > still_before + 8);
  CHECK(std::abs(followed - centred) < 2);  // the camera went along

  render::Renderer free(env.model(), {.width = 64, .height = 48, .camera = render::Camera::free({.lookat = {{0, 0, 0}}})});
  CHECK(mean_red_x(free.render(env)) >= 0);

  CHECK_THROWS_WITH_AS(render::Renderer(env.model(), {.camera = render::Camera::named("no_such_camera")}),
                       doctest::Contains("has no camera named 'no_such_camera'"), render::render_error);
  CHECK_THROWS_WITH_AS(render::Renderer(env.model(), {.camera = render::Camera::tracking("no_such_body")}),
                       doctest::Contains("has no body named 'no_such_body'"), render::render_error);
  CHECK_THROWS_WITH_AS(render::Renderer(env.model(), {.width = 0}), doctest::Contains("must be positive"),
                       render::render_error);
}

TEST_CASE("render: recording leaves the simulation bit-identical") {
  auto rollout = [](bool record) {
    mujoco::Env env = slider();
    Rng rng(7), act(8);
    std::unique_ptr<render::Renderer> renderer;
    if (record) renderer = std::make_unique<render::Renderer>(env.model(), render::RenderOptions{.width = 64, .height = 48});
    std::vector<double> trace;
    env.reset(rng);
    for (int i = 0; i < 60; ++i) {
      if (renderer) renderer->render(env);
      env.step(Eigen::VectorXf::Constant(1, static_cast<float>(act.uniform(-1.0, 1.0))));
      trace.insert(trace.end(), env.data().qpos, env.data().qpos + 1);
      trace.push_back(env.data().qvel[0]);
    }
    return trace;
  };
  CHECK(rollout(true) == rollout(false));
}

TEST_CASE("render: an MP4 of 30 frames has 30 frames, and PNG and GIF are written") {
  if (!have_ffmpeg()) return;
  mujoco::Env env = slider();
  Rng rng(0);
  env.reset(rng);
  const fs::path mp4 = scratch("thirty.mp4");
  fs::remove(mp4);
  const double step_time = 4 * 0.01;
  {
    // One frame per control step: fps = 1 / (frame_skip · timestep).
    render::Recorder recorder(mp4, env.model(), {.render = {.width = 96, .height = 64}, .fps = 1.0 / step_time});
    CHECK(recorder.capture(env) == 1);
    for (int i = 0; i < 29; ++i) {
      env.step(Eigen::VectorXf::Constant(1, 0.5f));
      CHECK(recorder.capture(env) == 1);
    }
    CHECK(recorder.frames() == 30);
    recorder.finish();
  }
  const std::string counted = run("ffprobe -v error -count_frames -select_streams v:0 -show_entries "
                                  "stream=nb_read_frames,width,height,codec_name -of csv=p=0 '" + mp4.string() + "'");
  CHECK(counted == "h264,96,64,30\n");

  // Twice the frame rate: every control step gives two frames, so the video plays in real time.
  const fs::path gif = scratch("double.gif");
  {
    render::Recorder recorder(gif, env.model(), {.render = {.width = 48, .height = 32}, .fps = 2.0 / step_time});
    env.reset(rng);
    CHECK(recorder.capture(env) == 1);
    env.step(Eigen::VectorXf::Constant(1, 0.5f));
    CHECK(recorder.capture(env) == 2);
    env.reset(rng);  // a new episode starts filming again at once
    CHECK(recorder.capture(env) == 1);
    recorder.finish();
    CHECK(recorder.frames() == 4);
  }
  CHECK(run("ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 '" + gif.string() + "'") == "4\n");

  const fs::path png = scratch("frame.png");
  fs::remove(png);
  render::Renderer renderer(env.model(), {.width = 33, .height = 21});
  render::write_png(png, renderer.render(env));
  CHECK(run("ffprobe -v error -show_entries stream=width,height,codec_name -of csv=p=0 '" + png.string() + "'") ==
        "png,33,21\n");
}

TEST_CASE("render: unwritable paths, unknown formats and a missing ffmpeg are clear errors") {
  mujoco::Env env = slider();
  // Options as named values: GCC 12 misreads temporaries of them in a throwing constructor.
  const render::RecorderOptions defaults{};
  render::RecorderOptions absent = defaults, unknown = defaults;
  absent.ffmpeg = "/no/such/ffmpeg";
  unknown.ffmpeg = "spindle-no-such-encoder";
  CHECK_THROWS_WITH_AS(render::Recorder("/no/such/dir/out.mp4", env.model(), defaults),
                       doctest::Contains("directory '/no/such/dir' does not exist"), render::render_error);
  CHECK_THROWS_WITH_AS(render::Recorder(scratch("out.avi"), env.model(), defaults), doctest::Contains("unknown video format"),
                       render::render_error);
  CHECK_THROWS_WITH_AS(render::Recorder(scratch("out.mp4"), env.model(), absent),
                       doctest::Contains("'/no/such/ffmpeg' not found"), render::render_error);
  CHECK_THROWS_WITH_AS(render::Recorder(scratch("out.mp4"), env.model(), unknown), doctest::Contains("not found on PATH"),
                       render::render_error);
  if (!have_ffmpeg()) return;
  // ffmpeg itself failing (here: the output path is a directory) is reported with its words.
  const fs::path directory = scratch("a_directory.mp4");
  fs::create_directories(directory);
  render::VideoWriter writer(directory, 2, 2);
  const render::Image black{2, 2, std::vector<std::uint8_t>(12, 0)};
  auto write_all = [&] {
    for (int i = 0; i < 50; ++i) writer.write(black);
    writer.finish();
  };
  CHECK_THROWS_WITH_AS(write_all(), doctest::Contains("ffmpeg failed to write"), render::render_error);
}

TEST_CASE("render: decorations are drawn over the model, and the muscle arm's muscles follow activation") {
  auto red_pixels = [](const render::Image& im) {
    int n = 0;
    for (int y = 0; y < im.height; ++y)
      for (int x = 0; x < im.width; ++x) n += im.channel(x, y, 0) > 150 && im.channel(x, y, 1) < 90 && im.channel(x, y, 2) < 90;
    return n;
  };
  mujoco::Env arm = mujoco::muscle_arm();
  Rng rng(0);
  arm.reset(rng);
  const render::Camera above = render::Camera::free({.distance = 1.3, .azimuth = 90, .elevation = -89, .lookat = {{0.25, 0.1, 0}}});
  render::Renderer plain(arm.model(), {.width = 160, .height = 120, .camera = above});
  render::RenderOptions with_muscles{.width = 160, .height = 120, .camera = above};
  with_muscles.decorate = render::muscle_arm_muscles();
  render::Renderer decorated(arm.model(), with_muscles);
  const std::vector<std::uint8_t> without = plain.render(arm).rgb;
  const int relaxed = red_pixels(decorated.render(arm));
  CHECK(decorated.render(arm).rgb != without);  // the muscles are drawn
  for (int i = 0; i < 10; ++i) arm.step(Eigen::VectorXf::Ones(6));  // every muscle fully excited
  const int excited = red_pixels(decorated.render(arm));
  MESSAGE("red pixels: relaxed " << relaxed << ", excited " << excited);
  CHECK(excited > relaxed + 50);
}

}  // namespace test_render
