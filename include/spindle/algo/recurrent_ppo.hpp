#pragma once
/// @file
/// Recurrent PPO with sb3-contrib's RecurrentPPO semantics: LSTM policy and critic, hidden
/// states carried across steps and reset at episode starts, minibatches made of whole
/// sequences. One file, top to bottom: configuration, networks, collecting a rollout (with the
/// hidden states of every step), advantages, the sequence minibatches and the masked clipped-
/// surrogate update, evaluation that carries the state, checkpoints.
///
///   spindle::algo::RecurrentPpo<spindle::envs::PendulumNoVel, spindle::noise::Gsde<float>> ppo(
///       {}, {.ppo = {.learning_rate = 1e-3, .n_steps = 1024, ...}, .lstm_hidden_size = 64});
///   ppo.learn(100'000);
///
/// Networks (sb3-contrib's MlpLstmPolicy): observation → LSTM(lstm_hidden_size) (or a GRU) → MLP
/// (ppo.policy_hidden) → the noise head's latent; the critic has its own LSTM
/// (enable_critic_lstm, the default) or reads a linear layer of the observation, then an MLP
/// (ppo.value_hidden) → V. LSTM weights keep PyTorch's initialisation; the MLPs and heads get
/// SB3's orthogonal one when ppo.ortho_init.
///
/// Sequences (sb3-contrib's RecurrentRolloutBuffer): the rollout is read environment by
/// environment, rotated by a random offset each epoch and cut into minibatches of batch_size
/// samples; inside a minibatch a sequence starts at an episode start, at an environment's
/// first step or at the minibatch's start (and after max_sequence_length steps, if set), from
/// the hidden state stored for that step.
/// Sequences are padded to the longest, and the losses average over real samples only.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <bit>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../autodiff.hpp"
#include "../core/environment.hpp"
#include "../core/state_words.hpp"
#include "../core/vector_env.hpp"
#include "../io/checkpoint.hpp"
#include "../log/csv.hpp"
#include "../log/progress.hpp"
#include "../nn/mlp.hpp"
#include "../nn/optim.hpp"
#include "../nn/recurrent.hpp"
#include "../nn/serialize.hpp"
#include "../noise/diag_gaussian.hpp"
#include "../noise/schedule.hpp"
#include "../wrappers/vec_normalize.hpp"
#include "common.hpp"
#include "data_parallel.hpp"
#include "ppo.hpp"
#include "rollout_buffer.hpp"

namespace spindle::algo {

/// The recurrent layer of actor and critic.
enum class RecurrentCell { lstm, gru };

struct RecurrentPpoConfig {
  PpoConfig ppo{};                      // every PPO setting (SB3 names); the hidden sizes are the MLPs after the LSTMs
  Eigen::Index lstm_hidden_size = 256;  // sb3-contrib's default (the GRU's hidden size too)
  bool enable_critic_lstm = true;       // false: the critic reads Linear(observation) instead of a recurrent layer
  bool shared_lstm = false;             // the critic reads the actor's recurrent outputs, detached (sb3-contrib's
                                        // shared_lstm; needs enable_critic_lstm = false)
  RecurrentCell cell = RecurrentCell::lstm;
  /// Truncated backpropagation through time: sequences are also cut after this many steps
  /// (each piece starts from the hidden state stored for its first step). 0: no limit beyond
  /// sb3-contrib's (episode starts, an environment's first step, the minibatch's start).
  Eigen::Index max_sequence_length = 0;
};

/// The actor's recurrent state for predict(): [h; c] for an LSTM, h for a GRU; zero at the start.
template <class S>
struct RecurrentState {
  Eigen::Matrix<S, Eigen::Dynamic, 1> hc;
};

template <Environment Env, noise::NoiseHead Head = noise::DiagGaussian<float>>
class RecurrentPpo {
 public:
  using S = typename Head::scalar;
  using Matrix = autodiff::Matrix<S>;
  using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  using Tape = autodiff::Tape<S>;
  using Var = autodiff::Var<S>;
  using Envs = VecNormalize<VectorEnv<Env>>;
  using Hooks = typename Ppo<Env, Head>::Hooks;

  RecurrentPpo(const Env& prototype, RecurrentPpoConfig config = {}, typename Head::Config head_config = {})
      : config_(validated(config)),
        ppo_(config_.ppo),
        envs_(VectorEnv<Env>(ppo_.n_envs, prototype, {.n_threads = ppo_.n_threads}),
              {.norm_obs = ppo_.normalize_observations, .norm_reward = ppo_.normalize_rewards,
               .clip_obs = ppo_.clip_obs, .clip_reward = ppo_.clip_reward, .gamma = ppo_.gamma}),
        eval_env_(prototype),
        obs_dim_(envs_.observation_size()),
        act_dim_(envs_.action_size()),
        H_(config_.lstm_hidden_size),
        state_rows_(config_.cell == RecurrentCell::lstm ? 2 * config_.lstm_hidden_size : config_.lstm_hidden_size),
        rng_(ppo_.seed, /*stream=*/0x2ECu),
        buffer_(ppo_.n_steps, ppo_.n_envs, obs_dim_, act_dim_),
        head_(build_networks(head_config)),
        optimizer_(policy_, {.lr = ppo_.learning_rate(1.0), .eps = 1e-5, .max_grad_norm = ppo_.max_grad_norm,
                             .on_non_finite = ppo_.on_non_finite_gradient}) {
    static_assert(std::is_same_v<scalar_t<Env>, S>, "RecurrentPpo: the environment's scalar and the noise head's scalar differ");
    const auto box = envs_.action_space();
    to_env_action_ = ActionMap<S>(box.low, box.high);
    if (!ppo_.csv_path.empty())
      csv_ = log::CsvLog(ppo_.csv_path, {"steps", "episode", "episode_return", "episode_length", "policy_loss", "value_loss",
                                         "entropy_loss", "approx_kl", "clip_fraction", "steps_per_second"});
    const Eigen::Index n = ppo_.n_envs;
    env_actions_.resize(n, act_dim_);
    episode_starts_ = Vector::Ones(n);
    bad_observation_.assign(static_cast<std::size_t>(n), 0);
    hc_pi_ = Matrix::Zero(state_rows_, n);
    hc_vf_ = Matrix::Zero(state_rows_, n);
    states_pi_.resize(state_rows_, buffer_.total());
    states_vf_.resize(state_rows_, buffer_.total());
    masks_.resize(1, n);
  }

