#pragma once
// VectorEnv: N copies of an environment stepped in lockstep, with auto-reset.
//
// Buffers are xtensor arrays (row-major, one row per environment) exposed as
// zero-copy Eigen maps. When an episode ends during step(), its last observation
// is kept in final_observations() (for bootstrapping through truncation) and the
// environment is reset at once, so observations() always holds the observation
// the agent acts on next (SB3's VecEnv semantics).
//
// Each copy owns its Rng stream, Rng(seed, index), so results do not depend on
// how many threads step the copies: a serial and a threaded VectorEnv built with
// the same seed give bit-identical buffers.
#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "state_words.hpp"
#include "environment.hpp"
#include "episode_record.hpp"
#include "errors.hpp"
#include "rng.hpp"
#include "thread_pool.hpp"

namespace spindle {

struct VectorEnvOptions {
  int n_threads = 1;  // 1: step serially on the calling thread; 0: one per hardware thread
};

/// An episode that ended during the last step, and the copy it ran in.
struct FinishedEpisode {
  Eigen::Index env = 0;
  EpisodeRecord record;
};

template <Environment Env>
class VectorEnv {
 public:
  using Scalar = scalar_t<Env>;
  using Action = action_t<Env>;
  using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using MatrixMap = Eigen::Map<RowMatrix>;
  using ConstMatrixMap = Eigen::Map<const RowMatrix>;
  using ConstVectorMap = Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>;
  using ConstFlagMap = Eigen::Map<const Eigen::Array<std::uint8_t, Eigen::Dynamic, 1>>;

  /// n copies of `prototype`.
  explicit VectorEnv(Eigen::Index n, const Env& prototype = Env{}, VectorEnvOptions options = {})
      : VectorEnv(n, [&](Eigen::Index) { return prototype; }, options) {}

  /// n environments made by make(i), i = 0 .. n-1.
  template <class Factory>
    requires std::is_invocable_r_v<Env, Factory&, Eigen::Index>
  VectorEnv(Eigen::Index n, Factory make, VectorEnvOptions options = {}) {
    if (n <= 0) throw std::invalid_argument("VectorEnv: the number of environments must be > 0, got " +
                                            std::to_string(n));
    envs_.reserve(static_cast<std::size_t>(n));
    for (Eigen::Index i = 0; i < n; ++i) envs_.push_back(make(i));
    obs_size_ = spindle::observation_size(envs_.front());
    act_size_ = spindle::action_size(envs_.front());
    for (Eigen::Index i = 1; i < n; ++i) {
      const auto& e = envs_[static_cast<std::size_t>(i)];
      if (spindle::observation_size(e) != obs_size_ || spindle::action_size(e) != act_size_)
        throw shape_error("VectorEnv: environment " + std::to_string(i) + " has observation/action sizes (" +
                          std::to_string(spindle::observation_size(e)) + ", " + std::to_string(spindle::action_size(e)) +
                          "), expected (" + std::to_string(obs_size_) + ", " + std::to_string(act_size_) +
                          ") like environment 0");
    }
    const auto un = static_cast<std::size_t>(n);
    observations_ = xt::xtensor<Scalar, 2>::from_shape({un, static_cast<std::size_t>(obs_size_)});
    final_observations_ = xt::zeros<Scalar>({un, static_cast<std::size_t>(obs_size_)});
    rewards_ = xt::zeros<Scalar>({un});
    terminated_ = xt::zeros<std::uint8_t>({un});
    truncated_ = xt::zeros<std::uint8_t>({un});
    rngs_.resize(un);
    actions_.assign(un, Action::Zero(act_size_));
    results_.resize(un);
    for (auto& r : results_) r.observation.resize(obs_size_);
    accumulators_.resize(un);
    finished_flag_.assign(un, 0);
    finished_record_.resize(un);
    finished_.reserve(un);
    if constexpr (PrivilegedEnvironment<Env>) {
      privileged_size_ = envs_.front().privileged_size();
      for (Eigen::Index i = 1; i < n; ++i)
        if (envs_[idx(i)].privileged_size() != privileged_size_)
          throw shape_error("VectorEnv: environment " + std::to_string(i) + " has " +
                            std::to_string(envs_[idx(i)].privileged_size()) + " privileged values, expected " +
                            std::to_string(privileged_size_) + " like environment 0");
      privileged_ = xt::zeros<Scalar>({un, static_cast<std::size_t>(privileged_size_)});
      final_privileged_ = xt::zeros<Scalar>({un, static_cast<std::size_t>(privileged_size_)});
    }
    if (options.n_threads != 1) pool_ = std::make_unique<ThreadPool>(options.n_threads);
  }

