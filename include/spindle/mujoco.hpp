#pragma once
/// @file
/// The MuJoCo environment family (target spindle::mujoco): any MJCF as an Environment.
#include "mujoco/env.hpp"
#include "mujoco/model.hpp"
#include "mujoco/named.hpp"
#include "mujoco/observation.hpp"
#include "mujoco/tasks/ball_tray.hpp"
#include "mujoco/tasks/muscle_arm.hpp"
#include "mujoco/tasks/myosuite/baoding.hpp"
#include "mujoco/tasks/myosuite/pose.hpp"
#include "mujoco/tasks/myosuite/reach.hpp"
#include "mujoco/tasks/quadruped.hpp"
#include "mujoco/tasks/runner.hpp"
