#pragma once
// The network concept: what PPO and SAC ask of a policy, value or Q network, so that the
// architecture is a template parameter (Ppo<Env, Head, Actor, Critic>, Sac<Env, Head, Actor, Critic>).
//
// A network is a small value type holding indices into an nn::Parameters set. The algorithm
// builds it once with create(params, build, config, rng) and calls it with the Inputs of a
// batch; it returns the latent the noise head reads (actor) or V / Q (critics, 1 × batch).
// What the network reads beyond the observation it declares, and the algorithm provides it:
//
//   struct MyPolicy {
//     struct Config { Eigen::Index width = 64; };
//     nn::MlpStack mlp;
//     template <class S>
//     static MyPolicy create(nn::Parameters<S>& p, const policy::Build& b, const Config& c, Rng& rng) {
//       return {nn::MlpStack::create(p, b.prefix, b.mlp({b.shapes.observation, c.width}), rng)};
//     }
//     template <class S>
//     autodiff::Var<S> operator()(nn::Parameters<S>& p, const policy::Inputs<S>& in) const {
//       return mlp(p, in.observation);
//     }
//   };
//
// Optional members (absent: false / 0): `static constexpr bool privileged` (reads
// Inputs::privileged; needs a PrivilegedEnvironment), `static constexpr bool previous_action`
// (reads Inputs::previous_action), `Eigen::Index history_length() const` (reads
// Inputs::history, the last T observations and actions), `static constexpr bool
// observation_action` (a Q network reads Inputs::observation_action, stacked once per batch).
#include <concepts>
#include <string>
#include <vector>

#include "../autodiff/activation.hpp"
#include "../autodiff/shape.hpp"
#include "../core/rng.hpp"
#include "../nn/mlp.hpp"
#include "../nn/parameters.hpp"

namespace spindle::policy {

/// The sizes a network is built for.
struct Shapes {
  Eigen::Index observation = 0, action = 0, privileged = 0;
  /// One history entry: an observation and the action before it.
  Eigen::Index entry() const noexcept { return observation + action; }
};

/// What the network is for: the actor's latent (its last hidden layer, activated, which the
/// noise head reads), a state value V(s), or an action value Q(s, a) (Inputs::action given).
enum class Role { actor, value, q };

/// How the algorithm asks for a network: the role, the sizes, and the algorithm's own
/// configuration of its MLP part (hidden sizes, activation, initialisation), which shipped
/// architectures use for the layers that map their features to the output.
struct Build {
  Role role = Role::actor;
  Shapes shapes{};
  std::string prefix{};                 // parameter names start with it ("pi.", "vf.", "q1.")
  std::vector<Eigen::Index> hidden{};   // the algorithm's hidden sizes for this network
  autodiff::Activation activation = autodiff::Activation::tanh;
  nn::Init init = nn::Init::pytorch_default;
  double output_gain = 1.0;             // orthogonal init of the last layer

  /// The MLP config from `input` features to this role's output: the last hidden layer for
  /// an actor (activated), one linear unit for V and Q.
  nn::MlpConfig mlp(Eigen::Index input) const {
    std::vector<Eigen::Index> sizes{input};
    sizes.insert(sizes.end(), hidden.begin(), hidden.end());
    if (role != Role::actor) sizes.push_back(1);
    return {.sizes = sizes, .hidden = activation, .output = role == Role::actor ? activation : autodiff::Activation::identity,
            .init = init, .output_gain = output_gain};
  }
  /// The output size of mlp(): the latent size for an actor, 1 for critics.
  Eigen::Index output_size() const { return role == Role::actor ? (hidden.empty() ? 0 : hidden.back()) : 1; }
};

/// One batch of inputs, every matrix features × batch on one tape. Members a network did not
/// ask for are empty Vars (tape == nullptr).
template <class S>
struct Inputs {
  autodiff::Var<S> observation{};      // obs × B (normalised when the algorithm normalises)
  autodiff::Var<S> previous_action{};  // act × B: the action before this observation in [−1, 1], 0 at an episode's start
  autodiff::Var<S> history{};          // (T·(obs + act)) × B: entries oldest first, each [observation; previous action],
                                     // zeros before the episode's start; the newest entry is the current one
  autodiff::Var<S> privileged{};       // privileged × B (privileged networks only)
  autodiff::Var<S> action{};           // act × B (Q networks only): the action being valued
  autodiff::Var<S> observation_action{};  // [observation; action] (Q networks that declare
                                          // observation_action = true): stacked once per batch for both critics
};

/// A network type the algorithms can build and call.
template <class N, class S>
concept Network = std::copyable<N> && requires(const N& n, nn::Parameters<S>& p, const Inputs<S>& in, const Build& b,
                                               const typename N::Config& c, Rng& rng) {
  { N::create(p, b, c, rng) } -> std::same_as<N>;
  { n(p, in) } -> std::same_as<autodiff::Var<S>>;
};

/// Reads Inputs::privileged.
template <class N>
constexpr bool reads_privileged() {
  if constexpr (requires { N::privileged; }) return N::privileged;
  else return false;
}
/// Reads Inputs::previous_action.
template <class N>
constexpr bool reads_previous_action() {
  if constexpr (requires { N::previous_action; }) return N::previous_action;
  else return false;
}
/// Reads Inputs::observation_action (Q networks on [observation; action]).
template <class N>
constexpr bool reads_observation_action() {
  if constexpr (requires { N::observation_action; }) return N::observation_action;
  else return false;
}
/// The history length T the network reads (0: none).
template <class N>
Eigen::Index history_length(const N& n) {
  if constexpr (requires { n.history_length(); }) return n.history_length();
  else return 0;
}

template <class>
inline constexpr bool always_false = false;

/// An actor whose latent is one block of rows per action (policy::Dmap: `head_groups()`, the
/// action size) gets a noise head whose mean (and state-dependent log-std) layers are
/// per-actuator, so each action reads only its own block (noise::HeadInit::groups).
template <class Actor, class HeadConfig>
void set_head_groups(const Actor& actor, HeadConfig& config) {
  if constexpr (requires { actor.head_groups(); }) {
    if constexpr (requires { config.head.groups; }) config.head.groups = actor.head_groups();
    else static_assert(always_false<HeadConfig>, "this actor needs a noise head with per-actuator layers (HeadInit::groups)");
  }
}

/// The newest `length` entries of a longer window (entries of `entry` rows, oldest first).
template <class S>
autodiff::Var<S> newest(autodiff::Var<S> window, Eigen::Index length, Eigen::Index entry) {
  const Eigen::Index rows = length * entry;
  return rows == window.rows() ? window : autodiff::slice_rows(window, window.rows() - rows, rows);
}

}  // namespace spindle::policy
