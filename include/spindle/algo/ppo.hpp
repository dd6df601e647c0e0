#pragma once
// Proximal policy optimisation (Schulman et al. 2017) with stable-baselines3's semantics and names.
// One file, top to bottom: configuration, networks, collecting a rollout, advantages, the
// clipped-surrogate update, evaluation, checkpoints.
//
//   spindle::algo::Ppo<spindle::envs::Pendulum> ppo(Pendulum{}, {.n_steps = 1024, .n_envs = 4});
//   ppo.learn(300'000);
//   double mean_return = ppo.evaluate(10);
//
// Template parameters: the Environment; the exploration-noise head (noise/): the diagonal
// Gaussian by default (SB3's PPO); noise::Gsde, noise::Lattice, noise::LatticePlain, or a head
// with a colored-noise source (the scalar type is the head's); the Actor and Critic networks
// (policy/: policy::Mlp by default, policy::HistoryMlp, policy::Oracle / PrivilegedCritic, or
// any policy::Network). Networks that read history windows, previous actions or privileged
// information get them from the rollout (policy/history.hpp); the others never see them.
//
// Actions: the policy acts in [−1, 1] per dimension; actions are clipped to it and mapped
// linearly onto the environment's Box (SB3 clips to the Box; with a Box of [−1, 1], as SB3
// recommends, the two agree). Unbounded dimensions pass through unclipped. The buffer keeps
// the unclipped action, whose log-probability the update uses (as SB3).
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../autodiff.hpp"
#include "../core/environment.hpp"
#include "../core/state_words.hpp"
#include "../core/vector_env.hpp"
#include "../deploy/policy.hpp"
#include "../io/checkpoint.hpp"
#include "../log/csv.hpp"
#include "../log/progress.hpp"
#include "../nn/mlp.hpp"
#include "../nn/optim.hpp"
#include "../nn/serialize.hpp"
#include "../noise/diag_gaussian.hpp"
#include "../noise/schedule.hpp"
#include "../policy/history.hpp"
#include "../policy/mlp.hpp"
#include "../wrappers/vec_normalize.hpp"
#include "common.hpp"
#include "data_parallel.hpp"
#include "rollout_buffer.hpp"
#include "schedule.hpp"

namespace spindle::algo {

struct PpoConfig {
  // SB3 names and defaults
  Schedule learning_rate = 3e-4;
  Eigen::Index n_steps = 2048;     // per environment, per rollout
  Eigen::Index batch_size = 64;    // minibatch size
  int n_epochs = 10;
  double gamma = 0.99;
  double gae_lambda = 0.95;
  Schedule clip_range = 0.2;
  std::optional<Schedule> clip_range_vf{};  // none: the value function is not clipped
  bool normalize_advantage = true;
  double ent_coef = 0.0;
  double vf_coef = 0.5;
  double max_grad_norm = 0.5;
  std::optional<double> target_kl{};  // stop the epochs when approx KL > 1.5 · target_kl
  long sde_sample_freq = -1;        // gSDE/Lattice: resample every n steps (−1: once per rollout)
  // networks (SB3's MlpPolicy: pi [64, 64], vf [64, 64], tanh, orthogonal init)
  std::vector<Eigen::Index> policy_hidden = {64, 64};
  std::vector<Eigen::Index> value_hidden = {64, 64};
  bool share_network = false;  // true: the value head reads the policy's last hidden layer
  autodiff::Activation activation = autodiff::Activation::tanh;
  bool ortho_init = true;  // √2 hidden layers, 0.01 action head, 1 value head
  // observation and reward normalisation (SB3's VecNormalize), saved with the model
  bool normalize_observations = false;
  bool normalize_rewards = false;
  double clip_obs = 10.0;
  double clip_reward = 10.0;
  // environments and bookkeeping
  Eigen::Index n_envs = 1;
  int n_threads = 1;
  std::uint64_t seed = 0;
  BadTransition on_bad_transition = BadTransition::throw_error;
  nn::NonFinitePolicy on_non_finite_gradient = nn::NonFinitePolicy::skip_update;
  std::string csv_path{};  // empty: no CSV log
  bool progress = false; // live progress line on stdout
};

/// Sets one PPO hyperparameter by name: what a curriculum stage may change
/// (curriculum::Stage::hyperparameters). learning_rate and clip_range become constants from
/// then on; ent_coef, vf_coef, gamma (the discount of advantages and bootstraps; reward
/// normalisation keeps the one it was built with) and gae_lambda.
inline void set_hyperparameter(PpoConfig& c, std::string_view name, double value) {
  auto check = [&](bool ok, const char* range) { check_hyperparameter("PPO", name, value, ok, range); };
  if (name == "learning_rate") check(value >= 0, "[0, ∞)"), c.learning_rate = value;
  else if (name == "clip_range") check(value > 0, "(0, ∞)"), c.clip_range = value;
  else if (name == "ent_coef") check(true, "the finite numbers"), c.ent_coef = value;
  else if (name == "vf_coef") check(value >= 0, "[0, ∞)"), c.vf_coef = value;
  else if (name == "gamma") check(value >= 0 && value <= 1, "[0, 1]"), c.gamma = value;
  else if (name == "gae_lambda") check(value >= 0 && value <= 1, "[0, 1]"), c.gae_lambda = value;
  else
    throw std::invalid_argument("PPO: no hyperparameter '" + std::string(name) +
                                "' can be set during training (learning_rate, clip_range, ent_coef, vf_coef, gamma, gae_lambda)");
}

/// Passed to hooks after every rollout's update (means over its minibatches, SB3's train/ keys).
struct PpoUpdate {
  long step = 0;
  double policy_loss = 0, value_loss = 0, entropy_loss = 0, approx_kl = 0, clip_fraction = 0;
  double explained_variance = 0, learning_rate = 0, clip_range = 0;
  long gradient_steps = 0;  // taken in this update
  bool stopped_early = false;  // by target_kl
};

template <Environment Env, noise::NoiseHead Head = noise::DiagGaussian<float>, class Actor = policy::Mlp,
          class Critic = policy::Mlp>
  requires policy::Network<Actor, typename Head::scalar> && policy::Network<Critic, typename Head::scalar>
class Ppo {
 public:
  using S = typename Head::scalar;
  using Matrix = autodiff::Matrix<S>;
  using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  using Tape = autodiff::Tape<S>;
  using Var = autodiff::Var<S>;
  using Envs = VecNormalize<VectorEnv<Env>>;

