#pragma once
// Diagonal Gaussian with a state-independent log-std (SB3's DiagGaussianDistribution, the
// PPO default): a = μ + σ ⊙ ξ, μ = W z + b, σ = exp(log_std) shared by the batch.
// While exploring, ξ comes from the Source (white by default; pink or OU correlate it in time).
#include <cstring>

#include "action_head.hpp"
#include "white.hpp"

namespace spindle::noise {

template <class S, class Source = WhiteNoise<S>>
class DiagGaussian {
 public:
  using scalar = S;
  using source_type = Source;
  struct Config {
    double log_std_init = 0.0;
    HeadInit head{};
    typename Source::Config source{};
    /// The fields that shape the distribution, by name (checkpoints of deployable policies).
    template <class F> void fields(F&& f) { f("log_std_init", log_std_init); source.fields(f); }
  };
  static constexpr const char* name = "DiagGaussian";

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
    train_xi_.resize(action_dim_, z.cols());  // its own buffer: batch and env counts differ
    rng.fill_normal(train_xi_);
    return sample(p, z, train_xi_);
  }
  /// Exploration sample: column i is environment i and draws from its noise stream.
  Sampled<S> explore(nn::Parameters<S>& p, Var<S> z, Rng& rng) {
    autodiff::Tape<S>& t = *z.tape;
    if (t.grad_enabled()) {
      check_finite(z.value(), "DiagGaussian::explore", "latent");
      draw_exploration_noise(z.cols(), rng);
      return sample(p, z, xi_);
    }
    // Acting: u = μ + σ ⊙ ξ written straight into one node (no copy of ξ, no broadcast
    // node), in two passes as the tape's multiply and add, so no multiply-add is fused; σ and
    // ln σ are kept until log_std changes. u and its log-prob have the bits sample() gives.
    // μ goes to a buffer (no nodes for W, b and the layer).
    check_latent(z, latent_dim_, "DiagGaussian");
    mean_values(p, mean_, z.value(), mu_);
    check_latent_through(z, mu_, "DiagGaussian::explore");  // before the noise stream moves
    draw_exploration_noise(z.cols(), rng);
    refresh_std(p);
    const int u = t.push(action_dim_, z.cols(), false), logp = t.push(1, z.cols(), false);
    t.value(u) = xi_.array().colwise() * sigma_.col(0).array();
    t.value(u) += mu_;
    autodiff::detail::normal_log_prob_values<S>(t.value(u), mu_, sigma_, t.value(logp), log_sigma_.data());
    return {{&t, u}, {&t, logp}};
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
  void draw_exploration_noise(Eigen::Index n_envs, Rng& rng) {
    source_.resize(action_dim_, n_envs, rng);
    xi_.resize(action_dim_, n_envs);
    source_.next(xi_, rng);
  }

  static Var<S> ones_row(autodiff::Tape<S>& t, Eigen::Index n) { return t.constant(Matrix<S>::Ones(1, n)); }

  // σ = exp(log_std) as the tape's exp computes it, and ln σ as normal_log_prob takes it,
  // recomputed only when log_std's bits change (an optimizer step, a loaded checkpoint).
  void refresh_std(nn::Parameters<S>& p) {
    const auto log_std = p.value(log_std_);
    if (cached_log_std_.size() == log_std.size() &&
        std::memcmp(cached_log_std_.data(), log_std.data(), sizeof(S) * std::size_t(log_std.size())) == 0)
      return;
    cached_log_std_ = log_std;
    sigma_.resize(action_dim_, 1);
    sigma_.array() = cached_log_std_.array().exp();
    log_sigma_.resize(action_dim_, 1);
    autodiff::detail::log_values(sigma_.data(), log_sigma_.data(), action_dim_);
  }

  Config config_;
  Eigen::Index latent_dim_, action_dim_;
  nn::Dense mean_;
  int log_std_ = -1;
  Source source_;
  Matrix<S> xi_, train_xi_, cached_log_std_, sigma_, log_sigma_, mu_;
};

}  // namespace spindle::noise
