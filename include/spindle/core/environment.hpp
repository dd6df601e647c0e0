#pragma once
// The Environment concept: all that spindle's algorithms ever ask of an environment.
//
//   struct MyEnv {
//     static constexpr int obs_dim = 4, act_dim = 2;      // or spindle::dynamic
//     spindle::Box<float> action_space{-1.0f, 1.0f, 2};    // a member, or action_space() const
//     Eigen::Vector4f reset(spindle::Rng& rng);            // the first observation
//     spindle::Step<4> step(const Eigen::Vector2f& a);     // {observation, reward, terminated, truncated}
//     // only when obs_dim is spindle::dynamic:
//     Eigen::Index observation_size() const;
//   };
//
// Optional, for runtime-sized observations without an allocation per step:
//     void step(const Action& a, Step<dynamic>& out);
// Optional, to be put into a chosen state (StatefulEnvironment):
//     using State = ...;  State state() const;  Observation set_state(const State&);
// Optional, for checkpoints that resume mid-episode (SavableEnvironment, core/state_words.hpp):
//     void save_state(StateWords&) const;  void load_state(StateReader&);
//
// static_assert(spindle::check_environment<MyEnv>()) names the first missing member.
#include <Eigen/Core>
#include <concepts>
#include <type_traits>
#include <utility>

#include "box.hpp"
#include "rng.hpp"
#include "step.hpp"

