#pragma once
/// @file
/// Logging: the live progress line and CSV logs.
#include "log/csv.hpp"
#include "log/progress.hpp"
