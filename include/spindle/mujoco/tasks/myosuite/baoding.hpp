#pragma once
// MyoSuite's Baoding balls (MyoChallenge 2022, myoChallengeBaodingP1-v1 / P2-v1) on the
// 39-muscle MyoHand, as ../shared/specs/myosuite.md §7 defines it: two balls in the upturned
// palm follow two targets that circle on an ellipse fixed to the hand.
//
//   using namespace spindle::mujoco::myosuite;
//   Baoding env({.model = "myosuite_envs/myohand_baoding.xml", .task = BaodingTask::phase2()});
//
// The model is MyoSuite's scene over MyoHub's myo_sim (clone https://github.com/MyoHub/myo_sim;
// the scene file is myosuite/envs/myo/assets/hand/myohand_baoding.xml in MyoSuite). Mechanics
// as MyoSuite: 10 mj_steps of 0.0025 s per step (40 Hz), ctrl = sigmoid(5(a − 0.5)) on the
// action as given, observations and rewards from a copy of the state (MyoSuite forwards it;
// only its positions are read, so mj_kinematics suffices; the physics data is never
// forwarded), 200 steps, a drop (a ball below z = 1.25 m) terminates.
//
// Observation (86): hand qpos (23), ball 1 position (3) and velocity·dt (3), ball 2 the same,
// target 1 and 2 positions (3 + 3), target − ball errors (3 + 3), muscle activations (39).
// Reward: −w1·d1 − w2·d2 + alive·[no drop] + solved·[solved] − act_reg·‖act‖₂/39, MyoSuite's
// weights 5, 5, 0, 0, 0 by default (BaodingWeights::winners(): the 2022 winners' and Lattice's
// 1, 1, 1, 5, 0). Solved: both balls within 0.015 m of their targets and none dropped.
//
// Task parameters (a curriculum sets them through set_task, read at the next reset): period
// (s per revolution; ≥ 1e6 holds the targets still), direction (rounded: +1 CCW, −1 CW, 0
// hold), phase_mismatch (φ1 = π/4 + U(±phase_mismatch·π)), rx, ry (m), rsi (probability that
// the balls start on their targets), mass_low/mass_high (kg) and radius_low/radius_high (m)
// drawn per ball, friction_spread (each friction component × U(1 ± spread), per ball). Ball
// physics is the privileged information (PrivilegedEnvironment): masses, radii, 2 × 3 frictions.
//
// One deviation: MyoSuite's reset observation shows the previous episode's last targets (its
// reset does not move them); here it shows the targets the first step aims at.
#include <cmath>
#include <filesystem>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "../../../curriculum/scheduler.hpp"
#include "../../env.hpp"
#include "../orbit.hpp"
#include "common.hpp"

namespace spindle::mujoco::myosuite {

/// Reward weights (MyoSuite's key names).
struct BaodingWeights {
  double pos_dist_1 = 5, pos_dist_2 = 5;  // MyoSuite's defaults
  double alive = 0, solved = 0, act_reg = 0;
  /// The 2022 winners' and the Lattice authors' weights: 1, 1, alive 1, solved 5.
  static BaodingWeights winners() noexcept { return {.pos_dist_1 = 1, .pos_dist_2 = 1, .alive = 1, .solved = 5}; }
};

/// The task distribution; each episode draws its values uniformly from these ranges.
struct BaodingTask {
  OrbitRanges orbit{};  // P1: period 5 s, CCW, φ1 = π/4, rx 0.025, ry 0.028
  curriculum::Value rsi{0, 0};
  curriculum::Value mass{0.043, 0.043}, radius{0.022, 0.022};  // per ball
  double friction_spread = 0;
  /// myoChallengeBaodingP1-v1: one counter-clockwise revolution in 5 s, nominal balls.
  static BaodingTask phase1() { return {}; }
  /// myoChallengeBaodingP2-v1: direction hold/CW/CCW, any start phase, radii, period 4–6 s, ball physics.
  static BaodingTask phase2() {
    return {.orbit = {.period = {4, 6}, .direction = {-1.5, 1.5}, .phase_mismatch = {1, 1}, .rx = {0.020, 0.030},
                      .ry = {0.022, 0.032}},
            .rsi = {0, 0},
            .mass = {0.030, 0.300},
            .radius = {0.018, 0.024},
            .friction_spread = 0.2};
  }
};

struct BaodingConfig {
  std::filesystem::path model{};  // myohand_baoding.xml
  BaodingTask task = BaodingTask::phase1();
  BaodingWeights weights{};
  long max_episode_steps = 200;
  double success_fraction = 0.5;  // success(): solved on at least this fraction of the episode's steps, no drop
  bool full_forward = false;  // MyoSuite forwards its observed copy; only its positions are read, which
                              // mj_kinematics gives bit for bit (tested), at a fraction of the cost
};

class Baoding {
 public:
  static constexpr int obs_dim = spindle::dynamic, act_dim = spindle::dynamic;
  using Observation = Eigen::VectorXf;
  using Action = Eigen::VectorXf;
  static constexpr double drop_height = 1.25, solve_distance = 0.015;
  static constexpr double center_x = -0.0125, center_y = -0.07, target_z = -0.02;  // in the hand's frame
  static constexpr Eigen::Index observation_length = 86, physics_size = 10;

