#pragma once
// The mean of every head: a dense layer W z + b (A × L weight), with SB3's two inits.
#include <cmath>

#include "../nn/init.hpp"
#include "../nn/mlp.hpp"
#include "common.hpp"

namespace spindle::noise {

struct HeadInit {
  nn::Init init = nn::Init::pytorch_default;  // SAC; PPO uses orthogonal with gain 0.01
  double gain = 0.01;                         // orthogonal only
  /// 1: a dense layer. A (the action size): one output per group of latent/A rows — each
  /// actuator's mean from its own controller (policy::Dmap asks for it; the algorithms set it).
  Eigen::Index groups = 1;
};

template <class S>
nn::Dense make_mean_layer(nn::Parameters<S>& p, Eigen::Index latent_dim, Eigen::Index action_dim, HeadInit init,
                          Rng& rng, const char* name = "action") {
  if (init.groups != 1 && (init.groups != action_dim || latent_dim % action_dim != 0))
    throw std::invalid_argument(std::string("noise head: a per-actuator layer needs one group per action (") +
                                std::to_string(action_dim) + ") and a latent that splits into them, got " +
                                std::to_string(init.groups) + " groups for a latent of " + std::to_string(latent_dim));
  const nn::Dense d = nn::Dense::create(p, name, latent_dim, action_dim, nn::Activation::identity, init.groups);
  nn::init_dense(p, d, init.init, init.gain, rng);
  return d;
}

/// The acting path's mean, μ = W z + b, into `out` without tape nodes for the parameters and
/// the layer: linear()'s kernel in linear()'s order (the bias, then the product accumulated
/// onto it), so the same bits as the differentiable mean. z must be latent_dim × batch.
template <class S, class Latent>
void mean_values(nn::Parameters<S>& p, const nn::Dense& layer, const Latent& z, Matrix<S>& out) {
  const auto W = p.value(layer.weight);
  const Eigen::Index A = layer.groups == 1 ? W.rows() : layer.groups;
  out.resize(A, z.cols());
  autodiff::MatrixMap<S> Y(out.data(), out.rows(), out.cols());
  Y.colwise() = p.value(layer.bias).col(0);
  if (layer.groups == 1) {
    autodiff::detail::gemm_into<S>(Y, true, W, z, false);
    return;
  }
  const Eigen::Index in = W.cols() / A;  // grouped_linear's kernel, group by group
  for (Eigen::Index g = 0; g < A; ++g)
    autodiff::detail::strided_gemm<S>(Y.data() + g, A, W.data() + g * in, 1, z.data() + g * in, z.outerStride(), false, 1,
                                      z.cols(), in, true);
}

inline void check_dims(Eigen::Index latent_dim, Eigen::Index action_dim, const char* who) {
  if (latent_dim <= 0 || action_dim <= 0)
    throw std::invalid_argument(std::string(who) + ": latent and action dimensions must be positive");
}

/// Throws shape_error unless z is latent_dim × (any batch).
template <class S>
void check_latent(Var<S> z, Eigen::Index latent_dim, const char* who) {
  if (z.rows() != latent_dim) throw_shape_error(who, "latent", latent_dim, z.cols(), z.rows(), z.cols());
}

}  // namespace spindle::noise
