#pragma once
/// @file
/// Data-parallel training over MPI (optional: needs <mpi.h>; CMake target spindle::mpi).
#include "mpi/run.hpp"
#include "mpi/world.hpp"