  explicit Baoding(BaodingConfig config) : config_(std::move(config)), env_(make_env(config_)) {
    const Model& m = env_.model();
    hand_joints_ = 23;
    for (int b : {0, 1}) {
      const std::string n = "ball" + std::to_string(b + 1);
      ball_body_[b] = m.body(n).id;
      ball_geom_[b] = m.geom(n).id;
      ball_site_[b] = m.site(n + "_site").id;
      target_site_[b] = m.site("target" + std::to_string(b + 1) + "_site").id;
      const int joint = m->body_jntadr[ball_body_[b]];
      if (joint < 0 || m->jnt_type[joint] != mjJNT_FREE)
        throw std::invalid_argument("myosuite::Baoding: '" + m.source() + "': " + n + " is not a free body");
      ball_qpos_[b] = m->jnt_qposadr[joint];
      ball_qvel_[b] = m->jnt_dofadr[joint];
    }
    if (m->nu != 39 || m->na != 39 || ball_qpos_[0] != hand_joints_)
      throw std::invalid_argument("myosuite::Baoding: '" + m.source() + "' is not MyoSuite's Baoding scene (expected 39 muscles, "
                                  "23 hand joints, then the balls; got nu " + std::to_string(m->nu) + ")");
    for (int b : {0, 1})
      for (int k = 0; k < 3; ++k) nominal_friction_[b][k] = m->geom_friction[3 * ball_geom_[b] + k];
    action_space_ = Box<float>(-1.0f, 1.0f, 39);
  }
  Baoding(const Baoding&) = default;
  Baoding& operator=(const Baoding&) = default;
  Baoding(Baoding&&) = default;
  Baoding& operator=(Baoding&&) = default;

  const Box<float>& action_space() const noexcept { return action_space_; }
  Eigen::Index observation_size() const noexcept { return observation_length; }
  Eigen::Index action_size() const noexcept { return 39; }

  // ------------------------------------------------------------------ curriculum
  static std::vector<std::string> task_parameters() {
    return {"period", "direction", "phase_mismatch", "rx", "ry", "rsi", "mass_low", "mass_high",
            "radius_low", "radius_high", "friction_spread"};
  }
  /// The parameters of the next episodes (each a number; names not given keep their range).
  void set_task(const curriculum::Params& p) {
    BaodingTask& t = config_.task;
    t.orbit.set(p);
    if (p.contains("rsi")) t.rsi = curriculum::fixed(p["rsi"]);
    if (p.contains("mass_low")) t.mass.low = p["mass_low"];
    if (p.contains("mass_high")) t.mass.high = p["mass_high"];
    if (p.contains("radius_low")) t.radius.low = p["radius_low"];
    if (p.contains("radius_high")) t.radius.high = p["radius_high"];
    if (p.contains("friction_spread")) t.friction_spread = p["friction_spread"];
    check_task(t);
  }
  const BaodingTask& task() const noexcept { return config_.task; }

  // ------------------------------------------------------------------ episodes
  Observation reset(Rng& rng) {
    const BaodingTask& t = config_.task;
    auto draw = [&](const curriculum::Value& v) { return v.low == v.high ? v.low : rng.uniform(v.low, v.high); };
    orbit_ = t.orbit.draw(rng, std::numbers::pi / 4);
    bool start_on_targets = false;
    if (t.rsi.high > 0) {
      const double probability = draw(t.rsi);
      start_on_targets = rng.uniform(0.0, 1.0) < probability;
    }
    Eigen::VectorXd physics(physics_size);
    for (int b : {0, 1}) {
      physics(b) = draw(t.mass);
      physics(2 + b) = draw(t.radius);
      for (int k = 0; k < 3; ++k)
        physics(4 + 3 * b + k) = nominal_friction_[b][k] *
                                 (t.friction_spread > 0 ? rng.uniform(1 - t.friction_spread, 1 + t.friction_spread) : 1.0);
    }
    env_.use_body(physics);
    env_.reset(rng);
    if (start_on_targets) {  // the balls start at rest on their targets (the hand as reset)
      Env::State s = env_.state();
      for (int b : {0, 1}) {
        const Eigen::Vector3d target = target_position(b, 0, env_.observed_data());
        for (int k = 0; k < 3; ++k) s(ball_qpos_[b] + k) = target(k);
      }
      env_.set_state(s);
    }
    tally_ = {};
    dropped_ = false;
    Observation o(observation_length);
    write_observation(0, o.data());
    return o;
  }

