#pragma once
// generalized State-Dependent Exploration (Raffin et al.; SB3's StateDependentNoiseDistribution).
//
// The noise is a linear function of the latent features: ε = zᵀE with an exploration matrix
// E (L × A), E_jk ~ N(0, S_jk²), S = exp(θ) (or expln(θ)), held fixed between resamples so
// exploration is smooth in time. log π uses the marginal over E: independent normals with
// variance Σ_j z_j² S_jk² (+ ε on the variance). Options and defaults as SB3:
// full_std (θ is L × A, else L × 1), use_expln, squash_output (tanh), learn_features
// (gradients reach z through the noise and variance; off: z is detached there), epsilon,
// and clip_mean (SAC's Hardtanh on the mean, 0 = none).
#include "action_head.hpp"

namespace spindle::noise {

template <class S>
class Gsde {
 public:
  using scalar = S;
  struct Config {
    bool full_std = true;
    bool use_expln = false;
    bool squash_output = false;
    bool learn_features = false;
    double epsilon = 1e-6;
    double log_std_init = -2.0;
    double clip_mean = 0.0;
    HeadInit head{};
    /// The fields that shape the distribution, by name (checkpoints of deployable policies).
    template <class F> void fields(F&& f) {
      f("full_std", full_std); f("use_expln", use_expln); f("squash_output", squash_output);
      f("learn_features", learn_features); f("epsilon", epsilon); f("log_std_init", log_std_init); f("clip_mean", clip_mean);
    }
  };
  static constexpr const char* name = "Gsde";

  Gsde(Eigen::Index latent_dim, Eigen::Index action_dim, nn::Parameters<S>& p, Rng& rng, Config c = {})
      : config_(c), latent_dim_(latent_dim), action_dim_(action_dim) {
    check_dims(latent_dim, action_dim, "Gsde");
    mean_ = make_mean_layer(p, latent_dim, action_dim, c.head, rng);
    log_std_ = p.add("log_std", latent_dim, c.full_std ? action_dim : 1);
    p.value(log_std_).setConstant(static_cast<S>(c.log_std_init));
  }

  Eigen::Index latent_dim() const noexcept { return latent_dim_; }
  Eigen::Index action_dim() const noexcept { return action_dim_; }
  bool squashed() const noexcept { return config_.squash_output; }
  const Config& config() const noexcept { return config_; }

  Var<S> mean(nn::Parameters<S>& p, Var<S> z) const {
    check_latent(z, latent_dim_, "Gsde");
    const Var<S> mu = mean_(p, z);
    return config_.clip_mean > 0 ? autodiff::clamp(mu, S(-config_.clip_mean), S(config_.clip_mean)) : mu;
  }
  Var<S> mode(nn::Parameters<S>& p, Var<S> z) const {
    const Var<S> mu = mean(p, z);
    return squashed() ? autodiff::tanh(mu) : mu;
  }
  /// S (L × A): the standard deviations of the exploration matrix' entries.
  Var<S> std_matrix(nn::Parameters<S>& p, autodiff::Tape<S>& t) const {
    const Var<S> theta = p.on(t, log_std_);
    Var<S> s = config_.use_expln ? autodiff::expln(theta, S(config_.epsilon)) : autodiff::exp(theta);
    if (!config_.full_std) s = t.constant(Matrix<S>::Ones(latent_dim_, action_dim_)) * s;
    return s;
  }
  /// Marginal variance of the action noise (A × batch): Σ_j z_j² S_jk².
  Var<S> variance(nn::Parameters<S>& p, Var<S> z) const {
    const Var<S> s = std_matrix(p, *z.tape);
    return autodiff::matmul(autodiff::transpose(autodiff::square(s)), autodiff::square(features(z)));
  }
  /// Standard deviation of the marginal: sqrt(variance + ε) (SB3 adds ε to the variance).
  Var<S> std(nn::Parameters<S>& p, Var<S> z) const { return autodiff::sqrt(variance(p, z) + S(config_.epsilon)); }

  Var<S> log_prob(nn::Parameters<S>& p, Var<S> z, Var<S> actions) {
    if (!squashed()) return autodiff::normal_log_prob(actions, mean(p, z), std(p, z));
    const Var<S> u = pre_squash(*z.tape, actions);
    return autodiff::normal_log_prob(u, mean(p, z), std(p, z)) - tanh_log_det(autodiff::tanh(u), S(config_.epsilon));
  }
  std::optional<Var<S>> entropy(nn::Parameters<S>& p, Var<S> z) const {
    if (squashed()) return std::nullopt;
    return autodiff::sum_over_rows(autodiff::log(std(p, z))) + S(action_dim_) * (S(0.5) + half_log_two_pi<S>);
  }

  /// Training sample (SAC): one fresh exploration matrix for the whole batch, as SB3's
  /// reset_noise() before each gradient step; differentiable w.r.t. θ through E = S ⊙ N.
  Sampled<S> rsample(nn::Parameters<S>& p, Var<S> z, Rng& rng) {
    autodiff::Tape<S>& t = *z.tape;
    normals_.resize(latent_dim_, action_dim_);
    rng.fill_normal(normals_);
    const Var<S> E = std_matrix(p, t) * t.constant(normals_);
    const Var<S> mu = mean(p, z);
    return finish(p, z, mu, mu + autodiff::matmul(autodiff::transpose(E), features(z)));
  }

  /// Resamples the exploration matrices, one per environment (SB3: at the start of each
  /// rollout and every sde_sample_freq steps).
  void reset_noise(nn::Parameters<S>& p, Eigen::Index n_envs, Rng& rng) { draw_matrices(p, n_envs, rng); }

