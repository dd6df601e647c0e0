#pragma once
// Everything in spindle's core (no MuJoCo): include this one header.
#include "core.hpp"
#include "envs.hpp"
#include "log.hpp"
#include "wrappers.hpp"
