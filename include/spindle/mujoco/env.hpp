#pragma once
/// @file
/// Any MJCF as a spindle Environment.
//
//   using namespace spindle::mujoco;
//   Env env(Model::from_file("arm.xml"),
//           {.frame_skip = 5, .observation = {obs::qpos(), obs::qvel()}},
//           {.reward = [](const StepView& s) { return -s.data.qvel[0] * s.data.qvel[0]; }});
//
// Actions live in [−1, 1] per actuator and map linearly onto each actuator's ctrlrange
// (actuators without ctrllimited get the action unchanged), or through MyoSuite's muscle
// sigmoid (EnvConfig::action_map). One step runs frame_skip mj_steps. With an observed copy
// (EnvConfig::observe, as MyoSuite does) observations, rewards and views read a second mjData
// that gets time, qpos, qvel and act after the substeps and is forwarded (or only its
// kinematics computed); the physics data is never forwarded between steps (in MuJoCo 2.2.2 a
// forward moves the solver's warm start and changes the trajectory). Reset: mj_resetData (or a keyframe), then qpos += U(±reset_noise_qpos),
// qvel += U(±reset_noise_qvel), then the task's reset hook, then mj_forward.
//
// MuJoCo's warnings (NaN/Inf in qpos, qvel, qacc or ctrl — MuJoCo then resets the data —
// and full contact or constraint buffers) are checked after every step: the episode ends
// (truncated, with `unstable()` set) and `instability_count()` counts it; it never
// silently continues. A NaN/Inf action throws before anything is stepped. MuJoCo's warning
// and error callbacks are routed into spindle (no MUJOCO_LOG.TXT is written): warnings are
// kept in last_warning(), errors throw simulation_error.
//
// Scalars: observations and actions are float (Env::Observation, Env::Action); MuJoCo itself
// simulates in double. Use the float noise heads and algorithms with it.
#include <mujoco/mujoco.h>

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../core/box.hpp"
#include "../core/errors.hpp"
#include "../core/rng.hpp"
#include "../core/state_words.hpp"
#include "../core/step.hpp"
#include "model.hpp"
#include "named.hpp"
#include "observation.hpp"

