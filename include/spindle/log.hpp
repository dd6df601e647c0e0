#pragma once
// Logging: the live progress line.
#include "log/csv.hpp"
#include "log/progress.hpp"
