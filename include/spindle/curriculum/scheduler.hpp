#pragma once
/// @file
/// Curricula: an ordered list of stages, each setting task parameters, and a scheduler that
/// advances (or steps back) by itself from a progress signal — the static-to-dynamic (SDS)
/// curriculum of the 2022 MyoChallenge as one run instead of 30 hand-chained jobs.
///
///   using namespace spindle::curriculum;
///   Scheduler sds({{.name = "hold", .params = {{"period", fixed(1e9)}}},
///                  {.name = "slow", .params = {{"period", range(20, 30)}}, .interpolate_steps = 50'000},
///                  {.name = "fast", .params = {{"period", range(4, 6)}}, .max_steps = 2'000'000}},
///                 {.signal = Signal::success_rate, .window = 100, .threshold = 0.8, .regress_below = 0.2});
///
/// The trainer reports finished episodes (record_episode) and asks for a decision between
/// rollouts (update); environments read the current stage's parameters at reset (sample), so a
/// stage never changes mid-episode. Decisions depend only on what was reported, in order: the
/// same seed gives the same run, serial or threaded.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../core/rng.hpp"
#include "../core/state_words.hpp"

namespace spindle::curriculum {

/// One parameter in a stage: a number (low == high) or a uniform range sampled per episode.
struct Value {
  double low = 0, high = 0;
};
inline Value fixed(double x) noexcept { return {x, x}; }
inline Value range(double low, double high) {
  if (!(low <= high)) throw std::invalid_argument("curriculum::range: low must not exceed high");
  return {low, high};
}

/// The task parameters an environment receives at reset: names and values.
class Params {
 public:
  Params() = default;
  Params(std::vector<std::string> names, Eigen::VectorXd values) : names_(std::move(names)), values_(std::move(values)) {}
  /// The value of `name`; throws naming it (and the known names) when there is none.
  double operator[](std::string_view name) const { return values_(index(name)); }
  double get(std::string_view name, double fallback) const {
    const auto it = std::find(names_.begin(), names_.end(), name);
    return it == names_.end() ? fallback : values_(it - names_.begin());
  }
  bool contains(std::string_view name) const { return std::find(names_.begin(), names_.end(), name) != names_.end(); }
  Eigen::Index index(std::string_view name) const {
    const auto it = std::find(names_.begin(), names_.end(), name);
    if (it == names_.end()) {
      std::string known;
      for (const auto& n : names_) known += (known.empty() ? "" : ", ") + n;
      throw std::invalid_argument("curriculum::Params: no parameter '" + std::string(name) + "' (the curriculum sets: " + known + ")");
    }
    return it - names_.begin();
  }
  const std::vector<std::string>& names() const noexcept { return names_; }
  const Eigen::VectorXd& values() const noexcept { return values_; }
  Eigen::VectorXd& values() noexcept { return values_; }

