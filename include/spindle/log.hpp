#pragma once
// Logging: the live progress line.
#include "log/progress.hpp"