  /// Allocation-free step (VectorEnv uses it).
  template <class Derived>
  void step(const Eigen::MatrixBase<Derived>& a, Step<spindle::dynamic, float>& out) {
    env_.step(a, inner_);
    const long k = env_.episode_steps() - 1;  // the targets this step moved towards
    out.observation.resize(observation_length);
    const Terms r = write_observation(k, out.observation.data());
    const mjModel& m = *env_.model();
    const mjData& d = env_.observed_data();
    const double act_norm = activation_norm(m, d);
    tally_.record(act_norm, r.solved);
    dropped_ = r.fall;
    const BaodingWeights& w = config_.weights;
    out.reward = env_.unstable() ? 0.0f
                                 : static_cast<float>(-w.pos_dist_1 * r.d1 - w.pos_dist_2 * r.d2 + w.alive * (r.fall ? 0.0 : 1.0) +
                                                      w.solved * (r.solved ? 1.0 : 0.0) - w.act_reg * act_norm);
    out.terminated = !env_.unstable() && r.fall;
    out.truncated = inner_.truncated;
  }
  template <class Derived>
  Step<spindle::dynamic, float> step(const Eigen::MatrixBase<Derived>& a) {
    Step<spindle::dynamic, float> out;
    step(a, out);
    return out;
  }

  // ------------------------------------------------------------------ metrics
  /// Both balls within 0.015 m of their targets after the latest step, none dropped.
  bool solved() const noexcept { return tally_.solved; }
  /// Solved on at least success_fraction of the episode's steps so far, without a drop.
  bool success() const noexcept {
    return !dropped_ && env_.episode_steps() > 0 &&
           static_cast<double>(tally_.solved_steps) >= config_.success_fraction * static_cast<double>(env_.episode_steps());
  }
  /// MyoSuite's score: solved steps / max_episode_steps (a drop leaves the rest unsolved).
  double score() const noexcept { return static_cast<double>(tally_.solved_steps) / static_cast<double>(config_.max_episode_steps); }
  /// MyoSuite's effort: the mean over the episode's steps of ‖act‖₂ / na.
  double effort() const noexcept { return tally_.effort(env_.episode_steps()); }
  /// The mean over the episode's steps of the mean squared activation.
  double mean_squared_activation() const noexcept { return env_.episode_effort(); }

  /// The ball physics of this episode: masses (2), radii (2), frictions (2 × 3).
  const Eigen::VectorXd& privileged() const noexcept { return env_.privileged(); }
  Eigen::Index privileged_size() const noexcept { return physics_size; }

  /// The world position of target b (0, 1) after k steps of this episode, in the hand's pose of `d`.
  Eigen::Vector3d target_position(int b, long k, const mjData& d) const {
    const double dt = env_.config().frame_skip * env_.model()->opt.timestep;
    const Eigen::Vector2d xy = orbit_.point(k, dt, b == 0 ? 0.0 : std::numbers::pi);  // φ2 = φ1 − π
    const Eigen::Vector3d local(xy(0) + center_x, xy(1) + center_y, target_z);
    const int body = env_.model()->site_bodyid[target_site_[b]];
    const Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>> R(d.xmat + 9 * body);
    return Eigen::Map<const Eigen::Vector3d>(d.xpos + 3 * body) + R * local;
  }
  /// This episode's orbit of the targets (period, direction, start phase φ1, radii).
  const Orbit& orbit() const noexcept { return orbit_; }

  // ------------------------------------------------------------------ the rest
  const Env& env() const noexcept { return env_; }
  Env& env() noexcept { return env_; }
  bool unstable() const noexcept { return env_.unstable(); }
  double physics_seconds() const noexcept { return env_.physics_seconds(); }

  void save_state(StateWords& out) const {
    env_.save_state(out);
    orbit_.save(out);
    tally_.save(out);
    put_word(out, std::int64_t{dropped_});
    const BaodingTask& t = config_.task;
    t.orbit.save(out);
    for (const curriculum::Value* v : {&t.rsi, &t.mass, &t.radius}) {
      put_word(out, v->low);
      put_word(out, v->high);
    }
    put_word(out, t.friction_spread);
  }
  void load_state(StateReader& in) {
    env_.load_state(in);
    orbit_.load(in);
    tally_.load(in);
    dropped_ = in.integer() != 0;
    BaodingTask& t = config_.task;
    t.orbit.load(in);
    for (curriculum::Value* v : {&t.rsi, &t.mass, &t.radius}) {
      v->low = in.real();
      v->high = in.real();
    }
    t.friction_spread = in.real();
  }

 private:
  struct Terms {
    double d1 = 0, d2 = 0;
    bool fall = false, solved = false;
  };

