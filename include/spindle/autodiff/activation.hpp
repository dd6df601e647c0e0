#pragma once
// Activation functions by name, for layers that are configured at run time.
#include <stdexcept>
#include <string>
#include <string_view>

#include "elementwise.hpp"

namespace spindle::autodiff {

enum class Activation { identity, tanh, relu, elu, gelu, softplus, sigmoid };

inline std::string_view to_string(Activation a) {
  switch (a) {
    case Activation::identity: return "identity";
    case Activation::tanh: return "tanh";
    case Activation::relu: return "relu";
    case Activation::elu: return "elu";
    case Activation::gelu: return "gelu";
    case Activation::softplus: return "softplus";
    default: return "sigmoid";
  }
}

inline Activation activation_from_string(std::string_view name) {
  for (Activation a : {Activation::identity, Activation::tanh, Activation::relu, Activation::elu, Activation::gelu,
                       Activation::softplus, Activation::sigmoid})
    if (to_string(a) == name) return a;
  throw std::invalid_argument("unknown activation '" + std::string(name) +
                              "' (identity, tanh, relu, elu, gelu, softplus, sigmoid)");
}

/// f(x) for the named activation (ELU with alpha = 1).
template <class S>
Var<S> activate(Var<S> x, Activation a) {
  switch (a) {
    case Activation::identity: return x;
    case Activation::tanh: return tanh(x);
    case Activation::relu: return relu(x);
    case Activation::elu: return elu(x);
    case Activation::gelu: return gelu(x);
    case Activation::softplus: return softplus(x);
    default: return sigmoid(x);
  }
}

}  // namespace spindle::autodiff
