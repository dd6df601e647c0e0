#pragma once
/// @file
/// Environment wrappers (single environment) and VecNormalize (vector environment).
#include "wrappers/episode_statistics.hpp"
#include "wrappers/history_window.hpp"
#include "wrappers/rescale_action.hpp"
#include "wrappers/select_observation.hpp"
#include "wrappers/time_limit.hpp"
#include "wrappers/vec_normalize.hpp"
#include "wrappers/wrapper.hpp"
