#pragma once
// MyoSuite's hand reach (myoHandReach{Fixed,Random}-v0, ../shared/specs/myosuite.md §6): bring
// the five fingertips of the MyoHand to five target points.
//
//   using namespace spindle::mujoco::myosuite;
//   Reach reach({.model = "myosuite_envs/myohand_pose.xml", .random = true});
//
// Observation (115): qpos (23), qvel·dt (23), fingertip positions (5 × 3, world), target − tip
// (15), activations (39). d = ‖target − tip‖₂ over all 15 values; reward = −d + 4·([d < 2·near]
// + [d < near]) − 50·[d > far], near = 0.0625, far = 0.17 (Random) or 0.22 (Fixed), where far is
// infinite while MuJoCo's accumulated time is ≤ 2·dt (so termination is possible from step 2, as
// MyoSuite's d->time test gives); solved = [d < near]; d > far terminates. Reset: qpos 0.
#include <array>
#include <cmath>
#include <filesystem>
#include <limits>

#include "common.hpp"

namespace spindle::mujoco::myosuite {

struct ReachConfig {
  std::filesystem::path model{};  // myohand_pose.xml
  bool random = true;             // targets drawn per episode in MyoSuite's boxes; else its fixed points
  long max_episode_steps = 100;
};

class Reach {
 public:
  static constexpr int obs_dim = spindle::dynamic, act_dim = spindle::dynamic;
  using Observation = Eigen::VectorXf;
  using Action = Eigen::VectorXf;
  static constexpr double near = 5 * 0.0125;
  static constexpr const char* tips[5] = {"THtip", "IFtip", "MFtip", "RFtip", "LFtip"};

  explicit Reach(ReachConfig config)
      : config_(std::move(config)), env_(muscle_env(config_.model, config_.max_episode_steps, Observe::copy_kinematics)) {
    const Model& m = env_.model();
    for (int t = 0; t < 5; ++t) tip_site_[static_cast<std::size_t>(t)] = m.site(tips[t]).id;
    if (m->nq != 23 || m->nu != 39)
      throw std::invalid_argument("myosuite::Reach: '" + m.source() + "' is not MyoSuite's hand (23 joints, 39 muscles)");
    far_ = config_.random ? 5 * 0.034 : 5 * 0.044;
    action_space_ = Box<float>(-1.0f, 1.0f, 39);
    target_ = fixed_targets();
  }

  const Box<float>& action_space() const noexcept { return action_space_; }
  Eigen::Index observation_size() const noexcept { return 115; }
  Eigen::Index action_size() const noexcept { return 39; }

  /// MyoSuite's target boxes (Random) per tip, low and high corners.
  static std::array<std::pair<Eigen::Vector3d, Eigen::Vector3d>, 5> target_boxes() {
    return {{{{-0.185, -0.577, 1.455}, {-0.125, -0.517, 1.535}},
             {{-0.191, -0.567, 1.445}, {-0.111, -0.527, 1.465}},
             {{-0.186, -0.567, 1.437}, {-0.106, -0.527, 1.457}},
             {{-0.188, -0.563, 1.435}, {-0.108, -0.523, 1.455}},
             {{-0.188, -0.548, 1.424}, {-0.108, -0.508, 1.444}}}};
  }
  /// The Fixed variant's target points.
  static Eigen::Matrix<double, 3, 5> fixed_targets() {
    Eigen::Matrix<double, 3, 5> t;
    t << -0.165, -0.151, -0.146, -0.148, -0.148,  //
        -0.537, -0.547, -0.547, -0.543, -0.528,   //
        1.495, 1.455, 1.447, 1.445, 1.434;
    return t;
  }

  Observation reset(Rng& rng) {
    if (config_.random) {
      const auto boxes = target_boxes();
      for (int t = 0; t < 5; ++t)
        for (int i = 0; i < 3; ++i) target_(i, t) = rng.uniform(boxes[static_cast<std::size_t>(t)].first(i), boxes[static_cast<std::size_t>(t)].second(i));
    }
    env_.reset(rng);
    tally_ = {};
    Observation o(115);
    write_observation(o.data());
    return o;
  }

