#pragma once
/// @file
/// Connecting a curriculum to environments and trainers.
///
/// An environment takes part by reading its task parameters at reset:
///   void set_task(const spindle::curriculum::Params& p);     // e.g. period_ = p["period"];
///   static std::vector<std::string> task_parameters();       // optional: the names it knows
///
///   auto sds = std::make_shared<curriculum::Scheduler>(stages, rule);
///   algo::Ppo<curriculum::Staged<MyTask>> ppo(curriculum::Staged<MyTask>(MyTask{}, sds), config);
///   curriculum::attach(ppo, sds, {.csv_path = "stages.csv"});
///   ppo.learn(2'000'000);
///
/// Staged<Env> hands every episode the scheduler's current parameters (ranges drawn with the
/// resetting environment's own generator) and latches the episode's success; attach() reports
/// finished episodes to the scheduler and lets it decide between rollouts (PPO) or between
/// vector steps (SAC) — never while environments are being stepped — so runs are reproducible
/// serial or threaded.
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../core/environment.hpp"
#include "../core/state_words.hpp"
#include "../core/vector_env.hpp"
#include "../io/checkpoint.hpp"
#include "../log/csv.hpp"
#include "../wrappers/wrapper.hpp"
#include "scheduler.hpp"

namespace spindle::curriculum {

/// An environment whose task a curriculum can set: set_task(const Params&) read at reset.
template <class E>
concept TaskEnvironment = Environment<E> && requires(E& e, const Params& p) { e.set_task(p); };

/// static_assert(check_task_environment<MyTask>()) names what is missing.
template <class E>
consteval bool check_task_environment() {
  static_assert(Environment<E>, "not a curriculum task: not a spindle::Environment (see check_environment<E>())");
  static_assert(requires(E& e, const Params& p) { e.set_task(p); },
                "not a curriculum task: missing set_task(const spindle::curriculum::Params&), where the environment "
                "reads the task parameters of the next episode (called before each reset)");
  return true;
}

/// Env whose every episode plays the scheduler's current stage.
template <class Env>
class Staged : public Wrapper<Env> {
  static_assert(check_task_environment<Env>());

 public:
  Staged(Env env, std::shared_ptr<const Scheduler> scheduler) : Wrapper<Env>(std::move(env)), scheduler_(std::move(scheduler)) {
    if (!scheduler_) throw std::invalid_argument("curriculum::Staged: no scheduler");
    if constexpr (requires { Env::task_parameters(); }) {
      const std::vector<std::string> known = Env::task_parameters();
      for (const auto& name : scheduler_->parameter_names())
        if (std::find(known.begin(), known.end(), name) == known.end()) {
          std::string list;
          for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
          throw std::invalid_argument("curriculum::Staged: the curriculum sets '" + name +
                                      "', which the task does not know (its parameters: " + list + ")");
        }
    }
    params_ = Params(scheduler_->parameter_names(), Eigen::VectorXd::Zero(static_cast<Eigen::Index>(scheduler_->parameter_names().size())));
  }

  observation_t<Env> reset(Rng& rng) {
    scheduler_->sample_into(params_, rng);
    this->env_.set_task(params_);
    success_ = false;
    return this->env_.reset(rng);
  }
  step_result_t<Env> step(const action_t<Env>& action) {
    auto s = this->env_.step(action);
    latch(s);
    return s;
  }
  template <class Out>
    requires requires(Env& e, const action_t<Env>& a, Out& o) { e.step(a, o); }
  void step(const action_t<Env>& action, Out& out) {
    this->env_.step(action, out);
    latch(out);
  }

  /// The parameters of the current episode.
  const Params& task() const noexcept { return params_; }
  /// Whether the last finished episode succeeded (the environment's success() at its end).
  bool episode_success() const noexcept { return episode_success_; }
  const Scheduler& scheduler() const noexcept { return *scheduler_; }

  void save_state(StateWords& out) const requires SavableEnvironment<Env> {
    this->env_.save_state(out);
    for (Eigen::Index k = 0; k < params_.values().size(); ++k) put_word(out, params_.values()(k));
    put_word(out, std::int64_t{episode_success_});
  }
  void load_state(StateReader& in) requires SavableEnvironment<Env> {
    this->env_.load_state(in);
    for (Eigen::Index k = 0; k < params_.values().size(); ++k) params_.values()(k) = in.real();
    episode_success_ = in.integer() != 0;
  }

 private:
  template <class S>
  void latch(const S& s) {
    if constexpr (requires(const Env& e) { { e.success() } -> std::convertible_to<bool>; })
      success_ = this->env_.success();
    if (s.terminated || s.truncated) episode_success_ = success_;
  }

