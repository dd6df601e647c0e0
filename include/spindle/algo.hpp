#pragma once
// Learning algorithms over any Environment and any exploration-noise head.
#include "algo/replay_buffer.hpp"
#include "algo/sac.hpp"
