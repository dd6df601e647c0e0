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

/// The four parameters of one recurrent layer with `gates` gate blocks (LSTM 4, GRU 3), in
/// PyTorch's order and initialisation, and the input projection both layers share.
struct RecurrentWeights {
  int weight_ih = -1, weight_hh = -1, bias_ih = -1, bias_hh = -1;
  Eigen::Index input_size = 0, hidden_size = 0;

  template <class Scalar>
  static RecurrentWeights create(Parameters<Scalar>& p, const std::string& prefix, Eigen::Index gates, Eigen::Index input,
                                 Eigen::Index hidden, Rng& rng, const char* who) {
    if (input <= 0 || hidden <= 0) throw std::invalid_argument(std::string(who) + ": input and hidden sizes must be positive");
    RecurrentWeights w;
    w.input_size = input;
    w.hidden_size = hidden;
    w.weight_ih = p.add(prefix + "weight_ih", gates * hidden, input);
    w.weight_hh = p.add(prefix + "weight_hh", gates * hidden, hidden);
    w.bias_ih = p.add(prefix + "bias_ih", gates * hidden, 1);
    w.bias_hh = p.add(prefix + "bias_hh", gates * hidden, 1);
    detail::init_recurrent(p, {w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh}, hidden, rng);
    return w;
  }

  /// W_ih x + b_ih for any number of columns (a whole sequence at once: one product).
  template <class Scalar>
  autodiff::Var<Scalar> input_projection(Parameters<Scalar>& p, autodiff::Var<Scalar> x) const {
    autodiff::Tape<Scalar>& t = *x.tape;
    return autodiff::linear(x, p.on(t, weight_ih), p.on(t, bias_ih));
  }
};

/// One LSTM layer: gates = W_ih x + b_ih + W_hh h + b_hh (4H rows: i, f, g, o).
struct Lstm : RecurrentWeights {
  template <class Scalar>
  static Lstm create(Parameters<Scalar>& p, const std::string& prefix, Eigen::Index input, Eigen::Index hidden, Rng& rng) {
    return {RecurrentWeights::create(p, prefix, 4, input, hidden, rng, "nn::Lstm")};
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
struct Gru : RecurrentWeights {
  template <class Scalar>
  static Gru create(Parameters<Scalar>& p, const std::string& prefix, Eigen::Index input, Eigen::Index hidden, Rng& rng) {
    return {RecurrentWeights::create(p, prefix, 3, input, hidden, rng, "nn::Gru")};
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
