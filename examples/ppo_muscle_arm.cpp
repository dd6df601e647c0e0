// PPO on the muscle-driven arm (6 muscles, random reach targets): Lattice against the diagonal
// Gaussian, several seeds each. Prints a table of success rate, return and muscle effort
// (mean squared activation) over deterministic evaluation episodes, writes it as CSV and,
// with gnuplot, plots every run's learning curve (one colour per noise).
//
//   ppo_muscle_arm --steps 200000 --seeds 3 --csv muscle_arm.csv --plot muscle_arm.png
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <spindle/algo.hpp>
#include <spindle/mujoco.hpp>
#include <spindle/noise.hpp>

#include "film.hpp"
#include "support.hpp"

namespace {

using spindle::mujoco::Env;

struct Outcome {
  double success = 0, ret = 0, effort = 0, seconds = 0;
};

spindle::algo::PpoConfig arm_config(std::uint64_t seed, const std::string& csv) {
  spindle::algo::PpoConfig c;
  c.n_envs = 4;
  c.n_steps = 512;
  c.batch_size = 256;
  c.n_epochs = 10;
  c.gamma = 0.98;
  c.gae_lambda = 0.95;
  c.learning_rate = 3e-4;
  c.sde_sample_freq = 4;
  c.policy_hidden = {128, 128};
  c.value_hidden = {128, 128};
  c.normalize_observations = true;
  c.seed = seed;
  c.csv_path = csv;
  return c;
}

template <class Head>
Outcome train(std::uint64_t seed, long steps, int episodes, const typename Head::Config& h, const std::string& csv,
              const spindle_examples::FilmOptions& film = {}) {
  spindle::algo::Ppo<Env, Head> ppo(spindle::mujoco::muscle_arm(), arm_config(seed, csv), h);
  const auto t0 = std::chrono::steady_clock::now();
  ppo.learn(steps);
  Outcome o;
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Deterministic evaluation on a fresh arm, observations normalised as in training.
  Env env = spindle::mujoco::muscle_arm();
  spindle::Rng rng(1000 + seed);
  spindle::Step<spindle::dynamic, float> s;
  Eigen::VectorXf a(env.action_size());
  for (int e = 0; e < episodes; ++e) {
    Eigen::VectorXf obs = env.reset(rng);
    do {
      ppo.predict(obs, a);
      env.step(a, s);
      o.ret += s.reward;
      obs = s.observation;
    } while (!s.done());
    o.success += env.success();
    o.effort += env.episode_effort();
  }
  if (!film.video.empty())
    spindle_examples::film(env, rng, [&](const Eigen::VectorXf& ob, Eigen::VectorXf& act) { ppo.predict(ob, act); }, film);
  o.success /= episodes;
  o.ret /= episodes;
  o.effort /= episodes;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"PPO with Lattice vs the diagonal Gaussian on spindle's muscle arm"};
  long steps = 200'000;
  int seeds = 3, episodes = 50;
  std::string csv = "muscle_arm.csv", png = "muscle_arm.png", video{};
  app.add_option("--steps", steps, "environment steps per run")->check(CLI::PositiveNumber);
  app.add_option("--seeds", seeds, "seeds per noise")->check(CLI::PositiveNumber);
  app.add_option("--episodes", episodes, "evaluation episodes per run")->check(CLI::PositiveNumber);
  app.add_option("--csv", csv, "results table (CSV); learning curves go to <csv>.<noise>.<seed>.csv");
  app.add_option("--plot", png, "PNG of the learning curves of every run (needs gnuplot; empty: none)");
  app.add_option("--video", video,
                 "film 3 deterministic reaches of each noise's seed-0 policy: <stem>.<noise>.mp4 and a still <stem>.<noise>.png "
                 "(muscles coloured by activation; needs spindle::render)");
  CLI11_PARSE(app, argc, argv);

  std::ofstream table(csv);
  table << "noise,seed,success,return,effort,train_seconds\n";
  std::printf("%-8s %4s %8s %9s %8s %8s\n", "noise", "seed", "success", "return", "effort", "seconds");
  std::vector<spindle_examples::Run> runs;
  for (const std::string noise : {"gaussian", "lattice"}) {
    Outcome mean;
    for (int seed = 0; seed < seeds; ++seed) {
      const std::string curve = csv + "." + noise + "." + std::to_string(seed) + ".csv";
      spindle_examples::FilmOptions film{};
      if (!video.empty() && seed == 0) {
        const std::filesystem::path v(video);
        const auto stem = (v.parent_path() / v.stem()).string() + "." + noise;
        film = {.video = stem + v.extension().string(), .still = stem + ".png", .still_step = 20, .episodes = 3};
#ifdef SPINDLE_EXAMPLES_RENDER
        film.camera = spindle::render::Camera::free({.distance = 1.2, .azimuth = 90, .elevation = -89, .lookat = {{0.25, 0, 0}}});
        film.decorate = spindle::render::muscle_arm_muscles();
#endif
      }
      const Outcome o = noise == "lattice"
                            ? train<spindle::noise::Lattice<float>>(seed, steps, episodes, {}, curve, film)
                            : train<spindle::noise::DiagGaussian<float>>(seed, steps, episodes, {}, curve, film);
      std::printf("%-8s %4d %8.2f %9.2f %8.4f %8.1f\n", noise.c_str(), seed, o.success, o.ret, o.effort, o.seconds);
      table << noise << ',' << seed << ',' << o.success << ',' << o.ret << ',' << o.effort << ',' << o.seconds << '\n';
      runs.push_back({curve, noise + " seed " + std::to_string(seed), noise == "lattice" ? 2 : 1, noise});
      mean.success += o.success / seeds;
      mean.ret += o.ret / seeds;
      mean.effort += o.effort / seeds;
    }
    std::printf("%-8s mean %8.2f %9.2f %8.4f\n", noise.c_str(), mean.success, mean.ret, mean.effort);
  }
  std::printf("results: %s\n", csv.c_str());
  if (!png.empty()) {
    spindle_examples::plot_bands(runs, png, "PPO on the muscle arm: Lattice vs diagonal Gaussian");
  }
}
