#pragma once
// policy::Oracle: the DMAP paper's oracle (../shared/specs/dmap.md). The privileged vector e
// (the body's perturbation) goes through an encoder MLP to a small tanh code z; the
// network's MLP reads [observation; previous action; z] (and the action, for Q). Used as a
// critic it is the paper's privileged critic (PrivilegedCritic): DMAP's and the TCN's critics
// see e while their policies do not.
#include <stdexcept>
#include <vector>

#include "network.hpp"

namespace spindle::policy {

struct Oracle {
  static constexpr bool privileged = true;
  static constexpr bool previous_action = true;

  struct Config {
    std::vector<Eigen::Index> encoder_hidden = {256, 128};  // the paper's e → 256 → 128 → code
    Eigen::Index code_size = 4;
  };
  nn::MlpStack encoder, mlp;

  template <class S>
  static Oracle create(nn::Parameters<S>& p, const Build& b, const Config& c, Rng& rng) {
    if (b.shapes.privileged <= 0)
      throw std::invalid_argument("Oracle: the environment reports no privileged information (privileged_size() is 0; "
                                  "a mujoco::Env needs a Morphology with its size)");
    if (c.code_size <= 0) throw std::invalid_argument("Oracle: code_size must be positive");
    std::vector<Eigen::Index> sizes{b.shapes.privileged};
    sizes.insert(sizes.end(), c.encoder_hidden.begin(), c.encoder_hidden.end());
    sizes.push_back(c.code_size);
    Oracle o;
    o.encoder = nn::MlpStack::create(p, b.prefix + "encoder.",
                                     {.sizes = sizes, .hidden = b.activation, .output = autodiff::Activation::tanh,
                                      .init = b.init},
                                     rng);
    const Eigen::Index in = b.shapes.observation + b.shapes.action + c.code_size + (b.role == Role::q ? b.shapes.action : 0);
    o.mlp = nn::MlpStack::create(p, b.prefix, b.mlp(in), rng);
    return o;
  }

  /// The code z (code_size × B) for a batch of privileged vectors (inspection, RMA targets).
  template <class S>
  autodiff::Var<S> code(nn::Parameters<S>& p, autodiff::Var<S> privileged_values) const {
    return encoder(p, privileged_values);
  }

  template <class S>
  autodiff::Var<S> operator()(nn::Parameters<S>& p, const Inputs<S>& in) const {
    autodiff::Var<S> x = autodiff::concat_rows(autodiff::concat_rows(in.observation, in.previous_action), code(p, in.privileged));
    if (in.action.tape) x = autodiff::concat_rows(x, in.action);
    return mlp(p, x);
  }
};

/// The privileged critic of DMAP and the TCN (e → code, with [observation; previous action]).
using PrivilegedCritic = Oracle;

}  // namespace spindle::policy
