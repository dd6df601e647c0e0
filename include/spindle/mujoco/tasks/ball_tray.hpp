#pragma once
// A Baoding-like task sized for a 2-core machine: a square tray on a two-axis gimbal, tilted by
// four muscles (an antagonist pair per axis, first-order activation dynamics), must roll a ball
// along a target that circles on the tray. Like Baoding, the target orbit is fixed to the body
// that moves, a ball that leaves the tray ends the episode, and the same task parameters
// (period, direction, phase_mismatch, rx, ry, rsi, ball mass and friction) set the difficulty:
// holding the ball still at a target is learned quickly, following a fast orbit is not — the
// setting where a static-to-dynamic curriculum should matter.
//
//   mujoco::BallTray tray({.task = {.orbit = {.period = {2, 2}}}});
//
// Observation (20): tray angles (2) and angular velocities (2), ball position (3) and velocity
// (3) in the tray's frame, target position (3) and target − ball (3) in the tray's frame,
// muscle activations (4). Reward (the Baoding winners' shape): −distance_weight·d + alive·[on
// the tray] + solved·[d < solve_distance]. 200 steps of 0.02 s (4 s).
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "../../curriculum/scheduler.hpp"
#include "../env.hpp"
#include "scenery.hpp"
#include "orbit.hpp"

namespace spindle::mujoco {

struct BallTrayTask {
  OrbitRanges orbit{.period = {1e9, 1e9}, .direction = {1, 1}, .phase_mismatch = {0, 0}, .rx = {0.06, 0.06}, .ry = {0.06, 0.06}};
  curriculum::Value rsi{0, 0};       // probability that the ball starts on the target
  curriculum::Value mass{0.05, 0.05};  // kg
  double friction_spread = 0;        // sliding and rolling friction × U(1 ± spread)
  /// The final task: one revolution in `period` seconds, counter-clockwise, from the ball's place.
  static BallTrayTask moving(double period) {
    BallTrayTask t;
    t.orbit.period = curriculum::fixed(period);
    return t;
  }
  /// A phase-2-like harder variant: either direction or holding, any start phase, radii and
  /// period spread, heavier or lighter balls, friction ± 20%.
  static BallTrayTask varied(double period) {
    BallTrayTask t;
    t.orbit = {.period = {0.8 * period, 1.2 * period}, .direction = {-1.5, 1.5}, .phase_mismatch = {1, 1},
               .rx = {0.05, 0.07}, .ry = {0.05, 0.07}};
    t.mass = {0.03, 0.1};
    t.friction_spread = 0.2;
    return t;
  }
};

struct BallTrayConfig {
  BallTrayTask task{};  // static hold by default
  double muscle_force = 0.6;      // peak force of each muscle (moment arm 1: N·m)
  double tilt_range = 0.35;       // rad, each axis
  double tray_half_size = 0.15;   // m
  double ball_radius = 0.02;      // m
  double ball_start = 0.06;       // the ball starts at (ball_start, 0) on the tray: the orbit's phase 0
  double distance_weight = 10, alive = 1, solved = 5, solve_distance = 0.02;
  long episode_steps = 200;
  double success_fraction = 0.5;  // success(): solved on at least this fraction of the steps, ball kept
};

/// The tray's MJCF.
inline std::string ball_tray_xml(const BallTrayConfig& c = {}) {
  auto num = [](double x) { return std::to_string(x); };
  const std::string half = num(c.tray_half_size), r = num(c.ball_radius), range = num(c.tilt_range);
  const double top = 0.5 + 0.005;
  auto muscle = [&](const std::string& name) {
    return "    <muscle name=\"" + name + "\" tendon=\"" + name + "\" force=\"" + num(c.muscle_force) +
           "\" ctrllimited=\"true\" ctrlrange=\"0 1\"/>\n";
  };
  return "<mujoco model=\"ball_tray\">\n"
         "  <compiler angle=\"radian\"/>\n"
         "  <option timestep=\"0.002\"/>\n"
         "  <default><joint type=\"hinge\" limited=\"true\" range=\"-" + range + " " + range + "\" damping=\"0.02\"/></default>\n" +
         std::string(detail::scenery_assets) +
         "  <worldbody>\n"
         "    <body name=\"gimbal\" pos=\"0 0 0.5\">\n"
         "      <joint name=\"tilt_x\" axis=\"1 0 0\"/>\n"
         "      <geom type=\"sphere\" size=\"0.01\" mass=\"0.05\" contype=\"0\" conaffinity=\"0\"/>\n"
         "      <body name=\"tray\">\n"
         "        <joint name=\"tilt_y\" axis=\"0 1 0\"/>\n"
         "        <geom name=\"tray\" type=\"box\" pos=\"0 0 0\" size=\"" + half + " " + half + " 0.005\" mass=\"0.4\" friction=\"1 0.005 0.0001\"/>\n"
         "      </body>\n"
         "    </body>\n"
         "    <body name=\"ball\" pos=\"" + num(c.ball_start) + " 0 " + num(top + c.ball_radius) + "\">\n"
         "      <freejoint/>\n"
         "      <geom name=\"ball\" type=\"sphere\" size=\"" + r + "\" mass=\"0.05\" condim=\"4\" friction=\"1 0.005 0.0001\"/>\n"
         "    </body>\n"
         "  </worldbody>\n"
         "  <tendon>\n"
         "    <fixed name=\"x_plus\"><joint joint=\"tilt_x\" coef=\"-1\"/></fixed>\n"
         "    <fixed name=\"x_minus\"><joint joint=\"tilt_x\" coef=\"1\"/></fixed>\n"
         "    <fixed name=\"y_plus\"><joint joint=\"tilt_y\" coef=\"-1\"/></fixed>\n"
         "    <fixed name=\"y_minus\"><joint joint=\"tilt_y\" coef=\"1\"/></fixed>\n"
         "  </tendon>\n"
         "  <actuator>\n" +
         muscle("x_plus") + muscle("x_minus") + muscle("y_plus") + muscle("y_minus") +
         "  </actuator>\n"
         "</mujoco>\n";
}

class BallTray {
 public:
  static constexpr int obs_dim = 20, act_dim = 4;
  using Observation = Eigen::Matrix<float, 20, 1>;
  using Action = Eigen::Matrix<float, 4, 1>;

