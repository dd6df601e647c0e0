// Train PPO on Pendulum from the command line, choosing the exploration noise; writes a CSV
// log, a checkpoint and, when gnuplot is installed, a PNG learning curve.
//
//   ppo_pendulum --noise gsde --steps 150000 --seed 1 --csv ppo.csv --plot ppo.png --save ppo.npz
//   ppo_pendulum --noise gsde --load ppo.npz --steps 200000   # continue a saved run
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/noise.hpp>

#include "support.hpp"

namespace {

using spindle::envs::Pendulum;

struct Options {
  long steps = 150'000;
  int eval_episodes = 10;
  std::string load, save;
};

// rl-baselines3-zoo's PPO Pendulum-v1 hyperparameters, SB3 names.
spindle::algo::PpoConfig pendulum_config(std::uint64_t seed, const std::string& csv) {
  spindle::algo::PpoConfig c;
  c.n_envs = 4;
  c.n_steps = 1024;
  c.batch_size = 64;
  c.n_epochs = 10;
  c.gamma = 0.9;
  c.gae_lambda = 0.95;
  c.learning_rate = 1e-3;
  c.sde_sample_freq = 4;
  c.seed = seed;
  c.csv_path = csv;
  c.progress = true;
  return c;
}

template <class Head>
void run(const spindle::algo::PpoConfig& c, const typename Head::Config& h, const Options& o) {
  spindle::algo::Ppo<Pendulum, Head> ppo(Pendulum{}, c, h);
  if (!o.load.empty()) {
    ppo.load(o.load);
    std::printf("resumed %s at %ld steps\n", o.load.c_str(), ppo.num_timesteps());
  }
  spindle_examples::train_and_report(ppo, o.steps, o.eval_episodes);
  if (!o.save.empty()) {
    ppo.save(o.save);
    std::printf("checkpoint: %s\n", o.save.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"PPO on Pendulum with spindle's exploration noises"};
  std::string noise = "gsde", csv = "ppo_pendulum.csv", png = "ppo_pendulum.png";
  std::uint64_t seed = 0;
  Options o;
  app.add_option("--noise", noise, "exploration noise")
      ->check(CLI::IsMember({"gaussian", "pink", "gsde", "lattice", "lattice-plain"}));
  app.add_option("--steps", o.steps, "total environment steps (a loaded run continues up to this)")
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "random seed (one seed: a bit-identical run)");
  app.add_option("--csv", csv, "CSV log (steps, episode, return, length, losses, approx_kl, clip fraction, steps/s)");
  app.add_option("--plot", png, "PNG learning curve (needs gnuplot; empty: none)");
  app.add_option("--save", o.save, "write a checkpoint here after training");
  app.add_option("--load", o.load, "continue the run saved in this checkpoint (same --noise)");
  app.add_option("--eval-episodes", o.eval_episodes, "deterministic evaluation episodes")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  const auto c = pendulum_config(seed, csv);
  namespace noise_ns = spindle::noise;
  try {
    if (noise == "gaussian") {
      run<noise_ns::DiagGaussian<float>>(c, {}, o);
    } else if (noise == "pink") {
      using Head = noise_ns::DiagGaussian<float, noise_ns::PinkNoise<float>>;
      Head::Config h;
      h.source.horizon = 200;  // Pendulum's episode length
      run<Head>(c, h, o);
    } else if (noise == "gsde") {
      noise_ns::Gsde<float>::Config h;
      h.log_std_init = 0.0;  // SB3's ActorCriticPolicy default
      run<noise_ns::Gsde<float>>(c, h, o);
    } else if (noise == "lattice") {
      run<noise_ns::Lattice<float>>(c, {}, o);
    } else {
      run<noise_ns::LatticePlain<float>>(c, {}, o);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ppo_pendulum: %s\n", e.what());
    return 1;
  }
  std::printf("CSV log: %s\n", csv.c_str());
  if (!png.empty())
    spindle_examples::plot_learning_curve(csv, png, "PPO on Pendulum (" + noise + " noise, seed " + std::to_string(seed) + ")");
}
