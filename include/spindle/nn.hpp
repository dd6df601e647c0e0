#pragma once
/// @file
/// Neural-network building blocks on the autodiff tape: parameters, layers, MLPs, 1-D convolutions, LSTM/GRU layers, optimisers.
#include "nn/conv.hpp"
#include "nn/init.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "nn/parameters.hpp"
#include "nn/recurrent.hpp"
#include "nn/serialize.hpp"
