#pragma once
// policy::Mlp: today's networks, an MLP on the current observation (and, for Q, the action).
// The default architecture of Ppo and Sac; it builds the same parameters in the same order
// with the same draws as the algorithms did before architectures became template parameters.
#include "network.hpp"

namespace spindle::policy {

struct Mlp {
  static constexpr bool observation_action = true;  // as Q: reads [observation; action], shared by the twins
  struct Config {};  // the algorithm's hidden sizes, activation and init are all there is
  nn::MlpStack mlp;

  template <class S>
  static Mlp create(nn::Parameters<S>& p, const Build& b, const Config&, Rng& rng) {
    const Eigen::Index in = b.shapes.observation + (b.role == Role::q ? b.shapes.action : 0);
    return {nn::MlpStack::create(p, b.prefix, b.mlp(in), rng)};
  }

  template <class S>
  autodiff::Var<S> operator()(nn::Parameters<S>& p, const Inputs<S>& in) const {
    if (in.observation_action.tape) return mlp(p, in.observation_action);
    return mlp(p, in.action.tape ? autodiff::concat_rows(in.observation, in.action) : in.observation);
  }
};

}  // namespace spindle::policy
