#pragma once
// MyoSuite's pose tasks (../shared/specs/myosuite.md §2–5): bring the joints of a muscle-driven
// body to a target posture. myoElbowPose1D6M{Fixed,Random}-v0, myoFingerPose{Fixed,Random}-v0,
// myoHandPose{Fixed,Random}-v0, and the Lattice authors' variants (reset to the initial pose,
// targets halved, weights pose 1 / penalty 1 / solved 1, hand threshold 0.8).
//
//   using namespace spindle::mujoco::myosuite;
//   Pose elbow(elbow_pose("myosuite_envs/myoelbow_1dof6muscles.xml", Variant::random));
//
// Mechanics as MyoSuite: 10 mj_steps per step (50 Hz), ctrl = sigmoid(5(a − 0.5)) on the action
// as given, 100 steps. Observation: qpos, qvel·dt, target − qpos, activations (3·nq + na).
// d = ‖target − qpos‖₂ over all joints; reward = pose·(−d) + bonus·([d < thd] + [d < 1.5 thd])
// − act_reg·‖act‖₂/na − penalty·[d > 2π] + solved·[d < thd]; solved = [d < thd]; a distance
// beyond 2π terminates. (The observations read qpos, qvel and act only, which MyoSuite's
// forwarded copy holds unchanged: no copy is needed.)
#include <cmath>
#include <filesystem>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "../../../curriculum/scheduler.hpp"
#include "../../env.hpp"
#include "common.hpp"

namespace spindle::mujoco::myosuite {

/// MyoSuite's registration (fixed or random targets) or the Lattice authors' variant of it.
enum class Variant { fixed, random, lattice };

/// Reward weights (MyoSuite's key names).
struct PoseWeights {
  double pose = 1, bonus = 4, act_reg = 1, penalty = 50, solved = 0;  // MyoSuite's defaults
  /// The Lattice authors' pose weights: pose 1, penalty 1, solved 1, no bonus, no act_reg.
  static PoseWeights lattice() noexcept { return {.pose = 1, .bonus = 0, .act_reg = 0, .penalty = 1, .solved = 1}; }
};

struct PoseConfig {
  std::filesystem::path model{};
  std::vector<curriculum::Value> target{};  // per joint in qpos order: a number (low == high) or a range drawn per episode
  bool random_reset = false;                // every joint ~ U(its range) at reset; else the model's qpos0
  double threshold = 0.35;                  // rad (pose_thd)
  double target_distance = 1.0;             // Lattice: target = qpos0 + target_distance·(draw − qpos0)
  PoseWeights weights{};
  long max_episode_steps = 100;
};

/// myoElbowPose1D6M{Fixed,Random}-v0 (1 joint, 6 muscles): myosuite_envs/myoelbow_1dof6muscles.xml.
inline PoseConfig elbow_pose(std::filesystem::path model, Variant v) {
  PoseConfig c{.model = std::move(model), .threshold = 0.175};
  c.target = {v == Variant::fixed ? curriculum::fixed(2.0) : curriculum::Value{0.0, 2.27}};
  c.random_reset = v != Variant::lattice;  // both registrations reset the elbow anywhere in its range
  if (v == Variant::lattice) c.weights = PoseWeights::lattice();
  return c;
}
/// myoFingerPose{Fixed,Random}-v0 (4 joints, 5 muscles): myo_sim/finger/myofinger_v0.xml.
inline PoseConfig finger_pose(std::filesystem::path model, Variant v) {
  PoseConfig c{.model = std::move(model), .threshold = 0.35};
  if (v == Variant::fixed) c.target = {curriculum::fixed(0), curriculum::fixed(0), curriculum::fixed(0.75), curriculum::fixed(0.75)};
  else c.target = {{-0.2, 0.2}, {-0.4, 1.0}, {0.1, 1.0}, {0.1, 1.0}};
  if (v == Variant::lattice) {
    c.weights = PoseWeights::lattice();
    c.target_distance = 0.5;
  }
  return c;
}
/// myoHandPose{Fixed,Random}-v0 (23 joints, 39 muscles): myosuite_envs/myohand_pose.xml.
inline PoseConfig hand_pose(std::filesystem::path model, Variant v) {
  PoseConfig c{.model = std::move(model), .threshold = 0.7};
  if (v == Variant::fixed) {
    for (double q : {0.0, 0.0, 0.0, -0.0904, 0.0824475, -0.681555, -0.514888, 0.0, -0.013964, -0.0458132, 0.0, 0.67553,
                     -0.020944, 0.76979, 0.65982, 0.0, 0.0, 0.0, 0.0, 0.479155, -0.099484, 0.95831, 0.0})
      c.target.push_back(curriculum::fixed(q));
  } else {  // per joint: min and max over MyoSuite's ten ASL digit poses
    c.target = {{0, 0},
                {0, 0},
                {0, 0},
                {0.0248, 0.6392},
                {-0.147495, 0.28272},
                {-0.7854, 0.01569},
                {-1.309, -0.0262045},
                {0.366605, 1.30045},
                {-0.006982, 0.010473},
                {0.128305, 1.45492},
                {0.111722, 0.998897},
                {0.39275, 1.48459},
                {0, 0},
                {0.18852, 1.45318},
                {0.117825, 1.44532},
                {0.306345, 1.571},
                {-0.204204, -0.010472},
                {0, 1.52387},
                {0.06284, 1.45318},
                {0.21994, 1.48459},
                {-0.2618, -0.068068},
                {0.18852, 1.571},
                {0.01571, 1.571}};
    c.random_reset = v == Variant::random;
  }
  if (v == Variant::lattice) {
    c.weights = PoseWeights::lattice();
    c.target_distance = 0.5;
    c.threshold = 0.8;
  }
  return c;
}

class Pose {
 public:
  static constexpr int obs_dim = spindle::dynamic, act_dim = spindle::dynamic;
  using Observation = Eigen::VectorXf;
  using Action = Eigen::VectorXf;