  struct Hooks {
    std::function<void(long step)> on_step;                 // after every vector step
    std::function<void(const FinishedEpisode&)> on_episode;  // every finished episode (raw return)
    std::function<void(const PpoUpdate&)> on_update;         // after every rollout's update
    std::function<void(RolloutBuffer<S>&)> on_rollout;       // a finished rollout (advantages computed), before the update
    std::function<void(const nn::Parameters<S>&)> on_gradient;  // every gradient step's gradient (distributed: averaged), before the step
    std::function<std::string()> status;                     // appended to the progress line (a curriculum's stage)
  };

  static constexpr bool privileged = policy::reads_privileged<Actor>() || policy::reads_privileged<Critic>();
  static_assert(!privileged || PrivilegedEnvironment<Env>,
                "Ppo: the actor or the critic reads privileged information (policy::Oracle, policy::PrivilegedCritic), "
                "but the environment has none: it needs `privileged()` and `privileged_size()` "
                "(spindle::PrivilegedEnvironment; mujoco::Env has them)");

  Ppo(const Env& prototype, PpoConfig config = {}, typename Head::Config head_config = {},
      typename Actor::Config actor_config = {}, typename Critic::Config critic_config = {})
      : config_(validated(config)),
        envs_(VectorEnv<Env>(config.n_envs, prototype, {.n_threads = config.n_threads}),
              {.norm_obs = config.normalize_observations, .norm_reward = config.normalize_rewards,
               .clip_obs = config.clip_obs, .clip_reward = config.clip_reward, .gamma = config.gamma}),
        eval_env_(prototype),
        obs_dim_(envs_.observation_size()),
        act_dim_(envs_.action_size()),
        rng_(config.seed, /*stream=*/0x990),
        buffer_(config.n_steps, config.n_envs, obs_dim_, act_dim_),
        head_(build_policy(head_config, actor_config, critic_config)),
        optimizer_(policy_, {.lr = config.learning_rate(1.0), .eps = 1e-5,  // SB3's PPO Adam eps
                             .max_grad_norm = config.max_grad_norm, .on_non_finite = config.on_non_finite_gradient}) {
    static_assert(std::is_same_v<scalar_t<Env>, S>, "Ppo: the environment's scalar and the noise head's scalar differ");
    const auto box = envs_.action_space();
    to_env_action_ = ActionMap<S>(box.low, box.high);
    if (!config_.csv_path.empty())
      csv_ = log::CsvLog(config_.csv_path, {"steps", "episode", "episode_return", "episode_length", "policy_loss",
                                            "value_loss", "entropy_loss", "approx_kl", "clip_fraction",
                                            "steps_per_second"});
    env_actions_.resize(config_.n_envs, act_dim_);
    episode_starts_ = Vector::Ones(config_.n_envs);
    bad_observation_.assign(static_cast<std::size_t>(config_.n_envs), 0);
    shapes_ = network_shapes();
    needs_ = policy::needs_of(actor_, critic_, shapes_);
    if (needs_.any()) {
      live_ = policy::LiveContext<S>(config_.n_envs, shapes_, needs_);
      rollout_context_ = policy::RolloutContext<S>(config_.n_steps, config_.n_envs, shapes_, needs_);
      predict_context_ = policy::LiveContext<S>(1, shapes_, needs_);
    }
  }

  // ------------------------------------------------------------------ training
  /// Collects rollouts of n_steps × n_envs and updates after each, until `total_timesteps`
  /// environment steps have been taken (counting every env; the last rollout may overshoot).
  /// Schedules run over this call: progress remaining = 1 − steps / total_timesteps.
  void learn(long total_timesteps) {
    if (!started_) start();
    log::Progress progress(total_timesteps);
    while (num_timesteps_ < total_timesteps) {
      collect_rollout();
      train(1.0 - static_cast<double>(num_timesteps_) / static_cast<double>(total_timesteps));
      if (config_.progress) progress.update(num_timesteps_, recent_return_.value, hooks_.status ? hooks_.status() : std::string());
    }
    if (config_.progress) progress.finish(num_timesteps_, recent_return_.value, hooks_.status ? hooks_.status() : std::string());
  }

  /// Mean undiscounted (raw) return of `episodes` deterministic episodes on a separate
  /// environment, observations normalised with the training statistics (not updated).
  /// Networks with a context (history, previous action, privileged values) start each
  /// episode's context afresh; privileged ones read the evaluation environment's privileged().
  double evaluate(int episodes, std::uint64_t seed = 12345) {
    return evaluate_episodes(
        eval_env_, episodes, seed,
        [&](const auto& obs, auto& action) {
          if constexpr (policy::reads_privileged<Actor>()) predict(obs, action, eval_env_.privileged());
          else predict(obs, action);
        },
        [&] { reset_context(); });
  }

  /// The deterministic action (the distribution's mode, mapped onto the Box) for one raw
  /// observation, normalised with the training statistics (SB3's predict(deterministic=True)).
  /// With a history or previous-action context, successive calls are one episode's steps:
  /// call reset_context() when a new episode starts.
  template <class Obs, class Act>
    requires(!policy::reads_privileged<Actor>())
  void predict(const Obs& observation, Act& action) {
    predict_impl(observation, action, Eigen::Matrix<S, 0, 1>{});
  }
  /// The same for an actor that reads privileged information (policy::Oracle): the episode's
  /// privileged values (the environment's privileged()).
  template <class Obs, class Act, class Privileged>
  void predict(const Obs& observation, Act& action, const Privileged& privileged_values) {
    static_assert(policy::reads_privileged<Actor>(), "Ppo::predict: this actor does not read privileged values");
    check_shape(privileged_values, needs_.privileged, 1, "Ppo::predict", "privileged values");
    predict_impl(observation, action, privileged_values);
  }
  /// predict() starts a new episode at its next call.
  void reset_context() noexcept { predict_new_episode_ = true; }

