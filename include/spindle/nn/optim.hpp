#pragma once
// Optimisers over a flat Parameters buffer: Adam (PyTorch's formula) and SGD,
// with global gradient-norm clipping and non-finite gradient detection.
//
// Every step first computes the global gradient norm (one pass). A NaN or Inf
// anywhere makes it non-finite; then, by policy, the step is skipped with the
// parameters and the optimiser state untouched (and reported), or it throws.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "../core/errors.hpp"
#include "parameters.hpp"

namespace spindle::nn {

enum class NonFinitePolicy { skip_update, throw_error };

struct StepReport {
  bool applied = false;   // false: skipped because a gradient was NaN/Inf
  double grad_norm = 0;   // global L2 norm before clipping
};

/// Scales gradients so their global L2 norm is at most max_norm (PyTorch's clip_grad_norm_,
/// coefficient max_norm / (norm + 1e-6)). Returns the norm before clipping.
template <class Scalar>
double clip_grad_norm(Parameters<Scalar>& params, double max_norm) {
  const double norm = std::sqrt(static_cast<double>(params.grads().squaredNorm()));
  const double coef = max_norm / (norm + 1e-6);
  if (std::isfinite(norm) && coef < 1.0) params.grads() *= static_cast<Scalar>(coef);
  return norm;
}

namespace detail {
template <class Scalar>
bool check_gradients(Parameters<Scalar>& params, double max_grad_norm, NonFinitePolicy policy, StepReport& r,
                     const char* who) {
  r.grad_norm = max_grad_norm > 0 ? clip_grad_norm(params, max_grad_norm)
                                  : std::sqrt(static_cast<double>(params.grads().squaredNorm()));
  if (std::isfinite(r.grad_norm)) return true;
  if (policy == NonFinitePolicy::throw_error) {
    const Eigen::Index k = first_non_finite(params.grads());
    std::string where = "?";
    for (const auto& s : params.slots())
      if (k >= s.offset && k < s.offset + s.rows * s.cols) where = s.name;
    throw non_finite_error(std::string(who) + ": non-finite gradient in parameter '" + where + "'");
  }
  return false;
}
}  // namespace detail

struct AdamConfig {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 added to the gradient (torch.optim.Adam), not AdamW
  double max_grad_norm = 0.0;  // > 0: clip the global norm first
  NonFinitePolicy on_non_finite = NonFinitePolicy::skip_update;
};

template <class Scalar>
class Adam {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  Adam(const Parameters<Scalar>& params, AdamConfig config = {})
      : config_(config), m_(Vector::Zero(params.size())), v_(Vector::Zero(params.size())) {}

  /// One update from the accumulated gradients (they are left as they are; zero them yourself).
  StepReport step(Parameters<Scalar>& params) {
    check_shape(params.values(), m_.size(), 1, "Adam::step", "parameters");
    StepReport r;
    if (!detail::check_gradients(params, config_.max_grad_norm, config_.on_non_finite, r, "Adam::step")) {
      ++skipped_;
      return r;
    }
    ++t_;
    const Scalar b1 = static_cast<Scalar>(config_.beta1), b2 = static_cast<Scalar>(config_.beta2);
    const double bc1 = 1.0 - std::pow(config_.beta1, static_cast<double>(t_));
    const double bc2 = 1.0 - std::pow(config_.beta2, static_cast<double>(t_));
    const Scalar step_size = static_cast<Scalar>(config_.lr / bc1);
    const Scalar inv_sqrt_bc2 = static_cast<Scalar>(1.0 / std::sqrt(bc2));
    const Scalar eps = static_cast<Scalar>(config_.eps), wd = static_cast<Scalar>(config_.weight_decay);
    Scalar* p = params.values().data();
    const Scalar* g = params.grads().data();
    // One pass over memory: L1-sized chunks, each updated with vectorised expressions.
    constexpr Eigen::Index chunk = 1024;
    const Eigen::Index n = m_.size();
    for (Eigen::Index s = 0; s < n; s += chunk) {
      const Eigen::Index len = std::min(chunk, n - s);
      Eigen::Map<Eigen::Array<Scalar, Eigen::Dynamic, 1>> P(p + s, len), M(m_.data() + s, len), V(v_.data() + s, len);
      Eigen::Map<const Eigen::Array<Scalar, Eigen::Dynamic, 1>> G0(g + s, len);
      if (wd != Scalar(0)) {
        M = b1 * M + (1 - b1) * (G0 + wd * P);
        V = b2 * V + (1 - b2) * (G0 + wd * P).square();
      } else {
        M = b1 * M + (1 - b1) * G0;
        V = b2 * V + (1 - b2) * G0.square();
      }
      P -= step_size * M / (V.sqrt() * inv_sqrt_bc2 + eps);
    }
    r.applied = true;
    return r;
  }

  double learning_rate() const noexcept { return config_.lr; }
  void set_learning_rate(double lr) noexcept { config_.lr = lr; }
  const AdamConfig& config() const noexcept { return config_; }
  long steps() const noexcept { return t_; }
  long skipped_steps() const noexcept { return skipped_; }

  // State, for checkpoints.
  const Vector& first_moment() const noexcept { return m_; }
  const Vector& second_moment() const noexcept { return v_; }
  void set_state(const Vector& m, const Vector& v, long t) {
    check_shape(m, m_.size(), 1, "Adam::set_state", "first moment");
    check_shape(v, v_.size(), 1, "Adam::set_state", "second moment");
    m_ = m;
    v_ = v;
    t_ = t;
  }

 private:
  AdamConfig config_;
  Vector m_, v_;
  long t_ = 0;
  long skipped_ = 0;
};

struct SgdConfig {
  double lr = 1e-2;
  double momentum = 0.0;
  double weight_decay = 0.0;
  double max_grad_norm = 0.0;
  NonFinitePolicy on_non_finite = NonFinitePolicy::skip_update;
};

/// SGD with optional momentum (PyTorch's: b ← μ b + g, p ← p − lr b).
template <class Scalar>
class Sgd {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  Sgd(const Parameters<Scalar>& params, SgdConfig config = {})
      : config_(config), buffer_(Vector::Zero(params.size())) {}

  StepReport step(Parameters<Scalar>& params) {
    check_shape(params.values(), buffer_.size(), 1, "Sgd::step", "parameters");
    StepReport r;
    if (!detail::check_gradients(params, config_.max_grad_norm, config_.on_non_finite, r, "Sgd::step")) return r;
    const Scalar lr = static_cast<Scalar>(config_.lr), mu = static_cast<Scalar>(config_.momentum),
                 wd = static_cast<Scalar>(config_.weight_decay);
    if (mu != Scalar(0)) {
      buffer_ = first_ ? (params.grads() + wd * params.values()).eval() : (mu * buffer_ + params.grads() + wd * params.values()).eval();
      params.values() -= lr * buffer_;
    } else {
      params.values() -= lr * (params.grads() + wd * params.values());
    }
    first_ = false;
    r.applied = true;
    return r;
  }

 private:
  SgdConfig config_;
  Vector buffer_;
  bool first_ = true;
};

}  // namespace spindle::nn
