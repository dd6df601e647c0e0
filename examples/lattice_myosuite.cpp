// Lattice's claim on MyoSuite's musculoskeletal tasks: PPO with Lattice, gSDE and the diagonal
// Gaussian on elbow, finger and hand pose (the real MyoSim models), in the Lattice authors'
// settings (../shared/specs/myosuite.md §8: observation and reward normalisation, 128 steps per
// environment, minibatches of 32, 10 epochs, lr 2.55673e-5, clip 0.3, γ 0.99, λ 0.9, vf_coef
// 0.836, max_grad_norm 0.7, ent_coef 3.6e-6, expln, std_clip (1e-3, 10), noise resampled every
// step, log_std_init −1, their pose variants) — with an MLP policy (256, 256 ReLU) by default, or
// their recurrent one with --lstm 256 (RecurrentPpo: an LSTM in actor and critic before the MLPs).
// Several seeds each; a table of final return, success rate, MyoSuite's effort
// (mean ‖act‖₂/na) and the mean squared activation (mean ± SEM over seeds), learning curves
// per run (gnuplot PNG, one colour per noise), and the wall time of each run.
//
//   lattice_myosuite --shared ../shared --tasks elbow --steps 600000 --seeds 3 --csv lattice.csv --plot lattice.png
//   mpirun -np 2 lattice_myosuite ...   # each run data-parallel over 2 ranks, one run at a time (spindle::mpi)
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>
#include <spindle/algo.hpp>
#include <spindle/mujoco.hpp>
#include <spindle/noise.hpp>

#include "distributed.hpp"
#include "film.hpp"
#include "support.hpp"