  // ------------------------------------------------------------------ data-parallel training
  /// Trains as one of the ranks of `comm` (spindle::mpi::World for MPI): every rank runs its own
  /// environments (seeded with rank_seed(seed, rank): rank 0 keeps the seed) and collects its own
  /// rollout; the parameters start as rank 0's and every gradient step applies the gradient of
  /// the mean loss over all ranks' minibatches (the gradient summed over the ranks per step; advantages are
  /// normalised with the moments of that whole minibatch); observation and return statistics
  /// are merged after every rollout, as if one process had seen every rank's data. Steps count
  /// every rank's (learn(total) is the run's total), so a rollout is ranks × n_steps × n_envs and
  /// a minibatch ranks × batch_size. Call it on every rank, right after construction, before
  /// learn() or load(); every rank must be built with the same configuration (checked).
  void distribute(std::shared_ptr<Communicator> comm, DistributeOptions options = {}) {
    if (started_ || num_timesteps_ != 0) throw std::logic_error("Ppo::distribute: call it before learn() and load()");
    const std::uint64_t shape[] = {std::uint64_t(policy_.values().size()), std::uint64_t(config_.n_envs),
                                   std::uint64_t(config_.n_steps), std::uint64_t(config_.batch_size),
                                   std::uint64_t(config_.n_epochs), std::uint64_t(obs_dim_), std::uint64_t(act_dim_),
                                   std::uint64_t(config_.target_kl.has_value())};  // target_kl adds a collective per step
    config_.seed = parallel_.attach(std::move(comm), options, shape,
                                    "configurations (parameter count, n_envs, n_steps, batch_size, n_epochs, observation or "
                                    "action size, target_kl set or not)",
                                    config_.seed);
    advantage_scratch_.resize(config_.batch_size);
    rng_ = Rng(config_.seed, /*stream=*/0x990);
    broadcast_values(parallel_.comm(), std::span<S>(policy_.values().data(), static_cast<std::size_t>(policy_.values().size())));
    parallel_.start_statistics(envs_, envs_.obs_rms(), envs_.ret_rms());
    parallel_.check(policy_, optimizer_, envs_, 0);
  }
  /// The communicator of a distributed run (null otherwise).
  const std::shared_ptr<Communicator>& communicator() const noexcept { return parallel_.communicator(); }

  // ------------------------------------------------------------------ checkpoints
  /// Writes the policy, the optimizer, the normalisation statistics, generators and counters —
  /// and, when the environment can save its state (SavableEnvironment), the environments
  /// mid-episode, so that a resumed run continues bit-identically — to one versioned .npz,
  /// atomically. The file also holds what deploy::Policy needs to act without the training.
  /// learn() always stops between rollouts, so there is no rollout to save. (Pink/OU noise
  /// sources restart after a resume.)
  /// `extra` may add arrays of its own (a curriculum's state: curriculum::save).
  void save(const std::filesystem::path& path, const std::function<void(io::Checkpoint&)>& extra = {}) const {
    io::Checkpoint c;
    c.put_scalar("ppo.format", std::int64_t{1});
    c.put_scalar("ppo.environments_saved", std::int64_t{SavableEnvironment<Env>});
    nn::save(c, "policy", policy_);
    nn::save(c, "optimizer", optimizer_);
    if (parallel_.active()) {  // every rank's own state; rank 0's is the one a single process resumes or evaluates
      if (!parallel_.put_run_states(c, run_state())) return parallel_.write_on_root(path, [] {}, "Ppo::save");
    } else {
      put_state(c, "run_state", run_state());
    }
    deploy::ObservationNormalization norm;
    if (config_.normalize_observations)
      norm = {true, envs_.obs_rms().mean(), envs_.obs_rms().var(), envs_.config().epsilon, envs_.config().clip_obs};
    std::vector<Eigen::Index> sizes{obs_dim_};
    sizes.insert(sizes.end(), config_.policy_hidden.begin(), config_.policy_hidden.end());
    const auto box = envs_.action_space();
    if constexpr (std::is_same_v<Actor, policy::Mlp>)  // deploy::Policy acts with MLP actors only
      deploy::write<Head>(c, {"ppo", "policy", "pi.", sizes, config_.activation, act_dim_, norm}, head_.config(),
                          box.low.template cast<double>(), box.high.template cast<double>());
    if (extra) extra(c);
    if (!parallel_.active()) return c.save(path);
    parallel_.write_on_root(path, [&] { c.save(path); }, "Ppo::save");
  }

  /// Restores a save() of a Ppo built with the same configuration; all or nothing: a missing,
  /// corrupt or mismatched file throws naming the file and the array, and leaves this run as it
  /// was. Returns Resume::exact when the environments were restored mid-episode too, and
  /// Resume::environments_restarted when the checkpoint holds no environment state (the
  /// environment cannot save it): the next learn() then starts new episodes.
  /// `extra` reads what save's extra added; it runs after every check and before anything of
  /// this run changes (a throw there leaves the run as it was).
  Resume load(const std::filesystem::path& path, const std::function<void(const io::Checkpoint&)>& extra = {}) {
    const io::Checkpoint c = io::Checkpoint::load(path);
    if (c.get_scalar<std::int64_t>("ppo.format") != 1)
      throw std::runtime_error("Ppo::load: '" + path.string() + "': unknown checkpoint format version");
    const bool saved_envs = !c.contains("ppo.environments_saved") || c.get_scalar<std::int64_t>("ppo.environments_saved") != 0;
    const bool exact = saved_envs && SavableEnvironment<Env>;
    nn::Parameters<S> policy = policy_;
    nn::load(c, "policy", policy);
    nn::Adam<S> optimizer = optimizer_;
    nn::load(c, "optimizer", optimizer);
    parallel_.check_ranks(c, path, "Ppo::load");
    const StateWords run =
        get_state(c, DataParallel<S>::run_state_key(parallel_.rank()), run_state_size(saved_envs), path, "Ppo::load");
    if (extra) extra(c);
    // Everything is read and checked: commit.
    policy_ = std::move(policy);
    optimizer_ = std::move(optimizer);
    StateReader in(run);
    load_rng(in, rng_);
    for (long* v : {&num_timesteps_, &n_updates_, &episodes_, &dropped_}) *v = static_cast<long>(in.integer());
    started_ = in.integer() != 0;
    recent_return_.load(in);
    for (double* v : {&last_.policy_loss, &last_.value_loss, &last_.entropy_loss, &last_.approx_kl, &last_.clip_fraction})
      *v = in.real();
    for (Eigen::Index i = 0; i < episode_starts_.size(); ++i) episode_starts_(i) = static_cast<S>(in.real());
    for (auto& b : bad_observation_) b = static_cast<std::uint8_t>(in.integer());
    if (needs_.any()) live_.load(in);
    Resume resumed = Resume::environments_restarted;
    if constexpr (SavableEnvironment<Env>)
      if (exact) {
        envs_.load_state(in);
        resumed = Resume::exact;
      }
    if (resumed != Resume::exact) {
      envs_.load_statistics(in);  // the statistics lead the environments' part in either layout
      started_ = false;
    }
    if (parallel_.active()) {
      parallel_.start_statistics(envs_, envs_.obs_rms(), envs_.ret_rms());
      parallel_.check(policy_, optimizer_, envs_, n_updates_);
    }
    return resumed;
  }

