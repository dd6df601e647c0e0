#pragma once
// Soft actor-critic (Haarnoja et al. 2018) with stable-baselines3's semantics and names.
// One file, top to bottom: configuration, networks, acting, collecting, the update, evaluation.
//
//   spindle::algo::Sac<spindle::envs::Pendulum> sac(Pendulum{}, {.learning_rate = 1e-3});
//   sac.learn(10'000);
//   double mean_return = sac.evaluate(10);
//
// Template parameters: the Environment; the exploration-noise head (noise/): the squashed
// Gaussian by default; noise::Gsde / noise::Lattice with squash_output, or any head with a
// colored-noise source (the scalar type is the head's); the Actor and the twin Critic networks
// (policy/: policy::Mlp by default, policy::HistoryMlp, policy::Oracle / PrivilegedCritic, or
// any policy::Network). The replay buffer stores every transition once; history windows are
// rebuilt at sampling time from links between the transitions of an episode (replay_context.hpp).
#include <chrono>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "../autodiff.hpp"
#include "../core/environment.hpp"
#include "../core/state_words.hpp"
#include "../deploy/policy.hpp"
#include "../io/checkpoint.hpp"
#include "../nn/serialize.hpp"
#include "../core/vector_env.hpp"
#include "../log/csv.hpp"
#include "../log/progress.hpp"
#include "../nn/mlp.hpp"
#include "../nn/optim.hpp"
#include "../noise/schedule.hpp"
#include "../noise/squashed_gaussian.hpp"
#include "../policy/history.hpp"
#include "../policy/mlp.hpp"
#include "common.hpp"
#include "communicator.hpp"
#include "replay_buffer.hpp"
#include "replay_context.hpp"

namespace spindle::algo {

struct SacConfig {
  // SB3 names and defaults
  double learning_rate = 3e-4;
  std::size_t buffer_size = 1'000'000;
  long learning_starts = 100;
  Eigen::Index batch_size = 256;
  double tau = 0.005;
  double gamma = 0.99;
  long train_freq = 1;        // environment steps (per env) between updates
  long gradient_steps = 1;    // −1: as many as steps collected
  bool auto_entropy = true;   // ent_coef = "auto" (SB3 "auto_<init>": ent_coef_init)
  double ent_coef_init = 1.0; // initial α when automatic, the fixed α otherwise
  std::optional<double> target_entropy{};  // default −dim(A)
  long target_update_interval = 1;
  long sde_sample_freq = -1;  // gSDE/Lattice: resample every n steps (−1: once per collection)
  // networks (SB3: net_arch [256, 256], ReLU)
  std::vector<Eigen::Index> actor_hidden = {256, 256};
  std::vector<Eigen::Index> critic_hidden = {256, 256};
  autodiff::Activation activation = autodiff::Activation::relu;
  // environments and bookkeeping
  Eigen::Index n_envs = 1;
  int n_threads = 1;
  std::uint64_t seed = 0;
  BadTransition on_bad_transition = BadTransition::throw_error;
  nn::NonFinitePolicy on_non_finite_gradient = nn::NonFinitePolicy::skip_update;
  std::string csv_path{};  // empty: no CSV log
  bool progress = false; // live progress line on stdout
};

/// Passed to hooks after every update.
struct SacUpdate {
  long step = 0;
  double critic_loss = 0, actor_loss = 0, ent_coef = 0, ent_coef_loss = 0;
};

template <Environment Env, noise::NoiseHead Head = noise::SquashedGaussian<float>, class Actor = policy::Mlp,
          class Critic = policy::Mlp>
  requires policy::Network<Actor, typename Head::scalar> && policy::Network<Critic, typename Head::scalar>
class Sac {
 public:
  using S = typename Head::scalar;
  using Matrix = autodiff::Matrix<S>;
  using Tape = autodiff::Tape<S>;
  using Var = autodiff::Var<S>;

  struct Hooks {
    std::function<void(long step)> on_step;                 // after every vector step
    std::function<void(const FinishedEpisode&)> on_episode;  // every finished episode
    std::function<void(const SacUpdate&)> on_update;         // after every gradient step
    std::function<std::string()> status;                     // appended to the progress line (a curriculum's stage)
  };

  static constexpr bool privileged = policy::reads_privileged<Actor>() || policy::reads_privileged<Critic>();
  static_assert(!privileged || PrivilegedEnvironment<Env>,
                "Sac: the actor or the critic reads privileged information (policy::Oracle, policy::PrivilegedCritic), "
                "but the environment has none: it needs `privileged()` and `privileged_size()` "
                "(spindle::PrivilegedEnvironment; mujoco::Env has them)");