namespace spindle {

namespace detail {

template <class E>
concept has_dimensions = requires {
  { E::obs_dim } -> std::convertible_to<int>;
  { E::act_dim } -> std::convertible_to<int>;
};

template <class T>
concept eigen_column_vector = requires {
  typename T::Scalar;
  requires std::is_base_of_v<Eigen::MatrixBase<T>, T>;
  requires T::ColsAtCompileTime == 1;
};

template <class E>
concept has_action_space_member = requires(const E& e) {
  { e.action_space.size() } -> std::convertible_to<Eigen::Index>;
  e.action_space.low;
};
template <class E>
concept has_action_space_function = requires(const E& e) {
  { e.action_space().size() } -> std::convertible_to<Eigen::Index>;
  e.action_space().low;
};
template <class E>
concept has_action_space = has_action_space_member<E> || has_action_space_function<E>;

template <class E>
concept has_reset = requires(E& e, Rng& rng) {
  { e.reset(rng) } -> eigen_column_vector;
};

template <class E>
using reset_result_t = std::remove_cvref_t<decltype(std::declval<E&>().reset(std::declval<Rng&>()))>;

template <class E>
concept reset_matches_obs_dim =
    has_dimensions<E> && has_reset<E> &&
    (E::obs_dim == dynamic || reset_result_t<E>::RowsAtCompileTime == dynamic ||
     reset_result_t<E>::RowsAtCompileTime == E::obs_dim);

template <class S>
concept step_like = requires(S& s) {
  s.observation;
  { s.reward } -> std::convertible_to<double>;
  { s.terminated } -> std::convertible_to<bool>;
  { s.truncated } -> std::convertible_to<bool>;
};

template <class E>
concept has_step = has_dimensions<E> && has_reset<E> &&
    requires(E& e, const Eigen::Matrix<typename reset_result_t<E>::Scalar, E::act_dim, 1>& a) {
      { e.step(a) } -> step_like;
    };

// --- Do the declared sizes agree with what reset/step actually take and return?
// A probe that converts only to an Eigen column vector of `Rows` rows (any when Rows is
// dynamic): calling step(probe) is valid exactly when step takes a concrete Eigen vector of
// that size. Eigen's own converting constructors accept any size and fail only deep inside
// (YOU_MIXED_MATRICES_OF_DIFFERENT_SIZES), so the sizes are compared here instead.
template <class S, int Rows>
struct action_probe {
  template <int R, int O, int MR>
    requires(Rows == dynamic || R == Rows || R == dynamic)
  operator Eigen::Matrix<S, R, 1, O, MR, 1>() const;
};

template <class E>
using scalar_of_reset_t = typename reset_result_t<E>::Scalar;

/// step takes one concrete (non-template) Eigen vector parameter, of whatever size.
template <class E>
concept step_takes_concrete_vector = has_step<E> && requires(E& e, const action_probe<scalar_of_reset_t<E>, dynamic>& p) {
  e.step(p);
};

template <class E, int Rows>
concept step_takes_rows = requires(E& e, const action_probe<scalar_of_reset_t<E>, Rows>& p) { e.step(p); };

/// The fixed size of step's concrete action parameter (found by probing 1..256), or 0.
template <class E>
consteval int step_action_rows() {
  int found = 0;
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((step_takes_rows<E, I + 1> && found == 0 ? (found = I + 1) : 0), ...);
  }(std::make_integer_sequence<int, 256>{});
  return found;
}

template <class E>
concept step_action_matches_act_dim =
    has_step<E> && (E::act_dim == dynamic || !step_takes_concrete_vector<E> || step_takes_rows<E, E::act_dim>);

template <class E>
using step_observation_t = std::remove_cvref_t<decltype(std::declval<E&>().step(
    std::declval<const Eigen::Matrix<scalar_of_reset_t<E>, E::act_dim, 1>&>()).observation)>;

template <class E>
concept step_observation_matches_obs_dim =
    has_step<E> && (E::obs_dim == dynamic || !requires { step_observation_t<E>::RowsAtCompileTime; } ||
                    step_observation_t<E>::RowsAtCompileTime == dynamic ||
                    step_observation_t<E>::RowsAtCompileTime == E::obs_dim);

// Instantiated only on a mismatch, so that the compiler's message names both sizes.
template <int act_dim, int step_takes_an_action_of_size>
struct act_dim_agrees_with_step {
  static_assert(act_dim == step_takes_an_action_of_size,
                "not a spindle::Environment: act_dim differs from the size of the action step() takes "
                "(see the sizes in 'act_dim_agrees_with_step<act_dim, step_takes_an_action_of_size>')");
  static constexpr bool value = act_dim == step_takes_an_action_of_size;
};
template <int obs_dim, int step_returns_an_observation_of_size>
struct obs_dim_agrees_with_step {
  static_assert(obs_dim == step_returns_an_observation_of_size,
                "not a spindle::Environment: obs_dim differs from the size of the observation step() returns "
                "(see the sizes in 'obs_dim_agrees_with_step<obs_dim, step_returns_an_observation_of_size>')");
  static constexpr bool value = obs_dim == step_returns_an_observation_of_size;
};

template <class E>
concept knows_observation_size =
    has_dimensions<E> && (E::obs_dim != dynamic || requires(const E& e) {
      { e.observation_size() } -> std::convertible_to<Eigen::Index>;
    });

}  // namespace detail

/// A type spindle can train on. See the top of this header for the shape of one.
template <class E>
concept Environment = detail::has_dimensions<E> && detail::has_action_space<E> &&
                      detail::has_reset<E> && detail::reset_matches_obs_dim<E> &&
                      detail::has_step<E> && detail::step_action_matches_act_dim<E> &&
                      detail::step_observation_matches_obs_dim<E> && detail::knows_observation_size<E>;

