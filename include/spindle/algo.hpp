#pragma once
/// @file
/// Learning algorithms over any Environment and any exploration-noise head.
#include "algo/common.hpp"
#include "algo/communicator.hpp"
#include "algo/data_parallel.hpp"
#include "algo/ppo.hpp"
#include "algo/recurrent_ppo.hpp"
#include "algo/replay_buffer.hpp"
#include "algo/rollout_buffer.hpp"
#include "algo/sac.hpp"
#include "algo/schedule.hpp"
