#pragma once
/// @file
/// spindle core: random generator, spaces, the Environment concept, vector environments.
#include "core/box.hpp"
#include "core/environment.hpp"
#include "core/episode_guard.hpp"
#include "core/episode_record.hpp"
#include "core/errors.hpp"
#include "core/rng.hpp"
#include "core/running_mean_std.hpp"
#include "core/state_words.hpp"
#include "core/step.hpp"
#include "core/thread_pool.hpp"
#include "core/vector_env.hpp"
