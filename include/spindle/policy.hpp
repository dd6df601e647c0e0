#pragma once
// Network architectures for Ppo and Sac (template parameters): the concept and the shipped ones.
#include "policy/dmap.hpp"
#include "policy/history.hpp"
#include "policy/history_mlp.hpp"
#include "policy/mlp.hpp"
#include "policy/network.hpp"
#include "policy/oracle.hpp"
#include "policy/tcn.hpp"
