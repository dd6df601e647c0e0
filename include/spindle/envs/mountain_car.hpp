#pragma once
// MountainCarContinuous, exactly Gymnasium's MountainCarContinuous-v0 (Moore 1990).
//   v ← clip(v + 0.0015·clip(a, −1, 1) − 0.0025·cos 3x, ±0.07);  x ← clip(x + v, [−1.2, 0.6])
//   (v = 0 when the car hits the left wall); terminated when x ≥ 0.45 and v ≥ 0;
//   reward = 100·terminated − 0.1·a² (the unclipped action, as Gymnasium); truncated at 999 steps.
// Observation (x, v); start x ~ U[−0.6, −0.4], v = 0.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "../core/state_words.hpp"
#include "../core/box.hpp"
#include "../core/episode_guard.hpp"
#include "../core/errors.hpp"
#include "../core/rng.hpp"
#include "../core/step.hpp"

namespace spindle::envs {

template <class Scalar = float>
class BasicMountainCarContinuous {
 public:
  static constexpr int obs_dim = 2, act_dim = 1;
  using Observation = Eigen::Matrix<Scalar, 2, 1>;
  using Action = Eigen::Matrix<Scalar, 1, 1>;

  struct Config {
    double min_position = -1.2, max_position = 0.6, max_speed = 0.07;
    double goal_position = 0.45, goal_velocity = 0.0, power = 0.0015;
    int max_episode_steps = 999;  // <= 0 disables the time limit
  };

  BasicMountainCarContinuous() : BasicMountainCarContinuous(Config{}) {}
  explicit BasicMountainCarContinuous(const Config& config)
      : config_(config), action_space_(Scalar(-1), Scalar(1), 1) {}

  const Box<Scalar>& action_space() const noexcept { return action_space_; }
  void save_state(StateWords& out) const {
    put_word(out, position_);
    put_word(out, velocity_);
    put_word(out, std::int64_t{elapsed_});
    put_word(out, std::int64_t{guard_.phase()});
  }
  void load_state(StateReader& in) {
    position_ = in.real();
    velocity_ = in.real();
    elapsed_ = static_cast<int>(in.integer());
    guard_.set_phase(static_cast<int>(in.integer()));
  }

  Observation reset(Rng& rng) {
    position_ = rng.uniform(-0.6, -0.4);
    velocity_ = 0.0;
    elapsed_ = 0;
    guard_.on_reset();
    return observation();
  }

  Step<2, Scalar> step(const Action& action) {
    guard_.before_step("MountainCarContinuous");
    check_finite(action, "MountainCarContinuous::step", "action");
    const auto& c = config_;
    const double a = static_cast<double>(action(0));
    const double force = std::clamp(a, -1.0, 1.0);
    velocity_ += force * c.power - 0.0025 * std::cos(3.0 * position_);
    velocity_ = std::clamp(velocity_, -c.max_speed, c.max_speed);
    position_ = std::clamp(position_ + velocity_, c.min_position, c.max_position);
    if (position_ == c.min_position && velocity_ < 0) velocity_ = 0;
    ++elapsed_;

    const bool terminated = position_ >= c.goal_position && velocity_ >= c.goal_velocity;
    const double reward = (terminated ? 100.0 : 0.0) - 0.1 * a * a;
    Step<2, Scalar> s{observation(), static_cast<Scalar>(reward), terminated,
                      c.max_episode_steps > 0 && elapsed_ >= c.max_episode_steps};
    guard_.after_step(s.done());
    return s;
  }

  /// The physical state (position, velocity).
  using State = Eigen::Vector2d;
  State state() const noexcept { return {position_, velocity_}; }
  /// Puts the car into `s` (position, velocity) and starts a new episode there, as reset()
  /// would; returns the observation of that state (see StatefulEnvironment).
  Observation set_state(const State& s) { return set_state(s(0), s(1)); }
  Observation set_state(double position, double velocity) {
    position_ = position;
    velocity_ = velocity;
    elapsed_ = 0;
    guard_.on_reset();
    return observation();
  }

 private:
  Observation observation() const {
    return Observation(static_cast<Scalar>(position_), static_cast<Scalar>(velocity_));
  }

  Config config_;
  Box<Scalar> action_space_;
  double position_ = 0, velocity_ = 0;
  int elapsed_ = 0;
  EpisodeGuard guard_;
};

using MountainCarContinuous = BasicMountainCarContinuous<float>;

}  // namespace spindle::envs
