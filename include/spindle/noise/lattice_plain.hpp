#pragma once
// Lattice without state-dependent exploration (LatticeNoiseDistribution for PPO,
// SquashedLatticeNoiseDistribution for SAC): u ~ N(μ, Σ), Σ = W diag(σ_x²) Wᵀ + diag(σ_a²),
// σ = exp(θ) · exp(log_std_init) with θ = [θ_a (A); θ_x (L)] either a free parameter
// initialised to zero or, state_dependent, a dense layer of z (clamped to [−20, 2] when
// squashed, as SAC's actor). No time correlation of its own: exploring draws ξ from the
// Source (white, pink, OU) and sets u = μ + chol(Σ) ξ, exactly as torch's MultivariateNormal.
// Training samples (rsample) use the equivalent u = μ + W(σ_x ⊙ ξ_x) + σ_a ⊙ ξ_a, which has
// the same distribution and needs no Cholesky gradient.
#include "action_head.hpp"
#include "white.hpp"

namespace spindle::noise {

template <class S, class Source = WhiteNoise<S>>
class LatticePlain {
 public:
  using scalar = S;
  using source_type = Source;
  struct Config {
    bool state_dependent = false;
    bool squash_output = false;
    double log_std_init = 0.0;
    double epsilon = 1e-6;                    // squash correction
    double log_std_min = -20, log_std_max = 2;  // clamp of the state-dependent log-std when squashed
    HeadInit head{};
    typename Source::Config source{};
    /// The fields that shape the distribution, by name (checkpoints of deployable policies).
    template <class F> void fields(F&& f) {
      f("state_dependent", state_dependent); f("squash_output", squash_output); f("log_std_init", log_std_init);
      f("epsilon", epsilon); f("log_std_min", log_std_min); f("log_std_max", log_std_max); source.fields(f);
    }
  };
  static constexpr const char* name = "LatticePlain";

  LatticePlain(Eigen::Index latent_dim, Eigen::Index action_dim, nn::Parameters<S>& p, Rng& rng, Config c = {})
      : config_(c), latent_dim_(latent_dim), action_dim_(action_dim), source_(c.source) {
    check_dims(latent_dim, action_dim, "LatticePlain");
    if (c.head.groups != 1)  // its covariance α² W diag(σ_x²) Wᵀ reads the mean layer as one dense W
      throw std::invalid_argument("LatticePlain: per-actuator action layers (policy::Dmap's grouped head) are not supported; "
                                  "use DiagGaussian, SquashedGaussian or Gsde");
    mean_ = make_mean_layer(p, latent_dim, action_dim, c.head, rng);
    if (c.state_dependent)
      log_std_layer_ = make_mean_layer(p, latent_dim, action_dim + latent_dim, c.head, rng, "log_std");
    else
      log_std_ = p.add("log_std", action_dim + latent_dim, 1);  // zero: std = exp(log_std_init)
  }

  Eigen::Index latent_dim() const noexcept { return latent_dim_; }
  Eigen::Index action_dim() const noexcept { return action_dim_; }
  bool squashed() const noexcept { return config_.squash_output; }
  const Config& config() const noexcept { return config_; }

  Var<S> mean(nn::Parameters<S>& p, Var<S> z) const {
    check_latent(z, latent_dim_, "LatticePlain");
    return mean_(p, z);
  }
  Var<S> mode(nn::Parameters<S>& p, Var<S> z) const {
    const Var<S> mu = mean(p, z);
    return squashed() ? autodiff::tanh(mu) : mu;
  }
  /// log σ = [log σ_a; log σ_x] ((A + L) × batch, or × 1 when not state dependent).
  Var<S> log_std(nn::Parameters<S>& p, Var<S> z) const {
    autodiff::Tape<S>& t = *z.tape;
    Var<S> theta = config_.state_dependent ? log_std_layer_(p, z) : p.on(t, log_std_);
    if (config_.state_dependent && squashed())
      theta = autodiff::clamp(theta, S(config_.log_std_min), S(config_.log_std_max));
    return config_.log_std_init != 0 ? theta + S(config_.log_std_init) : theta;
  }
  Var<S> variances(nn::Parameters<S>& p, Var<S> z) const { return autodiff::exp(log_std(p, z) * S(2)); }
  Matrix<S> covariance(nn::Parameters<S>& p, Var<S> z, Eigen::Index b) const {
    return autodiff::lowrank_covariance_matrix<S>(p.value(mean_.weight), variances(p, z).value(), b, S(1));
  }

