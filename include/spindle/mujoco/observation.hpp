#pragma once
// Observations declared as a list of pieces of the simulation state, concatenated in order:
//
//   {obs::qpos(2), obs::qvel(), obs::body_position("hand"), obs::activations(),
//    obs::custom(3, [](const mjModel& m, const mjData& d, float* out) { ... })}
//
// Names are resolved once, when the environment is built (a missing name throws there).
#include <mujoco/mujoco.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model.hpp"

namespace spindle::mujoco {

struct ObservationPiece {
  enum class Kind { qpos, qvel, activations, sensors, body_position, body_velocity, contact_force, custom };
  Kind kind = Kind::qpos;
  int start = 0, count = -1;  // qpos/qvel/sensors: a slice (count −1: to the end)
  std::string body{};         // body pieces
  int size = 0;               // custom
  std::function<void(const mjModel&, const mjData&, float*)> fill{};  // custom
  int body_id = -1;           // resolved

  /// The number of values this piece contributes for `model` (resolves names; throws when wrong).
  int resolve(const Model& model) {
    const mjModel& m = *model;
    auto slice = [&](int total, const char* what) {
      if (start < 0 || start > total || (count >= 0 && start + count > total))
        throw std::invalid_argument("MuJoCo observation: " + std::string(what) + " slice [" + std::to_string(start) +
                                    ", +" + std::to_string(count) + ") outside 0.." + std::to_string(total) + " of '" +
                                    model.source() + "'");
      return count >= 0 ? count : total - start;
    };
    switch (kind) {
      case Kind::qpos: return count = slice(m.nq, "qpos");
      case Kind::qvel: return count = slice(m.nv, "qvel");
      case Kind::sensors: return count = slice(m.nsensordata, "sensordata");
      case Kind::activations: return m.na;
      case Kind::body_position: body_id = model.id(mjOBJ_BODY, body); return 3;
      case Kind::body_velocity:
      case Kind::contact_force: body_id = model.id(mjOBJ_BODY, body); return 6;
      case Kind::custom:
        if (size <= 0 || !fill) throw std::invalid_argument("MuJoCo observation: a custom piece needs a size and a function");
        return size;
    }
    return 0;
  }

  /// Writes this piece's values at `out`; returns the position after them.
  float* write(const mjModel& m, const mjData& d, float* out) const {
    auto copy = [&](const mjtNum* from, int n) {
      for (int i = 0; i < n; ++i) out[i] = static_cast<float>(from[i]);
      return out + n;
    };
    switch (kind) {
      case Kind::qpos: return copy(d.qpos + start, count);
      case Kind::qvel: return copy(d.qvel + start, count);
      case Kind::sensors: return copy(d.sensordata + start, count);
      case Kind::activations: return copy(d.act, m.na);
      case Kind::body_position: return copy(d.xpos + 3 * body_id, 3);
      case Kind::body_velocity: return copy(d.cvel + 6 * body_id, 6);  // [angular; linear] at the subtree com
      case Kind::contact_force: return copy(d.cfrc_ext + 6 * body_id, 6);
      case Kind::custom: fill(m, d, out); return out + size;
    }
    return out;
  }
};

namespace obs {
namespace detail {
inline ObservationPiece piece(ObservationPiece::Kind kind, int start = 0, int count = -1, std::string body = {}) {
  ObservationPiece p;
  p.kind = kind;
  p.start = start;
  p.count = count;
  p.body = std::move(body);
  return p;
}
}  // namespace detail
using Kind = ObservationPiece::Kind;
/// qpos[start, start + count) (count −1: to the end).
inline ObservationPiece qpos(int start = 0, int count = -1) { return detail::piece(Kind::qpos, start, count); }
/// qvel[start, start + count).
inline ObservationPiece qvel(int start = 0, int count = -1) { return detail::piece(Kind::qvel, start, count); }
/// All actuator activations (muscles, filters): na values.
inline ObservationPiece activations() { return detail::piece(Kind::activations); }
/// sensordata[start, start + count).
inline ObservationPiece sensors(int start = 0, int count = -1) { return detail::piece(Kind::sensors, start, count); }
/// A body's world position (3).
inline ObservationPiece body_position(std::string body) { return detail::piece(Kind::body_position, 0, -1, std::move(body)); }
/// A body's spatial velocity (6: angular, linear), MuJoCo's cvel.
inline ObservationPiece body_velocity(std::string body) { return detail::piece(Kind::body_velocity, 0, -1, std::move(body)); }
/// The external (contact) force and torque on a body (6), MuJoCo's cfrc_ext.
inline ObservationPiece contact_force(std::string body) { return detail::piece(Kind::contact_force, 0, -1, std::move(body)); }
/// `size` values written by fill(model, data, out): task-specific terms (a target, a phase).
inline ObservationPiece custom(int size, std::function<void(const mjModel&, const mjData&, float*)> fill) {
  ObservationPiece p = detail::piece(Kind::custom);
  p.size = size;
  p.fill = std::move(fill);
  return p;
}
}  // namespace obs

}  // namespace spindle::mujoco