  /// Exploration sample: environment i (column i) uses its exploration matrix (one matrix
  /// drawn for one environment serves every column, as SB3's exploration_mat). The log-prob
  /// uses the std the matrices were drawn with: call reset_noise after changing θ (the
  /// algorithms do, at every rollout start, as SB3).
  Sampled<S> explore(nn::Parameters<S>& p, Var<S> z, Rng& rng) {
    autodiff::Tape<S>& t = *z.tape;
    check_latent(z, latent_dim_, "Gsde");
    if (t.grad_enabled()) check_finite(z.value(), "Gsde::explore", "latent");
    const Eigen::Index n = matrices_.cols() / action_dim_;
    if (n != z.cols() && n != 1) draw_matrices(p, z.cols(), rng);  // first use, or the number of envs changed
    noise_.resize(action_dim_, z.cols());
    const auto Z = z.value();
    const bool shared = matrices_.cols() == action_dim_;  // one matrix: every column uses it (SB3)
    for (Eigen::Index i = 0; i < z.cols(); ++i) {
      const Eigen::Index m = shared ? 0 : i;
      noise_.col(i).noalias() = matrices_.middleCols(m * action_dim_, action_dim_).transpose() * Z.col(i);
    }
    // The marginal std of the matrices in use (θ is fixed between resamples within a rollout).
    // (acting records no gradient through the std: it is computed directly). The squares go
    // to a buffer: as an expression operand Eigen would copy them to a heap temporary.
    z_squared_.resize(Z.rows(), Z.cols());
    z_squared_ = Z.array().square();
    marginal_std_.resize(action_dim_, z.cols());
    autodiff::detail::product_into(marginal_std_, false, std_squared_.transpose(), z_squared_);
    marginal_std_ = (marginal_std_.array() + S(config_.epsilon)).sqrt();
    if (t.grad_enabled()) {
      const Var<S> mu = mean(p, z);
      const Var<S> u = mu + t.constant(noise_);
      const Var<S> logp = autodiff::normal_log_prob(u, mu, t.view(marginal_std_.data(), action_dim_, z.cols()));
      return squash_if(squashed(), u, logp, S(config_.epsilon));
    }
    // Acting: μ into a buffer (no nodes for W, b and the layer), u = μ + noise and its
    // log-prob straight into two nodes: the tape's kernels, so the same bits.
    if (config_.clip_mean > 0)
      mu_ = mean(p, z).value();
    else
      mean_values(p, mean_, Z, mu_);
    const Var<S> u{&t, t.push(action_dim_, z.cols(), false)}, logp{&t, t.push(1, z.cols(), false)};
    t.value(u.id) = mu_ + noise_;
    autodiff::detail::normal_log_prob_values<S>(u.value(), mu_, marginal_std_, t.value(logp.id));
    check_latent_through(z, logp.value(), "Gsde::explore");  // the latent reaches every log-prob
    return squash_if(squashed(), u, logp, S(config_.epsilon));
  }

  /// The current exploration matrices (L × A·n, matrix i in columns [iA, (i+1)A)).
  const Matrix<S>& exploration_matrices() const noexcept { return matrices_; }

 private:
  Var<S> features(Var<S> z) const { return config_.learn_features ? z : autodiff::stop_gradient(z); }

  Sampled<S> finish(nn::Parameters<S>& p, Var<S> z, Var<S> mu, Var<S> u) {
    Var<S> logp = autodiff::normal_log_prob(u, mu, std(p, z));
    return squash_if(squashed(), u, logp, S(config_.epsilon));
  }

  void draw_matrices(nn::Parameters<S>& p, Eigen::Index n, Rng& rng) {
    matrices_.resize(latent_dim_, action_dim_ * n);
    rng.fill_normal(matrices_);
    scale_matrices(p);
  }

 public:
  /// Sets the exploration matrices from given standard normals (L × A·n): E_i = S ⊙ N_i.
  template <class Derived>
  void set_exploration_normals(nn::Parameters<S>& p, const Eigen::MatrixBase<Derived>& normals) {
    if (normals.rows() != latent_dim_ || normals.cols() % action_dim_ != 0 || normals.cols() == 0)
      throw_shape_error("Gsde::set_exploration_normals", "normals", latent_dim_, action_dim_, normals.rows(), normals.cols());
    matrices_ = normals.template cast<S>();
    scale_matrices(p);
  }

 private:
  void scale_matrices(nn::Parameters<S>& p) {
    const Eigen::Index n = matrices_.cols() / action_dim_;
    const auto theta = p.value(log_std_);
    Matrix<S>& s = std_;  // a member: resampling allocates nothing
    s.resize(latent_dim_, action_dim_);
    for (Eigen::Index k = 0; k < action_dim_; ++k) {
      const Eigen::Index c = config_.full_std ? k : 0;
      for (Eigen::Index j = 0; j < latent_dim_; ++j) {
        const S x = theta(j, c);
        s(j, k) = config_.use_expln ? (x <= S(0) ? std::exp(x) : std::log1p(x + S(config_.epsilon)) + S(1)) : std::exp(x);
      }
    }
    for (Eigen::Index i = 0; i < n; ++i) matrices_.middleCols(i * action_dim_, action_dim_).array() *= s.array();
    std_squared_ = s.array().square();
  }

  Config config_;
  Eigen::Index latent_dim_, action_dim_;
  nn::Dense mean_;
  int log_std_ = -1;
  Matrix<S> matrices_, normals_, noise_, std_, std_squared_, marginal_std_, z_squared_, mu_;
};

}  // namespace spindle::noise
