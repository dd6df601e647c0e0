#pragma once
// An Ant-like quadruped generated from body parameters, walking forward, with DMAP's
// morphology perturbation (../shared/specs/dmap.md): per episode each of its 9 parameters —
// torso size, and per leg the limb size (capsule radius) and limb length (thigh and shin) — is
// scaled by (1 + p), p ~ U[−σ, σ]. Masses follow from a fixed density (MuJoCo computes inertia
// from the geoms); child bodies sit at the new segment ends; the torso starts higher when legs
// grow. Without mjSpec the MJCF is regenerated and compiled (VFS) at each reset; σ = 0 compiles
// the nominal text, so it is bit-identical to the nominal model.
//
// Reward (Gymnasium Ant): forward velocity of the torso + healthy bonus − 0.5·|a|² − 5e-4·|clip(contact forces)|²;
// terminated when the torso leaves the healthy height range; truncated at 1000 steps.
#include <array>
#include <cmath>
#include <sstream>
#include <string>

#include "../env.hpp"
#include "scenery.hpp"

namespace spindle::mujoco {

struct QuadrupedBody {
  double torso_radius = 0.25;
  std::array<double, 4> limb_radius{0.08, 0.08, 0.08, 0.08};
  std::array<double, 4> limb_length{0.2828, 0.2828, 0.2828, 0.2828};  // thigh; the shin is twice as long
  double hip_length = 0.2828;                                          // torso to hip, not perturbed

