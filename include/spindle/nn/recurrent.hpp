#pragma once
/// @file
/// LSTM and GRU layers over a Parameters set, with PyTorch's parameter names, shapes, gate
/// order and initialisation (U(±1/√hidden) for every weight and bias), so torch.nn.LSTM /
/// torch.nn.GRU weights load one to one ("weight_ih_l0" ↔ "<prefix>weight_ih", ...).
///
/// States are features × batch like every value on the tape. Episode starts inside a sequence
/// reset the state: step(..., mask) multiplies the incoming state by mask (1 × B: 0 where an
/// episode starts, 1 elsewhere), as sb3-contrib's RecurrentPPO does.
#include <cmath>
#include <stdexcept>
#include <string>

#include "../autodiff/elementwise.hpp"
#include "../autodiff/linalg.hpp"
#include "../autodiff/recurrent.hpp"
#include "../autodiff/shape.hpp"
#include "../core/rng.hpp"
#include "parameters.hpp"

namespace spindle::nn {

namespace detail {
template <class Scalar>
void init_recurrent(Parameters<Scalar>& p, std::initializer_list<int> slots, Eigen::Index hidden, Rng& rng) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  for (int s : slots) {
    auto v = p.value(s);
    for (Eigen::Index j = 0; j < v.cols(); ++j)
      for (Eigen::Index i = 0; i < v.rows(); ++i) v(i, j) = static_cast<Scalar>(rng.uniform(-bound, bound));
  }
}
}  // namespace detail

/// One LSTM layer: gates = W_ih x + b_ih + W_hh h + b_hh (4H rows: i, f, g, o).
struct Lstm {
  int weight_ih = -1, weight_hh = -1, bias_ih = -1, bias_hh = -1;
  Eigen::Index input_size = 0, hidden_size = 0;

  template <class Scalar>
  static Lstm create(Parameters<Scalar>& p, const std::string& prefix, Eigen::Index input, Eigen::Index hidden, Rng& rng) {
    if (input <= 0 || hidden <= 0) throw std::invalid_argument("nn::Lstm: input and hidden sizes must be positive");
    Lstm l;
    l.input_size = input;
    l.hidden_size = hidden;
    l.weight_ih = p.add(prefix + "weight_ih", 4 * hidden, input);
    l.weight_hh = p.add(prefix + "weight_hh", 4 * hidden, hidden);
    l.bias_ih = p.add(prefix + "bias_ih", 4 * hidden, 1);
    l.bias_hh = p.add(prefix + "bias_hh", 4 * hidden, 1);
    detail::init_recurrent(p, {l.weight_ih, l.weight_hh, l.bias_ih, l.bias_hh}, hidden, rng);
    return l;
  }

  /// W_ih x + b_ih for any number of columns (a whole sequence at once: one product).
  template <class Scalar>
  autodiff::Var<Scalar> input_projection(Parameters<Scalar>& p, autodiff::Var<Scalar> x) const {
    autodiff::Tape<Scalar>& t = *x.tape;
    return autodiff::linear(x, p.on(t, weight_ih), p.on(t, bias_ih));
  }
  /// One step from the input projection of this step's x: returns [h'; c'] (2H × B).
  template <class Scalar>
  autodiff::Var<Scalar> step_projected(Parameters<Scalar>& p, autodiff::Var<Scalar> xproj, autodiff::Var<Scalar> h,
                                       autodiff::Var<Scalar> c) const {
    autodiff::Tape<Scalar>& t = *h.tape;
    const autodiff::Var<Scalar> gates = xproj + autodiff::linear(h, p.on(t, weight_hh), p.on(t, bias_hh));
    return autodiff::lstm_cell(gates, c);
  }
  /// One step: returns [h'; c'] (2H × B).
  template <class Scalar>
  autodiff::Var<Scalar> step(Parameters<Scalar>& p, autodiff::Var<Scalar> x, autodiff::Var<Scalar> h, autodiff::Var<Scalar> c) const {
    return step_projected(p, input_projection(p, x), h, c);
  }
};

/// One GRU layer: r, z, n from W_ih x + b_ih and W_hh h + b_hh (3H rows each: r, z, n).
struct Gru {
  int weight_ih = -1, weight_hh = -1, bias_ih = -1, bias_hh = -1;
  Eigen::Index input_size = 0, hidden_size = 0;

  template <class Scalar>
  static Gru create(Parameters<Scalar>& p, const std::string& prefix, Eigen::Index input, Eigen::Index hidden, Rng& rng) {
    if (input <= 0 || hidden <= 0) throw std::invalid_argument("nn::Gru: input and hidden sizes must be positive");
    Gru l;
    l.input_size = input;
    l.hidden_size = hidden;
    l.weight_ih = p.add(prefix + "weight_ih", 3 * hidden, input);
    l.weight_hh = p.add(prefix + "weight_hh", 3 * hidden, hidden);
    l.bias_ih = p.add(prefix + "bias_ih", 3 * hidden, 1);
    l.bias_hh = p.add(prefix + "bias_hh", 3 * hidden, 1);
    detail::init_recurrent(p, {l.weight_ih, l.weight_hh, l.bias_ih, l.bias_hh}, hidden, rng);
    return l;
  }

  template <class Scalar>
  autodiff::Var<Scalar> input_projection(Parameters<Scalar>& p, autodiff::Var<Scalar> x) const {
    autodiff::Tape<Scalar>& t = *x.tape;
    return autodiff::linear(x, p.on(t, weight_ih), p.on(t, bias_ih));
  }
  /// One step from the input projection of this step's x: returns h' (H × B).
  template <class Scalar>
  autodiff::Var<Scalar> step_projected(Parameters<Scalar>& p, autodiff::Var<Scalar> xproj, autodiff::Var<Scalar> h) const {
    autodiff::Tape<Scalar>& t = *h.tape;
    return autodiff::gru_cell(xproj, autodiff::linear(h, p.on(t, weight_hh), p.on(t, bias_hh)), h);
  }
  template <class Scalar>
  autodiff::Var<Scalar> step(Parameters<Scalar>& p, autodiff::Var<Scalar> x, autodiff::Var<Scalar> h) const {
    return step_projected(p, input_projection(p, x), h);
  }
};

}  // namespace spindle::nn