  Sac(const Env& prototype, SacConfig config = {}, typename Head::Config head_config = {},
      typename Actor::Config actor_config = {}, typename Critic::Config critic_config = {})
      : config_(config),
        envs_(config.n_envs, prototype, {.n_threads = config.n_threads}),
        eval_env_(prototype),
        obs_dim_(envs_.observation_size()),
        act_dim_(envs_.action_size()),
        rng_(config.seed, /*stream=*/0xA1),
        buffer_(config.buffer_size, obs_dim_, act_dim_),
        head_(build_actor(head_config, actor_config)),
        actor_opt_(actor_, adam()),
        critic_opt_((build_critics(critic_config), critic_), adam()),
        alpha_opt_((build_alpha(), alpha_), adam()) {
    static_assert(std::is_same_v<scalar_t<Env>, S>, "Sac: the environment's scalar and the noise head's scalar differ");
    const auto box = envs_.action_space();
    to_env_action_ = ActionMap<S>(box.low, box.high);
    if (!to_env_action_.bounded())
      throw std::invalid_argument("Sac: the action space must be bounded (actions are squashed into it)");
    target_entropy_ = config.target_entropy.value_or(-static_cast<double>(act_dim_));
    if (!config.csv_path.empty())
      csv_ = log::CsvLog(config.csv_path, {"steps", "episode", "episode_return", "episode_length", "critic_loss",
                                           "actor_loss", "ent_coef", "steps_per_second"});
    previous_obs_.resize(config.n_envs, obs_dim_);
    env_actions_.resize(config.n_envs, act_dim_);
    shapes_ = network_shapes();
    needs_ = policy::needs_of(actor_net_, q1_, shapes_);
    if (needs_.any()) {
      live_ = policy::LiveContext<S>(config_.n_envs, network_shapes(), needs_);
      predict_context_ = policy::LiveContext<S>(1, network_shapes(), needs_);
      replay_context_ = ReplayContext<S>(config_.buffer_size, config_.n_envs, network_shapes(), needs_);
      episode_start_.assign(static_cast<std::size_t>(config_.n_envs), 1);
    }
  }

  // ------------------------------------------------------------------ training
  /// Runs until `total_timesteps` environment steps have been taken (counting every env).
  void learn(long total_timesteps) {
    if (!envs_started_) start();
    log::Progress progress(total_timesteps);
    while (num_timesteps_ < total_timesteps) {
      const long collected = collect_rollouts(config_.train_freq);
      if (num_timesteps_ > config_.learning_starts) train(config_.gradient_steps > 0 ? config_.gradient_steps : collected);
      if (config_.progress) progress.update(num_timesteps_, recent_return_.value, hooks_.status ? hooks_.status() : std::string());
    }
    if (config_.progress) progress.finish(num_timesteps_, recent_return_.value, hooks_.status ? hooks_.status() : std::string());
  }

  /// Mean undiscounted return of `episodes` deterministic episodes on a separate environment.
  /// Networks with a context start it afresh every episode; privileged actors read the
  /// evaluation environment's privileged().
  double evaluate(int episodes, std::uint64_t seed = 12345) {
    return evaluate_episodes(
        eval_env_, episodes, seed,
        [&](const auto& obs, auto& action) {
          if constexpr (policy::reads_privileged<Actor>()) predict(obs, action, eval_env_.privileged());
          else predict(obs, action);
        },
        [&] { reset_context(); });
  }

  /// The deterministic action (the squashed mean, mapped onto the Box) for one observation.
  /// With a history or previous-action context, successive calls are one episode's steps:
  /// call reset_context() when a new episode starts.
  template <class Obs, class Act>
    requires(!policy::reads_privileged<Actor>())
  void predict(const Obs& observation, Act& action) {
    predict_impl(observation, action, Eigen::Matrix<S, 0, 1>{});
  }
  /// The same for an actor that reads privileged information: the episode's privileged values.
  template <class Obs, class Act, class Privileged>
  void predict(const Obs& observation, Act& action, const Privileged& privileged_values) {
    static_assert(policy::reads_privileged<Actor>(), "Sac::predict: this actor does not read privileged values");
    check_shape(privileged_values, needs_.privileged, 1, "Sac::predict", "privileged values");
    predict_impl(observation, action, privileged_values);
  }
  /// predict() starts a new episode at its next call.
  void reset_context() noexcept { predict_new_episode_ = true; }

