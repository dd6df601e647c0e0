#pragma once
/// @file
/// A trained policy without the training: load a checkpoint written by Ppo::save or Sac::save
/// and map observations to actions inside your own controller. No environment type, no
/// optimiser, no replay buffer; nothing allocated per call once the first call has sized the
/// scratch buffers.
///
///   spindle::deploy::Policy<spindle::noise::Lattice<float>> policy("reacher.npz");
///   Eigen::VectorXf action(policy.action_size());
///   policy.act(observation, action);          // deterministic: the distribution's mode
///   policy.sample(observation, action, rng);  // or a draw from the policy's distribution
///
/// The head type must be the one the policy was trained with (the checkpoint records it and a
/// different one is refused, naming both); its configuration is read from the checkpoint.
/// Observations are raw: the saved normalisation statistics are applied, and actions come out
/// mapped onto the environment's Box, exactly as Ppo::predict / Sac::predict give them.
#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "../algo/common.hpp"
#include "../autodiff/activation.hpp"
#include "../core/rng.hpp"
#include "../io/checkpoint.hpp"
#include "../nn/mlp.hpp"
#include "../nn/parameters.hpp"
#include "../noise/common.hpp"
#include "../noise/diag_gaussian.hpp"
#include "../wrappers/vec_normalize.hpp"

namespace spindle::deploy {

/// Observation normalisation as trained (SB3's VecNormalize statistics), or none.
struct ObservationNormalization {
  bool enabled = false;
  Eigen::VectorXd mean{}, var{};
  double epsilon = 1e-8, clip = 10.0;
};

/// What a checkpoint must hold to rebuild the acting half of a policy.
struct Description {
  std::string algorithm;                 // "ppo" or "sac"
  std::string parameters;                // prefix of the policy's parameter arrays ("policy", "actor")
  std::string trunk;                     // prefix of the trunk's layers inside it ("pi.", "trunk.")
  std::vector<Eigen::Index> trunk_sizes; // observation size, hidden sizes (the last is the head's latent)
  autodiff::Activation activation = autodiff::Activation::tanh;
  Eigen::Index action_size = 0;
  ObservationNormalization normalization{};
};

/// "Lattice<float>", "DiagGaussian<pink, float>": the head type a checkpoint was trained with.
template <class Head>
std::string head_kind() {
  std::string kind = Head::name;
  kind += '<';
  if constexpr (requires { typename Head::source_type; }) kind += std::string(Head::source_type::name) + ", ";
  kind += std::is_same_v<typename Head::scalar, float> ? "float" : "double";
  return kind + '>';
}

inline constexpr std::int64_t format_version = 1;

/// Writes the deployment arrays ("deploy.*") next to a training checkpoint's own.
template <class Head>
void write(io::Checkpoint& c, const Description& d, const typename Head::Config& head_config, const Eigen::VectorXd& action_low,
           const Eigen::VectorXd& action_high) {
  c.put_scalar("deploy.format", format_version);
  c.put_string("deploy.algorithm", d.algorithm);
  c.put_string("deploy.parameters", d.parameters);
  c.put_string("deploy.trunk", d.trunk);
  Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1> sizes(static_cast<Eigen::Index>(d.trunk_sizes.size()));
  for (std::size_t i = 0; i < d.trunk_sizes.size(); ++i) sizes(static_cast<Eigen::Index>(i)) = d.trunk_sizes[i];
  c.put("deploy.trunk_sizes", sizes);
  c.put_scalar("deploy.activation", static_cast<std::int64_t>(d.activation));
  c.put_scalar("deploy.action_size", static_cast<std::int64_t>(d.action_size));
  c.put_string("deploy.head", head_kind<Head>());
  auto config = head_config;
  config.fields([&](const char* name, const auto& value) { c.put_scalar(std::string("deploy.head.") + name, static_cast<double>(value)); });
  c.put_scalar("deploy.normalize_observations", std::int64_t{d.normalization.enabled});
  if (d.normalization.enabled) {
    c.put("deploy.obs_mean", d.normalization.mean);
    c.put("deploy.obs_var", d.normalization.var);
    c.put_scalar("deploy.obs_epsilon", d.normalization.epsilon);
    c.put_scalar("deploy.obs_clip", d.normalization.clip);
  }
  c.put("deploy.action_low", action_low);
  c.put("deploy.action_high", action_high);
}

template <noise::NoiseHead Head = noise::DiagGaussian<float>>
class Policy {
 public:
  using S = typename Head::scalar;
  using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

  /// Loads the policy from a checkpoint written by Ppo::save or Sac::save. A missing or broken
  /// file, a checkpoint without deployment arrays or of another head type throws naming the
  /// file and the reason.
  explicit Policy(const std::filesystem::path& checkpoint) : Policy(io::Checkpoint::load(checkpoint)) {}