  std::shared_ptr<const Scheduler> scheduler_;
  Params params_;
  bool success_ = false, episode_success_ = false;
};

struct AttachOptions {
  std::string csv_path{};  // every decision: steps, stage, signal, changed, each parameter's low and high
  bool print = false;      // a line on stdout at each stage change
};

namespace detail {
template <class Algorithm>
auto& vector_env(Algorithm& a) {
  if constexpr (requires { a.envs().venv(); }) return a.envs().venv();
  else return a.envs();
}
}  // namespace detail

/// Reports the algorithm's finished episodes (return, and success as Staged latched it) to the
/// scheduler and lets it decide after every update (PPO: between rollouts) or every vector step
/// (SAC). Sets the current stage's hyperparameters on the algorithm (now, and whenever the
/// stage differs from the one last applied — checked at every vector step, so a resumed run
/// gets its stage's settings before its first update) and shows the stage on the progress
/// line. Existing hooks keep running.
template <class Algorithm>
void attach(Algorithm& algorithm, std::shared_ptr<Scheduler> scheduler, AttachOptions options = {}) {
  if (!scheduler) throw std::invalid_argument("curriculum::attach: no scheduler");
  auto& hooks = algorithm.hooks();
  auto applied = std::make_shared<std::size_t>(scheduler->stage_count());  // none yet
  auto apply = [&algorithm, scheduler, applied] {
    if (*applied == scheduler->stage()) return;
    const auto& hyper = scheduler->current().hyperparameters;
    if constexpr (requires { algorithm.set_hyperparameter(std::string_view{}, 0.0); }) {
      for (const auto& [name, value] : hyper) algorithm.set_hyperparameter(name, value);
    } else if (!hyper.empty()) {
      throw std::invalid_argument("curriculum::attach: the stages set hyperparameters, but this algorithm has no set_hyperparameter");
    }
    *applied = scheduler->stage();
  };
  apply();  // stage 0's (an unknown name throws here, before any training)
  auto status = hooks.status;
  hooks.status = [scheduler, status] {
    char buf[160];
    std::snprintf(buf, sizeof buf, "stage %zu/%zu '%s' signal %.2f", scheduler->stage() + 1, scheduler->stage_count(),
                  scheduler->current().name.c_str(), scheduler->last_signal());
    return status ? status() + " | " + buf : std::string(buf);
  };
  auto log = std::make_shared<spindle::log::CsvLog>();
  if (!options.csv_path.empty()) {
    std::vector<std::string> columns{"steps", "stage", "signal", "changed"};
    for (const auto& n : scheduler->parameter_names()) {
      columns.push_back(n + "_low");
      columns.push_back(n + "_high");
    }
    *log = spindle::log::CsvLog(options.csv_path, columns);
  }
  auto decide = [&algorithm, scheduler, log, options, apply](long steps) {
    const std::size_t before = scheduler->stage();
    const bool changed = scheduler->update(steps);
    apply();
    std::vector<double> row{double(steps), double(scheduler->stage()), scheduler->last_signal(), double(changed)};
    for (const auto& [name, v] : scheduler->current().params) {
      row.push_back(v.low);
      row.push_back(v.high);
    }
    log->row(row);
    if (changed && options.print)
      std::printf("curriculum: step %ld: stage %zu -> %zu ('%s'), signal %.3f\n", steps, before, scheduler->stage(),
                  scheduler->current().name.c_str(), scheduler->last_signal());
    (void)algorithm;
  };
  auto on_episode = hooks.on_episode;
  hooks.on_episode = [&algorithm, scheduler, on_episode](const FinishedEpisode& f) {
    scheduler->record_episode(f.record.episode_return, detail::vector_env(algorithm).env(f.env).episode_success());
    if (on_episode) on_episode(f);
  };
  if constexpr (requires { algorithm.rollout_buffer().n_steps(); }) {  // on-policy: decide between rollouts
    auto on_update = hooks.on_update;
    hooks.on_update = [&algorithm, decide, on_update](const auto& u) {
      decide(algorithm.num_timesteps());
      if (on_update) on_update(u);
    };
    auto on_step = hooks.on_step;
    hooks.on_step = [apply, on_step](long steps) {
      apply();  // after a checkpoint's scheduler state was loaded
      if (on_step) on_step(steps);
    };
  } else {
    auto on_step = hooks.on_step;
    hooks.on_step = [decide, on_step](long steps) {
      decide(steps);  // applies the stage's hyperparameters too
      if (on_step) on_step(steps);
    };
  }
}

/// The scheduler's state in a checkpoint (pass to the algorithm's save/load as the extra part):
///   ppo.save(path, [&](io::Checkpoint& c) { curriculum::save(c, *sds); });
inline void save(io::Checkpoint& c, const Scheduler& s) {
  StateWords words;
  s.save_state(words);
  c.put("curriculum.state", Eigen::Map<const Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>>(
                                reinterpret_cast<const std::int64_t*>(words.data()), static_cast<Eigen::Index>(words.size())));
}
inline void load(const io::Checkpoint& c, Scheduler& s) {
  const auto packed = c.get_vector<std::int64_t>("curriculum.state");
  StateWords words(static_cast<std::size_t>(packed.size()));
  for (Eigen::Index i = 0; i < packed.size(); ++i) words[static_cast<std::size_t>(i)] = static_cast<std::uint64_t>(packed(i));
  StateReader in(words);
  s.load_state(in);
}

}  // namespace spindle::curriculum