  explicit BallTray(BallTrayConfig config = {}) : config_(std::move(config)), env_(make_env(config_)) {
    const Model& m = env_.model();
    tray_ = m.body("tray").id;
    ball_ = m.body("ball").id;
    ball_geom_ = m.geom("ball").id;
    const int joint = m->body_jntadr[ball_];
    ball_qpos_ = m->jnt_qposadr[joint];
    ball_qvel_ = m->jnt_dofadr[joint];
    for (int k = 0; k < 3; ++k) nominal_friction_[k] = m->geom_friction[3 * ball_geom_ + k];
  }

  const Box<float>& action_space() const noexcept { return action_space_; }

  static std::vector<std::string> task_parameters() {
    return {"period", "direction", "phase_mismatch", "rx", "ry", "rsi", "mass_low", "mass_high", "friction_spread"};
  }
  void set_task(const curriculum::Params& p) {
    BallTrayTask& t = config_.task;
    t.orbit.set(p);
    if (p.contains("rsi")) t.rsi = curriculum::fixed(p["rsi"]);
    if (p.contains("mass_low")) t.mass.low = p["mass_low"];
    if (p.contains("mass_high")) t.mass.high = p["mass_high"];
    if (p.contains("friction_spread")) t.friction_spread = p["friction_spread"];
    check_task(t);
  }
  const BallTrayTask& task() const noexcept { return config_.task; }

