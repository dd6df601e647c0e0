#pragma once
// Decorations drawn over MuJoCo's own scene (RenderOptions::decorate): things the model has no
// geometry for.
#include <mujoco/mujoco.h>

#include <algorithm>
#include <array>
#include <functional>

#include "errors.hpp"

namespace spindle::render {

using Decoration = std::function<void(const mjModel&, const mjData&, mjvScene&)>;

namespace detail {
/// Adds a capsule from a to b (world frame) to the scene, if it has room.
inline void add_capsule(mjvScene& scene, const mjtNum a[3], const mjtNum b[3], double width, const std::array<float, 4>& rgba) {
  if (scene.ngeom >= scene.maxgeom) return;
  mjvGeom* g = scene.geoms + scene.ngeom++;
  mjv_initGeom(g, mjGEOM_CAPSULE, nullptr, nullptr, nullptr, rgba.data());
  mjv_makeConnector(g, mjGEOM_CAPSULE, width, a[0], a[1], a[2], b[0], b[1], b[2]);
  g->category = mjCAT_DECOR;
}

/// A point given in a body's frame, in world coordinates.
inline void body_point(const mjData& d, int body, double x, double y, mjtNum out[3]) {
  const mjtNum local[3] = {x, y, 0};
  mju_rotVecMat(out, local, d.xmat + 9 * body);
  for (int i = 0; i < 3; ++i) out[i] += d.xpos[3 * body + i];
}
}  // namespace detail

/// The muscle arm's six muscles (mujoco::muscle_arm: fixed tendons, so MuJoCo draws none) as
/// capsules from origin to insertion, flexors on the +y side, coloured from grey (activation 0) to
/// red (1) as MuJoCo's viewer colours muscle tendons.
inline Decoration muscle_arm_muscles() {
  return [](const mjModel& m, const mjData& d, mjvScene& scene) {
    const int upper = mj_name2id(&m, mjOBJ_BODY, "upper"), lower = mj_name2id(&m, mjOBJ_BODY, "lower");
    if (upper < 0 || lower < 0) throw render_error("render: muscle_arm_muscles() needs bodies 'upper' and 'lower'");
    const double u = d.xpos[3 * lower] - d.xpos[3 * upper];  // shoulder to elbow, along x at rest
    const double length = std::max(std::abs(u), 0.05);
    struct Muscle { const char* name; int from; double fx, fy; int to; double tx, ty; };
    // Origins and insertions in the frames of the world (-1), the upper or the lower arm.
    const std::array<Muscle, 6> muscles{{{"shoulder_flexor", -1, 0.0, 0.08, upper, 0.35 * length, 0.03},
                                         {"shoulder_extensor", -1, 0.0, -0.08, upper, 0.35 * length, -0.03},
                                         {"elbow_flexor", upper, 0.45 * length, 0.03, lower, 0.2 * length, 0.025},
                                         {"elbow_extensor", upper, 0.45 * length, -0.03, lower, -0.05, -0.02},
                                         {"biarticular_flexor", -1, 0.04, 0.12, lower, 0.3 * length, 0.025},
                                         {"biarticular_extensor", -1, 0.04, -0.12, lower, -0.08, -0.02}}};
    for (const Muscle& muscle : muscles) {
      const int actuator = mj_name2id(&m, mjOBJ_ACTUATOR, muscle.name);
      if (actuator < 0) continue;
      // MuJoCo 2.2: actuators with activation come last, act[i - (nu - na)] is actuator i's.
      const int state = actuator - (m.nu - m.na);
      const double a = std::clamp(m.actuator_dyntype[actuator] != mjDYN_NONE && state >= 0 ? d.act[state] : d.ctrl[actuator], 0.0, 1.0);
      mjtNum from[3], to[3];
      if (muscle.from < 0) from[0] = muscle.fx, from[1] = muscle.fy, from[2] = 0;
      else detail::body_point(d, muscle.from, muscle.fx, muscle.fy, from);
      detail::body_point(d, muscle.to, muscle.tx, muscle.ty, to);
      const std::array<float, 4> rgba{static_cast<float>(0.55 + 0.45 * a), static_cast<float>(0.55 * (1 - a) + 0.1 * a),
                                      static_cast<float>(0.6 * (1 - a) + 0.1 * a), 1.0f};
      detail::add_capsule(scene, from, to, 0.008, rgba);
    }
  };
}

}  // namespace spindle::render
