#pragma once
// Lattice (Chiappa et al., NeurIPS 2023), state-dependent version
// (LatticeStateDependentNoiseDistribution of amathislab/lattice).
//
// Two exploration matrices perturb the policy: P_x (L × L) the last hidden layer and
// P_a (L × A) the action, both linear in the latent z and held fixed between resamples:
//   u = clipmean(W (z + α P_xᵀ z) + b) + P_aᵀ z,     a = tanh(u) when squashed.
// Marginally u ~ N(μ, Σ(z)) with a full covariance shaped by the action head W:
//   Σ = α² W diag(σ_x²) Wᵀ + diag(σ_a²),  σ_x,k² = Σ_j z_j² C_jk²,  σ_a,k² = Σ_j z_j² D_jk² + std_reg²,
// where [C | D] = exp(clip(θ, ln std_min, ln std_max) − ½ ln L) (or expln); θ is L × (L + A)
// with full_std, else L × 2 (one std per latent row for each matrix). log π and the entropy
// are exact full-covariance Gaussian quantities: autodiff::lowrank_gaussian_* from the variances,
// or, for training batches where it is cheaper (full_std, lattice_prefers_packed), packed_gaussian_*
// from Σ's packed lower triangles formed straight from z² (autodiff/packed_gaussian.hpp).
#include "../autodiff/packed_gaussian.hpp"
#include "action_head.hpp"

namespace spindle::noise {

template <class S>
class Lattice {
 public:
  using scalar = S;
  struct Config {
    double alpha = 1.0;
    double std_min = 1e-3, std_max = 1.0;  // std_clip (the policy wrappers of the paper use max 10)
    double std_reg = 0.0;
    bool full_std = true;
    bool use_expln = false;
    bool squash_output = false;
    bool learn_features = false;
    double epsilon = 1e-6;
    double log_std_init = 0.0;
    double clip_mean = 0.0;
    HeadInit head{};
    /// The fields that shape the distribution, by name (checkpoints of deployable policies).
    template <class F> void fields(F&& f) {
      f("alpha", alpha); f("std_min", std_min); f("std_max", std_max); f("std_reg", std_reg); f("full_std", full_std);
      f("use_expln", use_expln); f("squash_output", squash_output); f("learn_features", learn_features);
      f("epsilon", epsilon); f("log_std_init", log_std_init); f("clip_mean", clip_mean);
    }
  };
  static constexpr const char* name = "Lattice";

  Lattice(Eigen::Index latent_dim, Eigen::Index action_dim, nn::Parameters<S>& p, Rng& rng, Config c = {})
      : config_(c), latent_dim_(latent_dim), action_dim_(action_dim) {
    check_dims(latent_dim, action_dim, "Lattice");
    if (c.head.groups != 1)  // its covariance α² W diag(σ_x²) Wᵀ reads the mean layer as one dense W
      throw std::invalid_argument("Lattice: per-actuator action layers (policy::Dmap's grouped head) are not supported; "
                                  "use DiagGaussian, SquashedGaussian or Gsde");
    if (!(c.std_min > 0) || !(c.std_max >= c.std_min))
      throw std::invalid_argument("Lattice: std_clip needs 0 < std_min <= std_max");
    mean_ = make_mean_layer(p, latent_dim, action_dim, c.head, rng);
    log_std_ = p.add("log_std", latent_dim, c.full_std ? latent_dim + action_dim : 2);
    p.value(log_std_).setConstant(static_cast<S>(c.log_std_init));
  }

  Eigen::Index latent_dim() const noexcept { return latent_dim_; }
  Eigen::Index action_dim() const noexcept { return action_dim_; }
  bool squashed() const noexcept { return config_.squash_output; }
  const Config& config() const noexcept { return config_; }

  Var<S> mean(nn::Parameters<S>& p, Var<S> z) const { return clip(mean_(p, checked(z))); }
  Var<S> mode(nn::Parameters<S>& p, Var<S> z) const {
    const Var<S> mu = mean(p, z);
    return squashed() ? autodiff::tanh(mu) : mu;
  }

