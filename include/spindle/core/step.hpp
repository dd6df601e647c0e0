#pragma once
// What an environment's step returns (Gymnasium semantics).
#include <Eigen/Core>

namespace spindle {

/// Marks a dimension known only at run time (same value as Eigen::Dynamic).
inline constexpr int dynamic = Eigen::Dynamic;

/// The result of one environment step.
/// - terminated: the MDP reached a terminal state; do not bootstrap from `observation`.
/// - truncated: the episode was cut short (time limit, ...); bootstrapping is still valid.
template <int ObsDim, class Scalar = float>
struct Step {
  Eigen::Matrix<Scalar, ObsDim, 1> observation;
  Scalar reward{0};
  bool terminated = false;
  bool truncated = false;

  bool done() const noexcept { return terminated || truncated; }
};

}  // namespace spindle