  // ------------------------------------------------------------------ state
  long num_timesteps() const noexcept { return num_timesteps_; }
  long num_updates() const noexcept { return n_updates_; }  // gradient steps
  long dropped_transitions() const noexcept { return dropped_; }
  const PpoConfig& config() const noexcept { return config_; }
  /// Changes a hyperparameter between updates (see algo::set_hyperparameter for the names).
  void set_hyperparameter(std::string_view name, double value) { algo::set_hyperparameter(config_, name, value); }
  const PpoUpdate& last_update() const noexcept { return last_; }
  Hooks& hooks() noexcept { return hooks_; }
  nn::Parameters<S>& policy() noexcept { return policy_; }
  /// The actor's architecture (its settings, e.g. policy::Dmap's ablate_embedding for evaluation).
  Actor& actor_network() noexcept { return actor_; }
  /// The context predict() acts on: after a call, its window holds that step's (normalised) history.
  const policy::LiveContext<S>& predict_context() const noexcept { return predict_context_; }
  Head& head() noexcept { return head_; }
  Envs& envs() noexcept { return envs_; }
  RolloutBuffer<S>& rollout_buffer() noexcept { return buffer_; }
  const nn::Adam<S>& optimizer() const noexcept { return optimizer_; }

  /// V(observations) for normalised observations (obs_dim × batch), for inspection.
  Matrix predict_values(const Eigen::Ref<const Matrix>& observations) {
    check_shape(observations, obs_dim_, observations.cols(), "Ppo::predict_values", "observations");
    if (needs_.any())
      throw std::logic_error("Ppo::predict_values: the networks read more than observations (history, previous "
                             "actions or privileged values)");
    Tape& t = value_tape_;
    t.clear();
    t.set_grad_enabled(false);
    policy::Inputs<S> in;
    in.observation = t.view(observations.data(), obs_dim_, observations.cols());
    return value(in).value();
  }

 private:
  // ------------------------------------------------------------------ construction
  static PpoConfig validated(PpoConfig c) {
    auto fail = [](const std::string& what) { throw std::invalid_argument("Ppo: " + what); };
    if (c.n_steps <= 0 || c.n_envs <= 0) fail("n_steps and n_envs must be positive");
    if (c.batch_size <= 0) fail("batch_size must be positive");
    if (c.n_epochs <= 0) fail("n_epochs must be positive");
    if (c.policy_hidden.empty()) fail("the policy needs at least one hidden layer (its latent)");
    if (!c.share_network && c.value_hidden.empty()) fail("the value network needs at least one hidden layer");
    if (c.normalize_advantage && c.n_steps * c.n_envs < 2)
      fail("normalize_advantage needs n_steps · n_envs > 1 (SB3 asserts the same)");
    return c;
  }

  policy::Shapes network_shapes() const {
    return {obs_dim_, act_dim_, privileged ? envs_.privileged_size() : 0};
  }

  Head build_policy(typename Head::Config head_config, const typename Actor::Config& actor_config,
                    const typename Critic::Config& critic_config) {
    Rng init(config_.seed, /*stream=*/0x1A17);
    const nn::Init kind = config_.ortho_init ? nn::Init::orthogonal : nn::Init::pytorch_default;
    const policy::Build actor{.role = policy::Role::actor, .shapes = network_shapes(), .prefix = "pi.",
                              .hidden = config_.policy_hidden, .activation = config_.activation, .init = kind,
                              .output_gain = std::sqrt(2.0)};
    actor_ = Actor::create(policy_, actor, actor_config, init);
    const Eigen::Index latent = latent_size(actor);
    if (config_.share_network) {
      value_layer_ = nn::Dense::create(policy_, "value", latent, 1, nn::Activation::identity);
      init_layer(value_layer_, kind, 1.0, init);
    } else {
      critic_ = Critic::create(policy_,
                               {.role = policy::Role::value, .shapes = network_shapes(), .prefix = "vf.",
                                .hidden = config_.value_hidden, .activation = config_.activation, .init = kind},
                               critic_config, init);
    }
    if constexpr (requires { head_config.head; })
      if (config_.ortho_init) {
        head_config.head.init = nn::Init::orthogonal;
        head_config.head.gain = 0.01;
      }
    policy::set_head_groups(actor_, head_config);
    return Head(latent, act_dim_, policy_, init, head_config);
  }
  /// The actor's latent size: its latent_size() when it has one, else the last hidden size.
  Eigen::Index latent_size(const policy::Build& b) const {
    if constexpr (requires(const Actor& a) { a.latent_size(); }) return actor_.latent_size();
    else return b.output_size();
  }
  void init_layer(const nn::Dense& d, nn::Init kind, double gain, Rng& rng) {
    if (kind == nn::Init::orthogonal) nn::init_orthogonal(policy_.value(d.weight), policy_.value(d.bias), gain, rng);
    else nn::init_pytorch_default(policy_.value(d.weight), policy_.value(d.bias), rng);
  }

  /// V(s) (1 × batch).
  Var value(const policy::Inputs<S>& critic_inputs, const policy::Inputs<S>& actor_inputs) {
    return config_.share_network ? value_layer_(policy_, actor_(policy_, actor_inputs)) : critic_(policy_, critic_inputs);
  }
  Var value(const policy::Inputs<S>& in) { return value(in, in); }