  // ------------------------------------------------------------------ training
  /// Collects rollouts of n_steps × n_envs and updates after each, until `total_timesteps`
  /// environment steps have been taken (schedules run over this call, as in Ppo).
  void learn(long total_timesteps) {
    if (!started_) start();
    log::Progress progress(total_timesteps);
    while (num_timesteps_ < total_timesteps) {
      collect_rollout();
      train(1.0 - static_cast<double>(num_timesteps_) / static_cast<double>(total_timesteps));
      if (ppo_.progress) progress.update(num_timesteps_, recent_return_.value, hooks_.status ? hooks_.status() : std::string());
    }
    if (ppo_.progress) progress.finish(num_timesteps_, recent_return_.value, hooks_.status ? hooks_.status() : std::string());
  }

  /// Mean undiscounted return of `episodes` deterministic episodes on a separate environment
  /// (reset as Ppo::evaluate does); the recurrent state starts at zero in each episode.
  double evaluate(int episodes, std::uint64_t seed = 12345) {
    if (episodes <= 0) throw std::invalid_argument("evaluate: the number of episodes must be positive");
    Rng rng(seed, /*stream=*/0xE7A1);
    RecurrentState<S> state;
    observation_t<Env> obs;
    action_t<Env> action;
    if constexpr (Env::act_dim == spindle::dynamic) action.resize(spindle::action_size(eval_env_));
    double total = 0;
    for (int e = 0; e < episodes; ++e) {
      obs = eval_env_.reset(rng);
      bool first = true;
      for (bool done = false; !done; first = false) {
        predict(obs, action, state, first);
        const auto step = eval_env_.step(action);
        total += static_cast<double>(step.reward);
        obs = step.observation;
        done = step.terminated || step.truncated;
      }
    }
    return total / episodes;
  }

  /// The deterministic action for one raw observation, carrying `state` (reset it with
  /// episode_start = true at the first step of an episode), as sb3-contrib's predict.
  template <class Obs, class Act>
  void predict(const Obs& observation, Act& action, RecurrentState<S>& state, bool episode_start) {
    predict_.load(observation, obs_dim_);
    Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>> row(predict_.observation.data(), 1, obs_dim_);
    envs_.normalize_observations(row, row);
    if (state.hc.size() != state_rows_) state.hc = Vector::Zero(state_rows_);
    predict_mask_.setConstant(1, 1, episode_start ? S(0) : S(1));  // tape views need aligned memory
    Tape& t = predict_.tape;
    t.clear();
    t.set_grad_enabled(false);
    const Var h = recurrent_steps(true, t.view(predict_.observation.data(), obs_dim_, 1), state.hc.data(), predict_mask_.data(), 1, 1);
    carry(h, Eigen::Map<Matrix>(state.hc.data(), state_rows_, 1));
    predict_.action = head_.mode(policy_, mlp_pi_latent(h)).value();
    to_env_action_(predict_.action.col(0), action);
  }

  // ------------------------------------------------------------------ data-parallel training
  /// Trains as one of the ranks of `comm`, as Ppo::distribute does (rank-seeded environments,
  /// rank 0's parameters, the gradient of the mean loss over every rank's valid samples in one
  /// sum per step, advantage moments and normalisation statistics merged over the ranks, one
  /// checkpoint file with every rank's run state). Call it before learn() and load().
  void distribute(std::shared_ptr<Communicator> comm, DistributeOptions options = {}) {
    if (started_ || num_timesteps_ != 0) throw std::logic_error("RecurrentPpo::distribute: call it before learn() and load()");
    const std::uint64_t shape[] = {std::uint64_t(policy_.values().size()), std::uint64_t(ppo_.n_envs),
                                   std::uint64_t(ppo_.n_steps), std::uint64_t(ppo_.batch_size),
                                   std::uint64_t(ppo_.n_epochs), std::uint64_t(obs_dim_), std::uint64_t(act_dim_)};
    ppo_.seed = parallel_.attach(std::move(comm), options, shape,
                                 "configurations (parameter count, n_envs, n_steps, batch_size, n_epochs, observation or "
                                 "action size)",
                                 ppo_.seed);
    rng_ = Rng(ppo_.seed, /*stream=*/0x2ECu);
    broadcast_values(parallel_.comm(), std::span<S>(policy_.values().data(), static_cast<std::size_t>(policy_.values().size())));
    parallel_.start_statistics(envs_, envs_.obs_rms(), envs_.ret_rms());
    parallel_.check(policy_, optimizer_, envs_, 0);
  }
  /// The communicator of a distributed run (null otherwise).
  const std::shared_ptr<Communicator>& communicator() const noexcept { return parallel_.communicator(); }