 private:
  std::vector<std::string> names_;
  Eigen::VectorXd values_;
};

struct Stage {
  std::string name{};
  std::vector<std::pair<std::string, Value>> params{};  // every stage sets the same names (checked)
  long interpolate_steps = 0;  // > 0: blend linearly from the previous stage's values over this many steps
  long max_steps = 0;          // > 0: advance after this many steps in the stage, whatever the signal
  /// Trainer settings while this stage runs, set through the algorithm's set_hyperparameter
  /// by curriculum::attach (e.g. {"learning_rate", 1e-4}, {"ent_coef", 0.01}); if one stage
  /// sets any, every stage sets the same names (checked).
  std::vector<std::pair<std::string, double>> hyperparameters{};
};

enum class Signal {
  success_rate,  // mean success over the latest `window` finished episodes (in [0, 1])
  mean_return,   // mean return over them
  steps,         // none: stages advance by their max_steps alone
};

struct Rule {
  Signal signal = Signal::success_rate;
  std::size_t window = 100;             // finished episodes the signal averages (a full window is needed)
  double threshold = 0.8;               // advance when the signal ≥ threshold ...
  int hold = 1;                         // ... at this many consecutive decisions
  std::optional<double> regress_below{};  // step back one stage when the signal falls below this
  long min_steps = 0;                   // steps a stage lasts at least before the signal can move it
};

/// One decision that changed the stage (the timeline of a run).
struct Transition {
  long step = 0;
  std::size_t from = 0, to = 0;
  double signal = 0;
  bool forced = false;  // by the stage's max_steps
};

class Scheduler {
 public:
  Scheduler(std::vector<Stage> stages, Rule rule = {}) : stages_(std::move(stages)), rule_(rule) {
    auto fail = [](const std::string& what) { throw std::invalid_argument("curriculum::Scheduler: " + what); };
    if (stages_.empty()) fail("the curriculum has no stages");
    if (rule_.window == 0 && rule_.signal != Signal::steps) fail("window must be at least one episode");
    if (rule_.hold < 1) fail("hold must be at least 1");
    if (rule_.signal == Signal::success_rate) {
      if (!(rule_.threshold >= 0 && rule_.threshold <= 1)) fail("a success-rate threshold must lie in [0, 1]");
      if (rule_.regress_below && !(*rule_.regress_below >= 0 && *rule_.regress_below <= 1))
        fail("a success-rate regress_below must lie in [0, 1]");
    }
    if (rule_.regress_below && *rule_.regress_below >= rule_.threshold) fail("regress_below must be below threshold");
    for (const auto& [name, v] : stages_.front().params) names_.push_back(name);
    for (std::size_t s = 0; s < stages_.size(); ++s) {
      const Stage& st = stages_[s];
      const std::string label = "stage " + std::to_string(s) + (st.name.empty() ? "" : " ('" + st.name + "')");
      if (st.params.size() != names_.size()) fail(label + " sets " + std::to_string(st.params.size()) + " parameters, stage 0 sets " + std::to_string(names_.size()));
      for (std::size_t k = 0; k < names_.size(); ++k)
        if (st.params[k].first != names_[k])
          fail(label + ": parameter " + std::to_string(k) + " is '" + st.params[k].first + "', stage 0 has '" + names_[k] + "' there");
      for (const auto& [name, v] : st.params)
        if (!(v.low <= v.high)) fail(label + ": '" + name + "' has low > high");
      if (st.interpolate_steps < 0 || st.max_steps < 0) fail(label + ": interpolate_steps and max_steps must be ≥ 0");
      for (const auto& [name, v] : st.hyperparameters)
        if (!std::isfinite(v)) fail(label + ": hyperparameter '" + name + "' is not finite");
    }
    // The hyperparameters: the same names in every stage, or none anywhere.
    std::vector<std::string> hyper;
    for (const auto& st : stages_)
      for (const auto& [name, v] : st.hyperparameters)
        if (std::find(hyper.begin(), hyper.end(), name) == hyper.end()) hyper.push_back(name);
    for (std::size_t s = 0; s < stages_.size(); ++s)
      for (const auto& name : hyper) {
        const auto& h = stages_[s].hyperparameters;
        if (std::find_if(h.begin(), h.end(), [&](const auto& p) { return p.first == name; }) == h.end())
          fail("stage " + std::to_string(s) + " does not set hyperparameter '" + name +
               "', which another stage sets (every stage sets the same ones, so a resumed run knows them)");
      }
  }

  // ------------------------------------------------------------------ what the trainer reports
  /// A finished training (or evaluation) episode.
  void record_episode(double episode_return, bool success) {
    recent_.push_back({episode_return, success});
    if (recent_.size() > rule_.window) recent_.pop_front();
  }

  /// Decides at `total_steps` (call between rollouts, when no environment is resetting):
  /// advances when the signal has held at the threshold, steps back when it collapsed, or
  /// advances because the stage reached its max_steps. Returns true when the stage changed.
  bool update(long total_steps) {
    step_ = total_steps;
    const long in_stage = total_steps - stage_start_;
    const std::optional<double> s = signal();
    last_signal_ = s.value_or(std::numeric_limits<double>::quiet_NaN());
    const bool last = stage_ + 1 == stages_.size();
    if (!last && stages_[stage_].max_steps > 0 && in_stage >= stages_[stage_].max_steps) return move(stage_ + 1, true);
    if (!s || in_stage < rule_.min_steps) return false;
    held_ = *s >= rule_.threshold ? held_ + 1 : 0;
    if (!last && held_ >= rule_.hold) return move(stage_ + 1, false);
    if (rule_.regress_below && *s < *rule_.regress_below && stage_ > 0) return move(stage_ - 1, false);
    return false;
  }

  // ------------------------------------------------------------------ what environments read
  /// The parameters for a new episode: the current stage's, blended with the previous stage's
  /// while interpolating, ranges drawn with `rng` (the resetting environment's generator).
  Params sample(Rng& rng) const {
    Params p(names_, Eigen::VectorXd(static_cast<Eigen::Index>(names_.size())));
    sample_into(p, rng);
    return p;
  }
  void sample_into(Params& p, Rng& rng) const {
    const Stage& st = stages_[stage_];
    const double w = blend();
    for (std::size_t k = 0; k < names_.size(); ++k) {
      Value v = st.params[k].second;
      if (w < 1 && stage_ > 0) {
        const Value& prev = from_.empty() ? stages_[stage_ - 1].params[k].second : from_[k];
        v = {prev.low + w * (v.low - prev.low), prev.high + w * (v.high - prev.high)};
      }
      p.values()(static_cast<Eigen::Index>(k)) = v.low == v.high ? v.low : rng.uniform(v.low, v.high);
    }
  }