  // ------------------------------------------------------------------ checkpoints
  /// Writes networks, targets, optimizers, α, the replay buffer, generators and counters — and,
  /// when the environment can save its state (SavableEnvironment), the environments
  /// mid-episode, so that a resumed run continues bit-identically — to one versioned .npz,
  /// atomically. The file also holds what deploy::Policy needs to act without the training.
  /// (Pink/OU noise sources restart after a resume.)
  /// `extra` may add arrays of its own (a curriculum's state: curriculum::save).
  void save(const std::filesystem::path& path, const std::function<void(io::Checkpoint&)>& extra = {}) const {
    if (!comm_) return save_file(path, extra);
    std::string error;  // every rank its own file; every rank learns whether all were written
    try {
      save_file(rank_path(path, comm_->rank()), extra);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (comm_->max(error.empty() ? 0 : 1) != 0)
      throw std::runtime_error(error.empty() ? "Sac::save: another rank could not write its part of '" + path.string() + "'"
                                             : error);
  }

  /// Restores a save() of a Sac built with the same configuration; all or nothing: a missing,
  /// corrupt or mismatched file throws naming the file and the array, and leaves this run as it
  /// was. Returns Resume::exact when the environments were restored mid-episode too, and
  /// Resume::environments_restarted when the checkpoint holds no environment state (the
  /// environment cannot save it): the next learn() then starts new episodes.
  /// `extra` reads what save's extra added; it runs after every check and before anything of
  /// this run changes (a throw there leaves the run as it was). Distributed: every rank reads its own file (rank_path), written by as many ranks.
  Resume load(const std::filesystem::path& path, const std::function<void(const io::Checkpoint&)>& extra = {}) {
    if (!comm_) return load_file(path, extra);
    const Resume resumed = load_file(rank_path(path, comm_->rank()), extra);
    check_identical_state();
    return resumed;
  }

  // ------------------------------------------------------------------ data-parallel training
  /// Trains as one of the ranks of `comm` (spindle::mpi::World for MPI): every rank runs its own
  /// environments (seeded with rank_seed(seed, rank)) into its own replay buffer and samples its
  /// own minibatch; the networks start as rank 0's, and every gradient step applies the mean of
  /// the ranks' gradients (the critics, α and the actor, each buffer summed in place), so
  /// a step learns from ranks × batch_size transitions. Steps count every rank's (learn(total)
  /// and learning_starts are the run's totals). Checkpoints: every rank writes its own file
  /// (rank 0: the path given, rank r: "<stem>.rank<r><ext>"), each a complete checkpoint of that
  /// rank (one process can load rank 0's). Call it on every rank before learn() and load().
  void distribute(std::shared_ptr<Communicator> comm, DistributeOptions options = {}) {
    if (!comm) throw std::invalid_argument("Sac::distribute: no communicator");
    if (envs_started_ || num_timesteps_ != 0) throw std::logic_error("Sac::distribute: call it before learn() and load()");
    const std::uint64_t shape[] = {std::uint64_t(actor_.values().size()), std::uint64_t(critic_.values().size()),
                                   std::uint64_t(config_.n_envs), std::uint64_t(config_.batch_size),
                                   std::uint64_t(config_.train_freq), std::uint64_t(config_.gradient_steps),
                                   std::uint64_t(obs_dim_), std::uint64_t(act_dim_)};
    check_identical(*comm, checksum(std::span<const std::uint64_t>(shape)),
                    "configurations (parameter counts, n_envs, batch_size, train_freq, gradient_steps, observation or action size)", 0);
    comm_ = std::move(comm);
    distribute_options_ = options;
    ranks_ = comm_->size();
    config_.seed = rank_seed(config_.seed, comm_->rank());
    rng_ = Rng(config_.seed, /*stream=*/0xA1);
    for (nn::Parameters<S>* p : {&actor_, &critic_, &critic_target_, &alpha_})
      broadcast_values(*comm_, std::span<S>(p->values().data(), static_cast<std::size_t>(p->values().size())));
    check_identical_state();
  }
  /// The communicator of a distributed run (null otherwise).
  const std::shared_ptr<Communicator>& communicator() const noexcept { return comm_; }
  /// The file rank `rank` of a distributed run writes for `path` (the path itself for rank 0).
  static std::filesystem::path rank_path(const std::filesystem::path& path, int rank) {
    if (rank == 0) return path;
    std::filesystem::path p = path;
    p.replace_filename(path.stem().string() + ".rank" + std::to_string(rank) + path.extension().string());
    return p;
  }

  // ------------------------------------------------------------------ state
  long num_timesteps() const noexcept { return num_timesteps_; }
  long num_updates() const noexcept { return n_updates_; }
  long dropped_transitions() const noexcept { return dropped_; }
  double ent_coef() const { return std::exp(static_cast<double>(alpha_.value(0)(0, 0))); }
  const SacConfig& config() const noexcept { return config_; }
  /// Changes a hyperparameter between updates — what a curriculum stage may change
  /// (curriculum::Stage::hyperparameters): learning_rate (all three optimizers), tau, gamma,
  /// ent_coef (a fixed α only; an automatic one is learned).
  void set_hyperparameter(std::string_view name, double value) {
    auto check = [&](bool ok, const char* range) { check_hyperparameter("SAC", name, value, ok, range); };
    if (name == "learning_rate") {
      check(value >= 0, "[0, ∞)");
      config_.learning_rate = value;
      for (nn::Adam<S>* o : {&actor_opt_, &critic_opt_, &alpha_opt_}) o->set_learning_rate(value);
    } else if (name == "tau") {
      check(value > 0 && value <= 1, "(0, 1]");
      config_.tau = value;
    } else if (name == "gamma") {
      check(value >= 0 && value <= 1, "[0, 1]");
      config_.gamma = value;
    } else if (name == "ent_coef") {
      if (config_.auto_entropy) throw std::invalid_argument("SAC: ent_coef is learned (auto_entropy); it cannot be set");
      check(value > 0, "(0, ∞)");
      alpha_.value(0)(0, 0) = static_cast<S>(std::log(value));
    } else {
      throw std::invalid_argument("SAC: no hyperparameter '" + std::string(name) +
                                  "' can be set during training (learning_rate, tau, gamma, ent_coef)");
    }
  }
  Hooks& hooks() noexcept { return hooks_; }
  nn::Parameters<S>& actor() noexcept { return actor_; }
  nn::Parameters<S>& critic() noexcept { return critic_; }
  nn::Parameters<S>& critic_target() noexcept { return critic_target_; }
  ReplayBuffer<S>& replay_buffer() noexcept { return buffer_; }
  Head& head() noexcept { return head_; }
  VectorEnv<Env>& envs() noexcept { return envs_; }

 private:
  // ------------------------------------------------------------------ checkpoint files
  void save_file(const std::filesystem::path& path, const std::function<void(io::Checkpoint&)>& extra) const {
    io::Checkpoint c;
    c.put_scalar("sac.format", std::int64_t{1});
    if (comm_) c.put_scalar("distributed.ranks", std::int64_t{comm_->size()});
    c.put_scalar("sac.environments_saved", std::int64_t{SavableEnvironment<Env>});
    nn::save(c, "actor", actor_);
    nn::save(c, "critic", critic_);
    nn::save(c, "critic_target", critic_target_);
    nn::save(c, "ent_coef", alpha_);
    nn::save(c, "actor_optimizer", actor_opt_);
    nn::save(c, "critic_optimizer", critic_opt_);
    nn::save(c, "ent_coef_optimizer", alpha_opt_);
    const auto rows = static_cast<Eigen::Index>(buffer_.size());
    auto& b = const_cast<ReplayBuffer<S>&>(buffer_);  // read-only use of the raw storage
    c.put("buffer.observations", RowMap(b.observations().data(), rows, obs_dim_));
    c.put("buffer.next_observations", RowMap(b.next_observations().data(), rows, obs_dim_));
    c.put("buffer.actions", RowMap(b.actions().data(), rows, act_dim_));
    c.put("buffer.rewards", RowMap(b.rewards().data(), rows, 1));
    c.put("buffer.terminated", RowMap(b.terminated().data(), rows, 1));
    c.put_scalar("buffer.position", static_cast<std::int64_t>(buffer_.position()));
    c.put_scalar("buffer.full", std::int64_t{buffer_.full()});
    StateWords run;
    save_rng(run, rng_);
    for (long v : {num_timesteps_, n_updates_, episodes_, dropped_}) put_word(run, std::int64_t{v});
    recent_return_.save(run);
    for (double v : {last_.critic_loss, last_.actor_loss, last_.ent_coef, last_.ent_coef_loss}) put_word(run, v);
    for (Eigen::Index i = 0; i < previous_obs_.size(); ++i) put_word(run, static_cast<double>(previous_obs_.data()[i]));
    save_context(run);
    if constexpr (SavableEnvironment<Env>) envs_.save_state(run);
    put_state(c, "run_state", run);
    std::vector<Eigen::Index> sizes{obs_dim_};
    sizes.insert(sizes.end(), config_.actor_hidden.begin(), config_.actor_hidden.end());
    const auto box = envs_.action_space();
    if constexpr (std::is_same_v<Actor, policy::Mlp>)  // deploy::Policy acts with MLP actors only
      deploy::write<Head>(c, {"sac", "actor", "trunk.", sizes, config_.activation, act_dim_, {}}, head_.config(),
                          box.low.template cast<double>(), box.high.template cast<double>());
    if (extra) extra(c);
    c.save(path);
  }

  Resume load_file(const std::filesystem::path& path, const std::function<void(const io::Checkpoint&)>& extra) {
    const io::Checkpoint c = io::Checkpoint::load(path);
    const std::int64_t ranks = c.contains("distributed.ranks") ? c.get_scalar<std::int64_t>("distributed.ranks") : 1;
    if (comm_ && ranks != comm_->size())
      throw std::runtime_error("Sac::load: '" + path.string() + "' was written by a run of " + std::to_string(ranks) +
                               " rank(s); this run has " + std::to_string(comm_->size()) +
                               " (resume with as many ranks; a single process can load rank 0's file to evaluate)");
    const bool saved_envs = !c.contains("sac.environments_saved") || c.get_scalar<std::int64_t>("sac.environments_saved") != 0;
    const bool exact = saved_envs && SavableEnvironment<Env>;
    nn::Parameters<S> actor = actor_, critic = critic_, target = critic_target_, alpha = alpha_;
    nn::load(c, "actor", actor);
    nn::load(c, "critic", critic);
    nn::load(c, "critic_target", target);
    nn::load(c, "ent_coef", alpha);
    nn::Adam<S> actor_opt = actor_opt_, critic_opt = critic_opt_, alpha_opt = alpha_opt_;
    nn::load(c, "actor_optimizer", actor_opt);
    nn::load(c, "critic_optimizer", critic_opt);
    nn::load(c, "ent_coef_optimizer", alpha_opt);
    const auto position = c.get_scalar<std::int64_t>("buffer.position");
    const bool full = c.get_scalar<std::int64_t>("buffer.full") != 0;
    const Eigen::Index rows = full ? static_cast<Eigen::Index>(buffer_.capacity()) : static_cast<Eigen::Index>(position);
    if (position < 0 || static_cast<std::size_t>(position) >= buffer_.capacity())
      throw std::runtime_error("Sac::load: '" + path.string() + "': buffer position out of range for this buffer size");
    const Matrix obs = c.get<S>("buffer.observations", rows, obs_dim_);
    const Matrix next = c.get<S>("buffer.next_observations", rows, obs_dim_);
    const Matrix act = c.get<S>("buffer.actions", rows, act_dim_);
    const Matrix rew = c.get<S>("buffer.rewards", rows, 1);
    const Matrix term = c.get<S>("buffer.terminated", rows, 1);
    StateWords probe;  // the environments' part must have the size this run's environments write
    if constexpr (SavableEnvironment<Env>)
      if (exact) envs_.save_state(probe);
    StateWords context;
    save_context(context);
    const std::size_t own = 6 + 4 + 2 + 4 + static_cast<std::size_t>(previous_obs_.size()) + context.size();
    const StateWords run = get_state(c, "run_state", own + probe.size(), path, "Sac::load");
    if (extra) extra(c);
    // Everything is read and checked: commit.
    actor_ = std::move(actor);
    critic_ = std::move(critic);
    critic_target_ = std::move(target);
    alpha_ = std::move(alpha);
    actor_opt_ = std::move(actor_opt);
    critic_opt_ = std::move(critic_opt);
    alpha_opt_ = std::move(alpha_opt);
    for (Eigen::Index i = 0; i < rows; ++i) {
      const auto k = static_cast<std::size_t>(i);
      for (Eigen::Index j = 0; j < obs_dim_; ++j) {
        buffer_.observations()(k, static_cast<std::size_t>(j)) = obs(i, j);
        buffer_.next_observations()(k, static_cast<std::size_t>(j)) = next(i, j);
      }
      for (Eigen::Index j = 0; j < act_dim_; ++j) buffer_.actions()(k, static_cast<std::size_t>(j)) = act(i, j);
      buffer_.rewards()(k) = rew(i, 0);
      buffer_.terminated()(k) = term(i, 0);
    }
    buffer_.set_cursor(static_cast<std::size_t>(position), full);
    StateReader in(run);
    load_rng(in, rng_);
    for (long* v : {&num_timesteps_, &n_updates_, &episodes_, &dropped_}) *v = static_cast<long>(in.integer());
    recent_return_.load(in);
    for (double* v : {&last_.critic_loss, &last_.actor_loss, &last_.ent_coef, &last_.ent_coef_loss}) *v = in.real();
    for (Eigen::Index i = 0; i < previous_obs_.size(); ++i) previous_obs_.data()[i] = static_cast<S>(in.real());
    if (needs_.any()) {
      for (auto& f : episode_start_) f = static_cast<std::uint8_t>(in.integer());
      live_.load(in);
      replay_context_.load(in);
    }
    if constexpr (SavableEnvironment<Env>)
      if (exact) {
        envs_.load_state(in);
        envs_started_ = true;
        return Resume::exact;
      }
    envs_started_ = false;
    return Resume::environments_restarted;
  }

  // ------------------------------------------------------------------ construction
  static nn::AdamConfig adam_for(const SacConfig& c) {
    return {.lr = c.learning_rate, .on_non_finite = c.on_non_finite_gradient};
  }
  nn::AdamConfig adam() const { return adam_for(config_); }

  policy::Shapes network_shapes() const {
    return {obs_dim_, act_dim_, privileged ? envs_.privileged_size() : 0};
  }
  Head build_actor(const typename Head::Config& head_config, const typename Actor::Config& actor_config) {
    Rng init(config_.seed, /*stream=*/0x1A17);
    if (config_.actor_hidden.empty()) throw std::invalid_argument("Sac: the actor needs at least one hidden layer (its latent)");
    const policy::Build b{.role = policy::Role::actor, .shapes = network_shapes(), .prefix = "trunk.",
                          .hidden = config_.actor_hidden, .activation = config_.activation};
    actor_net_ = Actor::create(actor_, b, actor_config, init);
    Eigen::Index latent = b.output_size();
    if constexpr (requires(const Actor& a) { a.latent_size(); }) latent = actor_net_.latent_size();
    typename Head::Config config = head_config;
    policy::set_head_groups(actor_net_, config);
    return Head(latent, act_dim_, actor_, init, config);
  }
  void build_critics(const typename Critic::Config& critic_config) {
    Rng init(config_.seed, /*stream=*/0xC417);
    policy::Build b{.role = policy::Role::q, .shapes = network_shapes(), .prefix = "q1.", .hidden = config_.critic_hidden,
                    .activation = config_.activation};
    q1_ = Critic::create(critic_, b, critic_config, init);
    b.prefix = "q2.";
    q2_ = Critic::create(critic_, b, critic_config, init);
    critic_target_ = critic_;
  }
  void build_alpha() {
    alpha_.add("log_ent_coef", 1, 1);
    alpha_.value(0)(0, 0) = static_cast<S>(std::log(config_.ent_coef_init));
  }

  // ------------------------------------------------------------------ acting
  void start() {
    // A run resumed without its environments starts new episodes from a seed of its own.
    envs_.reset(num_timesteps_ == 0 ? config_.seed : restart_seed(config_.seed, num_timesteps_));
    previous_obs_ = envs_.observations();
    std::fill(episode_start_.begin(), episode_start_.end(), std::uint8_t{1});
    envs_started_ = true;
  }

  using Context = policy::ContextColumns<S>;
  policy::Inputs<S> actor_inputs(Tape& t, Var obs, const Context& c) {
    return policy::inputs_for<Actor>(t, obs, c, needs_, shapes_);
  }
  policy::Inputs<S> critic_inputs(Tape& t, Var obs, const Context& c, Var action) {
    return policy::inputs_for<Critic>(t, obs, c, needs_, shapes_, action);
  }

  template <class Obs, class Act, class Privileged>
  void predict_impl(const Obs& observation, Act& action, const Privileged& privileged_values) {
    predict_.load(observation, obs_dim_);
    Tape& t = predict_.tape;
    t.clear();
    t.set_grad_enabled(false);
    Context c;
    if (needs_.any()) {
      policy::LiveContext<S>& live = predict_context_;
      if (predict_new_episode_) live.reset(0);
      predict_new_episode_ = false;
      live.observe(0, predict_.observation.col(0));
      if constexpr (policy::reads_privileged<Actor>()) live.set_privileged(0, privileged_values);
      else (void)privileged_values;
      c = Context::of(live.window(), live.previous_action(), live.privileged());
    }
    const Var obs = t.view(predict_.observation.data(), obs_dim_, 1);
    predict_.action = head_.mode(actor_, actor_net_(actor_, actor_inputs(t, obs, c))).value();
    if (needs_.any()) predict_context_.acted(0, predict_.action.col(0).cwiseMax(S(-1)).cwiseMin(S(1)));
    to_env_action_(predict_.action.col(0), action);
  }

  void save_context(StateWords& out) const {
    if (!needs_.any()) return;
    for (auto f : episode_start_) put_word(out, std::int64_t{f});
    live_.save(out);
    replay_context_.save(out);
  }

  // ------------------------------------------------------------------ collecting
  long collect_rollouts(long steps) {
    const Eigen::Index n = config_.n_envs;
    noise::ResampleSchedule schedule(config_.sde_sample_freq);
    if (schedule.start_rollout()) noise::resample(head_, actor_, n, rng_, schedule);
    Tape& t = act_tape_;
    t.set_grad_enabled(false);
    for (long s = 0; s < steps; ++s) {
      if (schedule.before_step()) noise::resample(head_, actor_, n, rng_, schedule);
      Context context;
      if (needs_.any()) {
        for (Eigen::Index i = 0; i < n; ++i) {
          if (episode_start_[static_cast<std::size_t>(i)]) live_.reset(i);
          live_.observe(i, previous_obs_.row(i));
          if constexpr (privileged) live_.set_privileged(i, envs_.privileged().row(i));
        }
        context = Context::of(live_.window(), live_.previous_action(), live_.privileged());
      }
      if (num_timesteps_ < config_.learning_starts) {
        scaled_actions_.resize(act_dim_, n);
        for (Eigen::Index i = 0; i < scaled_actions_.size(); ++i) scaled_actions_(i) = rng_.uniform<S>(S(-1), S(1));
      } else {
        t.clear();
        obs_colmajor_ = previous_obs_.transpose();
        const Var z = actor_net_(actor_, actor_inputs(t, t.view(obs_colmajor_.data(), obs_dim_, n), context));
        scaled_actions_ = head_.explore(actor_, z, rng_).action.value();
        if (!head_.squashed()) scaled_actions_ = scaled_actions_.cwiseMax(S(-1)).cwiseMin(S(1));
      }
      for (Eigen::Index i = 0; i < n; ++i) to_env_action_(scaled_actions_.col(i), env_actions_.row(i));
      envs_.step(env_actions_);
      num_timesteps_ += n * ranks_;
      store_transitions();  // with the previous actions the transitions were acted on
      if (needs_.previous_action)
        for (Eigen::Index i = 0; i < n; ++i) live_.acted(i, scaled_actions_.col(i).cwiseMax(S(-1)).cwiseMin(S(1)));
      previous_obs_ = envs_.observations();
      for (const auto& f : envs_.finished_episodes()) finish_episode(f);
      if (hooks_.on_step) hooks_.on_step(num_timesteps_);
    }
    return steps * n;
  }

  void store_transitions() {
    const auto obs = envs_.observations();
    const auto final_obs = envs_.final_observations();
    const auto rewards = envs_.rewards();
    for (Eigen::Index i = 0; i < config_.n_envs; ++i) {
      const bool done = envs_.done(i);
      const auto next = done ? final_obs.row(i) : obs.row(i);
      const S r = rewards(i);
      if (!std::isfinite(r) || !next.allFinite()) {
        if (config_.on_bad_transition == BadTransition::throw_error) {
          check_finite(Eigen::Matrix<S, 1, 1>::Constant(r), step_label(), "reward");
          check_finite(next, step_label(), "observation");
        }
        ++dropped_;
        if (needs_.any()) {
          replay_context_.dropped(i);
          episode_start_[static_cast<std::size_t>(i)] = done;
        }
        continue;
      }
      const std::size_t slot = buffer_.position();
      buffer_.add(previous_obs_.row(i).transpose(), scaled_actions_.col(i), r, next.transpose(), envs_.terminated()(i));
      if (needs_.any()) {
        auto& start = episode_start_[static_cast<std::size_t>(i)];
        if constexpr (privileged)
          replay_context_.add(slot, i, start != 0, live_, done ? envs_.final_privileged().row(i) : envs_.privileged().row(i), done);
        else
          replay_context_.add(slot, i, start != 0, live_, Eigen::Matrix<S, 0, 1>{}, done);
        start = done;
      }
    }
  }
  std::string step_label() const { return "Sac: environment step " + std::to_string(num_timesteps_); }

  void finish_episode(const FinishedEpisode& f) {
    ++episodes_;
    restart_noise_stream(head_, f.env, rng_);
    const double ret = f.record.episode_return;
    recent_return_.add(ret);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    csv_.row({double(num_timesteps_), double(episodes_), ret, double(f.record.length), last_.critic_loss,
              last_.actor_loss, last_.ent_coef, elapsed > 0 ? double(num_timesteps_) / elapsed : 0.0});
    if (hooks_.on_episode) hooks_.on_episode(f);
  }

  // ------------------------------------------------------------------ the update
  void train(long gradient_steps) {
    for (long g = 0; g < gradient_steps; ++g) {
      Context context, next_context;
      if (needs_.any()) {
        buffer_.sample(config_.batch_size, rng_, batch_, sampled_slots_);
        replay_context_.gather(buffer_, sampled_slots_, context_batch_);
        const auto& cb = context_batch_;
        context = Context::of(cb.history, cb.previous_action, cb.privileged);
        next_context = Context::of(cb.next_history, cb.next_previous_action, cb.next_privileged);
      } else {
        buffer_.sample(config_.batch_size, rng_, batch_);
      }
      const Eigen::Index B = config_.batch_size;
      const S gamma = static_cast<S>(config_.gamma);

      // 1. The policy's action for the batch, reparameterised (kept on the actor tape).
      Tape& ta = actor_tape_;
      ta.clear();
      const Var obs = ta.view(batch_.observations.data(), obs_dim_, B);
      const noise::Sampled<S> pi = head_.rsample(actor_, actor_net_(actor_, actor_inputs(ta, obs, context)), rng_);

      // 2. Entropy coefficient: α = exp(log α), loss −log α · mean(log π + target), before α moves.
      const S alpha = static_cast<S>(ent_coef());
      double ent_loss = 0;
      if (config_.auto_entropy) {
        const double mean_term = static_cast<double>(pi.log_prob.value().mean()) + target_entropy_;
        ent_loss = -static_cast<double>(alpha_.value(0)(0, 0)) * mean_term;
        alpha_.grads()(0) = static_cast<S>(-mean_term);
        if (!comm_) alpha_opt_.step(alpha_);  // distributed: after the sum over the ranks, below
      }

      // 3. Critic targets from the target networks: r + γ (1 − terminated)(min Q' − α log π').
      Tape& tt = target_tape_;
      tt.clear();
      tt.set_grad_enabled(false);
      const Var next_obs = tt.view(batch_.next_observations.data(), obs_dim_, B);
      const noise::Sampled<S> next = head_.rsample(actor_, actor_net_(actor_, actor_inputs(tt, next_obs, next_context)), rng_);
      const policy::Inputs<S> next_in = critic_inputs(tt, next_obs, next_context, next.action);
      const Var next_q = autodiff::minimum(q1_(critic_target_, next_in), q2_(critic_target_, next_in));
      targets_ = batch_.rewards.array() +
                 gamma * (S(1) - batch_.terminated.array()) * (next_q.value().array() - alpha * next.log_prob.value().array());

      // 4. Critic: ½ Σ_i MSE(Q_i(s, a), target).
      Tape& tc = critic_tape_;
      tc.clear();
      const policy::Inputs<S> in = critic_inputs(tc, tc.view(batch_.observations.data(), obs_dim_, B), context,
                                                 tc.view(batch_.actions.data(), act_dim_, B));
      const Var y = tc.view(targets_.data(), 1, B);
      const Var critic_loss = (autodiff::mean(autodiff::square(q1_(critic_, in) - y)) +
                               autodiff::mean(autodiff::square(q2_(critic_, in) - y))) * S(0.5);
      critic_.zero_grad();
      tc.backward(critic_loss);
      if (comm_) {  // the critics' and α's gradients: their means over the ranks
        average_gradients({&critic_, &alpha_});
        if (config_.auto_entropy) alpha_opt_.step(alpha_);
      }
      critic_opt_.step(critic_);

      // 5. Actor: mean(α log π − min Q(s, π(s))) through the updated critics (frozen here).
      Var q_pi;
      {
        const nn::FrozenScope<S> frozen(critic_);
        const policy::Inputs<S> pi_in = critic_inputs(ta, obs, context, pi.action);
        q_pi = autodiff::minimum(q1_(critic_, pi_in), q2_(critic_, pi_in));
      }
      const Var actor_loss = autodiff::mean(pi.log_prob * alpha - q_pi);
      actor_.zero_grad();
      ta.backward(actor_loss);
      if (comm_) average_gradients({&actor_});
      actor_opt_.step(actor_);

      // 6. Target networks.
      ++n_updates_;
      if (n_updates_ % config_.target_update_interval == 0)
        nn::polyak_update(critic_, critic_target_, static_cast<S>(config_.tau));

      last_ = {num_timesteps_, double(critic_loss.value()(0, 0)), double(actor_loss.value()(0, 0)), double(alpha), ent_loss};
      if (hooks_.on_update) hooks_.on_update(last_);
      const long check_every = distribute_options_.check_every < 0 ? 1000 : distribute_options_.check_every;
      if (comm_ && check_every > 0 && n_updates_ % check_every == 0)
        check_identical_state();
    }
  }

  /// Distributed: each buffer's gradients replaced by their mean over the ranks (summed in place).
  void average_gradients(std::initializer_list<nn::Parameters<S>*> parameters) {
    for (auto* p : parameters) {
      comm_->sum(std::span<S>(p->grads().data(), static_cast<std::size_t>(p->grads().size())));
      p->grads() *= S(1) / S(ranks_);
    }
  }

  /// Distributed: throws unless every rank holds the same networks, targets, α and optimizer states.
  void check_identical_state() {
    std::uint64_t h = 0xcbf29ce484222325ull;
    const auto add = [&](const auto& v) {
      h = checksum(std::span<const S>(v.data(), static_cast<std::size_t>(v.size())), h);
    };
    for (const nn::Parameters<S>* p : {&actor_, &critic_, &critic_target_, &alpha_}) add(p->values());
    for (const nn::Adam<S>* o : {&actor_opt_, &critic_opt_, &alpha_opt_}) add(o->first_moment()), add(o->second_moment());
    check_identical(*comm_, h, "networks, α or optimizer states", n_updates_);
  }

  using RowMap = Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

  // ------------------------------------------------------------------ members
  SacConfig config_;
  VectorEnv<Env> envs_;
  Env eval_env_;
  Eigen::Index obs_dim_, act_dim_;
  Rng rng_;
  ReplayBuffer<S> buffer_;
  nn::Parameters<S> actor_, critic_, critic_target_, alpha_;
  Actor actor_net_{};
  Critic q1_{}, q2_{};
  Head head_;
  nn::Adam<S> actor_opt_, critic_opt_, alpha_opt_;
  ActionMap<S> to_env_action_;  // [−1, 1] → the Box
  double target_entropy_ = 0;
  policy::Shapes shapes_{};
  policy::ContextNeeds needs_{};
  policy::LiveContext<S> live_, predict_context_;
  ReplayContext<S> replay_context_;
  typename ReplayContext<S>::Batch context_batch_;
  std::vector<std::size_t> sampled_slots_;
  std::vector<std::uint8_t> episode_start_;  // per environment: its next observation starts an episode
  bool predict_new_episode_ = true;
  Tape act_tape_, actor_tape_, target_tape_, critic_tape_;
  DeterministicAct<S> predict_;
  typename ReplayBuffer<S>::Batch batch_;
  Matrix scaled_actions_, obs_colmajor_, targets_;
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> previous_obs_, env_actions_;
  bool envs_started_ = false;  // the environments have been reset (not saved: a resumed run knows from load())
  long num_timesteps_ = 0, n_updates_ = 0, episodes_ = 0, dropped_ = 0;
  // distributed training (distribute())
  std::shared_ptr<Communicator> comm_;
  DistributeOptions distribute_options_;
  int ranks_ = 1;
  RecentReturn recent_return_;
  SacUpdate last_{};
  Hooks hooks_;
  log::CsvLog csv_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace spindle::algo