namespace {

using namespace spindle;
using namespace spindle::mujoco::myosuite;

struct Outcome {
  std::string task, noise;
  int seed = 0;
  double ret = 0, success = 0, effort = 0, squared = 0, seconds = 0;
  double communication = 0;  // seconds in collective calls (distributed runs)
  long gradient_steps = 0, parameters = 0;
};

PoseConfig task_config(const std::string& task, const std::filesystem::path& shared) {
  if (task == "elbow") return elbow_pose(shared / "myosuite_envs/myoelbow_1dof6muscles.xml", Variant::lattice);
  if (task == "finger") return finger_pose(shared / "myo_sim/finger/myofinger_v0.xml", Variant::lattice);
  return hand_pose(shared / "myosuite_envs/myohand_pose.xml", Variant::lattice);
}

algo::PpoConfig lattice_settings(std::uint64_t seed, int n_envs, const std::vector<int>& hidden, const std::string& csv) {
  algo::PpoConfig c;
  c.n_envs = n_envs;
  c.n_steps = 128;
  c.batch_size = 32;
  c.n_epochs = 10;
  c.learning_rate = 2.55673e-5;
  c.ent_coef = 3.62109e-6;
  c.clip_range = 0.3;
  c.gamma = 0.99;
  c.gae_lambda = 0.9;
  c.max_grad_norm = 0.7;
  c.vf_coef = 0.835671;
  c.sde_sample_freq = 1;
  c.normalize_observations = true;
  c.normalize_rewards = true;
  c.ortho_init = false;
  c.activation = autodiff::Activation::relu;
  c.policy_hidden = c.value_hidden = std::vector<Eigen::Index>(hidden.begin(), hidden.end());
  c.seed = seed;
  c.csv_path = csv;
  return c;
}

// Trains `ppo` (Ppo or RecurrentPpo), then rank 0 evaluates deterministically with `act(observation,
// action, episode_start)` and films when asked.
template <class Trainer, class Act>
Outcome train_and_evaluate(Trainer& ppo, const PoseConfig& config, std::uint64_t seed, long steps, int episodes, Act act,
                           const spindle_examples::FilmOptions& film, const spindle_examples::Ranks& ranks) {
  ranks.distribute(ppo);
  const auto t0 = std::chrono::steady_clock::now();
  const double communication0 = ranks.communication_seconds();
  ppo.learn(steps);
  Outcome o;
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  o.communication = ranks.communication_seconds() - communication0;
  o.gradient_steps = ppo.num_updates();
  o.parameters = long(ppo.policy().values().size());
  if (!ranks.root()) return o;  // rank 0 evaluates, films and reports
  Pose env(config);  // deterministic evaluation, observations normalised as in training
  Rng rng(1000 + seed, 3);
  Step<spindle::dynamic, float> s;
  Eigen::VectorXf a(env.action_size());
  for (int e = 0; e < episodes; ++e) {
    Eigen::VectorXf obs = env.reset(rng);
    bool first = true;
    do {
      act(obs, a, first);
      first = false;
      env.step(a, s);
      o.ret += s.reward / episodes;
      obs = s.observation;
    } while (!s.done());
    o.success += (env.success() ? 1.0 : 0.0) / episodes;
    o.effort += env.effort() / episodes;
    o.squared += env.mean_squared_activation() / episodes;
  }
  if (!film.video.empty())  // MLP policies only (main refuses --video with --lstm: film() has no episode starts)
    spindle_examples::film(env, rng, [&](const Eigen::VectorXf& ob, Eigen::VectorXf& action) { act(ob, action, false); }, film);
  return o;
}

// lstm > 0: the authors' recurrent policy (sb3-contrib's RecurrentPPO: an LSTM of `lstm` units in the
// actor and another in the critic, then the MLPs); 0: the MLP policy.
template <class Head>
Outcome train(const std::string& task, const std::filesystem::path& shared, std::uint64_t seed, long steps, int n_envs,
              const std::vector<int>& hidden, int lstm, int episodes, typename Head::Config head, const std::string& csv,
              const spindle_examples::FilmOptions& film, const spindle_examples::Ranks& ranks) {
  const PoseConfig config = task_config(task, shared);
  const algo::PpoConfig settings = lattice_settings(seed, n_envs, hidden, ranks.root() ? csv : std::string());
  if (lstm > 0) {
    algo::RecurrentPpo<Pose, Head> ppo(Pose(config), {.ppo = settings, .lstm_hidden_size = lstm}, head);
    algo::RecurrentState<float> state;
    return train_and_evaluate(ppo, config, seed, steps, episodes,
                              [&](const Eigen::VectorXf& obs, Eigen::VectorXf& a, bool start) { ppo.predict(obs, a, state, start); },
                              film, ranks);
  }
  algo::Ppo<Pose, Head> ppo(Pose(config), settings, head);
  return train_and_evaluate(ppo, config, seed, steps, episodes,
                            [&](const Eigen::VectorXf& obs, Eigen::VectorXf& a, bool) { ppo.predict(obs, a); }, film, ranks);
}

std::string cell(const std::vector<double>& x, const char* format) {
  double m = 0, ss = 0;
  for (double v : x) m += v / static_cast<double>(x.size());
  for (double v : x) ss += (v - m) * (v - m);
  const double sem = x.size() > 1 ? std::sqrt(ss / static_cast<double>(x.size() - 1) / static_cast<double>(x.size())) : 0.0;
  char buf[96];
  std::snprintf(buf, sizeof buf, format, m, sem);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"PPO with Lattice, gSDE and the diagonal Gaussian on MyoSuite's pose tasks (the Lattice authors' settings)"};
  std::string shared = "../shared";
  std::vector<std::string> tasks{"elbow"}, noises{"gaussian", "gsde", "lattice"};
  long steps = 600'000;
  int seeds = 3, episodes = 20, n_envs = 4, jobs = 2;
  std::string csv = "lattice.csv", png = "lattice.png";
  app.add_option("--shared", shared, "folder holding myosuite_envs/ and myo_sim/ (MyoHub's myo_sim and MyoSuite's scenes)");
  app.add_option("--tasks", tasks, "elbow, finger, hand")->check(CLI::IsMember({"elbow", "finger", "hand"}));
  app.add_option("--noises", noises, "gaussian, gsde, lattice")->check(CLI::IsMember({"gaussian", "gsde", "lattice"}));
  app.add_option("--steps", steps, "environment steps per run")->check(CLI::PositiveNumber);
  app.add_option("--seeds", seeds, "seeds per task and noise")->check(CLI::PositiveNumber);
  std::vector<int> hidden{256, 256};
  app.add_option("--hidden", hidden, "hidden layer widths of the policy and the value networks (the authors' MLP: 256 256)")
      ->check(CLI::PositiveNumber);
  int lstm = 0;
  app.add_option("--lstm", lstm,
                 "LSTM units before the MLPs in actor and critic, as the authors' RecurrentPPO policy (they use 256); "
                 "0: MLP policy")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--envs", n_envs, "environments per run (the authors: 16)")->check(CLI::PositiveNumber);
  app.add_option("--jobs", jobs, "runs at a time (each on one thread)")->check(CLI::PositiveNumber);
  app.add_option("--episodes", episodes, "evaluation episodes per run")->check(CLI::PositiveNumber);
  app.add_option("--csv", csv, "results table (CSV); learning curves go to <csv>.<task>.<noise>.<seed>.csv");
  app.add_option("--plot", png, "PNG of the learning curves, one per task: <png> with the task's name (gnuplot; empty: none)");
  std::string video{};
  app.add_option("--video", video,
                 "film 3 deterministic episodes of each task and noise's seed-0 policy: <stem>.<task>.<noise>.mp4 "
                 "(muscles coloured by activation; needs spindle::render)");
  CLI11_PARSE(app, argc, argv);
  if (lstm > 0 && !video.empty()) {
    std::fprintf(stderr, "lattice_myosuite: --video films MLP policies only (not with --lstm)\n");
    return 2;
  }
  return spindle_examples::with_ranks(argc, argv, [&](const spindle_examples::Ranks& ranks) {
    if (ranks.size > 1) jobs = 1;  // one run at a time, spread over the ranks

    std::vector<Outcome> plan;
    for (const auto& task : tasks)
      for (const auto& noise : noises)
        for (int seed = 0; seed < seeds; ++seed) plan.push_back({.task = task, .noise = noise, .seed = seed});
    std::mutex lock;  // the printout
    spindle_examples::run_jobs(plan.size(), jobs, [&](std::size_t i) {
      Outcome& o = plan[i];
      const auto seed = static_cast<std::uint64_t>(o.seed);
      const std::string curve = csv + "." + o.task + "." + o.noise + "." + std::to_string(o.seed) + ".csv";
      spindle_examples::FilmOptions film{};
      if (!video.empty() && o.seed == 0) {
        const std::filesystem::path v(video);
        film = {.video = (v.parent_path() / v.stem()).string() + "." + o.task + "." + o.noise + v.extension().string(),
                .episodes = 3};
      }
      // The authors' heads: log_std_init −1, expln, full_std off, std_clip (1e-3, 10).
      Outcome r;
      if (o.noise == "lattice")
        r = train<noise::Lattice<float>>(o.task, shared, seed, steps, n_envs, hidden, lstm, episodes,
                                         {.std_max = 10.0, .full_std = false, .use_expln = true, .log_std_init = -1.0}, curve, film, ranks);
      else if (o.noise == "gsde")
        r = train<noise::Gsde<float>>(o.task, shared, seed, steps, n_envs, hidden, lstm, episodes,
                                      {.full_std = false, .use_expln = true, .log_std_init = -1.0}, curve, film, ranks);
      else
        r = train<noise::DiagGaussian<float>>(o.task, shared, seed, steps, n_envs, hidden, lstm, episodes, {.log_std_init = -1.0},
                                              curve, film, ranks);
      r.task = o.task;
      r.noise = o.noise;
      r.seed = o.seed;
      o = r;
      const std::lock_guard<std::mutex> guard(lock);
      std::printf("%-6s %-8s seed %d: return %8.2f success %.2f effort %.4f mean act² %.4f (%.1f s, %.0f steps/s)\n",
                  o.task.c_str(), o.noise.c_str(), o.seed, o.ret, o.success, o.effort, o.squared, o.seconds,
                  double(steps) / o.seconds);
      if (ranks.size > 1)
        std::printf("       %d ranks: collective calls %.2f s, %.3f ms per gradient step (%ld steps, %ld parameters)\n",
                    ranks.size, o.communication, 1e3 * o.communication / double(std::max(o.gradient_steps, 1L)),
                    o.gradient_steps, o.parameters);
      std::fflush(stdout);
    });
    if (!ranks.root()) return;

    std::ofstream table(csv);
    table << "task,noise,seed,return,success,effort,mean_squared_activation,train_seconds\n";
    for (const Outcome& o : plan)
      table << o.task << ',' << o.noise << ',' << o.seed << ',' << o.ret << ',' << o.success << ',' << o.effort << ',' << o.squared
            << ',' << o.seconds << '\n';
    std::printf("\n| task | noise | return | success | effort ‖act‖/na | mean act² | seconds per run |\n|---|---|---|---|---|---|---|\n");
    for (const auto& task : tasks)
      for (const auto& noise : noises) {
        std::vector<double> ret, success, effort, squared, seconds;
        for (const Outcome& o : plan)
          if (o.task == task && o.noise == noise) {
            ret.push_back(o.ret);
            success.push_back(100 * o.success);
            effort.push_back(o.effort);
            squared.push_back(o.squared);
            seconds.push_back(o.seconds);
          }
        std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", task.c_str(), noise.c_str(), cell(ret, "%.1f ± %.1f").c_str(),
                    cell(success, "%.0f%% ± %.0f").c_str(), cell(effort, "%.4f ± %.4f").c_str(),
                    cell(squared, "%.4f ± %.4f").c_str(), cell(seconds, "%.0f ± %.0f").c_str());
      }
    std::printf("results: %s\n", csv.c_str());
    if (png.empty()) return;
    for (const auto& task : tasks) {
      std::vector<spindle_examples::Run> runs;
      int color = 1;
      for (const auto& noise : noises) {
        for (int seed = 0; seed < seeds; ++seed)
          runs.push_back({csv + "." + task + "." + noise + "." + std::to_string(seed) + ".csv", noise + " seed " + std::to_string(seed), color, noise});
        ++color;
      }
      const std::string out = png.substr(0, png.rfind('.')) + "." + task + ".png";
      spindle_examples::plot_bands(runs, out, "PPO on MyoSuite " + task + " pose (the Lattice authors settings, " +
                                    (lstm > 0 ? "LSTM " + std::to_string(lstm) : std::string("MLP")) + " policy)", 50);
    }
  });
}
