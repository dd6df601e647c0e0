// PPO on Pendulum in the RLtools configuration: 4 envs × 1024 steps per rollout, 75 rollouts
// (307,200 steps), minibatches of 256, 2 epochs, policy and value MLPs with two hidden layers of
// 64 ReLU units, γ 0.9, initial action std 2.0 (on [−1, 1] actions), observation normalisation,
// Adam lr 1e-3, no entropy bonus; then 100 deterministic evaluation episodes. The last line is
//   result: steps=<n> train_seconds=<t> eval_return=<mean>
//   spindle_bench_ppo_pendulum [--seed N] [--steps N]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <spindle/algo.hpp>
#include <spindle/envs.hpp>

#include "run_args.hpp"

int main(int argc, char** argv) {
  const auto [seed, steps] = spindle_bench::parse_run_args(argc, argv, 75 * 4 * 1024);
  using spindle::envs::Pendulum;
  spindle::algo::PpoConfig c;
  c.learning_rate = 1e-3;
  c.n_envs = 4;
  c.n_steps = 1024;
  c.batch_size = 256;
  c.n_epochs = 2;
  c.gamma = 0.9;
  c.ent_coef = 0.0;
  c.policy_hidden = {64, 64};
  c.value_hidden = {64, 64};
  c.activation = spindle::autodiff::Activation::relu;
  c.normalize_observations = true;
  c.seed = seed;
  spindle::noise::DiagGaussian<float>::Config head;
  head.log_std_init = std::log(2.0);
  spindle::algo::Ppo<Pendulum> ppo(Pendulum{}, c, head);
  const auto t0 = std::chrono::steady_clock::now();
  ppo.learn(steps);
  const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double eval_return = ppo.evaluate(100);
  std::printf("result: steps=%ld train_seconds=%.3f eval_return=%.1f\n", ppo.num_timesteps(), train_seconds, eval_return);
}