  /// The 9 factors (1 + p) that turn the nominal body into this one: torso, radius ×4, length ×4.
  static constexpr int parameters = 9;
};

struct QuadrupedConfig {
  double sigma = 0.0;  // perturbation range: p ~ U[−σ, σ] per parameter, per episode
  int frame_skip = 5;
  long episode_steps = 1000;
  double healthy_z_min = 0.2, healthy_z_max = 1.0;  // for the nominal body; scaled with its start height
  double ctrl_cost = 0.5, contact_cost = 5e-4, healthy_reward = 1.0;
};

/// The MJCF text of a body.
inline std::string quadruped_xml(const QuadrupedBody& b) {
  std::ostringstream x;
  x.precision(17);
  const double start_z = 0.75 * (b.limb_radius[0] + b.limb_length[0]) / (0.08 + 0.2828);
  x << "<mujoco model=\"quadruped\">\n"
       "  <compiler angle=\"degree\" inertiafromgeom=\"true\"/>\n"
       "  <option timestep=\"0.01\" integrator=\"RK4\"/>\n"
       "  <default><joint armature=\"1\" damping=\"1\" limited=\"true\"/>"
       "<geom conaffinity=\"0\" condim=\"3\" density=\"5.0\" friction=\"1 0.5 0.5\" margin=\"0.01\"/></default>\n"
    << detail::scenery_assets <<
       "  <worldbody>\n" << detail::scenery_light <<
       "    <geom name=\"floor\" type=\"plane\" size=\"40 40 40\" conaffinity=\"1\" material=\"spindle_floor\"/>\n"
       "    <body name=\"torso\" pos=\"0 0 " << start_z << "\">\n"
       "      <geom name=\"torso_geom\" type=\"sphere\" size=\"" << b.torso_radius << "\"/>\n"
       "      <joint name=\"root\" type=\"free\" armature=\"0\" damping=\"0\" limited=\"false\" margin=\"0.01\"/>\n";
  const std::array<std::array<int, 2>, 4> dir{{{1, 1}, {-1, 1}, {-1, -1}, {1, -1}}};
  for (int k = 0; k < 4; ++k) {
    const double dx = dir[static_cast<std::size_t>(k)][0] * std::sqrt(0.5), dy = dir[static_cast<std::size_t>(k)][1] * std::sqrt(0.5);
    const double r = b.limb_radius[static_cast<std::size_t>(k)], L = b.limb_length[static_cast<std::size_t>(k)];
    const double h = b.hip_length + (b.torso_radius - 0.25);  // the hip stays on the torso's surface
    const std::string n = std::to_string(k + 1);
    x << "      <body name=\"leg" << n << "\">\n"
      << "        <geom fromto=\"0 0 0 " << h * dx << ' ' << h * dy << " 0\" size=\"" << r << "\" type=\"capsule\"/>\n"
      << "        <body name=\"thigh" << n << "\" pos=\"" << h * dx << ' ' << h * dy << " 0\">\n"
      << "          <joint name=\"hip" << n << "\" type=\"hinge\" axis=\"0 0 1\" range=\"-30 30\"/>\n"
      << "          <geom fromto=\"0 0 0 " << L * dx << ' ' << L * dy << " 0\" size=\"" << r << "\" type=\"capsule\"/>\n"
      << "          <body name=\"shin" << n << "\" pos=\"" << L * dx << ' ' << L * dy << " 0\">\n"
      // The axis ẑ × leg direction makes positive angles bend every shin down (Ant's 30..70 degrees).
      << "            <joint name=\"ankle" << n << "\" type=\"hinge\" axis=\"" << -dy << ' ' << dx << " 0\" range=\"30 70\"/>\n"
      << "            <geom name=\"foot" << n << "\" fromto=\"0 0 0 " << 2 * L * dx << ' ' << 2 * L * dy << " 0\" size=\"" << r
      << "\" type=\"capsule\"/>\n"
      << "          </body>\n        </body>\n      </body>\n";
  }
  x << "    </body>\n  </worldbody>\n  <actuator>\n";
  for (int k = 1; k <= 4; ++k)
    x << "    <motor joint=\"hip" << k << "\" ctrllimited=\"true\" ctrlrange=\"-1 1\" gear=\"150\"/>\n"
      << "    <motor joint=\"ankle" << k << "\" ctrllimited=\"true\" ctrlrange=\"-1 1\" gear=\"150\"/>\n";
  x << "  </actuator>\n</mujoco>\n";
  return x.str();
}

/// A body scaled by factors (torso, radius ×4, length ×4), e.g. 1 + p.
inline QuadrupedBody scaled(const QuadrupedBody& nominal, const Eigen::VectorXd& factors) {
  QuadrupedBody b = nominal;
  b.torso_radius *= factors(0);
  for (std::size_t k = 0; k < 4; ++k) {
    b.limb_radius[k] *= factors(static_cast<Eigen::Index>(1 + k));
    b.limb_length[k] *= factors(static_cast<Eigen::Index>(5 + k));
  }
  return b;
}

/// The quadruped task; with σ > 0 every reset draws a new body (Env::perturbation() holds p).
inline Env quadruped(const QuadrupedConfig& c = {}) {
  const QuadrupedBody nominal;
  Model model = Model::from_xml(quadruped_xml(nominal), "quadruped.xml");
  Task task;
  task.reward = [c](const StepView& s) {
    const double forward = (s.data.qpos[0] - s.qpos_before[0]) / s.dt;
    double ctrl = 0;
    for (float a : s.action) ctrl += double(a) * double(a);
    double contact = 0;
    for (int i = 0; i < 6 * s.model.nbody; ++i) {
      const double f = std::clamp(s.data.cfrc_ext[i], -1.0, 1.0);
      contact += f * f;
    }
    return forward + c.healthy_reward - c.ctrl_cost * ctrl - c.contact_cost * contact;
  };
  task.terminated = [c](const StepView& s) {
    const double scale = s.model.qpos0[2] / 0.75;  // taller bodies stand higher
    const double z = s.data.qpos[2];
    return !(std::isfinite(z) && z >= c.healthy_z_min * scale && z <= c.healthy_z_max * scale);
  };
  EnvConfig e;
  e.frame_skip = c.frame_skip;
  e.max_episode_steps = c.episode_steps;
  e.reset_noise_qpos = 0.1;
  e.reset_noise_qvel = 0.1;
  e.observation = {obs::qpos(2), obs::qvel(), obs::contact_force("torso")};
  e.morphology.size = QuadrupedBody::parameters;  // privileged_size(): p, zero on the nominal body
  if (c.sigma > 0) {
    e.morphology.draw = uniform_perturbation(QuadrupedBody::parameters, c.sigma);
    e.morphology.build = [nominal](const Eigen::VectorXd& p) {
      return Model::from_xml(quadruped_xml(scaled(nominal, (1.0 + p.array()).matrix())), "quadruped.xml");
    };
  }
  return Env(std::move(model), e, task);
}

}  // namespace spindle::mujoco