  Eigen::Index size() const noexcept { return static_cast<Eigen::Index>(envs_.size()); }
  Eigen::Index observation_size() const noexcept { return obs_size_; }
  Eigen::Index action_size() const noexcept { return act_size_; }
  int n_threads() const noexcept { return pool_ ? pool_->size() : 1; }
  decltype(auto) action_space() const { return spindle::action_space(envs_.front()); }

  /// Resets every copy, copy i with Rng(seed, i); returns the observations.
  ConstMatrixMap reset(std::uint64_t seed) {
    for (Eigen::Index i = 0; i < size(); ++i) rngs_[idx(i)].reseed(seed, static_cast<std::uint64_t>(i));
    for_each_env([this](Eigen::Index i) { reset_one(i); });
    rewards_.fill(Scalar(0));
    terminated_.fill(0);
    truncated_.fill(0);
    finished_.clear();
    was_reset_ = true;
    return observations();
  }

  /// Steps copy i with row i of `actions` (size() × action_size()). Checks the
  /// shape and finiteness of all actions before any copy is stepped.
  template <class Derived>
  void step(const Eigen::MatrixBase<Derived>& actions) {
    if (!was_reset_) throw episode_error("VectorEnv::step called before reset(seed)");
    check_shape(actions, size(), act_size_, "VectorEnv::step", "actions");
    check_finite(actions, "VectorEnv::step", "actions");
    for (Eigen::Index i = 0; i < size(); ++i)
      actions_[idx(i)] = actions.row(i).transpose().template cast<Scalar>();
    for_each_env([this](Eigen::Index i) { step_one(i); });
    // Gather in index order so the record list is the same for any thread count.
    finished_.clear();
    for (Eigen::Index i = 0; i < size(); ++i)
      if (finished_flag_[idx(i)]) finished_.push_back({i, finished_record_[idx(i)]});
  }

  // --- zero-copy views of the buffers (valid until the VectorEnv is destroyed)
  /// The observations to act on next (size() × observation_size()).
  ConstMatrixMap observations() const noexcept { return {observations_.data(), size(), obs_size_}; }
  /// Row i: the last observation of the episode that ended in copy i during the last step.
  ConstMatrixMap final_observations() const noexcept {
    return {final_observations_.data(), size(), obs_size_};
  }
  ConstVectorMap rewards() const noexcept { return {rewards_.data(), size()}; }
  ConstFlagMap terminated() const noexcept { return {terminated_.data(), size()}; }
  ConstFlagMap truncated() const noexcept { return {truncated_.data(), size()}; }
  bool done(Eigen::Index i) const noexcept { return terminated_(idx(i)) || truncated_(idx(i)); }

  // --- privileged information (PrivilegedEnvironment only), rows as observations()'s
  Eigen::Index privileged_size() const noexcept { return privileged_size_; }
  /// Row i: the privileged values of the episode copy i acts in next.
  ConstMatrixMap privileged() const noexcept requires PrivilegedEnvironment<Env> {
    return {privileged_.data(), size(), privileged_size_};
  }
  /// Row i: those of the episode that ended in copy i during the last step (as final_observations()).
  ConstMatrixMap final_privileged() const noexcept requires PrivilegedEnvironment<Env> {
    return {final_privileged_.data(), size(), privileged_size_};
  }

  // --- the xtensor buffers themselves (e.g. for .npy output)
  const xt::xtensor<Scalar, 2>& observation_buffer() const noexcept { return observations_; }
  const xt::xtensor<Scalar, 2>& final_observation_buffer() const noexcept { return final_observations_; }
  const xt::xtensor<Scalar, 1>& reward_buffer() const noexcept { return rewards_; }

  /// Episodes that ended during the last step, in environment order.
  std::span<const FinishedEpisode> finished_episodes() const noexcept { return finished_; }

  /// The whole vector's state (environments, their generators, episode returns so far,
  /// current observations), for checkpoints that resume bit-identically.
  void save_state(StateWords& out) const requires SavableEnvironment<Env> {
    put_word(out, static_cast<std::int64_t>(size()));
    put_word(out, std::int64_t{was_reset_});
    for (std::size_t k = 0; k < envs_.size(); ++k) {
      envs_[k].save_state(out);
      save_rng(out, rngs_[k]);
      put_word(out, accumulators_[k].current().episode_return);
      put_word(out, accumulators_[k].current().length);
    }
    for (std::size_t i = 0; i < observations_.size(); ++i) put_word(out, static_cast<double>(observations_.data()[i]));
  }
  void load_state(StateReader& in) requires SavableEnvironment<Env> {
    if (in.integer() != static_cast<std::int64_t>(size()))
      throw shape_error("VectorEnv::load_state: the state is of a different number of environments");
    was_reset_ = in.integer() != 0;
    for (std::size_t k = 0; k < envs_.size(); ++k) {
      envs_[k].load_state(in);
      load_rng(in, rngs_[k]);
      const double ret = in.real();
      const std::int64_t len = in.integer();
      accumulators_[k].restore({ret, len});
      finished_flag_[k] = 0;
    }
    for (std::size_t i = 0; i < observations_.size(); ++i) observations_.data()[i] = static_cast<Scalar>(in.real());
    for (Eigen::Index i = 0; i < size(); ++i) copy_privileged(privileged_, i);
    finished_.clear();
  }

