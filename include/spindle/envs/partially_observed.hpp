#pragma once
/// @file
/// Partially observed classic-control tasks: the velocities are hidden, so a memoryless policy
/// cannot tell where the system is going (rl-baselines3-zoo's PendulumNoVel-v1 and
/// CartPoleNoVel-v1). Recurrent policies and history windows are tested on them.
#include "../wrappers/select_observation.hpp"
#include "cartpole.hpp"
#include "pendulum.hpp"

namespace spindle::envs {

/// Pendulum-v1 observing (cos θ, sin θ) only.
using PendulumNoVel = SelectObservation<Pendulum, 0, 1>;
/// Continuous CartPole observing (x, θ) only.
using CartPoleNoVel = SelectObservation<ContinuousCartPole, 0, 2>;

}  // namespace spindle::envs
