#pragma once
// The on-policy rollout buffer (SB3's RolloutBuffer): n_steps × n_envs transitions in xtensor
// storage, sized once. Sample k = step·n_envs + env; observations are stored so that the
// whole buffer is one column-major obs_dim × (n_steps·n_envs) matrix, ready for a batched
// forward pass. compute_gae() is a free function so it can be checked by hand.
#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "../core/errors.hpp"
#include "../core/rng.hpp"

namespace spindle::algo {

/// Generalised advantage estimation over [n_steps, n_envs] arrays, as SB3's
/// compute_returns_and_advantage: episode_starts[t] marks that step t began a new episode
/// (so the λ-chain and the bootstrap stop before it); last_values / last_dones are V and the
/// done flag of the observation after the last step. Truncations are handled by the caller
/// (reward += γ V(final observation)). Samples with valid == 0 get advantage 0 and cut the
/// λ-chain of their predecessor (which keeps its one-step TD error).
/// returns = advantages + values.
template <class S, class Valid>
void compute_gae(const xt::xtensor<S, 2>& rewards, const xt::xtensor<S, 2>& values,
                 const xt::xtensor<S, 2>& episode_starts, const Valid& valid,
                 const std::type_identity_t<Eigen::Ref<const Eigen::Matrix<S, Eigen::Dynamic, 1>>>& last_values,
                 const std::type_identity_t<Eigen::Ref<const Eigen::Matrix<S, Eigen::Dynamic, 1>>>& last_dones, double gamma, double gae_lambda,
                 xt::xtensor<S, 2>& advantages, xt::xtensor<S, 2>& returns) {
  const std::size_t n_steps = rewards.shape(0), n_envs = rewards.shape(1);
  check_shape(last_values, static_cast<Eigen::Index>(n_envs), 1, "compute_gae", "last_values");
  check_shape(last_dones, static_cast<Eigen::Index>(n_envs), 1, "compute_gae", "last_dones");
  const S g = static_cast<S>(gamma), gl = static_cast<S>(gamma * gae_lambda);
  for (std::size_t i = 0; i < n_envs; ++i) {
    S last_gae = 0;
    for (std::size_t t = n_steps; t-- > 0;) {
      const bool last = t + 1 == n_steps;
      const S next_non_terminal = S(1) - (last ? last_dones(static_cast<Eigen::Index>(i)) : episode_starts(t + 1, i));
      const S next_value = last ? last_values(static_cast<Eigen::Index>(i)) : values(t + 1, i);
      if (!valid(t, i)) {
        last_gae = 0;
      } else {
        const S delta = rewards(t, i) + g * next_value * next_non_terminal - values(t, i);
        last_gae = delta + gl * next_non_terminal * last_gae;
      }
      advantages(t, i) = last_gae;
      returns(t, i) = last_gae + values(t, i);
    }
  }
}

template <class S>
class RolloutBuffer {
 public:
  using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  using Shape2 = std::array<std::size_t, 2>;
  using Shape3 = std::array<std::size_t, 3>;

  /// A minibatch gathered into contiguous column-major matrices (features × capacity, the
  /// first size() columns in use), so that a smaller last minibatch does not reallocate.
  struct Minibatch {
    Matrix observations, actions, log_probs, advantages, returns, values;
    Eigen::Index count = 0;
    Eigen::Index size() const noexcept { return count; }
  };

  RolloutBuffer(Eigen::Index n_steps, Eigen::Index n_envs, Eigen::Index obs_dim, Eigen::Index act_dim)
      : n_steps_(n_steps), n_envs_(n_envs), obs_dim_(obs_dim), act_dim_(act_dim) {
    if (n_steps <= 0 || n_envs <= 0) throw std::invalid_argument("RolloutBuffer: n_steps and n_envs must be positive");
    const auto T = static_cast<std::size_t>(n_steps), N = static_cast<std::size_t>(n_envs);
    observations_ = xt::xtensor<S, 3>::from_shape(Shape3{T, N, static_cast<std::size_t>(obs_dim)});
    actions_ = xt::xtensor<S, 3>::from_shape(Shape3{T, N, static_cast<std::size_t>(act_dim)});
    for (auto* a : {&rewards_, &values_, &log_probs_, &episode_starts_, &advantages_, &returns_})
      *a = xt::zeros<S>(Shape2{T, N});
    valid_ = xt::ones<std::uint8_t>(Shape2{T, N});
    truncated_obs_ = xt::xtensor<S, 2>::from_shape(Shape2{T * N, static_cast<std::size_t>(obs_dim)});
    truncated_.reserve(T * N);
    indices_.reserve(T * N);
  }

  Eigen::Index n_steps() const noexcept { return n_steps_; }
  Eigen::Index n_envs() const noexcept { return n_envs_; }
  Eigen::Index total() const noexcept { return n_steps_ * n_envs_; }
  Eigen::Index observation_size() const noexcept { return obs_dim_; }
  Eigen::Index action_size() const noexcept { return act_dim_; }

  /// Starts a new rollout (keeps the memory).
  void reset() noexcept {
    valid_.fill(1);
    truncated_.clear();
  }