  template <class Derived>
  void step(const Eigen::MatrixBase<Derived>& a, Step<spindle::dynamic, float>& out) {
    env_.step(a, inner_);
    out.observation.resize(115);
    const double d = write_observation(out.observation.data());
    const mjModel& m = *env_.model();
    const mjData& data = env_.observed_data();
    const double dt = env_.config().frame_skip * m.opt.timestep;
    const double far = data.time > 2 * dt ? far_ : std::numeric_limits<double>::infinity();
    const bool beyond = d > far;
    tally_.record(activation_norm(m, data), d < near);
    const double bonus = (d < 2 * near ? 1.0 : 0.0) + (d < near ? 1.0 : 0.0);
    out.reward = env_.unstable() ? 0.0f : static_cast<float>(-d + 4 * bonus - 50 * (beyond ? 1.0 : 0.0));
    out.terminated = !env_.unstable() && beyond;
    out.truncated = inner_.truncated;
  }
  template <class Derived>
  Step<spindle::dynamic, float> step(const Eigen::MatrixBase<Derived>& a) {
    Step<spindle::dynamic, float> out;
    step(a, out);
    return out;
  }

  bool solved() const noexcept { return tally_.solved; }
  /// MyoSuite's success: solved on more than 5 steps of the episode.
  bool success() const noexcept { return tally_.solved_steps > 5; }
  double effort() const noexcept { return tally_.effort(env_.episode_steps()); }
  double mean_squared_activation() const noexcept { return env_.episode_effort(); }
  /// The targets of this episode (3 × 5, world, tips in THtip, IFtip, MFtip, RFtip, LFtip order).
  const Eigen::Matrix<double, 3, 5>& targets() const noexcept { return target_; }
  /// Replaces this episode's targets (3 × 5, world; e.g. a fixed set of your own).
  void set_targets(const Eigen::Matrix<double, 3, 5>& targets) {
    check_finite(targets, "myosuite::Reach::set_targets", "targets");
    target_ = targets;
  }
  double far_threshold() const noexcept { return far_; }
  const Env& env() const noexcept { return env_; }
  Env& env() noexcept { return env_; }
  double physics_seconds() const noexcept { return env_.physics_seconds(); }

  void save_state(StateWords& out) const {
    env_.save_state(out);
    for (Eigen::Index k = 0; k < target_.size(); ++k) put_word(out, target_.data()[k]);
    tally_.save(out);
  }
  void load_state(StateReader& in) {
    env_.load_state(in);
    for (Eigen::Index k = 0; k < target_.size(); ++k) target_.data()[k] = in.real();
    tally_.load(in);
  }

 private:
  /// Writes the 115 observations; returns d.
  double write_observation(float* o) const {
    const mjModel& m = *env_.model();
    const mjData& d = env_.observed_data();
    const double dt = env_.config().frame_skip * m.opt.timestep;
    for (int j = 0; j < 23; ++j) *o++ = static_cast<float>(d.qpos[j]);
    for (int j = 0; j < 23; ++j) *o++ = static_cast<float>(d.qvel[j] * dt);
    for (int t = 0; t < 5; ++t)
      for (int i = 0; i < 3; ++i) *o++ = static_cast<float>(d.site_xpos[3 * tip_site_[static_cast<std::size_t>(t)] + i]);
    double ss = 0;
    for (int t = 0; t < 5; ++t)
      for (int i = 0; i < 3; ++i) {
        const double e = target_(i, t) - d.site_xpos[3 * tip_site_[static_cast<std::size_t>(t)] + i];
        ss += e * e;
        *o++ = static_cast<float>(e);
      }
    for (int i = 0; i < m.na; ++i) *o++ = static_cast<float>(d.act[i]);
    return std::sqrt(ss);
  }

  ReachConfig config_;
  Env env_;
  Box<float> action_space_{-1.0f, 1.0f, 1};
  std::array<int, 5> tip_site_{};
  Eigen::Matrix<double, 3, 5> target_;
  double far_ = 0.17;
  EpisodeTally tally_{};
  Step<spindle::dynamic, float> inner_{};
};

}  // namespace spindle::mujoco::myosuite
