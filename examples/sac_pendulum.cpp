// Train SAC on Pendulum from the command line, choosing the exploration noise; writes a CSV
// log and, when gnuplot is installed, a PNG learning curve.
//
//   sac_pendulum --noise lattice --steps 20000 --seed 1 --csv sac.csv --plot sac.png
//   mpirun -np 2 sac_pendulum ...   # data-parallel over 2 ranks: each rank its own replay buffer (spindle::mpi)
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/noise.hpp>

#include "distributed.hpp"
#include "support.hpp"

namespace {

using spindle::envs::Pendulum;

spindle::algo::SacConfig pendulum_config(std::uint64_t seed, const std::string& csv) {
  spindle::algo::SacConfig c;  // RLtools' Pendulum configuration, SB3 names
  c.learning_rate = 1e-3;
  c.buffer_size = 10'000;
  c.batch_size = 100;
  c.ent_coef_init = 0.5;
  c.actor_hidden = {64, 64};
  c.critic_hidden = {64, 64};
  c.sde_sample_freq = 8;
  c.seed = seed;
  c.csv_path = csv;
  c.progress = true;
  return c;
}

template <class Head>
double run(const spindle::algo::SacConfig& c, const typename Head::Config& h, long steps, int eval_episodes,
           const spindle_examples::Ranks& ranks) {
  spindle::algo::Sac<Pendulum, Head> sac(Pendulum{}, c, h);
  ranks.distribute(sac);
  const double ret = spindle_examples::train_and_report(sac, steps, eval_episodes);
  if (ranks.comm)
    std::printf("%d ranks: collective calls %.2f s, %.3f ms per gradient step (%ld steps)\n", ranks.size,
                ranks.communication_seconds(), 1e3 * ranks.communication_seconds() / double(std::max(1L, sac.num_updates())),
                sac.num_updates());
  return ret;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"SAC on Pendulum with spindle's exploration noises"};
  std::string noise = "gaussian", csv = "sac_pendulum.csv", png = "sac_pendulum.png";
  long steps = 10'000;
  std::uint64_t seed = 0;
  int eval_episodes = 10;
  app.add_option("--noise", noise, "exploration noise")
      ->check(CLI::IsMember({"gaussian", "pink", "gsde", "lattice"}));
  app.add_option("--steps", steps, "environment steps")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "random seed (one seed: a bit-identical run)");
  app.add_option("--csv", csv, "CSV log (steps, episode, return, length, losses, ent_coef, steps/s)");
  app.add_option("--plot", png, "PNG learning curve (needs gnuplot; empty: none)");
  app.add_option("--eval-episodes", eval_episodes, "deterministic evaluation episodes")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  return spindle_examples::with_ranks(argc, argv, [&](const spindle_examples::Ranks& ranks) {
    const auto c = pendulum_config(seed, ranks.root() ? csv : std::string());
    if (noise == "gaussian") {
      run<spindle::noise::SquashedGaussian<float>>(c, {}, steps, eval_episodes, ranks);
    } else if (noise == "pink") {
      using Head = spindle::noise::SquashedGaussian<float, spindle::noise::PinkNoise<float>>;
      Head::Config h;
      h.source.horizon = 200;  // Pendulum's episode length
      run<Head>(c, h, steps, eval_episodes, ranks);
    } else if (noise == "gsde") {
      spindle::noise::Gsde<float>::Config h;  // SB3's SAC actor with use_sde
      h.squash_output = true;
      h.learn_features = true;
      h.clip_mean = 2.0;
      h.log_std_init = -3.0;
      run<spindle::noise::Gsde<float>>(c, h, steps, eval_episodes, ranks);
    } else {
      spindle::noise::Lattice<float>::Config h;  // the Lattice authors' SAC settings
      h.squash_output = true;
      h.learn_features = true;
      h.clip_mean = 2.0;
      h.use_expln = true;
      h.std_reg = 0.05;  // ReLU latents can be all zero; keeps Σ positive definite
      h.log_std_init = -3.0 + 0.5 * std::log(64.0);
      run<spindle::noise::Lattice<float>>(c, h, steps, eval_episodes, ranks);
    }
    std::printf("CSV log: %s\n", csv.c_str());
    if (ranks.root() && !png.empty())
      spindle_examples::plot_learning_curve(csv, png, "SAC on Pendulum (" + noise + " noise, seed " + std::to_string(seed) + ")");
  });
}
