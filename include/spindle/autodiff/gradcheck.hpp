#pragma once
// Gradient check by central finite differences, in double.
//
//   auto r = spindle::autodiff::gradcheck(
//       [](auto& tape, std::span<const Var<double>> x) { return sum(tanh(x[0]) * x[1]); },
//       {A, B});
//   CHECK(r.max_relative_error < 1e-6);
#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "tape.hpp"

namespace spindle::autodiff {

struct GradcheckResult {
  double max_relative_error = 0;  // max over coefficients of |analytic − numeric| / max(1, |numeric|)
  double max_absolute_error = 0;
  int worst_input = -1;
  Eigen::Index worst_index = -1;
};

/// `f(tape, inputs)` must build a 1×1 value from the inputs (leaves that require gradients).
template <class F>
GradcheckResult gradcheck(F&& f, const std::vector<Eigen::MatrixXd>& inputs, double step = 1e-6) {
  Tape<double> tape;
  std::vector<Var<double>> vars;
  for (const auto& m : inputs) vars.push_back(tape.variable(m));
  Var<double> out = f(tape, std::span<const Var<double>>(vars));
  tape.backward(out);
  std::vector<Eigen::MatrixXd> analytic;
  for (const auto& v : vars) analytic.push_back(v.grad());

  auto evaluate = [&](const std::vector<Eigen::MatrixXd>& xs) {
    Tape<double> t;
    t.set_grad_enabled(false);
    std::vector<Var<double>> vs;
    for (const auto& m : xs) vs.push_back(t.constant(m));
    return f(t, std::span<const Var<double>>(vs)).value()(0, 0);
  };

  GradcheckResult r;
  std::vector<Eigen::MatrixXd> xs = inputs;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    for (Eigen::Index i = 0; i < xs[k].size(); ++i) {
      const double x0 = xs[k](i);
      const double h = step * std::max(1.0, std::abs(x0));
      xs[k](i) = x0 + h;
      const double up = evaluate(xs);
      xs[k](i) = x0 - h;
      const double down = evaluate(xs);
      xs[k](i) = x0;
      const double numeric = (up - down) / (2 * h);
      const double abs_err = std::abs(analytic[k](i) - numeric);
      const double rel_err = abs_err / std::max(1.0, std::abs(numeric));
      if (rel_err > r.max_relative_error) {
        r.max_relative_error = rel_err;
        r.worst_input = static_cast<int>(k);
        r.worst_index = i;
      }
      r.max_absolute_error = std::max(r.max_absolute_error, abs_err);
    }
  }
  return r;
}

}  // namespace spindle::autodiff
