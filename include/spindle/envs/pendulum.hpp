#pragma once
// Pendulum swing-up, exactly Gymnasium's Pendulum-v1 (including its 200-step time limit).
//
//   θ̈ = 3g/(2l)·sin θ + 3/(m l²)·u,   semi-implicit Euler with dt = 0.05
//   θ̇ clipped to ±8, u clipped to ±2, reward −(θ² + 0.1 θ̇² + 0.001 u²) with θ normalised to [−π, π)
//   observation (cos θ, sin θ, θ̇); start θ ~ U[−π, π], θ̇ ~ U[−1, 1]. No termination.
// The state is kept in double like Gymnasium's numpy state; observations are Scalar.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numbers>

#include "../core/state_words.hpp"
#include "../core/box.hpp"
#include "../core/episode_guard.hpp"
#include "../core/errors.hpp"
#include "../core/rng.hpp"
#include "../core/step.hpp"

namespace spindle::envs {

template <class Scalar = float>
class BasicPendulum {
 public:
  static constexpr int obs_dim = 3, act_dim = 1;
  using Observation = Eigen::Matrix<Scalar, 3, 1>;
  using Action = Eigen::Matrix<Scalar, 1, 1>;

  struct Config {
    double g = 10.0;
    double m = 1.0;
    double l = 1.0;
    double dt = 0.05;
    double max_speed = 8.0;
    double max_torque = 2.0;
    int max_episode_steps = 200;  // Gymnasium's registered TimeLimit; <= 0 disables it
  };

  BasicPendulum() : BasicPendulum(Config{}) {}
  explicit BasicPendulum(const Config& config)
      : config_(config),
        action_space_(Scalar(-config.max_torque), Scalar(config.max_torque), 1),
        observation_space_((Eigen::Matrix<Scalar, 3, 1>() << -1, -1, Scalar(-config.max_speed)).finished(),
                           (Eigen::Matrix<Scalar, 3, 1>() << 1, 1, Scalar(config.max_speed)).finished()) {}

  const Box<Scalar>& action_space() const noexcept { return action_space_; }
  const Box<Scalar>& observation_space() const noexcept { return observation_space_; }
  const Config& config() const noexcept { return config_; }

  Observation reset(Rng& rng) {
    theta_ = rng.uniform(-std::numbers::pi, std::numbers::pi);
    theta_dot_ = rng.uniform(-1.0, 1.0);
    elapsed_ = 0;
    guard_.on_reset();
    return observation();
  }

  Step<3, Scalar> step(const Action& action) {
    guard_.before_step("Pendulum");
    check_finite(action, "Pendulum::step", "action");
    const auto& c = config_;
    const double u = std::clamp(static_cast<double>(action(0)), -c.max_torque, c.max_torque);
    const double th = angle_normalize(theta_);
    const double cost = th * th + 0.1 * theta_dot_ * theta_dot_ + 0.001 * u * u;

    double new_theta_dot =
        theta_dot_ + (3.0 * c.g / (2.0 * c.l) * std::sin(theta_) + 3.0 / (c.m * c.l * c.l) * u) * c.dt;
    new_theta_dot = std::clamp(new_theta_dot, -c.max_speed, c.max_speed);
    theta_ = theta_ + new_theta_dot * c.dt;
    theta_dot_ = new_theta_dot;
    ++elapsed_;

    Step<3, Scalar> s{observation(), static_cast<Scalar>(-cost), false,
                      c.max_episode_steps > 0 && elapsed_ >= c.max_episode_steps};
    guard_.after_step(s.done());
    return s;
  }

  /// The physical state (θ, θ̇), in double like Gymnasium's.
  using State = Eigen::Vector2d;
  State state() const noexcept { return {theta_, theta_dot_}; }
  /// Puts the pendulum into `s` (θ, θ̇) and starts a new episode there, as reset() would;
  /// returns the observation of that state (see StatefulEnvironment).
  Observation set_state(const State& s) { return set_state(s(0), s(1)); }
  Observation set_state(double theta, double theta_dot) {
    theta_ = theta;
    theta_dot_ = theta_dot;
    elapsed_ = 0;
    guard_.on_reset();
    return observation();
  }
  void save_state(StateWords& out) const {
    put_word(out, theta_);
    put_word(out, theta_dot_);
    put_word(out, std::int64_t{elapsed_});
    put_word(out, std::int64_t{guard_.phase()});
  }
  void load_state(StateReader& in) {
    theta_ = in.real();
    theta_dot_ = in.real();
    elapsed_ = static_cast<int>(in.integer());
    guard_.set_phase(static_cast<int>(in.integer()));
  }
  double theta() const noexcept { return theta_; }
  double theta_dot() const noexcept { return theta_dot_; }

  /// Gymnasium's angle_normalize: ((x + π) mod 2π) − π, with a floored modulo.
  static double angle_normalize(double x) noexcept {
    const double two_pi = 2.0 * std::numbers::pi;
    double r = std::fmod(x + std::numbers::pi, two_pi);
    if (r < 0) r += two_pi;
    return r - std::numbers::pi;
  }

 private:
  Observation observation() const {
    return Observation(static_cast<Scalar>(std::cos(theta_)), static_cast<Scalar>(std::sin(theta_)),
                       static_cast<Scalar>(theta_dot_));
  }

  Config config_;
  Box<Scalar> action_space_;
  Box<Scalar> observation_space_;
  double theta_ = 0.0, theta_dot_ = 0.0;
  int elapsed_ = 0;
  EpisodeGuard guard_;
};

using Pendulum = BasicPendulum<float>;

}  // namespace spindle::envs
