#pragma once
// What every exploration-noise head shares: the sample type, the tanh squash
// and its log-determinant, and the concept the algorithms are written against.
//
// A head owns the action head of a policy (mean W, b and its std parameters,
// registered in the policy's Parameters set) and maps the policy's last hidden
// layer z (L × batch, on a tape) to a distribution over actions (A × batch).
#include <cmath>
#include <concepts>
#include <limits>
#include <optional>

#include "../autodiff.hpp"
#include "../core/rng.hpp"
#include "../nn/parameters.hpp"

namespace spindle::noise {

using autodiff::Var;
template <class S>
using Matrix = autodiff::Matrix<S>;

/// The acting path's NaN/Inf check of the latent, made on a result the latent flows into
/// (its mean or log-prob: products carry NaN and Inf into every output they touch), so a
/// call scans A or 1 values per column instead of L; the latent itself is scanned only to
/// name the culprit. Throws non_finite_error.
template <class S, class Derived>
void check_latent_through(Var<S> z, const Eigen::DenseBase<Derived>& result, const char* who) {
  if (!all_finite(result)) check_finite(z.value(), who, "latent");
}

/// An action drawn on a tape, with its log-probability (1 × batch).
template <class S>
struct Sampled {
  Var<S> action;    // A × batch, squashed into (−1, 1) when the head squashes
  Var<S> log_prob;  // 1 × batch
};

/// atanh(clamp(a, −1 + eps, 1 − eps)) with eps the machine epsilon of S (SB3's TanhBijector.inverse).
template <class S, class Derived>
void inverse_tanh(const Eigen::MatrixBase<Derived>& a, Eigen::Ref<Matrix<S>> out) {
  constexpr S eps = std::numeric_limits<S>::epsilon();
  out = a.derived().template cast<S>().array().max(S(-1) + eps).min(S(1) - eps).unaryExpr(
      [](S y) { return S(0.5) * (std::log1p(y) - std::log1p(-y)); });
}

/// u = atanh(clamp(a)) of squashed actions, as a constant on tape t (in its arena, so
/// minibatches of changing size allocate nothing).
template <class S>
Var<S> pre_squash(autodiff::Tape<S>& t, Var<S> actions) {
  const int id = t.push(actions.rows(), actions.cols(), false);
  autodiff::MatrixMap<S> u = t.value(id);
  inverse_tanh<S>(actions.value(), u);
  return {&t, id};
}

/// Σ_k ln(1 − a_k² + eps) per sample: the log |det| of tanh's Jacobian as SB3 computes it.
template <class S>
Var<S> tanh_log_det(Var<S> squashed, S eps) {
  return autodiff::sum_over_rows(autodiff::log((S(1) + eps) - autodiff::square(squashed)));
}

/// The sample u with log-density logp, tanh-squashed with its log-det correction when `squash`.
template <class S>
Sampled<S> squash_if(bool squash, Var<S> u, Var<S> logp, S eps) {
  if (!squash) return {u, logp};
  const Var<S> a = autodiff::tanh(u);
  return {a, logp - tanh_log_det(a, eps)};
}

/// ln of the Box-Muller normal's constant, ½ ln 2π.
template <class S>
constexpr S half_log_two_pi = autodiff::detail::half_log_two_pi<S>;

/// What PPO and SAC need from an exploration-noise head.
template <class H>
concept NoiseHead = requires(H h, const H ch, nn::Parameters<typename H::scalar>& p, Var<typename H::scalar> z,
                             Rng& rng, Eigen::Index n) {
  typename H::Config;
  { ch.action_dim() } -> std::convertible_to<Eigen::Index>;
  { ch.latent_dim() } -> std::convertible_to<Eigen::Index>;
  { ch.squashed() } -> std::convertible_to<bool>;
  { h.mode(p, z) } -> std::same_as<Var<typename H::scalar>>;
  { h.log_prob(p, z, z) } -> std::same_as<Var<typename H::scalar>>;
  { h.entropy(p, z) } -> std::same_as<std::optional<Var<typename H::scalar>>>;
  { h.rsample(p, z, rng) } -> std::same_as<Sampled<typename H::scalar>>;
  { h.explore(p, z, rng) } -> std::same_as<Sampled<typename H::scalar>>;
  h.reset_noise(p, n, rng);
};

}  // namespace spindle::noise
