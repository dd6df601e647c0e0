#pragma once
/// @file
/// The last T observations and previous actions as the observation (SB3's frame stacking, with
/// actions): [o_{t−T+1}, a_{t−T}, …, o_t, a_{t−1}], newest last, zeros before the episode's
/// first step. A memoryless policy reading it is a history MLP; on a partially observed task
/// (velocities hidden) differences of consecutive observations recover what is hidden.
#include <Eigen/Core>
#include <algorithm>

#include "../core/environment.hpp"
#include "../core/state_words.hpp"
#include "../core/step.hpp"
#include "wrapper.hpp"

namespace spindle {

template <Environment Env, int T>
  requires(T > 0 && Env::obs_dim != dynamic && Env::act_dim != dynamic)
class HistoryWindow : public Wrapper<Env> {
 public:
  static constexpr int entry = Env::obs_dim + Env::act_dim;  // one (observation, previous action)
  static constexpr int obs_dim = T * entry, act_dim = Env::act_dim;
  using Scalar = scalar_t<Env>;
  using Observation = Eigen::Matrix<Scalar, obs_dim, 1>;

  HistoryWindow() requires std::default_initializable<Env> : Wrapper<Env>(Env{}) {}
  explicit HistoryWindow(Env env) : Wrapper<Env>(std::move(env)) {}

  Eigen::Index observation_size() const noexcept { return obs_dim; }

  Observation reset(Rng& rng) {
    window_.setZero();
    push(this->env_.reset(rng), action_t<Env>::Zero());
    return window_;
  }
  Step<obs_dim, Scalar> step(const action_t<Env>& action) {
    const auto s = this->env_.step(action);
    push(s.observation, action);
    return {window_, static_cast<Scalar>(s.reward), s.terminated, s.truncated};
  }

  void save_state(StateWords& out) const requires SavableEnvironment<Env> {
    this->env_.save_state(out);
    for (Eigen::Index i = 0; i < obs_dim; ++i) put_word(out, static_cast<double>(window_(i)));
  }
  void load_state(StateReader& in) requires SavableEnvironment<Env> {
    this->env_.load_state(in);
    for (Eigen::Index i = 0; i < obs_dim; ++i) window_(i) = static_cast<Scalar>(in.real());
  }

 private:
  template <class O, class A>
  void push(const O& o, const A& a) {
    // Shift one entry towards the front (oldest first) and write the newest at the end.
    std::copy(window_.data() + entry, window_.data() + obs_dim, window_.data());
    window_.template tail<entry>().template head<Env::obs_dim>() = o.template cast<Scalar>();
    window_.template tail<Env::act_dim>() = a.template cast<Scalar>();
  }
  Observation window_ = Observation::Zero();
};

}  // namespace spindle
