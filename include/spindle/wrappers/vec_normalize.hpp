#pragma once
// VecNormalize: observation normalisation and return-based reward scaling over a
// vector environment, with the semantics of stable-baselines3's VecNormalize:
//  - observations: clip((o − μ) / sqrt(σ² + ε), ±clip_obs), μ, σ² running over
//    every observation returned by reset and step (including auto-reset ones);
//  - rewards: clip(r / sqrt(Var[R] + ε), ±clip_reward) where R ← γR + r is the
//    running discounted return per environment, zeroed when its episode ends;
//  - statistics update only while training(); freeze them for evaluation;
//  - final observations of finished episodes are normalised with the same stats;
//  - rows with a NaN/Inf observation or reward are left out of the statistics (the
//    caller decides what to do with them; they never corrupt μ, σ²).
// Statistics are float64 (RunningMeanStd); state() / set_state() save and restore them.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <xtensor/xtensor.hpp>

#include "../core/errors.hpp"
#include "../core/running_mean_std.hpp"
#include "../core/state_words.hpp"

namespace spindle {

struct VecNormalizeConfig {
  bool training = true;
  bool norm_obs = true;
  bool norm_reward = true;
  double clip_obs = 10.0;
  double clip_reward = 10.0;
  double gamma = 0.99;
  double epsilon = 1e-8;
};

/// Everything needed to continue normalising exactly where a run stopped.
struct VecNormalizeState {
  RunningMeanStd obs_rms;
  RunningMeanStd ret_rms;
  Eigen::VectorXd returns;  // running discounted return per environment
};

/// SB3's observation normalisation of one value: clip((x − mean) / √(var + ε), ±clip).
/// One function for training, predict and deployed policies, so they agree bit for bit.
inline double normalized_observation(double x, double mean, double var, double epsilon, double clip) noexcept {
  return std::clamp((x - mean) / std::sqrt(var + epsilon), -clip, clip);
}

template <class VecEnv>
class VecNormalize {
 public:
  using Scalar = typename VecEnv::Scalar;
  using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using MatrixMap = Eigen::Map<RowMatrix>;
  using ConstMatrixMap = Eigen::Map<const RowMatrix>;
  using ConstVectorMap = Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>;

  explicit VecNormalize(VecEnv venv, VecNormalizeConfig config = {})
      : venv_(std::move(venv)),
        config_(config),
        obs_rms_(venv_.observation_size()),
        ret_rms_(1),
        returns_(Eigen::VectorXd::Zero(venv_.size())) {
    const auto n = static_cast<std::size_t>(venv_.size());
    const auto d = static_cast<std::size_t>(venv_.observation_size());
    observations_ = xt::zeros<Scalar>({n, d});
    final_observations_ = xt::zeros<Scalar>({n, d});
    rewards_ = xt::zeros<Scalar>({n});
  }

  Eigen::Index size() const noexcept { return venv_.size(); }
  Eigen::Index observation_size() const noexcept { return venv_.observation_size(); }
  Eigen::Index action_size() const noexcept { return venv_.action_size(); }
  decltype(auto) action_space() const { return venv_.action_space(); }

  ConstMatrixMap reset(std::uint64_t seed) {
    venv_.reset(seed);
    returns_.setZero();
    if (config_.training && config_.norm_obs) update_obs_stats(venv_.observations());
    normalize_rows(venv_.observations(), observation_rows());
    rewards_.fill(Scalar(0));
    return observations();
  }

  template <class Derived>
  void step(const Eigen::MatrixBase<Derived>& actions) {
    venv_.step(actions);
    const auto raw_obs = venv_.observations();
    const auto raw_rewards = venv_.rewards();
    if (config_.training && config_.norm_obs) update_obs_stats(raw_obs);
    normalize_rows(raw_obs, observation_rows());
    if (config_.training) {
      returns_ = returns_ * config_.gamma + raw_rewards.template cast<double>();
      if (returns_.allFinite()) {
        ret_rms_.update(returns_);
        if (tracking_) ret_increment_.update(returns_);
      } else {  // a bad reward: its environment's running return restarts, the others count
        for (Eigen::Index i = 0; i < size(); ++i)
          if (!std::isfinite(returns_(i))) returns_(i) = 0.0;
        update_finite_rows(ret_rms_, returns_);
        if (tracking_) update_finite_rows(ret_increment_, returns_);
      }
    }
    const double reward_scale = config_.norm_reward ? 1.0 / std::sqrt(ret_rms_.var()(0) + config_.epsilon) : 1.0;
    for (Eigen::Index i = 0; i < size(); ++i) {
      const double r = static_cast<double>(raw_rewards(i)) * reward_scale;
      rewards_(static_cast<std::size_t>(i)) = static_cast<Scalar>(
          config_.norm_reward ? std::clamp(r, -config_.clip_reward, config_.clip_reward) : r);
      if (venv_.done(i)) {
        normalize_row(venv_.final_observations().row(i), final_rows().row(i));
        returns_(i) = 0.0;
      }
    }
  }

