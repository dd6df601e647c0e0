#pragma once
/// @file
/// Classic-control environments written from their published equations.
#include "envs/cartpole.hpp"
#include "envs/mountain_car.hpp"
#include "envs/partially_observed.hpp"
#include "envs/pendulum.hpp"