  using Context = policy::ContextColumns<S>;
  /// The inputs of network N (the actor or the critic) for B observations at `observations`.
  template <class N>
  policy::Inputs<S> inputs(Tape& t, const S* observations, Eigen::Index B, const Context& c) {
    return policy::inputs_for<N>(t, t.view(observations, obs_dim_, B), c, needs_, shapes_);
  }
  Var value_of(Tape& t, const S* observations, Eigen::Index B, const Context& c) {
    return value(inputs<Critic>(t, observations, B, c), inputs<Actor>(t, observations, B, c));
  }

  template <class Obs, class Act, class Privileged>
  void predict_impl(const Obs& observation, Act& action, const Privileged& privileged_values) {
    predict_.load(observation, obs_dim_);
    Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>> row(predict_.observation.data(), 1, obs_dim_);
    envs_.normalize_observations(row, row);  // element-wise, so in place is safe
    Tape& t = predict_.tape;
    t.clear();
    t.set_grad_enabled(false);
    if (!needs_.any()) {
      predict_.action = head_.mode(policy_, actor_(policy_, inputs<Actor>(t, predict_.observation.data(), 1, {}))).value();
    } else {
      policy::LiveContext<S>& live = predict_context_;
      if (predict_new_episode_) live.reset(0);
      predict_new_episode_ = false;
      live.observe(0, predict_.observation.col(0));
      if constexpr (policy::reads_privileged<Actor>()) live.set_privileged(0, privileged_values);
      else (void)privileged_values;
      const Context c = Context::of(live.window(), live.previous_action(), live.privileged());
      predict_.action =
          head_.mode(policy_, actor_(policy_, inputs<Actor>(t, predict_.observation.data(), 1, c)))
              .value();
      live.acted(0, predict_.action.col(0).cwiseMax(S(-1)).cwiseMin(S(1)));
    }
    to_env_action_(predict_.action.col(0), action);
  }

  void start() {
    // A run resumed without its environments starts new episodes from a seed of its own.
    envs_.reset(num_timesteps_ == 0 ? config_.seed : restart_seed(config_.seed, num_timesteps_));
    episode_starts_.setOnes();
    std::fill(bad_observation_.begin(), bad_observation_.end(), std::uint8_t{0});
    started_ = true;
    check_observations_after_reset();
  }

  // ------------------------------------------------------------------ collecting a rollout
  void collect_rollout() {
    const Eigen::Index n = config_.n_envs;
    buffer_.reset();
    if (needs_.any()) rollout_context_.start_rollout(live_);
    noise::ResampleSchedule schedule(config_.sde_sample_freq);
    if (schedule.start_rollout()) noise::resample(head_, policy_, n, rng_, schedule);
    Tape& t = act_tape_;
    t.set_grad_enabled(false);
    const bool log_probs_afterwards = rollout_log_probs_afterwards();
    for (Eigen::Index s = 0; s < config_.n_steps; ++s) {
      if (schedule.before_step()) noise::resample(head_, policy_, n, rng_, schedule);
      // The observation acted on: the normalised one (zeros where a dropped transition left NaN/Inf).
      // (acted on from an aligned copy: tape views need 16-byte alignment, buffer steps may not have it)
      act_obs_ = envs_.observations().transpose();
      for (Eigen::Index i = 0; i < n; ++i)
        if (bad_observation_[static_cast<std::size_t>(i)]) {
          zero_non_finite(act_obs_.col(i));
          buffer_.valid()(static_cast<std::size_t>(s), static_cast<std::size_t>(i)) = 0;
          bad_observation_[static_cast<std::size_t>(i)] = 0;
        }
      buffer_.observations_at(s) = act_obs_;
      Context context;
      if (needs_.any()) {
        for (Eigen::Index i = 0; i < n; ++i) {
          if (episode_starts_(i) != S(0)) live_.reset(i);
          live_.observe(i, act_obs_.col(i));
          if constexpr (privileged) live_.set_privileged(i, envs_.privileged().row(i));
        }
        rollout_context_.record(s, live_, std::span<const S>(episode_starts_.data(), static_cast<std::size_t>(n)));
        context = Context::of(live_.window(), live_.previous_action(), live_.privileged());
      }
      t.clear();
      const Var z = actor_(policy_, inputs<Actor>(t, act_obs_.data(), n, context));
      noise::Sampled<S> pi;
      if constexpr (requires { head_.explore(policy_, z, rng_, false); })
        pi = head_.explore(policy_, z, rng_, !log_probs_afterwards);
      else
        pi = head_.explore(policy_, z, rng_);
      buffer_.actions_at(s) = pi.action.value();
      for (Eigen::Index i = 0; i < n; ++i) {
        if (!log_probs_afterwards)
          buffer_.log_probs()(static_cast<std::size_t>(s), static_cast<std::size_t>(i)) = pi.log_prob.value()(0, i);
        buffer_.episode_starts()(static_cast<std::size_t>(s), static_cast<std::size_t>(i)) = episode_starts_(i);
        to_env_action_(pi.action.value().col(i), env_actions_.row(i));
        if (needs_.previous_action) live_.acted(i, pi.action.value().col(i).cwiseMax(S(-1)).cwiseMin(S(1)));
      }
      envs_.step(env_actions_);
      num_timesteps_ += n * parallel_.ranks();
      record_step(s);
      for (const auto& f : envs_.finished_episodes()) finish_episode(f);
      if (hooks_.on_step) hooks_.on_step(num_timesteps_);
    }
    if (parallel_.active()) parallel_.merge_statistics(envs_);
    if (log_probs_afterwards) rollout_log_probs();
    compute_advantages();
    if (hooks_.on_rollout) hooks_.on_rollout(buffer_);
  }

  /// Whether the head takes this rollout's log-probs in one pass after it (Lattice at MyoHand's
  /// size: see Lattice::rollout_log_probs_afterwards); policies with a context act step by step.
  bool rollout_log_probs_afterwards() const {
    if constexpr (requires(const Head& h) { h.rollout_log_probs_afterwards(Eigen::Index{}); })
      return !needs_.any() && head_.rollout_log_probs_afterwards(std::min(log_prob_chunk, config_.n_steps * config_.n_envs));
    else
      return false;
  }
  /// log π(a | s) of every rollout sample with the parameters that acted (nothing trained since),
  /// in fixed chunks of samples so the bits do not depend on the rollout's size beyond them.
  static constexpr Eigen::Index log_prob_chunk = 512;
  void rollout_log_probs() {
    Tape& t = value_tape_;
    t.set_grad_enabled(false);
    const auto obs = buffer_.all_observations();
    const auto actions = buffer_.all_actions();
    for (Eigen::Index first = 0; first < obs.cols(); first += log_prob_chunk) {
      const Eigen::Index count = std::min(log_prob_chunk, obs.cols() - first);
      t.clear();
      const Var z = actor_(policy_, inputs<Actor>(t, obs.data() + first * obs_dim_, count, Context{}));
      const Var logp = head_.log_prob(policy_, z, t.view(actions.data() + first * act_dim_, act_dim_, count));
      std::copy(logp.value().data(), logp.value().data() + count, buffer_.log_probs().data() + first);
    }
    t.clear();
  }

