#pragma once
// Central differences over every value of a Parameters set against its analytic gradient: the
// parameter side of autodiff::gradcheck (which checks inputs), for whole networks.
#include <algorithm>
#include <cmath>

#include <spindle/nn.hpp>

namespace spindle_test {

/// The worst |numeric − analytic| / max(1, |numeric|) over every parameter value; `loss_value()`
/// recomputes the loss from the current values, `analytic` is p.grads() after one backward.
template <class F>
double worst_parameter_error(spindle::nn::Parameters<double>& p, F&& loss_value, const Eigen::VectorXd& analytic,
                             double h = 1e-6) {
  double worst = 0;
  for (Eigen::Index k = 0; k < p.size(); ++k) {
    const double v = p.values()(k);
    p.values()(k) = v + h;
    const double up = loss_value();
    p.values()(k) = v - h;
    const double down = loss_value();
    p.values()(k) = v;
    const double numeric = (up - down) / (2 * h);
    worst = std::max(worst, std::abs(numeric - analytic(k)) / std::max(1.0, std::abs(numeric)));
  }
  return worst;
}

}  // namespace spindle_test
