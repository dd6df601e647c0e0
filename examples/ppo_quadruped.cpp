// PPO teaches spindle's Ant-like quadruped to walk forward. Prints the mean return of the
// latest episodes as training goes, the share of wall time spent outside MuJoCo (learning,
// acting, the adapter), and a deterministic evaluation: return, distance walked, episode
// length. With --sigma > 0 every episode draws a new body (DMAP's morphology perturbation).
//
//   ppo_quadruped --steps 1000000 --csv quadruped.csv --plot quadruped.png
//   mpirun -np 2 ppo_quadruped --steps 1000000   # data-parallel over 2 ranks (spindle::mpi)
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <numeric>
#include <spindle/algo.hpp>
#include <spindle/mujoco.hpp>
#include <spindle/noise.hpp>

#include "distributed.hpp"
#include "film.hpp"
#include "support.hpp"

namespace {

using spindle::mujoco::Env;

struct Options {
  long steps = 1'000'000;
  std::uint64_t seed = 0;
  double sigma = 0.0;
  int threads = 1;
  int episodes = 5;
  std::string csv = "quadruped.csv", png = "quadruped.png", save{}, video{}, still{};
};

// CleanRL's / SB3's MuJoCo PPO settings: 2048 steps per rollout, minibatches of 64, 10 epochs,
// linearly decaying learning rate, normalised observations and rewards, 64×64 tanh networks.
spindle::algo::PpoConfig quadruped_config(const Options& o) {
  spindle::algo::PpoConfig c;
  c.n_envs = 4;
  c.n_steps = 512;
  c.batch_size = 64;
  c.n_epochs = 10;
  c.gamma = 0.99;
  c.gae_lambda = 0.95;
  c.learning_rate = spindle::algo::Schedule::linear(3e-4);
  c.normalize_observations = true;
  c.normalize_rewards = true;
  c.n_threads = o.threads;
  c.seed = o.seed;
  c.csv_path = o.csv;
  return c;
}

template <class Head>
void run(const Options& o, const typename Head::Config& head, const spindle_examples::Ranks& ranks) {
  Env prototype = spindle::mujoco::quadruped({.sigma = o.sigma});
  spindle::algo::PpoConfig config = quadruped_config(o);
  if (!ranks.root()) config.csv_path.clear();
  spindle::algo::Ppo<Env, Head> ppo(prototype, config, head);
  ranks.distribute(ppo);  // under mpirun: every rank its own 4 environments, one averaged gradient

  std::deque<double> recent;  // returns of the latest 20 episodes
  ppo.hooks().on_episode = [&](const spindle::FinishedEpisode& e) {
    recent.push_back(e.record.episode_return);
    if (recent.size() > 20) recent.pop_front();
  };
  const long report_every = std::max<long>(o.steps / 10, 1);
  long next_report = report_every;
  std::printf("%10s %14s %10s\n", "steps", "mean return*", "seconds");
  const auto t0 = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  ppo.hooks().on_update = [&](const spindle::algo::PpoUpdate& u) {
    if (u.step < next_report) return;
    next_report += report_every;
    const double mean = recent.empty() ? 0.0 : std::accumulate(recent.begin(), recent.end(), 0.0) / double(recent.size());
    std::printf("%10ld %14.1f %10.1f\n", u.step, mean, seconds());
    std::fflush(stdout);
  };
  ppo.learn(o.steps);
  const double wall = seconds();
  double physics = 0;
  for (Eigen::Index i = 0; i < ppo.envs().venv().size(); ++i) physics += ppo.envs().venv().env(i).physics_seconds();
  std::printf("* over the latest 20 training episodes (stochastic actions)\n");
  std::printf("trained %ld steps in %.1f s (%.0f steps/s)\n", ppo.num_timesteps(), wall, double(ppo.num_timesteps()) / wall);
  if (ranks.size > 1) {
    const long rollouts = ppo.num_timesteps() / (config.n_steps * config.n_envs * ranks.size);
    std::printf("%d ranks: %ld rollouts, %ld gradient steps; collective calls %.2f s (%.1f ms per rollout, %.3f ms per "
                "gradient step; waiting for the slowest rank included), %ld parameters\n",
                ranks.size, rollouts, ppo.num_updates(), ranks.communication_seconds(),
                1e3 * ranks.communication_seconds() / double(std::max(rollouts, 1L)),
                1e3 * ranks.communication_seconds() / double(std::max(ppo.num_updates(), 1L)), long(ppo.policy().values().size()));
  }
  if (o.threads == 1) {
    std::printf("time inside MuJoCo %.1f s; outside MuJoCo (PPO, acting, adapter) %.1f s = %.1f%% of wall time\n", physics,
                wall - physics, 100.0 * (wall - physics) / wall);
  } else {
    std::printf("MuJoCo CPU time %.1f s over %d threads (run with --threads 1 for the share of wall time)\n", physics,
                o.threads);
  }

  if (!ranks.root()) {  // the checkpoint is written by all ranks together (rank 0 writes the file)
    if (!o.save.empty()) ppo.save(o.save);
    return;
  }
  // Deterministic evaluation on fresh bodies (σ as in training), observations normalised as in training.
  Env env = spindle::mujoco::quadruped({.sigma = o.sigma});
  spindle::Rng rng(1000 + o.seed);
  spindle::Step<spindle::dynamic, float> s;
  Eigen::VectorXf a(env.action_size());
  double ret = 0, distance = 0, length = 0;
  for (int e = 0; e < o.episodes; ++e) {
    Eigen::VectorXf obs = env.reset(rng);
    const double x0 = env.data().qpos[0];
    do {
      ppo.predict(obs, a);
      env.step(a, s);
      ret += s.reward;
      obs = s.observation;
    } while (!s.done());
    distance += env.data().qpos[0] - x0;
    length += double(env.episode_steps());
  }
  std::printf("deterministic evaluation over %d episodes: return %.1f, forward distance %.2f m, length %.0f steps\n",
              o.episodes, ret / o.episodes, distance / o.episodes, length / o.episodes);
  if (!o.video.empty()) {
    spindle_examples::FilmOptions film{.video = o.video, .still = o.still};
#ifdef SPINDLE_EXAMPLES_RENDER
    film.camera = spindle::render::Camera::tracking("torso", {.distance = 5, .azimuth = 60, .elevation = -20});
#endif
    spindle_examples::film(env, rng, [&](const Eigen::VectorXf& ob, Eigen::VectorXf& act) { ppo.predict(ob, act); }, film);
  }
  if (!o.save.empty()) {
    ppo.save(o.save);
    std::printf("saved %s\n", o.save.c_str());
  }
  if (!o.png.empty() && !o.csv.empty())
    spindle_examples::plot_learning_curve(o.csv, o.png, "PPO on the quadruped (return vs environment steps)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"PPO on spindle's MuJoCo quadruped: forward locomotion"};
  Options o;
  std::string noise = "gaussian";
  app.add_option("--steps", o.steps, "environment steps")->check(CLI::PositiveNumber);
  app.add_option("--seed", o.seed, "seed");
  app.add_option("--sigma", o.sigma, "morphology perturbation range (0: the nominal body)")->check(CLI::Range(0.0, 0.9));
  app.add_option("--threads", o.threads, "threads stepping the 4 environments")->check(CLI::Range(1, 4));
  app.add_option("--episodes", o.episodes, "deterministic evaluation episodes")->check(CLI::PositiveNumber);
  app.add_option("--noise", noise, "exploration noise")->check(CLI::IsMember({"gaussian", "gsde", "lattice"}));
  app.add_option("--csv", o.csv, "per-episode log (CSV; empty: none)");
  app.add_option("--plot", o.png, "PNG of return vs steps (needs gnuplot; empty: none)");
  app.add_option("--save", o.save, "checkpoint written after training");
  app.add_option("--video", o.video, "film one deterministic episode after training (.mp4 or .gif; needs spindle::render)");
  app.add_option("--still", o.still, "with --video: a PNG of the 100th step");
  CLI11_PARSE(app, argc, argv);
  return spindle_examples::with_ranks(argc, argv, [&](const spindle_examples::Ranks& ranks) {
    if (noise == "lattice") run<spindle::noise::Lattice<float>>(o, {}, ranks);
    else if (noise == "gsde") run<spindle::noise::Gsde<float>>(o, {.log_std_init = 0.0}, ranks);
    else run<spindle::noise::DiagGaussian<float>>(o, {}, ranks);
  });
}