  // ------------------------------------------------------------------ state
  std::size_t stage() const noexcept { return stage_; }
  std::size_t stage_count() const noexcept { return stages_.size(); }
  const Stage& current() const noexcept { return stages_[stage_]; }
  const std::vector<Stage>& stages() const noexcept { return stages_; }
  const Rule& rule() const noexcept { return rule_; }
  const std::vector<std::string>& parameter_names() const noexcept { return names_; }
  /// The signal over the recorded window, or nothing while the window is not full (steps: nothing).
  std::optional<double> signal() const {
    if (rule_.signal == Signal::steps || recent_.size() < rule_.window) return std::nullopt;
    double sum = 0;
    for (const auto& e : recent_) sum += rule_.signal == Signal::success_rate ? double(e.success) : e.ret;
    return sum / double(recent_.size());
  }
  /// The signal at the latest update (NaN when the window was not full).
  double last_signal() const noexcept { return last_signal_; }
  /// Every stage change so far.
  const std::vector<Transition>& timeline() const noexcept { return timeline_; }
  long stage_start() const noexcept { return stage_start_; }

  /// Exact state for checkpoints (stage, window, counters, timeline).
  void save_state(StateWords& out) const {
    put_word(out, static_cast<std::int64_t>(stages_.size()));
    put_word(out, static_cast<std::int64_t>(stage_));
    put_word(out, std::int64_t{stage_start_});
    put_word(out, std::int64_t{step_});
    put_word(out, std::int64_t{held_});
    put_word(out, last_signal_);
    put_word(out, static_cast<std::int64_t>(from_.size()));
    for (const Value& v : from_) {
      put_word(out, v.low);
      put_word(out, v.high);
    }
    put_word(out, static_cast<std::int64_t>(recent_.size()));
    for (const auto& e : recent_) {
      put_word(out, e.ret);
      put_word(out, std::int64_t{e.success});
    }
    put_word(out, static_cast<std::int64_t>(timeline_.size()));
    for (const auto& t : timeline_) {
      put_word(out, std::int64_t{t.step});
      put_word(out, static_cast<std::int64_t>(t.from));
      put_word(out, static_cast<std::int64_t>(t.to));
      put_word(out, t.signal);
      put_word(out, std::int64_t{t.forced});
    }
  }
  void load_state(StateReader& in) {
    if (in.integer() != static_cast<std::int64_t>(stages_.size()))
      throw std::invalid_argument("curriculum::Scheduler::load_state: the state is of a curriculum with another number of stages");
    const auto stage = static_cast<std::size_t>(in.integer());
    if (stage >= stages_.size()) throw std::invalid_argument("curriculum::Scheduler::load_state: corrupt stage");
    Scheduler s = *this;
    s.stage_ = stage;
    s.stage_start_ = in.integer();
    s.step_ = in.integer();
    s.held_ = static_cast<int>(in.integer());
    s.last_signal_ = in.real();
    s.from_.resize(static_cast<std::size_t>(in.integer()));
    for (Value& v : s.from_) {
      v.low = in.real();
      v.high = in.real();
    }
    s.recent_.clear();
    const auto n = in.integer();
    for (std::int64_t k = 0; k < n; ++k) {
      const double r = in.real();
      s.recent_.push_back({r, in.integer() != 0});
    }
    s.timeline_.resize(static_cast<std::size_t>(in.integer()));
    for (auto& t : s.timeline_) {
      t.step = in.integer();
      t.from = static_cast<std::size_t>(in.integer());
      t.to = static_cast<std::size_t>(in.integer());
      t.signal = in.real();
      t.forced = in.integer() != 0;
    }
    *this = std::move(s);
  }

 private:
  struct Episode {
    double ret = 0;
    bool success = false;
  };

  /// Interpolation weight of the current stage (1: its own values).
  double blend() const {
    const long k = stages_[stage_].interpolate_steps;
    if (k <= 0) return 1.0;
    return std::clamp(double(step_ - stage_start_) / double(k), 0.0, 1.0);
  }

  bool move(std::size_t to, bool forced) {
    // Interpolation starts from where the parameters were when the stage changed (the previous
    // stage's values, or a partial blend when the change came mid-interpolation).
    std::vector<Value> from;
    const double w = blend();
    for (std::size_t k = 0; k < names_.size(); ++k) {
      Value v = stages_[stage_].params[k].second;
      if (w < 1 && stage_ > 0) {
        const Value& prev = from_.empty() ? stages_[stage_ - 1].params[k].second : from_[k];
        v = {prev.low + w * (v.low - prev.low), prev.high + w * (v.high - prev.high)};
      }
      from.push_back(v);
    }
    timeline_.push_back({step_, stage_, to, last_signal_, forced});
    stage_ = to;
    stage_start_ = step_;
    from_ = to > 0 ? std::move(from) : std::vector<Value>{};
    held_ = 0;
    recent_.clear();  // the next decision needs a window of episodes played at the new stage
    return true;
  }

  std::vector<Stage> stages_;
  Rule rule_;
  std::vector<std::string> names_;
  std::size_t stage_ = 0;
  long stage_start_ = 0, step_ = 0;
  int held_ = 0;
  double last_signal_ = std::numeric_limits<double>::quiet_NaN();
  std::vector<Value> from_;
  std::deque<Episode> recent_;
  std::vector<Transition> timeline_;
};

}  // namespace spindle::curriculum