/// Compile-time check with one readable message per missing piece:
///   static_assert(spindle::check_environment<MyEnv>());
template <class E>
consteval bool check_environment() {
  static_assert(detail::has_dimensions<E>,
                "not a spindle::Environment: missing `static constexpr int obs_dim` and "
                "`act_dim` (use spindle::dynamic for sizes known only at run time)");
  static_assert(detail::has_action_space<E>,
                "not a spindle::Environment: missing action_space (a spindle::Box member or an "
                "action_space() const function returning one)");
  static_assert(detail::has_reset<E>,
                "not a spindle::Environment: missing reset(spindle::Rng&) -> observation (an "
                "Eigen column vector)");
  static_assert(detail::reset_matches_obs_dim<E>,
                "not a spindle::Environment: reset(spindle::Rng&) returns a vector whose size is "
                "not obs_dim");
  static_assert(detail::has_step<E>,
                "not a spindle::Environment: missing step(const action&) -> "
                "spindle::Step<obs_dim> {observation, reward, terminated, truncated}, where action "
                "is Eigen::Matrix<Scalar, act_dim, 1>");
  if constexpr (detail::has_step<E>) {
    // Instantiating the class fires its static_assert, whose context names both sizes.
    if constexpr (!detail::step_action_matches_act_dim<E>)
      (void)detail::act_dim_agrees_with_step<E::act_dim, detail::step_action_rows<E>()>::value;
    if constexpr (!detail::step_observation_matches_obs_dim<E>)
      (void)detail::obs_dim_agrees_with_step<E::obs_dim, detail::step_observation_t<E>::RowsAtCompileTime>::value;
  }
  static_assert(detail::knows_observation_size<E>,
                "not a spindle::Environment: obs_dim is spindle::dynamic, so it needs "
                "observation_size() const");
  return true;
}

/// The observation vector type of an environment (what reset returns).
template <Environment E>
using observation_t = detail::reset_result_t<E>;
/// The scalar type of an environment (float or double).
template <Environment E>
using scalar_t = typename observation_t<E>::Scalar;
/// The action vector type an environment's step takes.
template <Environment E>
using action_t = Eigen::Matrix<scalar_t<E>, E::act_dim, 1>;
/// The step result type of an environment.
template <Environment E>
using step_result_t =
    std::remove_cvref_t<decltype(std::declval<E&>().step(std::declval<const action_t<E>&>()))>;

/// The action space of `env`, whether it is a member or a function.
template <Environment E>
decltype(auto) action_space(const E& env) {
  if constexpr (detail::has_action_space_member<E>)
    return (env.action_space);
  else
    return env.action_space();
}

template <Environment E>
Eigen::Index observation_size(const E& env) {
  if constexpr (E::obs_dim != dynamic)
    return E::obs_dim;
  else
    return env.observation_size();
}

template <Environment E>
Eigen::Index action_size(const E& env) {
  return action_space(env).size();
}

/// An environment that can be put into a chosen state (tests, demonstrations, curricula that
/// start episodes from given states): `State state() const` reads the physical state, and
/// `set_state(const State&)` starts a new episode in that state, as reset() would, and returns
/// its observation. The shipped environments all have it (envs::Pendulum: (θ, θ̇);
/// mujoco::Env: (qpos, qvel, act)).
template <class E>
concept StatefulEnvironment = Environment<E> && requires(E& e, const E& ce) {
  typename E::State;
  { ce.state() } -> std::convertible_to<typename E::State>;
  { e.set_state(ce.state()) } -> std::convertible_to<observation_t<E>>;
};

/// An environment with privileged information: what an oracle policy or a privileged critic may
/// read but the observation does not show (mujoco::Env: the body's perturbation vector p).
/// `privileged()` returns the current episode's values (an Eigen vector of any scalar type) and
/// `privileged_size()` their number, known before the first reset. Algorithms hand it only to
/// networks that declare `privileged = true`; every other network never sees it.
template <class E>
concept PrivilegedEnvironment = Environment<E> && requires(const E& e) {
  { e.privileged_size() } -> std::convertible_to<Eigen::Index>;
  { e.privileged().size() } -> std::convertible_to<Eigen::Index>;
  e.privileged()(0);
};

/// Steps `env` writing into `out`; uses the allocation-free overload when the environment has one.
template <Environment E, class Out>
void step_into(E& env, const action_t<E>& action, Out& out) {
  if constexpr (requires { env.step(action, out); })
    env.step(action, out);
  else
    out = env.step(action);
}

}  // namespace spindle
