#pragma once
// Diagonal Gaussian with a state-independent log-std (SB3's DiagGaussianDistribution, the
// PPO default): a = μ + σ ⊙ ξ, μ = W z + b, σ = exp(log_std) shared by the batch.
// While exploring, ξ comes from the Source (white by default; pink or OU correlate it in time).
#include "action_head.hpp"
#include "white.hpp"

namespace spindle::noise {

template <class S, class Source = WhiteNoise<S>>
class DiagGaussian {
 public:
  using scalar = S;
  struct Config {
    double log_std_init = 0.0;
    HeadInit head{};
    typename Source::Config source{};
  };

  DiagGaussian(Eigen::Index latent_dim, Eigen::Index action_dim, nn::Parameters<S>& p, Rng& rng, Config c = {})
      : config_(c), latent_dim_(latent_dim), action_dim_(action_dim), source_(c.source) {
    check_dims(latent_dim, action_dim, "DiagGaussian");
    mean_ = make_mean_layer(p, latent_dim, action_dim, c.head, rng);
    log_std_ = p.add("log_std", action_dim, 1);
    p.value(log_std_).setConstant(static_cast<S>(c.log_std_init));
  }

  Eigen::Index latent_dim() const noexcept { return latent_dim_; }
  Eigen::Index action_dim() const noexcept { return action_dim_; }
  bool squashed() const noexcept { return false; }

  Var<S> mean(nn::Parameters<S>& p, Var<S> z) const {
    check_latent(z, latent_dim_, "DiagGaussian");
    return mean_(p, z);
  }
  Var<S> mode(nn::Parameters<S>& p, Var<S> z) const { return mean(p, z); }
  /// σ (A × 1), for logging.
  Var<S> std(nn::Parameters<S>& p, autodiff::Tape<S>& t) const { return autodiff::exp(p.on(t, log_std_)); }

  Var<S> log_prob(nn::Parameters<S>& p, Var<S> z, Var<S> actions) const {
    return autodiff::normal_log_prob(actions, mean(p, z), std(p, *z.tape));
  }
  std::optional<Var<S>> entropy(nn::Parameters<S>& p, Var<S> z) const {
    autodiff::Tape<S>& t = *z.tape;
    const Var<S> h = autodiff::sum(p.on(t, log_std_)) + S(action_dim_) * (S(0.5) + half_log_two_pi<S>);
    return ones_row(t, z.cols()) * h;
  }

  /// Training sample: fresh white noise.
  Sampled<S> rsample(nn::Parameters<S>& p, Var<S> z, Rng& rng) {
    xi_.resize(action_dim_, z.cols());
    rng.fill_normal(xi_);
    return sample(p, z, xi_);
  }
  /// Exploration sample: column i is environment i and draws from its noise stream.
  Sampled<S> explore(nn::Parameters<S>& p, Var<S> z, Rng& rng) {
    check_finite(z.value(), "DiagGaussian::explore", "latent");
    source_.resize(action_dim_, z.cols(), rng);
    xi_.resize(action_dim_, z.cols());
    source_.next(xi_, rng);
    return sample(p, z, xi_);
  }
  /// Nothing to resample for a state-independent Gaussian; sizes the noise streams.
  void reset_noise(nn::Parameters<S>&, Eigen::Index n_envs, Rng& rng) { source_.resize(action_dim_, n_envs, rng); }
  void restart_stream(Eigen::Index env, Rng& rng) { source_.restart(env, rng); }

  /// a = μ + σ ⊙ ξ for given standard normals ξ (A × batch).
  template <class Derived>
  Sampled<S> sample(nn::Parameters<S>& p, Var<S> z, const Eigen::MatrixBase<Derived>& xi) const {
    autodiff::Tape<S>& t = *z.tape;
    const Var<S> mu = mean(p, z), sigma = std(p, t);
    const Var<S> u = mu + sigma * t.constant(xi);
    return {u, autodiff::normal_log_prob(u, mu, sigma)};
  }

  const Config& config() const noexcept { return config_; }
  int log_std_index() const noexcept { return log_std_; }
  const nn::Dense& mean_layer() const noexcept { return mean_; }

 private:
  static Var<S> ones_row(autodiff::Tape<S>& t, Eigen::Index n) { return t.constant(Matrix<S>::Ones(1, n)); }

  Config config_;
  Eigen::Index latent_dim_, action_dim_;
  nn::Dense mean_;
  int log_std_ = -1;
  Source source_;
  Matrix<S> xi_;
};

}  // namespace spindle::noise
