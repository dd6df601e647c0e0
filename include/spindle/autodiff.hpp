#pragma once
/// @file
/// Reverse-mode automatic differentiation over Eigen (features × batch, column-major).
#include "autodiff/activation.hpp"
#include "autodiff/arena.hpp"
#include "autodiff/attention.hpp"
#include "autodiff/conv.hpp"
#include "autodiff/elementwise.hpp"
#include "autodiff/gaussian.hpp"
#include "autodiff/gradcheck.hpp"
#include "autodiff/grouped.hpp"
#include "autodiff/linalg.hpp"
#include "autodiff/packed_gaussian.hpp"
#include "autodiff/recurrent.hpp"
#include "autodiff/reduce.hpp"
#include "autodiff/shape.hpp"
#include "autodiff/tape.hpp"
