// Recurrent PPO learns partially observed tasks that a memoryless policy cannot: Pendulum
// without its velocity (rl-baselines3-zoo's ppo_lstm PendulumNoVel-v1 configuration, 100k steps)
// and continuous CartPole without velocities. Labelled "learning".
#include <doctest/doctest.h>

#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/noise.hpp>

using namespace spindle;

namespace {

// rl-zoo's ppo_lstm PendulumNoVel-v1: 4 envs × 1024 steps, γ 0.9, λ 0.95, 10 epochs, lr 1e-3,
// clip 0.2, gSDE resampled every 4 steps, observation and reward normalisation; LSTM(64) for
// actor and critic, one 64-unit ReLU layer after each, no orthogonal init.
algo::PpoConfig pendulum_novel_config(std::uint64_t seed) {
  algo::PpoConfig c;
  c.n_envs = 4;
  c.n_steps = 1024;
  c.batch_size = 128;
  c.n_epochs = 10;
  c.gamma = 0.9;
  c.gae_lambda = 0.95;
  c.learning_rate = 1e-3;
  c.clip_range = 0.2;
  c.sde_sample_freq = 4;
  c.normalize_observations = true;
  c.normalize_rewards = true;
  c.ortho_init = false;
  c.activation = autodiff::Activation::relu;
  c.policy_hidden = {64};
  c.value_hidden = {64};
  c.seed = seed;
  return c;
}

}  // namespace

TEST_CASE("Recurrent PPO (LSTM) learns Pendulum without velocity in 100k steps; the memoryless MLP does not") {
  for (std::uint64_t seed : {0u, 1u, 2u}) {
    CAPTURE(seed);
    algo::RecurrentPpo<envs::PendulumNoVel, noise::Gsde<float>> lstm({}, {.ppo = pendulum_novel_config(seed), .lstm_hidden_size = 64},
                                                                      {.log_std_init = 0.0});
    lstm.learn(100'000);
    const double recurrent = lstm.evaluate(10);
    algo::Ppo<envs::PendulumNoVel, noise::Gsde<float>> mlp({}, pendulum_novel_config(seed), {.log_std_init = 0.0});
    mlp.learn(100'000);
    const double memoryless = mlp.evaluate(10);
    MESSAGE("seed " << seed << ": recurrent " << recurrent << ", memoryless MLP " << memoryless);
    CHECK(recurrent >= -250);
    CHECK(recurrent > memoryless + 300);
  }
}
