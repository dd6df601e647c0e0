#pragma once
// Targets that circle on an ellipse fixed to a moving body: the Baoding balls' targets (fixed to
// the hand) and the ball tray's (fixed to the tray). One episode's orbit is drawn from ranges a
// curriculum can set (period, direction, phase mismatch, radii).
#include <cmath>
#include <numbers>

#include "../../core/rng.hpp"
#include "../../core/state_words.hpp"
#include "../../curriculum/scheduler.hpp"

namespace spindle::mujoco {

/// One episode's orbit: after k steps of dt the target is at angle θ = direction·2π·k·dt/period
/// from its start phase; a period ≥ 1e6 s or direction 0 holds it still.
struct Orbit {
  double period = 5, direction = 1, phase = 0, rx = 0.025, ry = 0.028;

  double angle(long k, double dt) const noexcept {
    const bool moving = direction != 0 && period < 1e6;
    return moving ? direction * 2 * std::numbers::pi * static_cast<double>(k) * dt / period : 0.0;
  }
  /// The point (x, y) on the ellipse after k steps, for a target `offset` radians behind the first.
  Eigen::Vector2d point(long k, double dt, double offset = 0) const noexcept {
    const double a = angle(k, dt) + phase - offset;
    return {rx * std::cos(a), ry * std::sin(a)};
  }
  void save(StateWords& out) const {
    for (double v : {period, direction, phase, rx, ry}) put_word(out, v);
  }
  void load(StateReader& in) {
    for (double* v : {&period, &direction, &phase, &rx, &ry}) *v = in.real();
  }
};

/// The ranges episodes draw their orbit from (each uniformly; direction rounded to −1, 0, +1).
struct OrbitRanges {
  curriculum::Value period{5, 5}, direction{1, 1}, phase_mismatch{0, 0}, rx{0.025, 0.025}, ry{0.028, 0.028};

  /// An orbit starting at `nominal_phase` + U(±phase_mismatch·π), drawn in a fixed order.
  Orbit draw(Rng& rng, double nominal_phase) const {
    auto draw = [&](const curriculum::Value& v) { return v.low == v.high ? v.low : rng.uniform(v.low, v.high); };
    Orbit o;
    o.period = draw(period);
    o.direction = std::round(draw(direction));
    const double mismatch = draw(phase_mismatch);
    o.phase = nominal_phase + (mismatch > 0 ? rng.uniform(-mismatch * std::numbers::pi, mismatch * std::numbers::pi) : 0.0);
    o.rx = draw(rx);
    o.ry = draw(ry);
    return o;
  }
  /// Sets the ranges a curriculum names (period, direction, phase_mismatch, rx, ry) to its numbers.
  void set(const curriculum::Params& p) {
    auto set = [&](const char* name, curriculum::Value& v) {
      if (p.contains(name)) v = curriculum::fixed(p[name]);
    };
    set("period", period);
    set("direction", direction);
    set("phase_mismatch", phase_mismatch);
    set("rx", rx);
    set("ry", ry);
  }
  /// Throws naming the first range out of bounds.
  void check(const char* who) const {
    auto bad = [&](const std::string& what) { throw std::invalid_argument(std::string(who) + ": " + what); };
    for (const auto& [name, v] : {std::pair{"period", period}, std::pair{"rx", rx}, std::pair{"ry", ry}})
      if (!(v.low > 0 && v.low <= v.high)) bad(std::string(name) + " must be a positive range (low ≤ high)");
    if (!(phase_mismatch.low >= 0 && phase_mismatch.high <= 1)) bad("phase_mismatch lies in [0, 1] (a fraction of π)");
  }
  void save(StateWords& out) const {
    for (const curriculum::Value* v : {&period, &direction, &phase_mismatch, &rx, &ry}) {
      put_word(out, v->low);
      put_word(out, v->high);
    }
  }
  void load(StateReader& in) {
    for (curriculum::Value* v : {&period, &direction, &phase_mismatch, &rx, &ry}) {
      v->low = in.real();
      v->high = in.real();
    }
  }
};

}  // namespace spindle::mujoco
