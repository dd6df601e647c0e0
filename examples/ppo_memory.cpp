// Memory on a partially observed task: Pendulum without its angular velocity (PendulumNoVel,
// observation cos θ, sin θ). PPO with a memoryless MLP, with networks reading a window of the
// last T observations and actions (policy::HistoryMlp, policy::Tcn), and recurrent PPO with
// LSTM or GRU actor and critic (or one LSTM shared by both), several seeds each, in rl-baselines3-zoo's ppo_lstm
// PendulumNoVel-v1 configuration.
// Prints a table of deterministic returns and train times, writes it as CSV and, with gnuplot,
// plots every run's learning curve (one colour per policy).
//
//   ppo_memory --steps 100000 --seeds 3 --history 4 --csv memory.csv --plot memory.png
//   ppo_memory --policies lstm gru --seeds 1
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <spindle/spindle.hpp>

#include "support.hpp"

namespace {

using namespace spindle;

// rl-zoo's ppo_lstm PendulumNoVel-v1 (also used for the two memoryless baselines).
algo::PpoConfig novel_config(std::uint64_t seed, const std::string& csv) {
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
  c.csv_path = csv;
  return c;
}

struct Outcome {
  double ret = 0, seconds = 0;
};

template <class Algorithm>
Outcome run(Algorithm& algorithm, long steps, int episodes) {
  const auto t0 = std::chrono::steady_clock::now();
  algorithm.learn(steps);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {algorithm.evaluate(episodes), seconds};
}

Outcome train(const std::string& policy, std::uint64_t seed, long steps, int episodes, Eigen::Index history,
              const std::string& curve) {
  using Env = envs::PendulumNoVel;
  using Head = noise::Gsde<float>;
  const algo::PpoConfig c = novel_config(seed, curve);
  const Head::Config head{.log_std_init = 0.0};
  if (policy == "mlp") {
    algo::Ppo<Env, Head> ppo({}, c, head);
    return run(ppo, steps, episodes);
  }
  if (policy == "history") {  // actor and critic both read the window
    algo::Ppo<Env, Head, policy::HistoryMlp, policy::HistoryMlp> ppo({}, c, head, {.history = history}, {.history = history});
    return run(ppo, steps, episodes);
  }
  if (policy == "tcn") {  // a small temporal-convolution encoder for actor and critic
    const policy::Tcn::Config tcn{.history = history, .step_hidden = {32}, .step_features = 16, .filters = 16,
                                  .convolutions = {{2, 1}, {2, 1}}};
    algo::Ppo<Env, Head, policy::Tcn, policy::Tcn> ppo({}, c, head, tcn, tcn);
    return run(ppo, steps, episodes);
  }
  algo::RecurrentPpoConfig recurrent{.ppo = c, .lstm_hidden_size = 64};
  if (policy == "gru") recurrent.cell = algo::RecurrentCell::gru;
  if (policy == "lstm_shared") {  // one LSTM; the critic reads its outputs, detached
    recurrent.enable_critic_lstm = false;
    recurrent.shared_lstm = true;
  }
  algo::RecurrentPpo<Env, Head> ppo({}, recurrent, head);
  return run(ppo, steps, episodes);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"PPO with memory (LSTM, GRU), history windows (MLP, TCN), and without memory on Pendulum without velocity"};
  long steps = 100'000;
  int seeds = 3, episodes = 10, history = 4;
  std::vector<std::string> policies{"mlp", "history", "tcn", "lstm", "lstm_shared", "gru"};
  std::string csv = "memory.csv", png = "memory.png";
  app.add_option("--steps", steps, "environment steps per run")->check(CLI::PositiveNumber);
  app.add_option("--seeds", seeds, "seeds per policy")->check(CLI::PositiveNumber);
  app.add_option("--episodes", episodes, "evaluation episodes per run")->check(CLI::PositiveNumber);
  app.add_option("--history", history, "window length T of the history MLP and the TCN")->check(CLI::Range(3, 64));
  app.add_option("--policies", policies, "which of mlp, history, tcn, lstm, lstm_shared, gru to train")
      ->check(CLI::IsMember({"mlp", "history", "tcn", "lstm", "lstm_shared", "gru"}));
  app.add_option("--csv", csv, "results table (CSV); learning curves go to <csv>.<policy>.<seed>.csv");
  app.add_option("--plot", png, "PNG of the learning curves of every run (needs gnuplot; empty: none)");
  CLI11_PARSE(app, argc, argv);

  std::ofstream table(csv);
  table << "policy,seed,return,train_seconds\n";
  std::printf("%-12s %4s %9s %8s\n", "policy", "seed", "return", "seconds");
  std::vector<spindle_examples::Run> runs;
  int color = 1;
  for (const std::string& policy : policies) {
    double mean = 0;
    for (int seed = 0; seed < seeds; ++seed) {
      const std::string curve = csv + "." + policy + "." + std::to_string(seed) + ".csv";
      const auto s = static_cast<std::uint64_t>(seed);
      const Outcome o = train(policy, s, steps, episodes, history, curve);
      std::printf("%-12s %4d %9.1f %8.1f\n", policy.c_str(), seed, o.ret, o.seconds);
      table << policy << ',' << seed << ',' << o.ret << ',' << o.seconds << '\n';
      runs.push_back({curve, policy + " seed " + std::to_string(seed), color, policy});
      mean += o.ret / seeds;
    }
    std::printf("%-12s mean %9.1f\n", policy.c_str(), mean);
    ++color;
  }
  std::printf("results: %s\n", csv.c_str());
  if (!png.empty()) spindle_examples::plot_bands(runs, png, "PPO on Pendulum without velocity: memory vs none", 20);
}
