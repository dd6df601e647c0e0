#pragma once
/// @file
/// Exploration noise: distributions over actions on top of a policy's last hidden layer,
/// and the noise sources that correlate exploration in time.
#include "noise/common.hpp"
#include "noise/diag_gaussian.hpp"
#include "noise/gsde.hpp"
#include "noise/lattice.hpp"
#include "noise/lattice_plain.hpp"
#include "noise/ornstein_uhlenbeck.hpp"
#include "noise/pink.hpp"
#include "noise/schedule.hpp"
#include "noise/squashed_gaussian.hpp"
#include "noise/white.hpp"
