#pragma once
// policy::Tcn: the DMAP paper's temporal-convolution baseline (../shared/specs/dmap.md). Each
// step of the window [observation; previous action] goes through a per-step MLP (E → 128 →
// 32, ReLU, weights shared by all steps); 1-D convolutions over time (32 filters: k5 s4, k3,
// k3, ReLU) and one linear layer make a small tanh code z of the body, inferred from how it
// moved; the policy MLP reads [observation; previous action; z] like the Oracle's, so an RMA
// adaptation module is the same encoder regressed onto the Oracle's code.
#include <stdexcept>
#include <string>
#include <vector>

#include "../nn/conv.hpp"
#include "network.hpp"

namespace spindle::policy {

struct Tcn {
  static constexpr bool previous_action = true;

  struct Convolution {
    Eigen::Index kernel = 3, stride = 1;
  };
  struct Config {
    Eigen::Index history = 30;                          // T: about 0.5 s at DMAP's control rate
    std::vector<Eigen::Index> step_hidden = {128};      // the per-step MLP's hidden sizes
    Eigen::Index step_features = 32;                    // its output: the convolutions' input channels
    Eigen::Index filters = 32;
    std::vector<Convolution> convolutions = {{5, 4}, {3, 1}, {3, 1}};
    Eigen::Index code_size = 4;
  };

  nn::MlpStack step, to_code, mlp;
  std::vector<nn::Conv1d> convolutions;
  Eigen::Index length = 0, entry = 0, features = 0;

  template <class S>
  static Tcn create(nn::Parameters<S>& p, const Build& b, const Config& c, Rng& rng) {
    if (c.history <= 0)
      throw std::invalid_argument("Tcn: the history length must be positive, got " + std::to_string(c.history));
    if (c.step_features <= 0 || c.filters <= 0 || c.code_size <= 0)
      throw std::invalid_argument("Tcn: step_features, filters and code_size must be positive");
    if (c.convolutions.empty()) throw std::invalid_argument("Tcn: needs at least one convolution");
    Tcn n;
    n.length = c.history;
    n.entry = b.shapes.entry();
    n.features = c.step_features;
    std::vector<Eigen::Index> step_sizes{n.entry};
    step_sizes.insert(step_sizes.end(), c.step_hidden.begin(), c.step_hidden.end());
    step_sizes.push_back(c.step_features);
    n.step = nn::MlpStack::create(p, b.prefix + "step.",
                                  {.sizes = step_sizes, .hidden = autodiff::Activation::relu,
                                   .output = autodiff::Activation::relu, .init = nn::Init::pytorch_default},
                                  rng);
    Eigen::Index channels = c.step_features, steps = c.history;
    for (std::size_t i = 0; i < c.convolutions.size(); ++i) {
      const auto& conv = c.convolutions[i];
      n.convolutions.push_back(nn::Conv1d::create(p, b.prefix + "conv" + std::to_string(i), channels, c.filters,
                                                  conv.kernel, conv.stride, autodiff::Activation::relu, rng));
      const Eigen::Index next = n.convolutions.back().output_length(steps);
      if (next <= 0)
        throw std::invalid_argument("Tcn: a history of " + std::to_string(c.history) + " steps is too short: convolution " +
                                    std::to_string(i) + " (kernel " + std::to_string(conv.kernel) + ") gets " +
                                    std::to_string(steps) + " steps");
      channels = c.filters;
      steps = next;
    }
    n.to_code = nn::MlpStack::create(p, b.prefix + "code.",
                                     {.sizes = {channels * steps, c.code_size}, .output = autodiff::Activation::tanh,
                                      .init = nn::Init::pytorch_default},
                                     rng);
    const Eigen::Index in = b.shapes.observation + b.shapes.action + c.code_size + (b.role == Role::q ? b.shapes.action : 0);
    n.mlp = nn::MlpStack::create(p, b.prefix, b.mlp(in), rng);
    return n;
  }
  Eigen::Index history_length() const noexcept { return length; }

  /// The code z (code_size × B) of a batch of windows ((T·entry) × B, oldest first).
  template <class S>
  autodiff::Var<S> code(nn::Parameters<S>& p, autodiff::Var<S> window) const {
    const Eigen::Index batch = window.cols();
    // Each step as one column (a free reshape of the step-major window), the per-step MLP on all
    // of them, then back to one column per sample, channel-major for the convolutions.
    autodiff::Var<S> x = step(p, autodiff::reshape(window, entry, length * batch));
    x = autodiff::transpose_blocks(autodiff::reshape(x, features * length, batch), features, length);
    Eigen::Index steps = length;
    for (const nn::Conv1d& conv : convolutions) {
      x = conv(p, x, steps);
      steps = conv.output_length(steps);
    }
    return to_code(p, x);
  }

  template <class S>
  autodiff::Var<S> operator()(nn::Parameters<S>& p, const Inputs<S>& in) const {
    autodiff::Var<S> x = autodiff::concat_rows(autodiff::concat_rows(in.observation, in.previous_action),
                                               code(p, newest(in.history, length, entry)));
    if (in.action.tape) x = autodiff::concat_rows(x, in.action);
    return mlp(p, x);
  }
};

}  // namespace spindle::policy