  explicit Policy(const io::Checkpoint& c) {
    const std::string file = c.path().empty() ? std::string("checkpoint") : "checkpoint '" + c.path() + "'";
    if (!c.contains("deploy.format"))
      throw io::file_error(file + ": holds no deployable policy (deploy::Policy acts with policy::Mlp actors; this "
                                  "checkpoint's actor is another architecture, or it predates deploy::Policy)");
    if (const auto v = c.get_scalar<std::int64_t>("deploy.format"); v != format_version)
      throw io::file_error(file + ": deployment format " + std::to_string(v) + " is not supported");
    const std::string trained = c.get_string("deploy.head");
    if (trained != head_kind<Head>())
      throw std::invalid_argument("deploy::Policy: " + file + " was trained with the noise head " + trained +
                                  ", not " + head_kind<Head>() + ": use deploy::Policy<noise::" + trained + ">");
    algorithm_ = c.get_string("deploy.algorithm");
    const auto sizes = c.get_vector<std::int64_t>("deploy.trunk_sizes");
    if (sizes.size() < 2) throw io::file_error(file + ": 'deploy.trunk_sizes' needs the input and at least one hidden size");
    std::vector<Eigen::Index> trunk_sizes(sizes.data(), sizes.data() + sizes.size());
    const auto activation = static_cast<autodiff::Activation>(c.get_scalar<std::int64_t>("deploy.activation"));
    const auto action_size = static_cast<Eigen::Index>(c.get_scalar<std::int64_t>("deploy.action_size"));
    typename Head::Config config{};
    config.fields([&](const char* name, auto& value) {
      value = static_cast<std::remove_cvref_t<decltype(value)>>(c.get_scalar<double>(std::string("deploy.head.") + name));
    });

    // The same layout as in training (trunk, then head), then every array by name.
    Rng unused(0);
    trunk_ = nn::MlpStack::create(params_, c.get_string("deploy.trunk"),
                                  {.sizes = trunk_sizes, .hidden = activation, .output = activation}, unused);
    head_.emplace(trunk_sizes.back(), action_size, params_, unused, config);
    const std::string prefix = c.get_string("deploy.parameters");
    for (int i = 0; i < params_.count(); ++i) {
      const auto& slot = params_.slot(i);
      params_.value(i) = c.get<S>(prefix + "." + slot.name, slot.rows, slot.cols);
    }

    observation_size_ = trunk_sizes.front();
    norm_.enabled = c.get_scalar<std::int64_t>("deploy.normalize_observations") != 0;
    if (norm_.enabled) {
      norm_.mean = c.get<double>("deploy.obs_mean", observation_size_, 1);
      norm_.var = c.get<double>("deploy.obs_var", observation_size_, 1);
      norm_.epsilon = c.get_scalar<double>("deploy.obs_epsilon");
      norm_.clip = c.get_scalar<double>("deploy.obs_clip");
    }
    const Eigen::VectorXd low = c.get<double>("deploy.action_low", action_size, 1);
    const Eigen::VectorXd high = c.get<double>("deploy.action_high", action_size, 1);
    to_env_ = algo::ActionMap<S>(low, high);
  }

  Eigen::Index observation_size() const noexcept { return observation_size_; }
  Eigen::Index action_size() const noexcept { return head_->action_dim(); }
  /// "ppo" or "sac".
  const std::string& algorithm() const noexcept { return algorithm_; }
  const ObservationNormalization& normalization() const noexcept { return norm_; }
  nn::Parameters<S>& parameters() noexcept { return params_; }

  /// The deterministic action for one raw observation (the mode, mapped onto the Box): the
  /// same bits as the training algorithm's predict().
  template <class Obs, class Act>
  void act(const Obs& observation, Act& action) {
    load(observation, action);
    det_.act(*head_, params_, trunk_, to_env_, action);
  }

  /// An action drawn from the policy's distribution (exploration as in training, one
  /// environment): gSDE and Lattice keep their exploration matrices until reset_noise().
  template <class Obs, class Act>
  void sample(const Obs& observation, Act& action, Rng& rng) {
    load(observation, action);
    if (!noise_ready_) reset_noise(rng);
    det_.tape.clear();
    det_.tape.set_grad_enabled(false);
    const autodiff::Var<S> z = trunk_(params_, det_.tape.view(det_.observation.data(), observation_size_, 1));
    const noise::Sampled<S> drawn = head_->explore(params_, z, rng);
    to_env_(drawn.action.value().col(0), action);
  }

  /// New exploration noise: gSDE/Lattice draw new matrices, colored sources restart (call it
  /// at the start of an episode, or every n steps as sde_sample_freq did in training).
  void reset_noise(Rng& rng) {
    head_->reset_noise(params_, 1, rng);
    algo::restart_noise_stream(*head_, 0, rng);
    noise_ready_ = true;
  }

 private:
  template <class Obs, class Act>
  void load(const Obs& observation, Act& action) {
    check_shape(action, action_size(), 1, "deploy::Policy", "action");
    det_.load(observation, observation_size_);
    if (norm_.enabled)
      for (Eigen::Index j = 0; j < observation_size_; ++j)
        det_.observation(j, 0) = static_cast<S>(normalized_observation(static_cast<double>(det_.observation(j, 0)), norm_.mean(j),
                                                                       norm_.var(j), norm_.epsilon, norm_.clip));
  }

  nn::Parameters<S> params_;
  nn::MlpStack trunk_;
  std::optional<Head> head_;
  algo::ActionMap<S> to_env_;
  ObservationNormalization norm_;
  algo::DeterministicAct<S> det_;
  Eigen::Index observation_size_ = 0;
  std::string algorithm_;
  bool noise_ready_ = false;
};

}  // namespace spindle::deploy