  /// Rewards, truncation bootstraps and NaN/Inf checks of the step just taken.
  void record_step(Eigen::Index s) {
    const auto rewards = envs_.rewards();
    const auto obs = envs_.observations();
    const auto final_obs = envs_.final_observations();
    const auto truncated = envs_.truncated();
    for (Eigen::Index i = 0; i < config_.n_envs; ++i) {
      const auto ts = static_cast<std::size_t>(s), is = static_cast<std::size_t>(i);
      const bool done = envs_.done(i);
      const bool good_reward = std::isfinite(rewards(i));
      const bool good_next = done ? final_obs.row(i).allFinite() : obs.row(i).allFinite();
      buffer_.rewards()(ts, is) = good_reward ? rewards(i) : S(0);
      episode_starts_(i) = done ? S(1) : S(0);
      if (!good_reward || !good_next) {
        if (config_.on_bad_transition == BadTransition::throw_error) {
          check_finite(Eigen::Matrix<S, 1, 1>::Constant(rewards(i)), step_label(i), "reward");
          check_finite(done ? final_obs.row(i) : obs.row(i), step_label(i), "observation");
        }
        ++dropped_;
        buffer_.valid()(ts, is) = 0;
      } else if (done && truncated(i) && !envs_.terminated()(i)) {
        buffer_.add_truncation(s, i, final_obs.row(i));
        if (needs_.any()) {
          if constexpr (privileged) rollout_context_.add_truncation(live_, i, final_obs.row(i), envs_.final_privileged().row(i));
          else rollout_context_.add_truncation(live_, i, final_obs.row(i), Eigen::Matrix<S, 0, 1>{});
        }
      }
      // The next observation (after an auto-reset: the new episode's first) must be finite to act on.
      if (!obs.row(i).allFinite()) {
        if (config_.on_bad_transition == BadTransition::throw_error) check_finite(obs.row(i), step_label(i), "observation");
        if (done) ++dropped_;  // a bad reset observation is a dropped transition of its own
        bad_observation_[is] = 1;
      }
    }
  }
  std::string step_label(Eigen::Index env) const {
    return "Ppo: environment step " + std::to_string(num_timesteps_) + " (environment " + std::to_string(env) + ")";
  }
  void check_observations_after_reset() {
    const auto obs = envs_.observations();
    for (Eigen::Index i = 0; i < config_.n_envs; ++i)
      if (!obs.row(i).allFinite()) {
        if (config_.on_bad_transition == BadTransition::throw_error)
          check_finite(obs.row(i), "Ppo: reset (environment " + std::to_string(i) + ")", "observation");
        bad_observation_[static_cast<std::size_t>(i)] = 1;
      }
  }

  /// V for every sample in one batched pass (the parameters do not change within a rollout),
  /// γ V(final observation) added to truncated rewards, then GAE.
  void compute_advantages() {
    Tape& t = value_tape_;
    t.clear();
    t.set_grad_enabled(false);
    const auto all = buffer_.all_observations();
    if (!needs_.any()) {
      const Var v = value_of(t, all.data(), all.cols(), {});
      std::copy(v.value().data(), v.value().data() + all.cols(), buffer_.values().data());
    } else {  // in chunks: the windows of the whole rollout are never materialised at once
      constexpr Eigen::Index chunk = 512;
      for (Eigen::Index first = 0; first < all.cols(); first += chunk) {
        const Eigen::Index count = std::min(chunk, all.cols() - first);
        rollout_context_.gather_range(first, count, context_batch_);
        t.clear();
        const Context c = Context::of(context_batch_.history, context_batch_.previous_action, context_batch_.privileged);
        const Var v = value_of(t, all.data() + first * obs_dim_, count, c);
        std::copy(v.value().data(), v.value().data() + count, buffer_.values().data() + first);
      }
      t.clear();
    }
    const auto truncated = buffer_.truncated_observations();
    if (truncated.cols() > 0) {
      const auto& tc = rollout_context_.truncated();
      const Context c = needs_.any() ? Context::of(tc.history, tc.previous_action, tc.privileged) : Context{};
      const Var vt = value_of(t, truncated.data(), truncated.cols(), c);
      buffer_.bootstrap_truncated(vt.value().row(0), config_.gamma);
    }
    next_obs_ = envs_.observations().transpose();
    for (Eigen::Index i = 0; i < config_.n_envs; ++i)
      if (bad_observation_[static_cast<std::size_t>(i)])
        zero_non_finite(next_obs_.col(i));
    Context next;
    if (needs_.any()) {  // the context the next observation will be acted on with
      const Eigen::Index n = config_.n_envs;
      auto& b = next_context_;
      b.history.resize(live_.window().rows(), n);
      b.previous_action.resize(live_.previous_action().rows(), n);
      b.privileged.resize(live_.privileged().rows(), n);
      for (Eigen::Index i = 0; i < n; ++i) {
        const bool new_episode = episode_starts_(i) != S(0);
        live_.window_after(i, next_obs_.col(i), new_episode, b.history.col(i));
        if (b.previous_action.rows() > 0) {
          if (new_episode) b.previous_action.col(i).setZero();
          else b.previous_action.col(i) = live_.previous_action().col(i);
        }
        if constexpr (privileged)
          for (Eigen::Index j = 0; j < b.privileged.rows(); ++j) b.privileged(j, i) = envs_.privileged()(i, j);
      }
      next = Context::of(b.history, b.previous_action, b.privileged);
    }
    last_values_ = value_of(t, next_obs_.data(), config_.n_envs, next).value().row(0).transpose();
    compute_gae(buffer_.rewards(), buffer_.values(), buffer_.episode_starts(), buffer_.valid(), last_values_,
                episode_starts_, config_.gamma, config_.gae_lambda, buffer_.advantages(), buffer_.returns());
  }

