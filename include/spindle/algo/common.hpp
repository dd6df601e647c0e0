#pragma once
// What SAC and PPO share outside their updates: the policy for bad transitions, the map from
// the policy's [−1, 1] actions to the environment's Box, the recent-return average shown on the
// progress line, and the packing of a run's exact state into a checkpoint.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "../core/environment.hpp"
#include "../core/state_words.hpp"
#include "../io/checkpoint.hpp"
#include "../nn/mlp.hpp"

namespace spindle::algo {

/// Throws "<who>: <name> = <value> is outside <range>" unless `ok` and the value is finite
/// (set_hyperparameter's check).
inline void check_hyperparameter(const char* who, std::string_view name, double value, bool ok, const char* range) {
  if (!ok || !std::isfinite(value))
    throw std::invalid_argument(std::string(who) + ": " + std::string(name) + " = " + std::to_string(value) + " is outside " +
                                range);
}

/// What load() restored: everything, environments mid-episode included, or everything but the
/// environments (they cannot save their state), which then start new episodes.
enum class Resume { exact, environments_restarted };

/// The seed of the episodes a run starts when it resumes without its environments' state: a
/// function of the run's seed and step count, so that the same checkpoint resumes the same way.
inline std::uint64_t restart_seed(std::uint64_t seed, long num_timesteps) noexcept {
  std::uint64_t z = seed ^ (0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(num_timesteps + 1));
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// SB3's explained_variance: 1 − Var(returns − values) / Var(returns) over n samples (0 when
/// the returns do not vary).
template <class S>
double explained_variance(const S* values, const S* returns, Eigen::Index n) {
  double mean_r = 0, mean_d = 0;
  for (Eigen::Index k = 0; k < n; ++k) {
    mean_r += returns[k];
    mean_d += returns[k] - values[k];
  }
  mean_r /= n;
  mean_d /= n;
  double var_r = 0, var_d = 0;
  for (Eigen::Index k = 0; k < n; ++k) {
    var_r += (returns[k] - mean_r) * (returns[k] - mean_r);
    var_d += (returns[k] - values[k] - mean_d) * (returns[k] - values[k] - mean_d);
  }
  return var_r > 0 ? 1.0 - var_d / var_r : 0.0;
}

/// What to do with a NaN/Inf observation or reward from the environment.
enum class BadTransition { throw_error, drop_and_count };

/// Maps actions in [−1, 1] (clipped first) linearly onto a Box, per dimension. Dimensions with
/// an infinite bound pass through unchanged (there is nothing to rescale them to).
template <class S>
class ActionMap {
 public:
  ActionMap() = default;
  template <class Low, class High>
  ActionMap(const Low& low, const High& high) : low_(low.template cast<S>()), high_(high.template cast<S>()) {}

  bool bounded() const { return low_.allFinite() && high_.allFinite(); }

  template <class In, class Out>
  void operator()(const In& a, Out&& out) const {
    for (Eigen::Index k = 0; k < low_.size(); ++k) {
      if (!std::isfinite(low_(k)) || !std::isfinite(high_(k))) {
        out(k) = a(k);
        continue;
      }
      const S clipped = std::clamp(a(k), S(-1), S(1));
      out(k) = low_(k) + (clipped + S(1)) * S(0.5) * (high_(k) - low_(k));
    }
  }

 private:
  Eigen::Matrix<S, Eigen::Dynamic, 1> low_, high_;
};

/// An exponential average of finished episodes' returns (weight 0.1 on the newest), for the
/// progress line.
struct RecentReturn {
  std::optional<double> value;
  void add(double episode_return) { value = value ? 0.9 * *value + 0.1 * episode_return : episode_return; }
  void save(StateWords& out) const {
    put_word(out, std::int64_t{value.has_value()});
    put_word(out, value.value_or(0.0));
  }
  void load(StateReader& in) {
    const bool has = in.integer() != 0;
    const double v = in.real();
    value = has ? std::optional<double>(v) : std::nullopt;
  }
};

/// A policy's deterministic action for one observation (SB3's predict(deterministic=True)):
/// load() the observation, optionally transform observation() in place (normalise it), then
/// act(): trunk, the head's mode, mapped onto the Box. Owns its tape and scratch.
template <class S>
struct DeterministicAct {
  autodiff::Tape<S> tape;
  autodiff::Matrix<S> observation, action;

  template <class Obs>
  void load(const Obs& o, Eigen::Index dim) {
    check_shape(o, dim, 1, "predict", "observation");
    observation.resize(dim, 1);  // element by element: GCC 12 misreads a vectorised copy of odd fixed sizes
    for (Eigen::Index i = 0; i < dim; ++i) observation(i, 0) = static_cast<S>(o(i));
  }
  template <class Head, class Out>
  void act(Head& head, nn::Parameters<S>& params, const nn::MlpStack& trunk, const ActionMap<S>& to_env, Out& out) {
    tape.clear();
    tape.set_grad_enabled(false);
    action = head.mode(params, trunk(params, tape.view(observation.data(), observation.rows(), 1))).value();
    to_env(action.col(0), out);
  }
};

/// Mean undiscounted return of `episodes` episodes of `env`, reset with Rng(seed, stream 0xE7A1);
/// act(observation, action) writes the action to take (a deterministic policy, usually);
/// on_reset() runs after every reset (a policy with a context starts it afresh).
struct NoReset {
  void operator()() const noexcept {}
};
template <Environment Env, class Act, class OnReset = NoReset>
double evaluate_episodes(Env& env, int episodes, std::uint64_t seed, Act&& act, OnReset&& on_reset = {}) {
  if (episodes <= 0) throw std::invalid_argument("evaluate: the number of episodes must be positive");
  Rng rng(seed, /*stream=*/0xE7A1);
  double total = 0;
  observation_t<Env> obs;
  action_t<Env> action;
  if constexpr (Env::act_dim == spindle::dynamic) action.resize(spindle::action_size(env));
  for (int e = 0; e < episodes; ++e) {
    obs = env.reset(rng);
    on_reset();
    for (bool done = false; !done;) {
      act(std::as_const(obs), action);
      const auto step = env.step(action);
      total += static_cast<double>(step.reward);
      obs = step.observation;
      done = step.terminated || step.truncated;
    }
  }
  return total / episodes;
}

/// An episode of environment `env` ended: heads with a colored-noise source start that
/// environment's noise sequence afresh (pink noise is drawn per episode); others ignore it.
template <class Head>
void restart_noise_stream(Head& head, Eigen::Index env, Rng& rng) {
  if constexpr (requires { head.restart_stream(env, rng); }) head.restart_stream(env, rng);
}

/// Stores a run's state words as an int64 array `name` in the checkpoint.
inline void put_state(io::Checkpoint& c, const std::string& name, const StateWords& words) {
  c.put(name, Eigen::Map<const Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>>(
                  reinterpret_cast<const std::int64_t*>(words.data()), static_cast<Eigen::Index>(words.size())));
}
/// Reads them back; throws naming the file when their number is not `expected`.
inline StateWords get_state(const io::Checkpoint& c, const std::string& name, std::size_t expected,
                            const std::filesystem::path& path, const char* who) {
  const auto packed = c.get_vector<std::int64_t>(name);
  if (static_cast<std::size_t>(packed.size()) != expected)
    throw std::runtime_error(std::string(who) + ": '" + path.string() + "': the run state does not fit this configuration (" +
                             std::to_string(packed.size()) + " words, expected " + std::to_string(expected) + ")");
  StateWords words(static_cast<std::size_t>(packed.size()));
  for (Eigen::Index i = 0; i < packed.size(); ++i) words[static_cast<std::size_t>(i)] = static_cast<std::uint64_t>(packed(i));
  return words;
}

}  // namespace spindle::algo