namespace spindle::mujoco {


/// What a task's reward and termination see after a step: the named accessors of StateView
/// (positions of bodies and sites, joint coordinates, sensors, tendons, actuators) over the
/// state after the step, plus what the step started from.
struct StepView : StateView {
  std::span<const mjtNum> qpos_before;  // qpos before the frame_skip substeps
  std::span<const float> action;        // the action in [−1, 1]
  double dt;                            // frame_skip · timestep
};

/// A task: reward, termination, success and extra reset randomisation. Empty hooks mean
/// reward 0, never terminated, never successful, nothing extra. Per-episode task state
/// (a target) belongs in mjData (a mocap body, userdata) so every copy has its own.
struct Task {
  std::function<double(const StepView&)> reward{};
  std::function<bool(const StepView&)> terminated{};
  std::function<bool(const StepView&)> success{};  // evaluated after every step; Env::success() keeps the latest
  std::function<void(const mjModel&, mjData&, Rng&)> reset{};
};

/// Mean squared activation over the actuators with activation states (muscle effort; 0 without).
inline double mean_squared_activation(const mjModel& m, const mjData& d) noexcept {
  double s = 0;
  for (int i = 0; i < m.na; ++i) s += d.act[i] * d.act[i];
  return m.na > 0 ? s / m.na : 0.0;
}

/// A new body at every reset (DMAP-style morphology perturbation). `draw` writes the
/// perturbation vector p (Env::perturbation(), for oracle policies and privileged critics);
/// `build` compiles the body for p. Kept apart so a checkpoint stores p and rebuilds the
/// identical body (compilation is deterministic). Without `draw`, the body changes only when
/// the program calls Env::use_body(p) (a task that draws its own physics per episode).
struct Morphology {
  std::function<void(Rng&, Eigen::VectorXd&)> draw{};
  std::function<Model(const Eigen::VectorXd&)> build{};
  Eigen::Index size = 0;  // the number of parameters in p (Env::privileged_size(); the nominal body has p = 0)
  explicit operator bool() const noexcept { return draw || build; }
};

/// DMAP's draw: p ~ U[−σ, σ] for each of n parameters.
inline std::function<void(Rng&, Eigen::VectorXd&)> uniform_perturbation(Eigen::Index n, double sigma) {
  return [n, sigma](Rng& rng, Eigen::VectorXd& p) {
    p.resize(n);
    for (Eigen::Index i = 0; i < n; ++i) p(i) = rng.uniform<double>(-sigma, sigma);
  };
}

/// What reset noise does to the orientation coordinates (quaternions) of free and ball joints.
enum class QuaternionNoise {
  add,     // uniform ± on each component, like every other qpos (Gymnasium's Ant); MuJoCo
           // renormalises the quaternion in mj_forward. The default.
  rotate,  // rotate by a random small rotation: the rotation vector's components are uniform ±
  none,    // leave orientations as they are (positions and velocities still get their noise)
};

/// How an action in [−1, 1] becomes d->ctrl.
enum class ActionMap {
  ctrlrange,       // linearly onto each actuator's ctrlrange (unlimited actuators: unchanged)
  muscle_sigmoid,  // MyoSuite's muscles: ctrl = 1 / (1 + exp(−5 (a − 0.5))) in float, on the action as given
};

/// What observations, rewards and views read.
enum class Observe {
  physics,          // the physics data itself, as mj_step left it
  copy_forward,     // MyoSuite: a copy of time, qpos, qvel, act, then mj_forward on the copy
  copy_kinematics,  // the same copy with mj_kinematics only: body and site poses, qpos, qvel,
                    // act — all a task reading positions needs, at a fraction of a forward
};

struct EnvConfig {
  int frame_skip = 1;
  double reset_noise_qpos = 0.0;  // uniform ± on every qpos at reset (quaternions: see below)
  double reset_noise_qvel = 0.0;  // uniform ± on every qvel at reset
  QuaternionNoise quaternion_noise = QuaternionNoise::add;  // free/ball joint orientations
  long max_episode_steps = 1000;  // truncation (0: none)
  int keyframe = -1;              // reset to this keyframe (−1: the model's qpos0)
  std::vector<ObservationPiece> observation = {obs::qpos(), obs::qvel()};
  Morphology morphology{};  // optional: a new body per episode
  ActionMap action_map = ActionMap::ctrlrange;
  Observe observe = Observe::physics;
};

/// Builds a task from the model the environment is built on (to resolve named handles once).
using TaskFactory = std::function<Task(const Model&)>;

class Env {
 public:
  static constexpr int obs_dim = spindle::dynamic, act_dim = spindle::dynamic;
  using Observation = Eigen::VectorXf;
  using Action = Eigen::VectorXf;
  /// The physical state set_state() takes and state() returns: qpos, qvel, act, concatenated.
  using State = Eigen::VectorXd;

  Env(Model model, EnvConfig config = {}, Task task = {})
      : model_(std::move(model)), nominal_(model_), data_(model_), config_(std::move(config)), task_(std::move(task)) {
    detail::route_mujoco_messages();
    const mjModel& m = *model_;
    if (config_.morphology && !config_.morphology.build)
      throw std::invalid_argument("mujoco::Env: a morphology needs build (draw is optional)");
    if (config_.morphology && config_.morphology.size <= 0)
      throw std::invalid_argument("mujoco::Env: Morphology::size must give the number of parameters draw writes "
                                  "(the privileged information's size)");
    if (config_.morphology.size < 0) throw std::invalid_argument("mujoco::Env: Morphology::size is negative");
    if (config_.frame_skip < 1) throw std::invalid_argument("mujoco::Env: frame_skip must be at least 1");
    if (config_.keyframe >= m.nkey) throw std::invalid_argument("mujoco::Env: keyframe " + std::to_string(config_.keyframe) +
                                                                " does not exist in '" + model_.source() + "'");
    if (m.nu == 0) throw std::invalid_argument("mujoco::Env: '" + model_.source() + "' has no actuators to act through");
    obs_size_ = 0;
    for (auto& piece : config_.observation) {
      obs_size_ += piece.resolve(model_);
      needs_contact_forces_ |= piece.kind == ObservationPiece::Kind::contact_force;
    }
    if (obs_size_ == 0) throw std::invalid_argument("mujoco::Env: the observation is empty");
    action_space_ = Box<float>(-1.0f, 1.0f, m.nu);
    if (config_.observe != Observe::physics) observed_.emplace(model_);
    if (config_.observe == Observe::copy_kinematics && needs_contact_forces_)
      throw std::invalid_argument("mujoco::Env: contact-force observations need Observe::copy_forward or physics");
    qpos_before_.resize(static_cast<std::size_t>(m.nq));
    action_.resize(static_cast<std::size_t>(m.nu));
  }