  Var<S> log_prob(nn::Parameters<S>& p, Var<S> z, Var<S> actions) {
    if (!squashed()) return gaussian_log_prob(p, z, actions);
    return gaussian_log_prob(p, z, pre_squash(*z.tape, actions)) - tanh_log_det(actions, S(config_.epsilon));
  }
  std::optional<Var<S>> entropy(nn::Parameters<S>& p, Var<S> z) const {
    if (squashed()) return std::nullopt;
    autodiff::Tape<S>& t = *z.tape;
    const Var<S> h = autodiff::lowrank_gaussian_entropy(p.on(t, mean_.weight), variances(p, z), S(1));
    if (h.cols() == z.cols()) return h;
    return t.constant(Matrix<S>::Ones(1, z.cols())) * h;
  }

  Sampled<S> rsample(nn::Parameters<S>& p, Var<S> z, Rng& rng) {
    autodiff::Tape<S>& t = *z.tape;
    train_xi_.resize(action_dim_ + latent_dim_, z.cols());  // its own buffer: batch and env counts differ
    rng.fill_normal(train_xi_);
    const Var<S> sigma = autodiff::exp(log_std(p, z));
    const Var<S> scaled = sigma * t.constant(train_xi_);
    const Var<S> u = mean(p, z) + autodiff::slice_rows(scaled, 0, action_dim_) +
                     autodiff::matmul(p.on(t, mean_.weight), autodiff::slice_rows(scaled, action_dim_, latent_dim_));
    return finish(p, z, u);
  }

  /// u = μ + chol(Σ) ξ per column, ξ from the source (column i = environment i).
  Sampled<S> explore(nn::Parameters<S>& p, Var<S> z, Rng& rng) {
    check_finite(z.value(), "LatticePlain::explore", "latent");
    source_.resize(action_dim_, z.cols(), rng);
    xi_.resize(action_dim_, z.cols());
    source_.next(xi_, rng);
    return sample(p, z, xi_);
  }
  /// u = μ + chol(Σ_b) ξ_b for given standard normals ξ (A × batch).
  template <class Derived>
  Sampled<S> sample(nn::Parameters<S>& p, Var<S> z, const Eigen::MatrixBase<Derived>& xi) {
    autodiff::Tape<S>& t = *z.tape;
    const Eigen::Index A = action_dim_, L = latent_dim_;
    check_shape(xi, A, z.cols(), "LatticePlain::sample", "xi");
    const Var<S> mu = mean(p, z);
    const Var<S> v = variances(p, z);
    sigma_.resize(A, A);
    scaled_.resize(A, L);
    const int noise = t.push(A, z.cols(), false);  // chol(Σ_b) ξ_b, in the tape's arena
    autodiff::MatrixMap<S> correlated = t.value(noise);
    for (Eigen::Index b = 0; b < z.cols(); ++b) {
      autodiff::detail::lowrank_covariance<S>(p.value(mean_.weight), v.value(), b, S(1), sigma_, scaled_);
      autodiff::detail::cholesky_in_place<S>(sigma_, b, "LatticePlain::explore");
      correlated.col(b).noalias() = sigma_.template triangularView<Eigen::Lower>() * xi.col(b).template cast<S>();
    }
    return finish(p, z, mu + Var<S>{&t, noise});
  }
  void reset_noise(nn::Parameters<S>&, Eigen::Index n_envs, Rng& rng) { source_.resize(action_dim_, n_envs, rng); }
  void restart_stream(Eigen::Index env, Rng& rng) { source_.restart(env, rng); }

 private:
  Var<S> gaussian_log_prob(nn::Parameters<S>& p, Var<S> z, Var<S> u) const {
    return autodiff::lowrank_gaussian_log_prob(u - mean(p, z), p.on(*z.tape, mean_.weight), variances(p, z), S(1));
  }
  Sampled<S> finish(nn::Parameters<S>& p, Var<S> z, Var<S> u) {
    const Var<S> logp = gaussian_log_prob(p, z, u);
    return squash_if(squashed(), u, logp, S(config_.epsilon));
  }

  Config config_;
  Eigen::Index latent_dim_, action_dim_;
  nn::Dense mean_, log_std_layer_;
  int log_std_ = -1;
  Source source_;
  Matrix<S> xi_, train_xi_, sigma_, scaled_;
};

}  // namespace spindle::noise