  /// Normalised observations (what the agent sees).
  ConstMatrixMap observations() const noexcept {
    return {observations_.data(), size(), observation_size()};
  }
  /// Normalised last observations of episodes that ended in the last step (rows where done).
  ConstMatrixMap final_observations() const noexcept {
    return {final_observations_.data(), size(), observation_size()};
  }
  /// Scaled rewards (what the agent learns from).
  ConstVectorMap rewards() const noexcept { return {rewards_.data(), size()}; }
  auto terminated() const noexcept { return venv_.terminated(); }
  auto truncated() const noexcept { return venv_.truncated(); }
  bool done(Eigen::Index i) const noexcept { return venv_.done(i); }
  auto finished_episodes() const noexcept { return venv_.finished_episodes(); }

  /// The unnormalised values of the last step.
  /// Privileged information passes through unnormalised (PrivilegedEnvironment only).
  Eigen::Index privileged_size() const noexcept { return venv_.privileged_size(); }
  auto privileged() const noexcept requires requires(const VecEnv& v) { v.privileged(); } { return venv_.privileged(); }
  auto final_privileged() const noexcept requires requires(const VecEnv& v) { v.final_privileged(); } {
    return venv_.final_privileged();
  }
  auto raw_observations() const noexcept { return venv_.observations(); }
  auto raw_rewards() const noexcept { return venv_.rewards(); }

  /// Normalises observations with the current statistics (no update), e.g. for evaluation.
  template <class In, class Out>
  void normalize_observations(const Eigen::MatrixBase<In>& in, Eigen::MatrixBase<Out>& out) const {
    check_shape(in, in.rows(), observation_size(), "VecNormalize::normalize_observations", "in");
    check_shape(out, in.rows(), observation_size(), "VecNormalize::normalize_observations", "out");
    normalize_rows(in, out);
  }

  bool training() const noexcept { return config_.training; }
  void set_training(bool training) noexcept { config_.training = training; }
  const VecNormalizeConfig& config() const noexcept { return config_; }
  const RunningMeanStd& obs_rms() const noexcept { return obs_rms_; }
  const RunningMeanStd& ret_rms() const noexcept { return ret_rms_; }

  /// Data-parallel training: from now on the statistics added by reset() and step() are also
  /// gathered apart (increments()), so that the ranks can merge what each saw into one
  /// statistics (algo::merge_across_ranks) and continue from it (set_merged_statistics).
  void track_increments() {
    tracking_ = true;
    obs_increment_ = RunningMeanStd(observation_size(), 0.0);
    ret_increment_ = RunningMeanStd(1, 0.0);
  }
  /// What was added to the observation and return statistics since the last merge.
  const RunningMeanStd& obs_increment() const noexcept { return obs_increment_; }
  const RunningMeanStd& ret_increment() const noexcept { return ret_increment_; }
  /// Continues from statistics merged across ranks; the increments start again.
  void set_merged_statistics(const RunningMeanStd& obs, const RunningMeanStd& ret) {
    check_shape(obs.mean(), observation_size(), 1, "VecNormalize::set_merged_statistics", "obs");
    check_shape(ret.mean(), 1, 1, "VecNormalize::set_merged_statistics", "ret");
    obs_rms_ = obs;
    ret_rms_ = ret;
    track_increments();
  }

  VecNormalizeState state() const { return {obs_rms_, ret_rms_, returns_}; }
  void set_state(const VecNormalizeState& s) {
    check_shape(s.obs_rms.mean(), observation_size(), 1, "VecNormalize::set_state", "obs_rms.mean");
    check_shape(s.ret_rms.mean(), 1, 1, "VecNormalize::set_state", "ret_rms.mean");
    check_shape(s.returns, size(), 1, "VecNormalize::set_state", "returns");
    obs_rms_ = s.obs_rms;
    ret_rms_ = s.ret_rms;
    returns_ = s.returns;
  }