  /// Step t's observations as obs_dim × n_envs (column i: environment i), to write into.
  Eigen::Map<Matrix> observations_at(Eigen::Index t) noexcept {
    return {observations_.data() + t * n_envs_ * obs_dim_, obs_dim_, n_envs_};
  }
  /// Every observation: obs_dim × (n_steps·n_envs), sample k = t·n_envs + i.
  Eigen::Map<const Matrix> all_observations() const noexcept { return {observations_.data(), obs_dim_, total()}; }
  Eigen::Map<Matrix> actions_at(Eigen::Index t) noexcept { return {actions_.data() + t * n_envs_ * act_dim_, act_dim_, n_envs_}; }
  /// Every action: act_dim × (n_steps·n_envs), sample k = t·n_envs + i.
  Eigen::Map<const Matrix> all_actions() const noexcept { return {actions_.data(), act_dim_, total()}; }

  /// Per-sample arrays, [n_steps, n_envs].
  xt::xtensor<S, 2>& rewards() noexcept { return rewards_; }
  xt::xtensor<S, 2>& values() noexcept { return values_; }
  xt::xtensor<S, 2>& log_probs() noexcept { return log_probs_; }
  xt::xtensor<S, 2>& episode_starts() noexcept { return episode_starts_; }
  xt::xtensor<S, 2>& advantages() noexcept { return advantages_; }
  xt::xtensor<S, 2>& returns() noexcept { return returns_; }
  xt::xtensor<std::uint8_t, 2>& valid() noexcept { return valid_; }
  const xt::xtensor<S, 2>& advantages() const noexcept { return advantages_; }
  const xt::xtensor<S, 2>& returns() const noexcept { return returns_; }
  const xt::xtensor<S, 2>& values() const noexcept { return values_; }

  /// Remembers that sample (t, i) ended in a truncation with this final observation; the
  /// caller later adds γ V(final observation) to its reward (bootstrap_truncated()).
  template <class Row>
  void add_truncation(Eigen::Index t, Eigen::Index i, const Row& final_observation) {
    const auto k = static_cast<std::size_t>(truncated_.size());
    for (Eigen::Index j = 0; j < obs_dim_; ++j) truncated_obs_(k, static_cast<std::size_t>(j)) = final_observation(j);
    truncated_.push_back(t * n_envs_ + i);
  }
  /// The final observations of truncated samples: obs_dim × count (column-major).
  Eigen::Map<const Matrix> truncated_observations() const noexcept {
    return {truncated_obs_.data(), obs_dim_, static_cast<Eigen::Index>(truncated_.size())};
  }
  /// rewards[k] += γ V_k for the truncated samples, V (1 × count) in the order they were added.
  template <class Values>
  void bootstrap_truncated(const Values& v, double gamma) {
    for (std::size_t c = 0; c < truncated_.size(); ++c)
      rewards_.data()[truncated_[c]] += static_cast<S>(gamma) * v(static_cast<Eigen::Index>(c));
  }

  /// The valid samples' indices (shuffled by shuffle_valid()).
  std::span<const Eigen::Index> valid_indices() const noexcept { return indices_; }
  void collect_valid_indices() {
    indices_.clear();
    for (Eigen::Index k = 0; k < total(); ++k)
      if (valid_.data()[k]) indices_.push_back(k);
  }
  /// Fisher–Yates with the run's generator (reproducible).
  void shuffle_valid(Rng& rng) noexcept {
    for (std::size_t k = indices_.size(); k > 1; --k) std::swap(indices_[k - 1], indices_[rng.below(k)]);
  }

  /// Copies samples `indices` into the first columns of `mb` (grown only when they do not fit).
  void gather(std::span<const Eigen::Index> indices, Minibatch& mb) const {
    const auto B = static_cast<Eigen::Index>(indices.size());
    if (mb.observations.cols() < B || mb.observations.rows() != obs_dim_ || mb.actions.rows() != act_dim_) {
      mb.observations.resize(obs_dim_, B);
      mb.actions.resize(act_dim_, B);
      for (Matrix* m : {&mb.log_probs, &mb.advantages, &mb.returns, &mb.values}) m->resize(1, B);
    }
    mb.count = B;
    const Eigen::Map<const Matrix> obs(observations_.data(), obs_dim_, total());
    const Eigen::Map<const Matrix> act(actions_.data(), act_dim_, total());
    for (Eigen::Index b = 0; b < B; ++b) {
      const Eigen::Index k = indices[static_cast<std::size_t>(b)];
      mb.observations.col(b) = obs.col(k);
      mb.actions.col(b) = act.col(k);
      mb.log_probs(0, b) = log_probs_.data()[k];
      mb.advantages(0, b) = advantages_.data()[k];
      mb.returns(0, b) = returns_.data()[k];
      mb.values(0, b) = values_.data()[k];
    }
  }

 private:
  Eigen::Index n_steps_, n_envs_, obs_dim_, act_dim_;
  xt::xtensor<S, 3> observations_, actions_;
  xt::xtensor<S, 2> rewards_, values_, log_probs_, episode_starts_, advantages_, returns_, truncated_obs_;
  xt::xtensor<std::uint8_t, 2> valid_;
  std::vector<Eigen::Index> truncated_;
  std::vector<Eigen::Index> indices_;
};

}  // namespace spindle::algo
