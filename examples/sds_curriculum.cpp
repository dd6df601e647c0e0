// The static-to-dynamic (SDS) curriculum ablation of the 2022 MyoChallenge winners, on the ball
// tray (mujoco::BallTray, a Baoding-like task sized for 2 cores): PPO with no curriculum, a
// location-only curriculum (the start mismatch widened at full speed), a speed-only curriculum
// (the period shortened, no static stage) and SDS (hold still, then slow, then fast, with random
// directions from the first moving stage as the winners had them, then the mismatch and ball
// physics), several seeds each, every stage advanced by the success rate in one run. All end at
// a phase-2-like task (any direction, any start phase, period ±20%, ball mass and friction
// varied); the table gives success rates on a phase-1-like task (one direction, start near the
// ball, nominal ball) and on the phase-2-like one (mean ± SEM over seeds), each run's stage
// timeline, and with gnuplot the learning curves and the stage-versus-steps plot. The policy sees
// the last 4 observations and actions (the direction of the target is in their differences; the
// winners used an LSTM), and PPO stops an update's epochs at KL 0.03 (without it the policy's
// entropy collapsed and the per-update KL reached 0.5–0.8 on the tray).
//
//   sds_curriculum --steps 16000000 --seeds 3 --jobs 2 --period 1.25 --history 4 --target-kl 0.02 --csv sds.csv --plot sds.png
//   sds_curriculum --steps 8000000 --seeds 3 --jobs 2 --period 2 --history 4 --target-kl 0.02
//   sds_curriculum --steps 8000000 --seeds 3 --jobs 2 --period 2 --target-kl 0.02 --lstm 64 --curricula sds none
//   sds_curriculum --baoding ../shared/myosuite_envs/myohand_baoding.xml --steps 500000
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <spindle/spindle.hpp>
#include <spindle/mujoco.hpp>
#include <spindle/noise.hpp>

#include "film.hpp"
#include "support.hpp"

