#pragma once
/// @file
/// Curricula: stages of task parameters and a scheduler that advances (or steps back) by
/// itself from success rate, return or steps; Staged<Env> plays the current stage, attach()
/// wires a scheduler to PPO or SAC.
#include "curriculum/scheduler.hpp"
#include "curriculum/staged.hpp"
