#pragma once
/// @file
/// Everything in spindle's core with one include: environments, vector environments and
/// wrappers, the autodiff tape, networks and optimisers, exploration noise, PPO and SAC,
/// checkpoints and deployable policies. MuJoCo environments are separate:
/// `#include <spindle/mujoco.hpp>` (CMake target spindle::mujoco).
#include "algo.hpp"
#include "autodiff.hpp"
#include "core.hpp"
#include "curriculum.hpp"
#include "deploy.hpp"
#include "envs.hpp"
#include "io.hpp"
#include "log.hpp"
#include "nn.hpp"
#include "noise.hpp"
#include "policy.hpp"
#include "wrappers.hpp"