namespace {

using namespace spindle;
using namespace spindle::curriculum;
using mujoco::BallTray;

constexpr double still = 1e9;  // a period that never turns

/// What a stage sets: the orbit's period range, its direction (CCW, or random among CW / hold /
/// CCW), the start mismatch (fraction of π), the RSI probability, and whether the ball's mass
/// and friction vary.
struct Setting {
  double period_low, period_high;
  bool any_direction;
  double mismatch, rsi;
  bool vary_ball;
};

Stage stage(std::string name, const Setting& s) {
  return {.name = std::move(name),
          .params = {{"period", range(s.period_low, s.period_high)},
                     {"direction", s.any_direction ? range(-1.5, 1.5) : fixed(1)},
                     {"phase_mismatch", fixed(s.mismatch)},
                     {"rsi", fixed(s.rsi)},
                     {"mass_low", fixed(s.vary_ball ? 0.03 : 0.05)},
                     {"mass_high", fixed(s.vary_ball ? 0.1 : 0.05)},
                     {"friction_spread", fixed(s.vary_ball ? 0.2 : 0.0)}}};
}

/// The phase-2-like final task every curriculum ends at (as the winners' runs ended at P2):
/// period U(0.8P, 1.2P), any direction (or holding), any start phase, ball mass 0.03–0.1 kg,
/// friction ± 20%.
Setting final_setting(double P) { return {0.8 * P, 1.2 * P, true, 1.0, 0.0, true}; }

/// The phase-1-like task (evaluation only): one period P, counter-clockwise, the target starting
/// within ±0.25π of the ball, the nominal ball.
mujoco::BallTrayTask phase1_task(double P) {
  mujoco::BallTrayTask t = mujoco::BallTrayTask::moving(P);
  t.orbit.phase_mismatch = curriculum::fixed(0.25);
  return t;
}
/// The phase-2-like task as BallTrayTask (evaluation).
mujoco::BallTrayTask phase2_task(double P) {
  mujoco::BallTrayTask t;
  t.orbit.period = {0.8 * P, 1.2 * P};
  t.orbit.direction = {-1.5, 1.5};
  t.orbit.phase_mismatch = curriculum::fixed(1.0);
  t.mass = {0.03, 0.1};
  t.friction_spread = 0.2;
  return t;
}

/// The curricula of the ablation, each ending at the phase-2-like task. Stages before the last
/// are capped at `cap` steps each.
std::vector<Stage> curriculum_named(const std::string& name, double P, long cap) {
  const Setting final = final_setting(P);
  std::vector<Stage> s;
  if (name == "none") {
    s = {stage("final", final)};
  } else if (name == "location") {  // full speed throughout; the start mismatch widens
    s = {stage("on target", {P, P, false, 0, 1, false}), stage("±0.25π", {P, P, false, 0.25, 0, false}),
         stage("±0.5π", {P, P, false, 0.5, 0, false}), stage("any phase", {P, P, false, 1, 0, false}), stage("final", final)};
  } else if (name == "speed") {  // no static stage: the period shortens, all else final
    for (double k : {4.0, 3.0, 2.0, 1.5}) {
      Setting slow = final;
      slow.period_low = 0.8 * k * P;
      slow.period_high = 1.2 * k * P;
      s.push_back(stage(std::to_string(k).substr(0, 3) + "P", slow));
    }
    s.push_back(stage("final", final));
  } else if (name == "sds_late") {  // SDS with one direction (CCW) until the full speed, then directions
    s = {stage("hold", {still, still, false, 0, 1, false}), stage("4P", {4 * P, 4 * P, false, 0, 0.9, false}),
         stage("2P", {2 * P, 2 * P, false, 0, 0.5, false}), stage("1.5P", {1.5 * P, 1.5 * P, false, 0, 0, false}),
         stage("P", {P, P, false, 0.25, 0, false}), stage("P, directions", {P, P, true, 0.25, 0, false}),
         stage("any phase", {0.8 * P, 1.2 * P, true, 1, 0, false}), stage("final", final)};
  } else if (name == "sds_gradual") {  // SDS with two more speeds between 1.5P and P (1.25P, 1.1P)
    s = curriculum_named("sds", P, cap);
    s.insert(s.begin() + 4, {stage("1.25P", {1.25 * P, 1.25 * P, true, 0, 0, false}),
                             stage("1.1P", {1.1 * P, 1.1 * P, true, 0, 0, false})});  // before 'P'
  } else if (name == "sds_fine") {  // SDS, then the start mismatch widened in small steps at full speed
    s = {stage("hold", {still, still, false, 0, 1, false}), stage("4P", {4 * P, 4 * P, true, 0, 0.9, false}),
         stage("2P", {2 * P, 2 * P, true, 0, 0.5, false}), stage("1.5P", {1.5 * P, 1.5 * P, true, 0, 0, false}),
         stage("P", {P, P, true, 0, 0, false}), stage("P ±0.1π", {P, P, true, 0.1, 0, false}),
         stage("P ±0.25π", {P, P, true, 0.25, 0, false}), stage("P ±0.5π", {P, P, true, 0.5, 0, false}),
         stage("any phase", {0.8 * P, 1.2 * P, true, 1, 0, false}), stage("final", final)};
  } else {  // sds: hold the ball still, then the target moves, faster; then mismatch, directions, ball physics
    // As the winners did, the direction is random from the first moving stage on (their stages 2–5).
    s = {stage("hold", {still, still, false, 0, 1, false}), stage("4P", {4 * P, 4 * P, true, 0, 0.9, false}),
         stage("2P", {2 * P, 2 * P, true, 0, 0.5, false}), stage("1.5P", {1.5 * P, 1.5 * P, true, 0, 0, false}),
         stage("P", {P, P, true, 0.25, 0, false}), stage("any phase", {0.8 * P, 1.2 * P, true, 1, 0, false}),
         stage("final", final)};
  }
  for (std::size_t k = 0; k + 1 < s.size(); ++k) s[k].max_steps = cap;
  return s;
}

struct Result {
  std::string curriculum;
  int seed = 0;
  double final_success = 0, final_score = 0, varied_success = 0, varied_score = 0, moving_success = 0, moving_score = 0,
         seconds = 0;
  std::vector<Transition> timeline{};
  std::size_t stages = 0;
};

/// The policy's view of the tray: the tray itself (an MLP), or the last T observations and
/// actions (a history MLP: the target's direction, which no single observation shows, is in the
/// difference of two). The winners' policy was an LSTM; a window is the affordable memory here.
template <int T>
struct TrayViewOf {
  using type = HistoryWindow<BallTray, T>;
};
template <>
struct TrayViewOf<0> {
  using type = BallTray;
};
template <int T>
using TrayView = typename TrayViewOf<T>::type;

template <int T>
const BallTray& tray_of(const TrayView<T>& env) {
  if constexpr (T == 0) return env;
  else return env.inner();
}

/// Acts deterministically, one episode after another: an MLP policy carries nothing between
/// steps; an LSTM policy carries its state, which restarts with each episode.
template <class Algorithm>
struct Actor {
  Algorithm& ppo;
  template <class Obs, class Act>
  void operator()(const Obs& o, Act& a) { ppo.predict(o, a); }
  void restart() {}
};
template <class Env, class Head>
struct Actor<algo::RecurrentPpo<Env, Head>> {
  algo::RecurrentPpo<Env, Head>& ppo;
  algo::RecurrentState<float> state{};
  bool first = true;
  template <class Obs, class Act>
  void operator()(const Obs& o, Act& a) {
    ppo.predict(o, a, state, first);
    first = false;
  }
  void restart() { first = true; }
};

/// Success rate and mean score of the deterministic policy over `episodes` episodes of `task`.
template <int T, class Algorithm>
std::pair<double, double> evaluate(Actor<Algorithm>& act, const mujoco::BallTrayTask& task, int episodes, std::uint64_t seed) {
  TrayView<T> env(BallTray({.task = task}));
  Rng rng(seed, 7);
  double success = 0, score = 0;
  for (int e = 0; e < episodes; ++e) {
    auto o = env.reset(rng);
    act.restart();
    while (true) {
      BallTray::Action a;
      act(o, a);
      const auto s = env.step(a);
      o = s.observation;
      if (s.terminated || s.truncated) break;
    }
    success += tray_of<T>(env).success() ? 1 : 0;
    score += tray_of<T>(env).score();
  }
  return {success / episodes, score / episodes};
}

/// PPO's settings for both tasks: 256 steps per environment, minibatches of 256, 10 epochs,
/// lr 3e-4, observation and reward normalisation; the episode log at `csv`.
algo::PpoConfig ppo_settings(int seed, Eigen::Index n_envs, Eigen::Index hidden, const std::string& csv) {
  algo::PpoConfig c;
  c.n_envs = n_envs;
  c.n_steps = 256;
  c.batch_size = 256;
  c.n_epochs = 10;
  c.learning_rate = 3e-4;
  c.normalize_observations = true;
  c.normalize_rewards = true;
  c.policy_hidden = c.value_hidden = {hidden, hidden};
  c.seed = static_cast<std::uint64_t>(seed);
  c.csv_path = csv;
  return c;
}

/// The PPO settings the ablation's command line can change.
struct Tuning {
  double learning_rate = 3e-4;
  double target_kl = 0;  // 0: every epoch runs
  double ent_coef = 0;   // PPO's entropy bonus, every curriculum alike
  Eigen::Index lstm = 0;  // > 0: an LSTM policy and critic of this many units (RecurrentPpo) instead of an MLP
};

/// The scheduler of curriculum `name` for a run of `steps`: every stage before the last is capped
/// so that the final stage gets at least half the run.
std::shared_ptr<Scheduler> scheduler_for(const std::string& name, long steps, double P) {
  const std::size_t n_stages = curriculum_named(name, P, 0).size();
  const long cap = n_stages > 1 ? steps / (2 * static_cast<long>(n_stages - 1)) : 0;
  return std::make_shared<Scheduler>(curriculum_named(name, P, cap),
                                     Rule{.signal = Signal::success_rate, .window = 50, .threshold = 0.8, .min_steps = 50'000});
}

/// Trains `ppo` (its scheduler attached) for `steps`, then evaluates it on the phase-1-like and
/// phase-2-like tasks and films the seed-0 policy if asked.
template <int T, class Algorithm>
Result train_and_evaluate(Algorithm& ppo, const Scheduler& scheduler, const std::string& name, int seed, long steps, double P,
                          int episodes, const std::string& video) {
  const auto t0 = std::chrono::steady_clock::now();
  ppo.learn(steps);
  Result r{.curriculum = name, .seed = seed};
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Actor<Algorithm> act{ppo};
  std::tie(r.final_success, r.final_score) = evaluate<T>(act, phase1_task(P), episodes, 1000 + static_cast<std::uint64_t>(seed));
  std::tie(r.varied_success, r.varied_score) = evaluate<T>(act, phase2_task(P), episodes, 2000 + static_cast<std::uint64_t>(seed));
  // A third of phase 2's episodes hold the target still: report the moving ones apart (half CW, half CCW).
  for (double direction : {-1.0, 1.0}) {
    mujoco::BallTrayTask t = phase2_task(P);
    t.orbit.direction = curriculum::fixed(direction);
    const auto [success, score] = evaluate<T>(act, t, (episodes + 1) / 2, 3000 + static_cast<std::uint64_t>(seed));
    r.moving_success += success / 2;
    r.moving_score += score / 2;
  }
  r.timeline = scheduler.timeline();
  r.stages = scheduler.stage_count();
  if (!video.empty() && seed == 0) {  // three phase-2 episodes of the seed-0 policy
    const std::filesystem::path v(video);
    TrayView<T> env(BallTray({.task = phase2_task(P)}));
    Rng rng(4000, 7);
    spindle_examples::film(env, rng, [&](const auto& obs, Eigen::VectorXf& a) { act(obs, a); },
                           {.video = (v.parent_path() / v.stem()).string() + "." + name + v.extension().string(),
                            .episodes = 3, .on_reset = [&] { act.restart(); }});
  }
  return r;
}

/// One run of the ablation: PPO with an MLP policy on the tray (T = 0) or on its last T
/// observations and actions; with tuning.lstm, recurrent PPO on the tray itself.
template <int T>
Result run(const std::string& name, int seed, long steps, double P, int episodes, const std::string& prefix,
           const Tuning& tuning, const std::string& video = {}) {
  auto scheduler = scheduler_for(name, steps, P);
  algo::PpoConfig c = ppo_settings(seed, 8, 64, prefix + ".episodes.csv");
  c.learning_rate = tuning.learning_rate;
  if (tuning.target_kl > 0) c.target_kl = tuning.target_kl;
  c.ent_coef = tuning.ent_coef;
  if constexpr (T == 0) {  // the LSTM remembers for itself: it reads the tray, not a window (main picks T = 0)
    if (tuning.lstm > 0) {
      algo::RecurrentPpo<Staged<BallTray>> ppo(Staged<BallTray>(BallTray(mujoco::BallTrayConfig{}), scheduler),
                                               {.ppo = c, .lstm_hidden_size = tuning.lstm}, {.log_std_init = -0.5});
      attach(ppo, scheduler, {.csv_path = prefix + ".stages.csv"});
      return train_and_evaluate<0>(ppo, *scheduler, name, seed, steps, P, episodes, video);
    }
  }
  algo::Ppo<Staged<TrayView<T>>> ppo(Staged<TrayView<T>>(TrayView<T>(BallTray(mujoco::BallTrayConfig{})), scheduler), c,
                                     {.log_std_init = -0.5});
  attach(ppo, scheduler, {.csv_path = prefix + ".stages.csv"});
  return train_and_evaluate<T>(ppo, *scheduler, name, seed, steps, P, episodes, video);
}

/// SDS on MyoSuite's Baoding balls (the real 39-muscle hand), as far as a short run goes: the
/// winners' stages (hold with RSI, periods 30 → 5 s, then P1's 5 s) with the winners' reward
/// weights; prints the stage timeline and the latest scores. One run on one thread.
int baoding_run(const std::filesystem::path& model, long steps, int seed, const std::string& prefix) {
  using mujoco::myosuite::Baoding;
  auto sds = [](std::string name, double period, double rsi) {
    return Stage{.name = std::move(name), .params = {{"period", fixed(period)}, {"rsi", fixed(rsi)}}};
  };
  std::vector<Stage> stages{sds("hold", still, 1.0), sds("30 s", 30, 0.95), sds("20 s", 20, 0.9), sds("15 s", 15, 0.9),
                            sds("10 s", 10, 0.5), sds("7 s", 7, 0), sds("P1 (5 s)", 5, 0)};
  // Success: solved on at least half the steps without a drop; advance at 0.5 over 20 episodes.
  auto scheduler = std::make_shared<Scheduler>(stages, Rule{.signal = Signal::success_rate, .window = 20, .threshold = 0.5,
                                                            .min_steps = 20'000});
  algo::PpoConfig c = ppo_settings(seed, 4, 256, prefix + ".episodes.csv");
  c.activation = autodiff::Activation::relu;
  c.progress = true;
  const mujoco::myosuite::BaodingConfig config{.model = model, .weights = mujoco::myosuite::BaodingWeights::winners()};
  algo::Ppo<Staged<Baoding>, noise::Gsde<float>> ppo(Staged<Baoding>(Baoding(config), scheduler), c, {.log_std_init = -1.0});
  attach(ppo, scheduler, {.csv_path = prefix + ".stages.csv", .print = true});
  const auto t0 = std::chrono::steady_clock::now();
  ppo.learn(steps);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("baoding: %ld steps in %.0f s (%.0f steps/s), stage %zu/%zu ('%s'), signal %.2f\n", ppo.num_timesteps(), seconds,
              double(ppo.num_timesteps()) / seconds, scheduler->stage() + 1, scheduler->stage_count(),
              scheduler->current().name.c_str(), scheduler->last_signal());
  for (const auto& t : scheduler->timeline())
    std::printf("  step %ld: stage %zu -> %zu (signal %.2f%s)\n", t.step, t.from, t.to, t.signal, t.forced ? ", capped" : "");
  return 0;
}

std::pair<double, double> mean_sem(const std::vector<double>& x) {
  double m = 0;
  for (double v : x) m += v / static_cast<double>(x.size());
  double ss = 0;
  for (double v : x) ss += (v - m) * (v - m);
  const double sem = x.size() > 1 ? std::sqrt(ss / static_cast<double>(x.size() - 1) / static_cast<double>(x.size())) : 0.0;
  return {m, sem};
}

}  // namespace

namespace {
int run_main(int argc, char** argv) {
  CLI::App app{"The SDS curriculum ablation on the ball tray: none, location-only, speed-only, SDS"};
  long steps = 8'000'000;
  int seeds = 3, jobs = 2, episodes = 50, history = 4;
  Tuning tuning{.target_kl = 0.02};
  double period = 2;
  std::vector<std::string> curricula{"none", "location", "speed", "sds"};
  std::string csv = "sds.csv", png = "sds.png", baoding, video;
  app.add_option("--baoding", baoding,
                 "instead of the ablation: one SDS run on MyoSuite's Baoding (path to myohand_baoding.xml)");
  app.add_option("--steps", steps, "environment steps per run")->check(CLI::PositiveNumber);
  app.add_option("--seeds", seeds, "seeds per curriculum")->check(CLI::PositiveNumber);
  app.add_option("--jobs", jobs, "runs at a time (each on one thread)")->check(CLI::PositiveNumber);
  app.add_option("--period", period, "the final task's period P (s per revolution)")->check(CLI::PositiveNumber);
  app.add_option("--episodes", episodes, "evaluation episodes per task")->check(CLI::PositiveNumber);
  app.add_option("--curricula", curricula, "which of none, location, speed, sds, sds_late (SDS, directions only at full speed), sds_fine (SDS, "
                 "then the start mismatch widened in steps of 0.1π, 0.25π, 0.5π at full speed), sds_gradual (SDS with "
                 "1.25P and 1.1P between 1.5P and P)")
      ->check(CLI::IsMember({"none", "location", "speed", "sds", "sds_late", "sds_fine", "sds_gradual"}));
  app.add_option("--history", history,
                 "the policy sees the last T observations and actions (0: the current observation only)")
      ->check(CLI::IsMember({0, 4}));
  app.add_option("--lstm", tuning.lstm,
                 "an LSTM policy and critic of this many units (recurrent PPO, sb3-contrib's MlpLstmPolicy; the winners' "
                 "choice) reading the tray itself, instead of an MLP on a history window (0: the MLP)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--learning-rate", tuning.learning_rate, "PPO's learning rate")->check(CLI::PositiveNumber);
  app.add_option("--target-kl", tuning.target_kl,
                 "stop an update's epochs when the approximate KL passes 1.5 × this (0: never)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--ent-coef", tuning.ent_coef, "PPO's entropy coefficient (the same for every curriculum)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--csv", csv, "results table (CSV); per run: <csv>.<curriculum>.<seed>.{episodes,stages}.csv");
  app.add_option("--plot", png, "PNG of the learning curves and <png>.stages.png of the stages (gnuplot; empty: none)");
  app.add_option("--video", video,
                 "film 3 phase-2 episodes of each curriculum's seed-0 policy: <stem>.<curriculum>.mp4 (needs spindle::render)");
  CLI11_PARSE(app, argc, argv);
  if (!baoding.empty()) return baoding_run(baoding, steps, 0, csv + ".baoding");

  std::vector<std::pair<std::string, int>> queue;
  for (const auto& name : curricula)
    for (int seed = 0; seed < seeds; ++seed) queue.emplace_back(name, seed);
  std::vector<Result> results(queue.size());
  std::mutex lock;  // the printout
  const auto t0 = std::chrono::steady_clock::now();
  spindle_examples::run_jobs(queue.size(), jobs, [&](std::size_t i) {
    const auto& [name, seed] = queue[i];
    const std::string prefix = csv + "." + name + "." + std::to_string(seed);
    results[i] = history == 4 && tuning.lstm == 0 ? run<4>(name, seed, steps, period, episodes, prefix, tuning, video)
                               : run<0>(name, seed, steps, period, episodes, prefix, tuning, video);
    const Result& r = results[i];
    const std::lock_guard<std::mutex> guard(lock);
    std::printf("%-9s seed %d: phase-1-like success %.2f (score %.2f), phase-2-like %.2f (score %.2f; moving targets %.2f), "
                "stage %zu/%zu reached, %.0f s\n",
                r.curriculum.c_str(), r.seed, r.final_success, r.final_score, r.varied_success, r.varied_score, r.moving_success,
                (r.timeline.empty() ? 0 : r.timeline.back().to) + 1, r.stages, r.seconds);
    std::fflush(stdout);
  });

  std::ofstream table(csv);
  table << "curriculum,seed,final_success,final_score,varied_success,varied_score,moving_success,moving_score,train_seconds\n";
  for (const Result& r : results)
    table << r.curriculum << ',' << r.seed << ',' << r.final_success << ',' << r.final_score << ',' << r.varied_success << ','
          << r.varied_score << ',' << r.moving_success << ',' << r.moving_score << ',' << r.seconds << '\n';
  std::printf("\n| curriculum | phase-1-like: success | score | phase-2-like (trained on): success | score | phase-2-like, "
              "moving targets: success | score |\n|---|---|---|---|---|---|---|\n");
  for (const auto& name : curricula) {
    std::vector<double> fs, fc, vs, vc, ms, mc;
    for (const Result& r : results)
      if (r.curriculum == name) {
        fs.push_back(r.final_success);
        fc.push_back(r.final_score);
        vs.push_back(r.varied_success);
        vc.push_back(r.varied_score);
        ms.push_back(r.moving_success);
        mc.push_back(r.moving_score);
      }
    auto cell = [](const std::vector<double>& x) {
      const auto [m, s] = mean_sem(x);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.0f%% ± %.0f", 100 * m, 100 * s);
      return std::string(buf);
    };
    std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", name.c_str(), cell(fs).c_str(), cell(fc).c_str(), cell(vs).c_str(),
                cell(vc).c_str(), cell(ms).c_str(), cell(mc).c_str());
  }
  std::printf("\nstage timelines (step: from → to, signal):\n");
  for (const Result& r : results) {
    std::printf("  %s seed %d:", r.curriculum.c_str(), r.seed);
    for (const auto& t : r.timeline) std::printf(" %ld: %zu→%zu (%.2f%s)", t.step, t.from, t.to, t.signal, t.forced ? ", capped" : "");
    std::printf("\n");
  }
  std::printf("results: %s (%.0f s in all)\n", csv.c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (png.empty()) return 0;
  std::vector<spindle_examples::Run> runs;
  int color = 1;
  for (const auto& name : curricula) {
    for (int seed = 0; seed < seeds; ++seed)
      runs.push_back({csv + "." + name + "." + std::to_string(seed) + ".episodes.csv", name + " seed " + std::to_string(seed), color, name});
    ++color;
  }
  spindle_examples::plot_bands(runs, png, "PPO on the ball tray: curricula", 100);
  // Stage versus steps: column 2 of each run's stages log.
  if (std::system("command -v gnuplot > /dev/null 2>&1") == 0) {
    std::string plot = "plot ";
    for (std::size_t i = 0; i < runs.size(); ++i) {
      const std::string stages = runs[i].csv.substr(0, runs[i].csv.size() - std::string(".episodes.csv").size()) + ".stages.csv";
      plot += (i ? ", '" : "'") + stages + "' using 1:2 with steps lw 2 lc " + std::to_string(runs[i].color) + " title '" +
              runs[i].label + "'";
    }
    const std::string script = "set terminal pngcairo size 900,540; set output '" + png +
                               ".stages.png'; set datafile separator ','; set xlabel 'environment steps'; set ylabel "
                               "'stage'; set title 'stage versus steps'; set grid; set key left top; " + plot;
    if (std::system(("gnuplot -e \"" + script + "\"").c_str()) == 0) std::printf("stages: %s.stages.png\n", png.c_str());
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  return spindle_examples::exit_code_of("sds_curriculum", [&] { return run_main(argc, argv); });
}
