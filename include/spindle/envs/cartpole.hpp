#pragma once
// Continuous-action CartPole: Gymnasium's CartPole-v1 dynamics (Barto, Sutton &
// Anderson 1983, Euler integration, tau = 0.02) with force = 10 · clip(a, −1, 1).
// Reward 1 per step; terminated when |x| > 2.4 or |θ| > 12°; truncated at 500 steps.
// Observation (x, ẋ, θ, θ̇); start state ~ U[−0.05, 0.05]^4.
#include <Eigen/Core>
#include <algorithm>
#include <array>
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
class BasicContinuousCartPole {
 public:
  static constexpr int obs_dim = 4, act_dim = 1;
  using Observation = Eigen::Matrix<Scalar, 4, 1>;
  using Action = Eigen::Matrix<Scalar, 1, 1>;

  struct Config {
    double gravity = 9.8;
    double mass_cart = 1.0;
    double mass_pole = 0.1;
    double half_length = 0.5;
    double force_mag = 10.0;
    double tau = 0.02;
    double theta_threshold = 12.0 * 2.0 * std::numbers::pi / 360.0;
    double x_threshold = 2.4;
    int max_episode_steps = 500;  // <= 0 disables the time limit
  };

  BasicContinuousCartPole() : BasicContinuousCartPole(Config{}) {}
  explicit BasicContinuousCartPole(const Config& config)
      : config_(config), action_space_(Scalar(-1), Scalar(1), 1) {}

  const Box<Scalar>& action_space() const noexcept { return action_space_; }
  const Config& config() const noexcept { return config_; }
  void save_state(StateWords& out) const {
    for (double v : state_) put_word(out, v);
    put_word(out, std::int64_t{elapsed_});
    put_word(out, std::int64_t{guard_.phase()});
  }
  void load_state(StateReader& in) {
    for (double& v : state_) v = in.real();
    elapsed_ = static_cast<int>(in.integer());
    guard_.set_phase(static_cast<int>(in.integer()));
  }

  Observation reset(Rng& rng) {
    for (double& v : state_) v = rng.uniform(-0.05, 0.05);
    elapsed_ = 0;
    guard_.on_reset();
    return observation();
  }

  Step<4, Scalar> step(const Action& action) {
    guard_.before_step("ContinuousCartPole");
    check_finite(action, "ContinuousCartPole::step", "action");
    const auto& c = config_;
    auto& [x, x_dot, theta, theta_dot] = state_;
    const double force = c.force_mag * std::clamp(static_cast<double>(action(0)), -1.0, 1.0);
    const double cos_t = std::cos(theta), sin_t = std::sin(theta);
    const double total_mass = c.mass_cart + c.mass_pole;
    const double pole_mass_length = c.mass_pole * c.half_length;
    const double temp = (force + pole_mass_length * theta_dot * theta_dot * sin_t) / total_mass;
    const double theta_acc = (c.gravity * sin_t - cos_t * temp) /
                             (c.half_length * (4.0 / 3.0 - c.mass_pole * cos_t * cos_t / total_mass));
    const double x_acc = temp - pole_mass_length * theta_acc * cos_t / total_mass;
    x += c.tau * x_dot;
    x_dot += c.tau * x_acc;
    theta += c.tau * theta_dot;
    theta_dot += c.tau * theta_acc;
    ++elapsed_;

    const bool terminated = x < -c.x_threshold || x > c.x_threshold || theta < -c.theta_threshold ||
                            theta > c.theta_threshold;
    Step<4, Scalar> s{observation(), Scalar(1), terminated,
                      c.max_episode_steps > 0 && elapsed_ >= c.max_episode_steps};
    guard_.after_step(s.done());
    return s;
  }

  /// The physical state (x, ẋ, θ, θ̇).
  using State = Eigen::Vector4d;
  State state() const noexcept { return {state_[0], state_[1], state_[2], state_[3]}; }
  /// Puts the cart-pole into `s` (x, ẋ, θ, θ̇) and starts a new episode there, as reset()
  /// would; returns the observation of that state (see StatefulEnvironment).
  Observation set_state(const State& s) { return set_state(s(0), s(1), s(2), s(3)); }
  Observation set_state(double x, double x_dot, double theta, double theta_dot) {
    state_ = {x, x_dot, theta, theta_dot};
    elapsed_ = 0;
    guard_.on_reset();
    return observation();
  }

 private:
  Observation observation() const {
    return Observation(static_cast<Scalar>(state_[0]), static_cast<Scalar>(state_[1]),
                       static_cast<Scalar>(state_[2]), static_cast<Scalar>(state_[3]));
  }

  Config config_;
  Box<Scalar> action_space_;
  std::array<double, 4> state_{};  // x, ẋ, θ, θ̇
  int elapsed_ = 0;
  EpisodeGuard guard_;
};

using ContinuousCartPole = BasicContinuousCartPole<float>;

}  // namespace spindle::envs