  /// The task from `make_task(model)`, e.g. handles resolved by name:
  ///   Env env(model, cfg, [](const Model& m) {
  ///     return Task{.reward = [hand = m.body("hand")](const StepView& s) { return -s.position(hand).norm(); }};
  ///   });
  Env(Model model, EnvConfig config, const TaskFactory& make_task)
      : Env(model, std::move(config), make_task ? make_task(model) : Task{}) {}

  const Box<float>& action_space() const noexcept { return action_space_; }
  Eigen::Index observation_size() const noexcept { return obs_size_; }
  Eigen::Index action_size() const noexcept { return model_->nu; }

  Observation reset(Rng& rng) {
    if (config_.morphology.draw) {
      config_.morphology.draw(rng, perturbation_);
      if (perturbation_.size() != config_.morphology.size)
        throw shape_error("mujoco::Env: Morphology::draw wrote " + std::to_string(perturbation_.size()) +
                          " parameters, Morphology::size says " + std::to_string(config_.morphology.size));
      const Stopwatch clock(physics_seconds_);
      swap_body(config_.morphology.build(perturbation_));
    }
    mjModel const* m = model_.get();
    mjData* d = data_.get();
    {
      const Stopwatch clock(physics_seconds_);
      if (config_.keyframe >= 0) mj_resetDataKeyframe(m, d, config_.keyframe);
      else mj_resetData(m, d);
      add_qpos_noise(*m, *d, rng);
      for (int i = 0; i < m->nv; ++i) d->qvel[i] += rng.template uniform<double>(-config_.reset_noise_qvel, config_.reset_noise_qvel);
      if (task_.reset) task_.reset(*m, *d, rng);
      mj_forward(m, d);
      observe();
    }
    return start_episode();
  }

  /// Switches to the body for p (Morphology::build; p becomes perturbation() and privileged());
  /// takes effect for the next reset. For tasks that draw their own per-episode physics.
  void use_body(const Eigen::VectorXd& p) {
    if (!config_.morphology.build) throw std::invalid_argument("mujoco::Env::use_body: the environment has no Morphology::build");
    if (p.size() != config_.morphology.size)
      throw shape_error("mujoco::Env::use_body: " + std::to_string(p.size()) + " parameters, Morphology::size says " +
                        std::to_string(config_.morphology.size));
    if (p.size() == perturbation_.size() && p == perturbation_) return;
    const Stopwatch clock(physics_seconds_);
    swap_body(config_.morphology.build(p));
    perturbation_ = p;
  }

  /// Stops drawing a new body at every reset: the body stays the one use_body() chose (fixed
  /// test sets of bodies, one episode each).
  void freeze_body() noexcept { config_.morphology.draw = nullptr; }