  /// [C | D] (L × (L + A)): standard deviations of P_x's and P_a's entries (Actor.get_std for logging).
  Var<S> std_matrix(nn::Parameters<S>& p, autodiff::Tape<S>& t) const {
    const Var<S> s = std_columns(p, t);
    if (config_.full_std) return s;
    const Var<S> c = t.constant(Matrix<S>::Ones(latent_dim_, latent_dim_)) * autodiff::slice_cols(s, 0, 1);
    const Var<S> d = t.constant(Matrix<S>::Ones(latent_dim_, action_dim_)) * autodiff::slice_cols(s, 1, 1);
    return autodiff::concat_cols(c, d);
  }
  /// The std of θ's columns: [C | D] with full_std, else [c | d] (L × 2, one per latent row).
  Var<S> std_columns(nn::Parameters<S>& p, autodiff::Tape<S>& t) const {
    const Var<S> theta = autodiff::clamp(p.on(t, log_std_), S(std::log(config_.std_min)), S(std::log(config_.std_max))) -
                         S(0.5 * std::log(static_cast<double>(latent_dim_)));
    return config_.use_expln ? autodiff::expln(theta, S(config_.epsilon)) : autodiff::exp(theta);
  }
  /// v = [σ_a²; σ_x²] ((A + L) × batch), the input of autodiff::lowrank_gaussian_*. PPO asks for the
  /// log-prob and then the entropy of the same latent on the same tape: the second call reuses the
  /// first's node (with full_std it is an (L + A) × L product per sample).
  Var<S> variances(nn::Parameters<S>& p, Var<S> z) const {
    return cached(variances_cache_, p, z, [&] { return compute_variances(p, z); });
  }
  /// Σ of every sample as packed lower triangles (A(A + 1)/2 × batch; autodiff::packed_gaussian_*),
  /// formed from z² without the per-sample variances; shared by log-prob and entropy like variances().
  Var<S> packed_covariance(nn::Parameters<S>& p, Var<S> z) const {
    return cached(packed_cache_, p, z, [&] {
      autodiff::Tape<S>& t = *z.tape;
      return autodiff::lattice_packed_covariance(p.on(t, mean_.weight), autodiff::square(std_matrix(p, t)),
                                                 autodiff::square(features(z)), S(config_.alpha),
                                                 S(config_.std_reg * config_.std_reg));
    });
  }
  /// Whether log_prob and entropy of a batch of this size go through packed_covariance().
  bool packed_route(Eigen::Index batch) const noexcept {
    return config_.full_std && autodiff::lattice_prefers_packed(latent_dim_, action_dim_, batch);
  }
  /// Σ of sample b (A × A), for logging.
  Matrix<S> covariance(nn::Parameters<S>& p, Var<S> z, Eigen::Index b) const {
    return autodiff::lowrank_covariance_matrix<S>(p.value(mean_.weight), variances(p, z).value(), b, S(config_.alpha));
  }

  Var<S> log_prob(nn::Parameters<S>& p, Var<S> z, Var<S> actions) {
    if (!squashed()) return gaussian_log_prob(p, z, actions);
    const Var<S> u = pre_squash(*z.tape, actions);
    return gaussian_log_prob(p, z, u) - tanh_log_det(autodiff::tanh(u), S(config_.epsilon));
  }
  std::optional<Var<S>> entropy(nn::Parameters<S>& p, Var<S> z) const {
    if (squashed()) return std::nullopt;
    if (packed_route(z.cols())) return autodiff::packed_gaussian_entropy(packed_covariance(p, z));
    if (joint_route(z.cols()))
      if (const int id = cached_id(joint_cache_, p, z); id >= 0)
        return autodiff::slice_rows(Var<S>{z.tape, id}, 1, 1);  // from log_prob's factorisation
    return autodiff::lowrank_gaussian_entropy(p.on(*z.tape, mean_.weight), variances(p, z), S(config_.alpha));
  }

  /// Training sample (SAC): fresh P_x, P_a shared by the batch, differentiable w.r.t. θ, W, b and z.
  Sampled<S> rsample(nn::Parameters<S>& p, Var<S> z, Rng& rng) {
    autodiff::Tape<S>& t = *z.tape;
    normals_.resize(latent_dim_, latent_dim_ + action_dim_);
    rng.fill_normal_fast(normals_);  // L(L + A) per gradient step: the bulk generator
    const Var<S> P = std_matrix(p, t) * t.constant(normals_);
    const Var<S> f = features(z);
    const Var<S> latent_noise = autodiff::matmul(autodiff::transpose(autodiff::slice_cols(P, 0, latent_dim_)), f) * S(config_.alpha);
    const Var<S> action_noise = autodiff::matmul(autodiff::transpose(autodiff::slice_cols(P, latent_dim_, action_dim_)), f);
    return finish(p, z, mean(p, z + latent_noise) + action_noise);
  }