  explicit Pose(PoseConfig config) : config_(std::move(config)), env_(muscle_env(config_.model, config_.max_episode_steps, Observe::physics)) {
    const mjModel& m = *env_.model();
    nq_ = m.nq;
    if (static_cast<int>(config_.target.size()) != nq_)
      throw std::invalid_argument("myosuite::Pose: " + std::to_string(config_.target.size()) + " target ranges for '" +
                                  config_.model.string() + "', which has " + std::to_string(nq_) + " joint coordinates");
    for (const auto& v : config_.target)
      if (!(v.low <= v.high)) throw std::invalid_argument("myosuite::Pose: a target range has low > high");
    if (!(config_.threshold > 0)) throw std::invalid_argument("myosuite::Pose: the threshold must be positive");
    target_ = Eigen::VectorXd::Zero(nq_);
    action_space_ = Box<float>(-1.0f, 1.0f, m.nu);
  }

  const Box<float>& action_space() const noexcept { return action_space_; }
  Eigen::Index observation_size() const noexcept { return 3 * nq_ + env_.model()->na; }
  Eigen::Index action_size() const noexcept { return env_.model()->nu; }

  Observation reset(Rng& rng) {
    const mjModel& m = *env_.model();
    for (int j = 0; j < nq_; ++j) {
      const auto& v = config_.target[static_cast<std::size_t>(j)];
      const double draw = v.low == v.high ? v.low : rng.uniform(v.low, v.high);
      target_(j) = m.qpos0[j] + config_.target_distance * (draw - m.qpos0[j]);
    }
    env_.reset(rng);
    if (config_.random_reset) {  // every joint uniform in its range, qvel 0
      Env::State s = env_.state();
      for (int j = 0; j < m.njnt; ++j)
        if (m.jnt_limited[j]) s(m.jnt_qposadr[j]) = rng.uniform(m.jnt_range[2 * j], m.jnt_range[2 * j + 1]);
      env_.set_state(s);
    }
    tally_ = {};
    Observation o(observation_size());
    write_observation(o.data());
    return o;
  }

  template <class Derived>
  void step(const Eigen::MatrixBase<Derived>& a, Step<spindle::dynamic, float>& out) {
    env_.step(a, inner_);
    out.observation.resize(observation_size());
    const double d = write_observation(out.observation.data());
    const double effort = activation_norm(*env_.model(), env_.data());
    const bool solved = d < config_.threshold, far = d > 2 * std::numbers::pi;
    tally_.record(effort, solved);
    const PoseWeights& w = config_.weights;
    const double bonus = (d < config_.threshold ? 1.0 : 0.0) + (d < 1.5 * config_.threshold ? 1.0 : 0.0);
    out.reward = env_.unstable() ? 0.0f
                                 : static_cast<float>(-w.pose * d + w.bonus * bonus - w.act_reg * effort - w.penalty * (far ? 1.0 : 0.0) +
                                                      w.solved * (solved ? 1.0 : 0.0));
    out.terminated = !env_.unstable() && far;
    out.truncated = inner_.truncated;
  }
  template <class Derived>
  Step<spindle::dynamic, float> step(const Eigen::MatrixBase<Derived>& a) {
    Step<spindle::dynamic, float> out;
    step(a, out);
    return out;
  }

  /// Within the threshold after the latest step.
  bool solved() const noexcept { return tally_.solved; }
  /// MyoSuite's success: solved on more than 5 steps of the episode.
  bool success() const noexcept { return tally_.solved_steps > 5; }
  /// MyoSuite's effort: mean over the episode's steps of ‖act‖₂ / na.
  double effort() const noexcept { return tally_.effort(env_.episode_steps()); }
  /// Mean over the episode's steps of the mean squared activation.
  double mean_squared_activation() const noexcept { return env_.episode_effort(); }
  const Eigen::VectorXd& target() const noexcept { return target_; }
  const Env& env() const noexcept { return env_; }
  Env& env() noexcept { return env_; }
  double physics_seconds() const noexcept { return env_.physics_seconds(); }

  void save_state(StateWords& out) const {
    env_.save_state(out);
    for (double v : target_) put_word(out, v);
    tally_.save(out);
  }
  void load_state(StateReader& in) {
    env_.load_state(in);
    for (double& v : target_) v = in.real();
    tally_.load(in);
  }

 private:
  /// Writes qpos, qvel·dt, target − qpos, act; returns d = ‖target − qpos‖.
  double write_observation(float* o) const {
    const mjModel& m = *env_.model();
    const mjData& d = env_.data();
    const double dt = env_.config().frame_skip * m.opt.timestep;
    double ss = 0;
    for (int j = 0; j < nq_; ++j) *o++ = static_cast<float>(d.qpos[j]);
    for (int j = 0; j < nq_; ++j) *o++ = static_cast<float>(d.qvel[j] * dt);
    for (int j = 0; j < nq_; ++j) {
      const double e = target_(j) - d.qpos[j];
      ss += e * e;
      *o++ = static_cast<float>(e);
    }
    for (int i = 0; i < m.na; ++i) *o++ = static_cast<float>(d.act[i]);
    return std::sqrt(ss);
  }

  PoseConfig config_;
  Env env_;
  Box<float> action_space_{-1.0f, 1.0f, 1};
  int nq_ = 0;
  Eigen::VectorXd target_;
  EpisodeTally tally_{};
  Step<spindle::dynamic, float> inner_{};
};

}  // namespace spindle::mujoco::myosuite