  /// Allocation-free step (VectorEnv uses it).
  template <class Derived>
  void step(const Eigen::MatrixBase<Derived>& a, Step<spindle::dynamic, float>& out) {
    const mjModel* m = model_.get();
    mjData* d = data_.get();
    check_shape(a, m->nu, 1, "mujoco::Env::step", "action");
    check_finite(a, "mujoco::Env::step", "action");
    for (int i = 0; i < m->nu; ++i) {
      const float x = static_cast<float>(a(i));
      action_[static_cast<std::size_t>(i)] = x;
      if (config_.action_map == ActionMap::muscle_sigmoid) {
        d->ctrl[i] = 1.0f / (1.0f + std::exp(-5.0f * (x - 0.5f)));  // MuJoCo clamps to ctrlrange
      } else if (m->actuator_ctrllimited[i]) {
        const mjtNum lo = m->actuator_ctrlrange[2 * i], hi = m->actuator_ctrlrange[2 * i + 1];
        d->ctrl[i] = lo + (std::clamp<mjtNum>(x, -1, 1) + 1) * 0.5 * (hi - lo);
      } else {
        d->ctrl[i] = x;
      }
    }
    std::copy(d->qpos, d->qpos + m->nq, qpos_before_.begin());
    std::array<int, mjNWARNING> warnings_before{};
    for (int k = 0; k < mjNWARNING; ++k) warnings_before[static_cast<std::size_t>(k)] = d->warning[k].number;
    {
      const Stopwatch clock(physics_seconds_);
      for (int f = 0; f < config_.frame_skip; ++f) mj_step(m, d);
      if (needs_contact_forces_ && !observed_) mj_rnePostConstraint(m, d);
      observe();
    }
    ++steps_;
    unstable_ = false;
    for (int k = 0; k < mjNWARNING; ++k) unstable_ |= d->warning[k].number != warnings_before[static_cast<std::size_t>(k)];
    out.observation.resize(obs_size_);
    write_observation(out.observation.data());
    if (!out.observation.allFinite()) unstable_ = true;
    const StepView view{{*m, observed_data()}, qpos_before_, action_, config_.frame_skip * m->opt.timestep};
    out.reward = task_.reward && !unstable_ ? static_cast<float>(task_.reward(view)) : 0.0f;
    out.terminated = !unstable_ && task_.terminated && task_.terminated(view);
    success_ = !unstable_ && task_.success && task_.success(view);
    effort_sum_ += mean_squared_activation(*m, observed_data());
    out.truncated = unstable_ || (config_.max_episode_steps > 0 && steps_ >= config_.max_episode_steps);
    if (unstable_) {
      ++instabilities_;
      zero_non_finite(out.observation);
    }
  }
  template <class Derived>
  Step<spindle::dynamic, float> step(const Eigen::MatrixBase<Derived>& a) {
    Step<spindle::dynamic, float> out;
    step(a, out);
    return out;
  }

  /// The last step hit a MuJoCo warning (the episode ended there, truncated).
  bool unstable() const noexcept { return unstable_; }
  /// MuJoCo's latest warning text on this thread (empty if none), e.g. "Nan, Inf or huge value
  /// in QACC at DOF 0. The simulation is unstable. Time = 0.0200.".
  static const std::string& last_warning() noexcept { return detail::last_warning; }
  /// Steps that hit a MuJoCo warning since this environment was made.
  long instability_count() const noexcept { return instabilities_; }
  long episode_steps() const noexcept { return steps_; }
  /// The task's success test after the latest step (false without a success hook).
  bool success() const noexcept { return success_; }
  /// Mean over this episode's steps of the mean squared actuator activation (muscle effort;
  /// 0 for models without activation states).
  double episode_effort() const noexcept { return steps_ > 0 ? effort_sum_ / static_cast<double>(steps_) : 0.0; }

  /// Wall time this copy spent inside MuJoCo (mj_step, mj_forward, compiling perturbed bodies),
  /// to tell simulation cost from learning cost.
  double physics_seconds() const noexcept { return physics_seconds_; }

  /// The current body's perturbation vector (empty without a morphology hook).
  const Eigen::VectorXd& perturbation() const noexcept { return perturbation_; }
  /// Privileged information for oracle policies and privileged critics (PrivilegedEnvironment):
  /// the perturbation p of the current body, zeros on the nominal body; Morphology::size values.
  const Eigen::VectorXd& privileged() const noexcept {
    return perturbation_.size() == nominal_privileged_.size() ? perturbation_ : nominal_privileged_;
  }
  Eigen::Index privileged_size() const noexcept { return nominal_privileged_.size(); }
  const Model& model() const noexcept { return model_; }
  /// The named accessors (named.hpp) over the current state (the observed copy, if any).
  StateView view() const noexcept { return {*model_, observed_data()}; }
  /// What observations read: the observed copy (EnvConfig::observe), else the physics data.
  const mjData& observed_data() const noexcept { return observed_ ? *observed_->get() : *data_.get(); }

