#pragma once
// Ornstein–Uhlenbeck noise with unit stationary variance, sampled exactly:
// x_{t+1} = ρ x_t + √(1 − ρ²) n_t, ρ = exp(−θ dt), so corr(x_t, x_{t+k}) = exp(−θ k dt).
// (SB3's OrnsteinUhlenbeckActionNoise is the Euler step of the same process
// scaled by σ; here the scale is the head's std, so ξ stays standard normal.)
#include <cmath>
#include <stdexcept>

#include "../autodiff/tape.hpp"
#include "../core/rng.hpp"

namespace spindle::noise {

template <class S>
class OrnsteinUhlenbeckNoise {
 public:
  struct Config {
    double theta = 0.15;  // mean-reversion rate (SB3's default)
    double dt = 1e-2;     // time step (SB3's default)
    /// Every field by name (checkpoints of deployable policies).
    template <class F> void fields(F&& f) { f("theta", theta); f("dt", dt); }
  };
  static constexpr const char* name = "ornstein_uhlenbeck";
  explicit OrnsteinUhlenbeckNoise(Config c = {}) : config_(c) {
    if (!(c.theta > 0) || !(c.dt > 0)) throw std::invalid_argument("OrnsteinUhlenbeckNoise: theta and dt must be > 0");
    rho_ = std::exp(-c.theta * c.dt);
    innovation_ = std::sqrt(1 - rho_ * rho_);
  }
  void resize(Eigen::Index dim, Eigen::Index streams, Rng& rng) {
    if (state_.rows() == dim && state_.cols() == streams) return;
    state_.resize(dim, streams);
    rng.fill_normal(state_);  // start in the stationary distribution
  }
  void next(Eigen::Ref<autodiff::Matrix<S>> out, Rng& rng) {
    for (Eigen::Index j = 0; j < state_.cols(); ++j)
      for (Eigen::Index i = 0; i < state_.rows(); ++i) state_(i, j) = rho_ * state_(i, j) + innovation_ * rng.normal<double>();
    out = state_.template cast<S>();
  }
  void restart(Eigen::Index stream, Rng& rng) {
    if (stream >= 0 && stream < state_.cols()) rng.fill_normal(state_.col(stream));
  }
  double correlation(double lag_steps) const { return std::exp(-config_.theta * config_.dt * lag_steps); }
  const Config& config() const noexcept { return config_; }

 private:
  Config config_;
  double rho_ = 0, innovation_ = 0;
  Eigen::MatrixXd state_;
};

}  // namespace spindle::noise