  /// The statistics and running returns alone (checkpoints of environments that cannot save
  /// their own state).
  void save_statistics(StateWords& out) const {
    for (const RunningMeanStd* r : {&obs_rms_, &ret_rms_}) {
      put_word(out, r->count());
      for (Eigen::Index j = 0; j < r->size(); ++j) {
        put_word(out, r->mean()(j));
        put_word(out, r->var()(j));
      }
    }
    for (Eigen::Index i = 0; i < returns_.size(); ++i) put_word(out, returns_(i));
  }
  void load_statistics(StateReader& in) {
    for (RunningMeanStd* r : {&obs_rms_, &ret_rms_}) {
      const double count = in.real();
      Eigen::VectorXd mean(r->size()), var(r->size());
      for (Eigen::Index j = 0; j < r->size(); ++j) {
        mean(j) = in.real();
        var(j) = in.real();
      }
      r->set(std::move(mean), std::move(var), count);
    }
    for (Eigen::Index i = 0; i < returns_.size(); ++i) returns_(i) = in.real();
  }

  /// Exact state (statistics, running returns, the normalised buffers and the wrapped
  /// environments) for bit-identical checkpoints.
  void save_state(StateWords& out) const requires requires(const VecEnv& v, StateWords& w) { v.save_state(w); } {
    save_statistics(out);
    for (const auto* buffer : {&observations_, &final_observations_})
      for (std::size_t i = 0; i < buffer->size(); ++i) put_word(out, static_cast<double>(buffer->data()[i]));
    for (std::size_t i = 0; i < rewards_.size(); ++i) put_word(out, static_cast<double>(rewards_.data()[i]));
    venv_.save_state(out);
  }
  void load_state(StateReader& in) requires requires(VecEnv& v, StateReader& r) { v.load_state(r); } {
    load_statistics(in);
    for (auto* buffer : {&observations_, &final_observations_})
      for (std::size_t i = 0; i < buffer->size(); ++i) buffer->data()[i] = static_cast<Scalar>(in.real());
    for (std::size_t i = 0; i < rewards_.size(); ++i) rewards_.data()[i] = static_cast<Scalar>(in.real());
    venv_.load_state(in);
  }

  VecEnv& venv() noexcept { return venv_; }
  const VecEnv& venv() const noexcept { return venv_; }

 private:
  template <class Derived>
  void update_obs_stats(const Eigen::MatrixBase<Derived>& raw) {
    if (raw.allFinite()) {
      obs_rms_.update(raw);
      if (tracking_) obs_increment_.update(raw);
    } else {
      update_finite_rows(obs_rms_, raw);
      if (tracking_) update_finite_rows(obs_increment_, raw);
    }
  }
  /// The statistics of the rows without NaN/Inf (allocates; only on bad input).
  template <class Derived>
  static void update_finite_rows(RunningMeanStd& rms, const Eigen::MatrixBase<Derived>& rows) {
    Eigen::MatrixXd kept(rows.rows(), rows.cols());
    Eigen::Index n = 0;
    for (Eigen::Index i = 0; i < rows.rows(); ++i)
      if (rows.row(i).allFinite()) kept.row(n++) = rows.row(i).template cast<double>();
    rms.update(kept.topRows(n));
  }

  MatrixMap observation_rows() noexcept { return {observations_.data(), size(), observation_size()}; }
  MatrixMap final_rows() noexcept { return {final_observations_.data(), size(), observation_size()}; }

  template <class In, class Out>
  void normalize_rows(const Eigen::MatrixBase<In>& in, Eigen::MatrixBase<Out>&& out) const {
    normalize_rows(in, out);
  }
  template <class In, class Out>
  void normalize_rows(const Eigen::MatrixBase<In>& in, Eigen::MatrixBase<Out>& out) const {
    for (Eigen::Index i = 0; i < in.rows(); ++i) normalize_row(in.row(i), out.row(i));
  }
  template <class In, class Out>
  void normalize_row(const Eigen::MatrixBase<In>& in, Eigen::MatrixBase<Out>&& out) const {
    const auto& mean = obs_rms_.mean();
    const auto& var = obs_rms_.var();
    for (Eigen::Index j = 0; j < in.cols(); ++j) {
      const double x = static_cast<double>(in(0, j));
      out(0, j) = static_cast<Scalar>(
          config_.norm_obs ? normalized_observation(x, mean(j), var(j), config_.epsilon, config_.clip_obs) : x);
    }
  }

  VecEnv venv_;
  VecNormalizeConfig config_;
  RunningMeanStd obs_rms_, ret_rms_;
  bool tracking_ = false;
  RunningMeanStd obs_increment_{1, 0.0}, ret_increment_{1, 0.0};
  Eigen::VectorXd returns_;
  xt::xtensor<Scalar, 2> observations_, final_observations_;
  xt::xtensor<Scalar, 1> rewards_;
};

}  // namespace spindle
