#pragma once
/// @file
/// Deployable policies: a trained policy loaded from a checkpoint, mapping observations to
/// actions inside your own controller, without the training machinery.
#include "deploy/policy.hpp"
