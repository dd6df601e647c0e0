#pragma once
/// @file
/// Named handles into a MuJoCo model, resolved once, and read-only accessors over a simulation
/// state that take them — so task code reads `s.position(hand)` instead of `xpos[3 * id + k]`.
///
///   auto model = Model::from_file("arm.xml");
///   const auto hand = model.body("hand");       // throws naming "hand" when there is none
///   const auto target = model.site("target");
///   Env env(std::move(model), cfg,
///           {.reward = [=](const StepView& s) { return -(s.position(hand) - s.position(target)).norm(); }});
///
/// Handles are plain indices: cheap to copy into lambdas, valid for every copy of the model
/// and for the bodies a morphology hook regenerates (same structure, same names).
#include <mujoco/mujoco.h>

#include <Eigen/Core>
#include <span>
#include <utility>

namespace spindle::mujoco {

/// A body of the model (MuJoCo's mjOBJ_BODY index).
struct BodyId { int id = -1; };
/// A site (mjOBJ_SITE).
struct SiteId { int id = -1; };
/// A geom (mjOBJ_GEOM).
struct GeomId { int id = -1; };
/// A joint (mjOBJ_JOINT).
struct JointId { int id = -1; };
/// A sensor (mjOBJ_SENSOR).
struct SensorId { int id = -1; };
/// A tendon (mjOBJ_TENDON).
struct TendonId { int id = -1; };
/// An actuator (mjOBJ_ACTUATOR).
struct ActuatorId { int id = -1; };

/// Read-only, allocation-free accessors over one model and one simulation state. After a step
/// they read MuJoCo's data as mj_step leaves it (as Gymnasium's tasks do): qpos and qvel after
/// the last substep; positions, orientations, sensors and tendons computed at its start.
struct StateView {
  const mjModel& model;
  const mjData& data;

  using Vec3 = Eigen::Map<const Eigen::Vector3d>;
  using Mat3 = Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>;

  /// World position of a body's frame (xpos).
  Vec3 position(BodyId b) const noexcept { return Vec3(data.xpos + 3 * b.id); }
  /// World position of a site (site_xpos).
  Vec3 position(SiteId s) const noexcept { return Vec3(data.site_xpos + 3 * s.id); }
  /// World position of a geom (geom_xpos).
  Vec3 position(GeomId g) const noexcept { return Vec3(data.geom_xpos + 3 * g.id); }
  /// World orientation of a body's frame (xmat, row-major as MuJoCo stores it).
  Mat3 orientation(BodyId b) const noexcept { return Mat3(data.xmat + 9 * b.id); }
  /// World orientation of a site (site_xmat).
  Mat3 orientation(SiteId s) const noexcept { return Mat3(data.site_xmat + 9 * s.id); }
  /// A body's centre of mass in world coordinates (xipos).
  Vec3 center_of_mass(BodyId b) const noexcept { return Vec3(data.xipos + 3 * b.id); }
  /// A body's linear velocity at its frame origin, in world coordinates (mj_objectVelocity).
  Eigen::Vector3d linear_velocity(BodyId b) const noexcept {
    mjtNum v[6];
    mj_objectVelocity(&model, &data, mjOBJ_BODY, b.id, v, 0);
    return {v[3], v[4], v[5]};
  }
  /// A body's angular velocity in world coordinates.
  Eigen::Vector3d angular_velocity(BodyId b) const noexcept {
    mjtNum v[6];
    mj_objectVelocity(&model, &data, mjOBJ_BODY, b.id, v, 0);
    return {v[0], v[1], v[2]};
  }

  /// A joint's position coordinates (1 for hinge/slide, 4 for ball, 7 for free).
  std::span<const mjtNum> qpos(JointId j) const noexcept {
    return {data.qpos + model.jnt_qposadr[j.id], static_cast<std::size_t>(qpos_size(j))};
  }
  /// A joint's velocity coordinates (1 for hinge/slide, 3 for ball, 6 for free).
  std::span<const mjtNum> qvel(JointId j) const noexcept {
    return {data.qvel + model.jnt_dofadr[j.id], static_cast<std::size_t>(dof_size(j))};
  }
  /// The angle or displacement of a hinge or slide joint (its first coordinate otherwise).
  double joint_position(JointId j) const noexcept { return data.qpos[model.jnt_qposadr[j.id]]; }
  double joint_velocity(JointId j) const noexcept { return data.qvel[model.jnt_dofadr[j.id]]; }

  /// A sensor's values (sensor_dim of them).
  std::span<const mjtNum> sensor(SensorId s) const noexcept {
    return {data.sensordata + model.sensor_adr[s.id], static_cast<std::size_t>(model.sensor_dim[s.id])};
  }
  double tendon_length(TendonId t) const noexcept { return data.ten_length[t.id]; }
  double tendon_velocity(TendonId t) const noexcept { return data.ten_velocity[t.id]; }

  /// The control an actuator receives (after the action map).
  double control(ActuatorId a) const noexcept { return data.ctrl[a.id]; }
  /// The scalar force an actuator produces (actuator_force).
  double actuator_force(ActuatorId a) const noexcept { return data.actuator_force[a.id]; }
  /// An actuator's activation state (muscles, filters); 0 for actuators without one. MuJoCo
  /// 2.2 orders actuators with activation last, so theirs is act[id − (nu − na)].
  double activation(ActuatorId a) const noexcept {
    const int k = a.id - (model.nu - model.na);
    return model.actuator_dyntype[a.id] != mjDYN_NONE && k >= 0 ? data.act[k] : 0.0;
  }

  int qpos_size(JointId j) const noexcept { return joint_sizes(model.jnt_type[j.id]).first; }
  int dof_size(JointId j) const noexcept { return joint_sizes(model.jnt_type[j.id]).second; }

 private:
  static constexpr std::pair<int, int> joint_sizes(int type) noexcept {
    switch (type) {
      case mjJNT_FREE: return {7, 6};
      case mjJNT_BALL: return {4, 3};
      default: return {1, 1};
    }
  }
};

}  // namespace spindle::mujoco