  Observation reset(Rng& rng) {
    const BallTrayTask& t = config_.task;
    auto draw = [&](const curriculum::Value& v) { return v.low == v.high ? v.low : rng.uniform(v.low, v.high); };
    orbit_ = t.orbit.draw(rng, 0.0);
    bool start_on_target = false;
    if (t.rsi.high > 0) {
      const double probability = draw(t.rsi);
      start_on_target = rng.uniform(0.0, 1.0) < probability;
    }
    Eigen::VectorXd physics(3);
    physics(0) = draw(t.mass);
    for (int k = 0; k < 2; ++k)
      physics(1 + k) = nominal_friction_[2 * k] * (t.friction_spread > 0 ? rng.uniform(1 - t.friction_spread, 1 + t.friction_spread) : 1.0);
    env_.use_body(physics);
    env_.reset(rng);
    if (start_on_target) {
      Env::State s = env_.state();
      const Eigen::Vector2d xy = orbit_.point(0, dt());
      s(ball_qpos_) = xy(0);
      s(ball_qpos_ + 1) = xy(1);
      env_.set_state(s);
    }
    solved_steps_ = 0;
    solved_ = dropped_ = false;
    Observation o;
    write_observation(0, o.data());
    return o;
  }

  Step<20> step(const Action& a) {
    Step<20> out;
    env_.step(a, inner_);
    const Terms r = write_observation(env_.episode_steps() - 1, out.observation.data());
    dropped_ = r.dropped;
    solved_ = r.solved;
    solved_steps_ += r.solved ? 1 : 0;
    out.reward = env_.unstable() ? 0.0f
                                 : static_cast<float>(-config_.distance_weight * r.d + config_.alive * (r.dropped ? 0.0 : 1.0) +
                                                      config_.solved * (r.solved ? 1.0 : 0.0));
    out.terminated = !env_.unstable() && r.dropped;
    out.truncated = inner_.truncated;
    return out;
  }

  bool solved() const noexcept { return solved_; }
  bool success() const noexcept {
    return !dropped_ && env_.episode_steps() > 0 &&
           static_cast<double>(solved_steps_) >= config_.success_fraction * static_cast<double>(env_.episode_steps());
  }
  /// Solved steps / episode_steps (a dropped ball leaves the rest unsolved), as Baoding's score.
  double score() const noexcept { return static_cast<double>(solved_steps_) / static_cast<double>(config_.episode_steps); }
  const Orbit& orbit() const noexcept { return orbit_; }
  /// The ball's physics this episode (mass, sliding and rolling friction): privileged information.
  const Eigen::VectorXd& privileged() const noexcept { return env_.privileged(); }
  Eigen::Index privileged_size() const noexcept { return 3; }
  const Env& env() const noexcept { return env_; }
  double physics_seconds() const noexcept { return env_.physics_seconds(); }

  void save_state(StateWords& out) const {
    env_.save_state(out);
    orbit_.save(out);
    put_word(out, std::int64_t{solved_steps_});
    put_word(out, std::int64_t{solved_});
    put_word(out, std::int64_t{dropped_});
    const BallTrayTask& t = config_.task;
    t.orbit.save(out);
    for (double v : {t.rsi.low, t.rsi.high, t.mass.low, t.mass.high, t.friction_spread}) put_word(out, v);
  }
  void load_state(StateReader& in) {
    env_.load_state(in);
    orbit_.load(in);
    solved_steps_ = in.integer();
    solved_ = in.integer() != 0;
    dropped_ = in.integer() != 0;
    BallTrayTask& t = config_.task;
    t.orbit.load(in);
    for (double* v : {&t.rsi.low, &t.rsi.high, &t.mass.low, &t.mass.high, &t.friction_spread}) *v = in.real();
  }

 private:
  struct Terms {
    double d = 0;
    bool dropped = false, solved = false;
  };
  double dt() const noexcept { return env_.config().frame_skip * env_.model()->opt.timestep; }

