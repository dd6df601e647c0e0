#pragma once
/// @file
/// Keeps some components of the observation and drops the rest: partially observed tasks
/// (rl-baselines3-zoo's PendulumNoVel keeps cos θ and sin θ and hides θ̇), where a policy
/// needs memory or a history window to act well.
#include <Eigen/Core>

#include "../core/environment.hpp"
#include "../core/state_words.hpp"
#include "../core/step.hpp"
#include "wrapper.hpp"

namespace spindle {

namespace detail {
template <class E>
struct state_type {
  using type = void;
};
template <class E>
  requires requires { typename E::State; }
struct state_type<E> {
  using type = typename E::State;
};
}  // namespace detail

/// The observation components at `Indices...` of Env's (a static-size observation), in that order.
template <Environment Env, int... Indices>
  requires(Env::obs_dim != dynamic && sizeof...(Indices) > 0 && ((Indices >= 0 && Indices < Env::obs_dim) && ...))
class SelectObservation : public Wrapper<Env> {
 public:
  static constexpr int obs_dim = sizeof...(Indices), act_dim = Env::act_dim;
  using Scalar = scalar_t<Env>;
  using Observation = Eigen::Matrix<Scalar, obs_dim, 1>;

  SelectObservation() requires std::default_initializable<Env> : Wrapper<Env>(Env{}) {}
  explicit SelectObservation(Env env) : Wrapper<Env>(std::move(env)) {}

  Eigen::Index observation_size() const noexcept { return obs_dim; }

  Observation reset(Rng& rng) { return select(this->env_.reset(rng)); }

  Step<obs_dim, Scalar> step(const action_t<Env>& action) {
    const auto s = this->env_.step(action);
    return {select(s.observation), static_cast<Scalar>(s.reward), s.terminated, s.truncated};
  }

  /// What the hidden environment's full observation would be (for tests and for privileged critics).
  const Env& full() const noexcept { return this->env_; }

  void save_state(StateWords& out) const requires SavableEnvironment<Env> { this->env_.save_state(out); }
  void load_state(StateReader& in) requires SavableEnvironment<Env> { this->env_.load_state(in); }

  using State = typename detail::state_type<Env>::type;
  State state() const requires StatefulEnvironment<Env> { return this->env_.state(); }
  template <class St = State>
    requires StatefulEnvironment<Env>
  Observation set_state(const St& s) { return select(this->env_.set_state(s)); }

 private:
  template <class Full>
  static Observation select(const Full& o) {
    return Observation(static_cast<Scalar>(o(Indices))...);
  }
};

}  // namespace spindle