  /// Resamples P_x and P_a for each of n_envs environments.
  void reset_noise(nn::Parameters<S>& p, Eigen::Index n_envs, Rng& rng) {
    const Eigen::Index L = latent_dim_, A = action_dim_;
    single_use_ = false;
    matrices_.resize(L, (L + A) * n_envs);
    rng.fill_normal_fast(matrices_);  // L(L + A) per environment: the bulk generator (SIMD Box–Muller)
    scale_matrices(p);
  }

  /// Fresh matrices for exactly one explore() (sde_sample_freq 1, the Lattice authors' MyoSuite
  /// setting). A matrix used once gives P_xᵀz ~ N(0, diag(σ_x²)) and P_aᵀz ~ N(0, diag(σ_a²)) with
  /// σ_x,k² = Σ_j z_j² C_jk² (likewise D for σ_a): the next explore() draws those L + A normals per
  /// environment instead of L(L + A) — the same distribution, the same log-prob. Any later
  /// explore() before the next reset draws afresh again; exploration_matrices() is empty meanwhile.
  /// (n_envs 1 with a batch of latents means one matrix shared by the batch: explore draws it.)
  void reset_noise_single_use(nn::Parameters<S>& p, Eigen::Index n_envs, Rng&) {
    single_use_ = true;
    single_use_envs_ = n_envs;
    matrices_.resize(latent_dim_, 0);
    scale_matrices(p);
  }

  /// Sets the matrices from given standard normals (L × (L + A)·n, [N_x,i | N_a,i] for environment i).
  template <class Derived>
  void set_exploration_normals(nn::Parameters<S>& p, const Eigen::MatrixBase<Derived>& normals) {
    const Eigen::Index L = latent_dim_, A = action_dim_;
    if (normals.rows() != L || normals.cols() % (L + A) != 0 || normals.cols() == 0)
      throw_shape_error("Lattice::set_exploration_normals", "normals", L, L + A, normals.rows(), normals.cols());
    single_use_ = false;
    matrices_ = normals.template cast<S>();
    scale_matrices(p);
  }

 private:
  void scale_matrices(nn::Parameters<S>& p) {
    const Eigen::Index L = latent_dim_, A = action_dim_, n_envs = matrices_.cols() / (L + A);
    const auto theta = p.value(log_std_);
    Matrix<S>& s = std_;  // a member: resampling allocates nothing
    // θ changes only at updates: between them (every step with sde_sample_freq 1) the std stays.
    const bool same_theta = s.rows() == L && s.cols() == L + A && theta_seen_.rows() == theta.rows() &&
                            theta_seen_.cols() == theta.cols() && theta_seen_ == theta;
    if (!same_theta) {
      theta_seen_ = theta;
      const double lo = std::log(config_.std_min), hi = std::log(config_.std_max), shift = 0.5 * std::log(double(L));
      s.resize(L, L + A);
      for (Eigen::Index k = 0; k < L + A; ++k) {
        const Eigen::Index c = config_.full_std ? k : (k < L ? 0 : 1);
        if (!config_.full_std && k != 0 && k != L) {  // one std per latent row: copy the column computed
          s.col(k) = s.col(k < L ? 0 : L);
          continue;
        }
        for (Eigen::Index j = 0; j < L; ++j) {
          const S x = static_cast<S>(std::clamp(static_cast<double>(theta(j, c)), lo, hi) - shift);
          s(j, k) = config_.use_expln ? (x <= S(0) ? std::exp(x) : std::log1p(x + S(config_.epsilon)) + S(1)) : std::exp(x);
        }
      }
      std_squared_ = s.array().square();
    }
    for (Eigen::Index i = 0; i < n_envs; ++i) matrices_.middleCols(i * (L + A), L + A).array() *= s.array();
  }

  /// v = [σ_a²; σ_x²] of each column of Z with the std of the last resample (explore adds std_reg² to σ_a² after use).
  template <class Z>
  void acting_variances(const Z& latent) {
    const Eigen::Index L = latent_dim_, A = action_dim_;
    variances_.resize(A + L, latent.cols());
    squared_latent_ = latent.array().square();
    autodiff::detail::product_into(variances_.topRows(A), false, std_squared_.rightCols(A).transpose(), squared_latent_);
    autodiff::detail::product_into(variances_.bottomRows(L), false, std_squared_.leftCols(L).transpose(), squared_latent_);
  }


