#pragma once
// A planar runner (HalfCheetah-like: torso, two legs of thigh, shin and foot; 6 motors)
// generated from body parameters, running forward; no termination, 1000-step truncation.
// Morphology perturbation as the quadruped's (../shared/specs/dmap.md), 7 parameters: torso
// size, and per leg the limb size (capsule radius) and the thigh and shin lengths; masses
// follow from the density, children sit at the new segment ends, longer legs start higher.
// Reward (Gymnasium HalfCheetah): forward velocity − 0.1·|a|².
#include <array>
#include <sstream>
#include <string>

#include "../env.hpp"
#include "scenery.hpp"

namespace spindle::mujoco {

struct RunnerBody {
  double torso_radius = 0.046;
  std::array<double, 2> limb_radius{0.046, 0.046};   // back, front
  std::array<double, 2> thigh_length{0.29, 0.27};
  std::array<double, 2> shin_length{0.30, 0.21};
  static constexpr int parameters = 7;  // torso, radius ×2, thigh ×2, shin ×2
};

struct RunnerConfig {
  double sigma = 0.0;
  int frame_skip = 5;
  long episode_steps = 1000;
  double ctrl_cost = 0.1;
};

inline std::string runner_xml(const RunnerBody& b) {
  std::ostringstream x;
  x.precision(17);
  const double leg = std::max(b.thigh_length[0] + b.shin_length[0], b.thigh_length[1] + b.shin_length[1]);
  x << "<mujoco model=\"runner\">\n"
       "  <compiler angle=\"degree\" inertiafromgeom=\"true\"/>\n"
       "  <option timestep=\"0.01\"/>\n"
       "  <default><joint armature=\".1\" damping=\".01\" limited=\"true\" stiffness=\"8\"/>"
       "<geom conaffinity=\"0\" condim=\"3\" contype=\"1\" friction=\".4 .1 .1\" density=\"1000\"/></default>\n"
    << detail::scenery_assets <<
       "  <worldbody>\n" << detail::scenery_light <<
       "    <geom name=\"floor\" type=\"plane\" size=\"40 40 40\" conaffinity=\"1\" material=\"spindle_floor\"/>\n"
       "    <body name=\"torso\" pos=\"0 0 " << leg + 0.15 << "\">\n"
       "      <joint name=\"rootx\" type=\"slide\" axis=\"1 0 0\" limited=\"false\" armature=\"0\" damping=\"0\" stiffness=\"0\"/>\n"
       "      <joint name=\"rootz\" type=\"slide\" axis=\"0 0 1\" limited=\"false\" armature=\"0\" damping=\"0\" stiffness=\"0\"/>\n"
       "      <joint name=\"rooty\" type=\"hinge\" axis=\"0 1 0\" limited=\"false\" armature=\"0\" damping=\"0\" stiffness=\"0\"/>\n"
       "      <geom name=\"torso_geom\" type=\"capsule\" fromto=\"-.5 0 0 .5 0 0\" size=\"" << b.torso_radius << "\"/>\n";
  const std::array<const char*, 2> side{"b", "f"};
  const std::array<double, 2> hip_x{-0.5, 0.5};
  const std::array<const char*, 2> thigh_range{"-30 60", "-60 40"}, shin_range{"-45 45", "-70 50"}, foot_range{"-25 25", "-28 28"};
  for (std::size_t k = 0; k < 2; ++k) {
    const std::string s = side[k];
    const double r = b.limb_radius[k], t = b.thigh_length[k], h = b.shin_length[k];
    x << "      <body name=\"" << s << "thigh\" pos=\"" << hip_x[k] << " 0 0\">\n"
      << "        <joint name=\"" << s << "thigh\" type=\"hinge\" axis=\"0 1 0\" range=\"" << thigh_range[k] << "\"/>\n"
      << "        <geom fromto=\"0 0 0 0 0 " << -t << "\" size=\"" << r << "\" type=\"capsule\"/>\n"
      << "        <body name=\"" << s << "shin\" pos=\"0 0 " << -t << "\">\n"
      << "          <joint name=\"" << s << "shin\" type=\"hinge\" axis=\"0 1 0\" range=\"" << shin_range[k] << "\"/>\n"
      << "          <geom fromto=\"0 0 0 0 0 " << -h << "\" size=\"" << r << "\" type=\"capsule\"/>\n"
      << "          <body name=\"" << s << "foot\" pos=\"0 0 " << -h << "\">\n"
      << "            <joint name=\"" << s << "foot\" type=\"hinge\" axis=\"0 1 0\" range=\"" << foot_range[k] << "\"/>\n"
      << "            <geom name=\"" << s << "foot_geom\" fromto=\"0 0 0 .1 0 -.1\" size=\"" << r << "\" type=\"capsule\"/>\n"
      << "          </body>\n        </body>\n      </body>\n";
  }
  x << "    </body>\n  </worldbody>\n  <actuator>\n";
  const std::array<std::pair<const char*, int>, 6> motors{
      {{"bthigh", 120}, {"bshin", 90}, {"bfoot", 60}, {"fthigh", 120}, {"fshin", 60}, {"ffoot", 30}}};
  for (auto [joint, gear] : motors)
    x << "    <motor joint=\"" << joint << "\" ctrllimited=\"true\" ctrlrange=\"-1 1\" gear=\"" << gear << "\"/>\n";
  x << "  </actuator>\n</mujoco>\n";
  return x.str();
}

/// A body scaled by factors (torso, radius back/front, thigh back/front, shin back/front).
inline RunnerBody scaled(const RunnerBody& nominal, const Eigen::VectorXd& f) {
  RunnerBody b = nominal;
  b.torso_radius *= f(0);
  for (std::size_t k = 0; k < 2; ++k) {
    const auto i = static_cast<Eigen::Index>(k);
    b.limb_radius[k] *= f(1 + i);
    b.thigh_length[k] *= f(3 + i);
    b.shin_length[k] *= f(5 + i);
  }
  return b;
}

/// The runner task; with σ > 0 every reset draws a new body (Env::perturbation() holds p).
inline Env runner(const RunnerConfig& c = {}) {
  const RunnerBody nominal;
  Task task;
  task.reward = [c](const StepView& s) {
    double ctrl = 0;
    for (float a : s.action) ctrl += double(a) * double(a);
    return (s.data.qpos[0] - s.qpos_before[0]) / s.dt - c.ctrl_cost * ctrl;
  };
  EnvConfig e;
  e.frame_skip = c.frame_skip;
  e.max_episode_steps = c.episode_steps;
  e.reset_noise_qpos = 0.1;
  e.reset_noise_qvel = 0.1;
  e.observation = {obs::qpos(1), obs::qvel()};
  e.morphology.size = RunnerBody::parameters;  // privileged_size(): p, zero on the nominal body
  if (c.sigma > 0) {
    e.morphology.draw = uniform_perturbation(RunnerBody::parameters, c.sigma);
    e.morphology.build = [nominal](const Eigen::VectorXd& p) {
      return Model::from_xml(runner_xml(scaled(nominal, (1.0 + p.array()).matrix())), "runner.xml");
    };
  }
  return Env(Model::from_xml(runner_xml(nominal), "runner.xml"), e, task);
}

}  // namespace spindle::mujoco