  /// (qpos, qvel, act) of the current state.
  State state() const {
    const mjModel& m = *model_;
    const mjData& d = *data_.get();
    State s(m.nq + m.nv + m.na);
    std::copy(d.qpos, d.qpos + m.nq, s.data());
    std::copy(d.qvel, d.qvel + m.nv, s.data() + m.nq);
    std::copy(d.act, d.act + m.na, s.data() + m.nq + m.nv);
    return s;
  }
  /// Starts a new episode in the state `s` = (qpos, qvel, act), as reset() would but without
  /// noise, the task's reset hook or a new body; returns its observation. Controls are zeroed.
  Observation set_state(const State& s) {
    const mjModel* m = model_.get();
    mjData* d = data_.get();
    check_shape(s, m->nq + m->nv + m->na, 1, "mujoco::Env::set_state", "state (qpos, qvel, act)");
    check_finite(s, "mujoco::Env::set_state", "state");
    {
      const Stopwatch clock(physics_seconds_);
      mj_resetData(m, d);
      std::copy(s.data(), s.data() + m->nq, d->qpos);
      std::copy(s.data() + m->nq, s.data() + m->nq + m->nv, d->qvel);
      std::copy(s.data() + m->nq + m->nv, s.data() + s.size(), d->act);
      mj_forward(m, d);
      observe();
    }
    return start_episode();
  }
  const mjData& data() const noexcept { return *data_.get(); }
  mjData& data() noexcept { return *data_.get(); }
  const EnvConfig& config() const noexcept { return config_; }

  /// Exact mid-episode state (the body's perturbation, time, qpos, qvel, act, ctrl, warm start,
  /// mocap poses, applied forces, user data, counters) for checkpoints. A perturbed body is
  /// stored as p and rebuilt on load. load_state also reads states written before the mocap
  /// poses, applied forces and user data were included.
  void save_state(StateWords& out) const {
    put_word(out, state_format_2);
    put_word(out, std::int64_t{perturbation_.size()});
    for (double x : perturbation_) put_word(out, x);
    const mjModel* m = model_.get();
    const mjData* d = data_.get();
    put_word(out, d->time);
    for (auto [p, n] : state_arrays(m, d, 2)) for (int i = 0; i < n; ++i) put_word(out, p[i]);
    put_word(out, std::int64_t{steps_});
    put_word(out, effort_sum_);
    put_word(out, std::int64_t{success_});
  }
  void load_state(StateReader& in) {
    std::int64_t n = in.integer();
    const int format = n == state_format_2 ? 2 : 1;
    if (format == 2) n = in.integer();
    if (n < 0 || n > 1'000'000) throw std::invalid_argument("mujoco::Env::load_state: corrupt perturbation size " + std::to_string(n));
    if (n > 0 && !config_.morphology)
      throw std::invalid_argument("mujoco::Env::load_state: the state holds a perturbed body but this environment has no morphology");
    Eigen::VectorXd p(n);
    for (auto& x : p) x = in.real();
    if (p.size() != perturbation_.size() || p != perturbation_) {
      swap_body(n > 0 ? config_.morphology.build(p) : nominal_);
      perturbation_ = std::move(p);
    }
    const mjModel* m = model_.get();
    mjData* d = data_.get();
    const double time = in.real();
    std::vector<mjtNum> saved;
    for (auto [arr, count] : state_arrays(m, d, format)) for (int i = 0; i < count; ++i) saved.push_back(in.real());
    steps_ = in.integer();
    effort_sum_ = in.real();
    success_ = in.integer() != 0;
    auto restore = [&] {
      d->time = time;
      const mjtNum* from = saved.data();
      for (auto [arr, count] : state_arrays(m, d, format)) {
        std::copy(from, from + count, const_cast<mjtNum*>(arr));
        from += count;
      }
    };
    // Recompute the derived quantities (positions, forces), then put the state back: mj_forward
    // normalises quaternions in qpos in place (and moves the warm start), and the run being
    // resumed held them unnormalised — one bit there changes the whole trajectory.
    restore();
    mj_forward(m, d);
    restore();
    observe();
  }

