#pragma once
// Everything in spindle's core (no MuJoCo): include this one header.
#include "autodiff.hpp"
#include "core.hpp"
#include "envs.hpp"
#include "io.hpp"
#include "log.hpp"
#include "nn.hpp"
#include "wrappers.hpp"
