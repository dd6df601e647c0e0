// Films a saved policy: loads a checkpoint written by an example's --save (Ppo::save / Sac::save)
// into spindle::deploy::Policy and writes a video of deterministic episodes. Training and filming
// stay separate; without --checkpoint the body gets zero actions (look at a model, or at a
// MyoSuite scene with --mjcf).
//
//   ppo_quadruped --steps 1000000 --save quadruped.npz
//   render_policy --env quadruped --checkpoint quadruped.npz --video walk.mp4 --camera track:torso
//   render_policy --mjcf ../shared/myosuite_envs/myohand_pose.xml --video hand.mp4 --steps 60
#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <spindle/deploy.hpp>
#include <spindle/mujoco.hpp>
#include <spindle/noise.hpp>

#include "film.hpp"

namespace {

using spindle::mujoco::Env;

struct Options {
  std::string env = "quadruped", mjcf{}, checkpoint{}, head = "gaussian", camera = "free";
  double sigma = 0.0, distance = 0.0, azimuth = 90.0, elevation = -20.0;
  long steps = 0;  // --mjcf: episode length
  std::uint64_t seed = 0;
  spindle_examples::FilmOptions film{.video = "policy.mp4"};
};

Env make_env(const Options& o) {
  if (!o.mjcf.empty()) {
    spindle::mujoco::Model model = spindle::mujoco::Model::from_file(o.mjcf);
    return Env(std::move(model), {.frame_skip = 10, .max_episode_steps = o.steps > 0 ? o.steps : 100,
                                  .observation = {spindle::mujoco::obs::qpos()}});
  }
  if (o.env == "quadruped") return spindle::mujoco::quadruped({.sigma = o.sigma});
  if (o.env == "runner") return spindle::mujoco::runner({.sigma = o.sigma});
  return spindle::mujoco::muscle_arm();
}

template <class Head>
std::function<void(const Eigen::VectorXf&, Eigen::VectorXf&)> load(const std::string& checkpoint, const Env& env) {
  auto policy = std::make_shared<spindle::deploy::Policy<Head>>(checkpoint);
  if (policy->action_size() != env.action_size())
    throw std::invalid_argument("render_policy: '" + checkpoint + "' acts with " + std::to_string(policy->action_size()) +
                                " actions, the environment takes " + std::to_string(env.action_size()));
  return [policy](const Eigen::VectorXf& obs, Eigen::VectorXf& a) { policy->act(obs, a); };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Film a saved policy (or a model at rest) offscreen to MP4/GIF"};
  Options o;
  app.add_option("--env", o.env, "the environment the policy was trained on")
      ->check(CLI::IsMember({"quadruped", "runner", "muscle_arm"}));
  app.add_option("--mjcf", o.mjcf, "film this MJCF instead (zero actions), e.g. a MyoSuite scene");
  app.add_option("--checkpoint", o.checkpoint, "checkpoint written by --save (empty: zero actions)");
  app.add_option("--head", o.head, "the exploration head the policy was trained with")
      ->check(CLI::IsMember({"gaussian", "gsde", "lattice"}));
  app.add_option("--sigma", o.sigma, "morphology perturbation of quadruped/runner bodies")->check(CLI::Range(0.0, 0.9));
  app.add_option("--video", o.film.video, "output (.mp4 or .gif)");
  app.add_option("--still", o.film.still, "a PNG of one frame of the first episode");
  app.add_option("--still-step", o.film.still_step, "the step --still shows");
  app.add_option("--episodes", o.film.episodes, "episodes to film")->check(CLI::PositiveNumber);
  app.add_option("--steps", o.steps, "with --mjcf: steps per episode (default 100)");
  app.add_option("--width", o.film.width, "pixels")->check(CLI::PositiveNumber);
  app.add_option("--height", o.film.height, "pixels")->check(CLI::PositiveNumber);
  app.add_option("--fps", o.film.fps, "frames per second of simulated time")->check(CLI::PositiveNumber);
  app.add_option("--camera", o.camera, "free, track:<body> or camera:<name in the MJCF>");
  app.add_option("--distance", o.distance, "camera distance (0: from the model's size)");
  app.add_option("--azimuth", o.azimuth, "camera azimuth, degrees");
  app.add_option("--elevation", o.elevation, "camera elevation, degrees");
  app.add_option("--seed", o.seed, "seed of the episodes' initial states");
  CLI11_PARSE(app, argc, argv);

  try {
    Env env = make_env(o);
#ifdef SPINDLE_EXAMPLES_RENDER
    namespace render = spindle::render;
    const render::View view{.distance = o.distance, .azimuth = o.azimuth, .elevation = o.elevation};
    if (o.camera.starts_with("track:")) o.film.camera = render::Camera::tracking(o.camera.substr(6), view);
    else if (o.camera.starts_with("camera:")) o.film.camera = render::Camera::named(o.camera.substr(7));
    else if (o.camera == "free") o.film.camera = render::Camera::free(view);
    else throw std::invalid_argument("render_policy: --camera must be free, track:<body> or camera:<name>, got '" + o.camera + "'");
    if (o.mjcf.empty() && o.env == "muscle_arm") o.film.decorate = render::muscle_arm_muscles();
#endif
    std::function<void(const Eigen::VectorXf&, Eigen::VectorXf&)> act = [](const Eigen::VectorXf&, Eigen::VectorXf& a) {
      a.setZero();
    };
    if (!o.checkpoint.empty()) {
      if (o.head == "gsde") act = load<spindle::noise::Gsde<float>>(o.checkpoint, env);
      else if (o.head == "lattice") act = load<spindle::noise::Lattice<float>>(o.checkpoint, env);
      else act = load<spindle::noise::DiagGaussian<float>>(o.checkpoint, env);
    }
    spindle::Rng rng(o.seed);
    spindle_examples::film(env, rng, act, o.film);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "render_policy: %s\n", e.what());
    return 1;
  }
}