  Env& env(Eigen::Index i) { return envs_.at(idx(i)); }
  const Env& env(Eigen::Index i) const { return envs_.at(idx(i)); }
  Rng& rng(Eigen::Index i) { return rngs_.at(idx(i)); }

 private:
  static std::size_t idx(Eigen::Index i) noexcept { return static_cast<std::size_t>(i); }

  template <class F>
  void for_each_env(F&& f) {
    if (pool_)
      pool_->parallel_for(size(), [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) f(static_cast<Eigen::Index>(i));
      });
    else
      for (Eigen::Index i = 0; i < size(); ++i) f(i);
  }

  // Row i of an (n × obs) buffer as a vector of the environment's static size
  // (fixed-size copies vectorise cleanly and need no runtime size logic).
  using ObservationMap = Eigen::Map<Eigen::Matrix<Scalar, Env::obs_dim, 1>>;
  ObservationMap row(xt::xtensor<Scalar, 2>& buffer, Eigen::Index i) noexcept {
    return ObservationMap(buffer.data() + i * obs_size_, obs_size_);
  }

  void reset_one(Eigen::Index i) {
    const auto k = idx(i);
    const auto obs = envs_[k].reset(rngs_[k]);
    check_shape(obs, obs_size_, 1, "VectorEnv::reset", "the observation returned by reset");
    row(observations_, i) = obs;
    copy_privileged(privileged_, i);
    accumulators_[k].clear();
    finished_flag_[k] = 0;
  }

  void step_one(Eigen::Index i) {
    const auto k = idx(i);
    auto& s = results_[k];
    step_into(envs_[k], actions_[k], s);
    check_shape(s.observation, obs_size_, 1, "VectorEnv::step", "the observation returned by step");
    row(observations_, i) = s.observation;
    rewards_(k) = static_cast<Scalar>(s.reward);
    terminated_(k) = s.terminated;
    truncated_(k) = s.truncated;
    accumulators_[k].add(static_cast<double>(s.reward));
    finished_flag_[k] = s.terminated || s.truncated;
    if (finished_flag_[k]) {
      row(final_observations_, i) = s.observation;
      copy_privileged(final_privileged_, i);
      finished_record_[k] = accumulators_[k].finish();
      const auto obs = envs_[k].reset(rngs_[k]);
      check_shape(obs, obs_size_, 1, "VectorEnv::step", "the observation returned by reset");
      row(observations_, i) = obs;
    }
    copy_privileged(privileged_, i);  // every step: an environment may change it within an episode
  }

  /// Row i of a privileged buffer from copy i (nothing for environments without it).
  void copy_privileged(xt::xtensor<Scalar, 2>& buffer, Eigen::Index i) {
    if constexpr (PrivilegedEnvironment<Env>) {
      const auto& p = envs_[idx(i)].privileged();
      if (p.size() != privileged_size_)
        throw shape_error("VectorEnv: environment " + std::to_string(i) + " returned " + std::to_string(p.size()) +
                          " privileged values, its privileged_size() is " + std::to_string(privileged_size_));
      for (Eigen::Index j = 0; j < privileged_size_; ++j)
        buffer.data()[i * privileged_size_ + j] = static_cast<Scalar>(p(j));
    } else {
      (void)buffer;
      (void)i;
    }
  }

  std::vector<Env> envs_;
  std::vector<Rng> rngs_;
  std::vector<Action> actions_;
  std::vector<step_result_t<Env>> results_;
  std::vector<EpisodeAccumulator> accumulators_;
  std::vector<std::uint8_t> finished_flag_;
  std::vector<EpisodeRecord> finished_record_;
  std::vector<FinishedEpisode> finished_;
  xt::xtensor<Scalar, 2> observations_, final_observations_;
  xt::xtensor<Scalar, 2> privileged_, final_privileged_;  // PrivilegedEnvironment only
  Eigen::Index privileged_size_ = 0;
  xt::xtensor<Scalar, 1> rewards_;
  xt::xtensor<std::uint8_t, 1> terminated_, truncated_;
  Eigen::Index obs_size_ = 0, act_size_ = 0;
  bool was_reset_ = false;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace spindle