 public:
  /// Whether a PPO rollout of `samples` (all environments, all steps) should take its log-probs from
  /// one log_prob() pass over the rollout after it, through explore(…, false) at each step: on the
  /// joint route (A 17–64), where an acting batch of a few environments fills few of the batch loops'
  /// lanes and forms K anew at every step although W only changes between updates. The same
  /// distribution (θ and W are fixed within a rollout), the same log-density up to rounding.
  bool rollout_log_probs_afterwards(Eigen::Index samples) const noexcept {
    return !squashed() && !packed_route(samples) && joint_route(samples);
  }

  /// Exploration sample: environment i (column i) uses its own P_x, P_a. With log_prob false the
  /// sample's log-prob is left out (zeros; see rollout_log_probs_afterwards).
  Sampled<S> explore(nn::Parameters<S>& p, Var<S> z, Rng& rng, bool log_prob = true) {
    check_finite(z.value(), "Lattice::explore", "latent");
    autodiff::Tape<S>& t = *z.tape;
    const Eigen::Index L = latent_dim_, A = action_dim_;
    if (single_use_ && single_use_envs_ != z.cols()) {
      if (single_use_envs_ == 1)
        reset_noise(p, 1, rng);  // one matrix shared by the batch: its columns are correlated, draw it
      else
        reset_noise_single_use(p, z.cols(), rng);
    }
    const Eigen::Index n = single_use_ ? single_use_envs_ : matrices_.cols() / (L + A);
    if (!single_use_ && n != z.cols() && n != 1) reset_noise(p, z.cols(), rng);
    perturbed_.resize(L, z.cols());
    noise_.resize(A, z.cols());
    const auto Z = checked(z).value();
    // (acting records no gradient through the variances: v is computed directly, with the std
    // the matrices were drawn with — θ is fixed between resamples in a rollout)
    acting_variances(Z);
    if (single_use_) {  // the matrices' one product, drawn directly: z + α σ_x ⊙ ξ_x and σ_a ⊙ ξ_a
      draws_.resize(L + A, z.cols());
      rng.fill_normal(draws_);
      perturbed_ = Z.array() + S(config_.alpha) * variances_.bottomRows(L).array().sqrt() * draws_.topRows(L).array();
      noise_ = variances_.topRows(A).array().sqrt() * draws_.bottomRows(A).array();
    } else {
      const bool shared = matrices_.cols() == L + A;
      for (Eigen::Index i = 0; i < z.cols(); ++i) {
        const auto P = matrices_.middleCols((shared ? 0 : i) * (L + A), L + A);
        perturbed_.col(i) = Z.col(i);
        perturbed_.col(i).noalias() += S(config_.alpha) * (P.leftCols(L).transpose() * Z.col(i));
        noise_.col(i).noalias() = P.rightCols(A).transpose() * Z.col(i);
      }
    }
    const Var<S> u = mean(p, t.constant(perturbed_)) + t.constant(noise_);
    if (!log_prob) {
      if (no_log_prob_.cols() != z.cols()) no_log_prob_ = Matrix<S>::Zero(1, z.cols());
      return squash_if(squashed(), u, t.view(no_log_prob_.data(), 1, z.cols()), S(config_.epsilon));
    }
    variances_.topRows(A).array() += S(config_.std_reg * config_.std_reg);
    const Var<S> logp = autodiff::lowrank_gaussian_log_prob(u - mean(p, z), p.on(t, mean_.weight),
                                                           t.view(variances_.data(), A + L, z.cols()), S(config_.alpha));
    return squash_if(squashed(), u, logp, S(config_.epsilon));
  }

  /// The current exploration matrices: L × (L + A)·n, [P_x,i | P_a,i] for environment i.
  const Matrix<S>& exploration_matrices() const noexcept { return matrices_; }

