#pragma once
// Small tasks whose reward depends on something the observation does not show: the body's
// hidden parameter is given as privileged information, or can be read from recent history.
#include <algorithm>

#include <spindle/core.hpp>

namespace spindle_test {
using spindle::Box;
using spindle::Rng;
using spindle::Step;

/// A contextual bandit with privileged information: every episode (8 steps) hides a target
/// p ~ U[−1, 1]; the reward is −(a − p)². The observation is a constant, so only a policy that
/// reads the privileged value p can do better than a = 0 (return −8·E[p²] = −8/3).
struct HiddenTarget {
  static constexpr int obs_dim = 1, act_dim = 1;
  Box<float> action_space{-1.0f, 1.0f, 1};
  float target = 0;
  int t = 0;

  Eigen::Matrix<float, 1, 1> reset(Rng& rng) {
    target = rng.uniform<float>(-1.0f, 1.0f);
    t = 0;
    return Eigen::Matrix<float, 1, 1>::Constant(0.5f);
  }
  Step<1> step(const Eigen::Matrix<float, 1, 1>& a) {
    ++t;
    const float e = a(0) - target;
    return {Eigen::Matrix<float, 1, 1>::Constant(0.5f), -e * e, false, t >= 8};
  }
  Eigen::Index privileged_size() const { return 1; }
  Eigen::Matrix<float, 1, 1> privileged() const { return Eigen::Matrix<float, 1, 1>::Constant(target); }
};

/// A body whose actuator sign is hidden: every episode (16 steps) draws g = ±1 and x0 ~ U[−1, 1];
/// x' = clamp(x + 0.5·g·a, ±2), reward −x'². From x alone the best is a = 0 (return about −16/3); the
/// last steps and actions tell g, and with it how to drive x to 0.
struct HiddenGain {
  static constexpr int obs_dim = 1, act_dim = 1;
  Box<float> action_space{-1.0f, 1.0f, 1};
  float x = 0, gain = 1;
  int t = 0;

  Eigen::Matrix<float, 1, 1> reset(Rng& rng) {
    x = rng.uniform<float>(-1.0f, 1.0f);
    gain = rng.uniform<float>(0.0f, 1.0f) < 0.5f ? -1.0f : 1.0f;
    t = 0;
    return Eigen::Matrix<float, 1, 1>::Constant(x);
  }
  Step<1> step(const Eigen::Matrix<float, 1, 1>& a) {
    ++t;
    x = std::clamp(x + 0.5f * gain * std::clamp(a(0), -1.0f, 1.0f), -2.0f, 2.0f);
    return {Eigen::Matrix<float, 1, 1>::Constant(x), -x * x, false, t >= 16};
  }
  Eigen::Index privileged_size() const { return 1; }
  Eigen::Matrix<float, 1, 1> privileged() const { return Eigen::Matrix<float, 1, 1>::Constant(gain); }
};

static_assert(spindle::PrivilegedEnvironment<HiddenTarget>);
static_assert(spindle::PrivilegedEnvironment<HiddenGain>);

}  // namespace spindle_test