  static void check_task(const BaodingTask& t) {
    auto bad = [](const std::string& what) { throw std::invalid_argument("myosuite::Baoding: " + what); };
    t.orbit.check("myosuite::Baoding");
    for (const auto& [name, v] : {std::pair{"mass", t.mass}, std::pair{"radius", t.radius}})
      if (!(v.low > 0 && v.low <= v.high)) bad(std::string(name) + " must be a positive range (low ≤ high)");
    if (!(t.rsi.low >= 0 && t.rsi.high <= 1)) bad("rsi is a probability in [0, 1]");
    if (!(t.friction_spread >= 0 && t.friction_spread < 1)) bad("friction_spread lies in [0, 1)");
  }

  static Env make_env(const BaodingConfig& c) {
    check_task(c.task);
    if (c.max_episode_steps <= 0) throw std::invalid_argument("myosuite::Baoding: max_episode_steps must be positive");
    Model model = Model::from_file(c.model);
    const int pro_sup = model.joint("pro_sup").id;
    const int pro_sup_qpos = model->jnt_qposadr[pro_sup];
    const int geoms[2] = {model.geom("ball1").id, model.geom("ball2").id};
    const int bodies[2] = {model.body("ball1").id, model.body("ball2").id};
    Morphology balls;
    balls.size = physics_size;
    balls.build = [nominal = model, geoms, bodies](const Eigen::VectorXd& p) {
      return nominal.edited([&](mjModel& m) {  // as MyoSuite: mass and geom size only (inertia, rbound kept)
        for (int b : {0, 1}) {
          m.body_mass[bodies[b]] = p(b);
          m.geom_size[3 * geoms[b]] = p(2 + b);
          for (int k = 0; k < 3; ++k) m.geom_friction[3 * geoms[b] + k] = p(4 + 3 * b + k);
        }
      });
    };
    EnvConfig config{.frame_skip = 10,
                     .max_episode_steps = c.max_episode_steps,
                     .observation = {obs::custom(1, [](const mjModel&, const mjData&, float* out) { out[0] = 0; })},
                     .morphology = balls,
                     .action_map = ActionMap::muscle_sigmoid,
                     .observe = c.full_forward ? Observe::copy_forward : Observe::copy_kinematics};
    // Reset: hand joints 0 except the forearm turned palm up; balls where the scene puts them.
    Task task{.reset = [pro_sup_qpos](const mjModel&, mjData& d, Rng&) { d.qpos[pro_sup_qpos] = -1.57; }};
    return Env(std::move(model), std::move(config), std::move(task));
  }

  /// Writes the 86 observations after k steps; returns the reward terms (from double values).
  Terms write_observation(long k, float* out) const {
    const mjModel& m = *env_.model();
    const mjData& d = env_.observed_data();
    const double dt = env_.config().frame_skip * m.opt.timestep;
    float* o = out;
    for (int i = 0; i < hand_joints_; ++i) *o++ = static_cast<float>(d.qpos[i]);
    Eigen::Vector3d ball[2], target[2];
    for (int b : {0, 1}) {
      ball[b] = Eigen::Map<const Eigen::Vector3d>(d.site_xpos + 3 * ball_site_[b]);
      target[b] = target_position(b, k, d);
      for (int i = 0; i < 3; ++i) *o++ = static_cast<float>(ball[b](i));
      for (int i = 0; i < 3; ++i) *o++ = static_cast<float>(d.qvel[ball_qvel_[b] + i] * dt);
    }
    for (int b : {0, 1})
      for (int i = 0; i < 3; ++i) *o++ = static_cast<float>(target[b](i));
    for (int b : {0, 1})
      for (int i = 0; i < 3; ++i) *o++ = static_cast<float>(target[b](i) - ball[b](i));
    for (int i = 0; i < m.na; ++i) *o++ = static_cast<float>(d.act[i]);
    Terms r;
    r.d1 = (target[0] - ball[0]).norm();
    r.d2 = (target[1] - ball[1]).norm();
    r.fall = ball[0](2) < drop_height || ball[1](2) < drop_height;
    r.solved = r.d1 < solve_distance && r.d2 < solve_distance && !r.fall;
    return r;
  }

  BaodingConfig config_;
  Env env_;
  Box<float> action_space_{-1.0f, 1.0f, 1};
  int hand_joints_ = 23;
  int ball_body_[2]{}, ball_geom_[2]{}, ball_site_[2]{}, target_site_[2]{}, ball_qpos_[2]{}, ball_qvel_[2]{};
  double nominal_friction_[2][3]{};
  Orbit orbit_{.phase = std::numbers::pi / 4};
  EpisodeTally tally_{};
  bool dropped_ = false;
  Step<spindle::dynamic, float> inner_{};
};

}  // namespace spindle::mujoco::myosuite