 private:
  Var<S> checked(Var<S> z) const {
    check_latent(z, latent_dim_, "Lattice");
    return z;
  }
  Var<S> clip(Var<S> mu) const {
    return config_.clip_mean > 0 ? autodiff::clamp(mu, S(-config_.clip_mean), S(config_.clip_mean)) : mu;
  }
  Var<S> features(Var<S> z) const { return config_.learn_features ? z : autodiff::stop_gradient(z); }
  Var<S> compute_variances(nn::Parameters<S>& p, Var<S> z) const {
    autodiff::Tape<S>& t = *z.tape;
    const Var<S> z2 = autodiff::square(features(z));
    if (!config_.full_std) {
      // One std per latent row: every σ_x,k² is Σ_j z_j² c_j² (and σ_a,k² with d): two values
      // per sample, spread over the rows, instead of an (L + A) × L product.
      const Var<S> w = autodiff::matmul_tn(autodiff::square(std_columns(p, t)), z2);  // 2 × B: [σ_x²; σ_a²]
      Var<S> va = t.constant(Matrix<S>::Ones(action_dim_, 1)) * autodiff::slice_rows(w, 1, 1);
      if (config_.std_reg != 0) va = va + S(config_.std_reg * config_.std_reg);
      return autodiff::concat_rows(va, t.constant(Matrix<S>::Ones(latent_dim_, 1)) * autodiff::slice_rows(w, 0, 1));
    }
    const Var<S> v = autodiff::matmul_tn(autodiff::square(std_matrix(p, t)), z2);  // [σ_x²; σ_a²], no transposed copy
    Var<S> va = autodiff::slice_rows(v, latent_dim_, action_dim_);
    if (config_.std_reg != 0) va = va + S(config_.std_reg * config_.std_reg);
    return autodiff::concat_rows(va, autodiff::slice_rows(v, 0, latent_dim_));
  }
  // PPO asks for the log-prob and then the entropy of the same latent: on the joint route both come
  // from one node (one factorisation, one backward), the entropy kept for entropy() to take.
  bool joint_route(Eigen::Index batch) const noexcept { return autodiff::lowrank_prefers_joint(action_dim_, batch); }
  Var<S> gaussian_log_prob(nn::Parameters<S>& p, Var<S> z, Var<S> u) const {
    if (packed_route(z.cols())) return autodiff::packed_gaussian_log_prob(u - mean(p, z), packed_covariance(p, z));
    if (joint_route(z.cols())) {
      const Var<S> both = autodiff::lowrank_gaussian_log_prob_and_entropy(u - mean(p, z), p.on(*z.tape, mean_.weight),
                                                                          variances(p, z), S(config_.alpha));
      joint_cache_ = {key_of(p, z), both.id};
      return autodiff::slice_rows(both, 0, 1);
    }
    return autodiff::lowrank_gaussian_log_prob(u - mean(p, z), p.on(*z.tape, mean_.weight), variances(p, z),
                                               S(config_.alpha));
  }
  Sampled<S> finish(nn::Parameters<S>& p, Var<S> z, Var<S> u) {
    const Var<S> logp = gaussian_log_prob(p, z, u);
    return squash_if(squashed(), u, logp, S(config_.epsilon));
  }

  struct VariancesKey {
    const autodiff::Tape<S>* tape = nullptr;
    std::uint64_t generation = 0;
    int latent = -1;
    const nn::Parameters<S>* parameters = nullptr;
    bool grad_enabled = false;
    friend bool operator==(const VariancesKey&, const VariancesKey&) = default;
  };
  struct VariancesCache {
    VariancesKey key;
    int id = -1;
  };
  static VariancesKey key_of(const nn::Parameters<S>& p, Var<S> z) {
    return {z.tape, z.tape->generation(), z.id, &p, z.tape->grad_enabled()};
  }
  // The node cached for this (tape pass, latent, parameters, grad mode), or −1.
  static int cached_id(const VariancesCache& cache, const nn::Parameters<S>& p, Var<S> z) {
    const bool hit = cache.id >= 0 && cache.key == key_of(p, z) && cache.id < static_cast<int>(z.tape->size());
    return hit ? cache.id : -1;
  }
  // That node, or a new one.
  template <class Compute>
  static Var<S> cached(VariancesCache& cache, nn::Parameters<S>& p, Var<S> z, Compute&& compute) {
    if (const int id = cached_id(cache, p, z); id >= 0) return {z.tape, id};
    const Var<S> v = compute();
    cache = {key_of(p, z), v.id};
    return v;
  }
  mutable VariancesCache variances_cache_, packed_cache_, joint_cache_;

  Config config_;
  Eigen::Index latent_dim_, action_dim_;
  nn::Dense mean_;
  int log_std_ = -1;
  Matrix<S> matrices_, normals_, perturbed_, noise_, std_, std_squared_, variances_, squared_latent_, draws_, theta_seen_;
  Matrix<S> no_log_prob_;  // explore(…, false)'s log-prob row: zeros
  bool single_use_ = false;  // reset_noise_single_use: the next explore() draws its noise directly
  Eigen::Index single_use_envs_ = 0;
};

}  // namespace spindle::noise