 private:
  static constexpr std::int64_t state_format_2 = -2;  // a negative first word: not a perturbation size
  // The arrays a step reads (format 1 lacked the last five: mocap targets were lost on resume).
  static std::vector<std::pair<const mjtNum*, int>> state_arrays(const mjModel* m, const mjData* d, int format) {
    std::vector<std::pair<const mjtNum*, int>> a{
        {d->qpos, m->nq}, {d->qvel, m->nv}, {d->act, m->na}, {d->ctrl, m->nu}, {d->qacc_warmstart, m->nv}};
    if (format >= 2)
      a.insert(a.end(), {{d->mocap_pos, 3 * m->nmocap}, {d->mocap_quat, 4 * m->nmocap}, {d->qfrc_applied, m->nv},
                         {d->xfrc_applied, 6 * m->nbody}, {d->userdata, m->nuserdata}});
    return a;
  }
  /// Reset noise on qpos; free and ball joint orientations as config_.quaternion_noise says.
  void add_qpos_noise(const mjModel& m, mjData& d, Rng& rng) const {
    const double h = config_.reset_noise_qpos;
    if (config_.quaternion_noise == QuaternionNoise::add) {  // every coordinate alike (the original order)
      for (int i = 0; i < m.nq; ++i) d.qpos[i] += rng.template uniform<double>(-h, h);
      return;
    }
    for (int j = 0; j < m.njnt; ++j) {
      mjtNum* q = d.qpos + m.jnt_qposadr[j];
      const int type = m.jnt_type[j];
      int positions = 1;
      if (type == mjJNT_FREE) positions = 3;
      if (type == mjJNT_BALL) positions = 0;
      for (int i = 0; i < positions; ++i) q[i] += rng.template uniform<double>(-h, h);
      if ((type == mjJNT_FREE || type == mjJNT_BALL) && config_.quaternion_noise == QuaternionNoise::rotate) {
        mjtNum* quat = q + positions;
        mjtNum rotation[3];
        for (auto& r : rotation) r = rng.template uniform<double>(-h, h);
        mju_quatIntegrate(quat, rotation, 1.0);  // quat ← quat ∘ exp(rotation / 2), normalised
      }
    }
  }
  void swap_body(Model model) {
    const mjModel& m = *model;
    const mjModel& old = *model_;
    if (m.nq != old.nq || m.nv != old.nv || m.nu != old.nu || m.na != old.na)
      throw std::invalid_argument("mujoco::Env: the morphology hook changed the model's dimensions");
    model_ = std::move(model);
    data_ = Data(model_);
    if (observed_) observed_.emplace(model_);
    for (auto& piece : config_.observation) piece.resolve(model_);
  }
  /// Episode counters to zero; the first observation.
  Observation start_episode() {
    steps_ = 0;
    unstable_ = false;
    success_ = false;
    effort_sum_ = 0;
    Observation o(obs_size_);
    write_observation(o.data());
    return o;
  }
  void write_observation(float* out) const {
    for (const auto& piece : config_.observation) out = piece.write(*model_, observed_data(), out);
  }
  /// MyoSuite's observed copy: time, qpos, qvel, act from the physics data, then mj_forward
  /// (or mj_kinematics) on the copy alone (and contact forces there, when read).
  void observe() {
    if (!observed_) return;
    const mjModel* m = model_.get();
    const mjData* d = data_.get();
    mjData* o = observed_->get();
    o->time = d->time;
    std::copy(d->qpos, d->qpos + m->nq, o->qpos);
    std::copy(d->qvel, d->qvel + m->nv, o->qvel);
    std::copy(d->act, d->act + m->na, o->act);
    if (config_.observe == Observe::copy_kinematics) {
      mj_kinematics(m, o);
      return;
    }
    mj_forward(m, o);
    if (needs_contact_forces_) mj_rnePostConstraint(m, o);
  }

  // Adds the scope's wall time to a counter.
  struct Stopwatch {
    explicit Stopwatch(double& total) noexcept : total_(total), start_(std::chrono::steady_clock::now()) {}
    ~Stopwatch() { total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
    Stopwatch(const Stopwatch&) = delete;
    Stopwatch& operator=(const Stopwatch&) = delete;
    double& total_;
    std::chrono::steady_clock::time_point start_;
  };

  Model model_;
  Model nominal_;  // the body before any perturbation (restored by loading an unperturbed state)
  Data data_;
  std::optional<Data> observed_;  // what observations read, unless they read the physics data
  EnvConfig config_;
  Task task_;
  Box<float> action_space_{-1.0f, 1.0f, 1};
  Eigen::Index obs_size_ = 0;
  bool needs_contact_forces_ = false;
  std::vector<mjtNum> qpos_before_;
  Eigen::VectorXd perturbation_;
  Eigen::VectorXd nominal_privileged_ = Eigen::VectorXd::Zero(config_.morphology.size);
  std::vector<float> action_;
  long steps_ = 0, instabilities_ = 0;
  bool unstable_ = false, success_ = false;
  double effort_sum_ = 0;
  double physics_seconds_ = 0;
};

}  // namespace spindle::mujoco