  // ------------------------------------------------------------------ checkpoints
  /// Everything a continuation needs (networks, optimizer, normalisation, generators, counters,
  /// the recurrent states, and the environments mid-episode when they can save it), atomically.
  /// `extra` may add arrays of its own (a curriculum's state: curriculum::save).
  void save(const std::filesystem::path& path, const std::function<void(io::Checkpoint&)>& extra = {}) const {
    io::Checkpoint c;
    c.put_scalar("recurrent_ppo.format", std::int64_t{1});
    c.put_scalar("recurrent_ppo.environments_saved", std::int64_t{SavableEnvironment<Env>});
    nn::save(c, "policy", policy_);
    nn::save(c, "optimizer", optimizer_);
    c.put("recurrent_ppo.hc_pi", hc_pi_);
    c.put("recurrent_ppo.hc_vf", hc_vf_);
    if (!parallel_.active()) {
      put_state(c, "run_state", run_state());
      if (extra) extra(c);
      return c.save(path);
    }
    // every rank's run state into rank 0's file; the other ranks' recurrent states follow theirs
    // (rank 0's are the arrays above, so that one process can load the file)
    StateWords mine = run_state();
    if (parallel_.rank() != 0) {
      const Matrix hc = (Matrix(2 * state_rows_, ppo_.n_envs) << hc_pi_, hc_vf_).finished();
      for (Eigen::Index k = 0; k < hc.size(); ++k) put_word(mine, static_cast<double>(hc.data()[k]));
    }
    if (!parallel_.put_run_states(c, mine)) return parallel_.write_on_root(path, [] {}, "RecurrentPpo::save");
    if (extra) extra(c);
    parallel_.write_on_root(path, [&] { c.save(path); }, "RecurrentPpo::save");
  }

