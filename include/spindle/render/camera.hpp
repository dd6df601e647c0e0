#pragma once
// Where the picture is taken from: a free camera looking at a point, a camera following a body,
// or a camera the MJCF defines.
//
//   render::Camera::free({.distance = 4, .azimuth = 135, .elevation = -25, .lookat = {0, 0, 0.5}})
//   render::Camera::tracking("torso", {.distance = 4, .elevation = -20})
//   render::Camera::named("front")
#include <array>
#include <optional>
#include <string>

namespace spindle::render {

/// Spherical placement around a point; angles in degrees, as MuJoCo's mjvCamera takes them.
struct View {
  double distance = 0.0;  // ≤ 0: 1.5 × the model's extent (MuJoCo's default free camera)
  double azimuth = 90.0;
  double elevation = -30.0;
  std::optional<std::array<double, 3>> lookat{};  // unset: the model's centre (free) or the body (tracking)
};

struct Camera {
  enum class Kind { free, tracking, named };
  Kind kind = Kind::free;
  std::string name;  // the body (tracking) or the MJCF camera (named)
  View view;

  // A constructor, not an aggregate: GCC 12 warns (wrongly) of an uninitialised string when an
  // aggregate Camera sits inside designated initialisers of the options holding it.
  explicit Camera(Kind k = Kind::free, std::string n = {}, View v = {}) : kind(k), name(std::move(n)), view(v) {}

  static Camera free(View v = {}) { return Camera(Kind::free, {}, v); }
  static Camera tracking(std::string body, View v = {}) { return Camera(Kind::tracking, std::move(body), v); }
  static Camera named(std::string camera) { return Camera(Kind::named, std::move(camera)); }
};

}  // namespace spindle::render
