#pragma once
// Dense layers and multi-layer perceptrons over a Parameters set.
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "../autodiff/activation.hpp"
#include "../autodiff/grouped.hpp"
#include "../autodiff/linalg.hpp"
#include "init.hpp"
#include "parameters.hpp"

namespace spindle::nn {

using autodiff::Activation;


/// A dense layer y = f(W x + b) whose W (out × in) and b (out × 1) live in a Parameters set.
/// With groups G > 1 it is G independent layers on G stacked inputs (block-diagonal, as
/// autodiff::grouped_linear): W is (out/G) × in, group g's matrix in columns [g·in/G, (g+1)·in/G).
struct Dense {
  int weight = -1, bias = -1;
  Activation activation = Activation::identity;
  Eigen::Index groups = 1;

  template <class Scalar>
  static Dense create(Parameters<Scalar>& params, const std::string& name, Eigen::Index in, Eigen::Index out,
                      Activation activation, Eigen::Index groups = 1) {
    if (groups <= 0 || in % groups != 0 || out % groups != 0)
      throw std::invalid_argument("Dense '" + name + "': " + std::to_string(in) + " inputs and " + std::to_string(out) +
                                  " outputs do not split into " + std::to_string(groups) + " groups");
    Dense d;
    d.weight = params.add(name + ".weight", out / groups, in);
    d.bias = params.add(name + ".bias", out, 1);
    d.activation = activation;
    d.groups = groups;
    return d;
  }

  template <class Scalar>
  autodiff::Var<Scalar> operator()(Parameters<Scalar>& params, autodiff::Var<Scalar> x) const {
    autodiff::Tape<Scalar>& t = *x.tape;
    return apply(x, params.on(t, weight), params.on(t, bias));
  }
  /// The layer with the given weight and bias nodes (frozen copies, target networks).
  template <class Scalar>
  autodiff::Var<Scalar> apply(autodiff::Var<Scalar> x, autodiff::Var<Scalar> W, autodiff::Var<Scalar> b) const {
    return groups == 1 ? autodiff::linear(x, W, b, activation) : autodiff::grouped_linear(x, W, b, groups, activation);
  }
};

/// Initialises a layer (each group on its own with groups > 1: fan-in and orthogonality per group).
template <class Scalar>
void init_dense(Parameters<Scalar>& params, const Dense& d, Init init, double gain, Rng& rng) {
  auto W = params.value(d.weight);
  auto b = params.value(d.bias);
  const Eigen::Index in = W.cols() / d.groups, out = W.rows();
  for (Eigen::Index g = 0; g < d.groups; ++g) {
    auto Wg = W.middleCols(g * in, in);
    auto bg = b.col(0).segment(g * out, out);
    if (init == Init::orthogonal) init_orthogonal(Wg, bg, gain, rng);
    else init_pytorch_default(Wg, bg, rng);
  }
}

struct MlpConfig {
  std::vector<Eigen::Index> sizes;  // input, hidden..., output: {27, 256, 256, 8}
  Activation hidden = Activation::tanh;
  Activation output = Activation::identity;
  Init init = Init::pytorch_default;
  double hidden_gain = std::sqrt(2.0);  // orthogonal init only (SB3: √2 hidden, 0.01 policy head, 1 value head)
  double output_gain = 1.0;
};

/// The layers of an MLP inside a Parameters set that may hold other things too
/// (a policy's trunk next to its noise head, twin critics in one set).
struct MlpStack {
  std::vector<Dense> layers;

  template <class Scalar>
  static MlpStack create(Parameters<Scalar>& params, const std::string& prefix, const MlpConfig& config, Rng& rng) {
    if (config.sizes.size() < 2) throw std::invalid_argument("Mlp: sizes needs at least input and output sizes");
    for (auto s : config.sizes)
      if (s <= 0) throw std::invalid_argument("Mlp: every size must be positive");
    MlpStack m;
    const std::size_t n_layers = config.sizes.size() - 1;
    for (std::size_t l = 0; l < n_layers; ++l) {
      const bool last = l + 1 == n_layers;
      m.layers.push_back(Dense::create(params, prefix + "layer" + std::to_string(l), config.sizes[l],
                                       config.sizes[l + 1], last ? config.output : config.hidden));
    }
    for (std::size_t l = 0; l < n_layers; ++l) {
      const Dense& d = m.layers[l];
      if (config.init == Init::orthogonal)
        init_orthogonal(params.value(d.weight), params.value(d.bias),
                        l + 1 == n_layers ? config.output_gain : config.hidden_gain, rng);
      else
        init_pytorch_default(params.value(d.weight), params.value(d.bias), rng);
    }
    return m;
  }

  /// x: input_size × batch.
  template <class Scalar>
  autodiff::Var<Scalar> operator()(Parameters<Scalar>& params, autodiff::Var<Scalar> x) const {
    for (const Dense& d : layers) x = d(params, x);
    return x;
  }
  /// The same with the parameters as constants: gradients reach x but not the parameters
  /// (SAC's actor loss through the critics).
  template <class Scalar>
  autodiff::Var<Scalar> frozen(Parameters<Scalar>& params, autodiff::Var<Scalar> x) const {
    autodiff::Tape<Scalar>& t = *x.tape;
    for (const Dense& d : layers) x = d.apply(x, params.on_frozen(t, d.weight), params.on_frozen(t, d.bias));
    return x;
  }
};

/// A multi-layer perceptron owning its parameters (one flat buffer).
template <class Scalar>
class Mlp {
 public:
  Mlp(const MlpConfig& config, Rng& rng) : config_(config), stack_(MlpStack::create(params_, "", config, rng)) {}

  /// x: input_size × batch.
  autodiff::Var<Scalar> operator()(autodiff::Var<Scalar> x) { return stack_(params_, x); }

  Eigen::Index input_size() const { return config_.sizes.front(); }
  Eigen::Index output_size() const { return config_.sizes.back(); }
  const MlpConfig& config() const noexcept { return config_; }
  Parameters<Scalar>& parameters() noexcept { return params_; }
  const Parameters<Scalar>& parameters() const noexcept { return params_; }
  const std::vector<Dense>& layers() const noexcept { return stack_.layers; }

 private:
  MlpConfig config_;
  Parameters<Scalar> params_;  // declared before stack_: the stack is built into it
  MlpStack stack_;
};

}  // namespace spindle::nn