  void finish_episode(const FinishedEpisode& f) {
    ++episodes_;
    restart_noise_stream(head_, f.env, rng_);
    const double ret = f.record.episode_return;
    recent_return_.add(ret);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
    csv_.row({double(num_timesteps_), double(episodes_), ret, double(f.record.length), last_.policy_loss,
              last_.value_loss, last_.entropy_loss, last_.approx_kl, last_.clip_fraction,
              elapsed > 0 ? double(num_timesteps_) / elapsed : 0.0});
    if (hooks_.on_episode) hooks_.on_episode(f);
  }

  // ------------------------------------------------------------------ the update
  void train(double progress_remaining) {
    const double lr = config_.learning_rate(progress_remaining);
    const S clip = static_cast<S>(config_.clip_range(progress_remaining));
    optimizer_.set_learning_rate(lr);
    buffer_.collect_valid_indices();
    const auto M_local = static_cast<Eigen::Index>(buffer_.valid_indices().size());
    // Distributed: every rank takes as many minibatches as the rank with the most valid samples
    // (a rank that dropped transitions sits its last ones out with an empty minibatch).
    const Eigen::Index M = parallel_.longest(M_local);
    double sum_pg = 0, sum_v = 0, sum_ent = 0, sum_kl = 0, sum_clip = 0;
    long batches = 0;
    bool stopped = false;
    for (int epoch = 0; epoch < config_.n_epochs && !stopped; ++epoch) {
      buffer_.shuffle_valid(rng_);
      if (parallel_.active()) share_minibatch_moments(M, M_local);
      for (Eigen::Index start = 0; start < M; start += config_.batch_size) {
        const Eigen::Index B = std::clamp<Eigen::Index>(M_local - start, 0, config_.batch_size);
        const auto minibatch = static_cast<std::size_t>(start / config_.batch_size);
        if (parallel_.active() && B == 0) {
          policy_.zero_grad();
          if (!distributed_step(0, 0.0, minibatch)) {
            stopped = true;
            break;
          }
          continue;
        }
        const auto batch_indices = buffer_.valid_indices().subspan(static_cast<std::size_t>(start), static_cast<std::size_t>(B));
        buffer_.gather(batch_indices, mb_);
        Context context;
        if (needs_.any()) {
          rollout_context_.gather(batch_indices, context_batch_);
          context = Context::of(context_batch_.history, context_batch_.previous_action, context_batch_.privileged);
        }
        if (config_.normalize_advantage) normalize_advantages(B, minibatch);

        Tape& t = train_tape_;
        t.clear();
        const policy::Inputs<S> actor_in = inputs<Actor>(t, mb_.observations.data(), B, context);
        const policy::Inputs<S> critic_in = inputs<Critic>(t, mb_.observations.data(), B, context);
        const Var z = actor_(policy_, actor_in);
        const Var log_prob = head_.log_prob(policy_, z, t.view(mb_.actions.data(), act_dim_, B));

        // Clipped surrogate: −mean(min(A·r, A·clip(r, 1 − ε, 1 + ε))), r = π / π_old.
        const Var ratio = autodiff::exp(log_prob - t.view(mb_.log_probs.data(), 1, B));
        const Var advantages = t.view(mb_.advantages.data(), 1, B);
        const Var policy_loss = -autodiff::mean(
            autodiff::minimum(advantages * ratio, advantages * autodiff::clamp(ratio, S(1) - clip, S(1) + clip)));

        // Value loss, optionally clipped around the rollout's values.
        Var v = value(critic_in, actor_in);
        if (config_.clip_range_vf) {
          const S c = static_cast<S>((*config_.clip_range_vf)(progress_remaining));
          const Var old = t.view(mb_.values.data(), 1, B);
          v = old + autodiff::clamp(v - old, -c, c);
        }
        const Var value_loss = autodiff::mean(autodiff::square(t.view(mb_.returns.data(), 1, B) - v));

        // Entropy bonus: the closed form when the head has one, else −mean(log π) (SB3).
        const std::optional<Var> entropy = head_.entropy(policy_, z);
        const Var entropy_loss = entropy ? -autodiff::mean(*entropy) : autodiff::mean(log_prob);

        // With ent_coef 0 the entropy is only logged: left out of the loss, backward never visits it
        // (for Lattice that is a second covariance per sample and its gradient, for nothing).
        const Var weighted_value_loss = value_loss * S(config_.vf_coef);
        const Var loss = config_.ent_coef != 0 ? policy_loss + entropy_loss * S(config_.ent_coef) + weighted_value_loss
                                                 : policy_loss + weighted_value_loss;

        // KL(old ‖ new) estimate (Schulman's k3) and the fraction clipped, from the values alone.
        const auto r = ratio.value().array();
        const double approx_kl = static_cast<double>(((r - S(1)) - r.log()).mean());
        sum_kl += approx_kl;
        sum_clip += static_cast<double>(((r - S(1)).abs() > clip).template cast<S>().mean());
        sum_pg += static_cast<double>(policy_loss.value()(0, 0));
        sum_v += static_cast<double>(value_loss.value()(0, 0));
        sum_ent += static_cast<double>(entropy_loss.value()(0, 0));
        ++batches;
        if (parallel_.active()) {  // the KL of the whole minibatch (summed over the ranks) decides, then the gradient sum
          policy_.zero_grad();
          t.backward(loss);
          if (!distributed_step(B, approx_kl, minibatch)) {
            stopped = true;
            break;
          }
          continue;
        }
        if (config_.target_kl && approx_kl > 1.5 * *config_.target_kl) {
          stopped = true;  // before this minibatch's step, as SB3
          break;
        }
        policy_.zero_grad();
        t.backward(loss);
        if (hooks_.on_gradient) hooks_.on_gradient(policy_);
        optimizer_.step(policy_);
        ++n_updates_;
      }
    }
    if (parallel_.check_due()) parallel_.check(policy_, optimizer_, envs_, n_updates_);
    const double nb = std::max<long>(batches, 1);
    last_ = {num_timesteps_, sum_pg / nb, sum_v / nb, sum_ent / nb, sum_kl / nb, sum_clip / nb,
             explained_variance(buffer_.values().data(), buffer_.returns().data(), buffer_.total()), lr, double(clip),
             batches - (stopped ? 1 : 0), stopped};
    if (hooks_.on_update) hooks_.on_update(last_);
  }