  /// Restores a save() of a RecurrentPpo built with the same configuration, all or nothing.
  /// `extra` reads what save's extra added; it runs after every check and before anything of
  /// this run changes (a throw there leaves the run as it was).
  Resume load(const std::filesystem::path& path, const std::function<void(const io::Checkpoint&)>& extra = {}) {
    const io::Checkpoint c = io::Checkpoint::load(path);
    if (c.get_scalar<std::int64_t>("recurrent_ppo.format") != 1)
      throw std::runtime_error("RecurrentPpo::load: '" + path.string() + "': unknown checkpoint format version");
    const bool saved_envs = c.get_scalar<std::int64_t>("recurrent_ppo.environments_saved") != 0;
    const bool exact = saved_envs && SavableEnvironment<Env>;
    nn::Parameters<S> policy = policy_;
    nn::load(c, "policy", policy);
    nn::Adam<S> optimizer = optimizer_;
    nn::load(c, "optimizer", optimizer);
    Matrix hc_pi = c.get<S>("recurrent_ppo.hc_pi", state_rows_, ppo_.n_envs);
    Matrix hc_vf = c.get<S>("recurrent_ppo.hc_vf", state_rows_, ppo_.n_envs);
    parallel_.check_ranks(c, path, "RecurrentPpo::load");
    const std::size_t hc_words = parallel_.rank() != 0 ? static_cast<std::size_t>(2 * state_rows_ * ppo_.n_envs) : 0;
    StateWords run = get_state(c, DataParallel<S>::run_state_key(parallel_.rank()), run_state_size(saved_envs) + hc_words,
                               path, "RecurrentPpo::load");
    if (hc_words > 0) {  // this rank's recurrent states follow its run state
      Matrix hc(2 * state_rows_, ppo_.n_envs);
      for (Eigen::Index k = 0; k < hc.size(); ++k)
        hc.data()[k] = static_cast<S>(std::bit_cast<double>(run[run.size() - hc_words + static_cast<std::size_t>(k)]));
      hc_pi = hc.topRows(state_rows_);
      hc_vf = hc.bottomRows(state_rows_);
      run.resize(run.size() - hc_words);
    }
    if (extra) extra(c);
    policy_ = std::move(policy);
    optimizer_ = std::move(optimizer);
    StateReader in(run);
    load_rng(in, rng_);
    for (long* v : {&num_timesteps_, &n_updates_, &episodes_, &dropped_}) *v = static_cast<long>(in.integer());
    started_ = in.integer() != 0;
    recent_return_.load(in);
    for (Eigen::Index i = 0; i < episode_starts_.size(); ++i) episode_starts_(i) = static_cast<S>(in.real());
    for (auto& b : bad_observation_) b = static_cast<std::uint8_t>(in.integer());
    Resume resumed = Resume::environments_restarted;
    if constexpr (SavableEnvironment<Env>)
      if (exact) {
        envs_.load_state(in);
        hc_pi_ = hc_pi;
        hc_vf_ = hc_vf;
        resumed = Resume::exact;
      }
    if (resumed != Resume::exact) {
      envs_.load_statistics(in);
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
  long num_updates() const noexcept { return n_updates_; }
  long dropped_transitions() const noexcept { return dropped_; }
  const RecurrentPpoConfig& config() const noexcept { return config_; }
  /// Changes a PPO hyperparameter between updates (algo::set_hyperparameter names).
  void set_hyperparameter(std::string_view name, double value) {
    algo::set_hyperparameter(ppo_, name, value);
    config_.ppo = ppo_;
  }
  const PpoUpdate& last_update() const noexcept { return last_; }
  Hooks& hooks() noexcept { return hooks_; }
  nn::Parameters<S>& policy() noexcept { return policy_; }
  Head& head() noexcept { return head_; }
  Envs& envs() noexcept { return envs_; }
  const nn::Lstm& actor_lstm() const noexcept { return lstm_pi_; }
  /// The actor's and the critic's current states per environment ([h; c] or h × n_envs).
  const Matrix& actor_states() const noexcept { return hc_pi_; }
  const Matrix& critic_states() const noexcept { return hc_vf_; }
  RolloutBuffer<S>& rollout_buffer() noexcept { return buffer_; }

 private:
  // ------------------------------------------------------------------ construction
  static RecurrentPpoConfig validated(RecurrentPpoConfig c) {
    auto fail = [](const std::string& what) { throw std::invalid_argument("RecurrentPpo: " + what); };
    if (c.lstm_hidden_size <= 0) fail("lstm_hidden_size must be positive");
    if (c.ppo.n_steps <= 0 || c.ppo.n_envs <= 0) fail("n_steps and n_envs must be positive");
    if (c.ppo.batch_size <= 0) fail("batch_size must be positive");
    if (c.ppo.n_epochs <= 0) fail("n_epochs must be positive");
    if (c.ppo.share_network) fail("share_network is not supported: for one recurrent layer use shared_lstm");
    if (c.shared_lstm && c.enable_critic_lstm)
      fail("shared_lstm needs enable_critic_lstm = false (a shared, a separate or no recurrent layer for the critic)");
    if (c.ppo.normalize_advantage && c.ppo.n_steps * c.ppo.n_envs < 2) fail("normalize_advantage needs n_steps · n_envs > 1");
    if (c.max_sequence_length < 0)
      fail("max_sequence_length must be 0 (no limit) or positive, got " + std::to_string(c.max_sequence_length));
    if (c.max_sequence_length > c.ppo.n_steps)
      fail("max_sequence_length " + std::to_string(c.max_sequence_length) + " is larger than n_steps " +
           std::to_string(c.ppo.n_steps) + ": a sequence never spans two rollouts");
    return c;
  }

  Head build_networks(typename Head::Config head_config) {
    Rng init(ppo_.seed, /*stream=*/0x2EC1);
    const nn::Init kind = ppo_.ortho_init ? nn::Init::orthogonal : nn::Init::pytorch_default;
    const bool lstm = config_.cell == RecurrentCell::lstm;
    if (lstm) lstm_pi_ = nn::Lstm::create(policy_, "lstm_actor.", obs_dim_, H_, init);
    else gru_pi_ = nn::Gru::create(policy_, "gru_actor.", obs_dim_, H_, init);
    std::vector<Eigen::Index> pi{H_};
    pi.insert(pi.end(), ppo_.policy_hidden.begin(), ppo_.policy_hidden.end());
    if (pi.size() > 1)
      mlp_pi_ = nn::MlpStack::create(policy_, "pi.", {.sizes = pi, .hidden = ppo_.activation, .output = ppo_.activation,
                                                       .init = kind, .output_gain = std::sqrt(2.0)},
                                     init);
    if (config_.shared_lstm) {
      // the value MLP reads the actor's recurrent outputs
    } else if (config_.enable_critic_lstm) {
      if (lstm) lstm_vf_ = nn::Lstm::create(policy_, "lstm_critic.", obs_dim_, H_, init);
      else gru_vf_ = nn::Gru::create(policy_, "gru_critic.", obs_dim_, H_, init);
    } else {
      critic_in_ = nn::Dense::create(policy_, "critic", obs_dim_, H_, nn::Activation::identity);
      nn::init_pytorch_default(policy_.value(critic_in_.weight), policy_.value(critic_in_.bias), init);
    }
    std::vector<Eigen::Index> vf{H_};
    vf.insert(vf.end(), ppo_.value_hidden.begin(), ppo_.value_hidden.end());
    vf.push_back(1);
    mlp_vf_ = nn::MlpStack::create(policy_, "vf.", {.sizes = vf, .hidden = ppo_.activation, .init = kind}, init);
    if constexpr (requires { head_config.head; })
      if (ppo_.ortho_init) {
        head_config.head.init = nn::Init::orthogonal;
        head_config.head.gain = 0.01;
      }
    return Head(pi.back(), act_dim_, policy_, init, head_config);
  }

  // ------------------------------------------------------------------ the networks
  /// T steps of the actor's (or critic's) recurrent layer over x (obs × T·B, time-major) from
  /// the states at `state0` (state_rows × B, caller memory), masks (T·B: 0 where an episode
  /// starts) → hidden states H × T·B.
  Var recurrent_steps(bool actor, Var x, const S* state0, const S* masks, Eigen::Index B, Eigen::Index T) {
    Tape& t = *x.tape;
    if (config_.cell == RecurrentCell::gru) {
      const nn::Gru& gru = actor ? gru_pi_ : gru_vf_;
      return autodiff::gru_sequence(gru.input_projection(policy_, x), policy_.on(t, gru.weight_hh), policy_.on(t, gru.bias_hh),
                                    t.view(state0, H_, B), t.view(masks, 1, T * B));
    }
    const nn::Lstm& lstm = actor ? lstm_pi_ : lstm_vf_;
    const Var xproj = lstm.input_projection(policy_, x) + policy_.on(t, lstm.bias_hh);
    return autodiff::lstm_sequence(xproj, policy_.on(t, lstm.weight_hh), t.view(state0, 2 * H_, B), t.view(masks, 1, T * B));
  }
  /// The state that carries on after a one-step pass: [h; c] (LSTM) or h (GRU).
  template <class Out>
  void carry(Var h, Out&& state) const {
    state.topRows(H_) = h.value();
    if (config_.cell == RecurrentCell::lstm) state.bottomRows(H_) = autodiff::lstm_final_cell(h);
  }
  /// The actor's latent from LSTM outputs.
  Var mlp_pi_latent(Var h) { return mlp_pi_.layers.empty() ? h : mlp_pi_(policy_, h); }
  /// V (1 × columns) from the critic's features: its LSTM's outputs, a linear layer of the
  /// observation without the critic LSTM, or with shared_lstm the actor's outputs `actor_h`
  /// (recomputed from the states at hc0 when not given), detached as in sb3-contrib.
  Var critic(Var x, const S* hc0, const S* masks, Eigen::Index B, Eigen::Index T, Var* sequence = nullptr,
             Var actor_h = {}) {
    Var features;
    if (config_.shared_lstm) {
      features = autodiff::stop_gradient(actor_h.tape ? actor_h : recurrent_steps(true, x, hc0, masks, B, T));
    } else if (config_.enable_critic_lstm) {
      features = recurrent_steps(false, x, hc0, masks, B, T);
      if (sequence) *sequence = features;
    } else {
      features = critic_in_(policy_, x);
    }
    return mlp_vf_(policy_, features);
  }

  void start() {
    envs_.reset(num_timesteps_ == 0 ? ppo_.seed : restart_seed(ppo_.seed, num_timesteps_));
    episode_starts_.setOnes();
    std::fill(bad_observation_.begin(), bad_observation_.end(), std::uint8_t{0});
    hc_pi_.setZero();
    hc_vf_.setZero();
    started_ = true;
    const auto obs = envs_.observations();
    for (Eigen::Index i = 0; i < ppo_.n_envs; ++i)
      if (!obs.row(i).allFinite()) {
        if (ppo_.on_bad_transition == BadTransition::throw_error)
          check_finite(obs.row(i), "RecurrentPpo: reset (environment " + std::to_string(i) + ")", "observation");
        bad_observation_[static_cast<std::size_t>(i)] = 1;
      }
  }

  // ------------------------------------------------------------------ collecting a rollout
  void collect_rollout() {
    const Eigen::Index n = ppo_.n_envs;
    buffer_.reset();
    noise::ResampleSchedule schedule(ppo_.sde_sample_freq);
    if (schedule.start_rollout()) noise::resample(head_, policy_, n, rng_, schedule);
    Tape& t = act_tape_;
    t.set_grad_enabled(false);
    for (Eigen::Index s = 0; s < ppo_.n_steps; ++s) {
      if (schedule.before_step()) noise::resample(head_, policy_, n, rng_, schedule);
      act_obs_ = envs_.observations().transpose();
      for (Eigen::Index i = 0; i < n; ++i)
        if (bad_observation_[static_cast<std::size_t>(i)]) {
          zero_non_finite(act_obs_.col(i));
          buffer_.valid()(static_cast<std::size_t>(s), static_cast<std::size_t>(i)) = 0;
          bad_observation_[static_cast<std::size_t>(i)] = 0;
        }
      buffer_.observations_at(s) = act_obs_;
      // The states this step starts from (before the episode-start mask), as sb3-contrib stores them.
      states_pi_.middleCols(s * n, n) = hc_pi_;
      states_vf_.middleCols(s * n, n) = hc_vf_;
      masks_ = (S(1) - episode_starts_.array()).matrix().transpose();

      t.clear();
      const Var obs = t.view(act_obs_.data(), obs_dim_, n);
      const Var h = recurrent_steps(true, obs, hc_pi_.data(), masks_.data(), n, 1);
      const noise::Sampled<S> pi = head_.explore(policy_, mlp_pi_latent(h), rng_);
      Var h_vf;
      const Var v = critic(obs, hc_vf_.data(), masks_.data(), n, 1, &h_vf, h);
      carry(h, hc_pi_);
      if (config_.enable_critic_lstm) carry(h_vf, hc_vf_);

      buffer_.actions_at(s) = pi.action.value();
      for (Eigen::Index i = 0; i < n; ++i) {
        const auto ts = static_cast<std::size_t>(s), is = static_cast<std::size_t>(i);
        buffer_.log_probs()(ts, is) = pi.log_prob.value()(0, i);
        buffer_.values()(ts, is) = v.value()(0, i);
        buffer_.episode_starts()(ts, is) = episode_starts_(i);
        to_env_action_(pi.action.value().col(i), env_actions_.row(i));
      }
      envs_.step(env_actions_);
      num_timesteps_ += n * parallel_.ranks();
      record_step(s);
      for (const auto& f : envs_.finished_episodes()) finish_episode(f);
      if (hooks_.on_step) hooks_.on_step(num_timesteps_);
    }
    if (parallel_.active()) parallel_.merge_statistics(envs_);
    compute_advantages();
  }

  /// Rewards, truncation bootstraps (V of the final observation from the critic's state after
  /// this step, as sb3-contrib) and NaN/Inf checks of the step just taken.
  void record_step(Eigen::Index s) {
    const auto rewards = envs_.rewards();
    const auto obs = envs_.observations();
    const auto final_obs = envs_.final_observations();
    const auto truncated = envs_.truncated();
    for (Eigen::Index i = 0; i < ppo_.n_envs; ++i) {
      const auto ts = static_cast<std::size_t>(s), is = static_cast<std::size_t>(i);
      const bool done = envs_.done(i);
      const bool good_reward = std::isfinite(rewards(i));
      const bool good_next = done ? final_obs.row(i).allFinite() : obs.row(i).allFinite();
      buffer_.rewards()(ts, is) = good_reward ? rewards(i) : S(0);
      episode_starts_(i) = done ? S(1) : S(0);
      if (!good_reward || !good_next) {
        if (ppo_.on_bad_transition == BadTransition::throw_error) {
          check_finite(Eigen::Matrix<S, 1, 1>::Constant(rewards(i)), step_label(i), "reward");
          check_finite(done ? final_obs.row(i) : obs.row(i), step_label(i), "observation");
        }
        ++dropped_;
        buffer_.valid()(ts, is) = 0;
      } else if (done && truncated(i) && !envs_.terminated()(i)) {
        bootstrap_obs_ = final_obs.row(i).transpose();
        Tape& t = value_tape_;
        t.clear();
        t.set_grad_enabled(false);
        bootstrap_state_ = config_.shared_lstm ? hc_pi_.col(i) : hc_vf_.col(i);  // copies: tape views need aligned memory
        predict_mask_.setConstant(1, 1, S(1));
        const Var v = critic(t.view(bootstrap_obs_.data(), obs_dim_, 1), bootstrap_state_.data(), predict_mask_.data(), 1, 1);
        buffer_.rewards()(ts, is) += static_cast<S>(ppo_.gamma) * v.value()(0, 0);
      }
      if (!obs.row(i).allFinite()) {
        if (ppo_.on_bad_transition == BadTransition::throw_error) check_finite(obs.row(i), step_label(i), "observation");
        if (done) ++dropped_;
        bad_observation_[is] = 1;
      }
    }
  }
  std::string step_label(Eigen::Index env) const {
    return "RecurrentPpo: environment step " + std::to_string(num_timesteps_) + " (environment " + std::to_string(env) + ")";
  }

  /// V(next observation) with the critic's current state, then GAE.
  void compute_advantages() {
    Tape& t = value_tape_;
    t.clear();
    t.set_grad_enabled(false);
    next_obs_ = envs_.observations().transpose();
    for (Eigen::Index i = 0; i < ppo_.n_envs; ++i)
      if (bad_observation_[static_cast<std::size_t>(i)]) zero_non_finite(next_obs_.col(i));
    masks_ = (S(1) - episode_starts_.array()).matrix().transpose();
    const S* critic_state = config_.shared_lstm ? hc_pi_.data() : hc_vf_.data();
    last_values_ = critic(t.view(next_obs_.data(), obs_dim_, ppo_.n_envs), critic_state, masks_.data(), ppo_.n_envs, 1)
                       .value()
                       .row(0)
                       .transpose();
    compute_gae(buffer_.rewards(), buffer_.values(), buffer_.episode_starts(), buffer_.valid(), last_values_,
                episode_starts_, ppo_.gamma, ppo_.gae_lambda, buffer_.advantages(), buffer_.returns());
  }

  void finish_episode(const FinishedEpisode& f) {
    ++episodes_;
    restart_noise_stream(head_, f.env, rng_);
    const double ret = f.record.episode_return;
    recent_return_.add(ret);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
    csv_.row({double(num_timesteps_), double(episodes_), ret, double(f.record.length), last_.policy_loss, last_.value_loss,
              last_.entropy_loss, last_.approx_kl, last_.clip_fraction, elapsed > 0 ? double(num_timesteps_) / elapsed : 0.0});
    if (hooks_.on_episode) hooks_.on_episode(f);
  }

  // ------------------------------------------------------------------ sequence minibatches
  /// Pads the samples at flat positions [begin, end) of the rotated, environment-major order
  /// into sequences (time-major columns: position q of sequence j at q·n_seq + j).
  void build_sequences(Eigen::Index begin, Eigen::Index end, Eigen::Index offset) {
    const Eigen::Index n = ppo_.n_envs, steps = ppo_.n_steps, N = n * steps;
    auto sample = [&](Eigen::Index pos) {  // buffer index k = step·n + env of a rotated flat position
      const Eigen::Index f = (pos + offset) % N;
      return std::pair{(f % steps) * n + f / steps, f % steps};
    };
    seq_start_.clear();
    seq_length_.clear();
    for (Eigen::Index pos = begin; pos < end; ++pos) {
      const auto [k, step] = sample(pos);
      if (pos == begin || step == 0 || buffer_.episode_starts().data()[k] != S(0) ||
          seq_length_.back() == config_.max_sequence_length) {
        seq_start_.push_back(pos);
        seq_length_.push_back(0);
      }
      ++seq_length_.back();
    }
    const auto n_seq = static_cast<Eigen::Index>(seq_start_.size());
    const Eigen::Index L = *std::max_element(seq_length_.begin(), seq_length_.end()), C = L * n_seq;
    auto fit = [&](Matrix& m, Eigen::Index rows) {
      if (m.rows() != rows || m.cols() < C) m.resize(rows, std::max<Eigen::Index>(C, m.cols()));
    };
    for (Matrix* m : {&mb_obs_}) fit(*m, obs_dim_);
    fit(mb_act_, act_dim_);
    for (Matrix* m : {&mb_logp_, &mb_adv_, &mb_ret_, &mb_val_, &mb_mask_, &mb_reset_}) fit(*m, 1);
    fit(mb_hc_pi_, state_rows_);
    fit(mb_hc_vf_, state_rows_);
    mb_obs_.leftCols(C).setZero();
    mb_act_.leftCols(C).setZero();
    for (Matrix* m : {&mb_logp_, &mb_adv_, &mb_ret_, &mb_val_, &mb_mask_}) m->leftCols(C).setZero();
    mb_reset_.leftCols(C).setOnes();
    const Eigen::Map<const Matrix> obs(buffer_.all_observations().data(), obs_dim_, buffer_.total());
    const Eigen::Map<const Matrix> act(buffer_.actions_at(0).data(), act_dim_, buffer_.total());
    for (Eigen::Index j = 0; j < n_seq; ++j) {
      const auto js = static_cast<std::size_t>(j);
      for (Eigen::Index q = 0; q < seq_length_[js]; ++q) {
        const auto [k, step] = sample(seq_start_[js] + q);
        const Eigen::Index c = q * n_seq + j;
        mb_obs_.col(c) = obs.col(k);
        mb_act_.col(c) = act.col(k);
        mb_logp_(0, c) = buffer_.log_probs().data()[k];
        mb_adv_(0, c) = buffer_.advantages().data()[k];
        mb_ret_(0, c) = buffer_.returns().data()[k];
        mb_val_(0, c) = buffer_.values().data()[k];
        mb_mask_(0, c) = buffer_.valid().data()[k] ? S(1) : S(0);
        mb_reset_(0, c) = S(1) - buffer_.episode_starts().data()[k];
        if (q == 0) {
          mb_hc_pi_.col(j) = states_pi_.col(k);
          mb_hc_vf_.col(j) = states_vf_.col(k);
        }
      }
    }
    n_seq_ = n_seq;
    max_len_ = L;
  }

  // ------------------------------------------------------------------ the update
  void train(double progress_remaining) {
    const double lr = ppo_.learning_rate(progress_remaining);
    const S clip = static_cast<S>(ppo_.clip_range(progress_remaining));
    optimizer_.set_learning_rate(lr);
    const Eigen::Index N = buffer_.total();
    double sum_pg = 0, sum_v = 0, sum_ent = 0, sum_kl = 0, sum_clip = 0;
    long batches = 0;
    bool stopped = false;
    for (int epoch = 0; epoch < ppo_.n_epochs && !stopped; ++epoch) {
      const auto offset = static_cast<Eigen::Index>(rng_.below(static_cast<std::uint64_t>(N)));
      for (Eigen::Index begin = 0; begin < N; begin += ppo_.batch_size) {
        build_sequences(begin, std::min(N, begin + ppo_.batch_size), offset);
        const Eigen::Index n_seq = n_seq_, C = max_len_ * n_seq;
        const auto mask = mb_mask_.leftCols(C).array();
        const S n_valid = mask.sum();
        if (parallel_.active()) {  // every rank takes part in every step, with or without samples
          if (ppo_.normalize_advantage) {
            auto a = mb_adv_.leftCols(C).array();
            const double mean = n_valid > S(0) ? double((a * mask).sum() / n_valid) : 0.0;
            const auto m = parallel_.merged_moments(double(n_valid), mean, double(((a - S(mean)).square() * mask).sum()));
            if (m.count > 1) a = (a - S(m.mean)) / (S(m.std) + S(1e-8)) * mask;
          }
          if (n_valid < S(1)) {
            policy_.zero_grad();
            if (!average_gradients(S(0), 0.0)) {
              stopped = true;
              break;
            }
            optimizer_.step(policy_);
            ++n_updates_;
            continue;
          }
        }
        if (n_valid < S(1)) continue;
        if (!parallel_.active() && ppo_.normalize_advantage && n_valid > S(1)) {  // over the real samples (torch.std: unbiased)
          auto a = mb_adv_.leftCols(C).array();
          const S mean = (a * mask).sum() / n_valid;
          const S std = std::sqrt(((a - mean).square() * mask).sum() / (n_valid - S(1)));
          a = (a - mean) / (std + S(1e-8)) * mask;
        }

        Tape& t = train_tape_;
        t.clear();
        const Var obs = t.view(mb_obs_.data(), obs_dim_, C);
        const Var weights = t.view(mb_mask_.data(), 1, C) * (S(1) / n_valid);  // masked means
        const Var h = recurrent_steps(true, obs, mb_hc_pi_.data(), mb_reset_.data(), n_seq, max_len_);
        const Var z = mlp_pi_latent(h);
        const Var log_prob = head_.log_prob(policy_, z, t.view(mb_act_.data(), act_dim_, C));

        const Var ratio = autodiff::exp(log_prob - t.view(mb_logp_.data(), 1, C));
        const Var advantages = t.view(mb_adv_.data(), 1, C);
        const Var policy_loss = -autodiff::sum(
            autodiff::minimum(advantages * ratio, advantages * autodiff::clamp(ratio, S(1) - clip, S(1) + clip)) * weights);

        Var v = critic(obs, mb_hc_vf_.data(), mb_reset_.data(), n_seq, max_len_, nullptr, h);
        if (ppo_.clip_range_vf) {
          const S c = static_cast<S>((*ppo_.clip_range_vf)(progress_remaining));
          const Var old = t.view(mb_val_.data(), 1, C);
          v = old + autodiff::clamp(v - old, -c, c);
        }
        const Var value_loss = autodiff::sum(autodiff::square(t.view(mb_ret_.data(), 1, C) - v) * weights);
        const std::optional<Var> entropy = head_.entropy(policy_, z);
        const Var entropy_loss = entropy ? -autodiff::sum(*entropy * weights) : autodiff::sum(log_prob * weights);
        // With ent_coef 0 the entropy is only logged: left out of the loss, backward never visits it
        // (for Lattice that is a second covariance per sample and its gradient, for nothing).
        const Var weighted_value_loss = value_loss * S(ppo_.vf_coef);
        const Var loss = ppo_.ent_coef != 0 ? policy_loss + entropy_loss * S(ppo_.ent_coef) + weighted_value_loss
                                                 : policy_loss + weighted_value_loss;

        const auto r = ratio.value().array();
        const double approx_kl = static_cast<double>((((r - S(1)) - r.log()) * mask).sum() / n_valid);
        sum_kl += approx_kl;
        sum_clip += static_cast<double>((((r - S(1)).abs() > clip).template cast<S>() * mask).sum() / n_valid);
        sum_pg += static_cast<double>(policy_loss.value()(0, 0));
        sum_v += static_cast<double>(value_loss.value()(0, 0));
        sum_ent += static_cast<double>(entropy_loss.value()(0, 0));
        ++batches;
        if (parallel_.active()) {  // the whole minibatch's KL decides, after the sum over the ranks
          policy_.zero_grad();
          t.backward(loss);
          if (!average_gradients(n_valid, approx_kl)) {
            stopped = true;
            break;
          }
          optimizer_.step(policy_);
          ++n_updates_;
          continue;
        }
        if (ppo_.target_kl && approx_kl > 1.5 * *ppo_.target_kl) {
          stopped = true;
          break;
        }
        policy_.zero_grad();
        t.backward(loss);
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

  /// Distributed: the gradient of the mean loss over every rank's valid samples (this rank's
  /// weighted by its n_valid); false when target_kl stops the epochs.
  bool average_gradients(S n_valid, double approx_kl) {
    const double kl = parallel_.average(policy_, n_valid / S(ppo_.batch_size), approx_kl);
    return !(ppo_.target_kl && kl > 1.5 * *ppo_.target_kl);
  }

  // ------------------------------------------------------------------ run state
  StateWords own_state() const {
    StateWords run;
    save_rng(run, rng_);
    for (long v : {num_timesteps_, n_updates_, episodes_, dropped_}) put_word(run, std::int64_t{v});
    put_word(run, std::int64_t{started_});
    recent_return_.save(run);
    for (Eigen::Index i = 0; i < episode_starts_.size(); ++i) put_word(run, static_cast<double>(episode_starts_(i)));
    for (auto b : bad_observation_) put_word(run, std::int64_t{b});
    return run;
  }
  StateWords run_state() const {
    StateWords run = own_state();
    if constexpr (SavableEnvironment<Env>) envs_.save_state(run);
    else envs_.save_statistics(run);
    return run;
  }
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
  RecurrentPpoConfig config_;
  PpoConfig ppo_;
  Envs envs_;
  Env eval_env_;
  Eigen::Index obs_dim_, act_dim_, H_, state_rows_;
  Rng rng_;
  RolloutBuffer<S> buffer_;
  nn::Parameters<S> policy_;
  nn::Lstm lstm_pi_, lstm_vf_;
  nn::Gru gru_pi_, gru_vf_;
  nn::Dense critic_in_;
  nn::MlpStack mlp_pi_, mlp_vf_;
  Head head_;
  nn::Adam<S> optimizer_;
  ActionMap<S> to_env_action_;
  Tape act_tape_, value_tape_, train_tape_;
  DeterministicAct<S> predict_;
  Matrix hc_pi_, hc_vf_, states_pi_, states_vf_, masks_;
  Matrix act_obs_, next_obs_, bootstrap_obs_, bootstrap_state_, predict_mask_;
  Matrix mb_obs_, mb_act_, mb_logp_, mb_adv_, mb_ret_, mb_val_, mb_mask_, mb_reset_, mb_hc_pi_, mb_hc_vf_;
  std::vector<Eigen::Index> seq_start_, seq_length_;
  Eigen::Index n_seq_ = 0, max_len_ = 0;
  Vector last_values_, episode_starts_;
  Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> env_actions_;
  std::vector<std::uint8_t> bad_observation_;
  long num_timesteps_ = 0, n_updates_ = 0, episodes_ = 0, dropped_ = 0;
  bool started_ = false;
  DataParallel<S> parallel_;
  RecentReturn recent_return_;
  PpoUpdate last_{};
  Hooks hooks_;
  log::CsvLog csv_;
  std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
};

}  // namespace spindle::algo