  static void check_task(const BallTrayTask& t) {
    t.orbit.check("BallTray");
    if (!(t.rsi.low >= 0 && t.rsi.high <= 1)) throw std::invalid_argument("BallTray: rsi is a probability in [0, 1]");
    if (!(t.mass.low > 0 && t.mass.low <= t.mass.high)) throw std::invalid_argument("BallTray: mass must be a positive range");
    if (!(t.friction_spread >= 0 && t.friction_spread < 1)) throw std::invalid_argument("BallTray: friction_spread lies in [0, 1)");
  }

  static Env make_env(const BallTrayConfig& c) {
    check_task(c.task);
    Model model = Model::from_xml(ball_tray_xml(c), "ball_tray.xml");
    const int ball_body = model.body("ball").id, ball_geom = model.geom("ball").id;
    Morphology ball;
    ball.size = 3;
    ball.build = [nominal = model, ball_body, ball_geom](const Eigen::VectorXd& p) {
      return nominal.edited([&](mjModel& m) {
        const double scale = p(0) / m.body_mass[ball_body];  // a solid ball: inertia scales with mass
        m.body_mass[ball_body] = p(0);
        for (int k = 0; k < 3; ++k) m.body_inertia[3 * ball_body + k] *= scale;
        m.geom_friction[3 * ball_geom] = p(1);
        m.geom_friction[3 * ball_geom + 2] = p(2);
      });
    };
    EnvConfig config{.frame_skip = 10,
                     .max_episode_steps = c.episode_steps,
                     .observation = {obs::custom(1, [](const mjModel&, const mjData&, float* out) { out[0] = 0; })},
                     .morphology = ball};
    return Env(std::move(model), std::move(config));
  }

  /// The 20 observations after k steps (tray frame); the reward terms.
  Terms write_observation(long k, float* out) const {
    const mjModel& m = *env_.model();
    const mjData& d = env_.data();
    const Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>> R(d.xmat + 9 * tray_);
    const Eigen::Map<const Eigen::Vector3d> origin(d.xpos + 3 * tray_);
    const Eigen::Vector3d ball = R.transpose() * (Eigen::Map<const Eigen::Vector3d>(d.xpos + 3 * ball_) - origin);
    const Eigen::Vector3d velocity = R.transpose() * Eigen::Map<const Eigen::Vector3d>(d.qvel + ball_qvel_);
    const Eigen::Vector2d xy = orbit_.point(k, dt());
    const Eigen::Vector3d target(xy(0), xy(1), 0.005 + config_.ball_radius);
    float* o = out;
    for (int j = 0; j < 2; ++j) *o++ = static_cast<float>(d.qpos[j]);
    for (int j = 0; j < 2; ++j) *o++ = static_cast<float>(d.qvel[j]);
    for (int i = 0; i < 3; ++i) *o++ = static_cast<float>(ball(i));
    for (int i = 0; i < 3; ++i) *o++ = static_cast<float>(velocity(i));
    for (int i = 0; i < 3; ++i) *o++ = static_cast<float>(target(i));
    for (int i = 0; i < 3; ++i) *o++ = static_cast<float>(target(i) - ball(i));
    for (int i = 0; i < m.na; ++i) *o++ = static_cast<float>(d.act[i]);
    Terms r;
    r.d = (target - ball).norm();
    r.dropped = ball(2) < 0 || std::abs(ball(0)) > config_.tray_half_size + config_.ball_radius ||
                std::abs(ball(1)) > config_.tray_half_size + config_.ball_radius;
    r.solved = !r.dropped && r.d < config_.solve_distance;
    return r;
  }

  BallTrayConfig config_;
  Env env_;
  Box<float> action_space_{-1.0f, 1.0f, 4};
  int tray_ = 0, ball_ = 0, ball_geom_ = 0, ball_qpos_ = 0, ball_qvel_ = 0;
  double nominal_friction_[3]{};
  Orbit orbit_{};
  long solved_steps_ = 0;
  bool solved_ = false, dropped_ = false;
  Step<spindle::dynamic, float> inner_{};
};

}  // namespace spindle::mujoco
