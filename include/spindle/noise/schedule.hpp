#pragma once
// When state-dependent exploration resamples its matrices (SB3's sde_sample_freq):
// at the start of every rollout, and before every sample_freq-th step of it when
// sample_freq > 0 (−1: once per rollout).
#include <Eigen/Core>

#include "../core/rng.hpp"

namespace spindle::noise {

class ResampleSchedule {
 public:
  explicit ResampleSchedule(long sample_freq = -1) noexcept : sample_freq_(sample_freq) {}
  /// A rollout starts: resample now.
  bool start_rollout() noexcept {
    step_ = 0;
    return true;
  }
  /// Before each step of the rollout: true when the matrices must be resampled first.
  bool before_step() noexcept {
    const bool due = sample_freq_ > 0 && step_ > 0 && step_ % sample_freq_ == 0;
    ++step_;
    return due;
  }
  long sample_freq() const noexcept { return sample_freq_; }
  long step_in_rollout() const noexcept { return step_; }

 private:
  long sample_freq_;
  long step_ = 0;
};

/// Resamples a head's exploration state (reset_noise). When the state serves a single step
/// (sample_freq 1), a head that can draw that step's noise directly (Lattice:
/// reset_noise_single_use) does so instead of drawing whole matrices.
template <class Head, class Params>
void resample(Head& head, Params& p, Eigen::Index n_envs, Rng& rng, const ResampleSchedule& schedule) {
  if constexpr (requires { head.reset_noise_single_use(p, n_envs, rng); }) {
    if (schedule.sample_freq() == 1) {
      head.reset_noise_single_use(p, n_envs, rng);
      return;
    }
  }
  head.reset_noise(p, n_envs, rng);
}

}  // namespace spindle::noise
