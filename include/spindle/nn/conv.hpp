#pragma once
// A 1-D convolution layer (PyTorch's Conv1d, valid padding) over a Parameters set.
#include <stdexcept>
#include <string>

#include "../autodiff/activation.hpp"
#include "../autodiff/conv.hpp"
#include "init.hpp"
#include "parameters.hpp"

namespace spindle::nn {

/// y = f(conv1d(x) + b). A sample is channels × length, channel-major in one column (see
/// autodiff::conv1d); W is C_out × (C_in·K) — PyTorch's weight[o, c, k] at W(o, c·K + k).
struct Conv1d {
  int weight = -1, bias = -1;
  Eigen::Index in_channels = 0, out_channels = 0, kernel = 1, stride = 1;
  autodiff::Activation activation = autodiff::Activation::identity;

  /// PyTorch's default initialisation: U(±1/√(C_in·K)) for weights and biases.
  template <class Scalar>
  static Conv1d create(Parameters<Scalar>& params, const std::string& name, Eigen::Index in_channels,
                       Eigen::Index out_channels, Eigen::Index kernel, Eigen::Index stride,
                       autodiff::Activation activation, Rng& rng) {
    if (in_channels <= 0 || out_channels <= 0 || kernel <= 0 || stride <= 0)
      throw std::invalid_argument("Conv1d '" + name + "': channels, kernel and stride must be positive");
    Conv1d c{.weight = params.add(name + ".weight", out_channels, in_channels * kernel),
             .bias = params.add(name + ".bias", out_channels, 1),
             .in_channels = in_channels,
             .out_channels = out_channels,
             .kernel = kernel,
             .stride = stride,
             .activation = activation};
    init_pytorch_default(params.value(c.weight), params.value(c.bias), rng);
    return c;
  }

  /// The output length for an input of `length` steps (0 when the kernel does not fit).
  Eigen::Index output_length(Eigen::Index length) const noexcept {
    return length < kernel ? 0 : (length - kernel) / stride + 1;
  }

  /// x: (C_in · length) × batch → (C_out · output_length(length)) × batch.
  template <class Scalar>
  autodiff::Var<Scalar> operator()(Parameters<Scalar>& params, autodiff::Var<Scalar> x, Eigen::Index length) const {
    autodiff::Tape<Scalar>& t = *x.tape;
    return autodiff::conv1d(x, params.on(t, weight), params.on(t, bias), length, stride, activation);
  }
};

}  // namespace spindle::nn