  /// Normalises the minibatch's advantages (torch.std: the unbiased estimate); distributed, with
  /// the moments of every rank's minibatch `minibatch` (share_minibatch_moments).
  void normalize_advantages(Eigen::Index B, std::size_t minibatch) {
    auto a = mb_.advantages.leftCols(B).array();
    if (!parallel_.active()) {
      if (B < 2) return;
      const S mean = a.mean();
      const S std = std::sqrt((a - mean).square().sum() / S(B - 1));
      a = (a - mean) / (std + S(1e-8));
      return;
    }
    const auto m = parallel_.epoch_moments(minibatch);
    if (m.count < 2 || B == 0) return;
    a = (a - static_cast<S>(m.mean)) / (static_cast<S>(m.std) + S(1e-8));
  }

  /// Distributed, before an epoch: each of its minibatches' sample count and advantage moments
  /// (count, mean, Σ(x − mean)²), gathered from every rank in one call — the counts give each
  /// step's summed weight and the moments its advantage normalisation, so a gradient step's only
  /// collective is the gradient sum (and the KL's, with target_kl).
  void share_minibatch_moments(Eigen::Index M, Eigen::Index M_local) {
    epoch_moments_.clear();
    const S* advantages = buffer_.advantages().data();
    const auto indices = buffer_.valid_indices();
    for (Eigen::Index start = 0; start < M; start += config_.batch_size) {
      const Eigen::Index B = std::clamp<Eigen::Index>(M_local - start, 0, config_.batch_size);
      double mean = 0, m2 = 0;
      if (B > 0 && config_.normalize_advantage) {
        for (Eigen::Index j = 0; j < B; ++j) advantage_scratch_(0, j) = advantages[indices[static_cast<std::size_t>(start + j)]];
        const auto a = advantage_scratch_.leftCols(B).array();  // the same sums as over the gathered minibatch
        mean = double(a.mean());
        m2 = double((a - S(mean)).square().sum());
      }
      for (double v : {double(B), mean, m2}) epoch_moments_.push_back(v);
    }
    parallel_.gather_epoch_moments(epoch_moments_);
  }

  /// Distributed: replaces this rank's gradient of its minibatch mean loss (B samples) with the
  /// gradient of the mean loss over every rank's minibatch — the ranks' gradients weighted by
  /// their sample counts and summed (DataParallel::average). Returns false when target_kl stops
  /// the epochs (the whole minibatch's KL, summed likewise, before the step, as SB3). Then takes
  /// the optimizer step with it.
  bool distributed_step(Eigen::Index B, double approx_kl, std::size_t minibatch) {
    const S weight = S(B) / S(config_.batch_size);  // 1 when full
    const S total = parallel_.epoch_weight(minibatch, config_.batch_size);
    if (config_.target_kl && parallel_.weighted_mean(weight, approx_kl, total) > 1.5 * *config_.target_kl) return false;
    parallel_.average(policy_, weight, total);
    if (hooks_.on_gradient) hooks_.on_gradient(policy_);
    optimizer_.step(policy_);
    ++n_updates_;
    return true;
  }

  /// The run's own words (generators, counters, episode flags), without the environments.
  StateWords own_state() const {
    StateWords run;
    save_rng(run, rng_);
    for (long v : {num_timesteps_, n_updates_, episodes_, dropped_}) put_word(run, std::int64_t{v});
    put_word(run, std::int64_t{started_});
    recent_return_.save(run);
    for (double v : {last_.policy_loss, last_.value_loss, last_.entropy_loss, last_.approx_kl, last_.clip_fraction})
      put_word(run, v);
    for (Eigen::Index i = 0; i < episode_starts_.size(); ++i) put_word(run, static_cast<double>(episode_starts_(i)));
    for (auto b : bad_observation_) put_word(run, std::int64_t{b});
    if (needs_.any()) live_.save(run);  // the windows and previous actions the next rollout continues
    return run;
  }
  StateWords run_state() const {
    StateWords run = own_state();
    if constexpr (SavableEnvironment<Env>) envs_.save_state(run);
    else envs_.save_statistics(run);
    return run;
  }
  /// The number of run-state words of a checkpoint with (or without) the environments' state.
  std::size_t run_state_size(bool with_environments) const {
    StateWords words = own_state();
    if constexpr (SavableEnvironment<Env>)
      if (with_environments) {
        envs_.save_state(words);
        return words.size();
      }
    envs_.save_statistics(words);
    return words.size();
  }

  // ------------------------------------------------------------------ members
  PpoConfig config_;
  Envs envs_;
  Env eval_env_;
  Eigen::Index obs_dim_, act_dim_;
  Rng rng_;
  RolloutBuffer<S> buffer_;
  nn::Parameters<S> policy_;
  Actor actor_{};
  Critic critic_{};
  nn::Dense value_layer_;
  Head head_;
  nn::Adam<S> optimizer_;
  ActionMap<S> to_env_action_;
  policy::Shapes shapes_{};
  policy::ContextNeeds needs_{};
  policy::LiveContext<S> live_, predict_context_;
  policy::RolloutContext<S> rollout_context_;
  typename policy::RolloutContext<S>::Batch context_batch_, next_context_;
  bool predict_new_episode_ = true;
  Tape act_tape_, value_tape_, train_tape_;
  DeterministicAct<S> predict_;
  typename RolloutBuffer<S>::Minibatch mb_;
  std::vector<double> epoch_moments_;                    // distributed: this rank's (count, mean, M2) per minibatch
  Eigen::Matrix<S, 1, Eigen::Dynamic> advantage_scratch_;  // distributed: one minibatch's advantages
  Matrix act_obs_, next_obs_;
  Vector last_values_, episode_starts_;
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> env_actions_;
  std::vector<std::uint8_t> bad_observation_;
  long num_timesteps_ = 0, n_updates_ = 0, episodes_ = 0, dropped_ = 0;
  bool started_ = false;
  // distributed training (distribute())
  DataParallel<S> parallel_;
  RecentReturn recent_return_;
  PpoUpdate last_{};
  Hooks hooks_;
  log::CsvLog csv_;
  std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
};

}  // namespace spindle::algo
