#pragma once
// RescaleAction: the agent acts in [-1, 1]^n; actions are mapped affinely onto
// the wrapped environment's bounded action space (Gymnasium's RescaleAction).
// Values outside [-1, 1] map linearly outside the box; the environment clips.
#include <stdexcept>

#include "wrapper.hpp"

namespace spindle {

template <Environment Env>
class RescaleAction : public Wrapper<Env> {
 public:
  using Scalar = scalar_t<Env>;

  explicit RescaleAction(Env env)
      : Wrapper<Env>(std::move(env)), unit_(Scalar(-1), Scalar(1), spindle::action_size(this->env_)) {
    if (!spindle::action_space(this->env_).bounded())
      throw std::invalid_argument("RescaleAction: the wrapped action space must be bounded");
  }

  const Box<Scalar>& action_space() const noexcept { return unit_; }

  observation_t<Env> reset(Rng& rng) { return this->env_.reset(rng); }

  step_result_t<Env> step(const action_t<Env>& unit_action) {
    const auto& inner = spindle::action_space(this->env_);
    action_t<Env> a = inner.rescale_from_unit(unit_action);
    return this->env_.step(a);
  }

 private:
  Box<Scalar> unit_;
};

}  // namespace spindle
