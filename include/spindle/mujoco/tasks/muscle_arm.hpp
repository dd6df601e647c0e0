#pragma once
// A planar two-joint arm driven by MuJoCo muscle actuators, reaching random targets.
//
// Shoulder and elbow hinges (limited ranges) are spanned by six muscles on fixed tendons:
// a flexor/extensor pair for each joint and a bi-articular pair over both (over-actuated,
// as real limbs are: the setting where Lattice's correlated noise helps). The target is a
// mocap body placed uniformly in the reachable annulus at each reset, so it lives in each
// copy's mjData. Observation: joint angles and velocities, muscle activations, hand and
// target positions (x, y). Reward per step: −distance − effort_weight · mean(activation²),
// plus success_bonus while within `tolerance`. Task::success reports the final distance test;
// Env::episode_effort() the episode's mean squared activation.
#include <cmath>
#include <numbers>
#include <string>

#include "../env.hpp"
#include "scenery.hpp"

namespace spindle::mujoco {

struct MuscleArmConfig {
  double upper_length = 0.3, lower_length = 0.3;
  double muscle_force = 5.0;   // peak isometric force, every muscle (moment arm 1: N·m)
  double tolerance = 0.05;     // m
  double success_bonus = 1.0;
  double effort_weight = 0.1;
  int frame_skip = 5;          // 0.002 s timestep: 100 Hz control
  long episode_steps = 100;    // 1 s
};

/// The arm's MJCF (muscles on fixed tendons, mocap target).
inline std::string muscle_arm_xml(const MuscleArmConfig& c = {}) {
  const std::string u = std::to_string(c.upper_length), l = std::to_string(c.lower_length);
  const std::string f = std::to_string(c.muscle_force);
  auto muscle = [&](const std::string& name) {
    return "    <muscle name=\"" + name + "\" tendon=\"" + name + "\" force=\"" + f + "\" ctrllimited=\"true\" ctrlrange=\"0 1\"/>\n";
  };
  auto tendon = [](const std::string& name, int shoulder, int elbow) {
    std::string s = "    <fixed name=\"" + name + "\">";
    if (shoulder) s += "<joint joint=\"shoulder\" coef=\"" + std::to_string(shoulder) + "\"/>";
    if (elbow) s += "<joint joint=\"elbow\" coef=\"" + std::to_string(elbow) + "\"/>";
    return s + "</fixed>\n";
  };
  return "<mujoco model=\"muscle_arm\">\n"
         "  <compiler angle=\"radian\"/>\n"
         "  <option timestep=\"0.002\" gravity=\"0 0 0\"/>\n"
         "  <default><joint damping=\"0.2\" limited=\"true\"/><geom contype=\"0\" conaffinity=\"0\" density=\"1000\"/></default>\n" +
         std::string(detail::scenery_assets) +
         "  <worldbody>\n"
         "    <body name=\"upper\">\n"
         "      <joint name=\"shoulder\" type=\"hinge\" axis=\"0 0 1\" range=\"-1.57 1.57\"/>\n"
         "      <geom type=\"capsule\" fromto=\"0 0 0 " + u + " 0 0\" size=\"0.025\"/>\n"
         "      <body name=\"lower\" pos=\"" + u + " 0 0\">\n"
         "        <joint name=\"elbow\" type=\"hinge\" axis=\"0 0 1\" range=\"0 2.6\"/>\n"
         "        <geom type=\"capsule\" fromto=\"0 0 0 " + l + " 0 0\" size=\"0.02\"/>\n"
         "        <body name=\"hand\" pos=\"" + l + " 0 0\"><geom type=\"sphere\" size=\"0.02\"/></body>\n"
         "      </body>\n"
         "    </body>\n"
         "    <body name=\"target\" mocap=\"true\" pos=\"0.4 0.2 0\"><geom type=\"sphere\" size=\"0.02\" rgba=\"1 0 0 0.5\"/></body>\n"
         "  </worldbody>\n"
         "  <tendon>\n" +
         tendon("shoulder_flexor", -1, 0) + tendon("shoulder_extensor", 1, 0) + tendon("elbow_flexor", 0, -1) +
         tendon("elbow_extensor", 0, 1) + tendon("biarticular_flexor", -1, -1) + tendon("biarticular_extensor", 1, 1) +
         "  </tendon>\n"
         "  <actuator>\n" +
         muscle("shoulder_flexor") + muscle("shoulder_extensor") + muscle("elbow_flexor") + muscle("elbow_extensor") +
         muscle("biarticular_flexor") + muscle("biarticular_extensor") +
         "  </actuator>\n"
         "</mujoco>\n";
}

namespace detail {
inline double hand_target_distance(int hand, const mjData& d) {
  const double dx = d.xpos[3 * hand] - d.mocap_pos[0], dy = d.xpos[3 * hand + 1] - d.mocap_pos[1];
  return std::sqrt(dx * dx + dy * dy);
}
}  // namespace detail

/// The reaching task as an Env (actions in [−1, 1] map onto each muscle's excitation in [0, 1]).
inline Env muscle_arm(const MuscleArmConfig& c = {}) {
  Model model = Model::from_xml(muscle_arm_xml(c), "muscle_arm.xml");
  const int hand = model.id(mjOBJ_BODY, "hand");
  Task task;
  task.reset = [c](const mjModel&, mjData& d, Rng& rng) {
    // uniform over the reachable annulus in the arm's half plane (x > 0)
    const double r_min = std::abs(c.upper_length - c.lower_length) + 0.1, r_max = c.upper_length + c.lower_length - 0.02;
    const double r = std::sqrt(rng.uniform<double>(r_min * r_min, r_max * r_max));
    const double phi = rng.uniform<double>(-std::numbers::pi / 2, std::numbers::pi / 2);
    d.mocap_pos[0] = r * std::cos(phi);
    d.mocap_pos[1] = r * std::sin(phi);
    d.mocap_pos[2] = 0;
  };
  task.reward = [c, hand](const StepView& s) {
    const double dist = detail::hand_target_distance(hand, s.data);
    return -dist - c.effort_weight * mean_squared_activation(s.model, s.data) +
           (dist < c.tolerance ? c.success_bonus : 0.0);
  };
  task.success = [c, hand](const StepView& s) { return detail::hand_target_distance(hand, s.data) < c.tolerance; };
  EnvConfig e;
  e.frame_skip = c.frame_skip;
  e.max_episode_steps = c.episode_steps;
  e.reset_noise_qpos = 0.05;
  e.reset_noise_qvel = 0.05;
  e.observation = {obs::qpos(), obs::qvel(), obs::activations(),
                   obs::custom(2, [hand](const mjModel&, const mjData& d, float* out) {
                     out[0] = static_cast<float>(d.xpos[3 * hand]);
                     out[1] = static_cast<float>(d.xpos[3 * hand + 1]);
                   }),
                   obs::custom(2, [](const mjModel&, const mjData& d, float* out) {
                     out[0] = static_cast<float>(d.mocap_pos[0]);
                     out[1] = static_cast<float>(d.mocap_pos[1]);
                   })};
  return Env(std::move(model), e, task);
}

}  // namespace spindle::mujoco
