#pragma once
// A circular replay buffer of transitions (SB3's ReplayBuffer semantics): sized exactly
// once, xtensor storage (row per transition), uniform sampling with replacement into
// preallocated feature × batch matrices. `terminated` (not truncated) is stored, so
// targets bootstrap through time limits and stop at true terminations.
#include <array>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "../autodiff/tape.hpp"
#include "../core/errors.hpp"
#include "../core/rng.hpp"

namespace spindle::algo {

template <class S>
class ReplayBuffer {
 public:
  using Matrix = autodiff::Matrix<S>;
  struct Batch {
    Matrix observations, actions, rewards, next_observations, terminated;  // O×B, A×B, 1×B, O×B, 1×B
  };

  ReplayBuffer(std::size_t capacity, Eigen::Index obs_dim, Eigen::Index act_dim)
      : capacity_(capacity), obs_dim_(obs_dim), act_dim_(act_dim),
        observations_({capacity, static_cast<std::size_t>(obs_dim)}),
        next_observations_({capacity, static_cast<std::size_t>(obs_dim)}),
        actions_({capacity, static_cast<std::size_t>(act_dim)}), rewards_(std::array<std::size_t, 1>{capacity}), terminated_(std::array<std::size_t, 1>{capacity}) {
    if (capacity == 0) throw std::invalid_argument("ReplayBuffer: capacity must be positive");
  }

  /// Stores one transition, overwriting the oldest when full.
  template <class O, class A, class N>
  void add(const Eigen::MatrixBase<O>& obs, const Eigen::MatrixBase<A>& action, S reward,
           const Eigen::MatrixBase<N>& next_obs, bool terminated) {
    if (obs.size() != obs_dim_) throw_shape_error("ReplayBuffer::add", "observation", obs_dim_, 1, obs.rows(), obs.cols());
    if (action.size() != act_dim_) throw_shape_error("ReplayBuffer::add", "action", act_dim_, 1, action.rows(), action.cols());
    if (next_obs.size() != obs_dim_)
      throw_shape_error("ReplayBuffer::add", "next observation", obs_dim_, 1, next_obs.rows(), next_obs.cols());
    for (Eigen::Index k = 0; k < obs_dim_; ++k) {
      observations_(pos_, static_cast<std::size_t>(k)) = obs(k);
      next_observations_(pos_, static_cast<std::size_t>(k)) = next_obs(k);
    }
    for (Eigen::Index k = 0; k < act_dim_; ++k) actions_(pos_, static_cast<std::size_t>(k)) = action(k);
    rewards_(pos_) = reward;
    terminated_(pos_) = terminated ? S(1) : S(0);
    if (++pos_ == capacity_) {
      pos_ = 0;
      full_ = true;
    }
  }

  /// `batch_size` transitions drawn uniformly (with replacement) from what is stored.
  void sample(Eigen::Index batch_size, Rng& rng, Batch& out) const {
    if (size() == 0) throw std::logic_error("ReplayBuffer::sample: the buffer is empty");
    resize(out, batch_size);
    for (Eigen::Index j = 0; j < batch_size; ++j) copy(rng.below(size()), j, out);
  }
  /// The same draws, also writing the slots drawn (batch_size of them) to `slots`.
  void sample(Eigen::Index batch_size, Rng& rng, Batch& out, std::vector<std::size_t>& slots) const {
    if (size() == 0) throw std::logic_error("ReplayBuffer::sample: the buffer is empty");
    resize(out, batch_size);
    slots.resize(static_cast<std::size_t>(batch_size));
    for (Eigen::Index j = 0; j < batch_size; ++j) {
      slots[static_cast<std::size_t>(j)] = rng.below(size());
      copy(slots[static_cast<std::size_t>(j)], j, out);
    }
  }
  /// Transition i (0 = oldest slot index in storage order) into column j of `out` (tests, inspection).
  void copy(std::size_t i, Eigen::Index j, Batch& out) const {
    for (Eigen::Index k = 0; k < obs_dim_; ++k) {
      out.observations(k, j) = observations_(i, static_cast<std::size_t>(k));
      out.next_observations(k, j) = next_observations_(i, static_cast<std::size_t>(k));
    }
    for (Eigen::Index k = 0; k < act_dim_; ++k) out.actions(k, j) = actions_(i, static_cast<std::size_t>(k));
    out.rewards(0, j) = rewards_(i);
    out.terminated(0, j) = terminated_(i);
  }
  void resize(Batch& out, Eigen::Index batch_size) const {
    out.observations.resize(obs_dim_, batch_size);
    out.next_observations.resize(obs_dim_, batch_size);
    out.actions.resize(act_dim_, batch_size);
    out.rewards.resize(1, batch_size);
    out.terminated.resize(1, batch_size);
  }

  std::size_t size() const noexcept { return full_ ? capacity_ : pos_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t position() const noexcept { return pos_; }
  bool full() const noexcept { return full_; }

  // Raw storage (checkpoints).
  xt::xtensor<S, 2>& observations() noexcept { return observations_; }
  xt::xtensor<S, 2>& next_observations() noexcept { return next_observations_; }
  xt::xtensor<S, 2>& actions() noexcept { return actions_; }
  xt::xtensor<S, 1>& rewards() noexcept { return rewards_; }
  xt::xtensor<S, 1>& terminated() noexcept { return terminated_; }
  void set_cursor(std::size_t position, bool full) {
    if (position >= capacity_) throw std::out_of_range("ReplayBuffer::set_cursor: position beyond capacity");
    pos_ = position;
    full_ = full;
  }

 private:
  std::size_t capacity_;
  Eigen::Index obs_dim_, act_dim_;
  xt::xtensor<S, 2> observations_, next_observations_, actions_;
  xt::xtensor<S, 1> rewards_, terminated_;
  std::size_t pos_ = 0;
  bool full_ = false;
};

}  // namespace spindle::algo
