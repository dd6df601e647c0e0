#pragma once
/// @file
/// Files: .npz archives and versioned, atomically written checkpoints.
#include "io/checkpoint.hpp"
#include "io/npz.hpp"
