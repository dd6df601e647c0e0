#pragma once
// tanh-squashed diagonal Gaussian with a state-dependent log-std (SB3's SAC actor and
// SquashedDiagGaussianDistribution): u = μ + σ ⊙ ξ, a = tanh(u),
// log π(a) = log N(u; μ, σ²) − Σ ln(1 − a² + ε), log σ = clamp(W_σ z + b_σ, −20, 2).
#include "action_head.hpp"
#include "white.hpp"

namespace spindle::noise {

template <class S, class Source = WhiteNoise<S>>
class SquashedGaussian {
 public:
  using scalar = S;
  using source_type = Source;
  struct Config {
    double epsilon = 1e-6;
    double log_std_min = -20, log_std_max = 2;
    HeadInit head{};
    typename Source::Config source{};
    /// The fields that shape the distribution, by name (checkpoints of deployable policies).
    template <class F> void fields(F&& f) {
      f("epsilon", epsilon); f("log_std_min", log_std_min); f("log_std_max", log_std_max); source.fields(f);
    }
  };
  static constexpr const char* name = "SquashedGaussian";

  SquashedGaussian(Eigen::Index latent_dim, Eigen::Index action_dim, nn::Parameters<S>& p, Rng& rng, Config c = {})
      : config_(c), latent_dim_(latent_dim), action_dim_(action_dim), source_(c.source) {
    check_dims(latent_dim, action_dim, "SquashedGaussian");
    mean_ = make_mean_layer(p, latent_dim, action_dim, c.head, rng);
    log_std_ = make_mean_layer(p, latent_dim, action_dim, c.head, rng, "log_std");
  }

  Eigen::Index latent_dim() const noexcept { return latent_dim_; }
  Eigen::Index action_dim() const noexcept { return action_dim_; }
  bool squashed() const noexcept { return true; }

  Var<S> mean(nn::Parameters<S>& p, Var<S> z) const {
    check_latent(z, latent_dim_, "SquashedGaussian");
    return mean_(p, z);
  }
  Var<S> mode(nn::Parameters<S>& p, Var<S> z) const { return autodiff::tanh(mean(p, z)); }
  /// log σ after the clamp (A × batch).
  Var<S> log_std(nn::Parameters<S>& p, Var<S> z) const {
    return autodiff::clamp(log_std_(p, z), S(config_.log_std_min), S(config_.log_std_max));
  }

  /// log π(a) of given squashed actions: u = atanh(clamp(a)); the correction uses a itself (as SB3).
  Var<S> log_prob(nn::Parameters<S>& p, Var<S> z, Var<S> actions) {
    const Var<S> u = pre_squash(*z.tape, actions);
    const Var<S> mu = mean(p, z), sigma = autodiff::exp(log_std(p, z));
    return autodiff::normal_log_prob(u, mu, sigma) - tanh_log_det(actions, S(config_.epsilon));
  }
  std::optional<Var<S>> entropy(nn::Parameters<S>&, Var<S>) const { return std::nullopt; }  // none in closed form

  Sampled<S> rsample(nn::Parameters<S>& p, Var<S> z, Rng& rng) {
    train_xi_.resize(action_dim_, z.cols());  // its own buffer: batch and env counts differ
    rng.fill_normal(train_xi_);
    const Detailed d = sample_detailed(p, z, train_xi_);
    return {d.action, d.log_prob};
  }
  Sampled<S> explore(nn::Parameters<S>& p, Var<S> z, Rng& rng) {
    check_finite(z.value(), "SquashedGaussian::explore", "latent");
    source_.resize(action_dim_, z.cols(), rng);
    xi_.resize(action_dim_, z.cols());
    source_.next(xi_, rng);
    return sample_with(p, z);
  }
  void reset_noise(nn::Parameters<S>&, Eigen::Index n_envs, Rng& rng) { source_.resize(action_dim_, n_envs, rng); }
  void restart_stream(Eigen::Index env, Rng& rng) { source_.restart(env, rng); }

  /// Pre-squash sample with its log-probability computed from u (what SAC trains on).
  struct Detailed {
    Var<S> gaussian, action, log_prob;
  };
  template <class Derived>
  Detailed sample_detailed(nn::Parameters<S>& p, Var<S> z, const Eigen::MatrixBase<Derived>& xi) const {
    autodiff::Tape<S>& t = *z.tape;
    const Var<S> mu = mean(p, z), sigma = autodiff::exp(log_std(p, z));
    const Var<S> u = mu + sigma * t.constant(xi);
    const Var<S> a = autodiff::tanh(u);
    return {u, a, autodiff::normal_log_prob(u, mu, sigma) - tanh_log_det(a, S(config_.epsilon))};
  }

  const Config& config() const noexcept { return config_; }

 private:
  Sampled<S> sample_with(nn::Parameters<S>& p, Var<S> z) {
    const Detailed d = sample_detailed(p, z, xi_);
    return {d.action, d.log_prob};
  }

  Config config_;
  Eigen::Index latent_dim_, action_dim_;
  nn::Dense mean_, log_std_;
  Source source_;
  Matrix<S> xi_, train_xi_;
};

}  // namespace spindle::noise
