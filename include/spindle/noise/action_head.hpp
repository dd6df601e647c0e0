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
};

template <class S>
nn::Dense make_mean_layer(nn::Parameters<S>& p, Eigen::Index latent_dim, Eigen::Index action_dim, HeadInit init,
                          Rng& rng, const char* name = "action") {
  nn::Dense d = nn::Dense::create(p, name, latent_dim, action_dim, nn::Activation::identity);
  if (init.init == nn::Init::orthogonal)
    nn::init_orthogonal(p.value(d.weight), p.value(d.bias), init.gain, rng);
  else
    nn::init_pytorch_default(p.value(d.weight), p.value(d.bias), rng);
  return d;
}

/// The acting path's mean, μ = W z + b, into `out` without tape nodes for the parameters and
/// the layer: linear()'s kernel in linear()'s order (the bias, then the product accumulated
/// onto it), so the same bits as the differentiable mean. z must be latent_dim × batch.
template <class S, class Latent>
void mean_values(nn::Parameters<S>& p, const nn::Dense& layer, const Latent& z, Matrix<S>& out) {
  const auto W = p.value(layer.weight);
  out.resize(W.rows(), z.cols());
  autodiff::MatrixMap<S> Y(out.data(), out.rows(), out.cols());
  Y.colwise() = p.value(layer.bias).col(0);
  autodiff::detail::gemm_into<S>(Y, true, W, z, false);
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
