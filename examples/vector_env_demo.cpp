// Vector-environment demo: N Pendulums stepped in lockstep by an energy-shaping
// swing-up controller with exploration noise, with a live progress line.
//
//   vector_env_demo --envs 16 --steps 200000 --threads 2 --seed 1
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <spindle/spindle.hpp>

int main(int argc, char** argv) {
  CLI::App app{"spindle vector-environment demo: Pendulum swing-up with an energy controller"};
  int n_envs = 16, threads = 1;
  long total_steps = 200'000;
  std::uint64_t seed = 1;
  float noise = 0.3f;
  app.add_option("--envs", n_envs, "number of environment copies")->check(CLI::PositiveNumber);
  app.add_option("--steps", total_steps, "total environment steps")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "stepping threads (1 = serial, 0 = all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", seed, "random seed");
  app.add_option("--noise", noise, "std of the Gaussian action noise");
  CLI11_PARSE(app, argc, argv);

  using spindle::envs::Pendulum;
  spindle::VectorEnv<Pendulum> envs(n_envs, Pendulum(), {.n_threads = threads});
  spindle::Rng rng(seed, /*stream=*/1000);  // the controller's own stream
  envs.reset(seed);

  Eigen::MatrixXf actions(n_envs, 1);
  spindle::log::Progress progress(total_steps);
  double recent = 0.0, recent_count = 0.0;
  long episodes = 0, steps = 0;
  while (steps < total_steps) {
    const auto obs = envs.observations();  // (cos θ, sin θ, θ̇) per row, zero-copy
    for (int i = 0; i < n_envs; ++i) {
      const float c = obs(i, 0), s = obs(i, 1), w = obs(i, 2);
      // θ̈ = 15 sin θ + 3u conserves E = ½θ̇² + 15 cos θ, and dE/dt = 3uθ̇: pump E towards its
      // upright value 15, then balance with a PD law once near the top.
      const float energy = 0.5f * w * w + 15.0f * c;
      const float u = c > 0.95f ? -(10.0f * std::atan2(s, c) + 2.0f * w)
                                : 2.0f * (15.0f - energy) * (w >= 0 ? 1.0f : -1.0f);
      actions(i, 0) = u + noise * rng.normal<float>();
    }
    envs.step(actions);
    steps += n_envs;
    for (const auto& f : envs.finished_episodes()) {
      ++episodes;
      // Exponential moving average of episode returns: the "recent return" of the progress line.
      recent = recent_count == 0 ? f.record.episode_return : 0.9 * recent + 0.1 * f.record.episode_return;
      recent_count += 1;
    }
    progress.update(steps, recent_count > 0 ? std::optional(recent) : std::nullopt);
  }
  progress.finish(steps, recent_count > 0 ? std::optional(recent) : std::nullopt);
  std::printf("episodes: %ld, recent mean return: %.1f (random actions: about -1200; upright: > -200)\n",
              episodes, recent);
  return 0;
}
