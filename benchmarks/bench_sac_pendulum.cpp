// SAC on Pendulum in the RLtools JMLR configuration: 1 env, actor and twin critics with two
// hidden layers of 64 ReLU units, batch 100, replay 10k, 100 warm-up steps, γ 0.99, τ 0.005,
// automatic α from 0.5 with target entropy −1, Adam (lr 1e-3), one gradient step per env step,
// 10k env steps; then 100 deterministic evaluation episodes. The last line is
//   result: steps=<n> train_seconds=<t> eval_return=<mean>
//   spindle_bench_sac_pendulum [--seed N] [--steps N]
#include <chrono>
#include <cstdio>
#include <spindle/algo.hpp>
#include <spindle/envs.hpp>

#include "run_args.hpp"

int main(int argc, char** argv) {
  const auto [seed, steps] = spindle_bench::parse_run_args(argc, argv, 10'000);
  using spindle::envs::Pendulum;
  spindle::algo::SacConfig c;
  c.learning_rate = 1e-3;
  c.buffer_size = 10'000;
  c.learning_starts = 100;
  c.batch_size = 100;
  c.gamma = 0.99;
  c.tau = 0.005;
  c.ent_coef_init = 0.5;
  c.target_entropy = -1.0;
  c.actor_hidden = {64, 64};
  c.critic_hidden = {64, 64};
  c.seed = seed;
  spindle::algo::Sac<Pendulum> sac(Pendulum{}, c);
  const auto t0 = std::chrono::steady_clock::now();
  sac.learn(steps);
  const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double eval_return = sac.evaluate(100);
  std::printf("result: steps=%ld train_seconds=%.3f eval_return=%.1f\n", sac.num_timesteps(), train_seconds, eval_return);
}
